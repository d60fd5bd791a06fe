// Command query benchmarks rdg's relationship queries against PostgreSQL
// on the same generated graph.
//
// It generates one deterministic graph (gen.go: accounts, devices and
// titles joined by watched, uses and streamed edges, with Zipf popularity
// so that degrees follow power laws; by default 1.75 million nodes with
// three properties each and 10.3 million edges with two, the busiest node
// with 62,000 edges) and loads it twice:
//
//   - into rdg's Pebble store, through store.Apply in batches of 20,000
//     elements as the graph writer does (with 64 MiB memtables, as a bulk
//     load would), then a full compaction; in a child process, whose peak
//     RSS is the load's;
//   - into PostgreSQL on 127.0.0.1:5432 (database rdg_bench, schema
//     query_bench, created if missing and dropped and recreated by each
//     load) with COPY, then the indexes a PostgreSQL engineer would make
//     (pg.go has the schema and why), VACUUM (ANALYZE) and a CHECKPOINT.
//
// Both then read everything once (-prewarm): rdg's block cache (-cache,
// by default large enough for the whole store, as a serving deployment
// would size it) and the operating system's cache of PostgreSQL's files,
// which hold its tables and indexes in memory beside its 128 MB of
// shared_buffers (the server's settings are recorded, never changed: the
// server is shared).
//
// Then it times four queries from the same seeded random nodes on three
// sides — rdg's query engine (package graph on the store), rdg's served API
// (a connect-go client calling the Connect protocol, binary protobuf, over
// HTTP on 127.0.0.1; the server runs in this process) and PostgreSQL (pgx
// over 127.0.0.1) — with the same caps: the API's default limits
// (internal/serve/limits.go) and, on the SQL side, the equivalent LIMITs
// (queries.go has the SQL):
//
//	neighbors  a page of 100 edges in both directions, with their far nodes
//	2-hop      breadth first, both directions, depth 2, at most 1,000 nodes
//	           and 10,000 edges examined per node
//	3-hop      the same, depth 3
//	path       shortest path between two random nodes, both directions, at
//	           most 6 edges
//
// Each query has the same deadline on both sides (-timeout, 1 s by default
// rather than the API's 10 s so that the run fits in minutes: rdg's
// deadline_ms, PostgreSQL's statement_timeout); deadlines reached are
// counted and reported, and PostgreSQL's percentiles that reach them are
// lower bounds. The order of the three sides rotates from sample to sample
// so that none always runs on caches warmed by another. Where neither side
// was cut short by a limit, every sample's answers must agree (the
// neighbour listing item by item, the nodes reached per depth, the path's
// length) or the program fails.
//
// It prints a latency table (p50, p90, p99, max per query and side, and
// PostgreSQL's time over rdg's), the load times, peak RSS and stored bytes
// per edge of both, and writes everything as JSON with the environment,
// PostgreSQL's settings and, per query kind, this process's CPU time per
// sample and rdg's block cache hit rate.
//
//	go run ./bench/query                                   # ≈10M edges, 7 to 10 minutes
//	go run ./bench/query -accounts 100000 -devices 70000 -titles 5000
//	go run ./bench/query -dir /tmp/qb -keep -reuse         # load once, then rerun the queries
//	go run ./bench/query -dir /tmp/qb -reuse -pg '' -sides engine -kinds 2-hop -cpuprofile cpu.prof
//
// Run from the repository root, the JSON goes to bench/out/query.json.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/api/wire"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/store"
)

type config struct {
	Spec     spec   `json:"graph"`
	Queries  int    `json:"queries_per_kind"`
	Deep     int    `json:"queries_per_deep_kind"`
	Warmup   int    `json:"warmup_per_kind"`
	Timeout  string `json:"timeout"`
	Batch    int    `json:"apply_batch"`
	CacheMiB int    `json:"rdg_block_cache_mib"`
	PG       string `json:"-"`
	PGDB     string `json:"pg_database"`
	Dir      string `json:"-"`
	Keep     bool   `json:"-"`
	Reuse    bool   `json:"reuse"`
	JSON     string `json:"-"`
	CPUProf  string `json:"-"`
	MemProf  string `json:"-"`
	Kinds    string `json:"kinds"`
	GOGC     int    `json:"gogc,omitempty"`
	Sides    string `json:"sides"`
	Prewarm  bool   `json:"prewarm"`
}

