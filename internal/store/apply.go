package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rdgraph/rdg/internal/graph"
)

// scratch is Apply's working memory: the batch's keys and values back to
// back in buf, one entry per key, grouped by keyspace, and the Pebble batch
// they are written to. Stores keep a few between calls in a free list
// rather than a sync.Pool, which the garbage collector empties: the graph
// writer's batches need megabytes of it each time.
type scratch struct {
	buf   []byte
	ents  [3][]entry // 'i', 'n' and 'o' keys, in key order of their kind byte
	names []string
	// The batch's types that the store did not know when it was encoded.
	newNodeTypes, newEdgeTypes []string
	wb                         *pebble.Batch
	// for sortKeys
	keys []uint64
	tmp  []entry
}

// scratchKept is how many scratches a store keeps; more than this many
// concurrent Apply calls allocate.
const scratchKept = 4

// maxKeptBytes bounds what a kept scratch may hold on to, so that one huge
// batch does not pin its memory for the life of the store.
const maxKeptBytes = 64 << 20

// entry is one key of a batch: buf[k:v] is the key, buf[v:end] its value
// (none for a Set).
type entry struct {
	k, v, end int
}

func (p *Pebble) getScratch() *scratch {
	select {
	case s := <-p.scratch:
		return s
	default:
		return &scratch{}
	}
}

func (p *Pebble) putScratch(s *scratch) {
	if cap(s.buf) > maxKeptBytes {
		return
	}
	select {
	case p.scratch <- s:
	default:
	}
}

// Apply merges b into the store atomically: all of it or, on error, none of
// it, except after a failed write to the write-ahead log (see write). It
// reads nothing; every element becomes a merge operand (see merge.go).
// An invalid element (bad type name, empty id, property value of another
// kind) fails the whole batch.
//
// The batch reaches Pebble sorted by key, with the updates of one element
// already merged into one operand. A memtable insert in key order finds
// its place next to the previous one, in cache, where one in arrival order
// walks the skiplist through cold memory: with 64 MiB memtables this
// halved the store's CPU time per element. And an element updated several
// times in a batch costs one key instead of several.
func (p *Pebble) Apply(ctx context.Context, b *graph.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b == nil || b.Len() == 0 {
		return nil
	}
	if p.gate != nil {
		if err := p.gate.Wait(ctx); err != nil {
			return fmt.Errorf("store: apply: %w", err)
		}
	}
	s := p.getScratch()
	defer p.putScratch(s)
	if err := s.encode(b, p.types.Load()); err != nil {
		return err
	}
	if s.wb == nil {
		s.wb = p.db.NewBatch(pebble.WithMaxRetainedSizeBytes(maxKeptBytes))
	}
	wb := s.wb
	defer wb.Reset()
	if err := s.write(wb); err != nil {
		return err
	}
	// A new type is recorded with the elements that bring it, so the
	// record can never miss a stored type. Two batches that bring the same
	// type both write it: the same Set twice.
	var tk []byte
	for _, t := range s.newNodeTypes {
		tk = typeKey(tk[:0], typeOfNode, t)
		if err := wb.Set(tk, nil, nil); err != nil {
			return err
		}
	}
	for _, t := range s.newEdgeTypes {
		tk = typeKey(tk[:0], typeOfEdge, t)
		if err := wb.Set(tk, nil, nil); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.RLock()
	err := p.write(wb)
	p.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("store: apply: %w", err)
	}
	if len(s.newNodeTypes) > 0 || len(s.newEdgeTypes) > 0 {
		p.addTypes(s.newNodeTypes, s.newEdgeTypes)
	}
	return nil
}

const (
	entsIn = iota
	entsNode
	entsOut
)

