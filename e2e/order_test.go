package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/jobrun"
	"github.com/rdgraph/rdg/internal/stack"
	"github.com/rdgraph/rdg/internal/writer"
)

// TestOrderDoesNotMatter delivers the same demo events to two stacks
// running the Netflix example jobs (1s dedupe windows): in order to one,
// shuffled and with about 20% duplicates to the other. Once both have
// committed everything, the stored graphs are the same, element by
// element: identity, first_seen, last_seen and every property with the
// event time that wrote it (updated_at, a processing time, aside).
func TestOrderDoesNotMatter(t *testing.T) {
	jobsDir := filepath.Join(repoRoot(t), "examples", "netflix", "jobs")
	jobs, err := stack.LoadJobs(jobsDir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	gen := demo.New(demo.Config{Seed: 1, Members: 200, Rate: 1000,
		Start: time.Now().Add(-time.Hour).Truncate(time.Millisecond)})
	events := make([]demo.Event, n)
	for i := range events {
		events[i] = gen.Next()
	}
	r := rand.New(rand.NewPCG(7, 11))
	shuffled := append([]demo.Event(nil), events...)
	for range n / 5 {
		shuffled = append(shuffled, events[r.IntN(n)])
	}
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	// Two stacks at once: each is mostly waiting on its dedupe windows.
	stacks := make([]*testStack, 2)
	for i := range stacks {
		stacks[i] = startStackJobs(t, jobs)
	}
	start := time.Now()
	produceDemoEvents(t, stacks[0], events)
	produceDemoEvents(t, stacks[1], shuffled)
	for i, st := range stacks {
		awaitSettled(t, st, 30*time.Second, jobs...)
		t.Logf("stack %d settled %s after production started", i, time.Since(start).Round(time.Millisecond))
	}
	for i, want := range []int{n, len(shuffled)} {
		if got := metricSum(t, stacks[i], "rdg_job_records_in_total", nil); got != float64(want) {
			t.Errorf("stack %d: jobs read %v records, want %d", i, got, want)
		}
		if got := metricSum(t, stacks[i], "rdg_job_records_dead_lettered_total", nil); got != 0 {
			t.Errorf("stack %d: %v records dead-lettered", i, got)
		}
		in, out := metricSum(t, stacks[i], "rdg_job_edges_out_total", nil), metricSum(t, stacks[i], "rdg_job_edges_published_total", nil)
		t.Logf("stack %d: %v edge updates in, %v published after dedupe", i, in, out)
		if out >= in {
			t.Errorf("stack %d: dedupe merged nothing (%v edge updates in, %v published)", i, in, out)
		}
	}

	a, b := graphDump(t, stacks[0]), graphDump(t, stacks[1])
	if len(a) < 1000 {
		t.Fatalf("in-order graph has only %d elements", len(a))
	}
	if d := dumpDiff(a, b); d != "" {
		t.Errorf("graphs differ (in order: %d elements, shuffled with duplicates: %d):\n%s", len(a), len(b), d)
	}
	t.Logf("%d events (%d records shuffled with duplicates): both graphs hold the same %d elements", n, len(shuffled), len(a))
}

// produceDemoEvents produces generated events, in the given order, to the
// demo source topics of st (3 partitions, key = member id).
func produceDemoEvents(t *testing.T, st *testStack, events []demo.Event) {
	t.Helper()
	ctx := context.Background()
	cl := st.producer(t)
	if err := demo.EnsureTopics(ctx, kadm.NewClient(cl), 3); err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())
	schemas := demo.Schemas()
	for _, ev := range events {
		rec := &kgo.Record{Topic: ev.Topic, Key: ev.Key, Timestamp: ev.Time, Value: p.encode(ev.Topic, schemas[ev.Topic], ev.Value)}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// awaitSettled waits until the given jobs of st have committed their whole
// source topics — which, at least once, they do only after every element
// derived from the records has left the dedupe buffer and been acknowledged
// by the broker — and then until the graph writer has committed every graph
// topic up to its end, which it does only once the store has applied it.
// The store then holds everything derived from what was produced so far.
func awaitSettled(t *testing.T, st *testStack, timeout time.Duration, jobs ...*engine.Job) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	await(t, timeout, func() (bool, string) {
		for _, j := range jobs {
			if behind := groupBehind(ctx, adm, jobrun.Group(j.Spec.Name), j.Spec.Source.Topic); behind != "" {
				return false, "job " + j.Spec.Name + ": " + behind
			}
		}
		td, err := adm.ListTopics(ctx)
		if err != nil {
			return false, err.Error()
		}
		var graphTopics []string
		for _, tp := range td.Names() {
			if strings.HasPrefix(tp, codec.NodeTopicPrefix) || strings.HasPrefix(tp, codec.EdgeTopicPrefix) {
				graphTopics = append(graphTopics, tp)
			}
		}
		if behind := groupBehind(ctx, adm, writer.Group("default"), graphTopics...); behind != "" {
			return false, "graph writer: " + behind
		}
		return true, ""
	})
}

// groupBehind describes the first partition of topics whose committed
// offset in group is short of its end offset, or returns "".
func groupBehind(ctx context.Context, adm *kadm.Client, group string, topics ...string) string {
	if len(topics) == 0 {
		return ""
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return err.Error()
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return err.Error()
	}
	var behind []string
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			behind = append(behind, fmt.Sprintf("%s[%d]: %v", o.Topic, o.Partition, o.Err))
			return
		}
		var at int64
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil {
			at = c.At
		}
		if at < o.Offset {
			behind = append(behind, fmt.Sprintf("%s[%d] committed %d of %d", o.Topic, o.Partition, at, o.Offset))
		}
	})
	sort.Strings(behind)
	if len(behind) > 0 {
		return fmt.Sprintf("group %s behind: %s", group, strings.Join(behind, ", "))
	}
	return ""
}

