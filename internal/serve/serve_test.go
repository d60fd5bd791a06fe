package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/logtest"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/store"
)

// The seed scenario: one member's account, its devices and profile, what the
// profile watched and played.
//
//	account:m1 -used-> device:phone, device:tablet, device:tv
//	account:m1 -has_profile-> profile:p1
//	profile:p1 -watched-> episode:t1-s1e1 -episode_of-> title:t1
//	profile:p1 -played-> game:g1
func seedBatch() *graph.Batch {
	p := func(v any) graph.Prop { return graph.Prop{Value: v, TS: 4000} }
	node := func(typ, id string, props graph.Props) graph.Node {
		return graph.Node{NodeRef: graph.NodeRef{Type: typ, ID: id}, Props: props, FirstSeen: 1000, LastSeen: 4000, UpdatedAt: 5000}
	}
	edge := func(typ, ft, fid, tt, tid string, props graph.Props) graph.Edge {
		return graph.Edge{
			EdgeRef:   graph.EdgeRef{Type: typ, From: graph.NodeRef{Type: ft, ID: fid}, To: graph.NodeRef{Type: tt, ID: tid}},
			Props:     props,
			FirstSeen: 2000, LastSeen: 3000, UpdatedAt: 5000,
		}
	}
	return &graph.Batch{
		Nodes: []graph.Node{
			node("account", "m1", graph.Props{"country": p("US"), "plan": p(nil)}),
			node("device", "phone", graph.Props{"platform": p("ios")}),
			node("device", "tv", graph.Props{"platform": p("tizen")}),
			node("device", "tablet", graph.Props{"platform": p("android")}),
			node("profile", "p1", graph.Props{"name": p("Ana"), "kids": p(false)}),
			node("title", "t1", graph.Props{"name": p("Dark"), "year": p(int64(2017))}),
			node("episode", "t1-s1e1", graph.Props{"season": p(int64(1))}),
			node("game", "g1", graph.Props{"name": p("Hextech")}),
		},
		Edges: []graph.Edge{
			edge("used", "account", "m1", "device", "phone", nil),
			edge("used", "account", "m1", "device", "tv", nil),
			edge("used", "account", "m1", "device", "tablet", nil),
			edge("has_profile", "account", "m1", "profile", "p1", nil),
			edge("watched", "profile", "p1", "episode", "t1-s1e1", graph.Props{
				"device": p("tv"), "position_ms": p(int64(1_200_000)), "rating": p(4.5), "completed": p(true),
			}),
			edge("episode_of", "episode", "t1-s1e1", "title", "t1", nil),
			edge("played", "profile", "p1", "game", "g1", graph.Props{"device": p("phone")}),
		},
	}
}

func openSeeded(t *testing.T) *store.Pebble {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := s.Apply(context.Background(), seedBatch()); err != nil {
		t.Fatal(err)
	}
	return s
}

// startServer serves h with serve.Serve on a real port and returns its base
// URL. Cleanup checks that the server shuts down cleanly.
func startServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(serve.ShutdownGrace + 5*time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return "http://" + ln.Addr().String()
}

// h2cClient speaks only cleartext HTTP/2, as a gRPC client without TLS does.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

func http1Client() *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

type protocolClient struct {
	name string
	c    rdgv1connect.GraphServiceClient
}

// clients returns a generated client per protocol: Connect over HTTP/1.1,
// gRPC over h2c, gRPC-Web over HTTP/1.1, and Connect with JSON.
func clients(t *testing.T, url string) []protocolClient {
	t.Helper()
	h1, h2 := http1Client(), h2cClient()
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	return []protocolClient{
		{"connect", rdgv1connect.NewGraphServiceClient(h1, url)},
		{"grpc", rdgv1connect.NewGraphServiceClient(h2, url, connect.WithGRPC())},
		{"grpcweb", rdgv1connect.NewGraphServiceClient(h1, url, connect.WithGRPCWeb())},
		{"connect-json", rdgv1connect.NewGraphServiceClient(h1, url, connect.WithProtoJSON())},
	}
}

