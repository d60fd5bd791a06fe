// Command engine measures the job engine per core: demo playback events per
// second through the playback job's operator chain (jobrun.Chain: decode,
// filter, project, enrich, event time, map, dedupe, encode, publish) with an
// in-memory source and sink, no broker, against the floor: decoding the
// same Avro records with hamba/avro alone into map[string]any, which is
// what any generic consumer of these records has to do at least.
//
// Each run is a child process pinned to one core's worth of Go
// (GOMAXPROCS=1, so the garbage collector's work counts against the same
// core), fed the same pre-encoded events generated from a seed
// (internal/demo, as `rdg generate` makes them). The chain runs as the
// Kafka runner drives it: poll batches of max_poll_records records, the
// dedupe buffer's due elements emitted after each batch, everything
// drained at the end. The producer counts records and acknowledges them at
// once.
//
//	go run ./bench/engine                      # 1,000,000 events, best of 3 passes per run
//	go run ./bench/engine -events 200000 -passes 1 -cpuprofile /tmp/engine.prof
//
// It prints a table and writes bench/out/engine.json.
package main

import (
	"context"
	"flag"
	"fmt"
	"hash/crc32"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/jobrun"
)

type config struct {
	Events       int    `json:"events"`
	Members      int    `json:"members"`
	LargeMembers int    `json:"large_members"`
	Passes       int    `json:"passes"`
	Seed         uint64 `json:"seed"`
	JobFile      string `json:"job_file"`
	JSON         string `json:"-"`
	CPUProf      string `json:"-"`
}

// runIn is what the parent asks a child to measure.
type runIn struct {
	Config config `json:"config"`
	Kind   string `json:"kind"`   // floor | chain
	Window string `json:"window"` // chain: dedupe window override ("" keeps the job's)
	// Members overrides the world's size (0 keeps -members): more members
	// mean more live keys in the dedupe buffer.
	Members int `json:"members,omitempty"`
}

