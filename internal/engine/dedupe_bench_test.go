package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/graph"
)

const (
	// 20 s of the demo at 20,000 events/s: four times the largest window,
	// so that every window reaches its steady state.
	ddBenchEvents     = 400_000
	ddBenchRate       = 20_000
	ddBenchStep       = time.Second / ddBenchRate // 50 µs between events
	ddBenchPartitions = 6
)

// ddBenchSchemas is a SchemaSource over a fixed map, so that decoding
// needs no registry.
type ddBenchSchemas map[int]avro.Schema

func (s ddBenchSchemas) ByID(_ context.Context, id int) (avro.Schema, error) {
	if sch, ok := s[id]; ok {
		return sch, nil
	}
	return nil, &codec.UnknownSchemaError{ID: id, Err: fmt.Errorf("not in the static map")}
}

// ddCatalog is the demo's title catalogue as a side input, standing in for
// the materialised catalog.titles topic the example jobs enrich from.
type ddCatalog map[string]map[string]any

func (c ddCatalog) Lookup(key string) (map[string]any, bool) {
	row, ok := c[key]
	return row, ok
}

// ddBenchRecord is one demo event after its job mapped it: what the runner
// hands the buffer.
type ddBenchRecord struct {
	job   int
	src   SourcePos
	now   time.Time
	batch Elements
}

var ddBenchInput = sync.OnceValues(ddBenchLoad)

// ddBenchLoad generates the demo workload (logins, playback and games),
// encodes each event as a producer would (Confluent header, Avro body),
// and runs it through its example job, with the demo catalogue as the
// jobs' side input. Processing time is virtual: the
// event time before its rounding to milliseconds, so 50 µs apart.
func ddBenchLoad() ([]ddBenchRecord, error) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var now time.Time
	schemas := ddBenchSchemas{}
	ids := map[string]int{}
	cache := &avro.SchemaCache{}
	for topic, txt := range demo.Schemas() {
		sch, err := avro.ParseWithCache(txt, "", cache)
		if err != nil {
			return nil, err
		}
		ids[topic] = len(ids) + 1
		schemas[ids[topic]] = sch
	}
	cfg := demo.Config{Seed: 1, Members: 10_000, Rate: ddBenchRate, Start: start}
	catalog := ddCatalog{}
	for _, t := range demo.Catalog(cfg) {
		catalog[t.TitleID] = map[string]any{"title_id": t.TitleID, "name": t.Name, "genre": t.Genre, "kind": t.Kind}
	}
	jobs := map[string]int{}
	var procs []*Processor
	for _, f := range []string{"logins.yaml", "playback.yaml", "games.yaml"} {
		j, err := Load(filepath.Join("..", "..", "examples", "netflix", "jobs", f))
		if err != nil {
			return nil, err
		}
		p := NewProcessor(j, schemas)
		p.Now = func() time.Time { return now }
		p.Tables = map[string]Lookup{}
		for _, e := range j.Spec.Enrich {
			if e.Topic != demo.TopicTitles {
				return nil, fmt.Errorf("%s: side input %s: only %s is provided", f, e.Name, demo.TopicTitles)
			}
			p.Tables[e.Name] = catalog
		}
		jobs[j.Spec.Source.Topic] = len(procs)
		procs = append(procs, p)
	}
	g := demo.New(cfg)
	offsets := make([][ddBenchPartitions]int64, len(procs))
	recs := make([]ddBenchRecord, 0, ddBenchEvents)
	a := &ddArena{strings: map[string]string{}}
	var out Elements
	for i := range ddBenchEvents {
		ev := g.Next()
		job, ok := jobs[ev.Topic]
		if !ok {
			return nil, fmt.Errorf("no job reads %s", ev.Topic)
		}
		body, err := avro.Marshal(schemas[ids[ev.Topic]], ev.Value)
		if err != nil {
			return nil, err
		}
		value := append(codec.AppendHeader(nil, ids[ev.Topic]), body...)
		h := fnv.New32a()
		_, _ = h.Write(ev.Key)
		part := int32(h.Sum32() % ddBenchPartitions)
		off := offsets[job][part]
		offsets[job][part]++
		now = start.Add(time.Duration(i) * ddBenchStep)
		out.reset()
		filtered, err := procs[job].process(context.Background(), value, ev.Time, &out)
		if err != nil {
			return nil, fmt.Errorf("event %d (%s): %w", i, ev.Topic, err)
		}
		if filtered || out.len() == 0 {
			continue
		}
		recs = append(recs, ddBenchRecord{job: job, src: SourcePos{Partition: part, Offset: off}, now: now,
			batch: a.add(&out)})
	}
	return recs, nil
}

