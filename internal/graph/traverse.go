package graph

import (
	"context"
	"errors"
)

// Step is one hop of a traversal.
type Step struct {
	Direction Direction
	// EdgeTypes restricts the hop to these edge types; empty means all.
	EdgeTypes []string
}

// TraverseRequest describes a breadth-first traversal.
type TraverseRequest struct {
	Start []NodeRef
	// Steps gives the hop i its direction and edge types. A traversal
	// deeper than len(Steps) repeats the last step; no steps means every
	// edge in both directions.
	Steps []Step
	// Depth is the number of hops; 0 means len(Steps) (at least 1).
	Depth int
	// MaxNodes and MaxEdges bound the result; 0 means unlimited. Reaching
	// either stops the traversal and marks the result Truncated.
	MaxNodes int
	MaxEdges int
}

// Subgraph is the result of a traversal: every node reached (each once, in
// breadth-first order, with the hop at which it was first reached) and every
// edge followed (each once).
type Subgraph struct {
	Nodes     []Node
	Depths    []int
	Edges     []Edge
	Truncated bool
}

// ErrNoStart is returned by Traverse when the request names no start node.
var ErrNoStart = errors.New("traverse: no start node")

// Traverse walks r breadth first from req.Start. Start nodes are part of
// the result at depth 0 whether or not they are stored; a node that is
// referenced by an edge but has no stored record of its own is returned with
// only its identity.
func Traverse(ctx context.Context, r Reader, req TraverseRequest) (*Subgraph, error) {
	if len(req.Start) == 0 {
		return nil, ErrNoStart
	}
	depth := req.Depth
	if depth <= 0 {
		depth = max(len(req.Steps), 1)
	}
	out := &Subgraph{}
	seen := make(map[NodeRef]struct{})
	seenEdge := make(map[EdgeRef]struct{})
	full := func() bool {
		return req.MaxNodes > 0 && len(out.Nodes) >= req.MaxNodes ||
			req.MaxEdges > 0 && len(out.Edges) >= req.MaxEdges
	}
	addNode := func(ref NodeRef, d int) error {
		if _, ok := seen[ref]; ok {
			return nil
		}
		seen[ref] = struct{}{}
		n, ok, err := r.Node(ctx, ref)
		if err != nil {
			return err
		}
		if !ok {
			n = Node{NodeRef: ref}
		}
		out.Nodes = append(out.Nodes, n)
		out.Depths = append(out.Depths, d)
		return nil
	}
	var frontier []NodeRef
	for _, s := range req.Start {
		if _, ok := seen[s]; ok {
			continue
		}
		if full() {
			out.Truncated = true
			return out, nil
		}
		if err := addNode(s, 0); err != nil {
			return nil, err
		}
		frontier = append(frontier, s)
	}
	for hop := 0; hop < depth && len(frontier) > 0; hop++ {
		step := Step{Direction: Both}
		if len(req.Steps) > 0 {
			step = req.Steps[min(hop, len(req.Steps)-1)]
		}
		var next []NodeRef
		for _, from := range frontier {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var walkErr error
			visit := func(e *Edge, far NodeRef) bool {
				if full() {
					out.Truncated = true
					return false
				}
				if _, ok := seenEdge[e.EdgeRef]; !ok {
					seenEdge[e.EdgeRef] = struct{}{}
					out.Edges = append(out.Edges, cloneEdge(e))
				}
				if _, ok := seen[far]; !ok {
					if full() {
						out.Truncated = true
						return false
					}
					if walkErr = addNode(far, hop+1); walkErr != nil {
						return false
					}
					next = append(next, far)
				}
				return true
			}
			err := EachEdge(ctx, r, from, step.Direction, step.EdgeTypes, visit)
			if err == nil {
				err = walkErr
			}
			if err != nil {
				return nil, err
			}
			if out.Truncated {
				return out, nil
			}
		}
		frontier = next
	}
	return out, nil
}

// EachEdge calls fn with every edge of ref in direction dir whose type is in
// types (all types if types is empty), together with the node at its other
// end, until fn returns false. With Both, out-edges come first. A self-loop
// followed in Both directions is reported once.
func EachEdge(ctx context.Context, r Reader, ref NodeRef, dir Direction, types []string, fn func(e *Edge, far NodeRef) bool) error {
	if dir == 0 {
		dir = Out
	}
	stopped := false
	walk := func(d Direction) error {
		each := func(t string) error {
			return r.Edges(ctx, ref, d, t, func(e *Edge) bool {
				far := e.To
				if d == In {
					if dir == Both && e.From == e.To {
						return true // already seen as an out-edge
					}
					far = e.From
				}
				if !fn(e, far) {
					stopped = true
					return false
				}
				return true
			})
		}
		if len(types) == 0 {
			return each("")
		}
		for _, t := range types {
			if err := each(t); err != nil || stopped {
				return err
			}
		}
		return nil
	}
	if dir == Out || dir == Both {
		if err := walk(Out); err != nil || stopped {
			return err
		}
	}
	if dir == In || dir == Both {
		return walk(In)
	}
	return nil
}

// cloneEdge copies e so that a Reader may reuse the memory it passes to
// callbacks.
func cloneEdge(e *Edge) Edge {
	c := *e
	if e.Props != nil {
		c.Props = make(Props, len(e.Props))
		for k, v := range e.Props {
			c.Props[k] = v
		}
	}
	return c
}

// Neighbors returns up to limit (0: no limit) edges of ref in direction dir
// with the given types, and the nodes at their far ends, in the same order.
// truncated is true when more edges exist than were returned.
func Neighbors(ctx context.Context, r Reader, ref NodeRef, dir Direction, types []string, limit int) (edges []Edge, nodes []Node, truncated bool, err error) {
	var nodeErr error
	err = EachEdge(ctx, r, ref, dir, types, func(e *Edge, far NodeRef) bool {
		if limit > 0 && len(edges) >= limit {
			truncated = true
			return false
		}
		n, ok, err := r.Node(ctx, far)
		if err != nil {
			nodeErr = err
			return false
		}
		if !ok {
			n = Node{NodeRef: far}
		}
		edges = append(edges, cloneEdge(e))
		nodes = append(nodes, n)
		return true
	})
	if err == nil {
		err = nodeErr
	}
	if err != nil {
		return nil, nil, false, err
	}
	return edges, nodes, truncated, nil
}
