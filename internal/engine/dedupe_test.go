package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/rdgraph/rdg/internal/graph"
)

// The tests pass processing time explicitly: no sleeps, no wall clock.

var ddT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ddAt(d time.Duration) time.Time { return ddT0.Add(d) }

func ddNode(id string, props graph.Props, ts int64) graph.Node {
	return graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: id}, Props: props,
		FirstSeen: ts, LastSeen: ts, UpdatedAt: ts}
}

func ddEdge(from, to string, props graph.Props, ts int64) graph.Edge {
	return graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched",
		From: graph.NodeRef{Type: "account", ID: from}, To: graph.NodeRef{Type: "title", ID: to}},
		Props: props, FirstSeen: ts, LastSeen: ts, UpdatedAt: ts}
}

func ddNodes(ns ...graph.Node) *graph.Batch { return &graph.Batch{Nodes: ns} }

func ddPos(p int32, off int64) SourcePos { return SourcePos{Partition: p, Offset: off} }

// ddKey names an element of either kind, for the tests' bookkeeping.
func ddKey(isEdge bool, node graph.NodeRef, edge graph.EdgeRef) string {
	if isEdge {
		return "e:" + edge.String()
	}
	return "n:" + node.String()
}

func ddKeys(b *graph.Batch) []string {
	var ks []string
	for i := range b.Nodes {
		ks = append(ks, ddKey(false, b.Nodes[i].NodeRef, graph.EdgeRef{}))
	}
	for i := range b.Edges {
		ks = append(ks, ddKey(true, graph.NodeRef{}, b.Edges[i].EdgeRef))
	}
	return ks
}

func ddCloneProps(p graph.Props) graph.Props {
	if p == nil {
		return nil
	}
	c := make(graph.Props, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

// ddSameValue is identity of property values: floats by their bits, so that
// -0 differs from +0 and a NaN equals itself.
func ddSameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Float64bits(fa) == math.Float64bits(fb)
	}
	return a == b
}

func ddPropsDiff(a, b graph.Props) string {
	if len(a) != len(b) {
		return fmt.Sprintf("props %v vs %v", a, b)
	}
	for k, pa := range a {
		pb, ok := b[k]
		if !ok || pa.TS != pb.TS || !ddSameValue(pa.Value, pb.Value) {
			return fmt.Sprintf("prop %q: %#v vs %#v", k, pa, pb)
		}
	}
	return ""
}

func ddNodeDiff(a, b graph.Node) string {
	if a.NodeRef != b.NodeRef || a.FirstSeen != b.FirstSeen || a.LastSeen != b.LastSeen || a.UpdatedAt != b.UpdatedAt {
		return fmt.Sprintf("%+v vs %+v", a, b)
	}
	return ddPropsDiff(a.Props, b.Props)
}

func ddEdgeDiff(a, b graph.Edge) string {
	if a.EdgeRef != b.EdgeRef || a.FirstSeen != b.FirstSeen || a.LastSeen != b.LastSeen || a.UpdatedAt != b.UpdatedAt {
		return fmt.Sprintf("%+v vs %+v", a, b)
	}
	return ddPropsDiff(a.Props, b.Props)
}

// ddFold is the reference: graph's Merge folded in order, per element.
type ddFold struct {
	nodes map[graph.NodeRef]*graph.Node
	edges map[graph.EdgeRef]*graph.Edge
}

func newDDFold() *ddFold {
	return &ddFold{nodes: map[graph.NodeRef]*graph.Node{}, edges: map[graph.EdgeRef]*graph.Edge{}}
}

func (f *ddFold) add(b *graph.Batch) {
	for _, n := range b.Nodes {
		if cur := f.nodes[n.NodeRef]; cur != nil {
			cur.Merge(&n)
		} else {
			n.Props = ddCloneProps(n.Props)
			f.nodes[n.NodeRef] = &n
		}
	}
	for _, e := range b.Edges {
		if cur := f.edges[e.EdgeRef]; cur != nil {
			cur.Merge(&e)
		} else {
			e.Props = ddCloneProps(e.Props)
			f.edges[e.EdgeRef] = &e
		}
	}
}

// diff compares f with out, which must hold each element once.
func (f *ddFold) diff(out *graph.Batch) string {
	if len(out.Nodes) != len(f.nodes) || len(out.Edges) != len(f.edges) {
		return fmt.Sprintf("%d nodes %d edges, want %d and %d", len(out.Nodes), len(out.Edges), len(f.nodes), len(f.edges))
	}
	for _, n := range out.Nodes {
		want := f.nodes[n.NodeRef]
		if want == nil {
			return fmt.Sprintf("unexpected node %v", n.NodeRef)
		}
		if d := ddNodeDiff(n, *want); d != "" {
			return d
		}
	}
	for _, e := range out.Edges {
		want := f.edges[e.EdgeRef]
		if want == nil {
			return fmt.Sprintf("unexpected edge %v", e.EdgeRef)
		}
		if d := ddEdgeDiff(e, *want); d != "" {
			return d
		}
	}
	return ""
}

