package serve_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/store"
)

// The household graph: two members sharing a TV, their profiles and what
// they watched, and a third member alone on a device. Times are unix ms.
//
//	account:m1 -used-> device:phone (last seen 1000), device:tv (2000), device:tablet (3000)
//	account:m2 -used-> device:tv (2500), device:console (2600)
//	account:m3 -used-> device:lonely (3000)
//	account:m1 -has_profile-> profile:p1     account:m2 -has_profile-> profile:p2
//	profile:p1 -watched-> title:t1 (1500, rating 4.5, completed)
//	profile:p2 -watched-> title:t1 (2700, rating 3)
//	profile:p2 -watched-> title:t2 (2800, rating 5)
//
// Every node was last seen at 5000.
func householdBatch() *graph.Batch {
	p := func(v any) graph.Prop { return graph.Prop{Value: v, TS: 1} }
	b := &graph.Batch{}
	node := func(r string, props graph.Props) {
		ref, _ := graph.ParseNodeRef(r)
		b.Nodes = append(b.Nodes, graph.Node{NodeRef: ref, Props: props, FirstSeen: 500, LastSeen: 5000, UpdatedAt: 6000})
	}
	edge := func(from, typ, to string, last int64, props graph.Props) {
		f, _ := graph.ParseNodeRef(from)
		tt, _ := graph.ParseNodeRef(to)
		b.Edges = append(b.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: typ, From: f, To: tt}, Props: props, FirstSeen: 500, LastSeen: last, UpdatedAt: 6000})
	}
	node("account:m1", graph.Props{"country": p("NL")})
	node("account:m2", graph.Props{"country": p("NL")})
	node("account:m3", graph.Props{"country": p("US")})
	node("device:phone", graph.Props{"platform": p("ios")})
	node("device:tv", graph.Props{"platform": p("tizen"), "screen": p(int64(55))})
	node("device:tablet", graph.Props{"platform": p("android"), "screen": p(int64(11))})
	node("device:console", graph.Props{"platform": p("ps5")})
	node("device:lonely", graph.Props{"platform": p("roku")})
	node("profile:p1", graph.Props{"name": p("Ana")})
	node("profile:p2", graph.Props{"name": p("Ben"), "kids": p(true)})
	node("title:t1", graph.Props{"year": p(int64(2017))})
	node("title:t2", graph.Props{"year": p(int64(2023))})
	edge("account:m1", "used", "device:phone", 1000, nil)
	edge("account:m1", "used", "device:tv", 2000, nil)
	edge("account:m1", "used", "device:tablet", 3000, nil)
	edge("account:m2", "used", "device:tv", 2500, nil)
	edge("account:m2", "used", "device:console", 2600, nil)
	edge("account:m3", "used", "device:lonely", 3000, nil)
	edge("account:m1", "has_profile", "profile:p1", 1000, nil)
	edge("account:m2", "has_profile", "profile:p2", 1000, nil)
	edge("profile:p1", "watched", "title:t1", 1500, graph.Props{"rating": p(4.5), "completed": p(true)})
	edge("profile:p2", "watched", "title:t1", 2700, graph.Props{"rating": p(int64(3))})
	edge("profile:p2", "watched", "title:t2", 2800, graph.Props{"rating": p(int64(5))})
	return b
}

func openHousehold(t testing.TB, opts ...store.Opt) *store.Pebble {
	t.Helper()
	s, err := store.Open(t.TempDir(), append([]store.Opt{store.Sync(false)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Apply(context.Background(), householdBatch()); err != nil {
		t.Fatal(err)
	}
	return s
}

func householdClient(t *testing.T, opts ...serve.Opt) (rdgv1connect.GraphServiceClient, *store.Pebble) {
	t.Helper()
	s := openHousehold(t)
	url := startServer(t, serve.NewHandler(s, opts...))
	hc := http1Client()
	t.Cleanup(hc.CloseIdleConnections)
	return rdgv1connect.NewGraphServiceClient(hc, url), s
}

func names(ns []*rdgv1.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.GetType()+":"+n.GetId())
	}
	return out
}

func pathLine(p *rdgv1.Path) string {
	var b strings.Builder
	for i, n := range p.GetNodes() {
		if i > 0 {
			e := p.GetEdges()[i-1]
			fmt.Fprintf(&b, " %s ", e.GetType())
		}
		b.WriteString(n.GetType() + ":" + n.GetId())
	}
	return b.String()
}

// mustOK(c.Call(...))(t) is the call's response message, or a fatal error.
func mustOK[T any](res *connect.Response[T], err error) func(*testing.T) *T {
	return func(t *testing.T) *T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg
	}
}

