package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/graph"
)

// TestKcatProduce hands kcat (librdkafka) a Confluent wire-format Avro
// record in a file and checks that rdg ingests it from the embedded broker.
func TestKcatProduce(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed (Debian package kcat; .ci/run installs it): skipping the librdkafka interoperability test")
	}
	st := startStack(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs"))
	cl := st.producer(t)
	if err := demo.EnsureTopics(context.Background(), kadm.NewClient(cl), 1); err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())
	value := p.encode(demo.TopicLogins, demo.LoginSchema, &demo.Login{EventID: "e-kcat", EventTs: time.Now().Truncate(time.Millisecond),
		MemberID: "m-kcat", ProfileID: "p-kcat", DeviceID: "d-kcat", DeviceType: "laptop", Country: "SE"})
	file := filepath.Join(t.TempDir(), "login.avro")
	if err := os.WriteFile(file, value, 0o644); err != nil {
		t.Fatal(err)
	}
	// -P with a file argument sends the whole file as one message.
	out, err := exec.Command(kcat, "-P", "-b", st.Seeds()[0], "-t", demo.TopicLogins, "-k", "m-kcat", file).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	await(t, 10*time.Second, func() (bool, string) {
		found := false
		err := st.Store().Edges(context.Background(), graph.NodeRef{Type: "account", ID: "m-kcat"}, graph.Out, "uses", func(e *graph.Edge) bool {
			found = e.To == graph.NodeRef{Type: "device", ID: "d-kcat"}
			return !found
		})
		if err != nil {
			return false, err.Error()
		}
		return found, "no edge account:m-kcat -uses-> device:d-kcat yet"
	})
}
