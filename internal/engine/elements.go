package engine

import "github.com/rdgraph/rdg/internal/graph"

// The chain's hot path carries mapped elements with their properties as a
// slice sorted by name (graph.NamedProp) rather than as a graph.Props map:
// a job maps each record to a handful of elements with a handful of
// properties each, and filling, merging, iterating and clearing a map per
// element cost about a fifth of the chain. The names come from the job's
// compiled fields, sorted once at compile time, so a mapped element's
// properties are sorted as they are evaluated, two updates of one element
// carry the same names, and merging them is a walk over two short lists.

// node is a mapped node; its Props map is nil, its properties are props.
type node struct {
	graph.Node
	props []graph.NamedProp
}

// edge is a mapped edge, as node.
type edge struct {
	graph.Edge
	props []graph.NamedProp
}

// elements is the nodes and edges one record mapped to, or that the dedupe
// buffer emitted.
type Elements struct {
	nodes []node
	edges []edge
	// arena holds the properties of a record's elements back to back; each
	// element's props is a capacity-capped window of it.
	arena []graph.NamedProp
}

// reset empties b, keeping its memory. (Old elements stay referenced by
// the slices' spare capacity until they are overwritten: a bounded amount,
// the most one record or one emission produced.)
func (b *Elements) reset() {
	b.nodes, b.edges, b.arena = b.nodes[:0], b.edges[:0], b.arena[:0]
}

// clearProps zeroes b's properties. What the buffer emits shares their
// memory with its slots, which keep it for their next lives: once
// published, the values must not stay reachable from free slots (a
// decoded string per property, otherwise kept alive until the slot is
// reused).
func (b *Elements) clearProps() {
	for i := range b.nodes {
		clear(b.nodes[i].props)
	}
	for i := range b.edges {
		clear(b.edges[i].props)
	}
}

func (b *Elements) len() int { return len(b.nodes) + len(b.edges) }

// appendTo appends b's elements to out as graph elements, each with a
// Props map of its own.
func (b *Elements) appendTo(out *graph.Batch) {
	for i := range b.nodes {
		n := b.nodes[i].Node
		n.Props = propsMap(b.nodes[i].props)
		out.Nodes = append(out.Nodes, n)
	}
	for i := range b.edges {
		e := b.edges[i].Edge
		e.Props = propsMap(b.edges[i].props)
		out.Edges = append(out.Edges, e)
	}
}

// propsMap is props as a graph.Props map; nil if there are none.
func propsMap(props []graph.NamedProp) graph.Props {
	if len(props) == 0 {
		return nil
	}
	m := make(graph.Props, len(props))
	for _, p := range props {
		m[p.Name] = p.Prop
	}
	return m
}

// Len is the number of elements in b.
func (b *Elements) Len() int { return b.len() }

// NumNodes is the number of nodes in b.
func (b *Elements) NumNodes() int { return len(b.nodes) }

// NumEdges is the number of edges in b.
func (b *Elements) NumEdges() int { return len(b.edges) }

// Node is b's node i, its Props map nil, with its properties sorted by name.
// Both are valid until b is next reset.
func (b *Elements) Node(i int) (*graph.Node, []graph.NamedProp) {
	return &b.nodes[i].Node, b.nodes[i].props
}

// Edge is b's edge i, as Node.
func (b *Elements) Edge(i int) (*graph.Edge, []graph.NamedProp) {
	return &b.edges[i].Edge, b.edges[i].props
}

// AppendTo appends b's elements to out as graph elements, each with a
// Props map of its own.
func (b *Elements) AppendTo(out *graph.Batch) { b.appendTo(out) }