func TestGetNodesBatch(t *testing.T) {
	c, _ := householdClient(t)
	m := mustOK(c.GetNodes(context.Background(), connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{
		ref("device", "tv"), ref("title", "t9"), ref("profile", "p2"), ref("device", "tv"),
	}})))(t)
	equalJSON(t, "nodes", names(m.GetNodes()), []string{"device:tv", "profile:p2"})
	equalJSON(t, "missing", m.GetMissing(), []*rdgv1.NodeRef{ref("title", "t9")})
	equal(t, "tv screen", m.GetNodes()[0].GetProps()["screen"].GetIntValue(), int64(55))
	equal(t, "p2 kids", m.GetNodes()[1].GetProps()["kids"].GetBoolValue(), true)
}

func TestNeighborsFilters(t *testing.T) {
	c, _ := householdClient(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  *rdgv1.NeighborsRequest
		want []string
	}{{
		name: "node types",
		req:  &rdgv1.NeighborsRequest{Node: ref("account", "m1"), NodeTypes: []string{"profile"}},
		want: []string{"has_profile account:m1->profile:p1 profile:p1"},
	}, {
		name: "since",
		req:  &rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"used"}, SinceMs: 2000},
		want: []string{"used account:m1->device:tablet device:tablet", "used account:m1->device:tv device:tv"},
	}, {
		name: "until",
		req:  &rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"used"}, UntilMs: 2000},
		want: []string{"used account:m1->device:phone device:phone", "used account:m1->device:tv device:tv"},
	}, {
		name: "since and until, in",
		req:  &rdgv1.NeighborsRequest{Node: ref("device", "tv"), Direction: rdgv1.Direction_DIRECTION_IN, SinceMs: 2001, UntilMs: 2999},
		want: []string{"used account:m2->device:tv account:m2"},
	}, {
		name: "both, node types and time",
		req: &rdgv1.NeighborsRequest{Node: ref("title", "t1"), Direction: rdgv1.Direction_DIRECTION_BOTH,
			NodeTypes: []string{"profile", "account"}, SinceMs: 2000},
		want: []string{"watched profile:p2->title:t1 profile:p2"},
	}, {
		name: "nothing matches",
		req:  &rdgv1.NeighborsRequest{Node: ref("account", "m1"), NodeTypes: []string{"title"}},
	}} {
		m := mustOK(c.Neighbors(ctx, connect.NewRequest(tc.req)))(t)
		got := neighborSummary(m.GetNeighbors())
		equalJSON(t, tc.name, got, tc.want)
		equal(t, tc.name+": partial", m.GetPartial(), false)
		equal(t, tc.name+": next cursor", m.GetNextCursor(), "")
	}
}

// TestNeighborsPagingAcrossWrite pages through account:m1's edges two at a
// time and writes new edges between the pages, on both sides of the cursor.
func TestNeighborsPagingAcrossWrite(t *testing.T) {
	c, s := householdClient(t)
	ctx := context.Background()
	req := &rdgv1.NeighborsRequest{Node: ref("account", "m1"), Limit: 2}
	page := func() *rdgv1.NeighborsResponse {
		t.Helper()
		return mustOK(c.Neighbors(ctx, connect.NewRequest(req)))(t)
	}
	p1 := page()
	equalJSON(t, "page 1", neighborSummary(p1.GetNeighbors()), []string{
		"has_profile account:m1->profile:p1 profile:p1",
		"used account:m1->device:phone device:phone",
	})
	equal(t, "page 1 partial", p1.GetPartial(), true)
	equal(t, "page 1 limit", p1.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_RESULTS)
	if p1.GetNextCursor() == "" {
		t.Fatal("page 1: no cursor")
	}
	// device:aaa sorts before the cursor (used/device/phone), device:zzz
	// after it; device:phone is written again (still behind the cursor).
	add := func(to string) graph.Edge {
		return graph.Edge{EdgeRef: graph.EdgeRef{Type: "used", From: graph.NodeRef{Type: "account", ID: "m1"}, To: graph.NodeRef{Type: "device", ID: to}}, LastSeen: 4000}
	}
	if err := s.Apply(ctx, &graph.Batch{Edges: []graph.Edge{add("aaa"), add("zzz"), add("phone")}}); err != nil {
		t.Fatal(err)
	}
	req.Cursor = p1.GetNextCursor()
	p2 := page()
	equalJSON(t, "page 2", neighborSummary(p2.GetNeighbors()), []string{
		"used account:m1->device:tablet device:tablet",
		"used account:m1->device:tv device:tv",
	})
	req.Cursor = p2.GetNextCursor()
	p3 := page()
	equalJSON(t, "page 3", neighborSummary(p3.GetNeighbors()), []string{"used account:m1->device:zzz device:zzz"})
	equal(t, "page 3 partial", p3.GetPartial(), false)
	equal(t, "page 3 cursor", p3.GetNextCursor(), "")

	// A cursor is bound to its listing.
	other := &rdgv1.NeighborsRequest{Node: ref("account", "m2"), Limit: 2, Cursor: p1.GetNextCursor()}
	_, err := c.Neighbors(ctx, connect.NewRequest(other))
	assertInvalid(t, err, "cursor", "another listing")
	other = &rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"used"}, Cursor: p1.GetNextCursor()}
	_, err = c.Neighbors(ctx, connect.NewRequest(other))
	assertInvalid(t, err, "cursor", "another listing")
	for _, bad := range []string{"!!!", "AQ", strings.Repeat("A", 40)} {
		_, err = c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1"), Cursor: bad}))
		assertInvalid(t, err, "cursor", "malformed")
	}
}

