package engine_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/jobrun"
	"github.com/rdgraph/rdg/internal/registry"
)

const ratingSchema = `{"type":"record","name":"Rating","namespace":"rdg.test","fields":[
	{"name":"user_id","type":"long"},
	{"name":"movie_id","type":"long"},
	{"name":"rating","type":"double"},
	{"name":"tag","type":["null","string"],"default":null}]}`

type rating struct {
	UserID  int64   `avro:"user_id"`
	MovieID int64   `avro:"movie_id"`
	Rating  float64 `avro:"rating"`
	Tag     *string `avro:"tag"`
}

const ratingJob = `name: ratings
source: {topic: ratings}
filter: rating >= 1.0
project:
  stars: int(rating * 2)
nodes:
  - {type: user, id: string(user_id)}
  - {type: movie, id: string(movie_id), props: {tag: tag}}
edges:
  - {type: rated, from: user(string(user_id)), to: movie(string(movie_id)), props: {stars: stars}}
dedupe: {window: 0s}
`

// The engine gives the same elements for the same job file and the same
// events whether they come from Kafka, through the job runtime, or from a
// Go slice: it does not know where records come from.
func TestSameElementsFromKafkaAndSlice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := c.ListenAddrs()
	srv, err := registry.New(ctx, registry.Seeds(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	reg, err := sr.NewClient(sr.URLs(hs.URL))
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "ratings.yaml")
	if err := os.WriteFile(path, []byte(ratingJob), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := engine.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := codec.Register(ctx, reg, codec.Subject("ratings"), ratingSchema)
	if err != nil {
		t.Fatal(err)
	}
	sch := avro.MustParse(ratingSchema)
	t0 := time.UnixMilli(1_760_000_000_000)
	var recs []*kgo.Record
	for i := range 200 {
		v := rating{UserID: int64(i % 17), MovieID: int64(i % 23), Rating: float64(i%10) / 2}
		if i%3 == 0 {
			tag := fmt.Sprintf("tag-%d", i%5)
			v.Tag = &tag
		}
		body, err := avro.Marshal(sch, v)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "ratings", Key: fmt.Appendf(nil, "%d", v.UserID),
			Value: append(codec.AppendHeader(nil, id), body...), Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	// One record the decode stage refuses: a dead letter on both paths.
	recs = append(recs, &kgo.Record{Topic: "ratings", Value: []byte("not avro"), Timestamp: t0})

	fromSlice := runSlice(t, ctx, j, codec.NewSchemas(reg), recs)
	if len(fromSlice) < 100 {
		t.Fatalf("the slice gave %d elements", len(fromSlice))
	}
	fromKafka := runKafka(t, ctx, j, seeds, reg, recs, len(fromSlice))
	if !slices.Equal(fromSlice, fromKafka) {
		t.Fatalf("elements differ:\nslice (%d):\n%s\nkafka (%d):\n%s", len(fromSlice), strings.Join(fromSlice, "\n"),
			len(fromKafka), strings.Join(fromKafka, "\n"))
	}
}

// sliceSink keeps what the engine emits.
type sliceSink struct {
	out          graph.Batch
	deadLettered int
}

func (s *sliceSink) Publish(_ context.Context, b *engine.Elements) { b.AppendTo(&s.out) }

func (s *sliceSink) DeadLetter(context.Context, *engine.Record, string, int, error) { s.deadLettered++ }

func runSlice(t *testing.T, ctx context.Context, j *engine.Job, schemas engine.SchemaSource, recs []*kgo.Record) []string {
	t.Helper()
	sink := &sliceSink{}
	eng := engine.NewEngine(j, engine.EngineConfig{Schemas: schemas}, sink)
	for i, r := range recs {
		in := engine.Record{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Pos: engine.SourcePos{Offset: int64(i)}}
		if err := eng.Ingest(ctx, &in, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	eng.Emit(ctx, time.Now(), true)
	if sink.deadLettered != 1 {
		t.Fatalf("slice: %d dead letters, want 1", sink.deadLettered)
	}
	return describe(&sink.out)
}

func runKafka(t *testing.T, ctx context.Context, j *engine.Job, seeds []string, reg *sr.Client, recs []*kgo.Record, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "ratings"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- jobrun.Run(runCtx, j, jobrun.RunConfig{Seeds: seeds, Registry: reg, GraphPartitions: 1})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("job: %v", err)
		}
	}()

	topics := []string{codec.NodeTopic("user"), codec.NodeTopic("movie"), codec.EdgeTopic("rated")}
	deadline := time.Now().Add(45 * time.Second)
	for {
		var n int64
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					n += o.Offset
				}
			})
		}
		if n >= int64(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("graph topics hold %d records after 45 s, want %d", n, want)
		}
		time.Sleep(20 * time.Millisecond) // polling the condition, not synchronising on time
	}

	rd, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	elems := codec.NewElements(reg)
	var out graph.Batch
	for len(out.Nodes)+len(out.Edges) < want {
		fs := rd.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if strings.HasPrefix(r.Topic, codec.NodeTopicPrefix) {
				n, err := elems.DecodeNode(ctx, r.Value)
				if err != nil {
					t.Fatal(err)
				}
				out.Nodes = append(out.Nodes, n)
				continue
			}
			e, err := elems.DecodeEdge(ctx, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			out.Edges = append(out.Edges, e)
		}
	}
	return describe(&out)
}

// describe is b's elements as sorted lines, without updated_at (the
// processing time, which differs between two runs).
func describe(b *graph.Batch) []string {
	var lines []string
	props := func(p graph.Props) string {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range p {
				if !yield(k) {
					return
				}
			}
		})
		var s []string
		for _, k := range keys {
			s = append(s, fmt.Sprintf("%s=%v@%d", k, p[k].Value, p[k].TS))
		}
		return strings.Join(s, ",")
	}
	for _, n := range b.Nodes {
		lines = append(lines, fmt.Sprintf("node %s first=%d last=%d {%s}", n.NodeRef, n.FirstSeen, n.LastSeen, props(n.Props)))
	}
	for _, e := range b.Edges {
		lines = append(lines, fmt.Sprintf("edge %s first=%d last=%d {%s}", e.EdgeRef, e.FirstSeen, e.LastSeen, props(e.Props)))
	}
	slices.Sort(lines)
	return lines
}