// graphDump renders every stored node and edge, keyed by identity, with
// first_seen, last_seen and properties (value, type and the event time
// that wrote it); updated_at, a processing time, is left out.
func graphDump(t *testing.T, st *testStack) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	err := st.Store().EachNode(ctx, "", func(n *graph.Node) bool {
		out["node "+n.NodeRef.String()] = fmt.Sprintf("seen %d..%d %s", n.FirstSeen, n.LastSeen, propsString(n.Props))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Store().EachEdge(ctx, "", func(e *graph.Edge) bool {
		out["edge "+e.EdgeRef.String()] = fmt.Sprintf("seen %d..%d %s", e.FirstSeen, e.LastSeen, propsString(e.Props))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func propsString(ps graph.Props) string {
	keys := make([]string, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		p := ps[k]
		fmt.Fprintf(&b, "%s=%T(%v)@%d", k, p.Value, p.Value, p.TS)
	}
	b.WriteByte('}')
	return b.String()
}

// dumpDiff describes up to 10 differences between two graph dumps.
func dumpDiff(a, b map[string]string) string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, k := range sorted {
		va, oka := a[k]
		vb, okb := b[k]
		switch {
		case !oka:
			diffs = append(diffs, fmt.Sprintf("  %s: only in the second: %s", k, vb))
		case !okb:
			diffs = append(diffs, fmt.Sprintf("  %s: only in the first: %s", k, va))
		case va != vb:
			diffs = append(diffs, fmt.Sprintf("  %s:\n    first:  %s\n    second: %s", k, va, vb))
		}
	}
	if len(diffs) > 10 {
		diffs = append(diffs[:10], fmt.Sprintf("  ... %d more", len(diffs)-10))
	}
	return strings.Join(diffs, "\n")
}

// metricSum adds up every sample of a counter or gauge whose labels match
// labels (nil: all samples).
func metricSum(t *testing.T, st *testStack, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := st.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			} else {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