var ddFloats = []float64{0, math.Copysign(0, -1), 1.5, math.Inf(-1), math.NaN()}

func ddRandValue(r *rand.Rand) any {
	switch r.IntN(5) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return int64(r.IntN(3))
	case 3:
		return ddFloats[r.IntN(len(ddFloats))]
	}
	return []string{"", "a", "b"}[r.IntN(3)]
}

// ddRandProps fills dst (reused, as a caller would) with a few properties
// of few timestamps, so that last-writer-wins ties are common.
func ddRandProps(r *rand.Rand, dst graph.Props) graph.Props {
	if r.IntN(4) == 0 {
		return nil
	}
	clear(dst)
	for range r.IntN(4) {
		dst[[]string{"a", "b", "c"}[r.IntN(3)]] = graph.Prop{Value: ddRandValue(r), TS: int64(r.IntN(4))}
	}
	return dst
}

// ddRandBatch refills b with 1-3 updates to random elements among k nodes
// and k edges, reusing b's slices the way the job does.
func ddRandBatch(r *rand.Rand, b *graph.Batch, k int) {
	b.Reset()
	for range 1 + r.IntN(3) {
		first := int64(r.IntN(10))
		p := ddRandProps(r, graph.Props{})
		if r.IntN(2) == 0 {
			n := ddNode(fmt.Sprint(r.IntN(k)), p, first)
			n.LastSeen, n.UpdatedAt = first+int64(r.IntN(5)), int64(r.IntN(10))
			b.Nodes = append(b.Nodes, n)
		} else {
			e := ddEdge(fmt.Sprint(r.IntN(k)), fmt.Sprint(r.IntN(2)), p, first)
			e.LastSeen, e.UpdatedAt = first+int64(r.IntN(5)), int64(r.IntN(10))
			b.Edges = append(b.Edges, e)
		}
	}
}

func ddCloneBatch(b *graph.Batch) graph.Batch {
	c := graph.Batch{Nodes: slices.Clone(b.Nodes), Edges: slices.Clone(b.Edges)}
	for i := range c.Nodes {
		c.Nodes[i].Props = ddCloneProps(c.Nodes[i].Props)
	}
	for i := range c.Edges {
		c.Edges[i].Props = ddCloneProps(c.Edges[i].Props)
	}
	return c
}

// ddHashMasks are the Buffer.hashMask values the property tests run with:
// the real hash, a few chains, and every element in one chain.
var ddHashMasks = []uint64{^uint64(0), 3, 0}

// Every emitted element is exactly the in-order Merge fold of the updates
// it received since its previous emission, whatever the timers and the key
// bound do; folding everything emitted per element gives the fold of all
// input (the semilattice makes splitting harmless).
func TestDedupeMergeMatchesFold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for iter := range 60 {
		window := []time.Duration{0, 5 * time.Millisecond, time.Second}[iter%3]
		buf := newTestBuffer(window, []int{4, 1000}[iter%2])
		buf.hashMask = ddHashMasks[iter%len(ddHashMasks)]
		life := newDDFold() // updates since each element's last emission
		all := newDDFold()  // every update
		emitted := newDDFold()
		var in, out graph.Batch
		now := ddT0
		check := func() {
			for _, n := range out.Nodes {
				want := life.nodes[n.NodeRef]
				if want == nil {
					t.Fatalf("iter %d: node %v emitted without updates", iter, n.NodeRef)
				}
				if d := ddNodeDiff(n, *want); d != "" {
					t.Fatalf("iter %d: emitted node is not the fold of its life: %s", iter, d)
				}
				delete(life.nodes, n.NodeRef)
			}
			for _, e := range out.Edges {
				want := life.edges[e.EdgeRef]
				if want == nil {
					t.Fatalf("iter %d: edge %v emitted without updates", iter, e.EdgeRef)
				}
				if d := ddEdgeDiff(e, *want); d != "" {
					t.Fatalf("iter %d: emitted edge is not the fold of its life: %s", iter, d)
				}
				delete(life.edges, e.EdgeRef)
			}
			emitted.add(&out) // copies
			out.Reset()
		}
		for i := range 400 {
			ddRandBatch(r, &in, 6)
			snapshot := ddCloneBatch(&in)
			buf.Add(&in, ddPos(0, int64(i)), now)
			life.add(&snapshot)
			all.add(&snapshot)
			now = now.Add(time.Duration(r.IntN(3)) * time.Millisecond)
			if r.IntN(3) == 0 {
				buf.Due(now, &out)
				check()
			}
		}
		buf.DrainAll(&out)
		check()
		if len(life.nodes)+len(life.edges) != 0 {
			t.Fatalf("iter %d: %d elements never emitted", iter, len(life.nodes)+len(life.edges))
		}
		var folded graph.Batch
		for _, n := range emitted.nodes {
			folded.Nodes = append(folded.Nodes, *n)
		}
		for _, e := range emitted.edges {
			folded.Edges = append(folded.Edges, *e)
		}
		if d := all.diff(&folded); d != "" {
			t.Fatalf("iter %d: merged output differs from the fold of the input: %s", iter, d)
		}
	}
}