// ddArena stores the mapped records' elements contiguously, with their
// strings interned. In the job the buffer gets each batch straight from
// the mapper, hot in cache; replaying 400,000 scattered batches would
// instead measure cache misses on the benchmark's own input.
type ddArena struct {
	nodes   []node
	edges   []edge
	props   []graph.NamedProp
	strings map[string]string
}

func (a *ddArena) intern(s string) string {
	if t, ok := a.strings[s]; ok {
		return t
	}
	a.strings[s] = s
	return s
}

func (a *ddArena) internRef(r graph.NodeRef) graph.NodeRef {
	return graph.NodeRef{Type: a.intern(r.Type), ID: a.intern(r.ID)}
}

// ddArenaChunk is how many elements of each kind one chunk of the arena
// holds; a batch never straddles two.
const ddArenaChunk = 1 << 14

// add copies b into the arena and returns a batch of views into it.
func (a *ddArena) add(b *Elements) Elements {
	if len(a.nodes)+len(b.nodes) > cap(a.nodes) {
		a.nodes = make([]node, 0, max(ddArenaChunk, len(b.nodes)))
	}
	if len(a.edges)+len(b.edges) > cap(a.edges) {
		a.edges = make([]edge, 0, max(ddArenaChunk, len(b.edges)))
	}
	if len(a.props)+len(b.arena) > cap(a.props) {
		a.props = make([]graph.NamedProp, 0, max(4*ddArenaChunk, len(b.arena)))
	}
	props := func(p []graph.NamedProp) []graph.NamedProp {
		if len(p) == 0 {
			return nil
		}
		p0 := len(a.props)
		for _, np := range p {
			np.Name = a.intern(np.Name)
			a.props = append(a.props, np)
		}
		return a.props[p0:len(a.props):len(a.props)]
	}
	n0, e0 := len(a.nodes), len(a.edges)
	for _, n := range b.nodes {
		n.NodeRef = a.internRef(n.NodeRef)
		n.props = props(n.props)
		a.nodes = append(a.nodes, n)
	}
	for _, e := range b.edges {
		e.Type, e.From, e.To = a.intern(e.Type), a.internRef(e.From), a.internRef(e.To)
		e.props = props(e.props)
		a.edges = append(a.edges, e)
	}
	return Elements{nodes: a.nodes[n0:len(a.nodes):len(a.nodes)], edges: a.edges[e0:len(a.edges):len(a.edges)]}
}

// BenchmarkDedupeDemo measures the dedupe buffer on the demo workload, one
// buffer per job as the runner has it, with Due called after every record
// at its virtual processing time. One op is one
// pass over 20 s of events followed by a DrainAll. Decoding and mapping
// happen once, outside the measurement (BenchmarkPlaybackJob covers them). Metrics: out/in is
// elements published over elements added; ns/element and allocs/element
// are per element added; peak-keys is the most elements one job's buffer
// held (after an Add, before Due applies the key bound).
func BenchmarkDedupeDemo(b *testing.B) {
	recs, err := ddBenchInput()
	if err != nil {
		b.Fatal(err)
	}
	for _, window := range []time.Duration{0, 100 * time.Millisecond, time.Second, 5 * time.Second} {
		b.Run("window="+window.String(), func(b *testing.B) {
			bufs := []*Buffer{NewBuffer(window, 0), NewBuffer(window, 0), NewBuffer(window, 0)}
			var out Elements
			var in, emitted int64
			peak := 0
			var ms0, ms1 runtime.MemStats
			b.ReportAllocs()
			b.ResetTimer()
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			for b.Loop() {
				for i := range recs {
					r := &recs[i]
					bufs[r.job].Add(&r.batch, r.src, r.now)
					peak = max(peak, bufs[r.job].Len())
					in += int64(r.batch.len())
					for _, buf := range bufs {
						out.reset() // published
						emitted += int64(buf.Due(r.now, &out))
					}
				}
				for _, buf := range bufs {
					out.reset()
					emitted += int64(buf.DrainAll(&out))
				}
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(emitted)/float64(in), "out/in")
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(in), "ns/element")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(in), "allocs/element")
			b.ReportMetric(float64(peak), "peak-keys")
		})
	}
}
