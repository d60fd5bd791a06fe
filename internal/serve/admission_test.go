package serve_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/serve"
)

// gatedReader is a real store whose reads of one node wait at a gate, so
// that a test can hold a query running for as long as it needs to. It
// counts the reads of every node, and the edge listings of every node.
type gatedReader struct {
	graph.Reader
	block   graph.NodeRef
	entered chan struct{} // one value per read of block that reached the gate
	open    chan struct{} // closed: reads of block go on

	mu    sync.Mutex
	reads map[graph.NodeRef]int
}

func newGatedReader(r graph.Reader, block graph.NodeRef) *gatedReader {
	return &gatedReader{Reader: r, block: block, entered: make(chan struct{}, 16), open: make(chan struct{}), reads: map[graph.NodeRef]int{}}
}

func (g *gatedReader) count(ref graph.NodeRef) {
	g.mu.Lock()
	g.reads[ref]++
	g.mu.Unlock()
}

func (g *gatedReader) readsOf(ref graph.NodeRef) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reads[ref]
}

// pass counts a read of ref and, for the blocked node, waits for the gate.
func (g *gatedReader) pass(ctx context.Context, ref graph.NodeRef) error {
	g.count(ref)
	if ref == g.block {
		g.entered <- struct{}{}
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (g *gatedReader) Node(ctx context.Context, ref graph.NodeRef) (graph.Node, bool, error) {
	if err := g.pass(ctx, ref); err != nil {
		return graph.Node{}, false, err
	}
	return g.Reader.Node(ctx, ref)
}

func (g *gatedReader) Edges(ctx context.Context, ref graph.NodeRef, dir graph.Direction, typ string, fn func(*graph.Edge) bool) error {
	g.count(ref)
	return g.Reader.Edges(ctx, ref, dir, typ, fn)
}

// ReadSession gates the session's reads as the reader's.
func (g *gatedReader) ReadSession(ctx context.Context) (graph.Session, error) {
	s, err := g.Reader.ReadSession(ctx)
	if err != nil {
		return nil, err
	}
	return &gatedSession{Session: s, g: g}, nil
}

type gatedSession struct {
	graph.Session
	g *gatedReader
}

func (s *gatedSession) Node(ctx context.Context, ref graph.NodeRef) (graph.Node, bool, error) {
	if err := s.g.pass(ctx, ref); err != nil {
		return graph.Node{}, false, err
	}
	return s.Session.Node(ctx, ref)
}

func (s *gatedSession) Edges(ctx context.Context, ref graph.NodeRef, dir graph.Direction, typ string, fn func(*graph.Edge) bool) error {
	s.g.count(ref)
	return s.Session.Edges(ctx, ref, dir, typ, fn)
}

// admissionServer serves the household graph behind a gate on account:m3,
// with admission control a and its metrics at /metrics.
type admissionServer struct {
	url  string
	gate *gatedReader
	c    rdgv1connect.GraphServiceClient
	grpc rdgv1connect.GraphServiceClient
}

func newAdmissionServer(t *testing.T, a serve.Admission) *admissionServer {
	t.Helper()
	gate := newGatedReader(openHousehold(t), graph.NodeRef{Type: "account", ID: "m3"})
	reg := prometheus.NewRegistry()
	h := serve.NewHandler(gate, serve.WithAdmission(a), serve.WithMetrics(reg),
		serve.WithHandle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	url := startServer(t, h)
	h1, h2 := http1Client(), h2cClient()
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	return &admissionServer{url: url, gate: gate,
		c:    rdgv1connect.NewGraphServiceClient(h1, url),
		grpc: rdgv1connect.NewGraphServiceClient(h2, url, connect.WithGRPC())}
}

// hold starts a GetNodes of account:m3, which stays running until
// release is called, and returns once it is running. release returns the
// call's error.
func (s *admissionServer) hold(t *testing.T) (release func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := s.c.GetNodes(context.Background(), connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{ref("account", "m3")}}))
		done <- err
	}()
	select {
	case <-s.gate.entered:
	case err := <-done:
		t.Fatalf("the held query ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the held query did not start")
	}
	var once sync.Once
	return func() error {
		once.Do(func() { close(s.gate.open) })
		return <-done
	}
}

// metric reads the value of a sample (name, or name{labels} as
// Prometheus writes it) from /metrics.
func (s *admissionServer) metric(t *testing.T, sample string) float64 {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no sample %s in /metrics", sample)
	return 0
}