// Inside one window, any order of the same updates publishes the same set
// of elements.
func TestDedupeShuffledInputSameOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	var updates []graph.Batch
	var in graph.Batch
	for range 300 {
		ddRandBatch(r, &in, 8)
		updates = append(updates, ddCloneBatch(&in))
	}
	want := newDDFold()
	for i := range updates {
		want.add(&updates[i])
	}
	for round := range 10 {
		r.Shuffle(len(updates), func(i, j int) { updates[i], updates[j] = updates[j], updates[i] })
		buf := newTestBuffer(time.Minute, 0)
		buf.hashMask = ddHashMasks[round%len(ddHashMasks)]
		for i := range updates {
			in := ddCloneBatch(&updates[i]) // Add may take its maps
			buf.Add(&in, ddPos(0, int64(i)), ddAt(time.Duration(i)*time.Millisecond))
		}
		var out graph.Batch
		if n := buf.Due(ddAt(time.Second), &out); n != 0 {
			t.Fatalf("round %d: %d elements due inside the window", round, n)
		}
		buf.DrainAll(&out)
		if d := want.diff(&out); d != "" {
			t.Fatalf("round %d: %s", round, d)
		}
	}
}

// 10,000 updates to 100 elements inside one window: nothing is published
// until the timers fire, then exactly 100 elements, each the fold of its
// 100 updates.
func TestDedupeOneWindow(t *testing.T) {
	const window = time.Second
	const step = 50 * time.Microsecond
	buf := newTestBuffer(window, 0)
	want := newDDFold()
	var in, out graph.Batch
	for i := range 10_000 {
		in.Reset()
		props := graph.Props{"n": {Value: int64(i), TS: int64(i)}}
		k := i % 100
		if k < 60 {
			in.Nodes = append(in.Nodes, ddNode(fmt.Sprint(k), props, int64(i)))
		} else {
			in.Edges = append(in.Edges, ddEdge(fmt.Sprint(k), "t", props, int64(i)))
		}
		now := ddAt(time.Duration(i) * step)
		want.add(&in)
		buf.Add(&in, ddPos(int32(k%3), int64(i/3)), now)
		if n := buf.Due(now, &out); n != 0 {
			t.Fatalf("update %d: %d elements published inside the window", i, n)
		}
		if d, ok := buf.NextDeadline(); !ok || !d.Equal(ddAt(window)) {
			t.Fatalf("update %d: NextDeadline = %v, %v; want the first element's, %v", i, d, ok, ddAt(window))
		}
	}
	if buf.Len() != 100 {
		t.Fatalf("Len = %d, want 100", buf.Len())
	}
	if n := buf.Due(ddAt(window-1), &out); n != 0 {
		t.Fatalf("%d elements published a nanosecond before the first timer", n)
	}
	if n := buf.Due(ddAt(window), &out); n != 1 {
		t.Fatalf("at the first deadline %d elements published, want 1", n)
	}
	// The last element was first updated 99 steps after the first one.
	if n := buf.Due(ddAt(window+99*step), &out); n != 99 {
		t.Fatalf("at the last deadline %d more elements published, want 99", n)
	}
	if d := want.diff(&out); d != "" {
		t.Fatal(d)
	}
	for p := range int32(3) {
		if m, ok := buf.Pending(p); ok {
			t.Fatalf("Pending(%d) = %d after everything was published", p, m)
		}
	}
	if _, ok := buf.NextDeadline(); ok || buf.Len() != 0 {
		t.Fatalf("buffer not empty: Len %d", buf.Len())
	}
}

