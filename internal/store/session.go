package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rdgraph/rdg/internal/graph"
)

var (
	_ graph.Session = (*Session)(nil)
)

// Session reads the store for one query (graph.Reader.ReadSession). A query
// makes thousands of reads; opening a Pebble iterator for each, as the
// Pebble methods must, costs more than many of the reads themselves. A
// session instead keeps one iterator per keyspace and moves it: a node
// read or an in-edge's value lookup is a SeekPrefixGE on a positioned
// iterator (bloom filters apply, the prefix being the whole key, and
// successive seeks to increasing keys, as an in-edge listing makes, step
// forward instead of starting over), and a range read resets an idle
// iterator's bounds.
//
// All of a session's reads see one snapshot of the store, and the TTL
// cutoffs of the moment it was opened: a query sees the graph as of one
// instant, which a query built from independent reads could not promise.
//
// A session is not safe for concurrent use. Close it when the query is
// done: it pins the snapshot's data until then.
type Session struct {
	p    *Pebble
	src  iterSource
	snap *pebble.Snapshot // nil for a session of one Pebble method call
	cut  graph.Cutoffs

	nodes *pebble.Iterator // 'n' keyspace, point lookups
	outs  *pebble.Iterator // 'o' keyspace, point lookups of in-edges' values
	*readScratch
	closed bool
	// raw: values are returned encoded, copied into rawBuf (raw.go).
	raw    bool
	rawBuf []byte
}

// readScratch is what a closed session leaves to the next one.
type readScratch struct {
	idle  []*pebble.Iterator // range iterators not in use
	all   []*pebble.Iterator // every iterator, to close
	key   []byte
	okey  []byte
	names names
}

var readScratchPool = sync.Pool{New: func() any { return &readScratch{names: names{m: map[string]string{}}} }}

// iterSource is a *pebble.DB or a *pebble.Snapshot.
type iterSource interface {
	NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*pebble.Iterator, error)
}

// ReadSession opens a read session (graph.Reader.ReadSession). It fails with
// ErrClosed after Close, and Close waits for open sessions to be closed.
func (p *Pebble) ReadSession(ctx context.Context) (graph.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.closeMu.RLock()
	if p.closed.Load() {
		p.closeMu.RUnlock()
		return nil, ErrClosed
	}
	s := p.oneCall()
	s.snap = p.db.NewSnapshot()
	s.src = s.snap
	return s, nil
}

// oneCall returns a session for one call of a Pebble method, which reads
// the live store as Pebble's methods always have: no snapshot, and no hold
// on Close, which a caller nesting reads inside a callback could deadlock.
func (p *Pebble) oneCall() *Session {
	return &Session{p: p, src: p.db, cut: p.cutoffs(), readScratch: readScratchPool.Get().(*readScratch)}
}

// Close releases the session's iterators and snapshot.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	for _, it := range s.all {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}
	if s.snap != nil {
		if cerr := s.snap.Close(); err == nil {
			err = cerr
		}
		s.p.closeMu.RUnlock()
	}
	sc := s.readScratch
	s.readScratch, s.nodes, s.outs = nil, nil, nil
	clear(sc.all)
	clear(sc.idle)
	sc.all, sc.idle = sc.all[:0], sc.idle[:0]
	if len(sc.names.m) >= maxNames || len(sc.names.values) >= maxNames {
		sc.names = names{m: map[string]string{}}
	}
	readScratchPool.Put(sc)
	if err != nil {
		return fmt.Errorf("store: close read session: %w", err)
	}
	return nil
}

func (s *Session) newIter(ctx context.Context, lower, upper []byte) (*pebble.Iterator, error) {
	it, err := s.src.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	s.all = append(s.all, it)
	return it, nil
}

// rangeIter returns an iterator over [lower, upper); release gives it back.
// A range read may start another inside its callback (a query reading a
// far node's edges while listing these), so each gets its own.
func (s *Session) rangeIter(ctx context.Context, lower, upper []byte) (*pebble.Iterator, error) {
	if n := len(s.idle); n > 0 {
		it := s.idle[n-1]
		s.idle = s.idle[:n-1]
		it.SetBounds(lower, upper)
		return it, nil
	}
	return s.newIter(ctx, lower, upper)
}

func (s *Session) release(it *pebble.Iterator) { s.idle = append(s.idle, it) }