func ref(typ, id string) *rdgv1.NodeRef { return &rdgv1.NodeRef{Type: typ, Id: id} }

func str(s string) *rdgv1.Value { return &rdgv1.Value{Kind: &rdgv1.Value_StringValue{StringValue: s}} }

func wantNode(typ, id string, props map[string]*rdgv1.Value) *rdgv1.Node {
	return &rdgv1.Node{Type: typ, Id: id, Props: props, FirstSeenMs: 1000, LastSeenMs: 4000, UpdatedAtMs: 5000}
}

func assertProto(t *testing.T, what string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, protojson.Format(got), protojson.Format(want))
	}
}

// neighborSummary renders neighbours as "edgeType from->to far" so that
// assertions read like the seed drawing.
func neighborSummary(ns []*rdgv1.Neighbor) []string {
	var out []string
	for _, n := range ns {
		e := n.GetEdge()
		out = append(out, fmt.Sprintf("%s %s:%s->%s:%s %s:%s", e.GetType(),
			e.GetFrom().GetType(), e.GetFrom().GetId(), e.GetTo().GetType(), e.GetTo().GetId(),
			n.GetNode().GetType(), n.GetNode().GetId()))
	}
	return out
}

// levels renders a traversal's nodes as one sorted list per depth: the order
// within a hop is the store's, which the API promises to be stable but not
// any particular order.
func levels(t *testing.T, r *rdgv1.TraverseResponse) [][]string {
	t.Helper()
	if len(r.GetDepths()) != len(r.GetNodes()) {
		t.Fatalf("%d depths for %d nodes", len(r.GetDepths()), len(r.GetNodes()))
	}
	var out [][]string
	for i, n := range r.GetNodes() {
		d := int(r.GetDepths()[i])
		if d < len(out)-1 {
			t.Fatalf("depths not in breadth-first order: %v", r.GetDepths())
		}
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], n.GetType()+":"+n.GetId())
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out
}

func edgeSet(es []*rdgv1.Edge) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s:%s -%s-> %s:%s", e.GetFrom().GetType(), e.GetFrom().GetId(), e.GetType(), e.GetTo().GetType(), e.GetTo().GetId()))
	}
	slices.Sort(out)
	return out
}

