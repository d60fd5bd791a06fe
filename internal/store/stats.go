package store

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rdgraph/rdg/internal/graph"
)

// Stats computes graph statistics with one pass over each keyspace — the
// counts are not maintained on write, because a blind write does not know
// whether its element is new (see Counts). Node counts come from the 'n'
// keys; edge counts and out-degrees from the 'o' keys, which are grouped by
// source node; in-degrees from the 'i' keys, grouped by target node. Both
// groupings are in the same node order, so a merge of the two runs gives
// each node's degree with O(1) memory, and a bounded heap per node type
// keeps the topK. Expired elements do not count; deciding that for an
// in-edge of a type with a TTL takes a point lookup of its 'o' entry.
//
// The cost is proportional to the number of keys (about a second per few
// million keys on one core), so callers should cache the result: the
// serving layer does.
func (p *Pebble) Stats(ctx context.Context, topK int) (*graph.Stats, error) {
	ctx, done, err := p.longRead(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	cut := p.cutoffs()
	st := &graph.Stats{
		Nodes:      map[string]int64{},
		Edges:      map[string]int64{},
		TopDegree:  map[string][]graph.NodeDegree{},
		ComputedAt: p.now(),
	}
	// Nodes.
	var types interner
	err = p.scan(ctx, []byte{kindNode}, nil, func(it *pebble.Iterator) (bool, error) {
		raw, _, err := splitComponent(it.Key()[1:])
		if err != nil {
			return false, err
		}
		t := types.get(raw)
		if c := cut.Node(t); c != graph.NoExpiry {
			v, err := it.ValueAndErr()
			if err != nil {
				return false, err
			}
			r := valueReader{v}
			_, last, _, err := r.header()
			if err != nil {
				return false, fmt.Errorf("%s: %w", prettyKey(it.Key()), err)
			}
			if last < c {
				return true, nil
			}
		}
		st.Nodes[t]++
		return true, nil
	})
	if err != nil {
		return nil, err
	}

	// Degrees.
	out, err := p.newRunIter(ctx, kindOut, cut, st.Edges)
	if err != nil {
		return nil, err
	}
	defer out.close()
	in, err := p.newRunIter(ctx, kindIn, cut, nil)
	if err != nil {
		return nil, err
	}
	defer in.close()
	tops := map[string]*graph.TopK{}
	oOK, iOK := out.next(), in.next()
	for oOK || iOK {
		c := 0
		switch {
		case !oOK:
			c = 1
		case !iOK:
			c = -1
		default:
			c = bytes.Compare(out.node, in.node)
		}
		var d graph.NodeDegree
		src := out
		if c <= 0 {
			d.Out = out.count
		}
		if c >= 0 {
			d.In = in.count
			src = in
		}
		top := tops[src.typ]
		if top == nil {
			top = graph.NewTopK(topK)
			tops[src.typ] = top
		}
		if top.Accepts(d.Degree()) {
			d.Node = graph.NodeRef{Type: src.typ, ID: unescape(src.idRaw)}
			top.Offer(d)
		}
		if c <= 0 {
			oOK = out.next()
		}
		if c >= 0 {
			iOK = in.next()
		}
	}
	if err := out.err; err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	if err := in.err; err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	for t, top := range tops {
		if s := top.Sorted(); len(s) > 0 {
			st.TopDegree[t] = s
		}
	}
	return st, nil
}

// runIter walks the 'o' or 'i' keyspace one node at a time, counting each
// node's live edges.
type runIter struct {
	ctx   context.Context
	kind  byte
	it    *pebble.Iterator
	cut   graph.Cutoffs
	valid bool
	err   error
	n     int

	// The current run: the node's raw components (type and id, as in the
	// key), its type, and its live edge count.
	node, idRaw []byte
	typ         string
	count       int64

	types, edgeTypes, farTypes interner
	edges                      map[string]int64 // edge counts, for 'o'
}

func (p *Pebble) newRunIter(ctx context.Context, kind byte, cut graph.Cutoffs, edges map[string]int64) (*runIter, error) {
	it, err := p.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{kind}, UpperBound: []byte{kind + 1}})
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	r := &runIter{ctx: ctx, kind: kind, it: it, cut: cut, edges: edges}
	r.valid = it.First()
	return r, nil
}

func (r *runIter) close() {
	_ = r.it.Close()
}

// next moves to the next node with at least one live edge.
func (r *runIter) next() bool {
	for r.valid && r.err == nil {
		k := r.it.Key()
		traw, rest, err := splitComponent(k[1:])
		if err != nil {
			r.err = err
			return false
		}
		iraw, _, err := splitComponent(rest)
		if err != nil {
			r.err = err
			return false
		}
		r.node = append(r.node[:0], k[1:1+len(traw)+len(iraw)]...)
		r.idRaw = r.node[len(traw):]
		r.typ = r.types.get(traw)
		r.count = 0
		for r.valid {
			k := r.it.Key()
			if !bytes.HasPrefix(k[1:], r.node) {
				break
			}
			if r.n++; r.n%ctxCheckEvery == 0 {
				if r.err = r.ctx.Err(); r.err != nil {
					return false
				}
			}
			live, err := r.live(k[1+len(r.node):])
			if err != nil {
				r.err = fmt.Errorf("%s: %w", prettyKey(k), err)
				return false
			}
			if live {
				r.count++
			}
			r.valid = r.it.Next()
		}
		if r.err = r.it.Error(); r.err != nil {
			return false
		}
		if r.count > 0 {
			return true
		}
	}
	return false
}

// live decides whether the edge of the current key is live; rest is the key
// after the node's components: edgeType farType farID.
func (r *runIter) live(rest []byte) (bool, error) {
	eraw, rest, err := splitComponent(rest)
	if err != nil {
		return false, err
	}
	fraw, _, err := splitComponent(rest)
	if err != nil {
		return false, err
	}
	et := r.edgeTypes.get(eraw)
	cutoff := graph.NoExpiry
	if !r.cut.Empty() {
		cutoff = r.cut.Edge(et, r.typ, r.farTypes.get(fraw))
	}
	if cutoff == graph.NoExpiry {
		if r.edges != nil {
			r.edges[et]++
		}
		return true, nil
	}
	v, err := r.it.ValueAndErr()
	if err != nil {
		return false, err
	}
	vr := valueReader{v}
	_, last, _, err := vr.header()
	if err != nil {
		return false, err
	}
	if last < cutoff {
		return false, nil
	}
	if r.edges != nil {
		r.edges[et]++
	}
	return true, nil
}

// CacheStats describes Pebble's block cache.
type CacheStats struct {
	// Size is the bytes of blocks it holds, Count how many.
	Size, Count int64
	// Hits and Misses count block reads since the store was opened; a miss
	// reads the block from its file (or the operating system's cache of
	// it) and decompresses it.
	Hits, Misses int64
}

// CacheStats reports the block cache's state, to size it (see CacheSize):
// reads that miss cost several times as much as reads that hit.
func (p *Pebble) CacheStats() CacheStats {
	m := p.db.Metrics().BlockCache
	return CacheStats{Size: m.Size, Count: m.Count, Hits: m.Hits, Misses: m.Misses}
}

// TableBytes is the size of the store's live tables: what it holds, without
// write-ahead logs and files that compactions made obsolete and Pebble has
// yet to delete.
func (p *Pebble) TableBytes() int64 { return p.db.Metrics().Total().TablesSize }