// awaitMetric polls /metrics until sample has value want.
func (s *admissionServer) awaitMetric(t *testing.T, sample string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.metric(t, sample)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", sample, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// assertBusy checks for ResourceExhausted with a retry hint of at least a
// second, as the Retry-After header or trailer and as RetryInfo.
func assertBusy(t *testing.T, what string, err error, msg string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted {
		t.Fatalf("%s: got %v, want resource_exhausted", what, err)
	}
	if !strings.Contains(ce.Message(), msg) {
		t.Errorf("%s: message %q does not say %q", what, ce.Message(), msg)
	}
	if s, err := strconv.Atoi(ce.Meta().Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds >= 1", what, ce.Meta().Get("Retry-After"))
	}
	found := false
	for _, d := range ce.Details() {
		if d.Type() == serve.RetryInfoType {
			delay, ok := serve.RetryDelay(d.Bytes())
			found = ok && delay >= time.Second
		}
	}
	if !found {
		t.Errorf("%s: no RetryInfo detail of a second or more in %v", what, ce.Details())
	}
}

func TestAdmissionRefusesWhenFull(t *testing.T) {
	s := newAdmissionServer(t, serve.Admission{MaxRunning: 1})
	release := s.hold(t)
	s.awaitMetric(t, "rdg_query_running", 1)

	ctx := context.Background()
	m1 := ref("account", "m1")
	_, err := s.c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m1}))
	assertBusy(t, "connect", err, "server busy")
	_, err = s.grpc.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}}))
	assertBusy(t, "grpc", err, "server busy")

	// curl: HTTP 429 with Retry-After, and the Connect error in JSON.
	resp, err := http.Post(s.url+"/rdg.v1.GraphService/Neighbors", "application/json", strings.NewReader(`{"node":{"type":"account","id":"m1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"resource_exhausted"`) {
		t.Errorf("JSON: %s, Retry-After %q: %s", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	equal(t, "rejected, queue full", s.metric(t, `rdg_query_rejected_total{reason="queue_full"}`), 3)
	// None of the refused queries read anything.
	equal(t, "reads of m1", s.gate.readsOf(graph.NodeRef{Type: "account", ID: "m1"}), 0)

	if err := release(); err != nil {
		t.Fatal(err)
	}
	s.awaitMetric(t, "rdg_query_running", 0)
	// Room again: the same query runs.
	nb := mustOK(s.c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m1})))(t)
	equal(t, "neighbours of m1", len(nb.GetNeighbors()), 4)
	equal(t, "admitted", s.metric(t, "rdg_query_admitted_total"), 2)
}

func TestAdmissionQueuedRunWhenRoomFrees(t *testing.T) {
	s := newAdmissionServer(t, serve.Admission{MaxRunning: 1, MaxQueued: 4})
	release := s.hold(t)

	type result struct {
		what string
		n    int
		err  error
	}
	results := make(chan result, 2)
	go func() {
		res, err := s.c.Neighbors(context.Background(), connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1")}))
		if err != nil {
			results <- result{"neighbors", 0, err}
			return
		}
		results <- result{"neighbors", len(res.Msg.GetNeighbors()), nil}
	}()
	go func() {
		res, err := s.grpc.Traverse(context.Background(), connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m2")}}))
		if err != nil {
			results <- result{"traverse", 0, err}
			return
		}
		results <- result{"traverse", len(res.Msg.GetNodes()), nil}
	}()
	s.awaitMetric(t, "rdg_query_queued", 2)
	equal(t, "running while two wait", s.metric(t, "rdg_query_running"), 1)
	equal(t, "m1 read while waiting", s.gate.readsOf(graph.NodeRef{Type: "account", ID: "m1"}), 0)

	if err := release(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"neighbors": 4, "traverse": 4} // m1's 4 edges; m2 and its 3 neighbours
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("%s: %v", r.what, r.err)
		}
		equal(t, r.what, r.n, want[r.what])
	}
	s.awaitMetric(t, "rdg_query_queued", 0)
	s.awaitMetric(t, "rdg_query_running", 0)
	equal(t, "admitted", s.metric(t, "rdg_query_admitted_total"), 3)
	equal(t, "rejected", s.metric(t, `rdg_query_rejected_total{reason="queue_full"}`)+s.metric(t, `rdg_query_rejected_total{reason="deadline"}`), 0)
	for _, proc := range []string{"GetNodes", "Neighbors", "Traverse"} {
		s.awaitMetric(t, `rdg_query_duration_seconds_count{procedure="`+proc+`"}`, 1)
	}
}

// TestAdmissionDeadlineWhileQueued: the deadline counts from arrival, so a
// request that waits past it is refused, and never runs late.
func TestAdmissionDeadlineWhileQueued(t *testing.T) {
	s := newAdmissionServer(t, serve.Admission{MaxRunning: 1, MaxQueued: 4})
	release := s.hold(t)
	defer release()

	m2 := ref("account", "m2")
	_, err := s.c.Neighbors(context.Background(), connect.NewRequest(&rdgv1.NeighborsRequest{Node: m2, Limits: &rdgv1.QueryLimits{DeadlineMs: 200}}))
	assertBusy(t, "limits.deadline_ms", err, "could not start the query in time for its deadline")
	equal(t, "rejected for the deadline", s.metric(t, `rdg_query_rejected_total{reason="deadline"}`), 1)

	// A transport deadline (grpc-timeout) counts the same way: the server
	// refuses in time for the client to hear it, or the client's deadline
	// passes first on a slow machine.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = s.grpc.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m2}))
	if c := connect.CodeOf(err); c != connect.CodeResourceExhausted && c != connect.CodeDeadlineExceeded {
		t.Errorf("grpc-timeout: got %v, want resource_exhausted or deadline_exceeded", err)
	}
	s.awaitMetric(t, "rdg_query_queued", 0)
	equal(t, "m2 never read", s.gate.readsOf(graph.NodeRef{Type: "account", ID: "m2"}), 0)
	equal(t, "admitted: the held query only", s.metric(t, "rdg_query_admitted_total"), 1)
}