// sideResult is one query kind on one side.
type sideResult struct {
	Kind string `json:"kind"`
	Side string `json:"side"`
	report.Latency
	MeanResults float64 `json:"mean_results"`
	MeanVisited float64 `json:"mean_visited,omitempty"`
	PartialPct  float64 `json:"partial_pct"`
	Timeouts    int     `json:"timeouts"`
}

// kindResult compares the sides of one query kind.
type kindResult struct {
	Kind string `json:"kind"`
	// Compared is the number of samples whose answers were checked equal
	// (neither side cut short by a limit).
	Compared int `json:"compared"`
	// PGFanoutRetried counts path samples where PostgreSQL's fan-out cap
	// hid rdg's shorter path and an uncapped rerun confirmed rdg's length;
	// PGUnverified those where that rerun timed out.
	// ProcessCPUms is this process's CPU time per timed sample, all its
	// sides together (PostgreSQL's server is another process): on a busy
	// machine a steadier measure of rdg's cost than its latencies.
	ProcessCPUms float64 `json:"process_cpu_ms_per_sample"`
	// CacheHitPct is the share of rdg's block reads that its block cache
	// answered during the timed samples.
	CacheHitPct     float64 `json:"rdg_block_cache_hit_pct"`
	PGFanoutRetried int     `json:"pg_fanout_retried,omitempty"`
	PGUnverified    int     `json:"pg_unverified,omitempty"`
	RatioP50Engine  float64 `json:"pg_over_engine_p50,omitempty"`
	RatioP99Engine  float64 `json:"pg_over_engine_p99,omitempty"`
	RatioP50API     float64 `json:"pg_over_api_p50,omitempty"`
	RatioP99API     float64 `json:"pg_over_api_p99,omitempty"`
}

type loadResult struct {
	System      string       `json:"system"`
	Seconds     float64      `json:"seconds"`
	Detail      any          `json:"detail"`
	Usage       report.Usage `json:"usage"`
	Bytes       int64        `json:"stored_bytes"`
	DirBytes    int64        `json:"dir_bytes,omitempty"`
	BytesPerEdg float64      `json:"stored_bytes_per_edge"`
	// Reused: this run did not load; -reuse found the data loaded.
	Reused bool `json:"reused,omitempty"`
}

type output struct {
	Env        report.Env        `json:"env"`
	Config     config            `json:"config"`
	Nodes      int64             `json:"graph_nodes"`
	Edges      int64             `json:"graph_edges"`
	EdgesByTyp map[string]int64  `json:"graph_edges_by_type"`
	MaxDegree  int               `json:"graph_max_degree"`
	PGSettings map[string]string `json:"pg_settings,omitempty"`
	Loads      []loadResult      `json:"loads"`
	Results    []sideResult      `json:"results"`
	Compare    []kindResult      `json:"compare"`
	QuerySecs  float64           `json:"query_seconds"`
	TotalSecs  float64           `json:"total_seconds"`
}