// TestNeighborsPagingBothDirections pages one at a time through a Both
// listing, which crosses from out-edges to in-edges.
func TestNeighborsPagingBothDirections(t *testing.T) {
	c, _ := householdClient(t)
	req := &rdgv1.NeighborsRequest{Node: ref("profile", "p2"), Direction: rdgv1.Direction_DIRECTION_BOTH, Limit: 1}
	var got []string
	for range 10 {
		m := mustOK(c.Neighbors(context.Background(), connect.NewRequest(req)))(t)
		got = append(got, neighborSummary(m.GetNeighbors())...)
		if m.GetNextCursor() == "" {
			break
		}
		req.Cursor = m.GetNextCursor()
	}
	equalJSON(t, "pages", got, []string{
		"watched profile:p2->title:t1 title:t1",
		"watched profile:p2->title:t2 title:t2",
		"has_profile account:m2->profile:p2 account:m2",
	})
}

func TestTraverseStepFilters(t *testing.T) {
	c, _ := householdClient(t)
	ctx := context.Background()
	m1 := []*rdgv1.NodeRef{ref("account", "m1")}
	for _, tc := range []struct {
		name  string
		steps []*rdgv1.Step
		want  [][]string
	}{{
		name:  "node types",
		steps: []*rdgv1.Step{{NodeTypes: []string{"device"}}},
		want:  [][]string{{"account:m1"}, {"device:phone", "device:tablet", "device:tv"}},
	}, {
		name: "node predicate",
		steps: []*rdgv1.Step{{EdgeTypes: []string{"used"}, NodePredicates: []*rdgv1.Predicate{
			{Field: "screen", Op: rdgv1.Op_OP_GE, Value: &rdgv1.Value{Kind: &rdgv1.Value_IntValue{IntValue: 20}}},
		}}},
		want: [][]string{{"account:m1"}, {"device:tv"}},
	}, {
		name: "node predicate ne (a missing property fails)",
		steps: []*rdgv1.Step{{EdgeTypes: []string{"used"}, NodePredicates: []*rdgv1.Predicate{
			{Field: "screen", Op: rdgv1.Op_OP_NE, Value: &rdgv1.Value{Kind: &rdgv1.Value_IntValue{IntValue: 55}}},
		}}},
		want: [][]string{{"account:m1"}, {"device:tablet"}},
	}, {
		name: "co-viewers of a shared device, then what they watched highly",
		steps: []*rdgv1.Step{
			{EdgeTypes: []string{"used"}, SinceMs: 1500},
			{Direction: rdgv1.Direction_DIRECTION_IN, EdgeTypes: []string{"used"}},
			{EdgeTypes: []string{"has_profile"}},
			{EdgeTypes: []string{"watched"}, EdgePredicates: []*rdgv1.Predicate{
				{Field: "rating", Op: rdgv1.Op_OP_GT, Value: &rdgv1.Value{Kind: &rdgv1.Value_DoubleValue{DoubleValue: 4}}},
			}},
		},
		want: [][]string{{"account:m1"}, {"device:tablet", "device:tv"}, {"account:m2"}, {"profile:p2"}, {"title:t2"}},
	}, {
		name: "element field predicate",
		steps: []*rdgv1.Step{{EdgeTypes: []string{"used"}, NodePredicates: []*rdgv1.Predicate{
			{Field: "@id", Op: rdgv1.Op_OP_LT, Value: &rdgv1.Value{Kind: &rdgv1.Value_StringValue{StringValue: "tb"}}},
		}}},
		want: [][]string{{"account:m1"}, {"device:phone", "device:tablet"}},
	}} {
		m := mustOK(c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: m1, Steps: tc.steps})))(t)
		equalJSON(t, tc.name, levels(t, m), tc.want)
		equal(t, tc.name+": partial", m.GetPartial(), false)
	}
}

