// Command load is a bounded load test of rdg's query server: many clients
// asking a mix of queries at once, with the server's admission control at
// its defaults and with it turned off.
//
// It builds a graph through rdg's own pipeline — the demo world's logins,
// playback and game events (-events of -members members, as `rdg generate
// --rate -1` produces them) through the Netflix example jobs and the graph
// writer into a Pebble store — or reuses one (-dir, -reuse). Then, once
// per mode, it starts the rdg binary (built from this checkout, or -rdg)
// as a separate process serving that store (`rdg up` with no jobs, after
// the build's broker log is removed) and runs -clients clients for
// -duration, each asking one query after another from this mix (random
// members as start nodes, the API's binary protocol as `rdg query` speaks
// it, each query with the server's deadline):
//
//	neighbors  25%  a page of 100 edges of an account, both directions
//	1-hop      20%  traversal, both directions, depth 1, default limits
//	2-hop      20%  the same, depth 2
//	maximal    10%  depth 6 with every limit at the server's maximum
//	                (100,000 nodes, 1,000,000 edges and visits)
//	path       15%  shortest path between two accounts, depth 6
//	group      10%  an account's devices and profiles (ConnectedGroup)
//
// The modes are "admission" (rdg's defaults, or -query-concurrency and
// -query-memory-mib if set) and "unbounded" (--query-concurrency 0
// --query-memory-mib 0, which turn admission control off: a setting for
// benchmarks only). A client that is refused (resource_exhausted) waits
// for the server's retry hint, as a well-behaved client does, unless
// -honour-retry=false.
//
// It reports per mode the server's peak RSS (VmHWM) and its RSS once
// ready, the latency of admitted queries (p50, p99, per kind too), and the
// counts of refused and failed queries, and checks, for the admission
// mode, that the peak RSS stays under the RSS at start plus the store's
// cache plus the query memory bound, and that p99 of admitted queries
// stays under the server's deadline (10 s). The unbounded mode is aborted
// (its server killed) if its RSS passes -rss-abort-mib, so that a run
// cannot take down a shared machine; the abort is reported.
//
//	go run ./bench/load                                  # build the graph and both runs, ~6 minutes
//	go run ./bench/load -dir /tmp/rdg-load -keep         # keep the graph for another run
//	go run ./bench/load -dir /tmp/rdg-load -reuse        # reuse it
//	go run ./bench/load -dir /tmp/rdg-load -reuse -query-memory-mib 1024 -modes admission
//
// Run from the repository root (it builds ./cmd/rdg); the JSON goes to
// bench/out/load.json.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/api/wire"
	"github.com/rdgraph/rdg/internal/serve"

	"github.com/rdgraph/rdg/bench/internal/report"
)

type config struct {
	Graph       graphSpec `json:"graph"`
	Clients     int       `json:"clients"`
	Duration    string    `json:"duration"`
	Warmup      string    `json:"warmup"`
	CacheMiB    int       `json:"store_cache_mib"`
	Concurrency int       `json:"query_concurrency,omitempty"`
	MemoryMiB   int       `json:"query_memory_mib,omitempty"`
	HonourRetry bool      `json:"honour_retry"`
	AbortMiB    int       `json:"rss_abort_mib"`
	Modes       string    `json:"modes"`
	Dir         string    `json:"-"`
	Keep        bool      `json:"-"`
	Reuse       bool      `json:"reuse"`
	RDG         string    `json:"-"`
	Logs        string    `json:"-"`
	JSON        string    `json:"-"`
}

// serverDeadline is rdg's query deadline (serve.DefaultLimits().Timeout):
// the bound p99 of admitted queries must stay under.
var serverDeadline = serve.DefaultLimits().Timeout