func main() {
	var c config
	flag.IntVar(&c.Spec.Accounts, "accounts", 1_000_000, "account nodes (edges ≈ 10.3 × accounts with the default ratios)")
	flag.IntVar(&c.Spec.Devices, "devices", 700_000, "device nodes")
	flag.IntVar(&c.Spec.Titles, "titles", 50_000, "title nodes")
	flag.Uint64Var(&c.Spec.Seed, "seed", 1, "seed of the graph and of the sampled nodes")
	flag.IntVar(&c.Queries, "queries", 400, "timed samples of neighbors and 2-hop (each runs on every side)")
	flag.IntVar(&c.Deep, "queries-deep", 60, "timed samples of 3-hop and path, which PostgreSQL often takes its whole deadline over")
	flag.IntVar(&c.Warmup, "warmup", 40, "untimed samples per query kind first (a fifth of it for 3-hop and path)")
	timeout := flag.Duration("timeout", time.Second, "deadline of each query on every side (rdg deadline_ms, PostgreSQL statement_timeout)")
	flag.IntVar(&c.Batch, "batch", 20_000, "elements per store.Apply batch when loading rdg")
	flag.IntVar(&c.CacheMiB, "cache", 2048, "rdg block cache in MiB (the default graph's store is 1.2 GiB uncompressed)")
	flag.BoolVar(&c.Prewarm, "prewarm", true, "read everything once before the queries: rdg's store (a Stats scan) and PostgreSQL's tables and indexes (pg_prewarm)")
	flag.StringVar(&c.PG, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL to compare with (empty: rdg only)")
	flag.StringVar(&c.PGDB, "pgdb", "rdg_bench", "PostgreSQL database for the graph (created if missing)")
	flag.StringVar(&c.Dir, "dir", "", "directory for the rdg store (default: a temporary one, removed at the end)")
	flag.BoolVar(&c.Keep, "keep", false, "keep the store directory")
	flag.BoolVar(&c.Reuse, "reuse", false, "skip a load whose store (-dir) or PostgreSQL tables already hold this graph")
	flag.StringVar(&c.JSON, "json", "bench/out/query.json", "write the results here as JSON (empty: don't)")
	flag.StringVar(&c.CPUProf, "cpuprofile", "", "write a CPU profile of the timed queries here")
	flag.StringVar(&c.MemProf, "memprofile", "", "write a profile of the queries' allocations here")
	flag.StringVar(&c.Kinds, "kinds", "neighbors,2-hop,3-hop,path", "query kinds to run")
	flag.IntVar(&c.GOGC, "gogc", 0, "garbage collection target of this process, which serves the API (0: as rdg, Go's default with rdg's heap floor, or $GOGC)")
	flag.StringVar(&c.Sides, "sides", "engine,api,postgresql", "sides to time (rdg's engine and API, PostgreSQL)")
	flag.Parse()
	c.Timeout = timeout.String()

	if name, ok := report.ChildRun(); ok {
		switch name {
		case "rdg-load":
			var in rdgLoadIn
			report.ServeChild(&in, func() (any, error) { return loadRDG(in) })
		case "pg-load":
			var in pgLoadIn
			report.ServeChild(&in, func() (any, error) { return loadPG(in) })
		}
		log.Fatalf("unknown child run %q", name)
	}
	if err := c.Spec.validate(); err != nil {
		log.Fatal(err)
	}
	if err := run(c, *timeout); err != nil {
		log.Fatal(err)
	}
}

func run(c config, timeout time.Duration) error {
	start := time.Now()
	if c.GOGC > 0 {
		debug.SetGCPercent(c.GOGC)
	} else {
		report.GCAsRDG()
	}
	ctx := context.Background()
	out := &output{Env: report.Environment(), Config: c, EdgesByTyp: map[string]int64{}}
	specJSON, err := json.Marshal(c.Spec)
	if err != nil {
		return err
	}

	dir := c.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "rdg-query-bench")
		if err != nil {
			return err
		}
		dir = d
		if !c.Keep {
			defer os.RemoveAll(d)
		}
	}
	storeDir := filepath.Join(dir, "store")
	metaFile := filepath.Join(dir, "graph.json")

	// rdg load, in a child process of its own.
	var rl rdgLoadOut
	loaded := false
	if c.Reuse {
		if b, err := os.ReadFile(metaFile); err == nil {
			if err := json.Unmarshal(b, &rl); err == nil && rl.Edges > 0 {
				var saved struct {
					Spec spec `json:"spec"`
				}
				_ = json.Unmarshal(b, &saved)
				loaded = saved.Spec == c.Spec
			}
		}
	}
	rdgLoad := loadResult{System: "rdg"}
	if !loaded {
		if err := os.RemoveAll(storeDir); err != nil {
			return err
		}
		_ = os.Remove(metaFile)
		u, err := report.RunChild(ctx, "rdg-load", rdgLoadIn{Spec: c.Spec, Dir: storeDir, Batch: c.Batch}, &rl)
		if err != nil {
			return err
		}
		rdgLoad.Usage = u
		b, err := json.Marshal(struct {
			rdgLoadOut
			Spec spec `json:"spec"`
		}{rl, c.Spec})
		if err != nil {
			return err
		}
		if err := os.WriteFile(metaFile, b, 0o644); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(os.Stderr, "rdg: reusing the store in %s\n", storeDir)
		rdgLoad.Reused = true
	}
	rdgLoad.Seconds, rdgLoad.Detail = rl.LoadSecs+rl.CompactSec, rl
	if rdgLoad.DirBytes, err = report.DirSize(storeDir); err != nil {
		return err
	}
	out.Nodes, out.Edges, out.MaxDegree = rl.Nodes, rl.Edges, rl.MaxDegree
	for t := 1; t < len(edgeTypes); t++ {
		out.EdgesByTyp[edgeTypes[t]] = rl.EdgesByTyp[t]
	}

	// PostgreSQL load, likewise.
	var pg *pgx.Conn
	if c.PG != "" {
		if pg, err = pgConnect(ctx, c.PG, c.PGDB); err != nil {
			return err
		}
		defer pg.Close(ctx)
		if out.PGSettings, err = pgShowSettings(ctx, pg); err != nil {
			return err
		}
		pgLoad := loadResult{System: "postgresql"}
		if c.Reuse && pgLoaded(ctx, pg, specJSON) {
			fmt.Fprintf(os.Stderr, "postgresql: reusing the tables of %s.%s\n", c.PGDB, pgSchema)
			pgLoad.Reused = true
		} else {
			var pl pgLoadOut
			u, err := report.RunChild(ctx, "pg-load", pgLoadIn{Spec: c.Spec, URL: c.PG, DB: c.PGDB}, &pl)
			if err != nil {
				return err
			}
			if pl.Rows != out.Nodes+out.Edges {
				return fmt.Errorf("postgresql holds %d rows, rdg %d nodes and %d edges", pl.Rows, out.Nodes, out.Edges)
			}
			if err := pgMarkLoaded(ctx, pg, specJSON); err != nil {
				return err
			}
			pgLoad.Usage, pgLoad.Seconds, pgLoad.Detail = u, pl.CopySecs+pl.IndexSecs+pl.VacuumSecs, pl
		}
		var edgeBytes int64
		if pgLoad.Bytes, edgeBytes, err = pgSize(ctx, pg); err != nil {
			return err
		}
		pgLoad.BytesPerEdg = float64(pgLoad.Bytes) / float64(out.Edges)
		_ = edgeBytes
		out.Loads = append(out.Loads, pgLoad)
	}

	// The store, opened for reading as rdg serve opens it, and the API.
	st, err := store.Open(storeDir, store.Sync(false), store.CacheSize(int64(c.CacheMiB)<<20))
	if err != nil {
		return err
	}
	defer st.Close()
	// The live tables: right after the load the directory still holds
	// write-ahead logs Pebble recycles and files it has yet to delete.
	rdgLoad.Bytes = st.TableBytes()
	rdgLoad.BytesPerEdg = float64(rdgLoad.Bytes) / float64(out.Edges)
	out.Loads = append([]loadResult{rdgLoad}, out.Loads...)
	if c.Prewarm {
		t0 := time.Now()
		if _, err := st.Stats(ctx, 1); err != nil {
			return err
		}
		if pg != nil {
			if err := pgPrewarm(ctx, pg); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "prewarmed in %.1fs\n", time.Since(t0).Seconds())
	}
	if pg != nil {
		if _, err := pg.Exec(ctx, "SET statement_timeout = "+strconv.FormatInt(timeout.Milliseconds(), 10)); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serve.Serve(sctx, ln, serve.NewHandler(st)) }()
	defer func() {
		stop()
		<-served
	}()
	// The client decodes with rdg's codec, as `rdg query` does.
	api := rdgv1connect.NewGraphServiceClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}, "http://"+ln.Addr().String(),
		connect.WithCodec(wire.Codec()))
	sd := &sides{
		st:      st,
		api:     api,
		pg:      pg,
		s:       c.Spec,
		lim:     serve.DefaultLimits(),
		timeout: timeout,
	}

	type sideFn = func(context.Context, int, int) (answer, error)
	type kind struct {
		name              string
		engine, api, psql sideFn
	}
	all := []kind{
		{"neighbors", sd.neighborsEngine, sd.neighborsAPI, sd.neighborsPG},
		{"2-hop", sd.traverseEngine(2), sd.traverseAPI(2), sd.traversePG(2)},
		{"3-hop", sd.traverseEngine(3), sd.traverseAPI(3), sd.traversePG(3)},
		{"path", sd.pathEngine, sd.pathAPI, sd.pathPG},
	}
	var kinds []kind
	for _, k := range all {
		if strings.Contains(","+c.Kinds+",", ","+k.name+",") {
			kinds = append(kinds, k)
		}
	}

	if c.CPUProf != "" {
		f, err := os.Create(c.CPUProf)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if c.MemProf != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(c.MemProf); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	tq := time.Now()
	nodes := c.Spec.nodes()
	for _, k := range kinds {
		var (
			names []string
			fns   []sideFn
		)
		for j, name := range []string{"engine", "api", "postgresql"} {
			if strings.Contains(","+c.Sides+",", ","+name+",") && (name != "postgresql" || pg != nil) {
				names = append(names, name)
				fns = append(fns, []sideFn{k.engine, k.api, k.psql}[j])
			}
		}
		if len(fns) == 0 {
			return fmt.Errorf("no side to time in -sides %q", c.Sides)
		}
		// rdg's answer that PostgreSQL's is checked against, and the API's.
		rdgSide := 0
		hasPG := names[len(names)-1] == "postgresql"
		lat := make([][]time.Duration, len(fns))
		var (
			results, visited  = make([]int, len(fns)), make([]int, len(fns))
			partial, timeouts = make([]int, len(fns)), make([]int, len(fns))
		)
		kr := kindResult{Kind: k.name}
		// The same start nodes for every side, and for every run.
		rng := rand.New(rand.NewPCG(c.Spec.Seed, uint64(len(k.name))))
		queries, warmup := c.Queries, c.Warmup
		if k.name == "3-hop" || k.name == "path" {
			queries, warmup = c.Deep, c.Warmup/5
		}
		total := warmup + queries
		t0, lastProgress := time.Now(), time.Now()
		var (
			cpu0   report.Usage
			cache0 store.CacheStats
		)
		for i := range total {
			if i == warmup {
				cpu0, cache0 = report.SelfUsage(), st.CacheStats()
			}
			a, b := rng.IntN(nodes), rng.IntN(nodes)
			timed := i >= warmup
			answers := make([]answer, len(fns))
			for j := range fns {
				// Rotate which side goes first.
				side := (i + j) % len(fns)
				t := time.Now()
				ans, err := fns[side](ctx, a, b)
				d := time.Since(t)
				if err != nil {
					if !isTimeout(err) {
						return fmt.Errorf("%s on %s (from %s to %s): %w", k.name, names[side], c.Spec.ref(a), c.Spec.ref(b), err)
					}
					ans = answer{timeout: true}
				}
				answers[side] = ans
				if !timed {
					continue
				}
				lat[side] = append(lat[side], d)
				results[side] += max(ans.n, 0)
				visited[side] += ans.visited
				if ans.partial {
					partial[side]++
				}
				if ans.timeout {
					timeouts[side]++
				}
			}
			if len(names) >= 2 && names[0] == "engine" && names[1] == "api" {
				if err := agree(k.name, "api", answers[0], answers[1]); err != nil {
					return fmt.Errorf("sample %d: %w", i, err)
				}
			}
			if hasPG && len(fns) > 1 {
				checked, err := checkPG(ctx, sd, k.name, &kr, a, b, answers[rdgSide], answers[len(fns)-1])
				if err != nil {
					return fmt.Errorf("sample %d (%s, %s): %w", i, c.Spec.ref(a), c.Spec.ref(b), err)
				}
				if checked {
					kr.Compared++
				}
			}
			if time.Since(lastProgress) > 5*time.Second {
				lastProgress = time.Now()
				fmt.Fprintf(os.Stderr, "%s: %d/%d samples in %.0fs\n", k.name, i+1, total, time.Since(t0).Seconds())
			}
		}
		if queries > 0 {
			kr.ProcessCPUms = float64((report.SelfUsage().CPU() - cpu0.CPU()).Microseconds()) / 1000 / float64(queries)
			cs := st.CacheStats()
			if n := cs.Hits + cs.Misses - cache0.Hits - cache0.Misses; n > 0 {
				kr.CacheHitPct = 100 * float64(cs.Hits-cache0.Hits) / float64(n)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "%s: process CPU %.2f ms per sample; rdg block cache: %.2f%% hits, %s in %d blocks; Go heap %s in use, %d GCs\n",
				k.name, kr.ProcessCPUms, kr.CacheHitPct, report.Bytes(cs.Size), cs.Count, report.Bytes(int64(ms.HeapInuse)), ms.NumGC)
		}
		var p99 []float64
		var p50 []float64
		for j := range fns {
			r := sideResult{Kind: k.name, Side: names[j], Latency: report.Summarize(lat[j]), Timeouts: timeouts[j]}
			if n := len(lat[j]); n > 0 {
				r.MeanResults = float64(results[j]) / float64(n)
				r.MeanVisited = float64(visited[j]) / float64(n)
				r.PartialPct = 100 * float64(partial[j]) / float64(n)
			}
			out.Results = append(out.Results, r)
			p50 = append(p50, r.P50ms)
			p99 = append(p99, r.P99ms)
			fmt.Fprintf(os.Stderr, "%-9s %-10s p50 %8.3fms  p99 %8.3fms  max %8.3fms  timeouts %d\n", k.name, names[j], r.P50ms, r.P99ms, r.MaxMs, r.Timeouts)
		}
		if hasPG {
			pgj := len(fns) - 1
			for j, name := range names[:pgj] {
				switch name {
				case "engine":
					kr.RatioP50Engine, kr.RatioP99Engine = ratio(p50[pgj], p50[j]), ratio(p99[pgj], p99[j])
				case "api":
					kr.RatioP50API, kr.RatioP99API = ratio(p50[pgj], p50[j]), ratio(p99[pgj], p99[j])
				}
			}
		}
		out.Compare = append(out.Compare, kr)
	}
	out.QuerySecs = time.Since(tq).Seconds()
	out.TotalSecs = time.Since(start).Seconds()
	if err := printTables(out); err != nil {
		return err
	}
	if err := report.WriteJSON(c.JSON, out); err != nil {
		return err
	}
	if c.JSON != "" {
		fmt.Printf("results written to %s\n", c.JSON)
	}
	return nil
}