// TestAdmissionMemoryBound: queries wait for memory even when they would
// be few enough to run, and a query larger than the whole bound runs with
// its limits lowered to fit.
func TestAdmissionMemoryBound(t *testing.T) {
	const visits = 10
	bound := serve.MemoryFor(visits)
	s := newAdmissionServer(t, serve.Admission{MaxRunning: 10, MaxMemory: bound, MaxQueued: 4})

	// The traversal the bound must lower: with no bound it is complete.
	deep := &rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m1")}, Depth: 6,
		MaxNodes: 100_000, MaxEdges: 1_000_000, Limits: &rdgv1.QueryLimits{MaxVisited: 1_000_000}}
	free := newAdmissionServer(t, serve.Admission{})
	full := mustOK(free.c.Traverse(context.Background(), connect.NewRequest(deep)))(t)
	equal(t, "unbounded: partial", full.GetPartial(), false)
	if full.GetVisited() <= visits {
		t.Fatalf("the traversal visits %d elements, not enough to test a bound of %d", full.GetVisited(), visits)
	}

	release := s.hold(t)
	s.awaitMetric(t, "rdg_query_running", 1)
	reserved := s.metric(t, "rdg_query_memory_reserved_bytes")
	if reserved <= 0 || reserved > float64(bound) {
		t.Errorf("reserved %v bytes, want some, at most the bound %d", reserved, bound)
	}
	equal(t, "memory limit metric", s.metric(t, "rdg_query_memory_limit_bytes"), float64(bound))

	done := make(chan *rdgv1.TraverseResponse, 1)
	go func() {
		res, err := s.c.Traverse(context.Background(), connect.NewRequest(deep))
		if err != nil {
			t.Error(err)
			done <- nil
			return
		}
		done <- res.Msg
	}()
	// One query runs, nine more could: it waits for memory.
	s.awaitMetric(t, "rdg_query_queued", 1)
	equal(t, "running", s.metric(t, "rdg_query_running"), 1)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	m := <-done
	if m == nil {
		return
	}
	equal(t, "bounded: partial", m.GetPartial(), true)
	equal(t, "bounded: limit", m.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_VISITED)
	equal(t, "bounded: visited", m.GetVisited(), uint32(visits))
	s.awaitMetric(t, "rdg_query_memory_reserved_bytes", 0)
}

func TestDefaultAdmission(t *testing.T) {
	a := serve.DefaultAdmission()
	if a.MaxRunning < 4 || a.MaxQueued < a.MaxRunning || a.MaxMemory < 64<<20 || a.MaxMemory > serve.MemoryAvailable() {
		t.Errorf("DefaultAdmission() = %+v (memory available %d)", a, serve.MemoryAvailable())
	}
	if got := fmt.Sprint(serve.Admission{}); got != "unbounded" {
		t.Errorf("zero Admission: %q", got)
	}
}

// TestAdmissionSmallQueriesPassAWaitingLargeOne: a query waiting for
// memory does not hold up a smaller one that fits meanwhile.
func TestAdmissionSmallQueriesPassAWaitingLargeOne(t *testing.T) {
	s := newAdmissionServer(t, serve.Admission{MaxRunning: 10, MaxMemory: serve.MemoryFor(100), MaxQueued: 4})
	release := s.hold(t)
	large := make(chan error, 1)
	go func() {
		// Its limits allow more than the whole bound: lowered to fit,
		// it needs all of it, so it waits for the held query.
		_, err := s.c.Traverse(context.Background(), connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m1")},
			Depth: 6, MaxNodes: 100_000, MaxEdges: 1_000_000, Limits: &rdgv1.QueryLimits{MaxVisited: 1_000_000}}))
		large <- err
	}()
	s.awaitMetric(t, "rdg_query_queued", 1)
	m := mustOK(s.c.GetNodes(context.Background(), connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{ref("device", "tv")}})))(t)
	equal(t, "small query's answer", len(m.GetNodes()), 1)
	equal(t, "the large one still waits", s.metric(t, "rdg_query_queued"), 1)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-large; err != nil {
		t.Fatalf("the large query, once the held one ended: %v", err)
	}
}