// seek positions it at key with SeekPrefixGE and returns key's value, or
// false if key is not stored.
func seek(it *pebble.Iterator, key []byte) ([]byte, bool, error) {
	if !it.SeekPrefixGE(key) || !bytes.Equal(it.Key(), key) {
		return nil, false, it.Error()
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Node is Pebble.Node within the session.
func (s *Session) Node(ctx context.Context, ref graph.NodeRef) (graph.Node, bool, error) {
	if err := ref.Validate(); err != nil {
		return graph.Node{}, false, fmt.Errorf("store: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return graph.Node{}, false, err
	}
	if s.nodes == nil {
		it, err := s.newIter(ctx, []byte{kindNode}, []byte{kindNode + 1})
		if err != nil {
			return graph.Node{}, false, fmt.Errorf("store: read %s: %w", ref, err)
		}
		s.nodes = it
	}
	s.key = nodeKey(s.key[:0], ref)
	v, ok, err := seek(s.nodes, s.key)
	if !ok || err != nil {
		if err != nil {
			err = fmt.Errorf("store: read %s: %w", prettyKey(s.key), err)
		}
		return graph.Node{}, false, err
	}
	e, raw, err := s.value(v)
	if err != nil {
		return graph.Node{}, false, fmt.Errorf("store: read %s: %w", prettyKey(s.key), err)
	}
	if !s.cut.Empty() && e.lastSeen < s.cut.Node(ref.Type) {
		return graph.Node{}, false, nil
	}
	return graph.Node{NodeRef: ref, Props: e.props, Raw: raw, FirstSeen: e.firstSeen, LastSeen: e.lastSeen, UpdatedAt: e.updatedAt}, true, nil
}

// Edges is Pebble.Edges within the session.
func (s *Session) Edges(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, fn func(*graph.Edge) bool) error {
	return s.edges(ctx, ref, dir, edgeType, nil, fn, nil)
}

// EdgesAfter is Pebble.EdgesAfter within the session.
func (s *Session) EdgesAfter(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, after graph.EdgeRef, fn func(*graph.Edge) bool) error {
	if err := checkAfter(ref, dir, edgeType, after); err != nil {
		return err
	}
	return s.edges(ctx, ref, dir, edgeType, &after, fn, nil)
}

// EdgeRefs lists edges as Edges does, without their values: an in-edge costs no lookup of its 'o' entry unless
// a TTL applies to it, and no value is decoded.
func (s *Session) EdgeRefs(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, fn func(*graph.EdgeRef) bool) error {
	return s.edges(ctx, ref, dir, edgeType, nil, nil, fn)
}

// Edge reads one edge with a point lookup of its 'o' entry.
func (s *Session) Edge(ctx context.Context, ref graph.EdgeRef) (graph.Edge, bool, error) {
	if err := ref.Validate(); err != nil {
		return graph.Edge{}, false, fmt.Errorf("store: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return graph.Edge{}, false, err
	}
	s.okey = outKey(s.okey[:0], &ref)
	v, ok, err := s.outValue(ctx, s.okey)
	if !ok || err != nil {
		if err != nil {
			err = fmt.Errorf("store: read %s: %w", prettyKey(s.okey), err)
		}
		return graph.Edge{}, false, err
	}
	el, err := decodeValueNames(v, &s.names)
	if err != nil {
		return graph.Edge{}, false, fmt.Errorf("store: read %s: %w", prettyKey(s.okey), err)
	}
	if !s.cut.Empty() && el.lastSeen < s.cut.Edge(ref.Type, ref.From.Type, ref.To.Type) {
		return graph.Edge{}, false, nil
	}
	return graph.Edge{EdgeRef: ref, Props: el.props, FirstSeen: el.firstSeen, LastSeen: el.lastSeen, UpdatedAt: el.updatedAt}, true, nil
}

// outValue looks up the value of an 'o' key.
func (s *Session) outValue(ctx context.Context, okey []byte) ([]byte, bool, error) {
	if s.outs == nil {
		it, err := s.newIter(ctx, []byte{kindOut}, []byte{kindOut + 1})
		if err != nil {
			return nil, false, err
		}
		s.outs = it
	}
	return seek(s.outs, okey)
}

func checkAfter(ref graph.NodeRef, dir graph.Direction, edgeType string, after graph.EdgeRef) error {
	switch {
	case dir == graph.Out && after.From != ref, dir == graph.In && after.To != ref:
		return fmt.Errorf("store: edges of %s after %s: not an edge of the node in direction %s", ref, after, dir)
	case edgeType != "" && after.Type != edgeType:
		return fmt.Errorf("store: edges of %s after %s: not of type %s", ref, after, edgeType)
	}
	if err := after.Validate(); err != nil {
		return fmt.Errorf("store: edges of %s after: %w", ref, err)
	}
	return nil
}

// edges lists the edges of ref in direction dir (see Pebble.Edges), to fn
// with their values or, if fn is nil, to refFn without.
func (s *Session) edges(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, after *graph.EdgeRef,
	fn func(*graph.Edge) bool, refFn func(*graph.EdgeRef) bool) error {
	if err := ref.Validate(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if edgeType != "" {
		if err := graph.ValidTypeName(edgeType); err != nil {
			return fmt.Errorf("store: edge type: %w", err)
		}
	}
	var kind byte
	switch dir {
	case graph.Out:
		kind = kindOut
	case graph.In:
		kind = kindIn
	default:
		return fmt.Errorf("store: edges of %s: direction %s, want out or in", ref, dir)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf [128]byte
	prefix := adjacencyPrefix(buf[:0], kind, ref, edgeType)
	upper := prefixEnd(prefix)
	lower := prefix
	if after != nil {
		if dir == graph.Out {
			lower = outKey(nil, after)
		} else {
			lower = inKey(nil, after)
		}
		// The smallest key greater than after's: the encoding is prefix
		// free, so no key lies between k and k+0x00.
		lower = append(lower, 0)
	}
	it, err := s.rangeIter(ctx, lower, upper)
	if err != nil {
		return fmt.Errorf("store: edges of %s: %w", ref, err)
	}
	var (
		e            graph.Edge
		types, fars  interner
		n            int
		typeFromKey  = edgeType == ""
		withValues   = fn != nil
		errIteration error
	)
	for valid := it.First(); valid; valid = it.Next() {
		if n++; n%ctxCheckEvery == 0 {
			if errIteration = ctx.Err(); errIteration != nil {
				break
			}
		}
		k := it.Key()
		rest := k[len(prefix):]
		var raw []byte
		et := edgeType
		if typeFromKey {
			if raw, rest, errIteration = splitComponent(rest); errIteration != nil {
				break
			}
			et = types.get(raw)
		}
		if raw, rest, errIteration = splitComponent(rest); errIteration != nil {
			break
		}
		far := graph.NodeRef{Type: fars.get(raw)}
		if far.ID, rest, errIteration = decodeComponent(rest); errIteration != nil {
			break
		}
		if len(rest) != 0 {
			errIteration = errBadKey
			break
		}
		if dir == graph.Out {
			e.EdgeRef = graph.EdgeRef{Type: et, From: ref, To: far}
		} else {
			e.EdgeRef = graph.EdgeRef{Type: et, From: far, To: ref}
		}
		cutoff := graph.NoExpiry
		if !s.cut.Empty() {
			cutoff = s.cut.Edge(et, ref.Type, far.Type)
		}
		if !withValues && cutoff == graph.NoExpiry {
			if !refFn(&e.EdgeRef) {
				break
			}
			continue
		}
		v, verr := it.ValueAndErr()
		if verr != nil {
			errIteration = verr
			break
		}
		if !withValues {
			// Only the expiry matters.
			r := valueReader{v}
			_, last, _, herr := r.header()
			if herr != nil {
				errIteration = fmt.Errorf("%s: %w", prettyKey(k), herr)
				break
			}
			if last < cutoff {
				continue
			}
			if !refFn(&e.EdgeRef) {
				break
			}
			continue
		}
		el, raw, derr := s.value(v)
		if derr != nil {
			errIteration = fmt.Errorf("%s: %w", prettyKey(k), derr)
			break
		}
		if el.lastSeen < cutoff {
			continue
		}
		e.Props, e.Raw, e.FirstSeen, e.LastSeen, e.UpdatedAt = el.props, raw, el.firstSeen, el.lastSeen, el.updatedAt
		if !fn(&e) {
			break
		}
	}
	if errIteration == nil {
		errIteration = it.Error()
	}
	s.release(it)
	if errIteration != nil {
		return fmt.Errorf("store: edges of %s: %w", ref, errIteration)
	}
	return nil
}

// Interning bounds: a pooled session keeps at most maxNames names and
// short string values, values of at most maxInternedValue bytes.
const (
	maxNames         = 4096
	maxInternedValue = 32
)

// names interns property names and short string values. A store has few
// property names, every value repeats them, and short string values
// (countries, platforms, kinds) repeat as much: a decoded element's names
// and such values then cost no allocation after the first, values not even
// the boxing of the string in an interface.
type names struct {
	m      map[string]string
	values map[string]any
}

func (n *names) get(b []byte) string {
	if s, ok := n.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(n.m) < maxNames {
		n.m[s] = s
	}
	return s
}

// stringValue returns b as a string in an interface.
func (n *names) stringValue(b []byte) any {
	if len(b) > maxInternedValue {
		return string(b)
	}
	if v, ok := n.values[string(b)]; ok {
		return v
	}
	var v any = string(b)
	if len(n.values) < maxNames {
		if n.values == nil {
			n.values = make(map[string]any)
		}
		n.values[v.(string)] = v
	}
	return v
}
