// Command store benchmarks the write side of rdg: node and edge merges per
// second into Pebble through the graph writer, against the store's and
// Kafka's ceilings measured in the same run, and the memory and disk the
// ingest takes.
//
// It generates a seeded stream of graph element records — accounts,
// devices and titles (three node types with two to four properties each)
// joined by watched, uses and rated edges, every distinct element once plus
// a fraction (-updates, default 25%) of repeated updates of elements
// already sent, since merging them is the point of the store — and runs,
// each in a child process of its own so that each has its own peak RSS and
// CPU time:
//
//	broker    the embedded broker (with a data directory, as `rdg up` runs
//	          it) and the embedded schema registry; lives through the runs
//	          below that use Kafka
//	produce   the records encoded exactly as jobs publish them (codec
//	          Elements: Confluent-framed Avro on rdg.node.<type> and
//	          rdg.edge.<type>, schemas registered in the registry), produced
//	          with a job's producer settings onto compacted topics of
//	          -partitions partitions
//	writer    the graph writer (writer.Run, rdg up's configuration) into a
//	          Pebble store with rdg up's options (store.Open defaults,
//	          synced batches), timed from the writer's start until the store
//	          has applied every record (a counting graph.Writer around the
//	          store signals it; the group's committed offsets are then
//	          checked to be at the end offsets); then a flush and full
//	          compaction, the directory's size, and a read-back of the
//	          number of stored elements of each type
//	consume   ceiling: plain franz-go reading the same records from the same
//	          broker, no decoding, no store
//	apply     ceiling: store.Apply of the same elements already decoded,
//	          in batches of the writer's size, into a fresh store with the
//	          same options: no broker, no decoding
//
// It prints a table of elements per second, the writer's rate as a
// fraction of each ceiling, CPU time per element, peak RSS per process and
// stored bytes per edge and per node, and writes it all as JSON.
//
//	go run ./bench/store                          # 10M edges, 2M nodes, 25% updates
//	go run ./bench/store -edges 1000000 -nodes 200000
//	go run ./bench/store -cpuprofile /tmp/prof    # a CPU profile of each child's timed part
//
// Run from the repository root, the JSON goes to bench/out/store.json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/internal/store"
)

type config struct {
	Gen        genConfig `json:"gen"`
	Partitions int32     `json:"partitions"`
	Batch      int       `json:"batch"`
	Fetch      int       `json:"fetch_max_bytes"`
	Runs       []string  `json:"runs"`
	Dir        string    `json:"-"`
	Keep       bool      `json:"-"`
	JSON       string    `json:"-"`
	Profiles   string    `json:"-"`
	MemProfile string    `json:"-"`
}

// child is one measured child process: what it reported about its timed
// part, and what the whole process cost.
type child[T any] struct {
	Out   T            `json:"result"`
	Usage report.Usage `json:"process"`
}

type results struct {
	Env     report.Env         `json:"env"`
	Config  config             `json:"config"`
	Records int64              `json:"records"`
	Produce *child[produceOut] `json:"produce,omitempty"`
	Writer  *child[writerOut]  `json:"writer,omitempty"`
	Consume *child[consumeOut] `json:"consume_ceiling,omitempty"`
	Apply   *child[applyOut]   `json:"apply_ceiling,omitempty"`
	Broker  *child[brokerOut]  `json:"broker,omitempty"`
	Derived map[string]float64 `json:"derived"`
	Stored  map[string]int64   `json:"stored,omitempty"`
	Disk    *store.DiskUsage   `json:"disk_usage,omitempty"`
}