func TestTraversePathsMode(t *testing.T) {
	c, _ := householdClient(t)
	m := mustOK(c.Traverse(context.Background(), connect.NewRequest(&rdgv1.TraverseRequest{
		Start: []*rdgv1.NodeRef{ref("account", "m1")},
		Steps: []*rdgv1.Step{
			{EdgeTypes: []string{"used"}},
			{Direction: rdgv1.Direction_DIRECTION_IN, EdgeTypes: []string{"used"}},
			{EdgeTypes: []string{"used"}},
		},
		Mode: rdgv1.TraverseMode_TRAVERSE_MODE_PATHS,
	})))(t)
	var got []string
	for _, p := range m.GetPaths() {
		got = append(got, pathLine(p))
	}
	equalJSON(t, "paths", got, []string{"account:m1 used device:tv used account:m2 used device:console"})
	equal(t, "nodes", len(m.GetNodes()), 0)
	p := m.GetPaths()[0]
	equal(t, "edge 1 from", p.GetEdges()[1].GetFrom().GetId(), "m2") // stored orientation
	equal(t, "node record", p.GetNodes()[3].GetProps()["platform"].GetStringValue(), "ps5")
}

func TestShortestPath(t *testing.T) {
	c, _ := householdClient(t)
	ctx := context.Background()
	both := rdgv1.Direction_DIRECTION_BOTH
	for _, tc := range []struct {
		name  string
		req   *rdgv1.ShortestPathRequest
		found bool
		want  string
	}{
		{"shared device", &rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m2"), Direction: both}, true,
			"account:m1 used device:tv used account:m2"},
		{"through what they watched", &rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m2"), Direction: both,
			EdgeTypes: []string{"has_profile", "watched"}}, true,
			"account:m1 has_profile profile:p1 watched title:t1 watched profile:p2 has_profile account:m2"},
		{"directed", &rdgv1.ShortestPathRequest{From: ref("account", "m2"), To: ref("title", "t1")}, true,
			"account:m2 has_profile profile:p2 watched title:t1"},
		{"directed, wrong way", &rdgv1.ShortestPathRequest{From: ref("title", "t1"), To: ref("account", "m2")}, false, ""},
		{"in", &rdgv1.ShortestPathRequest{From: ref("title", "t1"), To: ref("account", "m2"), Direction: rdgv1.Direction_DIRECTION_IN}, true,
			"title:t1 watched profile:p2 has_profile account:m2"},
		{"too deep", &rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m2"), Direction: both,
			EdgeTypes: []string{"has_profile", "watched"}, MaxDepth: 3}, false, ""},
		{"separate", &rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m3"), Direction: both}, false, ""},
	} {
		m := mustOK(c.ShortestPath(ctx, connect.NewRequest(tc.req)))(t)
		equal(t, tc.name+": found", m.GetFound(), tc.found)
		equal(t, tc.name+": path", pathLine(m.GetPath()), tc.want)
		equal(t, tc.name+": partial", m.GetPartial(), false)
	}
	m := mustOK(c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m2"),
		Direction: both, Limits: &rdgv1.QueryLimits{MaxVisited: 2}})))(t)
	equal(t, "visited: found", m.GetFound(), false)
	equal(t, "visited: partial", m.GetPartial(), true)
	equal(t, "visited: limit", m.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_VISITED)
}