func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func equalJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func TestQueriesOverEveryProtocol(t *testing.T) {
	url := startServer(t, serve.NewHandler(openSeeded(t)))
	ctx := context.Background()
	for _, pc := range clients(t, url) {
		c := pc.c
		t.Run(pc.name, func(t *testing.T) {
			t.Run("GetNodes", func(t *testing.T) {
				res, err := c.GetNodes(ctx, connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{
					ref("account", "m1"), ref("device", "tv"), ref("game", "nope"), ref("account", "m1"),
				}}))
				if err != nil {
					t.Fatal(err)
				}
				assertProto(t, "GetNodes", res.Msg, &rdgv1.GetNodesResponse{
					Nodes: []*rdgv1.Node{
						wantNode("account", "m1", map[string]*rdgv1.Value{"country": str("US"), "plan": {}}),
						wantNode("device", "tv", map[string]*rdgv1.Value{"platform": str("tizen")}),
					},
					Missing: []*rdgv1.NodeRef{ref("game", "nope")},
				})
			})

			t.Run("NeighborsOut", func(t *testing.T) {
				res, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{
					Node: ref("profile", "p1"), Direction: rdgv1.Direction_DIRECTION_OUT, EdgeTypes: []string{"watched"},
				}))
				if err != nil {
					t.Fatal(err)
				}
				equal(t, "visited", res.Msg.GetVisited(), 2) // the edge and the far node's record
				res.Msg.Visited = 0
				assertProto(t, "Neighbors", res.Msg, &rdgv1.NeighborsResponse{Neighbors: []*rdgv1.Neighbor{{
					Edge: &rdgv1.Edge{
						Type: "watched", From: ref("profile", "p1"), To: ref("episode", "t1-s1e1"),
						Props: map[string]*rdgv1.Value{
							"device":      str("tv"),
							"position_ms": {Kind: &rdgv1.Value_IntValue{IntValue: 1_200_000}},
							"rating":      {Kind: &rdgv1.Value_DoubleValue{DoubleValue: 4.5}},
							"completed":   {Kind: &rdgv1.Value_BoolValue{BoolValue: true}},
						},
						FirstSeenMs: 2000, LastSeenMs: 3000, UpdatedAtMs: 5000,
					},
					Node: wantNode("episode", "t1-s1e1", map[string]*rdgv1.Value{"season": {Kind: &rdgv1.Value_IntValue{IntValue: 1}}}),
				}}})
			})

			t.Run("NeighborsDirections", func(t *testing.T) {
				for _, tc := range []struct {
					name  string
					req   *rdgv1.NeighborsRequest
					want  []string
					trunc bool
				}{{
					name: "unspecified is out, all types",
					req:  &rdgv1.NeighborsRequest{Node: ref("account", "m1")},
					want: []string{
						"has_profile account:m1->profile:p1 profile:p1",
						"used account:m1->device:phone device:phone",
						"used account:m1->device:tablet device:tablet",
						"used account:m1->device:tv device:tv",
					},
				}, {
					name: "in keeps the stored orientation",
					req:  &rdgv1.NeighborsRequest{Node: ref("device", "tv"), Direction: rdgv1.Direction_DIRECTION_IN},
					want: []string{"used account:m1->device:tv account:m1"},
				}, {
					name: "both",
					req:  &rdgv1.NeighborsRequest{Node: ref("profile", "p1"), Direction: rdgv1.Direction_DIRECTION_BOTH},
					want: []string{
						"has_profile account:m1->profile:p1 account:m1",
						"played profile:p1->game:g1 game:g1",
						"watched profile:p1->episode:t1-s1e1 episode:t1-s1e1",
					},
				}, {
					name: "edge type filter, repeats ignored",
					req:  &rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"has_profile", "nothing", "has_profile"}},
					want: []string{"has_profile account:m1->profile:p1 profile:p1"},
				}, {
					name: "limit equal to the count is not truncated",
					req:  &rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"used"}, Limit: 3},
					want: []string{
						"used account:m1->device:phone device:phone",
						"used account:m1->device:tablet device:tablet",
						"used account:m1->device:tv device:tv",
					},
				}, {
					name: "no such node",
					req:  &rdgv1.NeighborsRequest{Node: ref("account", "m404"), Direction: rdgv1.Direction_DIRECTION_BOTH},
				}} {
					res, err := c.Neighbors(ctx, connect.NewRequest(tc.req))
					if err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
					got := neighborSummary(res.Msg.GetNeighbors())
					slices.Sort(got)
					equalJSON(t, tc.name, got, tc.want)
					equal(t, tc.name+": truncated", res.Msg.GetTruncated(), tc.trunc)
				}
			})

			t.Run("NeighborsLimit", func(t *testing.T) {
				req := &rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"used"}}
				all, err := c.Neighbors(ctx, connect.NewRequest(req))
				if err != nil {
					t.Fatal(err)
				}
				req.Limit = 2
				two, err := c.Neighbors(ctx, connect.NewRequest(req))
				if err != nil {
					t.Fatal(err)
				}
				equal(t, "truncated", two.Msg.GetTruncated(), true)
				// The order is stable, so a limited listing is a prefix of
				// the full one.
				equalJSON(t, "limit 2", neighborSummary(two.Msg.GetNeighbors()), neighborSummary(all.Msg.GetNeighbors())[:2])
			})

			t.Run("TraverseTwoHops", func(t *testing.T) {
				res, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{
					Start: []*rdgv1.NodeRef{ref("account", "m1")},
					Steps: []*rdgv1.Step{
						{Direction: rdgv1.Direction_DIRECTION_OUT, EdgeTypes: []string{"used", "has_profile"}},
						{Direction: rdgv1.Direction_DIRECTION_OUT, EdgeTypes: []string{"watched", "played"}},
					},
				}))
				if err != nil {
					t.Fatal(err)
				}
				equalJSON(t, "levels", levels(t, res.Msg), [][]string{
					{"account:m1"},
					{"device:phone", "device:tablet", "device:tv", "profile:p1"},
					{"episode:t1-s1e1", "game:g1"},
				})
				equalJSON(t, "edges", edgeSet(res.Msg.GetEdges()), []string{
					"account:m1 -has_profile-> profile:p1",
					"account:m1 -used-> device:phone",
					"account:m1 -used-> device:tablet",
					"account:m1 -used-> device:tv",
					"profile:p1 -played-> game:g1",
					"profile:p1 -watched-> episode:t1-s1e1",
				})
				equal(t, "truncated", res.Msg.GetTruncated(), false)
				assertProto(t, "start node", res.Msg.GetNodes()[0],
					wantNode("account", "m1", map[string]*rdgv1.Value{"country": str("US"), "plan": {}}))
			})

			t.Run("TraverseDefaultStepIsBoth", func(t *testing.T) {
				res, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{
					Start: []*rdgv1.NodeRef{ref("title", "t1")}, Depth: 3,
				}))
				if err != nil {
					t.Fatal(err)
				}
				equalJSON(t, "levels", levels(t, res.Msg), [][]string{
					{"title:t1"}, {"episode:t1-s1e1"}, {"profile:p1"}, {"account:m1", "game:g1"},
				})
				equal(t, "edges", len(res.Msg.GetEdges()), 4)
			})

			t.Run("TraverseMaxNodes", func(t *testing.T) {
				res, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{
					Start:    []*rdgv1.NodeRef{ref("account", "m1")},
					Steps:    []*rdgv1.Step{{EdgeTypes: []string{"used", "has_profile"}}},
					MaxNodes: 3,
				}))
				if err != nil {
					t.Fatal(err)
				}
				equal(t, "nodes", len(res.Msg.GetNodes()), 3)
				equalJSON(t, "depths", res.Msg.GetDepths(), []uint32{0, 1, 1})
				equal(t, "truncated", res.Msg.GetTruncated(), true)
			})
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	url := startServer(t, serve.NewHandler(openSeeded(t), serve.WithLimits(serve.Limits{GetNodesMax: 2})))
	c := rdgv1connect.NewGraphServiceClient(http1Client(), url)
	ctx := context.Background()
	m1 := ref("account", "m1")
	tooManySteps := make([]*rdgv1.Step, 101)
	for i := range tooManySteps {
		tooManySteps[i] = &rdgv1.Step{}
	}
	for _, tc := range []struct {
		call  func() error
		field string
	}{
		{func() error {
			_, err := c.GetNodes(ctx, connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{m1, ref("Account", "x")}}))
			return err
		}, "refs[1].type"},
		{func() error {
			_, err := c.GetNodes(ctx, connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{ref("account", "")}}))
			return err
		}, "refs[0].id"},
		{func() error {
			_, err := c.GetNodes(ctx, connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{m1, m1, m1}}))
			return err
		}, "refs"},
		{func() error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{}))
			return err
		}, "node"},
		{func() error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m1, Direction: 9}))
			return err
		}, "direction"},
		{func() error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m1, EdgeTypes: []string{"used", "has-profile"}}))
			return err
		}, "edge_types[1]"},
		{func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{}))
			return err
		}, "start"},
		{func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1, ref("", "x")}}))
			return err
		}, "start[1].type"},
		{func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1},
				Steps: []*rdgv1.Step{{}, {Direction: 42}}}))
			return err
		}, "steps[1].direction"},
		{func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1},
				Steps: []*rdgv1.Step{{EdgeTypes: []string{"9lives"}}}}))
			return err
		}, "steps[0].edge_types[0]"},
		{func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Depth: 101}))
			return err
		}, "depth"},
		{func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Steps: tooManySteps}))
			return err
		}, "steps"},
	} {
		err := tc.call()
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: got %v, want invalid_argument", tc.field, err)
			continue
		}
		var ce *connect.Error
		if errors.As(err, &ce) && !strings.HasPrefix(ce.Message(), tc.field+": ") {
			t.Errorf("message %q does not start with %q", ce.Message(), tc.field+": ")
		}
	}
}

