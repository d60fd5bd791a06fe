package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/stack"
)

// dedupeLink is a record of e2e/testdata/dedupe/link.avsc.
type dedupeLink struct {
	EventTs time.Time `avro:"event_ts"`
	Src     string    `avro:"src"`
	Dst     string    `avro:"dst"`
	Seq     int64     `avro:"seq"`
}

// TestDedupeWindow sends 10,000 updates to 100 edges (each updated 100
// times, with increasing event time and seq) well inside one 10s dedupe
// window. With a key bound far above 100, exactly 100 edge records reach
// the graph topic, once the window closes, each carrying the last
// writer's props. With a bound of 10 the buffer flushes early: more
// records are published, memory stays bounded, and the stored graph is
// the same.
func TestDedupeWindow(t *testing.T) {
	const edges, updates = 100, 100
	dir := filepath.Join(repoRoot(t), "e2e", "testdata", "dedupe")
	schema, err := os.ReadFile(filepath.Join(dir, "link.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	dumps := map[string]map[string]string{}
	published := map[string]float64{}
	run := func(t *testing.T, jobsDir string) {
		jobs, err := stack.LoadJobs(filepath.Join(dir, jobsDir))
		if err != nil {
			t.Fatal(err)
		}
		st := startStackJobs(t, jobs)
		ctx := context.Background()
		cl := st.producer(t)
		const topic = "e2e.links"
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, -1, nil, topic); err != nil {
			t.Fatal(err)
		}
		p := newAvroProducer(t, cl, st.Registry())
		start := time.Now()
		for i := range updates {
			for e := range edges {
				src := fmt.Sprintf("p-%03d", e)
				v := p.encode(topic, string(schema), &dedupeLink{EventTs: t0.Add(time.Duration(i) * time.Second),
					Src: src, Dst: fmt.Sprintf("q-%03d", e), Seq: int64(i)})
				cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(src), Value: v}, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		await(t, 10*time.Second, func() (bool, string) {
			n := metricValue(t, st, "rdg_job_records_in_total", map[string]string{"job": "links"})
			return n == edges*updates, fmt.Sprintf("job read %v of %d records", n, edges*updates)
		})
		t.Logf("%d updates produced and read in %s", edges*updates, time.Since(start).Round(time.Millisecond))
		if el := time.Since(start); el > 8*time.Second {
			t.Fatalf("producing and reading took %s: the updates did not fit in one 10s window", el)
		}
		// The window is still open: without a key bound nothing has been
		// published yet; with one, the oldest elements already have been.
		early := metricValue(t, st, "rdg_job_edges_published_total", map[string]string{"job": "links"})
		if bounded := jobs[0].Spec.Dedupe.MaxKeys < edges; bounded != (early > 0) {
			t.Errorf("max_keys %d: %v edges published before the window closed", jobs[0].Spec.Dedupe.MaxKeys, early)
		}
		// The window closes 10s after each edge's first update; the job
		// commits its offsets only once the buffer has published and the
		// broker acknowledged everything, and the writer only once stored.
		awaitSettled(t, st, 20*time.Second, jobs...)
		t.Logf("window closed and graph stored %s after the first update", time.Since(start).Round(time.Millisecond))

		in := metricValue(t, st, "rdg_job_edges_out_total", map[string]string{"job": "links"})
		out := metricValue(t, st, "rdg_job_edges_published_total", map[string]string{"job": "links"})
		if in != edges*updates {
			t.Errorf("rdg_job_edges_out_total = %v, want %d", in, edges*updates)
		}
		records, keys := topicRecords(t, st, codec.EdgeTopic("link"))
		if float64(records) != out {
			t.Errorf("%s holds %d records, rdg_job_edges_published_total says %v", codec.EdgeTopic("link"), records, out)
		}
		if len(keys) != edges {
			t.Errorf("%s holds %d distinct edges, want %d", codec.EdgeTopic("link"), len(keys), edges)
		}
		t.Logf("%v edge updates in, %v published, %d records on %s", in, out, records, codec.EdgeTopic("link"))
		published[jobsDir] = out

		// Every stored edge carries the last writer's props and the whole
		// span of event times.
		n := 0
		err = st.Store().EachEdge(ctx, "link", func(e *graph.Edge) bool {
			n++
			if seq := e.Props["seq"]; seq.Value != int64(updates-1) || seq.TS != t0.Add((updates-1)*time.Second).UnixMilli() {
				t.Errorf("edge %s: seq = %v at %d, want %d at %d", e.EdgeRef, seq.Value, seq.TS, updates-1, t0.Add((updates-1)*time.Second).UnixMilli())
			}
			if e.FirstSeen != t0.UnixMilli() || e.LastSeen != t0.Add((updates-1)*time.Second).UnixMilli() {
				t.Errorf("edge %s: seen %d..%d, want %d..%d", e.EdgeRef, e.FirstSeen, e.LastSeen, t0.UnixMilli(), t0.Add((updates-1)*time.Second).UnixMilli())
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != edges {
			t.Errorf("store holds %d link edges, want %d", n, edges)
		}
		dumps[jobsDir] = graphDump(t, st)
	}
	// Both cases wait out a 10s window: run them side by side.
	t.Run("cases", func(t *testing.T) {
		for _, c := range []string{"window", "maxkeys"} {
			t.Run(c, func(t *testing.T) {
				t.Parallel()
				run(t, c)
			})
		}
	})
	if t.Failed() {
		return
	}
	if got := published["window"]; got != edges {
		t.Errorf("window 10s, max_keys 100000: %v edges published, want exactly %d", got, edges)
	}
	if got := published["maxkeys"]; got <= edges || got >= edges*updates {
		t.Errorf("max_keys 10: %v edges published, want more than %d (early flushes) and fewer than %d (merging still)", got, edges, edges*updates)
	}
	if d := dumpDiff(dumps["window"], dumps["maxkeys"]); d != "" {
		t.Errorf("stored graphs differ between max_keys 100000 and max_keys 10:\n%s", d)
	}
}

// topicRecords reads topic from its start to its current end offsets and
// returns how many records it holds and how many per key.
func topicRecords(t *testing.T, st *testStack, topic string) (int, map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.Seeds()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	n, keys := 0, map[string]int{}
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d records read, partitions not read to the end: %v", topic, n, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			n++
			keys[string(r.Key)]++
			if r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return n, keys
}
