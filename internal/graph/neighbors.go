package graph

import (
	"context"
	"fmt"
	"strings"
)

// EdgeOrder compares two edges of the same node in the same direction in
// the order Reader.Edges lists them: by edge type, then far node type, then
// far node id, each bytewise. dir says which end is far.
func EdgeOrder(a, b EdgeRef, dir Direction) int {
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	fa, fb := a.To, b.To
	if dir == In {
		fa, fb = a.From, b.From
	}
	if c := strings.Compare(fa.Type, fb.Type); c != 0 {
		return c
	}
	return strings.Compare(fa.ID, fb.ID)
}

// edgesAfter lists the edges after `after`, or from the start if it is nil.
func edgesAfter(ctx context.Context, r Reads, ref NodeRef, dir Direction, edgeType string, after *EdgeRef, fn func(*Edge) bool) error {
	if after == nil {
		return r.Edges(ctx, ref, dir, edgeType, fn)
	}
	return r.EdgesAfter(ctx, ref, dir, edgeType, *after, fn)
}

// Cursor is a position in a neighbour listing: the listing continues
// strictly after edge After, which the phase (Out or In, for a Both
// listing) and the index into the request's edge types (0 when it lists
// every type) locate; a zero After means the start of that phase and type.
// Since it is a key position and not an offset, writes between pages
// neither repeat nor skip edges that exist across both.
type Cursor struct {
	Phase   Direction
	TypeIdx int
	After   EdgeRef
}

// NeighborsRequest lists the edges of one node and the nodes at their far
// ends.
type NeighborsRequest struct {
	Node      NodeRef
	Direction Direction
	// EdgeTypes are listed in this order; empty means every type in the
	// store's order.
	EdgeTypes []string
	// Filter: far node types and the edge's last_seen range (predicates
	// apply too, though the API does not offer them here).
	Filter
	// Limit is the page size; 0 means Limits.MaxResults, or no limit.
	Limit int
	// After continues a previous listing; nil starts at the beginning.
	After  *Cursor
	Limits Limits
}

// NeighborsResult is one page of neighbours: Edges[i] leads to Nodes[i].
type NeighborsResult struct {
	Edges []Edge
	Nodes []Node
	// Next continues the listing; nil when it is complete.
	Next *Cursor
	Outcome
}

// ListNeighbors returns a page of the edges of req.Node that pass the
// filter, and their far nodes. It stops when the page is full and another
// matching edge exists (LimitResults), or at a guard; Next then points just
// past the last edge it returned (for a full page) or examined (for a
// guard), so the next page continues without repeats or gaps. Fan-out is
// the number of edges examined, as for a traversal, and stops the listing.
func ListNeighbors(ctx context.Context, src Reader, req NeighborsRequest) (*NeighborsResult, error) {
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
	limit := req.Limit
	if limit == 0 {
		limit = req.Limits.MaxResults
	}
	phases := []Direction{dir}
	if dir == Both {
		phases = []Direction{Out, In}
	}
	types := req.EdgeTypes
	if len(types) == 0 {
		types = []string{""}
	}
	startPhase, startType := 0, 0
	var after *EdgeRef
	if c := req.After; c != nil {
		startPhase = -1
		for i, p := range phases {
			if p == c.Phase {
				startPhase = i
			}
		}
		if startPhase < 0 || c.TypeIdx < 0 || c.TypeIdx >= len(types) {
			return nil, fmt.Errorf("cursor: does not belong to this listing")
		}
		startType = c.TypeIdx
		if c.After.Type != "" {
			a := c.After
			after = &a
		}
	}

	out := &NeighborsResult{}
	var (
		last    Cursor // position of the last edge examined
		lastOut Cursor // position of the last edge returned
		full    bool   // the page is full; looking for one more match
		more    bool   // found another match after a full page
		fan     int
		nodeErr error
	)
scan:
	for pi := startPhase; pi < len(phases); pi++ {
		d := phases[pi]
		for ti := startType; ti < len(types); ti++ {
			startType = 0
			err := edgesAfter(b.ctx, r, req.Node, d, types[ti], after, func(e *Edge) bool {
				far := e.To
				if d == In {
					if dir == Both && e.From == e.To {
						return true // listed as an out-edge
					}
					far = e.From
				}
				if req.Limits.MaxFanout > 0 && fan >= req.Limits.MaxFanout {
					b.stop(LimitFanout)
					return false
				}
				fan++
				if !b.visit() {
					return false
				}
				if !req.edgeOK(e, far) {
					last = Cursor{Phase: d, TypeIdx: ti, After: e.EdgeRef}
					return true
				}
				if full {
					more = true
					return false
				}
				n, ok, err := b.readNodeOfEdge(r, far)
				if err != nil || !ok {
					nodeErr = err
					return false
				}
				if !req.nodeOK(&n) {
					last = Cursor{Phase: d, TypeIdx: ti, After: e.EdgeRef}
					return true
				}
				out.Edges = append(out.Edges, keep(e))
				out.Nodes = append(out.Nodes, n)
				last = Cursor{Phase: d, TypeIdx: ti, After: e.EdgeRef}
				lastOut = last
				full = limit > 0 && len(out.Edges) >= limit
				return true
			})
			after = nil
			if err == nil {
				err = nodeErr
			}
			if err = b.readError(err); err != nil {
				return nil, err
			}
			if more || b.stopped() {
				break scan
			}
		}
	}
	switch {
	case more:
		b.stop(LimitResults)
		c := lastOut
		out.Next = &c
	case b.stopped() && full:
		// A guard stopped the look for one more match: there may be more.
		c := lastOut
		out.Next = &c
	case b.stopped():
		if last.Phase == 0 {
			// Nothing examined yet: start over, from where this page did.
			if req.After != nil {
				c := *req.After
				out.Next = &c
			} else {
				out.Next = &Cursor{Phase: phases[0]}
			}
		} else {
			c := last
			out.Next = &c
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	out.Outcome = b.outcome()
	return out, nil
}

// Neighbors returns up to limit (0: no limit) edges of ref in direction dir
// with the given types, and the nodes at their far ends, in the same order.
// truncated is true when more edges exist than were returned.
func Neighbors(ctx context.Context, r Reader, ref NodeRef, dir Direction, types []string, limit int) (edges []Edge, nodes []Node, truncated bool, err error) {
	res, err := ListNeighbors(ctx, r, NeighborsRequest{Node: ref, Direction: dir, EdgeTypes: types, Limit: limit})
	if err != nil {
		return nil, nil, false, err
	}
	return res.Edges, res.Nodes, res.Partial, nil
}
