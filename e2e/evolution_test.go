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
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/stack"
)

// evoRatingV1 and evoRatingV2 are records of e2e/testdata/evolution's
// rating_v1.avsc and rating_v2.avsc.
type evoRatingV1 struct {
	EventTs  time.Time `avro:"event_ts"`
	MemberID string    `avro:"member_id"`
	TitleID  string    `avro:"title_id"`
	Stars    int       `avro:"stars"`
	Channel  string    `avro:"channel"`
}

type evoRatingV2 struct {
	EventTs  time.Time `avro:"event_ts"`
	MemberID string    `avro:"member_id"`
	TitleID  string    `avro:"title_id"`
	Stars    int       `avro:"stars"`
	Device   string    `avro:"device"`
}

// TestSchemaEvolution: a producer writes ratings with schema v1, then
// switches mid-stream to v2 (channel, which had a default, removed; device
// added with a default), registered under the same subject. The job reads
// with v2 as its reader schema and uses the new field in a prop. It keeps
// running through the switch without a restart, dead-letters nothing, and
// v1 records get device's default while v2 records keep their own.
func TestSchemaEvolution(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "e2e", "testdata", "evolution")
	jobs, err := stack.LoadJobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := startStackJobs(t, jobs)
	ctx := context.Background()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	v1, v2 := read("rating_v1.avsc"), read("rating_v2.avsc")
	const topic, n = "e2e.ratings", 50
	cl := st.producer(t)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	rated := func(member string) (graph.Edge, bool) {
		var got graph.Edge
		found := false
		err := st.Store().Edges(ctx, graph.NodeRef{Type: "account", ID: member}, graph.Out, "rated", func(e *graph.Edge) bool {
			got, found = *e, true
			return false
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, found
	}
	awaitMembers := func(prefix string) {
		await(t, 10*time.Second, func() (bool, string) {
			for i := range n {
				m := fmt.Sprintf("%s-%02d", prefix, i)
				if _, ok := rated(m); !ok {
					return false, "no rated edge from account " + m
				}
			}
			return true, ""
		})
	}

	for i := range n {
		p.produce(topic, v1, fmt.Sprintf("m-v1-%02d", i), &evoRatingV1{EventTs: t0.Add(time.Duration(i) * time.Second),
			MemberID: fmt.Sprintf("m-v1-%02d", i), TitleID: fmt.Sprintf("t-%02d", i%7), Stars: 1 + i%5, Channel: "tv-app"})
	}
	awaitMembers("m-v1")
	// The producer moves to v2; the registry accepts it as a new version
	// of the same subject (backward compatible), and the job, still
	// running, meets a writer schema id it has never seen.
	for i := range n {
		p.produce(topic, v2, fmt.Sprintf("m-v2-%02d", i), &evoRatingV2{EventTs: t0.Add(time.Duration(n+i) * time.Second),
			MemberID: fmt.Sprintf("m-v2-%02d", i), TitleID: fmt.Sprintf("t-%02d", i%7), Stars: 1 + i%5, Device: fmt.Sprintf("d-%02d", i)})
	}
	awaitMembers("m-v2")

	vs, err := st.Registry().SubjectVersions(ctx, codec.Subject(topic))
	if err != nil || len(vs) != 2 {
		t.Errorf("subject %s versions = %v (%v), want 2: v1 and v2", codec.Subject(topic), vs, err)
	}
	if got := metricSum(t, st, "rdg_job_records_dead_lettered_total", map[string]string{"job": "ratings"}); got != 0 {
		t.Errorf("rdg_job_records_dead_lettered_total{job=ratings} = %v, want 0", got)
	}
	if got := metricValue(t, st, "rdg_job_records_in_total", map[string]string{"job": "ratings"}); got != 2*n {
		t.Errorf("rdg_job_records_in_total{job=ratings} = %v, want %d", got, 2*n)
	}
	if c := strings.Count(st.logs.String(), `msg="job started" job=ratings`); c != 1 {
		t.Errorf("job ratings started %d times, want once: it must keep running through the schema change", c)
	}
	for _, v := range []string{"v1", "v2"} {
		for i := range n {
			m := fmt.Sprintf("m-%s-%02d", v, i)
			e, _ := rated(m)
			want := "unknown" // v1 records: the reader schema's default
			if v == "v2" {
				want = fmt.Sprintf("d-%02d", i)
			}
			if got := e.Props["device"].Value; got != want {
				t.Errorf("%s: device = %#v, want %q", e.EdgeRef, got, want)
			}
			if got := e.Props["stars"].Value; got != int64(1+i%5) {
				t.Errorf("%s: stars = %#v, want %d", e.EdgeRef, got, 1+i%5)
			}
			if _, ok := e.Props["channel"]; ok {
				t.Errorf("%s: has a channel prop, which the v2 reader schema does not have", e.EdgeRef)
			}
		}
	}
}
