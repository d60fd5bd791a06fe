// Package memstore is an in-memory graph store: the reference
// implementation of the seam between the graph engine and a store
// (graph.Writer, and graph.Reader with its sessions and statistics),
// kept in maps and slices so that what a store must do is readable in a few
// hundred lines. The conformance suite (internal/graph/graphtest) runs the
// same data-driven files against it and against the Pebble store, and their
// answers must be identical.
//
// It owns no encoding and no persistence, and must not know any store
// backend: merges are graph.Node.Merge and graph.Edge.Merge, expiry is
// graph.TTL, and edge order is graph.EdgeOrder.
package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
)

// Store is a graph kept in memory. It is safe for concurrent use; a read
// copies what it returns, so callbacks may call back into the store.
type Store struct {
	ttl graph.TTL
	now func() time.Time

	mu    sync.RWMutex
	nodes map[graph.NodeRef]graph.Node
	edges map[graph.EdgeRef]graph.Edge
	// out and in index edges by their From and To node.
	out, in map[graph.NodeRef]map[graph.EdgeRef]struct{}
}

// New returns an empty store that hides elements expired under ttl (nil:
// nothing expires) at the time now returns (nil: time.Now).
func New(ttl graph.TTL, now func() time.Time) (*Store, error) {
	if err := ttl.Validate(); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Store{
		ttl: ttl, now: now,
		nodes: map[graph.NodeRef]graph.Node{},
		edges: map[graph.EdgeRef]graph.Edge{},
		out:   map[graph.NodeRef]map[graph.EdgeRef]struct{}{},
		in:    map[graph.NodeRef]map[graph.EdgeRef]struct{}{},
	}, nil
}

// Apply validates every element of b, normalises its property values, and
// merges them in: all of b or, on error, none of it.
func (s *Store) Apply(ctx context.Context, b *graph.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b == nil || b.Len() == 0 {
		return nil
	}
	nodes := make([]graph.Node, len(b.Nodes))
	for i, n := range b.Nodes {
		if err := n.NodeRef.Validate(); err != nil {
			return fmt.Errorf("memstore: node %d: %w", i, err)
		}
		props, err := normalize(n.Props)
		if err != nil {
			return fmt.Errorf("memstore: node %s: %w", n.NodeRef, err)
		}
		n.Props, n.Raw = props, nil
		nodes[i] = n
	}
	edges := make([]graph.Edge, len(b.Edges))
	for i, e := range b.Edges {
		if err := e.EdgeRef.Validate(); err != nil {
			return fmt.Errorf("memstore: edge %d: %w", i, err)
		}
		props, err := normalize(e.Props)
		if err != nil {
			return fmt.Errorf("memstore: edge %s: %w", e.EdgeRef, err)
		}
		e.Props, e.Raw = props, nil
		edges[i] = e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range nodes {
		if old, ok := s.nodes[n.NodeRef]; ok {
			old.Merge(&n)
			n = old
		}
		s.nodes[n.NodeRef] = n
	}
	for _, e := range edges {
		if old, ok := s.edges[e.EdgeRef]; ok {
			old.Merge(&e)
			e = old
		}
		s.edges[e.EdgeRef] = e
		index(s.out, e.From, e.EdgeRef)
		index(s.in, e.To, e.EdgeRef)
	}
	return nil
}

func index(m map[graph.NodeRef]map[graph.EdgeRef]struct{}, n graph.NodeRef, e graph.EdgeRef) {
	set := m[n]
	if set == nil {
		set = map[graph.EdgeRef]struct{}{}
		m[n] = set
	}
	set[e] = struct{}{}
}

// normalize returns a copy of ps with every value in its canonical kind.
func normalize(ps graph.Props) (graph.Props, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make(graph.Props, len(ps))
	for k, p := range ps {
		if k == "" {
			return nil, fmt.Errorf("empty property name")
		}
		v, err := graph.NormalizeValue(p.Value)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", k, err)
		}
		out[k] = graph.Prop{Value: v, TS: p.TS}
	}
	return out, nil
}

func cloneProps(ps graph.Props) graph.Props {
	if ps == nil {
		return nil
	}
	out := make(graph.Props, len(ps))
	for k, p := range ps {
		out[k] = p
	}
	return out
}