func ddOutIDs(b *graph.Batch) []string {
	var ids []string
	for _, n := range b.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

// Beyond maxKeys the oldest elements (by first update) are published early.
func TestDedupeKeyBound(t *testing.T) {
	buf := newTestBuffer(time.Hour, 3)
	var out graph.Batch
	for i := range 5 {
		buf.Add(ddNodes(ddNode(fmt.Sprint(i), nil, int64(i))), ddPos(0, int64(i)), ddAt(time.Duration(i)*time.Millisecond))
	}
	if d, ok := buf.NextDeadline(); !ok || !d.IsZero() {
		t.Fatalf("over the bound NextDeadline = %v, %v; want the zero time (due now)", d, ok)
	}
	if n := buf.Due(ddAt(5*time.Millisecond), &out); n != 2 || !slices.Equal(ddOutIDs(&out), []string{"0", "1"}) {
		t.Fatalf("Due over the bound = %d %v, want the 2 oldest", n, ddOutIDs(&out))
	}
	if buf.Len() != 3 {
		t.Fatalf("Len = %d, want 3", buf.Len())
	}
	if m, _ := buf.Pending(0); m != 2 {
		t.Fatalf("Pending = %d, want 2", m)
	}
	if d, _ := buf.NextDeadline(); !d.Equal(ddAt(2*time.Millisecond + time.Hour)) {
		t.Fatalf("NextDeadline = %v", d)
	}
	// Updating a buffered element does not make it younger.
	out.Reset()
	buf.Add(ddNodes(ddNode("2", graph.Props{"x": {Value: "late", TS: 9}}, 9)), ddPos(0, 5), ddAt(6*time.Millisecond))
	if n := buf.Due(ddAt(6*time.Millisecond), &out); n != 0 {
		t.Fatalf("at the bound Due = %d, want 0", n)
	}
	buf.Add(ddNodes(ddNode("5", nil, 10)), ddPos(0, 6), ddAt(7*time.Millisecond))
	if n := buf.Due(ddAt(7*time.Millisecond), &out); n != 1 || out.Nodes[0].ID != "2" ||
		out.Nodes[0].Props["x"].Value != "late" || out.Nodes[0].LastSeen != 9 {
		t.Fatalf("Due = %d %+v, want node 2 with its late update", n, out.Nodes)
	}
	// Node 2 held offsets 2 and 5; 3 is now the lowest buffered.
	if m, _ := buf.Pending(0); m != 3 {
		t.Fatalf("Pending = %d, want 3", m)
	}
}

// Each element has its own timer, started at its first update since it was
// last published; later updates do not move it.
func TestDedupeTimersPerElement(t *testing.T) {
	const w = time.Second
	buf := newTestBuffer(w, 0)
	var out graph.Batch
	add := func(id string, at time.Duration, off int64) {
		buf.Add(ddNodes(ddNode(id, nil, int64(at/time.Millisecond))), ddPos(0, off), ddAt(at))
	}
	due := func(at time.Duration, want ...string) {
		t.Helper()
		out.Reset()
		buf.Due(ddAt(at), &out)
		if got := ddOutIDs(&out); !slices.Equal(got, want) {
			t.Fatalf("Due(+%v) = %v, want %v", at, got, want)
		}
	}
	deadline := func(want time.Duration) {
		t.Helper()
		if d, ok := buf.NextDeadline(); !ok || !d.Equal(ddAt(want)) {
			t.Fatalf("NextDeadline = %v, %v; want +%v", d, ok, want)
		}
	}
	if _, ok := buf.NextDeadline(); ok {
		t.Fatal("empty buffer has a deadline")
	}
	add("a", 0, 0)
	add("b", 500*time.Millisecond, 1)
	add("a", 900*time.Millisecond, 2)
	deadline(w)
	due(999 * time.Millisecond)
	due(w, "a")
	deadline(1500 * time.Millisecond)
	due(1499 * time.Millisecond)
	due(1500*time.Millisecond, "b")
	if _, ok := buf.NextDeadline(); ok {
		t.Fatal("deadline after everything was published")
	}
	// A new life, a new timer.
	add("a", 1600*time.Millisecond, 3)
	deadline(2600 * time.Millisecond)
	due(2599 * time.Millisecond)
	due(2600*time.Millisecond, "a")
}

// Window 0 publishes at the next Due, still merging what was added before it.
func TestDedupeWindowZero(t *testing.T) {
	buf := newTestBuffer(0, 0)
	var out graph.Batch
	now := ddAt(0)
	buf.Add(ddNodes(ddNode("a", graph.Props{"x": {Value: int64(1), TS: 1}}, 1)), ddPos(0, 0), now)
	if d, ok := buf.NextDeadline(); !ok || !d.Equal(now) {
		t.Fatalf("NextDeadline = %v, %v; want now", d, ok)
	}
	buf.Add(ddNodes(ddNode("a", graph.Props{"x": {Value: int64(2), TS: 2}}, 2), ddNode("b", nil, 2)), ddPos(0, 1), now)
	if n := buf.Due(now, &out); n != 2 || out.Nodes[0].Props["x"].Value != int64(2) || out.Nodes[0].FirstSeen != 1 {
		t.Fatalf("Due(now) = %d %+v; want a (merged) and b", n, out.Nodes)
	}
	buf.Add(ddNodes(ddNode("a", nil, 3)), ddPos(0, 2), now)
	if n := buf.Due(now, &out); n != 1 {
		t.Fatalf("second Due(now) = %d, want 1", n)
	}
	if _, ok := buf.Pending(0); ok {
		t.Fatal("Pending after everything was published")
	}
}

// A clock that steps back must not break the deadline order: the element
// is published no earlier than those before it.
func TestDedupeClockStepsBack(t *testing.T) {
	buf := newTestBuffer(time.Second, 0)
	var out graph.Batch
	buf.Add(ddNodes(ddNode("a", nil, 1)), ddPos(0, 0), ddAt(time.Second))
	buf.Add(ddNodes(ddNode("b", nil, 1)), ddPos(0, 1), ddAt(0))
	if n := buf.Due(ddAt(time.Second), &out); n != 0 {
		t.Fatalf("Due = %d before any deadline", n)
	}
	if n := buf.Due(ddAt(2*time.Second), &out); n != 2 || !slices.Equal(ddOutIDs(&out), []string{"a", "b"}) {
		t.Fatalf("Due = %d %v, want a, b", n, ddOutIDs(&out))
	}
}

func TestDedupeDrainAll(t *testing.T) {
	buf := newTestBuffer(time.Hour, 0)
	r := rand.New(rand.NewPCG(3, 3))
	var in graph.Batch
	want := newDDFold()
	for i := range 200 {
		ddRandBatch(r, &in, 20)
		want.add(&in)
		buf.Add(&in, ddPos(int32(i%4), int64(i)), ddAt(time.Duration(i)))
	}
	var out graph.Batch
	n := buf.DrainAll(&out)
	if n != out.Len() || n != len(want.nodes)+len(want.edges) {
		t.Fatalf("DrainAll = %d, out %d, want %d", n, out.Len(), len(want.nodes)+len(want.edges))
	}
	if d := want.diff(&out); d != "" {
		t.Fatal(d)
	}
	if buf.Len() != 0 {
		t.Fatalf("Len = %d after DrainAll", buf.Len())
	}
	if _, ok := buf.NextDeadline(); ok {
		t.Fatal("deadline after DrainAll")
	}
	for p := range int32(4) {
		if _, ok := buf.Pending(p); ok {
			t.Fatalf("Pending(%d) after DrainAll", p)
		}
	}
	if n := buf.DrainAll(&out); n != 0 {
		t.Fatalf("second DrainAll = %d", n)
	}
	// The buffer is usable afterwards, offsets and times starting over
	// (a partition assigned again after a rebalance).
	buf.Add(ddNodes(ddNode("x", nil, 1)), ddPos(0, 0), ddAt(0))
	if m, ok := buf.Pending(0); !ok || m != 0 {
		t.Fatalf("Pending = %d, %v after reuse", m, ok)
	}
	if d, _ := buf.NextDeadline(); !d.Equal(ddAt(time.Hour)) {
		t.Fatalf("NextDeadline = %v after reuse", d)
	}
}

// A partition re-read from an earlier offset while later records are still
// buffered: Pending follows the lowest buffered offset down and back up.
func TestDedupeOffsetsBackwards(t *testing.T) {
	buf := newTestBuffer(10*time.Millisecond, 0)
	var out graph.Batch
	add := func(id string, off int64, at time.Duration) {
		buf.Add(ddNodes(ddNode(id, nil, off)), ddPos(0, off), ddAt(at))
	}
	pending := func(want int64, wantOK bool) {
		t.Helper()
		if m, ok := buf.Pending(0); m != want || ok != wantOK {
			t.Fatalf("Pending = %d, %v; want %d, %v", m, ok, want, wantOK)
		}
	}
	add("A", 10, 0)
	add("B", 11, time.Millisecond)
	add("C", 12, 2*time.Millisecond)
	pending(10, true)
	buf.Due(ddAt(10*time.Millisecond), &out) // A
	pending(11, true)
	add("C", 5, 3*time.Millisecond) // re-read: C's lowest offset drops to 5
	add("D", 6, 4*time.Millisecond)
	add("B", 7, 5*time.Millisecond) // B had 11; now 7
	pending(5, true)
	add("A", 8, 6*time.Millisecond) // A's new life
	pending(5, true)
	buf.Due(ddAt(11*time.Millisecond), &out) // B (first added at +1ms)
	pending(5, true)
	buf.Due(ddAt(12*time.Millisecond), &out) // C
	pending(6, true)
	buf.Due(ddAt(14*time.Millisecond), &out) // D
	pending(8, true)
	add("E", 9, 15*time.Millisecond) // the re-read catches up
	add("F", 13, 15*time.Millisecond)
	pending(8, true)
	buf.Due(ddAt(16*time.Millisecond), &out) // A
	pending(9, true)
	buf.Due(ddAt(time.Second), &out)
	pending(0, false)
	if n := len(buf.parts[0].segs); n != 1 {
		t.Fatalf("%d pending segments left, want 1 (reused)", n)
	}
}

// Offsets of different partitions are independent.
func TestDedupePendingPerPartition(t *testing.T) {
	buf := newTestBuffer(time.Second, 0)
	var out graph.Batch
	buf.Add(ddNodes(ddNode("a", nil, 1)), ddPos(1, 100), ddAt(0))
	buf.Add(ddNodes(ddNode("b", nil, 1)), ddPos(2, 7), ddAt(time.Millisecond))
	buf.Add(ddNodes(ddNode("b", nil, 1)), ddPos(1, 101), ddAt(2*time.Millisecond))
	if m, ok := buf.Pending(1); !ok || m != 100 {
		t.Fatalf("Pending(1) = %d, %v", m, ok)
	}
	if m, ok := buf.Pending(2); !ok || m != 7 {
		t.Fatalf("Pending(2) = %d, %v", m, ok)
	}
	if _, ok := buf.Pending(3); ok {
		t.Fatal("Pending(3) for a partition never seen")
	}
	buf.Due(ddAt(time.Second), &out) // a
	if m, ok := buf.Pending(1); !ok || m != 101 {
		t.Fatalf("Pending(1) = %d, %v after a was published; want b's 101", m, ok)
	}
	buf.Due(ddAt(2*time.Second), &out) // b
	for p := range int32(3) {
		if _, ok := buf.Pending(p); ok {
			t.Fatalf("Pending(%d) after everything was published", p)
		}
	}
}

// Commit safety, as a property: after any sequence of Add, Due and DrainAll
// (offsets mostly increasing, sometimes re-read from earlier, timers and the
// key bound both firing), every record below Pending(p) — every record, if
// !ok — has had each of its elements published after its Add, and Pending
// is exactly the lowest offset of a record that has not.
func TestDedupeCommitSafety(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const parts = 3
	type record struct {
		part  int32
		off   int64
		keys  []string
		added int // step of the Add
	}
	for seq := range 300 {
		window := []time.Duration{0, 3 * time.Millisecond, 20 * time.Millisecond}[r.IntN(3)]
		maxKeys := []int{2, 6, 1000}[r.IntN(3)]
		buf := newTestBuffer(window, maxKeys)
		buf.hashMask = ddHashMasks[seq%len(ddHashMasks)]
		var next [parts]int64
		var open []record             // records with an element not yet published since their Add
		published := map[string]int{} // element → step of its last publication
		firstAdd := map[string]time.Time{}
		now := ddT0
		var in, out graph.Batch
		collect := func(step int) {
			for _, k := range ddKeys(&out) {
				published[k] = step
				delete(firstAdd, k)
			}
			out.Reset()
		}
		for step := 1; step <= 300; step++ {
			now = now.Add(time.Duration(r.IntN(4)) * time.Millisecond)
			switch x := r.IntN(100); {
			case x < 65:
				p := int32(r.IntN(parts))
				if r.IntN(30) == 0 { // a re-read from an earlier offset
					next[p] = max(0, next[p]-int64(1+r.IntN(8)))
				}
				off := next[p]
				next[p]++
				ddRandBatch(r, &in, 8)
				buf.Add(&in, ddPos(p, off), now)
				keys := ddKeys(&in)
				for _, k := range keys {
					if _, ok := firstAdd[k]; !ok {
						firstAdd[k] = now
					}
				}
				open = append(open, record{part: p, off: off, keys: keys, added: step})
			case x < 97:
				before := buf.Len()
				n := buf.Due(now, &out)
				// What Due left is neither due nor over the bound; what it
				// published early (not due) were the oldest.
				if buf.Len() > maxKeys || n != before-buf.Len() || n != out.Len() {
					t.Fatalf("seq %d step %d: Due = %d, Len %d → %d, bound %d", seq, step, n, before, buf.Len(), maxKeys)
				}
				var newestEarly time.Time
				for _, k := range ddKeys(&out) {
					if fa := firstAdd[k]; fa.Add(window).After(now) && fa.After(newestEarly) {
						newestEarly = fa
					}
				}
				collect(step)
				for k, fa := range firstAdd {
					if !fa.Add(window).After(now) {
						t.Fatalf("seq %d step %d: %s due at %v not published at %v", seq, step, k, fa.Add(window), now)
					}
					if fa.Before(newestEarly) {
						t.Fatalf("seq %d step %d: %s kept while a younger element was published early", seq, step, k)
					}
				}
			default:
				buf.DrainAll(&out)
				collect(step)
			}
			if buf.Len() != len(firstAdd) {
				t.Fatalf("seq %d step %d: Len = %d, want %d", seq, step, buf.Len(), len(firstAdd))
			}
			// Records whose every element was published since are settled.
			open = slices.DeleteFunc(open, func(rec record) bool {
				for _, k := range rec.keys {
					if published[k] <= rec.added {
						return false
					}
				}
				return true
			})
			for p := range int32(parts) {
				wantOK, want := false, int64(0)
				for _, rec := range open {
					if rec.part == p && (!wantOK || rec.off < want) {
						wantOK, want = true, rec.off
					}
				}
				got, ok := buf.Pending(p)
				if ok && !wantOK {
					t.Fatalf("seq %d step %d: Pending(%d) = %d, nothing from it is buffered", seq, step, p, got)
				}
				if !ok && wantOK || ok && got > want {
					t.Fatalf("seq %d step %d: UNSAFE: Pending(%d) = %d, %v while offset %d is buffered", seq, step, p, got, ok, want)
				}
				if ok && got != want {
					t.Fatalf("seq %d step %d: Pending(%d) = %d, want exactly %d", seq, step, p, got, want)
				}
			}
		}
	}
}

// The buffer copies the properties it keeps: the caller may reuse the
// batch it added (the chain does, for every record), and a new life of a
// slot starts from the new element's properties only. What Due emits is
// the buffer's own memory, valid until the next Add.
func TestDedupePropsNotAliased(t *testing.T) {
	buf := NewBuffer(time.Hour, 0)
	var in, out Elements
	add := func(b *graph.Batch, off int64) {
		toElements(b, &in)
		buf.Add(&in, ddPos(0, off), ddAt(0))
		// Scribble over what was added, as the next record's mapping does.
		for i := range in.arena {
			in.arena[i] = graph.NamedProp{Name: in.arena[i].Name, Prop: graph.Prop{Value: "scribbled", TS: 1000}}
		}
	}
	add(ddNodes(ddNode("a", graph.Props{"x": {Value: "one", TS: 1}}, 1)), 0)
	// A merge with another name set: y is new, x's older value loses.
	add(ddNodes(ddNode("a", graph.Props{"x": {Value: "older", TS: 0}, "y": {Value: "two", TS: 2}}, 2)), 1)
	// Properties reaching an element buffered without any.
	add(&graph.Batch{Edges: []graph.Edge{ddEdge("a", "t", nil, 1)}}, 2)
	add(&graph.Batch{Edges: []graph.Edge{ddEdge("a", "t", graph.Props{"z": {Value: int64(1), TS: 1}}, 2)}}, 3)

	var got graph.Batch
	buf.DrainAll(&out)
	out.appendTo(&got)
	if d := ddPropsDiff(got.Nodes[0].Props, graph.Props{"x": {Value: "one", TS: 1}, "y": {Value: "two", TS: 2}}); d != "" {
		t.Fatalf("node props changed with the caller's memory: %s", d)
	}
	if d := ddPropsDiff(got.Edges[0].Props, graph.Props{"z": {Value: int64(1), TS: 1}}); d != "" {
		t.Fatalf("edge props: %s", d)
	}

	// The slot's next life reuses its memory but none of its properties.
	out.reset()
	add(ddNodes(ddNode("b", graph.Props{"w": {Value: "b", TS: 3}}, 3)), 4)
	buf.DrainAll(&out)
	got = graph.Batch{}
	out.appendTo(&got)
	if len(got.Nodes) != 1 {
		t.Fatalf("drained %d nodes, want 1", len(got.Nodes))
	}
	if d := ddPropsDiff(got.Nodes[0].Props, graph.Props{"w": {Value: "b", TS: 3}}); d != "" {
		t.Fatalf("a new life carries an earlier one's properties: %s", d)
	}
}

// The hot path allocates nothing once the slots' property memory has
// grown: merging into a buffered element, and whole lives of pooled
// entries, with and without properties.
func TestDedupeAllocs(t *testing.T) {
	buf := NewBuffer(0, 0)
	var in, out Elements
	b := ddNodes(ddNode("a", nil, 1), ddNode("b", nil, 1))
	b.Edges = append(b.Edges, ddEdge("a", "t", nil, 1))
	toElements(b, &in)
	off := int64(0)
	cycle := func() {
		off++
		buf.Add(&in, ddPos(int32(off%2), off), ddAt(0))
		buf.Add(&in, ddPos(int32(off%2), off), ddAt(0))
		out.reset()
		buf.Due(ddAt(0), &out)
		buf.Pending(0)
	}
	for range 100 {
		cycle()
	}
	if a := testing.AllocsPerRun(1000, cycle); a != 0 {
		t.Fatalf("%v allocations per Add/Due cycle, want 0", a)
	}

	props := graph.Props{"x": {Value: "v", TS: 1}, "y": {Value: int64(2), TS: 1}}
	b.Nodes[0].Props, b.Edges[0].Props = props, props
	toElements(b, &in)
	for range 100 {
		cycle()
	}
	if a := testing.AllocsPerRun(1000, cycle); a != 0 {
		t.Fatalf("%v allocations per Add/Due cycle with properties, want 0", a)
	}
}

// The open-addressing index finds every live entry and nothing else,
// whatever the order of inserts and removals, with clusters that wrap
// around the end of the table and hashes that share their high bits.
func TestDedupeIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, hashBits := range []uint{3, 6, 40} {
		b := newTestBuffer(0, 0)
		live := map[int32]uint64{}
		next := int32(0)
		find := func(h uint64, idx int32) bool {
			mask := uint64(len(b.index) - 1)
			for pos := b.home(h); b.index[pos] != 0; pos = (pos + 1) & mask {
				if b.index[pos] == h>>32<<32|uint64(uint32(idx)+1) {
					return true
				}
			}
			return false
		}
		for step := range 5000 {
			if len(live) == 0 || r.IntN(3) > 0 {
				h := (r.Uint64() >> (64 - hashBits)) << 32 // only high bits matter to the index
				b.n++
				if 2*b.n > len(b.index) {
					b.grow()
				}
				b.insert(h, next)
				live[next] = h
				next++
			} else {
				for idx, h := range live { // an arbitrary one
					b.unindex(h, idx)
					b.n--
					delete(live, idx)
					if find(h, idx) {
						t.Fatalf("bits %d step %d: removed entry %d still found", hashBits, step, idx)
					}
					break
				}
			}
			if step%100 == 0 {
				for idx, h := range live {
					if !find(h, idx) {
						t.Fatalf("bits %d step %d: entry %d lost", hashBits, step, idx)
					}
				}
				used := 0
				for _, s := range b.index {
					if s != 0 {
						used++
					}
				}
				if used != len(live) {
					t.Fatalf("bits %d step %d: %d slots used for %d entries", hashBits, step, used, len(live))
				}
			}
		}
	}
}