type modeResult struct {
	Mode    string   `json:"mode"`
	Args    []string `json:"server_args"`
	Aborted string   `json:"aborted,omitempty"`
	// Server's admission bounds, from its /metrics.
	MaxRunning  float64 `json:"max_running"`
	MemoryBound int64   `json:"query_memory_bound_bytes"`
	CacheBytes  int64   `json:"store_cache_bytes"`
	StartRSS    int64   `json:"start_rss_bytes"`
	PeakRSS     int64   `json:"peak_rss_bytes"`
	// Admitted are the queries answered; their latency is measured by the
	// client, time waiting for admission included.
	Admitted report.Latency        `json:"admitted"`
	ByKind   map[string]kindResult `json:"by_kind"`
	// ServerAdmitted and ServerLate are what the server's
	// rdg_query_duration_seconds counted during the measured run: the
	// queries it admitted, and those whose answer ended after the
	// deadline (from its arrival at the server). Unlike the client's
	// latencies they leave out the client's own decoding, which shares
	// the machine's cores with the server.
	ServerAdmitted float64                   `json:"server_admitted"`
	ServerLate     float64                   `json:"server_late"`
	Rejected       int64                     `json:"rejected"`
	Failed         map[string]int64          `json:"failed"`
	Server         map[string]float64        `json:"server_metrics"`
	Checks         map[string]checkOutcome   `json:"checks,omitempty"`
	Errors         map[string]map[string]int `json:"error_samples,omitempty"`
}

type kindResult struct {
	report.Latency
	PartialPct float64 `json:"partial_pct"`
	Rejected   int64   `json:"rejected"`
	Failed     int64   `json:"failed"`
}

type checkOutcome struct {
	OK   bool   `json:"ok"`
	What string `json:"what"`
}

type output struct {
	Env    report.Env   `json:"env"`
	Config config       `json:"config"`
	Graph  graphInfo    `json:"graph"`
	Runs   []modeResult `json:"runs"`
}

func main() {
	var c config
	flag.IntVar(&c.Graph.Members, "members", 20_000, "members of the demo world")
	flag.Int64Var(&c.Graph.Events, "events", 300_000, "events generated into the graph")
	flag.Int64Var(&c.Graph.Seed, "seed", 1, "seed of the demo world and of the clients' choices")
	flag.IntVar(&c.Clients, "clients", 200, "concurrent clients")
	duration := flag.Duration("duration", 20*time.Second, "measured time per mode")
	warmup := flag.Duration("warmup", 5*time.Second, "unmeasured load (a tenth of the clients) before it, to warm the store's cache")
	flag.IntVar(&c.CacheMiB, "cache-mib", 256, "the server's --store-cache-mib")
	flag.IntVar(&c.Concurrency, "query-concurrency", 0, "the admission run's --query-concurrency (0: rdg's default)")
	flag.IntVar(&c.MemoryMiB, "query-memory-mib", 0, "the admission run's --query-memory-mib (0: rdg's default)")
	flag.BoolVar(&c.HonourRetry, "honour-retry", true, "a refused client waits for the retry hint before its next query")
	flag.IntVar(&c.AbortMiB, "rss-abort-mib", int(availableMiB()/2), "kill a server whose RSS passes this (default: half the memory available now)")
	flag.StringVar(&c.Modes, "modes", "admission,unbounded", "modes to run")
	flag.StringVar(&c.Dir, "dir", "", "directory of the graph (default: a temporary one, removed at the end)")
	flag.BoolVar(&c.Keep, "keep", false, "keep -dir")
	flag.BoolVar(&c.Reuse, "reuse", false, "reuse the graph in -dir if it was built with the same -members, -events and -seed (and keep -dir)")
	flag.StringVar(&c.RDG, "rdg", "", "the rdg binary to serve with (default: built from ./cmd/rdg)")
	flag.StringVar(&c.Logs, "logs", "", "keep the servers' logs (rdg-<mode>.log) in this directory (default: removed at the end)")
	flag.StringVar(&c.JSON, "json", "bench/out/load.json", "write the results here as JSON (empty: don't)")
	flag.Parse()
	c.Duration, c.Warmup = duration.String(), warmup.String()
	if c.Clients < 1 || *duration <= 0 {
		log.Fatal("want -clients >= 1 and -duration > 0")
	}
	ctx := context.Background()

	tmp, err := os.MkdirTemp("", "rdg-bench-load")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if c.Dir == "" {
		c.Dir = filepath.Join(tmp, "graph")
	} else if !c.Keep && !c.Reuse {
		defer os.RemoveAll(c.Dir)
	}
	bin := c.RDG
	if bin == "" {
		bin = filepath.Join(tmp, "rdg")
		fmt.Fprintln(os.Stderr, "building ./cmd/rdg")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/rdg").CombinedOutput(); err != nil {
			log.Fatalf("go build ./cmd/rdg (run from the repository root): %v\n%s", err, out)
		}
	}

	res := output{Env: report.Environment(), Config: c}
	if res.Graph, err = ensureGraph(ctx, c.Dir, c.Graph, c.Reuse); err != nil {
		log.Fatal(err)
	}
	for _, mode := range strings.Split(c.Modes, ",") {
		args := []string{}
		switch mode {
		case "admission":
			if c.Concurrency > 0 {
				args = append(args, "--query-concurrency", strconv.Itoa(c.Concurrency))
			}
			if c.MemoryMiB > 0 {
				args = append(args, "--query-memory-mib", strconv.Itoa(c.MemoryMiB))
			}
		case "unbounded":
			args = append(args, "--query-concurrency", "0", "--query-memory-mib", "0")
		default:
			log.Fatalf("unknown mode %q: want admission or unbounded", mode)
		}
		fmt.Fprintf(os.Stderr, "mode %s: %d clients for %s\n", mode, c.Clients, c.Duration)
		r, err := runMode(ctx, c, bin, tmp, mode, args, res.Graph.Members, *duration, *warmup)
		if err != nil {
			log.Fatalf("mode %s: %v", mode, err)
		}
		res.Runs = append(res.Runs, r)
	}
	printResults(res)
	if err := report.WriteJSON(c.JSON, res); err != nil {
		log.Fatal(err)
	}
	for _, r := range res.Runs {
		for name, ck := range r.Checks {
			if !ck.OK {
				log.Fatalf("mode %s: check %s failed: %s", r.Mode, name, ck.What)
			}
		}
	}
}