func TestServerSideLimits(t *testing.T) {
	url := startServer(t, serve.NewHandler(openSeeded(t), serve.WithLimits(serve.Limits{
		NeighborsDefault: 1, NeighborsMax: 2, TraverseNodesMax: 2,
	})))
	c := rdgv1connect.NewGraphServiceClient(http1Client(), url)
	ctx := context.Background()
	for _, tc := range []struct {
		limit uint32
		want  int
	}{{0, 1}, {2, 2}, {1000, 2}} {
		res, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1"), Limit: tc.limit}))
		if err != nil {
			t.Fatal(err)
		}
		equal(t, fmt.Sprintf("limit %d: neighbours", tc.limit), len(res.Msg.GetNeighbors()), tc.want)
		equal(t, fmt.Sprintf("limit %d: truncated", tc.limit), res.Msg.GetTruncated(), true)
	}
	res, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m1")}, MaxNodes: 50}))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "traverse nodes", len(res.Msg.GetNodes()), 2)
	equal(t, "traverse truncated", res.Msg.GetTruncated(), true)
}

// TestDeadline: the server's deadline is a limit like the others, so a
// query that reaches it answers with what it has, marked partial.
func TestDeadline(t *testing.T) {
	url := startServer(t, serve.NewHandler(openSeeded(t), serve.WithLimits(serve.Limits{Timeout: time.Nanosecond})))
	c := rdgv1connect.NewGraphServiceClient(http1Client(), url)
	res, err := c.Traverse(context.Background(), connect.NewRequest(&rdgv1.TraverseRequest{
		Start: []*rdgv1.NodeRef{ref("account", "m1")}, Depth: 100, MaxNodes: 100_000,
	}))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "partial", res.Msg.GetPartial(), true)
	equal(t, "truncated", res.Msg.GetTruncated(), true)
	equal(t, "limit", res.Msg.GetLimitHit(), rdgv1.Limit_LIMIT_DEADLINE)
}