func TestConnectedGroup(t *testing.T) {
	c, _ := householdClient(t)
	ctx := context.Background()
	m := mustOK(c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: ref("device", "phone"), EdgeTypes: []string{"used", "has_profile"}})))(t)
	got := names(m.GetNodes())
	equal(t, "first", got[0], "device:phone")
	slices.Sort(got)
	equalJSON(t, "group", got, []string{"account:m1", "account:m2", "device:console", "device:phone", "device:tablet", "device:tv", "profile:p1", "profile:p2"})
	equal(t, "size", m.GetSize(), uint32(8))
	equalJSON(t, "edges", edgeSet(m.GetEdges()), []string{
		"account:m1 -has_profile-> profile:p1",
		"account:m1 -used-> device:phone",
		"account:m1 -used-> device:tablet",
		"account:m1 -used-> device:tv",
		"account:m2 -has_profile-> profile:p2",
		"account:m2 -used-> device:console",
		"account:m2 -used-> device:tv",
	})
	equal(t, "partial", m.GetPartial(), false)

	m = mustOK(c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: ref("account", "m3")})))(t)
	equalJSON(t, "m3", names(m.GetNodes()), []string{"account:m3", "device:lonely"})

	m = mustOK(c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: ref("device", "phone"), Limit: 3})))(t)
	equal(t, "limited size", m.GetSize(), uint32(3))
	equal(t, "limited partial", m.GetPartial(), true)
	equal(t, "limited limit", m.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_RESULTS)
}

func TestStats(t *testing.T) {
	c, _ := householdClient(t)
	m := mustOK(c.Stats(context.Background(), connect.NewRequest(&rdgv1.StatsRequest{TopK: 2})))(t)
	counts := func(tcs []*rdgv1.TypeCount) []string {
		var out []string
		for _, tc := range tcs {
			out = append(out, fmt.Sprintf("%s=%d", tc.GetType(), tc.GetCount()))
		}
		return out
	}
	equalJSON(t, "node counts", counts(m.GetNodeTypes()), []string{"account=3", "device=5", "profile=2", "title=2"})
	equalJSON(t, "edge counts", counts(m.GetEdgeTypes()), []string{"has_profile=2", "used=6", "watched=3"})
	var top []string
	for _, td := range m.GetTopDegree() {
		for _, d := range td.GetNodes() {
			top = append(top, fmt.Sprintf("%s %s:%s %d=%d+%d", td.GetNodeType(), d.GetNode().GetType(), d.GetNode().GetId(), d.GetDegree(), d.GetOutDegree(), d.GetInDegree()))
		}
	}
	equalJSON(t, "top degree", top, []string{
		"account account:m1 4=4+0", "account account:m2 3=3+0",
		"device device:tv 2=0+2", "device device:console 1=0+1",
		"profile profile:p2 3=2+1", "profile profile:p1 2=1+1",
		"title title:t1 2=0+2", "title title:t2 1=0+1",
	})
	if m.GetComputedAtMs() == 0 || m.GetPartial() {
		t.Errorf("computed at %d, partial %v", m.GetComputedAtMs(), m.GetPartial())
	}
	m = mustOK(c.Stats(context.Background(), connect.NewRequest(&rdgv1.StatsRequest{NodeTypes: []string{"device"}})))(t)
	equal(t, "filtered types", len(m.GetTopDegree()), 1)
	equal(t, "default top k", len(m.GetTopDegree()[0].GetNodes()), 5)
}

// TestTTLExpiry: with a TTL per type and an injected clock, expired nodes
// and edges vanish from every call.
func TestTTLExpiry(t *testing.T) {
	var now atomic.Int64
	now.Store(5000)
	s := openHousehold(t, store.TTL(map[string]time.Duration{"device": 2 * time.Second, "watched": 3 * time.Second}),
		store.Clock(func() time.Time { return time.UnixMilli(now.Load()) }), store.SweepInterval(0))
	url := startServer(t, serve.NewHandler(s, serve.WithLimits(serve.Limits{StatsMaxAge: time.Nanosecond})))
	c := rdgv1connect.NewGraphServiceClient(http1Client(), url)
	ctx := context.Background()

	// At 5000: used edges last seen before 3000 (device TTL 2s) are gone,
	// watched edges before 2000 (3s) too; devices, last seen at 5000, stay.
	m := mustOK(c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"used"}})))(t)
	equalJSON(t, "m1 devices at 5000", neighborSummary(m.GetNeighbors()), []string{"used account:m1->device:tablet device:tablet"})
	tr := mustOK(c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("title", "t1")}, Depth: 2})))(t)
	equalJSON(t, "around t1 at 5000", levels(t, tr), [][]string{{"title:t1"}, {"profile:p2"}, {"account:m2", "title:t2"}})

	// At 7001 every device has expired, and with them every used edge.
	now.Store(7001)
	g := mustOK(c.GetNodes(ctx, connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{ref("device", "tv"), ref("account", "m1")}})))(t)
	equalJSON(t, "nodes at 7001", names(g.GetNodes()), []string{"account:m1"})
	equalJSON(t, "missing at 7001", g.GetMissing(), []*rdgv1.NodeRef{ref("device", "tv")})
	p := mustOK(c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m2"), Direction: rdgv1.Direction_DIRECTION_BOTH})))(t)
	equal(t, "path via devices at 7001", p.GetFound(), false)
	grp := mustOK(c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: ref("account", "m1")})))(t)
	equalJSON(t, "group at 7001", names(grp.GetNodes()), []string{"account:m1", "profile:p1"})
	st := mustOK(c.Stats(ctx, connect.NewRequest(&rdgv1.StatsRequest{})))(t)
	for _, tc := range st.GetNodeTypes() {
		if tc.GetType() == "device" {
			t.Errorf("stats count %d expired devices", tc.GetCount())
		}
	}
	for _, tc := range st.GetEdgeTypes() {
		if tc.GetType() == "used" || tc.GetType() == "watched" {
			t.Errorf("stats count %d expired %s edges", tc.GetCount(), tc.GetType())
		}
	}
	// Storage cleanup removes them too.
	deleted := 0
	for {
		res, err := s.Sweep(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		deleted += res.Deleted
		if res.Wrapped {
			break
		}
	}
	equal(t, "swept", deleted, 5+6+3)
}

