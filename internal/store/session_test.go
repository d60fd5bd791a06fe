package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
)

// TestSessionReadsAsPebble: every read of a session returns what the same
// read on the store returns, for random graphs, in both directions, with
// and without edge types and paging positions.
func TestSessionReadsAsPebble(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	ups := randUpdates(r, 400)
	wantNodes, wantEdges := reference(ups)
	p := openT(t, t.TempDir())
	apply(t, p, batchOf(ups))
	compact(t, p)

	gs, err := p.ReadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	s := gs.(*Session)
	ends := map[graph.NodeRef]bool{}
	for er := range wantEdges {
		ends[er.From], ends[er.To] = true, true
	}
	for ref := range wantNodes {
		ends[ref] = true
	}
	list := func(read func(fn func(*graph.Edge) bool) error) []graph.Edge {
		t.Helper()
		var out []graph.Edge
		if err := read(func(e *graph.Edge) bool { out = append(out, *e); return true }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for end := range ends {
		n1, ok1, err1 := p.Node(ctx, end)
		n2, ok2, err2 := s.Node(ctx, end)
		if err1 != nil || err2 != nil || ok1 != ok2 || !reflect.DeepEqual(n1, n2) {
			t.Fatalf("node %s: session %+v %v %v, store %+v %v %v", end, n2, ok2, err2, n1, ok1, err1)
		}
		for _, dir := range []graph.Direction{graph.Out, graph.In} {
			for _, typ := range []string{"", "uses", "used"} {
				want := list(func(fn func(*graph.Edge) bool) error { return p.Edges(ctx, end, dir, typ, fn) })
				got := list(func(fn func(*graph.Edge) bool) error { return s.Edges(ctx, end, dir, typ, fn) })
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("edges of %s %s %q: session %+v, store %+v", end, dir, typ, got, want)
				}
				var refs []graph.EdgeRef
				if err := s.EdgeRefs(ctx, end, dir, typ, func(e *graph.EdgeRef) bool { refs = append(refs, *e); return true }); err != nil {
					t.Fatal(err)
				}
				if len(refs) != len(want) {
					t.Fatalf("edge refs of %s %s %q: %d, want %d", end, dir, typ, len(refs), len(want))
				}
				for i, e := range want {
					if refs[i] != e.EdgeRef {
						t.Fatalf("edge ref %d of %s %s %q: %s, want %s", i, end, dir, typ, refs[i], e.EdgeRef)
					}
					one, ok, err := s.Edge(ctx, e.EdgeRef)
					if err != nil || !ok || !reflect.DeepEqual(one, e) || !reflect.DeepEqual(one, wantEdges[e.EdgeRef]) {
						t.Fatalf("edge %s: %+v %v %v, want %+v", e.EdgeRef, one, ok, err, e)
					}
					if typ == "" {
						continue
					}
					after := list(func(fn func(*graph.Edge) bool) error { return s.EdgesAfter(ctx, end, dir, typ, e.EdgeRef, fn) })
					if !reflect.DeepEqual(after, want[i+1:]) && !(len(after) == 0 && len(want[i+1:]) == 0) {
						t.Fatalf("edges of %s %s %q after %s: %+v, want %+v", end, dir, typ, e.EdgeRef, after, want[i+1:])
					}
				}
			}
		}
	}
	if _, ok, err := s.Edge(ctx, graph.EdgeRef{Type: "uses", From: ref("t:nobody"), To: ref("t:nothing")}); ok || err != nil {
		t.Errorf("missing edge: %v %v", ok, err)
	}
}

// TestSessionSnapshot: a session sees the store as it was when it opened,
// whatever is written while it reads, including inside its callbacks, and
// reads nested in a range read's callback use iterators of their own.
func TestSessionSnapshot(t *testing.T) {
	ctx := context.Background()
	p := openT(t, t.TempDir())
	a, b, c := ref("account:a"), ref("device:b"), ref("device:c")
	apply(t, p, &graph.Batch{
		Nodes: []graph.Node{{NodeRef: a, Props: graph.Props{"v": {Value: int64(1), TS: 1}}}},
		Edges: []graph.Edge{{EdgeRef: graph.EdgeRef{Type: "used", From: a, To: b}}},
	})
	gs, err := p.ReadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	apply(t, p, &graph.Batch{
		Nodes: []graph.Node{{NodeRef: a, Props: graph.Props{"v": {Value: int64(2), TS: 2}}}},
		Edges: []graph.Edge{{EdgeRef: graph.EdgeRef{Type: "used", From: a, To: c}}},
	})
	var got []string
	err = gs.Edges(ctx, a, graph.Out, "", func(e *graph.Edge) bool {
		got = append(got, e.To.ID)
		// A nested range read over the same keys, and a write, mid-listing.
		apply(t, p, &graph.Batch{Edges: []graph.Edge{{EdgeRef: graph.EdgeRef{Type: "used", From: a, To: ref("device:d")}}}})
		n := 0
		if err := gs.Edges(ctx, e.To, graph.In, "", func(*graph.Edge) bool { n++; return true }); err != nil || n != 1 {
			t.Errorf("nested in-edges of %s: %d, %v", e.To, n, err)
		}
		return true
	})
	if err != nil || strings.Join(got, " ") != "b" {
		t.Errorf("session listing: %v %v, want the edge to b only", got, err)
	}
	if n, _, _ := gs.Node(ctx, a); n.Props["v"].Value != int64(1) {
		t.Errorf("session node: %+v, want the value before the session's writes", n)
	}
	if n, _, _ := p.Node(ctx, a); n.Props["v"].Value != int64(2) {
		t.Errorf("store node: %+v, want the latest value", n)
	}
	gs2, err := p.ReadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gs2.Close()
	got = got[:0]
	_ = gs2.Edges(ctx, a, graph.Out, "", func(e *graph.Edge) bool { got = append(got, e.To.ID); return true })
	if strings.Join(got, " ") != "b c d" {
		t.Errorf("a later session: %v", got)
	}
}

// TestSessionProps: props handed to a callback are the callback's to
// keep; interned names and values are equal to decoded ones.
func TestSessionProps(t *testing.T) {
	ctx := context.Background()
	p := openT(t, t.TempDir())
	a := ref("account:a")
	long := strings.Repeat("x", maxInternedValue+1)
	var b graph.Batch
	for i, v := range []any{"NL", "NL", long, int64(300), 2.5, true, nil} {
		b.Edges = append(b.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: "used", From: a, To: graph.NodeRef{Type: "device", ID: string(rune('a' + i))}},
			Props: graph.Props{"p": {Value: v, TS: 1}, "q": {Value: "same", TS: 1}}})
	}
	apply(t, p, &b)
	gs, err := p.ReadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	var kept []graph.Edge
	err = gs.Edges(ctx, a, graph.Out, "", func(e *graph.Edge) bool {
		kept = append(kept, *e)
		return true
	})
	if err != nil || len(kept) != len(b.Edges) {
		t.Fatalf("listed %d edges, %v", len(kept), err)
	}
	for i := range kept {
		if !reflect.DeepEqual(kept[i].Props, b.Edges[i].Props) {
			t.Errorf("edge %d props %v, want %v", i, kept[i].Props, b.Edges[i].Props)
		}
	}
	kept[0].Props["p"] = graph.Prop{Value: "changed"}
	if kept[1].Props["p"].Value != "NL" {
		t.Error("two edges share a props map")
	}
}