// checkPG compares PostgreSQL's answer with rdg's engine's. It reports
// whether the answers could be compared (neither cut short).
func checkPG(ctx context.Context, sd *sides, kind string, kr *kindResult, a, b int, rdg, pg answer) (bool, error) {
	if rdg.partial || rdg.timeout || pg.partial || pg.timeout {
		return false, nil
	}
	if kind != "path" || rdg.n == pg.n {
		return true, agree(kind, "postgresql", rdg, pg)
	}
	// rdg's search was complete, so its length is the shortest. A longer
	// (or no) path in SQL can only come from the fan-out cap on a node rdg
	// did not expand: confirm with the cap lifted.
	if pg.n != -1 && pg.n < rdg.n || rdg.n == -1 {
		return true, fmt.Errorf("path: rdg found length %d, postgresql %d", rdg.n, pg.n)
	}
	exact, err := sd.pathPGWith(ctx, a, b, 0)
	switch {
	case isTimeout(err):
		kr.PGUnverified++
		return false, nil
	case err != nil:
		return false, err
	case exact.n != rdg.n:
		return true, fmt.Errorf("path: rdg found length %d, postgresql %d (uncapped: %d)", rdg.n, pg.n, exact.n)
	}
	kr.PGFanoutRetried++
	return true, nil
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func printTables(out *output) error {
	t := report.Table{
		Title: fmt.Sprintf("%d nodes, %d edges (max degree %d); the same start nodes on every side; deadline %s\n%s",
			out.Nodes, out.Edges, out.MaxDegree, out.Config.Timeout, out.Env),
		Cols: []string{"query", "side", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean results", "partial %", "timeouts"},
		Notes: []string{"partial: cut short by a limit (rdg: the API's default limits; SQL: the same LIMITs); " +
			"a timeout counts at the time it took, so percentiles that reach timeouts are lower bounds"},
	}
	for _, r := range out.Results {
		t.Add(r.Kind, r.Side, r.N, fmt.Sprintf("%.3f", r.P50ms), fmt.Sprintf("%.3f", r.P90ms), fmt.Sprintf("%.3f", r.P99ms), fmt.Sprintf("%.3f", r.MaxMs),
			fmt.Sprintf("%.1f", r.MeanResults), fmt.Sprintf("%.1f", r.PartialPct), r.Timeouts)
	}
	if err := t.Print(os.Stdout); err != nil {
		return err
	}
	if out.PGSettings != nil {
		rt := report.Table{
			Title: "PostgreSQL time over rdg's (same samples)",
			Cols:  []string{"query", "p50 / engine", "p99 / engine", "p50 / api", "p99 / api", "answers compared"},
		}
		for _, k := range out.Compare {
			rt.Add(k.Kind, fmt.Sprintf("%.1f×", k.RatioP50Engine), fmt.Sprintf("%.1f×", k.RatioP99Engine),
				fmt.Sprintf("%.1f×", k.RatioP50API), fmt.Sprintf("%.1f×", k.RatioP99API), k.Compared)
		}
		if err := rt.Print(os.Stdout); err != nil {
			return err
		}
	}
	lt := report.Table{Title: "Load", Cols: []string{"system", "load s", "peak RSS", "stored", "bytes/edge"}}
	for _, l := range out.Loads {
		rss := "-"
		if l.Usage.PeakRSS > 0 {
			rss = report.Bytes(l.Usage.PeakRSS)
		}
		secs := fmt.Sprintf("%.1f", l.Seconds)
		if l.Reused {
			secs = "reused"
		}
		lt.Add(l.System, secs, rss, report.Bytes(l.Bytes), fmt.Sprintf("%.1f", l.BytesPerEdg))
	}
	lt.Notes = append(lt.Notes, "peak RSS: the loading process (rdg: generator + store; postgresql: the COPY client only, the server is not counted)")
	if out.PGSettings != nil {
		var s []string
		for _, k := range pgSettings {
			s = append(s, k+"="+out.PGSettings[k])
		}
		lt.Notes = append(lt.Notes, "postgresql: "+strings.Join(s, " "))
	}
	lt.Notes = append(lt.Notes, fmt.Sprintf("rdg block cache %d MiB; queries %.0fs, total %.0fs", out.Config.CacheMiB, out.QuerySecs, out.TotalSecs))
	return lt.Print(os.Stdout)
}