// assertInvalid checks for InvalidArgument with a message that starts with
// field and mentions want.
func assertInvalid(t *testing.T, err error, field, want string) {
	t.Helper()
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("%s: got %v, want invalid_argument", field, err)
		return
	}
	var ce *connect.Error
	if errors.As(err, &ce) && (!strings.HasPrefix(ce.Message(), field+": ") || !strings.Contains(ce.Message(), want)) {
		t.Errorf("message %q: want %q... mentioning %q", ce.Message(), field+": ", want)
	}
}

func TestQueryInvalidArguments(t *testing.T) {
	c, _ := householdClient(t)
	ctx := context.Background()
	m1 := ref("account", "m1")
	iv := func(i int64) *rdgv1.Value { return &rdgv1.Value{Kind: &rdgv1.Value_IntValue{IntValue: i}} }
	for _, tc := range []struct {
		field, want string
		call        func() error
	}{
		{"limits.max_visited", "negative", func() error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m1, Limits: &rdgv1.QueryLimits{MaxVisited: -1}}))
			return err
		}},
		{"limits.max_results", "negative", func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Limits: &rdgv1.QueryLimits{MaxResults: -5}}))
			return err
		}},
		{"limits.max_fanout", "negative", func() error {
			_, err := c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: m1, Limits: &rdgv1.QueryLimits{MaxFanout: -1}}))
			return err
		}},
		{"limits.deadline_ms", "negative", func() error {
			_, err := c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: m1, To: m1, Limits: &rdgv1.QueryLimits{DeadlineMs: -1}}))
			return err
		}},
		{"node_types[1]", "type name", func() error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m1, NodeTypes: []string{"device", "De vice"}}))
			return err
		}},
		{"since_ms", "after until_ms", func() error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m1, SinceMs: 5, UntilMs: 4}))
			return err
		}},
		{"until_ms", "negative", func() error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: m1, UntilMs: -4}))
			return err
		}},
		{"node.id", "empty id", func() error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "")}))
			return err
		}},
		{"steps[0].node_types[0]", "type name", func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Steps: []*rdgv1.Step{{NodeTypes: []string{"X"}}}}))
			return err
		}},
		{"steps[1].node_predicates[0].field", "element fields", func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Steps: []*rdgv1.Step{{}, {
				NodePredicates: []*rdgv1.Predicate{{Field: "@bogus", Op: rdgv1.Op_OP_EQ, Value: iv(1)}}}}}))
			return err
		}},
		{"steps[0].edge_predicates[0].op", "unknown operator", func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Steps: []*rdgv1.Step{{
				EdgePredicates: []*rdgv1.Predicate{{Field: "rating", Op: 42, Value: iv(1)}}}}}))
			return err
		}},
		{"steps[0].edge_predicates[0].field", "required", func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Steps: []*rdgv1.Step{{
				EdgePredicates: []*rdgv1.Predicate{{Value: iv(1)}}}}}))
			return err
		}},
		{"steps[0].since_ms", "after until_ms", func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Steps: []*rdgv1.Step{{SinceMs: 9, UntilMs: 1}}}))
			return err
		}},
		{"mode", "unknown mode", func() error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{m1}, Mode: 7}))
			return err
		}},
		{"from.type", "type name", func() error {
			_, err := c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: ref("", "x"), To: m1}))
			return err
		}},
		{"to", "required", func() error {
			_, err := c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: m1}))
			return err
		}},
		{"max_depth", "maximum of 20", func() error {
			_, err := c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: m1, To: m1, MaxDepth: 21}))
			return err
		}},
		{"edge_types[0]", "type name", func() error {
			_, err := c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: m1, EdgeTypes: []string{"a.b"}}))
			return err
		}},
		{"node", "required", func() error {
			_, err := c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{}))
			return err
		}},
		{"top_k", "maximum of 100", func() error {
			_, err := c.Stats(ctx, connect.NewRequest(&rdgv1.StatsRequest{TopK: 101}))
			return err
		}},
		{"node_types[0]", "type name", func() error {
			_, err := c.Stats(ctx, connect.NewRequest(&rdgv1.StatsRequest{NodeTypes: []string{""}}))
			return err
		}},
	} {
		assertInvalid(t, tc.call(), tc.field, tc.want)
	}
}