// brokenReader injects the kind of error a damaged store returns, with a
// file path in it.
type brokenReader struct{ graph.Reader }

func (brokenReader) Node(context.Context, graph.NodeRef) (graph.Node, bool, error) {
	return graph.Node{}, false, errBroken
}

var errBroken = errors.New("pebble: /var/lib/rdg/secret/000042.sst: checksum mismatch")

// ReadSession breaks the session's node reads likewise.
func (b brokenReader) ReadSession(ctx context.Context) (graph.Session, error) {
	s, err := b.Reader.ReadSession(ctx)
	if err != nil {
		return nil, err
	}
	return brokenSession{s}, nil
}

type brokenSession struct{ graph.Session }

func (brokenSession) Node(context.Context, graph.NodeRef) (graph.Node, bool, error) {
	return graph.Node{}, false, errBroken
}

func TestStoreErrorsAreInternalAndLogged(t *testing.T) {
	var logs logtest.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	url := startServer(t, serve.NewHandler(brokenReader{openSeeded(t)}, serve.WithLogger(log)))
	c := rdgv1connect.NewGraphServiceClient(http1Client(), url)
	_, err := c.GetNodes(context.Background(), connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{ref("account", "m1")}}))
	equal(t, "code", connect.CodeOf(err), connect.CodeInternal)
	if strings.Contains(err.Error(), "/var/lib") {
		t.Errorf("error leaks the path: %v", err)
	}
	_, err = c.Neighbors(context.Background(), connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1")}))
	equal(t, "neighbors code", connect.CodeOf(err), connect.CodeInternal)
	_, err = c.Traverse(context.Background(), connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m1")}}))
	equal(t, "traverse code", connect.CodeOf(err), connect.CodeInternal)
	if strings.Contains(err.Error(), "/var/lib") {
		t.Errorf("error leaks the path: %v", err)
	}
	if !strings.Contains(logs.String(), "000042.sst") {
		t.Errorf("store error not logged; log: %s", logs.String())
	}
}

func TestAccessLogAtDebugOnly(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var logs logtest.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))
		url := startServer(t, serve.NewHandler(openSeeded(t), serve.WithLogger(log)))
		hc := h2cClient()
		t.Cleanup(hc.CloseIdleConnections)
		c := rdgv1connect.NewGraphServiceClient(hc, url, connect.WithGRPC())
		if _, err := c.GetNodes(context.Background(), connect.NewRequest(&rdgv1.GetNodesRequest{})); err != nil {
			t.Fatal(err)
		}
		got := logs.String()
		if level == slog.LevelDebug {
			for _, want := range []string{"level=DEBUG", "procedure=/rdg.v1.GraphService/GetNodes", "protocol=grpc", "code=ok"} {
				if !strings.Contains(got, want) {
					t.Errorf("access log %q lacks %q", got, want)
				}
			}
		} else if got != "" {
			t.Errorf("logged at %v: %s", level, got)
		}
	}
}