// encode fills s with b's keys and values, and collects the types of b
// that known does not have.
func (s *scratch) encode(b *graph.Batch, known *graph.KnownTypes) error {
	s.buf = s.buf[:0]
	for i := range s.ents {
		s.ents[i] = s.ents[i][:0]
	}
	s.newNodeTypes, s.newEdgeTypes = s.newNodeTypes[:0], s.newEdgeTypes[:0]
	// Batches come mostly in runs of one type (the graph topics are one
	// per type), so a type equal to the last one checked needs no lookup.
	var lastNode, lastEdge, lastFrom, lastTo string
	nodeType := func(t string, last *string) {
		if t == *last {
			return
		}
		*last = t
		if !known.Node(t) && !slices.Contains(s.newNodeTypes, t) {
			s.newNodeTypes = append(s.newNodeTypes, t)
		}
	}
	var err error
	for i := range b.Nodes {
		n := &b.Nodes[i]
		if err := n.NodeRef.Validate(); err != nil {
			return fmt.Errorf("store: apply: node %d: %w", i, err)
		}
		nodeType(n.Type, &lastNode)
		e := entry{k: len(s.buf)}
		s.buf = nodeKey(s.buf, n.NodeRef)
		e.v = len(s.buf)
		s.buf, s.names, err = encodeValue(s.buf, element{n.Props, n.FirstSeen, n.LastSeen, n.UpdatedAt}, s.names)
		if err != nil {
			return fmt.Errorf("store: apply: node %s: %w", n.NodeRef, err)
		}
		e.end = len(s.buf)
		s.ents[entsNode] = append(s.ents[entsNode], e)
	}
	for i := range b.Edges {
		ed := &b.Edges[i]
		if err := ed.EdgeRef.Validate(); err != nil {
			return fmt.Errorf("store: apply: edge %d: %w", i, err)
		}
		if ed.Type != lastEdge {
			lastEdge = ed.Type
			if !known.Edge(ed.Type) && !slices.Contains(s.newEdgeTypes, ed.Type) {
				s.newEdgeTypes = append(s.newEdgeTypes, ed.Type)
			}
		}
		nodeType(ed.From.Type, &lastFrom)
		nodeType(ed.To.Type, &lastTo)
		e := entry{k: len(s.buf)}
		s.buf = outKey(s.buf, &ed.EdgeRef)
		e.v = len(s.buf)
		s.buf, s.names, err = encodeValue(s.buf, element{ed.Props, ed.FirstSeen, ed.LastSeen, ed.UpdatedAt}, s.names)
		if err != nil {
			return fmt.Errorf("store: apply: edge %s: %w", ed.EdgeRef, err)
		}
		e.end = len(s.buf)
		s.ents[entsOut] = append(s.ents[entsOut], e)
		// The reverse entry carries the same value, merged the same way, so
		// that a listing of in-edges reads values where it reads keys.
		in := entry{k: len(s.buf)}
		s.buf = inKey(s.buf, &ed.EdgeRef)
		in.v = len(s.buf)
		s.buf = append(s.buf, s.buf[e.v:e.end]...)
		in.end = len(s.buf)
		s.ents[entsIn] = append(s.ents[entsIn], in)
	}
	return nil
}