func TestSessionAfterClose(t *testing.T) {
	ctx := context.Background()
	p, err := Open(t.TempDir(), Sync(false))
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.ReadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReadSession(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("session of a closed store: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	p2 := openT(t, t.TempDir())
	if _, err := p2.ReadSession(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("session with a canceled context: %v", err)
	}
}

// TestEdgeRefsHonourTTL: listing without values still hides expired
// edges, in both directions, and Edge does too.
func TestEdgeRefsHonourTTL(t *testing.T) {
	clk := &fakeClock{}
	p := openTTL(t, map[string]time.Duration{"device": time.Hour}, clk)
	ctx := context.Background()
	apply(t, p, &graph.Batch{Edges: []graph.Edge{
		edgeAt("account:a", "used", "device:old", 0),
		edgeAt("account:a", "used", "device:new", 100*time.Minute),
		edgeAt("account:a", "watched", "title:t", 0),
	}})
	clk.set(61 * time.Minute)
	refs := func(r string, dir graph.Direction) string {
		var out []string
		err := p.EdgeRefs(ctx, ref(r), dir, "", func(e *graph.EdgeRef) bool { out = append(out, e.String()); return true })
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return strings.Join(out, ", ")
	}
	if got, want := refs("account:a", graph.Out), "account:a -used-> device:new, account:a -watched-> title:t"; got != want {
		t.Errorf("out: %s, want %s", got, want)
	}
	if got := refs("device:old", graph.In); got != "" {
		t.Errorf("in to an expired edge's end: %s", got)
	}
	if got, want := refs("device:new", graph.In), "account:a -used-> device:new"; got != want {
		t.Errorf("in: %s, want %s", got, want)
	}
	if _, ok, err := p.Edge(ctx, edgeAt("account:a", "used", "device:old", 0).EdgeRef); ok || err != nil {
		t.Errorf("expired edge read: %v %v", ok, err)
	}
	if e, ok, err := p.Edge(ctx, edgeAt("account:a", "used", "device:new", 0).EdgeRef); !ok || err != nil || e.LastSeen != (100*time.Minute).Milliseconds() {
		t.Errorf("live edge read: %+v %v %v", e, ok, err)
	}
}
