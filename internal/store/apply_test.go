package store

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rdgraph/rdg/internal/graph"
)

// sortKeys must order keys exactly as bytes.Compare does, whatever their
// shared prefixes, lengths and zero bytes.
func TestSortKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 0, 1, 'a', 'b', 0xff}
	for round := range 500 {
		prefix := make([]byte, r.IntN(20))
		for i := range prefix {
			prefix[i] = alphabet[r.IntN(len(alphabet))]
		}
		var buf []byte
		var ents []entry
		for range 1 + r.IntN(60) {
			e := entry{k: len(buf)}
			buf = append(buf, prefix...)
			for range r.IntN(30) {
				buf = append(buf, alphabet[r.IntN(len(alphabet))])
			}
			if r.IntN(4) == 0 && len(ents) > 0 { // duplicates
				d := ents[r.IntN(len(ents))]
				buf = append(buf[:e.k], buf[d.k:d.v]...)
			}
			e.v, e.end = len(buf), len(buf)
			ents = append(ents, e)
		}
		var sk []uint64
		var tmp []entry
		sortKeys(buf, ents, &sk, &tmp)
		keys := make([][]byte, len(ents))
		for i, e := range ents {
			keys[i] = buf[e.k:e.v]
		}
		if !slices.IsSortedFunc(keys, bytes.Compare) {
			t.Fatalf("round %d: not sorted: %q", round, keys)
		}
	}
}

// An element updated several times in one batch is stored exactly as if
// each update came in a batch of its own.
func TestApplyJoinsRepeatsInABatch(t *testing.T) {
	a, b := ref("account:m-1"), ref("title:t\x00-1")
	var batch graph.Batch
	for i := range 50 {
		ts := int64(1000 + (i*37)%50)
		batch.Nodes = append(batch.Nodes, graph.Node{NodeRef: a, Props: graph.Props{"n": {Value: int64(i), TS: ts}, "odd": {Value: i%2 == 1, TS: 1}},
			FirstSeen: ts, LastSeen: ts, UpdatedAt: ts})
		batch.Edges = append(batch.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched", From: a, To: b},
			Props: graph.Props{"pos": {Value: float64(i), TS: ts}}, FirstSeen: ts, LastSeen: ts, UpdatedAt: ts})
	}
	one := openT(t, t.TempDir())
	apply(t, one, &batch)
	each := openT(t, t.TempDir())
	for i := range batch.Nodes {
		apply(t, each, &graph.Batch{Nodes: batch.Nodes[i : i+1], Edges: batch.Edges[i : i+1]})
	}
	if got, want := dump(t, one), dump(t, each); got != want {
		t.Fatalf("one batch:\n%s\nbatch per update:\n%s", got, want)
	}
	// One key per element reaches Pebble: the node, the out-edge and the
	// in-edge.
	var sc scratch
	if err := sc.encode(&batch, nil); err != nil {
		t.Fatal(err)
	}
	wb := one.db.NewBatch()
	defer wb.Close()
	if err := sc.write(wb); err != nil {
		t.Fatal(err)
	}
	if n := wb.Count(); n != 3 {
		t.Fatalf("%d keys in the Pebble batch, want 3", n)
	}
}

func TestWriteStats(t *testing.T) {
	p := openT(t, t.TempDir())
	apply(t, p, &graph.Batch{Nodes: []graph.Node{{NodeRef: ref("account:1"), FirstSeen: 1, LastSeen: 1}}})
	if err := p.db.Flush(); err != nil {
		t.Fatal(err)
	}
	w := p.WriteStats()
	if w.WALBytes == 0 || w.FlushedBytes == 0 || w.Flushes == 0 {
		t.Fatalf("after a write and a flush: %+v", w)
	}
}

// BenchmarkSortKeys sorts the keys of a writer batch: 20,000 edges between
// 1M accounts and 300,000 titles or 700,000 devices, out- and in-keys.
func BenchmarkSortKeys(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var sc scratch
	var batch graph.Batch
	for range 20_000 {
		from := graph.NodeRef{Type: "account", ID: "m-" + strconv.Itoa(r.IntN(1_000_000))}
		to := graph.NodeRef{Type: "title", ID: "t-" + strconv.Itoa(r.IntN(300_000))}
		typ := "watched"
		if r.IntN(3) == 0 {
			to, typ = graph.NodeRef{Type: "device", ID: "d-" + strconv.Itoa(r.IntN(700_000))}, "uses"
		}
		batch.Edges = append(batch.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: typ, From: from, To: to}})
	}
	if err := sc.encode(&batch, nil); err != nil {
		b.Fatal(err)
	}
	orig := [3][]entry{}
	for i := range sc.ents {
		orig[i] = slices.Clone(sc.ents[i])
	}
	b.ResetTimer()
	for b.Loop() {
		for i := range sc.ents {
			copy(sc.ents[i], orig[i])
			sortKeys(sc.buf, sc.ents[i], &sc.keys, &sc.tmp)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*40_000), "ns/key")
}

// TestApplyDurableOnReturn: Apply returns once the batch is durable, as the
// graph writer requires before it commits offsets: a machine crash right
// after Apply keeps the batch with Sync (the default), and loses it
// without, which shows the crash is real.
func TestApplyDurableOnReturn(t *testing.T) {
	ctx := context.Background()
	for _, sync := range []bool{true, false} {
		fs := vfs.NewCrashableMem()
		p, err := Open("db", withFS(fs), Sync(sync), CacheSize(8<<20))
		if err != nil {
			t.Fatal(err)
		}
		apply(t, p, &graph.Batch{
			Nodes: []graph.Node{{NodeRef: ref("account:a"), Props: graph.Props{"plan": {Value: "basic", TS: 1}}, LastSeen: 1}},
			Edges: []graph.Edge{edgeAt("account:a", "used", "device:d", 0)},
		})
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		q, err := Open("db", withFS(crashed), Sync(sync), CacheSize(8<<20))
		if err != nil {
			t.Fatal(err)
		}
		_, nodeOK, err := q.Node(ctx, ref("account:a"))
		if err != nil {
			t.Fatal(err)
		}
		_, edgeOK, err := q.Edge(ctx, edgeAt("account:a", "used", "device:d", 0).EdgeRef)
		if err != nil {
			t.Fatal(err)
		}
		if nodeOK != sync || edgeOK != sync {
			t.Errorf("sync %v: after a crash the node is there: %v, the edge: %v", sync, nodeOK, edgeOK)
		}
		_ = q.Close()
	}
}