// write adds s's keys to wb in key order, one per distinct key: merge
// operands of one key are joined first (the join is what Pebble would do
// with them).
func (s *scratch) write(wb *pebble.Batch) error {
	for _, ents := range s.ents {
		buf := s.buf
		sortKeys(buf, ents, &s.keys, &s.tmp)
		key := func(e *entry) []byte { return buf[e.k:e.v] }
		for i := 0; i < len(ents); i++ {
			e := &ents[i]
			val := buf[e.v:e.end]
			for i+1 < len(ents) && bytes.Equal(key(&ents[i+1]), key(e)) {
				i++
				next := &ents[i]
				// Appending to s.buf may move it; buf keeps the array the
				// keys and values were written to alive.
				start := len(s.buf)
				var err error
				if s.buf, err = mergeValues(s.buf, val, buf[next.v:next.end]); err != nil {
					return fmt.Errorf("store: apply: %s: %w", prettyKey(key(e)), err)
				}
				val = s.buf[start:]
			}
			if err := wb.Merge(key(e), val, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortKeys sorts ents by their keys in buf, bytewise, using keys and tmp
// (grown to len(ents)) as scratch.
//
// Keys in a batch share long prefixes (kind, type, the start of the ids),
// where a comparison sort spends its time re-reading equal bytes and
// calling its comparison function. So it skips the prefix all keys share,
// packs the next bytes of each key into the high bits of a uint64 and the
// key's index into the low bits, and sorts those integers natively; keys
// equal in those bytes form runs sorted again the same way past what each
// run shares: a most-significant-digit radix sort with digits as wide as
// a uint64 leaves room for.
func sortKeys(buf []byte, ents []entry, keys *[]uint64, tmp *[]entry) {
	*keys = slices.Grow((*keys)[:0], len(ents))[:len(ents)]
	*tmp = slices.Grow((*tmp)[:0], len(ents))[:len(ents)]
	sortFrom(buf, ents, 0, *keys, *tmp)
}

// sortFrom sorts ents whose keys are equal before offset off; keys and
// tmp are scratch of the same length.
func sortFrom(buf []byte, ents []entry, off int, keys []uint64, tmp []entry) {
	if len(ents) < 2 {
		return
	}
	first := buf[ents[0].k:ents[0].v]
	lcp := len(first)
	for i := 1; i < len(ents) && lcp > off; i++ {
		k := buf[ents[i].k:ents[i].v]
		n := min(lcp, len(k))
		j := off
		for j < n && k[j] == first[j] {
			j++
		}
		lcp = j
	}
	off = max(off, lcp)
	idxBits := bits.Len(uint(len(ents) - 1))
	width := (64 - idxBits) / 8 // whole key bytes per digit
	idxMask := uint64(1)<<idxBits - 1
	done := true
	for i := range ents {
		k := buf[ents[i].k:ents[i].v]
		var w [8]byte
		if off < len(k) {
			done = false
			copy(w[:width], k[off:])
		}
		keys[i] = binary.BigEndian.Uint64(w[:]) | uint64(i)
	}
	if done {
		// Every key ends before off and they agree before it, so they are
		// equal: the zero padding of a key that ended earlier matched zero
		// bytes of the others, which a shorter key sorts before.
		slices.SortFunc(ents, func(a, b entry) int { return (a.v - a.k) - (b.v - b.k) })
		return
	}
	slices.Sort(keys)
	copy(tmp, ents)
	for i, k := range keys {
		ents[i] = tmp[k&idxMask]
	}
	for i := 0; i < len(ents); {
		j := i + 1
		for j < len(ents) && keys[j]&^idxMask == keys[i]&^idxMask {
			j++
		}
		if j-i > 1 {
			sortFrom(buf, ents[i:j], off+width, keys[i:j], tmp[i:j])
		}
		i = j
	}
}

// WriteStats is what writes have cost the store since it was opened:
// bytes written to the write-ahead log and to tables, by flushes and by
// compactions (their sum over the log bytes is the write amplification),
// and the time writes stood still waiting for them.
type WriteStats struct {
	WALBytes       uint64        `json:"wal_bytes"`
	FlushedBytes   uint64        `json:"flushed_bytes"`
	CompactedBytes uint64        `json:"compacted_bytes"`
	Flushes        int64         `json:"flushes"`
	Compactions    int64         `json:"compactions"`
	CompactionDebt uint64        `json:"compaction_debt_bytes"` // Pebble's estimate of what is still to compact
	Stalls         int64         `json:"write_stalls"`
	StallTime      time.Duration `json:"write_stall_ns"`
}

// WriteStats reads the store's write statistics.
func (p *Pebble) WriteStats() WriteStats {
	m := p.db.Metrics()
	w := WriteStats{WALBytes: m.WAL.BytesWritten, Flushes: m.Flush.Count, Compactions: m.Compact.Count, CompactionDebt: m.Compact.EstimatedDebt}
	// Not Metrics.Total, whose flushed bytes include the log's.
	for i := range m.Levels {
		w.FlushedBytes += m.Levels[i].TableBytesFlushed
		w.CompactedBytes += m.Levels[i].TableBytesCompacted
	}
	w.Stalls, w.StallTime = p.stalls.read()
	return w
}

// stalls counts Pebble's write stalls and their time.
type stalls struct {
	mu    sync.Mutex
	n     int64
	total time.Duration
	since time.Time
}

func (s *stalls) begin() {
	s.mu.Lock()
	s.n++
	s.since = time.Now()
	s.mu.Unlock()
}

func (s *stalls) end() {
	s.mu.Lock()
	if !s.since.IsZero() {
		s.total += time.Since(s.since)
		s.since = time.Time{}
	}
	s.mu.Unlock()
}

func (s *stalls) read() (int64, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.total
	if !s.since.IsZero() {
		t += time.Since(s.since)
	}
	return s.n, t
}