// Node returns the node ref; an expired one is not found.
func (s *Store) Node(ctx context.Context, ref graph.NodeRef) (graph.Node, bool, error) {
	if err := ref.Validate(); err != nil {
		return graph.Node{}, false, fmt.Errorf("memstore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return graph.Node{}, false, err
	}
	cut := s.ttl.Cutoffs(s.now())
	s.mu.RLock()
	n, ok := s.nodes[ref]
	s.mu.RUnlock()
	if !ok || n.LastSeen < cut.Node(ref.Type) {
		return graph.Node{}, false, nil
	}
	n.Props = cloneProps(n.Props)
	return n, true, nil
}

// Edge returns the edge ref; an expired one is not found.
func (s *Store) Edge(ctx context.Context, ref graph.EdgeRef) (graph.Edge, bool, error) {
	if err := ctx.Err(); err != nil {
		return graph.Edge{}, false, err
	}
	cut := s.ttl.Cutoffs(s.now())
	s.mu.RLock()
	e, ok := s.edges[ref]
	s.mu.RUnlock()
	if !ok || e.LastSeen < cut.Edge(ref.Type, ref.From.Type, ref.To.Type) {
		return graph.Edge{}, false, nil
	}
	e.Props = cloneProps(e.Props)
	return e, true, nil
}

// list returns the live edges of ref in direction dir of type edgeType
// ("" for every type) in graph.EdgeOrder, each with props of its own.
func (s *Store) list(ref graph.NodeRef, dir graph.Direction, edgeType string) ([]graph.Edge, error) {
	var idx map[graph.NodeRef]map[graph.EdgeRef]struct{}
	switch dir {
	case graph.Out:
		idx = s.out
	case graph.In:
		idx = s.in
	default:
		return nil, fmt.Errorf("memstore: edges in direction %s: want out or in", dir)
	}
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	if edgeType != "" {
		if err := graph.ValidTypeName(edgeType); err != nil {
			return nil, fmt.Errorf("memstore: %w", err)
		}
	}
	cut := s.ttl.Cutoffs(s.now())
	s.mu.RLock()
	var es []graph.Edge
	for r := range idx[ref] {
		if edgeType != "" && r.Type != edgeType {
			continue
		}
		e := s.edges[r]
		if e.LastSeen < cut.Edge(r.Type, r.From.Type, r.To.Type) {
			continue
		}
		e.Props = cloneProps(e.Props)
		es = append(es, e)
	}
	s.mu.RUnlock()
	slices.SortFunc(es, func(a, b graph.Edge) int { return graph.EdgeOrder(a.EdgeRef, b.EdgeRef, dir) })
	return es, nil
}

// Edges calls fn with the live edges of ref in direction dir (graph.Out or
// graph.In) of type edgeType, or of every type if it is "", in
// graph.EdgeOrder, until fn returns false.
func (s *Store) Edges(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, fn func(*graph.Edge) bool) error {
	return s.edgesFrom(ctx, ref, dir, edgeType, nil, fn)
}

// EdgesAfter is Edges resuming strictly after the position of after in
// graph.EdgeOrder, whether or not after still exists.
func (s *Store) EdgesAfter(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, after graph.EdgeRef, fn func(*graph.Edge) bool) error {
	return s.edgesFrom(ctx, ref, dir, edgeType, &after, fn)
}

func (s *Store) edgesFrom(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, after *graph.EdgeRef, fn func(*graph.Edge) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if after != nil {
		if err := checkAfter(ref, dir, edgeType, *after); err != nil {
			return err
		}
	}
	es, err := s.list(ref, dir, edgeType)
	if err != nil {
		return err
	}
	for i := range es {
		if after != nil && graph.EdgeOrder(es[i].EdgeRef, *after, dir) <= 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(&es[i]) {
			return nil
		}
	}
	return nil
}

// checkAfter rejects a position that is not one of the listing's: an edge
// of ref in direction dir, of type edgeType if that is not "".
func checkAfter(ref graph.NodeRef, dir graph.Direction, edgeType string, after graph.EdgeRef) error {
	switch {
	case dir == graph.Out && after.From != ref, dir == graph.In && after.To != ref:
		return fmt.Errorf("memstore: edges of %s after %s: not an edge of the node in direction %s", ref, after, dir)
	case edgeType != "" && after.Type != edgeType:
		return fmt.Errorf("memstore: edges of %s after %s: not of type %s", ref, after, edgeType)
	}
	if err := after.Validate(); err != nil {
		return fmt.Errorf("memstore: edges of %s after: %w", ref, err)
	}
	return nil
}

// EdgeRefs lists edges as Edges does, without their values.
func (s *Store) EdgeRefs(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, fn func(*graph.EdgeRef) bool) error {
	return s.Edges(ctx, ref, dir, edgeType, func(e *graph.Edge) bool { return fn(&e.EdgeRef) })
}

// ReadSession returns a session over s. Every read of s already copies
// what it returns, so a session is s itself with a Close; it sees writes
// made while it is open, which a query over a store written concurrently
// must tolerate anyway.
func (s *Store) ReadSession(ctx context.Context) (graph.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return session{s}, nil
}

type session struct{ *Store }

func (session) Close() error { return nil }

// Stats counts the live nodes and edges per type and keeps, per node type,
// the topK nodes with the most live edges (a node that only edges name
// counts too).
func (s *Store) Stats(ctx context.Context, topK int) (*graph.Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	cut := s.ttl.Cutoffs(now)
	st := &graph.Stats{Nodes: map[string]int64{}, Edges: map[string]int64{}, TopDegree: map[string][]graph.NodeDegree{}, ComputedAt: now}
	degrees := map[graph.NodeRef]*graph.NodeDegree{}
	degree := func(r graph.NodeRef) *graph.NodeDegree {
		d := degrees[r]
		if d == nil {
			d = &graph.NodeDegree{Node: r}
			degrees[r] = d
		}
		return d
	}
	s.mu.RLock()
	for r, n := range s.nodes {
		if n.LastSeen >= cut.Node(r.Type) {
			st.Nodes[r.Type]++
		}
	}
	for r, e := range s.edges {
		if e.LastSeen < cut.Edge(r.Type, r.From.Type, r.To.Type) {
			continue
		}
		st.Edges[r.Type]++
		degree(r.From).Out++
		degree(r.To).In++
	}
	s.mu.RUnlock()
	tops := map[string]*graph.TopK{}
	for r, d := range degrees {
		top := tops[r.Type]
		if top == nil {
			top = graph.NewTopK(topK)
			tops[r.Type] = top
		}
		top.Offer(*d)
	}
	for t, top := range tops {
		if sorted := top.Sorted(); len(sorted) > 0 {
			st.TopDegree[t] = sorted
		}
	}
	return st, nil
}

// The seam the queries use, checked at compile time.
var (
	_ graph.Writer  = (*Store)(nil)
	_ graph.Reader  = (*Store)(nil)
	_ graph.Session = session{}
)