func main() {
	if name, ok := report.ChildRun(); ok {
		serveChild(name)
	}
	var c config
	var runs string
	flag.IntVar(&c.Gen.Edges, "edges", 10_000_000, "distinct edges")
	flag.IntVar(&c.Gen.Nodes, "nodes", 2_000_000, "distinct nodes (50% accounts, 35% devices, 15% titles)")
	flag.Float64Var(&c.Gen.Updates, "updates", 0.25, "fraction of records that update an element already sent")
	flag.Uint64Var(&c.Gen.Seed, "seed", 1, "seed of the element stream")
	var parts int
	flag.IntVar(&parts, "partitions", 6, "partitions of each graph topic (a job's default)")
	flag.IntVar(&c.Batch, "batch", 20_000, "the writer's MaxPollRecords and the apply ceiling's batch size (the writer's default)")
	flag.IntVar(&c.Fetch, "fetch", 0, "the writer's FetchMaxBytes (0: the writer's default)")
	flag.StringVar(&runs, "runs", "writer,consume,apply", "which measured runs to do (produce and broker run when writer or consume does)")
	flag.StringVar(&c.Dir, "dir", "", "directory for the broker's data and the stores (default: a temporary one, removed at the end)")
	flag.BoolVar(&c.Keep, "keep", false, "keep the directory")
	flag.StringVar(&c.JSON, "json", "bench/out/store.json", "write the results here as JSON (empty: don't)")
	flag.StringVar(&c.Profiles, "cpuprofile", "", "write a CPU profile of each child's timed part into this directory")
	flag.StringVar(&c.MemProfile, "memprofile", "", "write a heap profile of the writer at the end of its ingest to this file")
	flag.Parse()
	c.Partitions = int32(parts)
	c.Runs = strings.Split(runs, ",")
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

// serveChild performs a child's run and exits.
func serveChild(name string) {
	switch name {
	case "broker":
		var in brokerIn
		report.ServeChild(&in, func() (any, error) { return runBroker(in) })
	case "produce":
		var in produceIn
		report.ServeChild(&in, func() (any, error) { return runProduce(in) })
	case "writer":
		var in writerIn
		report.ServeChild(&in, func() (any, error) { return runWriter(in) })
	case "consume":
		var in consumeIn
		report.ServeChild(&in, func() (any, error) { return runConsume(in) })
	case "apply":
		var in applyIn
		report.ServeChild(&in, func() (any, error) { return runApply(in) })
	}
	fmt.Fprintln(os.Stderr, "unknown benchmark run", name)
	os.Exit(2)
}

func run(c config) (err error) {
	ctx := context.Background()
	g, err := newGen(c.Gen)
	if err != nil {
		return err
	}
	want := func(r string) bool { return slices.Contains(c.Runs, r) }
	dir := c.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "rdg-store-bench"); err != nil {
			return err
		}
		if !c.Keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if c.Profiles != "" {
		if err := os.MkdirAll(c.Profiles, 0o755); err != nil {
			return err
		}
	}
	res := &results{Env: report.Environment(), Config: c, Records: g.Records(), Derived: map[string]float64{}}
	fmt.Fprintf(os.Stderr, "%d records: %d nodes and %d edges, %.0f%% updates; in %s\n", res.Records, c.Gen.Nodes, c.Gen.Edges, 100*c.Gen.Updates, dir)

	if want("writer") || want("consume") {
		if err := kafkaRuns(ctx, c, dir, res); err != nil {
			return err
		}
	}
	if want("apply") {
		fmt.Fprintln(os.Stderr, "apply ceiling: store.Apply of the decoded elements")
		res.Apply = &child[applyOut]{}
		in := applyIn{Gen: c.Gen, Dir: filepath.Join(dir, "apply-store"), Batch: c.Batch, Profile: profilePath(c.Profiles, "apply")}
		if res.Apply.Usage, err = report.RunChild(ctx, "apply", in, &res.Apply.Out); err != nil {
			return err
		}
		if err := os.RemoveAll(in.Dir); err != nil {
			return err
		}
	}
	derive(c, res)
	t := table(res)
	if err := t.Print(os.Stdout); err != nil {
		return err
	}
	return report.WriteJSON(c.JSON, res)
}

