package graph

import "context"

// SessionReader is implemented by a Reader that can open a read session
// for one query. A traversal makes thousands of reads; a session keeps what
// one read set up (iterators, buffers, decoded names) for the next, and
// gives the query one consistent view of the store. The queries in this
// package open one when their Reader offers it.
type SessionReader interface {
	ReadSession(ctx context.Context) (Session, error)
}

// Session is a Reader for the reads of one query. It is not safe for
// concurrent use, and must be closed.
//
// Unlike a Reader's, a Session's Edges gives fn each edge's Props as a map
// of its own, which fn may keep without copying.
type Session interface {
	Reader
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

// openSession returns a session of r if r offers one, and r itself
// otherwise; done releases what it opened.
func openSession(ctx context.Context, r Reader) (Reader, func(), error) {
	sr, ok := r.(SessionReader)
	if !ok {
		return r, func() {}, nil
	}
	s, err := sr.ReadSession(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { _ = s.Close() }, nil
}

// keeper returns how a query keeps an edge that r passed to a callback: a
// copy of it, with a copy of its props unless r is a Session.
func keeper(r Reader) func(*Edge) Edge {
	if _, ok := r.(Session); ok {
		return func(e *Edge) Edge { return *e }
	}
	return cloneEdge
}

// eachEdgeRef is EachEdge for a query that needs only the edges' identity.
func eachEdgeRef(ctx context.Context, r Reader, ref NodeRef, dir Direction, types []string, fn func(e *EdgeRef, far NodeRef) bool) error {
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
