package graph

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// memGraph is an in-memory Reader with the store's ordering (edge type, far
// type, far id). (The reference store, internal/memstore,
// imports this package, so its tests cannot use it.)
type memGraph struct {
	nodes map[NodeRef]Node
	edges []Edge
	reads int
}

func newMem() *memGraph { return &memGraph{nodes: map[NodeRef]Node{}} }

func (m *memGraph) node(s string, lastSeen int64, props Props) {
	r := mustRef(s)
	m.nodes[r] = Node{NodeRef: r, Props: props, FirstSeen: lastSeen, LastSeen: lastSeen}
}

func (m *memGraph) edge(typ, from, to string, lastSeen int64, props Props) {
	m.edges = append(m.edges, Edge{EdgeRef: EdgeRef{Type: typ, From: mustRef(from), To: mustRef(to)}, Props: props, FirstSeen: lastSeen, LastSeen: lastSeen})
}

func mustRef(s string) NodeRef {
	r, err := ParseNodeRef(s)
	if err != nil {
		panic(err)
	}
	return r
}

func (m *memGraph) Node(ctx context.Context, ref NodeRef) (Node, bool, error) {
	m.reads++
	n, ok := m.nodes[ref]
	return n, ok, ctx.Err()
}

func (m *memGraph) Edges(ctx context.Context, ref NodeRef, dir Direction, edgeType string, fn func(*Edge) bool) error {
	var es []Edge
	for _, e := range m.edges {
		if edgeType != "" && e.Type != edgeType {
			continue
		}
		if dir == Out && e.From == ref || dir == In && e.To == ref {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b Edge) int { return EdgeOrder(a.EdgeRef, b.EdgeRef, dir) })
	for i := range es {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Props of its own, as a Session must give.
		if c := cloneEdge(&es[i]); !fn(&c) {
			return nil
		}
	}
	return nil
}

// ReadSession opens a session that counts nothing (sessionMem's counts).
func (m *memGraph) ReadSession(context.Context) (Session, error) {
	return &memSession{sessionMem: &sessionMem{memGraph: m}}, nil
}

func (m *memGraph) EdgesAfter(ctx context.Context, ref NodeRef, dir Direction, edgeType string, after EdgeRef, fn func(*Edge) bool) error {
	return m.Edges(ctx, ref, dir, edgeType, func(e *Edge) bool {
		return EdgeOrder(e.EdgeRef, after, dir) <= 0 || fn(e)
	})
}

func (m *memGraph) EdgeRefs(ctx context.Context, ref NodeRef, dir Direction, edgeType string, fn func(*EdgeRef) bool) error {
	return m.Edges(ctx, ref, dir, edgeType, func(e *Edge) bool {
		r := e.EdgeRef
		return fn(&r)
	})
}

func (m *memGraph) Edge(ctx context.Context, ref EdgeRef) (Edge, bool, error) {
	for _, e := range m.edges {
		if e.EdgeRef == ref {
			return cloneEdge(&e), true, ctx.Err()
		}
	}
	return Edge{}, false, ctx.Err()
}

// Stats counts every element (memGraph has no TTL) and each node's edges.
func (m *memGraph) Stats(ctx context.Context, topK int) (*Stats, error) {
	st := &Stats{Nodes: map[string]int64{}, Edges: map[string]int64{}, TopDegree: map[string][]NodeDegree{}}
	for r := range m.nodes {
		st.Nodes[r.Type]++
	}
	deg := map[NodeRef]*NodeDegree{}
	at := func(r NodeRef) *NodeDegree {
		if deg[r] == nil {
			deg[r] = &NodeDegree{Node: r}
		}
		return deg[r]
	}
	for _, e := range m.edges {
		st.Edges[e.Type]++
		at(e.From).Out++
		at(e.To).In++
	}
	tops := map[string]*TopK{}
	for r, d := range deg {
		if tops[r.Type] == nil {
			tops[r.Type] = NewTopK(topK)
		}
		tops[r.Type].Offer(*d)
	}
	for t, top := range tops {
		st.TopDegree[t] = top.Sorted()
	}
	return st, ctx.Err()
}

