package graph

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// sessionMem serves memGraph through sessions that list edges without
// their values, as the Pebble store does, and counts what the queries open,
// close and read.
type sessionMem struct {
	*memGraph
	opened, closed int
	edgeReads      int
}

func (s *sessionMem) ReadSession(context.Context) (Session, error) {
	s.opened++
	return &memSession{sessionMem: s}, nil
}

type memSession struct {
	*sessionMem
	done bool
}

func (m *memSession) Close() error {
	if !m.done {
		m.done = true
		m.closed++
	}
	return nil
}

// Edges hands out props the callback may keep, as a Session must: a copy.
func (m *memSession) Edges(ctx context.Context, ref NodeRef, dir Direction, edgeType string, fn func(*Edge) bool) error {
	return m.memGraph.Edges(ctx, ref, dir, edgeType, func(e *Edge) bool {
		c := cloneEdge(e)
		return fn(&c)
	})
}

func (m *memSession) Edge(ctx context.Context, ref EdgeRef) (Edge, bool, error) {
	m.edgeReads++
	return m.memGraph.Edge(ctx, ref)
}

func TestQueriesThroughSessions(t *testing.T) {
	ctx := context.Background()
	plain := seedMem()
	s := &sessionMem{memGraph: seedMem()}
	start := mustRef("device:phone")

	a, err := Traverse(ctx, plain, TraverseRequest{Start: []NodeRef{start}, Depth: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Traverse(ctx, s, TraverseRequest{Start: []NodeRef{start}, Depth: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("traverse through a session:\n%+v\nwant\n%+v", b, a)
	}

	na, err := ListNeighbors(ctx, plain, NeighborsRequest{Node: mustRef("account:a1"), Direction: Both})
	if err != nil {
		t.Fatal(err)
	}
	nb, err := ListNeighbors(ctx, s, NeighborsRequest{Node: mustRef("account:a1"), Direction: Both})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(na, nb) {
		t.Errorf("neighbors through a session:\n%+v\nwant\n%+v", nb, na)
	}

	ga, err := ConnectedGroup(ctx, plain, GroupRequest{Node: mustRef("device:tv")})
	if err != nil {
		t.Fatal(err)
	}
	gb, err := ConnectedGroup(ctx, s, GroupRequest{Node: mustRef("device:tv")})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ga, gb) {
		t.Errorf("group through a session:\n%+v\nwant\n%+v", gb, ga)
	}

	// The path search lists edge refs only and reads the path's edges once
	// it has found them: the same path, with the edges' values.
	pa, err := ShortestPath(ctx, plain, PathRequest{From: start, To: mustRef("title:t1"), Direction: Both, MaxDepth: 6})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := ShortestPath(ctx, s, PathRequest{From: start, To: mustRef("title:t1"), Direction: Both, MaxDepth: 6})
	if err != nil {
		t.Fatal(err)
	}
	if !pb.Found || !reflect.DeepEqual(pa, pb) {
		t.Errorf("path through a session:\n%+v\nwant\n%+v", pb, pa)
	}
	if last := pb.Path.Edges[len(pb.Path.Edges)-1]; last.Props["rating"].Value != 4.5 {
		t.Errorf("path edge without its value: %+v", last)
	}
	if s.edgeReads != len(pb.Path.Edges) {
		t.Errorf("read %d edges for a path of %d", s.edgeReads, len(pb.Path.Edges))
	}
	if s.opened != 4 || s.closed != 4 {
		t.Errorf("sessions opened %d, closed %d, want 4 and 4", s.opened, s.closed)
	}
}

func TestShortestPathRefsMatchesBFS(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := newMem()
	const n = 60
	for i := range 150 {
		a, b := rng.IntN(n), rng.IntN(n)
		m.edge([]string{"x", "y"}[i%2], fmt.Sprintf("v:%d", a), fmt.Sprintf("v:%d", b), 1, Props{"i": {Value: int64(i)}})
	}
	s := &sessionMem{memGraph: m}
	ctx := context.Background()
	for _, dir := range []Direction{Out, In, Both} {
		for range 40 {
			from, to := mustRef(fmt.Sprintf("v:%d", rng.IntN(n))), mustRef(fmt.Sprintf("v:%d", rng.IntN(n)))
			want := bfsDistance(ctx, m, from, to, dir)
			res, err := ShortestPath(ctx, s, PathRequest{From: from, To: to, Direction: dir, MaxDepth: 20})
			if err != nil {
				t.Fatal(err)
			}
			if res.Partial || res.Found != (want >= 0) || res.Found && len(res.Path.Edges) != want {
				t.Fatalf("%s->%s %s: found=%v len %d partial %v, want %d", from, to, dir, res.Found, len(res.Path.Edges), res.Partial, want)
			}
			if !res.Found {
				continue
			}
			checkPath(t, res.Path, from, to, dir)
			for _, e := range res.Path.Edges {
				i := slices.IndexFunc(m.edges, func(x Edge) bool { return x.EdgeRef == e.EdgeRef })
				if i < 0 || !reflect.DeepEqual(e, m.edges[i]) {
					t.Fatalf("path edge %+v is not the stored one", e)
				}
			}
		}
	}
}

// TestTraverseEdgesOnce: a subgraph holds every edge between an expanded
// node and a reached one exactly once, self-loops and edges seen from both
// ends included.
func TestTraverseEdgesOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := newMem()
	const n = 40
	for i := range 120 {
		a, b := rng.IntN(n), rng.IntN(n)
		if i%10 == 0 {
			b = a
		}
		m.edge([]string{"x", "y"}[i%2], fmt.Sprintf("v:%d", a), fmt.Sprintf("v:%d", b), 1, nil)
	}
	ctx := context.Background()
	for _, r := range []Reader{m, &sessionMem{memGraph: m}} {
		for _, dir := range []Direction{Out, In, Both} {
			for start := range 10 {
				sg, err := Traverse(ctx, r, TraverseRequest{Start: []NodeRef{mustRef(fmt.Sprintf("v:%d", start))}, Depth: 2, Steps: []Step{{Direction: dir}}})
				if err != nil || sg.Partial {
					t.Fatal(err, sg.Outcome)
				}
				depth := map[NodeRef]int{}
				for i, nd := range sg.Nodes {
					depth[nd.NodeRef] = sg.Depths[i]
				}
				want := map[EdgeRef]bool{}
				for _, e := range m.edges {
					df, okf := depth[e.From]
					dt, okt := depth[e.To]
					if okf && okt && (dir != In && df < 2 || dir != Out && dt < 2) {
						want[e.EdgeRef] = true
					}
				}
				got := map[EdgeRef]bool{}
				for _, e := range sg.Edges {
					if got[e.EdgeRef] {
						t.Fatalf("%s from v:%d: edge %s twice", dir, start, e.EdgeRef)
					}
					got[e.EdgeRef] = true
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s from v:%d: edges %v, want %v", dir, start, got, want)
				}
			}
		}
	}
}
