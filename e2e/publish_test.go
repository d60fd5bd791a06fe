package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/dlq"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
)

type blobEvent struct {
	MemberID string `avro:"member_id"`
	Blob     string `avro:"blob"`
}

// TestOversizedElementInStack: in a whole stack, a 614 KB record, under
// max_record_bytes, whose job maps it to a 1.23 MB element, over the
// producer's limit. The element goes to the dead-letter
// topic (stage publish, its bytes, which rdg dlq reads back), the records
// around it reach the store and the job commits.
func TestOversizedElementInStack(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "e2e", "testdata", "oversized")
	st := startStack(t, dir)
	cl := st.producer(t)
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "e2e.blobs"); err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join(dir, "blob.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())
	blob := strings.Repeat("x", 614<<10)
	for _, ev := range []blobEvent{{"m-0", "small"}, {"m-big", blob}, {"m-2", "small"}} {
		p.produce("e2e.blobs", string(schema), ev.MemberID, &ev)
	}
	has := func(id string) bool {
		_, ok, err := st.Store().Node(ctx, graph.NodeRef{Type: "account", ID: id})
		return err == nil && ok
	}
	await(t, 30*time.Second, func() (bool, string) {
		dead := metricValue(t, st, "rdg_job_records_dead_lettered_total", map[string]string{"job": "blobs", "stage": engine.StagePublish})
		commits := metricValue(t, st, "rdg_job_commits_total", map[string]string{"job": "blobs"})
		return has("m-0") && has("m-2") && dead == 1 && commits > 0,
			fmt.Sprintf("m-0 %v, m-2 %v, dead-lettered at publish %v, commits %v", has("m-0"), has("m-2"), dead, commits)
	})
	if has("m-big") {
		t.Fatal("the oversized element is in the store")
	}
	recs, err := dlq.Read(ctx, dlq.Cluster{Seeds: st.Seeds()}, job.DeadLetterTopic("blobs"), 0, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("dlq.Read: %d records (%v), want 1", len(recs), err)
	}
	r := recs[0]
	n, err := codec.NewElements(st.Registry()).DecodeNode(ctx, r.Value)
	if r.Stage != engine.StagePublish || !strings.Contains(r.Error, "MESSAGE_TOO_LARGE") || r.SourceTopic != "e2e.blobs" ||
		err != nil || n.ID != "m-big" || n.Props["a"].Value != blob {
		t.Fatalf("dead letter: stage %s, error %q, source %s, %d bytes decoding to %s (%v)", r.Stage, r.Error, r.SourceTopic, len(r.Value), n.NodeRef, err)
	}
}