// runOut is what a child measured.
type runOut struct {
	Events          int64   `json:"events"`
	Seconds         float64 `json:"seconds"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	EventsPerSec    float64 `json:"events_per_sec"`
	EventsPerCPUSec float64 `json:"events_per_cpu_sec"`
	AllocsPerEvent  float64 `json:"allocs_per_event"`
	BytesPerEvent   float64 `json:"alloc_bytes_per_event"`
	ElementsPerEvt  float64 `json:"elements_per_event,omitempty"`
	RecordsPerEvent float64 `json:"records_out_per_event,omitempty"`
	OutBytesPerEvt  float64 `json:"out_bytes_per_event,omitempty"`
	GCCycles        uint32  `json:"gc_cycles"`
}

type row struct {
	Name  string       `json:"name"`
	Run   runIn        `json:"run"`
	Out   runOut       `json:"result"`
	Usage report.Usage `json:"usage"`
}

type result struct {
	Env    report.Env `json:"env"`
	Config config     `json:"config"`
	Rows   []row      `json:"runs"`
	// ChainOverFloor is the chain's cost per event over the bare decode's
	// (the job's 1 s window run).
	ChainOverFloor float64  `json:"chain_cost_over_floor"`
	Targets        []target `json:"targets"`
}

type target struct {
	What  string  `json:"what"`
	Value float64 `json:"value"`
	Bound float64 `json:"bound"`
	Holds bool    `json:"holds"`
}

func main() {
	var c config
	flag.IntVar(&c.Events, "events", 1_000_000, "demo playback events per pass")
	flag.IntVar(&c.Members, "members", demo.DefaultMembers, "members in the demo world (as rdg up --demo and rdg generate)")
	flag.IntVar(&c.LargeMembers, "large-members", 50_000, "members in the large world of the last run, as the stack benchmarks use (0: skip it)")
	flag.IntVar(&c.Passes, "passes", 3, "passes over the events per run (the best pass counts)")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of the demo world")
	flag.StringVar(&c.JobFile, "job", "examples/netflix/jobs/playback.yaml", "job file (its source must be the demo playback topic)")
	flag.StringVar(&c.JSON, "json", "bench/out/engine.json", "write results here (empty: don't)")
	flag.StringVar(&c.CPUProf, "cpuprofile", "", "write a CPU profile of the chain run (job's window) here")
	flag.Parse()
	if _, ok := report.ChildRun(); ok {
		var in runIn
		report.ServeChild(&in, func() (any, error) {
			in.Config.CPUProf = c.CPUProf // a flag of this process, not part of the run's input
			return measure(in)
		})
	}
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

func run(c config) error {
	ctx := context.Background()
	res := result{Env: report.Environment(), Config: c}
	runs := []struct {
		name string
		in   runIn
	}{
		{"floor: hamba/avro decode into map", runIn{Config: c, Kind: "floor"}},
		{"chain, job's window (1s)", runIn{Config: c, Kind: "chain"}},
		{"chain, window 0", runIn{Config: c, Kind: "chain", Window: "0s"}},
	}
	if c.LargeMembers > 0 {
		runs = append(runs, struct {
			name string
			in   runIn
		}{fmt.Sprintf("chain, job's window, %d members", c.LargeMembers), runIn{Config: c, Kind: "chain", Members: c.LargeMembers}})
	}
	for _, r := range runs {
		fmt.Fprintf(os.Stderr, "run: %s\n", r.name)
		var out runOut
		u, err := report.RunChild(ctx, r.name, r.in, &out)
		if err != nil {
			return err
		}
		res.Rows = append(res.Rows, row{Name: r.name, Run: r.in, Out: out, Usage: u})
	}
	// Per core: events per CPU-second of a process limited to one core of
	// Go (its garbage collector included), which, unlike wall time, does
	// not depend on what else the shared machine runs.
	floor, chain := res.Rows[0].Out.EventsPerCPUSec, res.Rows[1].Out.EventsPerCPUSec
	res.ChainOverFloor = floor / chain
	res.Targets = []target{
		{What: "chain events/s per core >= 500,000", Value: chain, Bound: 500_000, Holds: chain >= 500_000},
		{What: "chain cost <= 3 x bare decode", Value: res.ChainOverFloor, Bound: 3, Holds: res.ChainOverFloor <= 3},
	}

	t := report.Table{
		Title: fmt.Sprintf("Job engine per core: %d demo playback events (%d members), GOMAXPROCS=1, best of %d passes\n%s",
			c.Events, c.Members, c.Passes, res.Env),
		Cols: []string{"run", "events/s per core", "µs CPU/event", "x floor cost", "events/s wall", "allocs/event", "B/event", "elements/event", "records out/event", "peak RSS"},
	}
	for _, r := range res.Rows {
		o := r.Out
		t.Add(r.Name, o.EventsPerCPUSec, 1e6/o.EventsPerCPUSec, floor/o.EventsPerCPUSec, o.EventsPerSec, o.AllocsPerEvent, o.BytesPerEvent,
			o.ElementsPerEvt, o.RecordsPerEvent, report.Bytes(r.Usage.PeakRSS))
	}
	for _, tg := range res.Targets {
		t.Notes = append(t.Notes, fmt.Sprintf("target %-40s %10s  holds: %v", tg.What, report.Num(tg.Value), tg.Holds))
	}
	if err := t.Print(os.Stdout); err != nil {
		return err
	}
	if err := report.WriteJSON(c.JSON, res); err != nil {
		return err
	}
	if c.JSON != "" {
		fmt.Printf("results written to %s\n", c.JSON)
	}
	return nil
}

const schemaID = 1

// source is the pre-encoded input: every event's key and value in one
// arena without pointers, so that the garbage collector never scans it, as
// it never scans a consumer's input beyond the poll batch in flight.
type source struct {
	arena []byte
	ends  []int64 // per event: end of key, end of value, in arena
	times []int64 // event time, unix ms
	// parts and offs place each event on a partition of the source topic,
	// by its key as a Kafka producer's default partitioner would.
	parts []int32
	offs  []int64
}

// partitions of the source topic, as `rdg up --demo` creates it.
const partitions = 6

func (s *source) len() int { return len(s.times) }

// batch fills recs with events [from, from+len(recs)) as a poll would
// return them: value and key alias the arena, like a fetch buffer.
func (s *source) batch(from int, recs []kgo.Record) []kgo.Record {
	n := min(len(recs), s.len()-from)
	for i := range n {
		ev := from + i
		start := int64(0)
		if ev > 0 {
			start = s.ends[2*ev-1]
		}
		k, v := s.ends[2*ev], s.ends[2*ev+1]
		recs[i] = kgo.Record{Topic: demo.TopicPlayback, Partition: s.parts[ev], Offset: s.offs[ev],
			Key: s.arena[start:k:k], Value: s.arena[k:v:v], Timestamp: time.UnixMilli(s.times[ev])}
	}
	return recs[:n]
}

// events generates the demo playback events and encodes them as a producer
// would: Confluent header and Avro body.
func events(c config) (*source, avro.Schema, error) {
	sch, err := avro.ParseWithCache(demo.PlaybackSchema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, nil, err
	}
	g := demo.New(demo.Config{Seed: int64(c.Seed), Members: c.Members, Topics: []string{demo.TopicPlayback},
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Rate: -1})
	src := &source{arena: make([]byte, 0, c.Events*160), ends: make([]int64, 0, 2*c.Events), times: make([]int64, 0, c.Events),
		parts: make([]int32, 0, c.Events), offs: make([]int64, 0, c.Events)}
	var next [partitions]int64
	w := avro.NewWriter(nil, 256)
	for range c.Events {
		ev := g.Next()
		w.Reset(nil)
		w.WriteVal(sch, ev.Value)
		if w.Error != nil {
			return nil, nil, w.Error
		}
		src.arena = append(src.arena, ev.Key...)
		src.ends = append(src.ends, int64(len(src.arena)))
		src.arena = codec.AppendHeader(src.arena, schemaID)
		src.arena = append(src.arena, w.Buffer()...)
		src.ends = append(src.ends, int64(len(src.arena)))
		src.times = append(src.times, ev.Time.UnixMilli())
		p := int32(crc32.ChecksumIEEE(ev.Key) % partitions)
		src.parts = append(src.parts, p)
		src.offs = append(src.offs, next[p])
		next[p]++
	}
	return src, sch, nil
}

func measure(in runIn) (runOut, error) {
	runtime.GOMAXPROCS(1)
	c := in.Config
	if in.Members > 0 {
		c.Members = in.Members
	}
	fmt.Fprintf(os.Stderr, "  generating %d events\n", c.Events)
	src, sch, err := events(c)
	if err != nil {
		return runOut{}, err
	}
	var pass func() (runOut, error)
	switch in.Kind {
	case "floor":
		pass = func() (runOut, error) { return floorPass(src, sch) }
	case "chain":
		j, err := engine.Load(c.JobFile)
		if err != nil {
			return runOut{}, err
		}
		if in.Window != "" {
			d, err := time.ParseDuration(in.Window)
			if err != nil {
				return runOut{}, err
			}
			j.Spec.Dedupe.Window = d
		}
		tables := map[string]engine.Lookup{"title": catalog(c)}
		cr := newChainRun(j, tables, sch)
		pass = func() (runOut, error) { return cr.pass(src) }
	default:
		return runOut{}, fmt.Errorf("unknown run kind %q", in.Kind)
	}
	if c.CPUProf != "" && in.Kind == "chain" && in.Window == "" && in.Members == 0 {
		f, err := os.Create(c.CPUProf)
		if err != nil {
			return runOut{}, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return runOut{}, err
		}
		defer pprof.StopCPUProfile()
	}
	var best runOut
	for i := range max(c.Passes, 1) {
		runtime.GC()
		o, err := pass()
		if err != nil {
			return runOut{}, err
		}
		fmt.Fprintf(os.Stderr, "  pass %d: %.0f events/s per CPU-second (%.0f wall), %.1f allocs/event\n", i+1, o.EventsPerCPUSec, o.EventsPerSec, o.AllocsPerEvent)
		if o.EventsPerCPUSec > best.EventsPerCPUSec {
			best = o
		}
	}
	return best, nil
}

// timed runs fn over the events and fills in the common figures.
func timed(n int, fn func() error) (runOut, error) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := report.SelfUsage().CPU()
	start := time.Now()
	if err := fn(); err != nil {
		return runOut{}, err
	}
	el := time.Since(start)
	cpu := report.SelfUsage().CPU() - cpu0
	runtime.ReadMemStats(&m1)
	ev := float64(n)
	return runOut{Events: int64(n), Seconds: el.Seconds(), EventsPerSec: ev / el.Seconds(),
		CPUSeconds: cpu.Seconds(), EventsPerCPUSec: ev / cpu.Seconds(),
		AllocsPerEvent: float64(m1.Mallocs-m0.Mallocs) / ev, BytesPerEvent: float64(m1.TotalAlloc-m0.TotalAlloc) / ev,
		GCCycles: m1.NumGC - m0.NumGC}, nil
}

func floorPass(src *source, sch avro.Schema) (runOut, error) {
	recs := make([]kgo.Record, maxPollRecords)
	return timed(src.len(), func() error {
		for i := 0; i < src.len(); i += maxPollRecords {
			for _, r := range src.batch(i, recs) {
				_, body, err := codec.SplitHeader(r.Value)
				if err != nil {
					return err
				}
				var m map[string]any
				if err := avro.Unmarshal(sch, body, &m); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// maxPollRecords is the runner's default poll size: the chain emits what
// is due after each poll's records.
const maxPollRecords = 5000

// chainRun is one chain driven pass after pass, as a long-running job
// drives its chain: its buffers, pools and index keep their sizes between
// passes, so the best pass shows the steady state.
type chainRun struct {
	ch   *jobrun.Chain
	sink *memProducer
	reg  *prometheus.Registry
	recs []kgo.Record
}

func newChainRun(j *engine.Job, tables map[string]engine.Lookup, sch avro.Schema) *chainRun {
	cr := &chainRun{sink: &memProducer{}, reg: prometheus.NewRegistry(), recs: make([]kgo.Record, maxPollRecords)}
	cr.ch = jobrun.NewChain(j, jobrun.ChainConfig{Schemas: staticSchemas{schemaID: sch}, Elements: codec.FixedElements(2, 3),
		Tables: tables, Producer: cr.sink, Metrics: jobrun.NewMetrics(cr.reg)})
	return cr
}

// pass runs every event through the chain in poll batches, emitting what
// is due after each, and drains the buffer at the end (as a rebalance or
// shutdown does) so that everything a pass mapped is published in it.
func (cr *chainRun) pass(src *source) (runOut, error) {
	ctx := context.Background()
	elements0 := counter(cr.reg, "rdg_job_nodes_out_total") + counter(cr.reg, "rdg_job_edges_out_total")
	records0, bytes0 := cr.sink.records, cr.sink.bytes
	out, err := timed(src.len(), func() error {
		for i := 0; i < src.len(); i += maxPollRecords {
			now := time.Now()
			batch := src.batch(i, cr.recs)
			for k := range batch {
				if err := cr.ch.Ingest(ctx, &batch[k], now); err != nil {
					return err
				}
			}
			cr.ch.Emit(ctx, time.Now(), false)
		}
		cr.ch.Emit(ctx, time.Now(), true)
		return cr.ch.TakeErr()
	})
	if err != nil {
		return out, err
	}
	if dl := counter(cr.reg, "rdg_job_records_dead_lettered_total"); dl > 0 {
		return out, fmt.Errorf("%v records were dead-lettered", dl)
	}
	ev := float64(src.len())
	out.ElementsPerEvt = (counter(cr.reg, "rdg_job_nodes_out_total") + counter(cr.reg, "rdg_job_edges_out_total") - elements0) / ev
	out.RecordsPerEvent = float64(cr.sink.records-records0) / ev
	out.OutBytesPerEvt = float64(cr.sink.bytes-bytes0) / ev
	return out, nil
}

// memProducer stands in for the Kafka client: it counts what it is given
// and acknowledges it at once.
type memProducer struct {
	records, bytes int64
}

func (p *memProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.records++
	p.bytes += int64(len(r.Key) + len(r.Value))
	promise(r, nil)
}

type staticSchemas map[int]avro.Schema

func (s staticSchemas) ByID(_ context.Context, id int) (avro.Schema, error) {
	if sch, ok := s[id]; ok {
		return sch, nil
	}
	return nil, &codec.UnknownSchemaError{ID: id, Err: fmt.Errorf("not in the benchmark's schemas")}
}

// table stands in for the materialised catalog.titles topic: the same rows
// (as Avro decodes them) behind the same read lock as enrich.TopicTable.
type table struct {
	mu   sync.RWMutex
	rows map[string]map[string]any
}

func (t *table) Lookup(key string) (map[string]any, bool) {
	t.mu.RLock()
	r, ok := t.rows[key]
	t.mu.RUnlock()
	return r, ok
}

func catalog(c config) *table {
	t := &table{rows: map[string]map[string]any{}}
	for _, ti := range demo.Catalog(demo.Config{Seed: int64(c.Seed), Members: c.Members}) {
		t.rows[ti.TitleID] = map[string]any{"title_id": ti.TitleID, "name": ti.Name, "genre": ti.Genre, "kind": ti.Kind}
	}
	return t
}

// counter sums a counter's series.
func counter(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, x := range mf.GetMetric() {
			total += x.GetCounter().GetValue()
		}
	}
	return total
}