// availableMiB is MemAvailable from /proc/meminfo (4 GiB if unknown).
func availableMiB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 4 << 10
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(s.Text(), "MemAvailable: %d kB", &kb); err == nil {
			return kb >> 10
		}
	}
	return 4 << 10
}

// server is an rdg process serving the graph.
type server struct {
	cmd    *exec.Cmd
	url    string
	logf   string
	exited chan error
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer runs `rdg up` on dir with no jobs: the embedded broker and
// registry (empty), the writer (with nothing to write) and the API over
// the store, and waits until it is ready.
func startServer(ctx context.Context, bin, dir, logf string, cacheMiB int, extra []string) (*server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--log-level", "warn", "up", "--data-dir", dir,
		"--kafka-addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--api-addr", addr,
		"--store-cache-mib", strconv.Itoa(cacheMiB)}, extra...)
	lf, err := os.Create(logf)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, url: "http://" + addr, logf: logf, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("rdg exited before it was ready (%v); its log:\n%s", err, tail(logf))
		default:
		}
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("rdg not ready after 2 minutes; its log:\n%s", tail(logf))
		}
		select {
		case <-ctx.Done():
			s.kill()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop ends the server with SIGTERM, as an operator would, and kills it
// if it does not exit within a minute.
func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		return err
	case <-time.After(time.Minute):
		s.kill()
		return errors.New("rdg did not exit within a minute of SIGTERM")
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// memory reads the server's current and peak RSS from /proc.
func (s *server) memory() (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			rss = kb << 10
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// metrics reads the server's /metrics samples whose names start with
// rdg_query_ or are the process's resident memory.
func (s *server) metrics() (map[string]float64, error) {
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "rdg_query_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// call is one finished query.
type call struct {
	kind    string
	took    time.Duration
	partial bool
	code    connect.Code // 0: success
	msg     string
}

var kinds = []struct {
	name   string
	weight int
}{{"neighbors", 25}, {"1-hop", 20}, {"2-hop", 20}, {"maximal", 10}, {"path", 15}, {"group", 10}}

func pickKind(rng *rand.Rand) string {
	n := rng.IntN(100)
	for _, k := range kinds {
		if n < k.weight {
			return k.name
		}
		n -= k.weight
	}
	return kinds[0].name
}

func account(rng *rand.Rand, members int) *rdgv1.NodeRef {
	return &rdgv1.NodeRef{Type: "account", Id: fmt.Sprintf("m-%06d", rng.IntN(members)+1)}
}

// ask sends one query of kind and reports whether its answer was partial.
func ask(ctx context.Context, c rdgv1connect.GraphServiceClient, kind string, rng *rand.Rand, members int) (bool, error) {
	a := account(rng, members)
	both := []*rdgv1.Step{{Direction: rdgv1.Direction_DIRECTION_BOTH}}
	switch kind {
	case "neighbors":
		r, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: a, Direction: rdgv1.Direction_DIRECTION_BOTH, Limit: 100}))
		return err == nil && r.Msg.GetPartial(), err
	case "1-hop", "2-hop":
		depth := uint32(1)
		if kind == "2-hop" {
			depth = 2
		}
		r, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{a}, Steps: both, Depth: depth}))
		return err == nil && r.Msg.GetPartial(), err
	case "maximal":
		r, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{a}, Steps: both, Depth: 6,
			MaxNodes: 100_000, MaxEdges: 1_000_000,
			Limits: &rdgv1.QueryLimits{MaxVisited: 1_000_000, MaxResults: 100_000, MaxFanout: 100_000}}))
		return err == nil && r.Msg.GetPartial(), err
	case "path":
		r, err := c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: a, To: account(rng, members),
			Direction: rdgv1.Direction_DIRECTION_BOTH, MaxDepth: 6}))
		return err == nil && r.Msg.GetPartial(), err
	case "group":
		r, err := c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: a, EdgeTypes: []string{"uses", "has_profile", "signed_in_on"}}))
		return err == nil && r.Msg.GetPartial(), err
	}
	return false, fmt.Errorf("unknown kind %q", kind)
}