// kafkaRuns runs the broker and, against it, the producer, the writer and
// the consume ceiling.
func kafkaRuns(ctx context.Context, c config, dir string, res *results) (err error) {
	addrs, stop, err := startBroker(ctx, dir)
	if err != nil {
		return err
	}
	defer func() {
		b, serr := stop()
		if serr != nil {
			err = errors.Join(err, serr)
			return
		}
		res.Broker = &child[brokerOut]{Out: b.Out, Usage: b.Usage}
	}()
	fmt.Fprintf(os.Stderr, "broker at %s, registry at %s; producing\n", addrs.Kafka, addrs.Registry)
	res.Produce = &child[produceOut]{}
	pin := produceIn{Gen: c.Gen, Addrs: addrs, Partitions: c.Partitions, Profile: profilePath(c.Profiles, "produce")}
	if res.Produce.Usage, err = report.RunChild(ctx, "produce", pin, &res.Produce.Out); err != nil {
		return err
	}
	if slices.Contains(c.Runs, "writer") {
		fmt.Fprintln(os.Stderr, "graph writer")
		res.Writer = &child[writerOut]{}
		win := writerIn{Addrs: addrs, Dir: filepath.Join(dir, "store"), Records: res.Records, Nodes: int64(c.Gen.Nodes), Edges: int64(c.Gen.Edges),
			Batch: c.Batch, Fetch: int32(c.Fetch), Profile: profilePath(c.Profiles, "writer"), MemProf: c.MemProfile}
		if res.Writer.Usage, err = report.RunChild(ctx, "writer", win, &res.Writer.Out); err != nil {
			return err
		}
		if err := os.RemoveAll(win.Dir); err != nil {
			return err
		}
	}
	if slices.Contains(c.Runs, "consume") {
		fmt.Fprintln(os.Stderr, "consume ceiling: plain franz-go")
		res.Consume = &child[consumeOut]{}
		cin := consumeIn{Addrs: addrs, Records: res.Records, Batch: c.Batch}
		if res.Consume.Usage, err = report.RunChild(ctx, "consume", cin, &res.Consume.Out); err != nil {
			return err
		}
	}
	return nil
}

func derive(c config, res *results) {
	d := res.Derived
	if w := res.Writer; w != nil {
		d["writer_elements_per_s"] = w.Out.rate()
		d["writer_cpu_us_per_element"] = 1e6 * w.Out.CPUSecs / float64(w.Out.Elements)
		d["bytes_per_edge"] = float64(w.Out.DirBytes) / float64(c.Gen.Edges)
		d["edge_bytes_per_edge"] = float64(w.Out.Usage.OutEdges+w.Out.Usage.InEdges) / float64(c.Gen.Edges)
		d["node_bytes_per_node"] = float64(w.Out.Usage.Nodes) / float64(c.Gen.Nodes)
		if a := res.Apply; a != nil {
			d["writer_over_apply_ceiling"] = w.Out.rate() / a.Out.rate()
		}
		if k := res.Consume; k != nil {
			d["writer_over_consume_ceiling"] = w.Out.rate() / k.Out.rate()
		}
		res.Stored = w.Out.Stored
		res.Disk = &w.Out.Usage
	}
}

// storeNote summarises what an ingest cost the store.
func storeNote(w store.WriteStats) string {
	return fmt.Sprintf("write amplification %.2f (log %s, flushes %s, compactions %s; %d flushes, %d compactions, %s debt left), %d write stalls, %.1fs stalled",
		float64(w.FlushedBytes+w.CompactedBytes)/float64(max(w.WALBytes, 1)), report.Bytes(int64(w.WALBytes)), report.Bytes(int64(w.FlushedBytes)),
		report.Bytes(int64(w.CompactedBytes)), w.Flushes, w.Compactions, report.Bytes(int64(w.CompactionDebt)), w.Stalls, w.StallTime.Seconds())
}