// TestGuards: each limit stops (or, for fan-out, trims) a query and is
// named in the answer.
func TestGuards(t *testing.T) {
	c, _ := householdClient(t, serve.WithLimits(serve.Limits{VisitedMax: 6, FanoutMax: 1_000}))
	ctx := context.Background()
	m1 := []*rdgv1.NodeRef{ref("account", "m1")}
	tr := mustOK(c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: m1, Depth: 5})))(t)
	equal(t, "server max visited: limit", tr.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_VISITED)
	equal(t, "server max visited: visited", tr.GetVisited(), uint32(6))
	equal(t, "server max visited: truncated", tr.GetTruncated(), true)

	tr = mustOK(c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: m1, Depth: 5, Limits: &rdgv1.QueryLimits{MaxVisited: 3}})))(t)
	equal(t, "max visited: limit", tr.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_VISITED)
	equal(t, "max visited: visited", tr.GetVisited(), uint32(3))

	tr = mustOK(c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: m1, Steps: []*rdgv1.Step{{EdgeTypes: []string{"used"}}},
		Limits: &rdgv1.QueryLimits{MaxFanout: 2}})))(t)
	equal(t, "max fanout: limit", tr.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_FANOUT)
	equal(t, "max fanout: nodes", len(tr.GetNodes()), 3)

	tr = mustOK(c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: m1, Steps: []*rdgv1.Step{{EdgeTypes: []string{"used"}}},
		Limits: &rdgv1.QueryLimits{MaxResults: 2}})))(t)
	equal(t, "max results: limit", tr.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_RESULTS)
	equal(t, "max results: nodes", len(tr.GetNodes()), 2)

	tr = mustOK(c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: m1, Steps: []*rdgv1.Step{{EdgeTypes: []string{"used"}}},
		MaxEdges: 1})))(t)
	equal(t, "max edges: limit", tr.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_EDGES)

	nb := mustOK(c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1"), Limits: &rdgv1.QueryLimits{MaxFanout: 1}})))(t)
	equal(t, "neighbors fanout: limit", nb.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_FANOUT)
	equal(t, "neighbors fanout: count", len(nb.GetNeighbors()), 1)
	if nb.GetNextCursor() == "" {
		t.Error("neighbors fanout: no cursor to continue")
	}
	nb = mustOK(c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1"), Limits: &rdgv1.QueryLimits{MaxResults: 1}})))(t)
	equal(t, "neighbors max results: count", len(nb.GetNeighbors()), 1)
	equal(t, "neighbors max results: limit", nb.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_RESULTS)
}

// powerLaw applies a preferential-attachment graph: n nodes v:0..v:n-1,
// each new node linking to m earlier nodes chosen in proportion to their
// degree, so degrees follow a power law. It returns the node with the most
// edges, the hub.
func powerLaw(t testing.TB, s *store.Pebble, n, m int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	ends := make([]int32, 0, 2*n*m)
	b := &graph.Batch{}
	flush := func() {
		if err := s.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
	}
	vid := func(i int32) graph.NodeRef { return graph.NodeRef{Type: "v", ID: fmt.Sprint(i)} }
	for i := int32(1); i < int32(n); i++ {
		for range m {
			var j int32
			if len(ends) == 0 {
				j = 0
			} else {
				j = ends[rng.IntN(len(ends))]
			}
			b.Edges = append(b.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: "link", From: vid(i), To: vid(j)}, LastSeen: 1})
			ends = append(ends, i, j)
		}
		if len(b.Edges) >= 20_000 {
			flush()
		}
	}
	flush()
	deg := make([]int, n)
	for _, e := range ends {
		deg[e]++
	}
	hub := 0
	for i, d := range deg {
		if d > deg[hub] {
			hub = i
		}
	}
	return fmt.Sprint(hub)
}

