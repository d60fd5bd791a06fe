package graph

import "context"

// Session is the reads of one query (see Reader.ReadSession). It is not safe for
// concurrent use, and must be closed.
//
// Unlike a Reader's, a Session's Edges gives fn each edge's Props as a map
// of its own, which fn may keep without copying.
type Session interface {
	Reads
	Close() error
}

// RawPropsReader is implemented by a Session that can leave properties
// encoded: building a map per node and edge is a large part of a big
// traversal's cost, wasted when the answer is only re-encoded for the
// wire.
type RawPropsReader interface {
	// ReadRawProps makes the session's Node, Edges and EdgesAfter fill Raw
	// instead of Props from then on, with memory of their own (valid after
	// the session is closed), and returns the decoder of Raw.
	ReadRawProps() PropsDecoder
}

// keep is how a query keeps an edge a Session passed to a callback: a
// Session's edges have props of their own, so a copy of the edge will do.
func keep(e *Edge) Edge { return *e }

// eachEdgeRef is EachEdge for a query that needs only the edges' identity.
func eachEdgeRef(ctx context.Context, r Reads, ref NodeRef, dir Direction, types []string, fn func(e *EdgeRef, far NodeRef) bool) error {
	return eachListing(dir, types, func(d Direction, t string, stopped *bool) error {
		return r.EdgeRefs(ctx, ref, d, t, func(e *EdgeRef) bool {
			far, ok := farEnd(e, dir, d)
			if ok && !fn(e, far) {
				*stopped = true
				return false
			}
			return true
		})
	})
}
