// Command query benchmarks rdg's relationship queries on a generated graph
// with power-law degrees stored in Pebble.
//
// It builds a preferential-attachment graph (each new account links to -m
// earlier nodes chosen in proportion to their degree, so a few nodes become
// hubs with thousands of edges and most have a handful) into a Pebble store
// in a temporary directory, through store.Apply as the graph writer does,
// compacts it, and then times four queries from seeded random start nodes:
//
//	neighbors   one node's edges in both directions (Neighbors, limit 100)
//	2-hop       breadth-first traversal, both directions, depth 2 (Traverse)
//	3-hop       the same, depth 3
//	path        shortest path between two random nodes, both directions,
//	            max depth 6 (ShortestPath)
//
// with the API's default limits (1,000 nodes, 10,000 edges, 100,000 visited
// elements per traversal), each one twice: through the query engine
// (package graph on the store) and through the served API (package serve
// over HTTP on 127.0.0.1, Connect protocol, binary protobuf). It prints a
// table of latencies (p50, p90, p99, max) and writes them as JSON.
//
//	go run ./bench/query                      # 340,000 nodes, 1,020,000 edges
//	go run ./bench/query -nodes 100000 -queries 500 -json /tmp/q.json
//
// Run from the repository root, the JSON goes to bench/out/query.json.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/store"
)

type config struct {
	Nodes   int    `json:"nodes"`
	M       int    `json:"edges_per_node"`
	Queries int    `json:"queries_per_kind"`
	Warmup  int    `json:"warmup_per_kind"`
	Seed    uint64 `json:"seed"`
	Dir     string `json:"-"`
	JSON    string `json:"-"`
	Keep    bool   `json:"-"`
	CPUProf string `json:"-"`
}

