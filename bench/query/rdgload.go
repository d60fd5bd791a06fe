package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/store"
)

// rdgLoadIn is what the rdg load child is asked to do.
type rdgLoadIn struct {
	Spec  spec   `json:"spec"`
	Dir   string `json:"dir"`
	Batch int    `json:"batch"`
}

// rdgLoadOut is what it did.
type rdgLoadOut struct {
	Nodes      int64   `json:"nodes"`
	Edges      int64   `json:"edges"`
	EdgesByTyp []int64 `json:"edges_by_type"`
	MaxDegree  int     `json:"max_degree"`
	LoadSecs   float64 `json:"load_seconds"`
	CompactSec float64 `json:"compact_seconds"`
}

// loadRDG stores the graph through store.Apply in batches, as the graph
// writer does (nodes first, then each source node's out-edges), then
// compacts the store so that reads meet one sorted run per level.
func loadRDG(in rdgLoadIn) (*rdgLoadOut, error) {
	ctx := context.Background()
	s := in.Spec
	st, err := store.Open(in.Dir, store.Sync(false), store.MemTableSize(64<<20))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := &rdgLoadOut{EdgesByTyp: make([]int64, len(edgeTypes))}
	deg := make([]int32, s.nodes())
	g := newGenerator(s)
	b := &graph.Batch{}
	flush := func() error {
		if err := st.Apply(ctx, b); err != nil {
			return err
		}
		b.Reset()
		return nil
	}
	t0 := time.Now()
	prog := newProgress("rdg load", int64(s.nodes()))
	for i := 0; i < s.nodes(); i++ {
		n := g.node(i)
		b.Nodes = append(b.Nodes, graph.Node{NodeRef: graph.NodeRef{Type: n.typ, ID: s.id(i)},
			FirstSeen: n.firstSeen, LastSeen: n.lastSeen, UpdatedAt: n.lastSeen,
			Props: graph.Props{n.name1: {Value: n.str1, TS: n.lastSeen}, n.name2: {Value: n.str2, TS: n.lastSeen}, n.numName: {Value: n.num, TS: n.lastSeen}}})
		out.Nodes++
		if len(b.Nodes) >= in.Batch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		prog.add(1)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	prog.done()
	prog = newProgress("rdg load edges of", int64(s.nodes()))
	for i := 0; i < s.nodes(); i++ {
		g.edges(i, func(e *genEdge) {
			names := edgeProps[e.typ]
			b.Edges = append(b.Edges, graph.Edge{
				EdgeRef:   graph.EdgeRef{Type: edgeTypes[e.typ], From: s.ref(e.from), To: s.ref(e.to)},
				FirstSeen: e.firstSeen, LastSeen: e.lastSeen, UpdatedAt: e.lastSeen,
				Props: graph.Props{names[0]: {Value: e.num, TS: e.lastSeen}, names[1]: {Value: e.flag, TS: e.lastSeen}},
			})
			out.Edges++
			out.EdgesByTyp[e.typ]++
			deg[e.from]++
			deg[e.to]++
		})
		if len(b.Edges) >= in.Batch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		prog.add(1)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	prog.done()
	out.LoadSecs = time.Since(t0).Seconds()
	for _, d := range deg {
		out.MaxDegree = max(out.MaxDegree, int(d))
	}
	fmt.Fprintf(os.Stderr, "rdg: stored %d nodes, %d edges in %.1fs; compacting\n", out.Nodes, out.Edges, out.LoadSecs)
	t0 = time.Now()
	if err := st.Compact(ctx); err != nil {
		return nil, err
	}
	out.CompactSec = time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "rdg: compacted in %.1fs\n", out.CompactSec)
	return out, nil
}

// progress prints how far a long phase has got, to stderr, every few
// seconds.
type progress struct {
	what       string
	total, n   int64
	start, at  time.Time
	every      time.Duration
	lastReport int64
}

func newProgress(what string, total int64) *progress {
	now := time.Now()
	return &progress{what: what, total: total, start: now, at: now, every: 5 * time.Second}
}

func (p *progress) add(k int64) {
	p.n += k
	if p.n-p.lastReport < 4096 {
		return
	}
	p.lastReport = p.n
	if now := time.Now(); now.Sub(p.at) >= p.every {
		p.at = now
		fmt.Fprintf(os.Stderr, "%s: %d/%d nodes (%.0f%%) in %.0fs\n", p.what, p.n, p.total, 100*float64(p.n)/float64(p.total), now.Sub(p.start).Seconds())
	}
}

func (p *progress) done() {
	fmt.Fprintf(os.Stderr, "%s: %d nodes in %.1fs\n", p.what, p.n, time.Since(p.start).Seconds())
}
