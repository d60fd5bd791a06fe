package jobrun

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/testkit"
)

const runJob = `name: visits
source: {topic: member.visits}
filter: title_id != "skip"
nodes:
  - {type: account, id: member_id}
  - {type: title, id: title_id}
edges:
  - {type: watched, from: account(member_id), to: title(title_id)}
`

// TestRun runs a job against a real broker and registry: the graph topics
// receive the nodes and edges, bad records go to the dead-letter topic, and
// the source offsets are committed, never ahead of the output they cover.
func TestRun(t *testing.T) {
	e := testkit.NewEnv(t)
	ctx := testkit.Ctx(t)
	seeds := e.Cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	const source = "member.visits"
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, source); err != nil {
		t.Fatal(err)
	}
	id, sch := e.Register(t, codec.Subject(source), visitV1)

	// 10 good records over 2 partitions, one filtered, one garbage.
	type produced struct {
		partition int32
		offset    int64
		elements  int // graph records plus dead letters it must give rise to
	}
	var recs []*kgo.Record
	var kinds []int
	for i := range 10 {
		v := testkit.Encode(t, id, sch, visitV1Rec{MemberID: fmt.Sprintf("m-%d", i%3), TitleID: fmt.Sprintf("t-%d", i%4)})
		recs = append(recs, &kgo.Record{Topic: source, Partition: int32(i % 2), Value: v})
		kinds = append(kinds, 3)
	}
	recs = append(recs, &kgo.Record{Topic: source, Partition: 0, Value: testkit.Encode(t, id, sch, visitV1Rec{MemberID: "m-x", TitleID: "skip"})})
	kinds = append(kinds, 0)
	recs = append(recs, &kgo.Record{Topic: source, Partition: 1, Value: []byte("not avro"), Key: []byte("k")})
	kinds = append(kinds, 1)
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	var prods []produced
	for i, r := range res {
		prods = append(prods, produced{r.Record.Partition, r.Record.Offset, kinds[i]})
	}

	j := compileJob(t, "inline.yaml", runJob)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, j, RunConfig{Seeds: seeds, Registry: e.Reg, GraphPartitions: 1,
			Logger: slog.New(slog.DiscardHandler)})
	}()
	stopped := false
	defer func() {
		if !stopped {
			stop()
			<-done
		}
	}()

	outTopics := []string{codec.NodeTopic("account"), codec.NodeTopic("title"), codec.EdgeTopic("watched"), job.DeadLetterTopic("visits")}
	outputSize := func() (int64, error) {
		ends, err := adm.ListEndOffsets(ctx, outTopics...)
		if err != nil {
			return 0, err
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				n += o.Offset
			}
		})
		return n, nil
	}
	// Poll the group's commits while the job runs; every time, the output
	// already acknowledged must cover every committed source record.
	var wantTotal int64
	for _, p := range prods {
		wantTotal += int64(p.elements)
	}
	testkit.Await(t, 20*time.Second, "offsets committed up to the end of the source", func() (bool, string) {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		offs, err := adm.FetchOffsets(ctx, Group("visits"))
		if err != nil {
			return false, err.Error()
		}
		committed := func(p int32) int64 {
			if o, ok := offs.Lookup(source, p); ok && o.Err == nil {
				return o.At
			}
			return 0
		}
		var covered int64
		for _, p := range prods {
			if p.offset < committed(p.partition) {
				covered += int64(p.elements)
			}
		}
		out, err := outputSize()
		if err != nil {
			return false, err.Error()
		}
		if out < covered {
			t.Fatalf("offsets committed (p0=%d p1=%d) ahead of the output: %d output records, the committed records need %d",
				committed(0), committed(1), out, covered)
		}
		state := fmt.Sprintf("committed p0=%d p1=%d, output %d/%d", committed(0), committed(1), out, wantTotal)
		return committed(0) == 6 && committed(1) == 6, state
	})
	if out, _ := outputSize(); out != wantTotal {
		t.Fatalf("output has %d records once everything is committed, want %d", out, wantTotal)
	}

	// The graph topics hold exactly the expected elements, decodable with
	// the schemas in the registry.
	got := readAll(t, seeds, outTopics, int(wantTotal))
	el := codec.NewElements(e.Reg)
	nodes := map[string]bool{}
	edges := map[string]bool{}
	for _, r := range got {
		switch r.Topic {
		case codec.NodeTopic("account"), codec.NodeTopic("title"):
			n, err := el.DecodeNode(ctx, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != string(codec.NodeKey(n.NodeRef)) || r.Topic != codec.NodeTopic(n.Type) {
				t.Errorf("node %v on %s with key %q", n.NodeRef, r.Topic, r.Key)
			}
			nodes[n.NodeRef.String()] = true
		case codec.EdgeTopic("watched"):
			ed, err := el.DecodeEdge(ctx, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != string(codec.EdgeKey(ed.EdgeRef)) {
				t.Errorf("edge %v with key %q", ed.EdgeRef, r.Key)
			}
			edges[ed.EdgeRef.String()] = true
		case job.DeadLetterTopic("visits"):
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			if string(r.Value) != "not avro" || string(r.Key) != "k" || h[codec.HeaderStage] != engine.StageDecode ||
				h[codec.HeaderTopic] != source || h[codec.HeaderPartition] != "1" || h[codec.HeaderOffset] != "5" || h[codec.HeaderSchemaID] != "0" || h[codec.HeaderError] == "" {
				t.Errorf("dead letter %q key %q headers %v", r.Value, r.Key, h)
			}
		}
	}
	wantNodes := []string{"account:m-0", "account:m-1", "account:m-2", "title:t-0", "title:t-1", "title:t-2", "title:t-3"}
	if got := keys(nodes); fmt.Sprint(got) != fmt.Sprint(wantNodes) {
		t.Errorf("nodes %v, want %v", got, wantNodes)
	}
	// i%3 and i%4 for i < 10: 10 distinct pairs.
	if len(edges) != 10 || !edges[graph.EdgeRef{Type: "watched", From: graph.NodeRef{Type: "account", ID: "m-1"}, To: graph.NodeRef{Type: "title", ID: "t-3"}}.String()] {
		t.Errorf("edges %v", keys(edges))
	}

	stop()
	stopped = true
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	// A restarted job resumes from the committed offsets: only the new
	// records produce output.
	more := []*kgo.Record{
		{Topic: source, Partition: 0, Value: testkit.Encode(t, id, sch, visitV1Rec{MemberID: "m-new", TitleID: "t-0"})},
		{Topic: source, Partition: 1, Value: testkit.Encode(t, id, sch, visitV1Rec{MemberID: "m-new", TitleID: "t-9"})},
	}
	if err := cl.ProduceSync(ctx, more...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	runCtx2, stop2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() {
		done2 <- Run(runCtx2, j, RunConfig{Seeds: seeds, Registry: e.Reg, GraphPartitions: 1,
			Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() { stop2(); <-done2 }()
	testkit.Await(t, 20*time.Second, "the restarted job to commit the new records", func() (bool, string) {
		offs, err := adm.FetchOffsets(ctx, Group("visits"))
		if err != nil {
			return false, err.Error()
		}
		p0, _ := offs.Lookup(source, 0)
		p1, _ := offs.Lookup(source, 1)
		return p0.At == 7 && p1.At == 7, fmt.Sprintf("committed p0=%d p1=%d", p0.At, p1.At)
	})
	if out, _ := outputSize(); out != wantTotal+6 {
		t.Fatalf("after restart the output has %d records, want %d: old records were re-processed or new ones lost", out, wantTotal+6)
	}
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// readAll consumes topics from the start until it has n records; opts
// add to the consumer's options.
func readAll(t *testing.T, seeds []string, topics []string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %v", len(recs), n, topics)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		recs = append(recs, fs.Records()...)
	}
	return recs
}
