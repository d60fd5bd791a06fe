package graph

import (
	"context"
	"fmt"
)

// Direction says which way along an edge a read or traversal goes,
// relative to the node it starts from.
type Direction int8

const (
	// Out follows edges whose From is the node.
	Out Direction = iota + 1
	// In follows edges whose To is the node.
	In
	// Both follows edges in either direction.
	Both
)

func (d Direction) String() string {
	switch d {
	case Out:
		return "out"
	case In:
		return "in"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", int8(d))
}

// ParseDirection parses "out", "in" or "both".
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "out", "OUT", "":
		return Out, nil
	case "in", "IN":
		return In, nil
	case "both", "BOTH":
		return Both, nil
	}
	return 0, fmt.Errorf("direction %q: want out, in or both", s)
}

// Batch is a set of element updates applied together.
type Batch struct {
	Nodes []Node
	Edges []Edge
}

// Len is the number of elements in b.
func (b *Batch) Len() int { return len(b.Nodes) + len(b.Edges) }

// Reset empties b, keeping its capacity.
func (b *Batch) Reset() { b.Nodes, b.Edges = b.Nodes[:0], b.Edges[:0] }

// Writer merges updates into a store. Apply must be idempotent and must
// merge with Node.Merge and Edge.Merge semantics, so that replaying a batch
// or applying batches out of order leaves the same stored graph. When Apply
// returns nil the whole batch is durable.
type Writer interface {
	Apply(ctx context.Context, b *Batch) error
}

// Reader is a stored graph as the queries (Traverse, ListNeighbors,
// ShortestPath, ConnectedGroup) read it, and every store implements all of
// it; the conformance suite (graph/graphtest) checks that they answer
// alike. A query makes its reads through one Session; Reads, a Reader's
// own, serve a caller that makes one or two.
type Reader interface {
	Reads
	// ReadSession opens a session for the reads of one query. A traversal
	// makes thousands of reads; a session keeps what one read set up
	// (iterators, buffers, decoded names) for the next, and gives the
	// query one consistent view of the store.
	ReadSession(ctx context.Context) (Session, error)
	// Stats computes the statistics of the live graph, keeping topK nodes
	// per node type. Its cost may grow with the store's size: callers
	// cache the result.
	Stats(ctx context.Context, topK int) (*Stats, error)
}

// Reads are the reads of a stored graph. Implementations must make Node
// one point lookup and Edges one range read, and must hide elements that
// have expired under their TTL (see TTL), so that every query honours it.
type Reads interface {
	// Node returns the stored node, and false if there is none.
	Node(ctx context.Context, ref NodeRef) (Node, bool, error)
	// Edges calls fn with each edge of ref in direction dir (Out or In;
	// Both is the caller's business) whose type is edgeType, or of every
	// type if edgeType is "", in a stable order, until fn returns false.
	// Edges returned for In keep their stored orientation: To is ref.
	Edges(ctx context.Context, ref NodeRef, dir Direction, edgeType string, fn func(*Edge) bool) error
	// EdgesAfter is Edges starting strictly after the edge after in Edges'
	// order, instead of at the beginning, as a paging cursor needs. after
	// must be an edge of ref in direction dir (of type edgeType, if that is
	// not ""): for Out, after.From is ref; for In, after.To is ref; anything
	// else is an error. It need not exist any more: the listing resumes at
	// the position it had.
	EdgesAfter(ctx context.Context, ref NodeRef, dir Direction, edgeType string, after EdgeRef, fn func(*Edge) bool) error
	// EdgeRefs is Edges without values (properties and times), for a
	// query that needs only where edges lead, as a shortest-path search
	// does until it has found its path: fn gets each edge's identity, in
	// Edges' order. A store that keeps an edge's value in one place saves a
	// lookup per in-edge this way. Expired edges are skipped, as by Edges.
	EdgeRefs(ctx context.Context, ref NodeRef, dir Direction, edgeType string, fn func(*EdgeRef) bool) error
	// Edge returns the stored edge ref, and false if there is none or it
	// has expired.
	Edge(ctx context.Context, ref EdgeRef) (Edge, bool, error)
}
