package job

import "github.com/rdgraph/rdg/internal/graph"

// propsPool recycles Props maps along a chain: the processor fills one
// per mapped element with properties, the dedupe buffer keeps it as the
// element's state (it takes the map rather than copying it), and the
// runner hands it back once the element is published. Without it every
// element with properties allocates a map, the largest allocation left
// on the per-record path. Not safe for concurrent use; each chain has its
// own.
type propsPool struct {
	maps []graph.Props
}

// Bounds of a pool: a few MB at most, and only small maps (one swiss
// table group), so that a pooled map never pins a big table.
const (
	maxPooledProps   = 1 << 14
	maxPooledPropLen = 8
)

// get returns an empty map for about size properties.
func (p *propsPool) get(size int) graph.Props {
	if n := len(p.maps); n > 0 {
		m := p.maps[n-1]
		p.maps[n-1] = nil
		p.maps = p.maps[:n-1]
		return m
	}
	return make(graph.Props, size)
}

// put hands m back. Nothing may refer to it any more.
func (p *propsPool) put(m graph.Props) {
	if m == nil || len(m) > maxPooledPropLen || len(p.maps) >= maxPooledProps {
		return
	}
	clear(m)
	p.maps = append(p.maps, m)
}

// recycle resets b, handing its elements' Props maps back.
func (p *propsPool) recycle(b *graph.Batch) {
	for i := range b.Nodes {
		p.put(b.Nodes[i].Props)
		b.Nodes[i] = graph.Node{} // drop references for the GC
	}
	for i := range b.Edges {
		p.put(b.Edges[i].Props)
		b.Edges[i] = graph.Edge{}
	}
	b.Reset()
}