// TestCurlJSON posts JSON exactly as the README's curl command does.
func TestCurlJSON(t *testing.T) {
	url := startServer(t, serve.NewHandler(openSeeded(t)))
	post := func(body string) *http.Response {
		t.Helper()
		resp, err := http.Post(url+"/rdg.v1.GraphService/Traverse", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := post(`{"start":[{"type":"account","id":"m1"}],"steps":[{"direction":"DIRECTION_OUT","edge_types":["used","has_profile"]},{"edgeTypes":["watched","played"]}]}`)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %s: %s", resp.Status, b)
	}
	equal(t, "content type", resp.Header.Get("Content-Type"), "application/json")
	// int64 fields are JSON strings, so decoding them into string proves it.
	type jsonValue struct {
		StringValue *string  `json:"stringValue"`
		IntValue    *string  `json:"intValue"`
		DoubleValue *float64 `json:"doubleValue"`
		BoolValue   *bool    `json:"boolValue"`
	}
	type jsonRef struct{ Type, ID string }
	var got struct {
		Nodes []struct {
			Type        string               `json:"type"`
			ID          string               `json:"id"`
			Props       map[string]jsonValue `json:"props"`
			FirstSeenMs string               `json:"firstSeenMs"`
			LastSeenMs  string               `json:"lastSeenMs"`
			UpdatedAtMs string               `json:"updatedAtMs"`
		} `json:"nodes"`
		Depths []uint32 `json:"depths"`
		Edges  []struct {
			Type        string               `json:"type"`
			From        jsonRef              `json:"from"`
			To          jsonRef              `json:"to"`
			Props       map[string]jsonValue `json:"props"`
			FirstSeenMs string               `json:"firstSeenMs"`
			LastSeenMs  string               `json:"lastSeenMs"`
			UpdatedAtMs string               `json:"updatedAtMs"`
		} `json:"edges"`
		Truncated bool   `json:"truncated"`
		Visited   uint32 `json:"visited"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	equal(t, "nodes", len(got.Nodes), 7)
	equal(t, "edges", len(got.Edges), 6)
	equalJSON(t, "depths", got.Depths, []uint32{0, 1, 1, 1, 1, 2, 2})
	n := got.Nodes[0]
	equal(t, "start", n.Type+":"+n.ID, "account:m1")
	equal(t, "firstSeenMs", n.FirstSeenMs, "1000")
	equal(t, "updatedAtMs", n.UpdatedAtMs, "5000")
	equal(t, "country", *n.Props["country"].StringValue, "US")
	for _, e := range got.Edges {
		if e.Type == "watched" {
			equal(t, "watched to", e.To, jsonRef{"episode", "t1-s1e1"})
			equal(t, "position_ms", *e.Props["position_ms"].IntValue, "1200000")
			equal(t, "edge firstSeenMs", e.FirstSeenMs, "2000")
		}
	}

	resp = post(`{"start":[{"type":"account","id":"m1"},{"type":"Bad Type","id":"x"}]}`)
	equal(t, "status", resp.StatusCode, http.StatusBadRequest)
	var cerr struct{ Code, Message string }
	if err := json.NewDecoder(resp.Body).Decode(&cerr); err != nil {
		t.Fatal(err)
	}
	equal(t, "code", cerr.Code, "invalid_argument")
	if !strings.HasPrefix(cerr.Message, "start[1].type: ") {
		t.Errorf("message %q does not name start[1].type", cerr.Message)
	}
}

func TestExtraRoutesShareThePort(t *testing.T) {
	h := serve.NewHandler(openSeeded(t), serve.WithHandle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})))
	url := startServer(t, h)
	for _, c := range []*http.Client{http1Client(), h2cClient()} {
		resp, err := c.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		equal(t, "healthz", string(b), "ok")
		c.CloseIdleConnections()
	}
}

func TestListenAndServe(t *testing.T) {
	if err := serve.ListenAndServe(context.Background(), "127.0.0.1:-1", http.NotFoundHandler()); err == nil {
		t.Error("bad address: no error")
	}
	// Shutdown must wait for an in-flight request rather than cut it off.
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Serve(ctx, ln, h) }()
	body := make(chan string, 1)
	go func() {
		resp, err := h2cClient().Get("http://" + ln.Addr().String())
		if err != nil {
			body <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body <- string(b)
	}()
	<-started
	cancel()
	// Shutdown has begun once the listener refuses new connections; only
	// then release the in-flight handler.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting 10s after cancel")
		}
		time.Sleep(5 * time.Millisecond) // polling the listener's state
	}
	close(release)
	equal(t, "in-flight response", <-body, "finished")
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestBinaryAnswersEqualJSON: binary answers carry nodes and edges written
// from the store's encoding (raw properties); JSON answers are built from
// messages. Both must say the same, for every kind of property value.
func TestBinaryAnswersEqualJSON(t *testing.T) {
	url := startServer(t, serve.NewHandler(openSeeded(t)))
	ctx := context.Background()
	var answers []proto.Message
	var names []string
	for _, pc := range clients(t, url) {
		tr, err := pc.c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("title", "t1")}, Depth: 4}))
		if err != nil {
			t.Fatalf("%s: %v", pc.name, err)
		}
		g, err := pc.c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: ref("game", "g1")}))
		if err != nil {
			t.Fatalf("%s: %v", pc.name, err)
		}
		if n := len(tr.Msg.GetNodes()); n != 8 {
			t.Fatalf("%s: traversal reached %d nodes, want the seed's 8", pc.name, n)
		}
		answers = append(answers, tr.Msg, g.Msg)
		names = append(names, pc.name)
	}
	for i := 2; i < len(answers); i += 2 {
		for j := range 2 {
			if !proto.Equal(answers[i+j], answers[j]) {
				t.Errorf("%s answered\n%v\n%s answered\n%v", names[i/2], answers[i+j], names[0], answers[j])
			}
		}
	}
}