func table(res *results) *report.Table {
	c := res.Config
	t := &report.Table{
		Title: fmt.Sprintf("Store writes: %d records (%d nodes, %d edges, %.0f%% updates), batches of %d\n%s",
			res.Records, c.Gen.Nodes, c.Gen.Edges, 100*c.Gen.Updates, c.Batch, res.Env),
		Cols: []string{"run", "elements", "seconds", "elements/s", "writer ÷ run", "CPU µs/element", "cores", "peak RSS (timed part)", "peak RSS (process)"},
	}
	var wr float64
	if res.Writer != nil {
		wr = res.Writer.Out.rate()
	}
	add := func(name string, p phase, u report.Usage) {
		ratio := "-"
		if wr > 0 {
			ratio = fmt.Sprintf("%.2f", wr/p.rate())
		}
		t.Add(name, float64(p.Elements), fmt.Sprintf("%.1f", p.Seconds), p.rate(), ratio,
			fmt.Sprintf("%.2f", 1e6*p.CPUSecs/float64(p.Elements)), fmt.Sprintf("%.2f", p.CPUSecs/p.Seconds),
			report.Bytes(p.PeakRSS), report.Bytes(u.PeakRSS))
	}
	if w := res.Writer; w != nil {
		add("writer: Kafka → decode → Pebble", w.Out.phase, w.Usage)
	}
	if a := res.Apply; a != nil {
		add("ceiling: store.Apply, decoded", a.Out.phase, a.Usage)
	}
	if k := res.Consume; k != nil {
		add("ceiling: franz-go consume", k.Out.phase, k.Usage)
	}
	if p := res.Produce; p != nil {
		add("produce (job encoding)", p.Out.phase, p.Usage)
	}
	if b := res.Broker; b != nil {
		t.Add("broker + registry process", "-", "-", "-", "-", "-", "-", "-", report.Bytes(b.Usage.PeakRSS))
	}
	if w := res.Writer; w != nil {
		d := res.Derived
		t.Notes = append(t.Notes,
			fmt.Sprintf("writer: first batch applied %.1fs after start (group join, first fetch); %d batches of %.0f elements on average",
				w.Out.FirstApplySecs, w.Out.Batches, float64(w.Out.Elements)/float64(max(w.Out.Batches, 1))),
			fmt.Sprintf("stored after flush + full compaction (%.1fs): %s, %.1f bytes per edge (all files / edges; of them %s of tables, %s of write-ahead log Pebble keeps to reuse); by keyspace %.1f bytes per edge (out + in), %.1f per node",
				w.Out.CompactSecs, report.Bytes(w.Out.DirBytes), d["bytes_per_edge"], report.Bytes(w.Out.Files["tables"]), report.Bytes(w.Out.Files["wal"]),
				d["edge_bytes_per_edge"], d["node_bytes_per_node"]),
		)
	}
	if w := res.Writer; w != nil {
		t.Notes = append(t.Notes, "writer's store: "+storeNote(w.Out.Store))
	}
	if a := res.Apply; a != nil {
		t.Notes = append(t.Notes, "apply ceiling's store: "+storeNote(a.Out.Store),
			fmt.Sprintf("apply ceiling: batches generated ahead of Apply on another goroutine (%.1fs of generating in its %.1fs), as the writer decodes ahead", a.Out.GenSecs, a.Out.Seconds))
	}
	if p := res.Produce; p != nil {
		t.Notes = append(t.Notes, fmt.Sprintf("graph topic records: %.0f bytes on average (key + value)", float64(p.Out.Bytes)/float64(p.Out.Elements)))
	}
	if b := res.Broker; b != nil {
		t.Notes = append(t.Notes, fmt.Sprintf("broker data directory: %s", report.Bytes(b.Out.DataBytes)))
	}
	t.Notes = append(t.Notes, "ratios are the writer's elements/s over the run's; peak RSS (timed part) is the process's high-water mark at the end of its timed part")
	return t
}
