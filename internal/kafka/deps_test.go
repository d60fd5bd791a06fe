package kafka

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientsDoNotLinkTheBroker: the packages that are Kafka clients link
// neither kfake nor the embedded broker, so that a client process carries
// no broker and the split between this package and internal/broker cannot
// quietly come undone.
func TestClientsDoNotLinkTheBroker(t *testing.T) {
	forbidden := []string{
		"github.com/twmb/franz-go/pkg/kfake",
		"github.com/rdgraph/rdg/internal/broker",
	}
	for _, pkg := range []string{
		"github.com/rdgraph/rdg/internal/kafka",
		"github.com/rdgraph/rdg/internal/jobrun",
		"github.com/rdgraph/rdg/internal/dlq",
		"github.com/rdgraph/rdg/internal/writer",
		"github.com/rdgraph/rdg/internal/enrich",
		"github.com/rdgraph/rdg/internal/registry",
	} {
		t.Run(pkg[strings.LastIndex(pkg, "/")+1:], func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
			}
			deps := map[string]bool{}
			for _, d := range strings.Fields(string(out)) {
				deps[d] = true
			}
			if !deps[pkg] {
				t.Fatalf("go list -deps %s does not list the package itself:\n%s", pkg, out)
			}
			for _, f := range forbidden {
				if deps[f] {
					t.Errorf("%s links %s", pkg, f)
				}
			}
		})
	}
}