// seed: the member scenario.
//
//	account:a1 -used-> device:phone (t=100), device:tv (t=200), device:tab (t=300)
//	account:a2 -used-> device:tv (t=250)
//	account:a1 -has_profile-> profile:p1
//	profile:p1 -watched-> title:t1 (rating 4.5), title:t2 (rating 2)
func seedMem() *memGraph {
	m := newMem()
	m.node("account:a1", 10, Props{"country": {Value: "NL"}})
	m.node("account:a2", 10, Props{"country": {Value: "US"}})
	m.node("device:phone", 100, Props{"platform": {Value: "ios"}})
	m.node("device:tv", 250, Props{"platform": {Value: "tizen"}})
	m.node("device:tab", 300, Props{"platform": {Value: "android"}})
	m.node("profile:p1", 10, nil)
	m.node("title:t1", 10, Props{"year": {Value: int64(2017)}})
	m.node("title:t2", 10, Props{"year": {Value: int64(2020)}})
	m.edge("used", "account:a1", "device:phone", 100, nil)
	m.edge("used", "account:a1", "device:tv", 200, nil)
	m.edge("used", "account:a1", "device:tab", 300, nil)
	m.edge("used", "account:a2", "device:tv", 250, nil)
	m.edge("has_profile", "account:a1", "profile:p1", 10, nil)
	m.edge("watched", "profile:p1", "title:t1", 10, Props{"rating": {Value: 4.5}})
	m.edge("watched", "profile:p1", "title:t2", 10, Props{"rating": {Value: int64(2)}})
	return m
}

func refs(ns []Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.NodeRef.String())
	}
	return out
}

