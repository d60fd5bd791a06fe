package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rdgraph/rdg/internal/graph"
)

func openT(t testing.TB, dir string) *Pebble {
	t.Helper()
	p, err := Open(dir, Sync(false), CacheSize(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func apply(t testing.TB, p *Pebble, b *graph.Batch) {
	t.Helper()
	if err := p.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// dump returns every key and (merged) value of the store, as the reads see
// them, for comparing two stores byte for byte.
func dump(t testing.TB, p *Pebble) string {
	t.Helper()
	it, err := p.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var b strings.Builder
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Fprintf(&b, "%q=%q\n", it.Key(), it.Value())
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func compact(t testing.TB, p *Pebble) {
	t.Helper()
	if err := p.db.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
}

func ref(s string) graph.NodeRef {
	r, err := graph.ParseNodeRef(s)
	if err != nil {
		panic(err)
	}
	return r
}

// update is one element update: a node or an edge.
type update struct {
	node *graph.Node
	edge *graph.Edge
}

func randUpdates(r *rand.Rand, n int) []update {
	nodes := []graph.NodeRef{ref("dev:a"), ref("dev:a\x00"), ref("device:a"), ref("dev:\xff:x")}
	var ups []update
	for range n {
		el := randElement(r)
		if r.IntN(2) == 0 {
			ups = append(ups, update{node: &graph.Node{NodeRef: nodes[r.IntN(len(nodes))], Props: el.props,
				FirstSeen: el.firstSeen, LastSeen: el.lastSeen, UpdatedAt: el.updatedAt}})
		} else {
			er := graph.EdgeRef{Type: []string{"uses", "used"}[r.IntN(2)], From: nodes[r.IntN(len(nodes))], To: nodes[r.IntN(len(nodes))]}
			ups = append(ups, update{edge: &graph.Edge{EdgeRef: er, Props: el.props,
				FirstSeen: el.firstSeen, LastSeen: el.lastSeen, UpdatedAt: el.updatedAt}})
		}
	}
	return ups
}

func batchOf(ups []update) *graph.Batch {
	b := &graph.Batch{}
	for _, u := range ups {
		if u.node != nil {
			b.Nodes = append(b.Nodes, *u.node)
		} else {
			b.Edges = append(b.Edges, *u.edge)
		}
	}
	return b
}

// reference folds the updates with graph's own merge, in order.
func reference(ups []update) (map[graph.NodeRef]graph.Node, map[graph.EdgeRef]graph.Edge) {
	nodes, edges := map[graph.NodeRef]graph.Node{}, map[graph.EdgeRef]graph.Edge{}
	for _, u := range ups {
		if u.node != nil {
			n, ok := nodes[u.node.NodeRef]
			if !ok {
				n = graph.Node{NodeRef: u.node.NodeRef, FirstSeen: u.node.FirstSeen, LastSeen: u.node.LastSeen, UpdatedAt: u.node.UpdatedAt}
			}
			n.Merge(u.node)
			nodes[n.NodeRef] = n
		} else {
			e, ok := edges[u.edge.EdgeRef]
			if !ok {
				e = graph.Edge{EdgeRef: u.edge.EdgeRef, FirstSeen: u.edge.FirstSeen, LastSeen: u.edge.LastSeen, UpdatedAt: u.edge.UpdatedAt}
			}
			e.Merge(u.edge)
			edges[e.EdgeRef] = e
		}
	}
	return nodes, edges
}

// TestConvergence applies the same updates in different orders, groupings
// and multiplicities, with flushes and compactions in between (so the merger
// sees partial operand sets in both directions), and wants identical bytes
// and graph's reference merge.
func TestConvergence(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	ups := randUpdates(r, 400)
	wantNodes, wantEdges := reference(ups)

	// One batch, in order.
	one := openT(t, t.TempDir())
	apply(t, one, batchOf(ups))

	// Shuffled, every update twice, in batches of 1 to 40, with flushes.
	dir := t.TempDir()
	shuf := openT(t, dir)
	dup := slices.Concat(ups, ups)
	r.Shuffle(len(dup), func(i, j int) { dup[i], dup[j] = dup[j], dup[i] })
	for i := 0; i < len(dup); {
		n := min(1+r.IntN(40), len(dup)-i)
		apply(t, shuf, batchOf(dup[i:i+n]))
		i += n
		if r.IntN(5) == 0 {
			if err := shuf.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(20) == 0 {
			compact(t, shuf)
		}
	}

	// Reversed, one update per batch, replayed three times concurrently.
	rev := openT(t, t.TempDir())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for i := len(ups) - 1; i >= 0; i-- {
				if err := rev.Apply(ctx, batchOf(ups[i:i+1])); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	want := dump(t, one)
	if got := dump(t, shuf); got != want {
		t.Fatalf("shuffled store differs:\n%s\nwant\n%s", got, want)
	}
	if got := dump(t, rev); got != want {
		t.Fatalf("reversed store differs:\n%s\nwant\n%s", got, want)
	}
	compact(t, shuf)
	if err := shuf.Close(); err != nil {
		t.Fatal(err)
	}
	shuf = openT(t, dir)
	if got := dump(t, shuf); got != want {
		t.Fatalf("compacted and reopened store differs:\n%s\nwant\n%s", got, want)
	}

	for ref, wn := range wantNodes {
		n, ok, err := shuf.Node(ctx, ref)
		if err != nil || !ok || !reflect.DeepEqual(n, wn) {
			t.Errorf("node %s = %+v, %v, %v; want %+v", ref, n, ok, err, wn)
		}
	}
	// Every edge read both ways: out from its source, in to its target.
	for _, dir := range []graph.Direction{graph.Out, graph.In} {
		ends := map[graph.NodeRef]bool{}
		for er := range wantEdges {
			ends[er.From], ends[er.To] = true, true
		}
		got := 0
		for end := range ends {
			err := shuf.Edges(ctx, end, dir, "", func(e *graph.Edge) bool {
				got++
				if we := wantEdges[e.EdgeRef]; !reflect.DeepEqual(*e, we) {
					t.Errorf("%s edge %s = %+v; want %+v", dir, e.EdgeRef, *e, we)
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if got != len(wantEdges) {
			t.Errorf("%s: read %d edges, want %d", dir, got, len(wantEdges))
		}
	}
}

// edgeLines renders edges one per line for comparison with a literal.
func edgeLines(t *testing.T, p *Pebble, r graph.NodeRef, dir graph.Direction, typ string) string {
	t.Helper()
	var lines []string
	err := p.Edges(context.Background(), r, dir, typ, func(e *graph.Edge) bool {
		lines = append(lines, fmt.Sprintf("%q -%s-> %q %v", e.From.String(), e.Type, e.To.String(), e.Props))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func TestNodeAndEdges(t *testing.T) {
	ctx := context.Background()
	p := openT(t, t.TempDir())
	a, a0, ab := ref("dev:a"), ref("dev:a\x00"), ref("dev:ab")
	da := ref("device:a")
	ff := ref("dev:\xff\x00:1")
	e := func(typ string, from, to graph.NodeRef, v int64) graph.Edge {
		return graph.Edge{EdgeRef: graph.EdgeRef{Type: typ, From: from, To: to},
			Props: graph.Props{"v": {Value: v, TS: 1}}, FirstSeen: 1, LastSeen: 1}
	}
	apply(t, p, &graph.Batch{
		Nodes: []graph.Node{
			{NodeRef: a, Props: graph.Props{"name": {Value: "a", TS: 1}}, FirstSeen: 1, LastSeen: 2, UpdatedAt: 3},
			{NodeRef: a0}, {NodeRef: da}, {NodeRef: ff},
		},
		Edges: []graph.Edge{
			e("link", a, a0, 1),
			e("link", a, ab, 2),
			e("link", a, da, 3),
			e("linked", a, ff, 4),
			e("link", a0, a, 5),
			e("link", da, a, 6),
			e("link", a, a, 7),
			e("linked", ff, a0, 8),
		},
	})

	n, ok, err := p.Node(ctx, a)
	if err != nil || !ok || n.Props["name"].Value != "a" || n.FirstSeen != 1 || n.LastSeen != 2 || n.UpdatedAt != 3 {
		t.Fatalf("Node(a) = %+v, %v, %v", n, ok, err)
	}
	// A prefix of a stored id, and an id that is a prefix of stored ones.
	for _, missing := range []graph.NodeRef{ref("dev:ab"), ref("de:a"), ref("dev:\xff"), ref("devi:a")} {
		if _, ok, err := p.Node(ctx, missing); ok || err != nil {
			t.Errorf("Node(%q) = %v, %v; want absent", missing, ok, err)
		}
	}
	if _, _, err := p.Node(ctx, graph.NodeRef{Type: "dev"}); err == nil {
		t.Error("Node with empty id: no error")
	}

	for _, c := range []struct {
		ref  graph.NodeRef
		dir  graph.Direction
		typ  string
		want string
	}{
		{a, graph.Out, "", `"dev:a" -link-> "dev:a" map[v:{7 1}]
"dev:a" -link-> "dev:a\x00" map[v:{1 1}]
"dev:a" -link-> "dev:ab" map[v:{2 1}]
"dev:a" -link-> "device:a" map[v:{3 1}]
"dev:a" -linked-> "dev:\xff\x00:1" map[v:{4 1}]`},
		{a, graph.Out, "linked", `"dev:a" -linked-> "dev:\xff\x00:1" map[v:{4 1}]`},
		{a, graph.In, "", `"dev:a" -link-> "dev:a" map[v:{7 1}]
"dev:a\x00" -link-> "dev:a" map[v:{5 1}]
"device:a" -link-> "dev:a" map[v:{6 1}]`},
		{a, graph.In, "link", `"dev:a" -link-> "dev:a" map[v:{7 1}]
"dev:a\x00" -link-> "dev:a" map[v:{5 1}]
"device:a" -link-> "dev:a" map[v:{6 1}]`},
		{a, graph.In, "linked", ``},
		{a0, graph.Out, "", `"dev:a\x00" -link-> "dev:a" map[v:{5 1}]`},
		{a0, graph.In, "", `"dev:a" -link-> "dev:a\x00" map[v:{1 1}]
"dev:\xff\x00:1" -linked-> "dev:a\x00" map[v:{8 1}]`},
		{a0, graph.In, "link", `"dev:a" -link-> "dev:a\x00" map[v:{1 1}]`},
		{da, graph.Out, "", `"device:a" -link-> "dev:a" map[v:{6 1}]`},
		{ref("device:ab"), graph.Out, "", ``},
		{ab, graph.In, "", `"dev:a" -link-> "dev:ab" map[v:{2 1}]`},
		{ab, graph.Out, "", ``},
		{ff, graph.In, "", `"dev:a" -linked-> "dev:\xff\x00:1" map[v:{4 1}]`},
	} {
		if got := edgeLines(t, p, c.ref, c.dir, c.typ); got != c.want {
			t.Errorf("Edges(%q, %s, %q):\n%s\nwant\n%s", c.ref, c.dir, c.typ, got, c.want)
		}
	}

	// Stopping early.
	calls := 0
	if err := p.Edges(ctx, a, graph.Out, "", func(*graph.Edge) bool { calls++; return calls < 2 }); err != nil || calls != 2 {
		t.Errorf("early stop: %d calls, %v", calls, err)
	}
	if err := p.Edges(ctx, a, graph.Both, "", func(*graph.Edge) bool { return true }); err == nil {
		t.Error("Edges with Both: no error")
	}
}

func TestApplyIsAtomicAndValidates(t *testing.T) {
	ctx := context.Background()
	p := openT(t, t.TempDir())
	good := graph.Node{NodeRef: ref("account:1")}
	for _, bad := range []graph.Batch{
		{Nodes: []graph.Node{good, {NodeRef: graph.NodeRef{Type: "account"}}}},
		{Nodes: []graph.Node{good, {NodeRef: graph.NodeRef{Type: "Account", ID: "1"}}}},
		{Nodes: []graph.Node{good}, Edges: []graph.Edge{{EdgeRef: graph.EdgeRef{Type: "x", From: good.NodeRef}}}},
		{Nodes: []graph.Node{good, {NodeRef: ref("account:2"), Props: graph.Props{"m": {Value: map[string]int{}}}}}},
	} {
		if err := p.Apply(ctx, &bad); err == nil {
			t.Errorf("Apply(%+v): no error", bad)
		}
	}
	if _, ok, _ := p.Node(ctx, good.NodeRef); ok {
		t.Error("a failed batch left a node behind")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Apply(cctx, &graph.Batch{Nodes: []graph.Node{good}}); err == nil {
		t.Error("Apply with a cancelled context: no error")
	}
	if err := p.Apply(ctx, &graph.Batch{}); err != nil {
		t.Error(err)
	}
	if err := p.Apply(ctx, nil); err != nil {
		t.Error(err)
	}
}

func TestPersistence(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p, err := Open(dir) // default options: synced writes
	if err != nil {
		t.Fatal(err)
	}
	ed := graph.Edge{EdgeRef: graph.EdgeRef{Type: "used", From: ref("account:1"), To: ref("device:\x00")},
		Props: graph.Props{"n": {Value: int64(1), TS: 10}}, FirstSeen: 10, LastSeen: 10}
	apply(t, p, &graph.Batch{Nodes: []graph.Node{{NodeRef: ref("account:1"), FirstSeen: 10, LastSeen: 10}}, Edges: []graph.Edge{ed}})
	before := dump(t, p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != ErrClosed {
		t.Errorf("second Close: %v", err)
	}
	p = openT(t, dir)
	if got := dump(t, p); got != before {
		t.Fatalf("after reopen:\n%s\nwant\n%s", got, before)
	}
	var got []graph.Edge
	if err := p.Edges(ctx, ref("device:\x00"), graph.In, "used", func(e *graph.Edge) bool { got = append(got, *e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], ed) {
		t.Fatalf("in-edges after reopen: %+v", got)
	}
}

func TestOpenRejectsOtherLayouts(t *testing.T) {
	dir := t.TempDir()
	p, err := Open(dir, Sync(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.db.Set(layoutKey, []byte("99"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if p, err := Open(dir); err == nil {
		p.Close()
		t.Fatal("opened a store with another key layout")
	}
	// Pebble itself refuses a store written with another merge operator.
	dir = t.TempDir()
	if p, err = Open(dir, Sync(false)); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if db, err := pebble.Open(dir, &pebble.Options{Merger: &pebble.Merger{Name: "other", Merge: merger.Merge}}); err == nil {
		db.Close()
		t.Fatal("pebble opened the store with another merger")
	}
}

// A small known graph: members watch titles on devices; a profile belongs to
// an account.
//
//	account:a1 -used->    device:d1
//	account:a1 -watched-> title:t1, title:t2
//	account:a2 -used->    device:d1
//	account:a2 -watched-> title:t2
//	profile:p1 -of->      account:a1
//
// title:t2 is referenced but has no node record.
func knownGraph(t *testing.T) *Pebble {
	p := openT(t, t.TempDir())
	e := func(from, typ, to string) graph.Edge {
		return graph.Edge{EdgeRef: graph.EdgeRef{Type: typ, From: ref(from), To: ref(to)}, FirstSeen: 1, LastSeen: 1}
	}
	n := func(r string) graph.Node {
		return graph.Node{NodeRef: ref(r), Props: graph.Props{"name": {Value: r, TS: 1}}, FirstSeen: 1, LastSeen: 1}
	}
	apply(t, p, &graph.Batch{
		Nodes: []graph.Node{n("account:a1"), n("account:a2"), n("device:d1"), n("title:t1"), n("profile:p1")},
		Edges: []graph.Edge{
			e("account:a1", "used", "device:d1"),
			e("account:a1", "watched", "title:t1"),
			e("account:a1", "watched", "title:t2"),
			e("account:a2", "used", "device:d1"),
			e("account:a2", "watched", "title:t2"),
			e("profile:p1", "of", "account:a1"),
		},
	})
	return p
}

func TestEachAndCounts(t *testing.T) {
	ctx := context.Background()
	p := openT(t, t.TempDir())
	var b graph.Batch
	for i := range 30 {
		for _, ty := range []string{"dev", "device", "de"} {
			b.Nodes = append(b.Nodes, graph.Node{NodeRef: graph.NodeRef{Type: ty, ID: fmt.Sprintf("%d\x00", i)}, FirstSeen: int64(i)})
		}
		from := graph.NodeRef{Type: "dev", ID: fmt.Sprint(i % 7)}
		to := graph.NodeRef{Type: "device", ID: fmt.Sprint(i)}
		for _, et := range []string{"a", "b", "bb", "c"} {
			if i%4 == 0 && et == "b" {
				continue // some sources have no "b" edges
			}
			b.Edges = append(b.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: et, From: from, To: to}, Props: graph.Props{"i": {Value: int64(i)}}})
		}
	}
	apply(t, p, &b)

	count := func(typ string) (n int, refs []string) {
		err := p.EachNode(ctx, typ, func(n *graph.Node) bool {
			if typ != "" && n.Type != typ {
				t.Errorf("EachNode(%q) gave %s", typ, n.NodeRef)
			}
			refs = append(refs, n.NodeRef.String())
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(refs), refs
	}
	if n, _ := count("dev"); n != 30 {
		t.Errorf("EachNode(dev): %d", n)
	}
	if n, _ := count("d"); n != 0 {
		t.Errorf("EachNode(d): %d", n)
	}
	if n, refs := count(""); n != 90 || !slices.IsSorted(refs[:30]) || refs[0] != "de:0\x00" {
		t.Errorf("EachNode(\"\"): %d, first %q", n, refs[0])
	}

	all := map[string][]graph.EdgeRef{}
	if err := p.EachEdge(ctx, "", func(e *graph.Edge) bool {
		all[e.Type] = append(all[e.Type], e.EdgeRef)
		if e.Props["i"].Value.(int64) != mustAtoi(e.To.ID) {
			t.Errorf("edge %s props %v", e.EdgeRef, e.Props)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for _, et := range []string{"a", "b", "bb", "c", "ba", "0", "z"} {
		var got []graph.EdgeRef
		if err := p.EachEdge(ctx, et, func(e *graph.Edge) bool { got = append(got, e.EdgeRef); return true }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, all[et]) {
			t.Errorf("EachEdge(%q): %d edges, want %d", et, len(got), len(all[et]))
		}
	}
	calls := 0
	if err := p.EachEdge(ctx, "bb", func(*graph.Edge) bool { calls++; return false }); err != nil || calls != 1 {
		t.Errorf("EachEdge stop: %d, %v", calls, err)
	}

	nodes, edges, err := p.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantNodes := map[string]int64{"de": 30, "dev": 30, "device": 30}
	wantEdges := map[string]int64{"a": 30, "b": 22, "bb": 30, "c": 30}
	if !reflect.DeepEqual(nodes, wantNodes) || !reflect.DeepEqual(edges, wantEdges) {
		t.Errorf("Counts = %v, %v; want %v, %v", nodes, edges, wantNodes, wantEdges)
	}
	// Re-applying changes nothing.
	apply(t, p, &b)
	if n2, e2, _ := p.Counts(ctx); !reflect.DeepEqual(n2, nodes) || !reflect.DeepEqual(e2, edges) {
		t.Errorf("Counts after replay = %v, %v", n2, e2)
	}
}

func mustAtoi(s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		panic(err)
	}
	return n
}

func TestScanHonoursContext(t *testing.T) {
	p := knownGraph(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range map[string]error{
		"EachNode": p.EachNode(ctx, "", func(*graph.Node) bool { return true }),
		"EachEdge": p.EachEdge(ctx, "", func(*graph.Edge) bool { return true }),
		"Edges":    p.Edges(ctx, ref("account:a1"), graph.Out, "", func(*graph.Edge) bool { return true }),
	} {
		if err == nil {
			t.Errorf("%s with a cancelled context: no error", name)
		}
	}
	if _, _, err := p.Counts(ctx); err == nil {
		t.Error("Counts with a cancelled context: no error")
	}
}

// TestMigrateLayout1 opens a store in layout 1 (in-edge entries empty; made
// here by emptying them and writing the old version) and checks that every
// in-edge listing then carries the values the out-edges hold, under a TTL
// too, and that the store records layout 2.
func TestMigrateLayout1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := openT(t, dir)
	rng := rand.New(rand.NewPCG(5, 5))
	var b graph.Batch
	for i := range 3000 {
		from, to := ref(fmt.Sprintf("account:a%d", rng.IntN(200))), ref(fmt.Sprintf("title:t%d", rng.IntN(100)))
		b.Edges = append(b.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched", From: from, To: to},
			Props: graph.Props{"n": {Value: int64(i), TS: int64(i)}}, FirstSeen: int64(i), LastSeen: int64(i)})
	}
	apply(t, p, &b)
	want := map[string]string{}
	for i := range 100 {
		r := ref(fmt.Sprintf("title:t%d", i))
		want[r.String()] = edgeLines(t, p, r, graph.In, "")
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindIn}, UpperBound: []byte{kindIn + 1}})
	if err != nil {
		t.Fatal(err)
	}
	emptied := 0
	for valid := it.First(); valid; valid = it.Next() {
		if err := p.db.Set(it.Key(), nil, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		emptied++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.db.Set(layoutKey, []byte("1"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if emptied < 1000 {
		t.Fatalf("only %d in-edge entries", emptied)
	}

	// A listing of the layout 1 store by this build fails: it must not
	// be read unmigrated.
	db, err := pebble.Open(dir, &pebble.Options{Merger: merger, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	p1 := &Pebble{db: db}
	if err := p1.Edges(ctx, ref("title:t1"), graph.In, "", func(*graph.Edge) bool { return true }); err == nil {
		t.Error("listed the empty in-edge entries of layout 1 without an error")
	}
	db.Close()

	p, err = Open(dir, Sync(false), TTL(map[string]time.Duration{"watched": time.Hour}), Clock(func() time.Time { return time.Unix(0, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for r, w := range want {
		if got := edgeLines(t, p, ref(r), graph.In, ""); got != w {
			t.Errorf("in-edges of %s after migrating:\n%s\nwant\n%s", r, got, w)
		}
	}
	v, closer, err := p.db.Get(layoutKey)
	if err != nil {
		t.Fatal(err)
	}
	if string(v) != layoutVersion {
		t.Errorf("layout after migrating = %q, want %q", v, layoutVersion)
	}
	closer.Close()
}