// TestDeepTraverseFromHub is the guard test: a depth-50 traversal
// from the hub of a power-law graph of a few hundred thousand edges stops
// at a limit, says which, and answers within its deadline.
func TestDeepTraverseFromHub(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 300,000-edge graph")
	}
	s, err := store.Open(t.TempDir(), store.Sync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	start := time.Now()
	hubID := powerLaw(t, s, 100_000, 3, 1)
	t.Logf("300k-edge power-law graph stored in %s", time.Since(start).Round(time.Millisecond))
	url := startServer(t, serve.NewHandler(s))
	c := rdgv1connect.NewGraphServiceClient(http1Client(), url)
	ctx := context.Background()
	hub := []*rdgv1.NodeRef{ref("v", hubID)}
	both := []*rdgv1.Step{{Direction: rdgv1.Direction_DIRECTION_BOTH}}

	for _, tc := range []struct {
		name     string
		req      *rdgv1.TraverseRequest
		want     rdgv1.Limit
		deadline time.Duration
	}{
		{"server defaults", &rdgv1.TraverseRequest{Start: hub, Steps: both, Depth: 50}, rdgv1.Limit_LIMIT_MAX_RESULTS, 10 * time.Second},
		{"deadline", &rdgv1.TraverseRequest{Start: hub, Steps: both, Depth: 50, MaxNodes: 100_000, MaxEdges: 1_000_000,
			Limits: &rdgv1.QueryLimits{MaxVisited: 1_000_000, DeadlineMs: 150}}, rdgv1.Limit_LIMIT_DEADLINE, 150 * time.Millisecond},
		{"visited", &rdgv1.TraverseRequest{Start: hub, Steps: both, Depth: 50, MaxNodes: 100_000, MaxEdges: 1_000_000,
			Limits: &rdgv1.QueryLimits{MaxVisited: 20_000}}, rdgv1.Limit_LIMIT_MAX_VISITED, 10 * time.Second},
		{"paths", &rdgv1.TraverseRequest{Start: hub, Steps: both, Depth: 50, Mode: rdgv1.TraverseMode_TRAVERSE_MODE_PATHS,
			Limits: &rdgv1.QueryLimits{DeadlineMs: 100}}, rdgv1.Limit_LIMIT_MAX_VISITED, 100 * time.Millisecond},
	} {
		t0 := time.Now()
		m := mustOK(c.Traverse(ctx, connect.NewRequest(tc.req)))(t)
		took := time.Since(t0)
		t.Logf("%s: %s, %d nodes, %d edges, %d visited, %s", tc.name, m.GetLimitHit(), len(m.GetNodes()), len(m.GetEdges()), m.GetVisited(), took.Round(time.Millisecond))
		equal(t, tc.name+": partial", m.GetPartial(), true)
		if tc.name != "paths" {
			equal(t, tc.name+": limit", m.GetLimitHit(), tc.want)
		} else if l := m.GetLimitHit(); l != rdgv1.Limit_LIMIT_MAX_VISITED && l != rdgv1.Limit_LIMIT_DEADLINE {
			t.Errorf("paths: limit %s", l)
		}
		// The answer comes within the deadline plus the time to encode and
		// send it (generous: a shared machine).
		if took > tc.deadline+750*time.Millisecond {
			t.Errorf("%s: took %s, deadline %s", tc.name, took, tc.deadline)
		}
	}
	// The hub's fan-out.
	m := mustOK(c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: hub, Steps: both, Limits: &rdgv1.QueryLimits{MaxFanout: 100}})))(t)
	equal(t, "fanout: limit", m.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_FANOUT)
	// 100 edges examined; fewer distinct neighbours if some repeat.
	if n := len(m.GetNodes()); n > 101 || n < 90 {
		t.Errorf("fanout: %d nodes, want at most 101", n)
	}
	// Shortest path and group on the same graph stay within their limits.
	p := mustOK(c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: ref("v", "99999"), To: ref("v", "99998"),
		Direction: rdgv1.Direction_DIRECTION_BOTH, MaxDepth: 10})))(t)
	if !p.GetFound() {
		t.Errorf("no path between two leaves: %+v", p)
	}
	g := mustOK(c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: ref("v", hubID)})))(t)
	equal(t, "group: limit", g.GetLimitHit(), rdgv1.Limit_LIMIT_MAX_RESULTS)
	equal(t, "group: size", g.GetSize(), uint32(1000))
}
