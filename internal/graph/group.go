package graph

import "context"

// GroupRequest asks for the connected group of a node.
type GroupRequest struct {
	Node NodeRef
	// EdgeTypes are the edges that join a group, followed in both
	// directions; empty means every type.
	EdgeTypes []string
	// Limits.MaxResults bounds the group's nodes.
	Limits Limits
}

// GroupResult is a connected group: its nodes in breadth-first order from
// the request's node (which comes first), and every edge of the chosen
// types between two of them, each once.
type GroupResult struct {
	Nodes []Node
	Edges []Edge
	Outcome
}

// ConnectedGroup returns the nodes connected to req.Node over req.EdgeTypes
// in either direction — its connected component in the undirected graph of
// those edges — and the edges that join them. With a limit reached the
// result is partial: the group is larger than len(Nodes), and edges to the
// nodes left out are not returned.
func ConnectedGroup(ctx context.Context, src Reader, req GroupRequest) (*GroupResult, error) {
	r, err := src.ReadSession(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := newBudget(ctx, req.Limits)
	out := &GroupResult{}
	first, ok, err := b.readNode(r, req.Node)
	if err != nil {
		return nil, err
	}
	if !ok {
		if b.err != nil {
			return nil, b.err
		}
		out.Outcome = b.outcome()
		return out, nil
	}
	idx := map[NodeRef]int{req.Node: 0}
	out.Nodes = append(out.Nodes, first)
	seenEdge := map[EdgeRef]struct{}{}
	maxNodes := req.Limits.MaxResults
	for i := 0; i < len(out.Nodes) && !b.stopped(); i++ {
		fan := 0
		var walkErr error
		err := EachEdge(b.ctx, r, out.Nodes[i].NodeRef, Both, req.EdgeTypes, func(e *Edge, far NodeRef) bool {
			if req.Limits.MaxFanout > 0 && fan >= req.Limits.MaxFanout {
				b.fanout = true
				return false
			}
			fan++
			if !b.visit() {
				return false
			}
			if _, ok := idx[far]; !ok {
				if maxNodes > 0 && len(out.Nodes) >= maxNodes {
					b.stop(LimitResults)
					return false
				}
				n, ok, err := b.readNode(r, far)
				if err != nil || !ok {
					walkErr = err
					return false
				}
				idx[far] = len(out.Nodes)
				out.Nodes = append(out.Nodes, n)
			}
			if _, ok := seenEdge[e.EdgeRef]; !ok {
				seenEdge[e.EdgeRef] = struct{}{}
				out.Edges = append(out.Edges, keep(e))
			}
			return true
		})
		if err == nil {
			err = walkErr
		}
		if err = b.readError(err); err != nil {
			return nil, err
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	out.Outcome = b.outcome()
	return out, nil
}