// retryHint is the delay a refusal asks for (a second if it names none).
func retryHint(err error) time.Duration {
	var ce *connect.Error
	if errors.As(err, &ce) {
		for _, d := range ce.Details() {
			if d.Type() == serve.RetryInfoType {
				if delay, ok := serve.RetryDelay(d.Bytes()); ok {
					return delay
				}
			}
		}
		if s, err := strconv.Atoi(ce.Meta().Get("Retry-After")); err == nil {
			return time.Duration(s) * time.Second
		}
	}
	return time.Second
}

// load runs clients until end, each asking one query after another, and
// returns every call that started before end.
func load(ctx context.Context, url string, clients int, end time.Time, members int, seed uint64, honour bool) []call {
	var p http.Protocols
	p.SetHTTP1(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &p, MaxIdleConnsPerHost: clients}}
	defer hc.CloseIdleConnections()
	c := rdgv1connect.NewGraphServiceClient(hc, url, connect.WithCodec(wire.Codec()))
	var (
		mu    sync.Mutex
		calls []call
		wg    sync.WaitGroup
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			var mine []call
			for time.Now().Before(end) {
				kind := pickKind(rng)
				// Longer than the server's deadline: the client measures
				// how late the server answers, it does not cut it off.
				qctx, cancel := context.WithTimeout(ctx, 6*serverDeadline)
				t0 := time.Now()
				partial, err := ask(qctx, c, kind, rng, members)
				took := time.Since(t0)
				cancel()
				cl := call{kind: kind, took: took, partial: partial}
				if err != nil {
					cl.code, cl.msg = connect.CodeOf(err), err.Error()
				}
				mine = append(mine, cl)
				if cl.code == connect.CodeResourceExhausted && honour {
					wait := min(retryHint(err), time.Until(end))
					if wait > 0 {
						time.Sleep(wait)
					}
				}
			}
			mu.Lock()
			calls = append(calls, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return calls
}

func runMode(ctx context.Context, c config, bin, tmp, mode string, args []string, members int, duration, warmup time.Duration) (modeResult, error) {
	r := modeResult{Mode: mode, Args: args, CacheBytes: int64(c.CacheMiB) << 20, ByKind: map[string]kindResult{},
		Failed: map[string]int64{}, Errors: map[string]map[string]int{}}
	logs := tmp
	if c.Logs != "" {
		logs = c.Logs
	}
	s, err := startServer(ctx, bin, c.Graph.dir(c.Dir), filepath.Join(logs, "rdg-"+mode+".log"), c.CacheMiB, args)
	if err != nil {
		return r, err
	}
	defer func() {
		select {
		case <-s.exited:
		default:
			if err := s.stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping rdg: %v\n", err)
			}
		}
	}()
	if r.StartRSS, _, err = s.memory(); err != nil {
		return r, err
	}
	m, err := s.metrics()
	if err != nil {
		return r, err
	}
	r.MaxRunning, r.MemoryBound = m["rdg_query_max_running"], int64(m["rdg_query_memory_limit_bytes"])
	fmt.Fprintf(os.Stderr, "  server ready: RSS %s, admission: %v running, %s query memory\n", report.Bytes(r.StartRSS), r.MaxRunning, report.Bytes(r.MemoryBound))

	// The abort guard: a server over -rss-abort-mib is killed.
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var abortMu sync.Mutex
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-watch.Done():
				return
			case <-t.C:
			}
			rss, _, err := s.memory()
			if err == nil && c.AbortMiB > 0 && rss > int64(c.AbortMiB)<<20 {
				abortMu.Lock()
				r.Aborted = fmt.Sprintf("server RSS %s passed -rss-abort-mib %d: killed", report.Bytes(rss), c.AbortMiB)
				abortMu.Unlock()
				_ = s.cmd.Process.Kill()
				return
			}
		}
	}()

	if warmup > 0 {
		load(ctx, s.url, max(c.Clients/10, 1), time.Now().Add(warmup), members, uint64(c.Graph.Seed)+1000, c.HonourRetry)
	}
	before, err := s.metrics()
	if err != nil {
		return r, err
	}
	calls := load(ctx, s.url, c.Clients, time.Now().Add(duration), members, uint64(c.Graph.Seed), c.HonourRetry)
	stopWatch()
	abortMu.Lock()
	aborted := r.Aborted
	abortMu.Unlock()
	if aborted == "" {
		if _, r.PeakRSS, err = s.memory(); err != nil {
			return r, err
		}
		if r.Server, err = s.metrics(); err != nil {
			return r, err
		}
		n0, late0 := answersLate(before)
		n1, late1 := answersLate(r.Server)
		r.ServerAdmitted, r.ServerLate = n1-n0, late1-late0
	}

	var admitted []time.Duration
	per := map[string][]time.Duration{}
	partial := map[string]int{}
	for _, cl := range calls {
		k := r.ByKind[cl.kind]
		switch cl.code {
		case 0:
			admitted = append(admitted, cl.took)
			per[cl.kind] = append(per[cl.kind], cl.took)
			if cl.partial {
				partial[cl.kind]++
			}
		case connect.CodeResourceExhausted:
			r.Rejected++
			k.Rejected++
		default:
			r.Failed[cl.code.String()]++
			k.Failed++
			if r.Errors[cl.code.String()] == nil {
				r.Errors[cl.code.String()] = map[string]int{}
			}
			if len(r.Errors[cl.code.String()]) < 5 {
				r.Errors[cl.code.String()][cl.msg]++
			}
		}
		r.ByKind[cl.kind] = k
	}
	r.Admitted = report.Summarize(admitted)
	for name, d := range per {
		k := r.ByKind[name]
		k.Latency = report.Summarize(d)
		k.PartialPct = 100 * float64(partial[name]) / float64(len(d))
		r.ByKind[name] = k
	}
	if mode == "admission" && aborted == "" {
		bound := r.StartRSS + r.CacheBytes + r.MemoryBound
		r.Checks = map[string]checkOutcome{
			"peak_rss": {OK: r.PeakRSS <= bound, What: fmt.Sprintf("peak RSS %s <= RSS at start %s + store cache %s + query memory bound %s = %s",
				report.Bytes(r.PeakRSS), report.Bytes(r.StartRSS), report.Bytes(r.CacheBytes), report.Bytes(r.MemoryBound), report.Bytes(bound))},
			"p99": {OK: r.Admitted.N > 0 && r.Admitted.P99ms < report.Ms(serverDeadline), What: fmt.Sprintf("p99 of %d admitted queries %.0f ms < deadline %s",
				r.Admitted.N, r.Admitted.P99ms, serverDeadline)},
		}
	}
	return r, nil
}