// Beyond 255 type names the type tags run out and entries compare names:
// elements of different types with the same ids stay apart, updates of the
// same element still merge.
func TestDedupeManyTypes(t *testing.T) {
	buf := newTestBuffer(time.Hour, 0)
	buf.hashMask = 0 // every element in one probe run
	for round := range 2 {
		for i := range 300 {
			typ := fmt.Sprintf("t%d", i)
			n := graph.Node{NodeRef: graph.NodeRef{Type: typ, ID: "same"}, FirstSeen: int64(round), LastSeen: int64(round)}
			e := graph.Edge{EdgeRef: graph.EdgeRef{Type: typ, From: graph.NodeRef{Type: typ, ID: "a"}, To: graph.NodeRef{Type: "x", ID: "b"}},
				FirstSeen: int64(round), LastSeen: int64(round)}
			buf.Add(&graph.Batch{Nodes: []graph.Node{n}, Edges: []graph.Edge{e}}, ddPos(0, int64(i)), ddAt(0))
		}
	}
	var out graph.Batch
	if n := buf.DrainAll(&out); n != 600 {
		t.Fatalf("%d elements buffered, want 600", n)
	}
	seen := map[string]bool{}
	for _, n := range out.Nodes {
		if seen[n.Type] || n.FirstSeen != 0 || n.LastSeen != 1 {
			t.Fatalf("node %v: first %d last %d (duplicate: %v)", n.NodeRef, n.FirstSeen, n.LastSeen, seen[n.Type])
		}
		seen[n.Type] = true
	}
}

// The entry layout the buffer's cache behaviour relies on: 256 bytes, so
// that in page-aligned slab chunks each entry's identity is one cache
// line, and the times and properties header share another.
func TestDedupeEntryLayout(t *testing.T) {
	var e entry
	if s := unsafe.Sizeof(e); s != 256 {
		t.Errorf("entry is %d bytes, want 256", s)
	}
	if o := unsafe.Offsetof(e.ref); o != 64 {
		t.Errorf("the element starts at byte %d, want 64 (after the identity line)", o)
	}
	if lo, hi := unsafe.Offsetof(e.first), unsafe.Offsetof(e.props)+unsafe.Sizeof(e.props); lo/64 != (hi-1)/64 {
		t.Errorf("times and props header span bytes %d-%d, more than one cache line", lo, hi)
	}
}
