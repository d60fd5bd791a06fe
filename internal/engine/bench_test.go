package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/graph"
)

// staticSchemas is a SchemaSource over a fixed map: the benchmark measures
// the per-event path, not the registry (which codec.Schemas caches after
// the first lookup anyway).
type staticSchemas map[int]avro.Schema

func (s staticSchemas) ByID(_ context.Context, id int) (avro.Schema, error) {
	if sch, ok := s[id]; ok {
		return sch, nil
	}
	return nil, &codec.UnknownSchemaError{ID: id, Err: fmt.Errorf("not in the static map")}
}

const (
	benchEvents   = 10_000
	benchSchemaID = 1
)

// playbackValues generates benchEvents playback events with the demo
// generator and encodes them as a producer would: Confluent header, Avro
// body written with demo.PlaybackSchema.
func playbackValues(tb testing.TB) ([][]byte, avro.Schema) {
	tb.Helper()
	sch, err := avro.ParseWithCache(demo.PlaybackSchema, "", &avro.SchemaCache{})
	if err != nil {
		tb.Fatal(err)
	}
	g := demo.New(demo.Config{Seed: 1, Members: 1000, Topics: []string{demo.TopicPlayback},
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Rate: -1})
	values := make([][]byte, benchEvents)
	for i := range values {
		ev := g.Next()
		if ev.Topic != demo.TopicPlayback {
			tb.Fatalf("event %d on %s", i, ev.Topic)
		}
		body, err := avro.Marshal(sch, ev.Value)
		if err != nil {
			tb.Fatal(err)
		}
		values[i] = append(codec.AppendHeader(nil, benchSchemaID), body...)
	}
	return values, sch
}

func playbackProcessor(tb testing.TB, sch avro.Schema) *Processor {
	tb.Helper()
	j, err := Load(filepath.Join("..", "..", "examples", "netflix", "jobs", "playback.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	p := NewProcessor(j, staticSchemas{benchSchemaID: sch})
	// The job enriches from the title catalogue; the demo's own catalogue
	// stands in for the materialised catalog.titles topic.
	catalog := ddCatalog{}
	for _, t := range demo.Catalog(demo.Config{Seed: 1, Members: 1000}) {
		catalog[t.TitleID] = map[string]any{"title_id": t.TitleID, "name": t.Name, "genre": t.Genre, "kind": t.Kind}
	}
	p.Tables = map[string]Lookup{"title": catalog}
	return p
}

// The benchmark's input must exercise the whole job: every event is kept
// and mapped, and some are episodes (the `when` branches).
func TestPlaybackBenchInput(t *testing.T) {
	values, sch := playbackValues(t)
	proc := playbackProcessor(t, sch)
	var out graph.Batch
	episodes := 0
	for i, v := range values[:1000] {
		out.Reset()
		filtered, err := proc.Process(context.Background(), v, time.Time{}, &out)
		if err != nil || filtered {
			t.Fatalf("event %d: filtered=%v err=%v", i, filtered, err)
		}
		if len(out.Nodes) == 4 {
			episodes++
		}
		if len(out.Nodes) < 3 || len(out.Edges) < 2 {
			t.Fatalf("event %d: %d nodes %d edges", i, len(out.Nodes), len(out.Edges))
		}
	}
	if episodes == 0 || episodes == 1000 {
		t.Fatalf("%d of 1000 events are episodes; want a mix", episodes)
	}
}

// BenchmarkPlaybackJob measures the per-event path of the demo playback job
// (decode, filter, project, event time, map to nodes and edges) as the
// chain runs it, over 10,000 pre-encoded events. One op is one pass over
// all of them.
func BenchmarkPlaybackJob(b *testing.B) {
	values, sch := playbackValues(b)
	proc := playbackProcessor(b, sch)
	ctx := context.Background()
	var out Elements
	recordTime := time.Now()
	var mapped int64
	var ms0, ms1 runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	for b.Loop() {
		for _, v := range values {
			out.reset()
			if _, err := proc.process(ctx, v, recordTime, &out); err != nil {
				b.Fatal(err)
			}
			mapped += int64(out.len())
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	events := float64(b.N) * benchEvents
	b.ReportMetric(float64(elapsed.Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/events, "allocs/event")
	b.ReportMetric(float64(mapped)/events, "elements/event")
}

// BenchmarkAvroDecodeFloor decodes the same bodies with hamba/avro into
// map[string]any and nothing else: the floor under BenchmarkPlaybackJob.
func BenchmarkAvroDecodeFloor(b *testing.B) {
	values, sch := playbackValues(b)
	bodies := make([][]byte, len(values))
	for i, v := range values {
		_, bodies[i], _ = codec.SplitHeader(v)
	}
	var ms0, ms1 runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	for b.Loop() {
		for _, body := range bodies {
			var m map[string]any
			if err := avro.Unmarshal(sch, body, &m); err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	events := float64(b.N) * benchEvents
	b.ReportMetric(float64(elapsed.Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/events, "allocs/event")
}