// answersLate sums rdg_query_duration_seconds over the RPCs: how many
// admitted queries it counted, and how many of them took longer than the
// deadline (one of its bucket bounds).
func answersLate(m map[string]float64) (n, late float64) {
	le := fmt.Sprintf(`,le="%g"}`, serverDeadline.Seconds())
	for k, v := range m {
		switch {
		case strings.HasPrefix(k, "rdg_query_duration_seconds_count"):
			n += v
			late += v
		case strings.HasPrefix(k, "rdg_query_duration_seconds_bucket") && strings.HasSuffix(k, le):
			late -= v
		}
	}
	return n, late
}

func printResults(res output) {
	fmt.Printf("\nrdg query server under load: %s\n", res.Env)
	fmt.Printf("graph: %d members, %d events -> %d nodes, %d edges; %d clients for %s per mode; deadline %s\n",
		res.Graph.Members, res.Graph.Events, res.Graph.Nodes, res.Graph.Edges, res.Config.Clients, res.Config.Duration, serverDeadline)
	t := report.Table{Title: "per mode (latency of admitted queries as their clients saw it)", Cols: []string{"mode", "running", "query mem", "RSS start", "peak RSS", "admitted", "p50 ms", "p99 ms", "max ms", "rejected", "failed", "late on server"}}
	for _, r := range res.Runs {
		failed := int64(0)
		for _, n := range r.Failed {
			failed += n
		}
		running, mem := "unbounded", "unbounded"
		if r.MaxRunning > 0 {
			running = strconv.Itoa(int(r.MaxRunning))
		}
		if r.MemoryBound > 0 {
			mem = report.Bytes(r.MemoryBound)
		}
		peak := report.Bytes(r.PeakRSS)
		if r.Aborted != "" {
			peak = "aborted"
		}
		t.Add(r.Mode, running, mem, report.Bytes(r.StartRSS), peak, r.Admitted.N, r.Admitted.P50ms, r.Admitted.P99ms, r.Admitted.MaxMs, r.Rejected, failed,
			fmt.Sprintf("%.0f of %.0f", r.ServerLate, r.ServerAdmitted))
	}
	t.Notes = append(t.Notes, fmt.Sprintf("late on server: answers that ended more than %s after the request reached the server (rdg_query_duration_seconds)", serverDeadline))
	for _, r := range res.Runs {
		if r.Aborted != "" {
			t.Notes = append(t.Notes, fmt.Sprintf("%s: %s", r.Mode, r.Aborted))
		}
		for code, n := range r.Failed {
			t.Notes = append(t.Notes, fmt.Sprintf("%s: %d failed with %s, e.g. %v", r.Mode, n, code, slices.Collect(maps.Keys(r.Errors[code]))))
		}
		names := slices.Sorted(maps.Keys(r.Checks))
		for _, name := range names {
			ck := r.Checks[name]
			verdict := "holds"
			if !ck.OK {
				verdict = "FAILS"
			}
			t.Notes = append(t.Notes, fmt.Sprintf("%s: %s %s: %s", r.Mode, name, verdict, ck.What))
		}
	}
	_ = t.Print(os.Stdout)
	k := report.Table{Title: "admitted queries per kind (latency in ms, time waiting for admission included)", Cols: []string{"mode", "kind", "n", "p50", "p99", "max", "partial %", "rejected", "failed"}}
	for _, r := range res.Runs {
		for _, kd := range kinds {
			kr := r.ByKind[kd.name]
			k.Add(r.Mode, kd.name, kr.N, kr.P50ms, kr.P99ms, kr.MaxMs, kr.PartialPct, kr.Rejected, kr.Failed)
		}
	}
	_ = k.Print(os.Stdout)
}
