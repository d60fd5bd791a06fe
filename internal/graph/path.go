package graph

import (
	"context"
)

// PathRequest asks for a shortest path.
type PathRequest struct {
	From, To NodeRef
	// Direction is the way edges are followed from From towards To; Both
	// ignores their orientation.
	Direction Direction
	// EdgeTypes restricts the path's edges; empty means every type.
	EdgeTypes []string
	// MaxDepth is the longest path looked for, in edges (at least 1).
	MaxDepth int
	Limits   Limits
}

// PathResult is the outcome of ShortestPath. With Found false and Partial
// false, no path of at most MaxDepth edges exists.
type PathResult struct {
	Found bool
	Path  Path
	Outcome
}

// reverse is the direction that walks d's edges backwards.
func reverse(d Direction) Direction {
	switch d {
	case Out:
		return In
	case In:
		return Out
	}
	return d
}

type pathSide struct {
	dir      Direction
	prev     map[NodeRef]pathStep
	frontier []NodeRef
	depth    int
}

// pathStep is how a side of the search first reached a node: from prev,
// over edge e (its identity only, when the Reader can list edges without
// their values: the path's edges are read once it is found).
type pathStep struct {
	prev NodeRef
	e    Edge
}

// ShortestPath finds a shortest path from req.From to req.To by
// bidirectional breadth-first search: it expands, one whole level at a
// time, whichever of the two frontiers is smaller, until they meet. The
// first meeting is a shortest path: before a level of the forward side
// (at depth df) meets the backward side (at depth db), no path shorter than
// df+db+1 exists, and every meeting in that level has exactly that length.
// Among shortest paths the one met first is returned, which is
// deterministic for an unchanged graph.
//
// Node records and edge values are read only for the path found: the search
// lists edges without their values (Reader.EdgeRefs). Limits apply
// as for Traverse (MaxResults does not); a fan-out limit can hide a path,
// or a shorter one, so a result that reached one is partial.
func ShortestPath(ctx context.Context, src Reader, req PathRequest) (*PathResult, error) {
	r, err := src.ReadSession(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := newBudget(ctx, req.Limits)
	dir := req.Direction
	if dir == 0 {
		dir = Out
	}
	maxDepth := max(req.MaxDepth, 1)
	out := &PathResult{}
	if req.From == req.To {
		n, ok, err := b.readNode(r, req.From)
		if err != nil {
			return nil, err
		}
		if ok {
			out.Found = true
			out.Path = Path{Nodes: []Node{n}}
		}
		if b.err != nil {
			return nil, b.err
		}
		out.Outcome = b.outcome()
		return out, nil
	}
	fwd := &pathSide{dir: dir, prev: map[NodeRef]pathStep{req.From: {}}, frontier: []NodeRef{req.From}}
	bwd := &pathSide{dir: reverse(dir), prev: map[NodeRef]pathStep{req.To: {}}, frontier: []NodeRef{req.To}}
	var meet NodeRef
	met := false
	for !met && fwd.depth+bwd.depth < maxDepth && len(fwd.frontier) > 0 && len(bwd.frontier) > 0 {
		side, other := fwd, bwd
		if len(bwd.frontier) < len(fwd.frontier) {
			side, other = bwd, fwd
		}
		var next []NodeRef
		for _, u := range side.frontier {
			fan := 0
			visit := func(e *EdgeRef, far NodeRef) bool {
				if req.Limits.MaxFanout > 0 && fan >= req.Limits.MaxFanout {
					b.fanout = true
					return false
				}
				fan++
				if !b.visit() {
					return false
				}
				if _, ok := side.prev[far]; ok {
					return true
				}
				side.prev[far] = pathStep{prev: u, e: Edge{EdgeRef: *e}}
				if _, ok := other.prev[far]; ok {
					meet, met = far, true
					return false
				}
				next = append(next, far)
				return true
			}
			err := eachEdgeRef(b.ctx, r, u, side.dir, req.EdgeTypes, visit)
			if err = b.readError(err); err != nil {
				return nil, err
			}
			if met || b.stopped() {
				break
			}
		}
		if b.stopped() {
			break
		}
		side.frontier = next
		side.depth++
	}
	if met {
		p, err := readPath(b, r, fwd, bwd, meet, req.From, req.To)
		if err != nil {
			return nil, err
		}
		out.Found, out.Path = true, p
	}
	if b.err != nil {
		return nil, b.err
	}
	// A fan-out limit leaves the result partial even with a path found: a
	// skipped edge may have led to a shorter one.
	out.Outcome = b.outcome()
	return out, nil
}

// readPath assembles the path that the two sides of a search met at meet:
// from..meet along fwd, then meet..to along bwd, with the edges' values and
// the nodes' records read as far as the budget allows.
func readPath(b *budget, r Reads, fwd, bwd *pathSide, meet, from, to NodeRef) (Path, error) {
	var refs []NodeRef
	var edges []Edge
	for n := meet; n != from; {
		s := fwd.prev[n]
		refs = append(refs, n)
		edges = append(edges, s.e)
		n = s.prev
	}
	refs = append(refs, from)
	reverseSlice(refs)
	reverseSlice(edges)
	for n := meet; n != to; {
		s := bwd.prev[n]
		refs = append(refs, s.prev)
		edges = append(edges, s.e)
		n = s.prev
	}
	for i := range edges {
		e, ok, err := r.Edge(b.ctx, edges[i].EdgeRef)
		if err != nil {
			if err = b.readError(err); err != nil {
				return Path{}, err
			}
			break // out of time: the rest keep their identity only
		}
		if ok {
			edges[i] = e
		}
	}
	p := Path{Edges: edges, Nodes: make([]Node, 0, len(refs))}
	for _, ref := range refs {
		n, ok, err := b.readNode(r, ref)
		if err != nil {
			return Path{}, err
		}
		if !ok {
			// Out of budget for the records: the path is still a
			// path; report its remaining nodes by identity.
			n = Node{NodeRef: ref}
		}
		p.Nodes = append(p.Nodes, n)
	}
	return p, nil
}

func reverseSlice[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}
