package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rdgraph/rdg/internal/graph"
)

const benchBatch = 1000

// benchBatches builds n batches of benchBatch distinct edges with three
// props each; batch i covers edges [i*benchBatch, (i+1)*benchBatch) of a
// graph of 1,000 accounts and titles.
func benchBatches(n int, ts int64) []*graph.Batch {
	out := make([]*graph.Batch, n)
	for i := range out {
		b := &graph.Batch{Edges: make([]graph.Edge, benchBatch)}
		for j := range b.Edges {
			k := i*benchBatch + j
			b.Edges[j] = graph.Edge{
				EdgeRef: graph.EdgeRef{Type: "watched",
					From: graph.NodeRef{Type: "account", ID: fmt.Sprintf("member-%08d", k%1000)},
					To:   graph.NodeRef{Type: "title", ID: fmt.Sprintf("title-%08d", k/1000)}},
				Props: graph.Props{
					"device":  {Value: fmt.Sprintf("device-%d", k%7), TS: ts},
					"seconds": {Value: int64(k % 3600), TS: ts},
					"ratio":   {Value: float64(k%100) / 100, TS: ts},
				},
				FirstSeen: ts, LastSeen: ts, UpdatedAt: ts,
			}
		}
		out[i] = b
	}
	return out
}

// BenchmarkApply measures Apply of 1,000-edge batches. The first pass over
// the batches inserts, later passes update edges already stored, which is
// where a read-modify-write store pays for its reads. "rmw" is the
// alternative the store does not use — Get, graph merge, Set — kept here to
// measure the choice of a merge operator.
func BenchmarkApply(b *testing.B) {
	batches := benchBatches(128, 1_700_000_000_000)
	for _, c := range []struct {
		name  string
		sync  bool
		apply func(*Pebble, *graph.Batch) error
	}{
		{"merge/nosync", false, (*Pebble).applyCtx},
		{"merge/sync", true, (*Pebble).applyCtx},
		{"rmw/nosync", false, rmwApply},
	} {
		b.Run(c.name, func(b *testing.B) {
			p, err := Open(b.TempDir(), Sync(c.sync))
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := c.apply(p, batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "elements/s")
		})
	}
}

func (p *Pebble) applyCtx(b *graph.Batch) error { return p.Apply(context.Background(), b) }

// rmwApply is Apply done by reading each element, merging with graph's
// merge and writing the result, with an in-batch map for repeated elements.
func rmwApply(p *Pebble, b *graph.Batch) error {
	wb := p.db.NewBatch()
	defer wb.Close()
	pending := make(map[string]element, len(b.Edges))
	var names []string
	for i := range b.Edges {
		e := &b.Edges[i]
		k := string(outKey(nil, &e.EdgeRef))
		upd := element{e.Props, e.FirstSeen, e.LastSeen, e.UpdatedAt}
		cur, ok := pending[k]
		if !ok {
			v, closer, err := p.db.Get([]byte(k))
			switch {
			case errors.Is(err, pebble.ErrNotFound):
			case err != nil:
				return err
			default:
				cur, err = decodeValue(v)
				closer.Close()
				if err != nil {
					return err
				}
				ok = true
			}
		}
		if ok {
			upd = graphMerge(cur, upd)
		}
		pending[k] = upd
		if err := wb.Set(inKey(nil, &e.EdgeRef), nil, nil); err != nil {
			return err
		}
	}
	var val []byte
	for k, el := range pending {
		var err error
		if val, names, err = encodeValue(val[:0], el, names); err != nil {
			return err
		}
		if err := wb.Set([]byte(k), val, nil); err != nil {
			return err
		}
	}
	return p.db.Apply(wb, p.wo)
}

// benchStore holds 100,000 nodes and the edges of benchBatches(100), and a
// hub account with 100 out-edges and a title with 100 in-edges, compacted.
func benchStore(b *testing.B) *Pebble {
	b.Helper()
	p, err := Open(b.TempDir(), Sync(false))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	ctx := context.Background()
	for _, batch := range benchBatches(100, 1) {
		if err := p.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	hub := graph.NodeRef{Type: "account", ID: "hub"}
	popular := graph.NodeRef{Type: "title", ID: "popular"}
	var batch graph.Batch
	for i := range 100 {
		props := graph.Props{"device": {Value: "tv", TS: 1}, "seconds": {Value: int64(i), TS: 1}}
		batch.Edges = append(batch.Edges,
			graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched", From: hub, To: graph.NodeRef{Type: "title", ID: fmt.Sprintf("hub-%03d", i)}}, Props: props},
			graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched", From: graph.NodeRef{Type: "account", ID: fmt.Sprintf("fan-%03d", i)}, To: popular}, Props: props})
	}
	for i := range 100_000 {
		batch.Nodes = append(batch.Nodes, graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: fmt.Sprintf("member-%08d", i)},
			Props:     graph.Props{"country": {Value: "NL", TS: 1}, "plan": {Value: "premium", TS: 1}, "profiles": {Value: int64(3), TS: 1}},
			FirstSeen: 1, LastSeen: 1, UpdatedAt: 1})
		if len(batch.Nodes) == benchBatch {
			if err := p.Apply(ctx, &batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	compact(b, p)
	return p
}

func BenchmarkNode(b *testing.B) {
	p := benchStore(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		name   string
		prefix string
	}{{"hit", "member-"}, {"miss", "nobody-"}} {
		b.Run(c.name, func(b *testing.B) {
			refs := make([]graph.NodeRef, 4096)
			for i := range refs {
				refs[i] = graph.NodeRef{Type: "account", ID: fmt.Sprintf("%s%08d", c.prefix, r.IntN(100_000))}
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_, ok, err := p.Node(ctx, refs[i%len(refs)])
				if err != nil || ok != (c.name == "hit") {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

func BenchmarkEdges(b *testing.B) {
	p := benchStore(b)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		ref  graph.NodeRef
		dir  graph.Direction
	}{
		{"out100", graph.NodeRef{Type: "account", ID: "hub"}, graph.Out},
		{"in100", graph.NodeRef{Type: "title", ID: "popular"}, graph.In},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				err := p.Edges(ctx, c.ref, c.dir, "watched", func(*graph.Edge) bool { n++; return true })
				if err != nil || n != 100 {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "edges/s")
		})
	}
}
