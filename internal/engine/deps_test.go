package engine_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// What packages must not link, checked on `go list -deps` so that a seam
// cannot quietly come back through an import of an import.
var forbiddenDeps = []struct {
	pkg       string
	forbidden []string
}{
	// The engine runs over records from any source.
	{"github.com/rdgraph/rdg/internal/engine", []string{"github.com/twmb/franz-go", "github.com/rdgraph/rdg/internal/broker", "github.com/rdgraph/rdg/internal/codec"}},
	// Everything that reads a job file can.
	{"github.com/rdgraph/rdg/internal/job", []string{"github.com/twmb/franz-go", "github.com/rdgraph/rdg/internal/broker", "github.com/rdgraph/rdg/internal/engine"}},
	{"github.com/rdgraph/rdg/internal/avrowire", []string{"github.com/twmb/franz-go", "github.com/rdgraph/rdg/"}},
	// The job runtime is a Kafka client; it carries no broker.
	{"github.com/rdgraph/rdg/internal/jobrun", []string{"github.com/twmb/franz-go/pkg/kfake", "github.com/rdgraph/rdg/internal/broker"}},
}

func TestForbiddenDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go list needs the go command: %v", err)
	}
	for _, tc := range forbiddenDeps {
		t.Run(filepath.Base(tc.pkg), func(t *testing.T) {
			out, err := exec.Command(goBin, "list", "-deps", tc.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tc.pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) == 0 || deps[len(deps)-1] != tc.pkg {
				t.Fatalf("go list -deps %s gave %d packages, the last not the package itself", tc.pkg, len(deps))
			}
			for _, d := range deps[:len(deps)-1] {
				for _, f := range tc.forbidden {
					if d == f || strings.HasPrefix(d, strings.TrimSuffix(f, "/")+"/") {
						t.Errorf("%s links %s (forbidden: %s)", tc.pkg, d, f)
					}
				}
			}
		})
	}
}