func TestPredicates(t *testing.T) {
	n := &Node{NodeRef: NodeRef{"device", "tv"}, LastSeen: 250, Props: Props{
		"platform": {Value: "tizen"}, "screens": {Value: int64(2)}, "size": {Value: 55.5},
		"hdr": {Value: true}, "owner": {Value: nil}, "nan": {Value: math.NaN()},
	}}
	for _, tc := range []struct {
		p    Predicate
		want bool
	}{
		{Predicate{"platform", OpEq, "tizen"}, true},
		{Predicate{"platform", OpNe, "tizen"}, false},
		{Predicate{"platform", OpLt, "zzz"}, true},
		{Predicate{"platform", OpEq, int64(1)}, false}, // kinds differ
		{Predicate{"platform", OpNe, int64(1)}, true},
		{Predicate{"platform", OpLt, int64(1)}, false},
		{Predicate{"screens", OpEq, 2.0}, true}, // int vs float: numbers
		{Predicate{"screens", OpGe, int64(2)}, true},
		{Predicate{"screens", OpGt, int64(2)}, false},
		{Predicate{"size", OpGt, int64(55)}, true},
		{Predicate{"size", OpLe, 55.5}, true},
		{Predicate{"hdr", OpEq, true}, true},
		{Predicate{"hdr", OpGt, false}, true},
		{Predicate{"owner", OpEq, nil}, true},
		{Predicate{"owner", OpNe, "x"}, true},
		{Predicate{"missing", OpEq, "x"}, false},
		{Predicate{"missing", OpNe, "x"}, false}, // missing fails every op
		{Predicate{"nan", OpEq, math.NaN()}, false},
		{Predicate{"nan", OpNe, 1.0}, true},
		{Predicate{FieldID, OpEq, "tv"}, true},
		{Predicate{FieldType, OpEq, "device"}, true},
		{Predicate{FieldLastSeen, OpGe, int64(250)}, true},
		{Predicate{FieldLastSeen, OpGt, int64(250)}, false},
		{Predicate{FieldFirstSeen, OpEq, int64(0)}, true},
	} {
		if got := tc.p.MatchNode(n); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.p, got, tc.want)
		}
	}
	e := &Edge{EdgeRef: EdgeRef{"used", NodeRef{"account", "a"}, NodeRef{"device", "b"}}, LastSeen: 7}
	if p := (Predicate{FieldID, OpEq, "account:a->device:b"}); !p.MatchEdge(e) {
		t.Error("edge @id")
	}
	for _, p := range []Predicate{{"", OpEq, 1}, {"@nope", OpEq, 1}, {"x", 0, 1}, {"x", OpEq, []int{1}}} {
		if p.Validate() == nil {
			t.Errorf("%+v: valid", p)
		}
	}
	if err := (Predicate{"x", OpEq, 3}).Validate(); err != nil {
		t.Error(err) // int normalizes
	}
	for _, s := range []string{"=", "==", "!=", "<", "<=", ">", ">="} {
		if _, err := ParseOp(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseOp("~"); err == nil {
		t.Error("ParseOp(~)")
	}
}

func TestTraverseGuards(t *testing.T) {
	m := seedMem()
	start := []NodeRef{mustRef("account:a1")}
	ctx := context.Background()
	sg, err := Traverse(ctx, m, TraverseRequest{Start: start, Depth: 5, Limits: Limits{MaxVisited: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if !sg.Partial || sg.LimitHit != LimitVisited || sg.Visited != 4 {
		t.Errorf("visited: %+v", sg.Outcome)
	}
	sg, err = Traverse(ctx, m, TraverseRequest{Start: start, Depth: 1, Steps: []Step{{Direction: Out}}, Limits: Limits{MaxFanout: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if !sg.Partial || sg.LimitHit != LimitFanout || len(sg.Nodes) != 3 {
		t.Errorf("fanout: %+v %v", sg.Outcome, refs(sg.Nodes))
	}
	sg, err = Traverse(ctx, m, TraverseRequest{Start: start, Depth: 5, Limits: Limits{Deadline: time.Now().Add(-time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	if !sg.Partial || sg.LimitHit != LimitDeadline {
		t.Errorf("deadline: %+v", sg.Outcome)
	}
	sg, err = Traverse(ctx, m, TraverseRequest{Start: start, Depth: 5, MaxEdges: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !sg.Partial || sg.LimitHit != LimitEdges || len(sg.Edges) != 2 {
		t.Errorf("edges: %+v", sg.Outcome)
	}
	// Exactly as many nodes as the limit is complete.
	sg, err = Traverse(ctx, m, TraverseRequest{Start: start, Depth: 1, Steps: []Step{{Direction: Out, EdgeTypes: []string{"used"}}}, MaxNodes: 4})
	if err != nil || sg.Partial {
		t.Errorf("max nodes = reachable: %v %+v", err, sg.Outcome)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Traverse(cctx, m, TraverseRequest{Start: start}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	dctx, cancel := context.WithTimeout(ctx, -time.Second)
	defer cancel()
	sg, err = Traverse(dctx, m, TraverseRequest{Start: start})
	if err != nil || sg.LimitHit != LimitDeadline {
		t.Errorf("ctx deadline: %v %+v", err, sg)
	}
}

func TestListNeighborsPaging(t *testing.T) {
	m := seedMem()
	ctx := context.Background()
	a1 := mustRef("account:a1")
	var all []string
	var c *Cursor
	pages := 0
	for {
		res, err := ListNeighbors(ctx, m, NeighborsRequest{Node: a1, Direction: Both, Limit: 1, After: c})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range res.Edges {
			all = append(all, e.EdgeRef.String())
		}
		if res.Next == nil {
			if res.Partial {
				t.Error("last page partial")
			}
			break
		}
		if !res.Partial || res.LimitHit != LimitResults {
			t.Errorf("page %d: %+v", pages, res.Outcome)
		}
		c = res.Next
	}
	want := []string{
		"account:a1 -has_profile-> profile:p1",
		"account:a1 -used-> device:phone",
		"account:a1 -used-> device:tab",
		"account:a1 -used-> device:tv",
	}
	if !slices.Equal(all, want) || pages != 4 {
		t.Errorf("%d pages: %v", pages, all)
	}
	// Filters with a visit limit: the cursor resumes after the last edge
	// examined, so nothing is skipped.
	req := NeighborsRequest{Node: a1, Direction: Out, EdgeTypes: []string{"used"}, Filter: Filter{NodeTypes: []string{"device"}, Since: 150}, Limits: Limits{MaxVisited: 1}}
	var got []string
	for range 10 {
		res, err := ListNeighbors(ctx, m, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Edges {
			got = append(got, e.To.ID)
		}
		if res.Next == nil {
			break
		}
		if res.LimitHit != LimitVisited {
			t.Errorf("limit %v", res.LimitHit)
		}
		req.After = res.Next
	}
	if !slices.Equal(got, []string{"tab", "tv"}) {
		t.Errorf("filtered pages: %v", got)
	}
}

func TestShortestPathMatchesBFS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMem()
	const n = 60
	for i := range 150 {
		a, b := rng.IntN(n), rng.IntN(n)
		m.edge([]string{"x", "y"}[i%2], fmt.Sprintf("v:%d", a), fmt.Sprintf("v:%d", b), 1, nil)
	}
	ctx := context.Background()
	for _, dir := range []Direction{Out, In, Both} {
		for range 40 {
			from, to := mustRef(fmt.Sprintf("v:%d", rng.IntN(n))), mustRef(fmt.Sprintf("v:%d", rng.IntN(n)))
			want := bfsDistance(ctx, m, from, to, dir)
			res, err := ShortestPath(ctx, m, PathRequest{From: from, To: to, Direction: dir, MaxDepth: 20})
			if err != nil {
				t.Fatal(err)
			}
			if res.Partial {
				t.Fatalf("partial %+v", res.Outcome)
			}
			if want < 0 {
				if res.Found {
					t.Errorf("%s->%s %s: found %v, BFS says none", from, to, dir, refs(res.Path.Nodes))
				}
				continue
			}
			if !res.Found || len(res.Path.Edges) != want {
				t.Errorf("%s->%s %s: found=%v len %d, want %d", from, to, dir, res.Found, len(res.Path.Edges), want)
				continue
			}
			checkPath(t, res.Path, from, to, dir)
		}
	}
}

func bfsDistance(ctx context.Context, r Reader, from, to NodeRef, dir Direction) int {
	dist := map[NodeRef]int{from: 0}
	q := []NodeRef{from}
	for len(q) > 0 {
		u := q[0]
		q = q[1:]
		if u == to {
			return dist[u]
		}
		_ = EachEdge(ctx, r, u, dir, nil, func(_ *Edge, far NodeRef) bool {
			if _, ok := dist[far]; !ok {
				dist[far] = dist[u] + 1
				q = append(q, far)
			}
			return true
		})
	}
	return -1
}

func checkPath(t *testing.T, p Path, from, to NodeRef, dir Direction) {
	t.Helper()
	if len(p.Nodes) != len(p.Edges)+1 || p.Nodes[0].NodeRef != from || p.Nodes[len(p.Nodes)-1].NodeRef != to {
		t.Fatalf("path ends: %v", refs(p.Nodes))
	}
	for i, e := range p.Edges {
		a, b := p.Nodes[i].NodeRef, p.Nodes[i+1].NodeRef
		ok := false
		switch dir {
		case Out:
			ok = e.From == a && e.To == b
		case In:
			ok = e.To == a && e.From == b
		case Both:
			ok = e.From == a && e.To == b || e.To == a && e.From == b
		}
		if !ok {
			t.Errorf("edge %d %s does not join %s and %s going %s", i, e.EdgeRef, a, b, dir)
		}
	}
}

func TestTopK(t *testing.T) {
	k := NewTopK(3)
	for i, d := range []int64{5, 1, 9, 5, 7, 2, 9} {
		k.Offer(NodeDegree{Node: NodeRef{"d", fmt.Sprint(i)}, Out: d})
	}
	var got []string
	for _, d := range k.Sorted() {
		got = append(got, fmt.Sprintf("%s=%d", d.Node.ID, d.Degree()))
	}
	if want := []string{"2=9", "6=9", "4=7"}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if k.Accepts(6) || !k.Accepts(7) {
		t.Error("Accepts")
	}
}

func TestTTLCutoffs(t *testing.T) {
	ttl := TTL{"device": time.Hour, "watched": 2 * time.Hour}
	if err := ttl.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(10 * 3600_000)
	c := ttl.Cutoffs(now)
	if got := c.Node("device"); got != 9*3600_000 {
		t.Errorf("device %d", got)
	}
	if c.Node("account") != NoExpiry || c.Edge("used", "account", "title") != NoExpiry {
		t.Error("types without TTL expire")
	}
	// An edge takes the smallest TTL of its type and its ends.
	if got := c.Edge("watched", "profile", "device"); got != 9*3600_000 {
		t.Errorf("edge cutoff %d", got)
	}
	if (TTL{"Bad": time.Hour}).Validate() == nil || (TTL{"a": 0}).Validate() == nil {
		t.Error("invalid TTL accepted")
	}
	if !(TTL{}).Cutoffs(now).Empty() {
		t.Error("empty TTL has cutoffs")
	}
}

// TestReplyPerVisit: the deadline comes earlier the more a query has
// visited, so a large answer stops where a small one would go on.
func TestReplyPerVisit(t *testing.T) {
	m := newMem()
	for i := range 200 {
		m.edge("link", "hub:h", fmt.Sprintf("leaf:l%03d", i), 1, nil)
	}
	ctx := context.Background()
	start := []NodeRef{mustRef("hub:h")}
	deadline := time.Now().Add(time.Hour)
	sg, err := Traverse(ctx, m, TraverseRequest{Start: start, Limits: Limits{Deadline: deadline}})
	if err != nil || sg.Partial || len(sg.Nodes) != 201 {
		t.Fatalf("an hour ahead: %v %+v, %d nodes", err, sg.Outcome, len(sg.Nodes))
	}
	// A minute per visit: the hour is used up by the 60th visit, and the
	// clock is looked at every 32.
	sg, err = Traverse(ctx, m, TraverseRequest{Start: start, Limits: Limits{Deadline: deadline, ReplyPerVisit: time.Minute}})
	if err != nil || !sg.Partial || sg.LimitHit != LimitDeadline || sg.Visited > 96 {
		t.Errorf("a minute per visit: %v %+v", err, sg.Outcome)
	}
}