type result struct {
	Kind        string  `json:"kind"`
	Via         string  `json:"via"`
	N           int     `json:"n"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	MeanResults float64 `json:"mean_results"`
	MeanVisited float64 `json:"mean_visited"`
	PartialPct  float64 `json:"partial_pct"`
}

type report struct {
	Config     config   `json:"config"`
	GoVersion  string   `json:"go_version"`
	CPUs       int      `json:"cpus"`
	Nodes      int      `json:"graph_nodes"`
	Edges      int64    `json:"graph_edges"`
	MaxDegree  int      `json:"max_degree"`
	LoadSecs   float64  `json:"load_seconds"`
	CompactSec float64  `json:"compact_seconds"`
	Results    []result `json:"results"`
	StatsSecs  float64  `json:"stats_scan_seconds"`
	TotalSecs  float64  `json:"total_seconds"`
}

func main() {
	var c config
	flag.IntVar(&c.Nodes, "nodes", 340_000, "accounts and devices in the graph (edges ≈ nodes × m)")
	flag.IntVar(&c.M, "m", 3, "edges each new node adds")
	flag.IntVar(&c.Queries, "queries", 2000, "timed queries per kind and path")
	flag.IntVar(&c.Warmup, "warmup", 200, "untimed queries per kind and path first")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of the graph and of the start nodes")
	flag.StringVar(&c.Dir, "dir", "", "directory for the store (default: a temporary one, removed at the end)")
	flag.StringVar(&c.JSON, "json", "bench/out/query.json", "write the results here as JSON (empty: don't)")
	flag.BoolVar(&c.Keep, "keep", false, "keep the store directory")
	flag.StringVar(&c.CPUProf, "cpuprofile", "", "write a CPU profile of the timed queries here")
	flag.Parse()
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

func run(c config) error {
	start := time.Now()
	ctx := context.Background()
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
	st, err := store.Open(filepath.Join(dir, "store"), store.Sync(false), store.CacheSize(256<<20))
	if err != nil {
		return err
	}
	defer st.Close()

	rep := &report{Config: c, GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	t0 := time.Now()
	edges, maxDeg, err := generate(ctx, st, c)
	if err != nil {
		return err
	}
	rep.Nodes, rep.Edges, rep.MaxDegree = c.Nodes, edges, maxDeg
	rep.LoadSecs = time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "stored %d nodes, %d edges (max degree %d) in %.1fs\n", c.Nodes, edges, maxDeg, rep.LoadSecs)
	t0 = time.Now()
	if err := st.Compact(ctx); err != nil {
		return err
	}
	rep.CompactSec = time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "compacted in %.1fs\n", rep.CompactSec)

	// The served API, on loopback.
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
	client := rdgv1connect.NewGraphServiceClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}, "http://"+ln.Addr().String())

	lim := serve.DefaultLimits()
	graphLimits := func() graph.Limits {
		return graph.Limits{MaxVisited: lim.VisitedDefault, MaxResults: lim.ResultsDefault, MaxFanout: lim.FanoutDefault,
			Deadline: time.Now().Add(lim.Timeout)}
	}
	node := func(i int) graph.NodeRef { return nodeRef(i) }
	pnode := func(i int) *rdgv1.NodeRef { r := nodeRef(i); return &rdgv1.NodeRef{Type: r.Type, Id: r.ID} }
	both := rdgv1.Direction_DIRECTION_BOTH

	type query func(rng *rand.Rand) (results, visited int, partial bool, err error)
	kinds := []struct {
		kind, via string
		q         query
	}{
		{"neighbors", "graph", func(rng *rand.Rand) (int, int, bool, error) {
			r, err := graph.ListNeighbors(ctx, st, graph.NeighborsRequest{Node: node(rng.IntN(c.Nodes)), Direction: graph.Both,
				Limit: lim.NeighborsDefault, Limits: graphLimits()})
			if err != nil {
				return 0, 0, false, err
			}
			return len(r.Edges), r.Visited, r.Partial, nil
		}},
		{"neighbors", "api", func(rng *rand.Rand) (int, int, bool, error) {
			r, err := client.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: pnode(rng.IntN(c.Nodes)), Direction: both}))
			if err != nil {
				return 0, 0, false, err
			}
			return len(r.Msg.GetNeighbors()), int(r.Msg.GetVisited()), r.Msg.GetPartial(), nil
		}},
	}
	for _, depth := range []int{2, 3} {
		kind := strconv.Itoa(depth) + "-hop"
		kinds = append(kinds, struct {
			kind, via string
			q         query
		}{kind, "graph", func(rng *rand.Rand) (int, int, bool, error) {
			r, err := graph.Traverse(ctx, st, graph.TraverseRequest{Start: []graph.NodeRef{node(rng.IntN(c.Nodes))}, Depth: depth,
				Steps: []graph.Step{{Direction: graph.Both}}, MaxNodes: lim.TraverseNodesDefault, MaxEdges: lim.TraverseEdgesDefault, Limits: graphLimits()})
			if err != nil {
				return 0, 0, false, err
			}
			return len(r.Nodes), r.Visited, r.Partial, nil
		}}, struct {
			kind, via string
			q         query
		}{kind, "api", func(rng *rand.Rand) (int, int, bool, error) {
			r, err := client.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{pnode(rng.IntN(c.Nodes))},
				Depth: uint32(depth), Steps: []*rdgv1.Step{{Direction: both}}}))
			if err != nil {
				return 0, 0, false, err
			}
			return len(r.Msg.GetNodes()), int(r.Msg.GetVisited()), r.Msg.GetPartial(), nil
		}})
	}
	kinds = append(kinds, struct {
		kind, via string
		q         query
	}{"path", "graph", func(rng *rand.Rand) (int, int, bool, error) {
		r, err := graph.ShortestPath(ctx, st, graph.PathRequest{From: node(rng.IntN(c.Nodes)), To: node(rng.IntN(c.Nodes)),
			Direction: graph.Both, MaxDepth: lim.PathDepthDefault, Limits: graphLimits()})
		if err != nil {
			return 0, 0, false, err
		}
		return len(r.Path.Edges), r.Visited, r.Partial, nil
	}}, struct {
		kind, via string
		q         query
	}{"path", "api", func(rng *rand.Rand) (int, int, bool, error) {
		r, err := client.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: pnode(rng.IntN(c.Nodes)), To: pnode(rng.IntN(c.Nodes)), Direction: both}))
		if err != nil {
			return 0, 0, false, err
		}
		return len(r.Msg.GetPath().GetEdges()), int(r.Msg.GetVisited()), r.Msg.GetPartial(), nil
	}})

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
	for _, k := range kinds {
		// The same start nodes for both paths of a kind.
		rng := rand.New(rand.NewPCG(c.Seed, uint64(len(k.kind))))
		for range c.Warmup {
			if _, _, _, err := k.q(rng); err != nil {
				return fmt.Errorf("%s via %s: %w", k.kind, k.via, err)
			}
		}
		lat := make([]time.Duration, 0, c.Queries)
		var results, visited, partial int
		for range c.Queries {
			t := time.Now()
			n, v, p, err := k.q(rng)
			lat = append(lat, time.Since(t))
			if err != nil {
				return fmt.Errorf("%s via %s: %w", k.kind, k.via, err)
			}
			results += n
			visited += v
			if p {
				partial++
			}
		}
		slices.Sort(lat)
		r := result{
			Kind: k.kind, Via: k.via, N: len(lat),
			P50ms: ms(pct(lat, 50)), P90ms: ms(pct(lat, 90)), P99ms: ms(pct(lat, 99)), MaxMs: ms(lat[len(lat)-1]),
			MeanResults: float64(results) / float64(len(lat)), MeanVisited: float64(visited) / float64(len(lat)),
			PartialPct: 100 * float64(partial) / float64(len(lat)),
		}
		rep.Results = append(rep.Results, r)
		fmt.Fprintf(os.Stderr, "%-9s via %-5s p50 %7.3fms  p99 %7.3fms\n", r.Kind, r.Via, r.P50ms, r.P99ms)
	}
	t0 = time.Now()
	if _, err := st.Stats(ctx, 10); err != nil {
		return err
	}
	rep.StatsSecs = time.Since(t0).Seconds()
	rep.TotalSecs = time.Since(start).Seconds()

	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(os.Stdout, "\n%d nodes, %d edges (power law, max degree %d), Pebble; %d queries per row; %s, %d CPUs\n\n",
		rep.Nodes, rep.Edges, rep.MaxDegree, c.Queries, rep.GoVersion, rep.CPUs)
	fmt.Fprintln(w, "query\tvia\tp50 ms\tp90 ms\tp99 ms\tmax ms\tmean results\tmean visited\tpartial %\t")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%s\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.1f\t%.0f\t%.1f\t\n", r.Kind, r.Via, r.P50ms, r.P90ms, r.P99ms, r.MaxMs, r.MeanResults, r.MeanVisited, r.PartialPct)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "\nload %.1fs, compaction %.1fs, one Stats scan (uncached) %.2fs, total %.1fs\n", rep.LoadSecs, rep.CompactSec, rep.StatsSecs, rep.TotalSecs)
	if c.JSON != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(c.JSON), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(c.JSON, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stdout, "results written to %s\n", c.JSON)
	}
	return nil
}

// nodeRef names node i: even nodes are accounts, odd ones devices, so the
// graph has two node types and every query crosses both.
func nodeRef(i int) graph.NodeRef {
	if i%2 == 0 {
		return graph.NodeRef{Type: "account", ID: fmt.Sprintf("a%07d", i)}
	}
	return graph.NodeRef{Type: "device", ID: fmt.Sprintf("d%07d", i)}
}

// generate stores a preferential-attachment graph: node i (i ≥ 1) adds m
// edges to earlier nodes picked from the list of all edge ends so far, that
// is in proportion to their degree. Each node has a record with two
// properties; each edge one. Repeated picks merge into one edge, as the
// store's identity rules say.
func generate(ctx context.Context, st *store.Pebble, c config) (edges int64, maxDeg int, err error) {
	if c.Nodes < 2 || c.M < 1 {
		return 0, 0, errors.New("need -nodes >= 2 and -m >= 1")
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x9e3779b97f4a7c15))
	ends := make([]int32, 0, 2*c.Nodes*c.M)
	deg := make([]int32, c.Nodes)
	b := &graph.Batch{}
	now := time.Now().UnixMilli()
	flush := func() error {
		if err := st.Apply(ctx, b); err != nil {
			return err
		}
		b.Reset()
		return nil
	}
	for i := 0; i < c.Nodes; i++ {
		ts := now - int64(c.Nodes-i)
		b.Nodes = append(b.Nodes, graph.Node{NodeRef: nodeRef(i), FirstSeen: ts, LastSeen: ts, UpdatedAt: ts,
			Props: graph.Props{"n": {Value: int64(i), TS: ts}, "kind": {Value: []string{"account", "device"}[i%2], TS: ts}}})
		seen := map[int32]bool{}
		for added, tries := 0, 0; added < c.M && tries < 10*c.M && i > 0; tries++ {
			j := int32(0)
			if len(ends) > 0 {
				j = ends[rng.IntN(len(ends))]
			}
			if j == int32(i) || seen[j] {
				continue // a self-loop or a repeat would merge away: pick again
			}
			seen[j] = true
			added++
			typ := "uses"
			if j%2 == 1 && i%2 == 1 {
				typ = "paired"
			}
			b.Edges = append(b.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: typ, From: nodeRef(i), To: nodeRef(int(j))},
				FirstSeen: ts, LastSeen: ts, UpdatedAt: ts, Props: graph.Props{"w": {Value: int64(rng.IntN(100)), TS: ts}}})
			ends = append(ends, int32(i), j)
			deg[i]++
			deg[j]++
			edges++
		}
		if len(b.Edges) >= 50_000 {
			if err := flush(); err != nil {
				return 0, 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	for _, d := range deg {
		maxDeg = max(maxDeg, int(d))
	}
	return edges, maxDeg, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
