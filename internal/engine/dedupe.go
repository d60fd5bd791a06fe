package engine

import (
	"hash/maphash"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
)

// The dedupe buffer sits between mapping and publishing. Updates to the same
// node or edge that arrive within the window are folded with graph's Merge
// and published once, when the element's timer fires. Because Merge is a
// semilattice join, publishing the fold is indistinguishable downstream from
// publishing every update, only cheaper.
//
// # Commit safety
//
// At-least-once (DESIGN.md, "Delivery and state") requires that a source
// offset is committed only after everything derived from the records before
// it has been published. With a buffer in between, "processed" no longer
// means "published", so the buffer tells the job how far it may commit.
//
// A record r at offset o on partition p is safe to commit once every element
// it updated has been emitted after r's Add: r's update is then part of an
// emitted fold (the job still has to publish out and see it acknowledged).
// Each live entry (an element in its current life: since its first Add after
// it was last emitted) keeps, per partition, the lowest offset of the records
// merged into it during that life. So, if r's update to element x is still
// buffered, x's entry has an offset <= o for p; Pending(p), the minimum over
// live entries, is then <= o. Contrapositively, every record on p below
// Pending(p) (every record, if !ok) has had all its elements emitted: the job
// may commit Pending(p), or the offset after the last record it processed
// from p if nothing from p is buffered.
//
// Pending is kept O(1) amortized with a FIFO per partition of (offset,
// entry, generation) items, one pushed when an entry first receives an update
// from p in its current life (or a lower offset than it had, see below).
// Within a consumer session offsets grow per partition, so each FIFO is
// sorted and its first live item is its minimum. An entry's generation
// increases each time it is emitted, so items from an earlier life (or from
// the previous user of a pooled entry) are recognised as dead and popped
// lazily. Items whose offset was superseded by a lower one in the same life
// stay live but cannot lower the minimum below a real entry's offset, so
// Pending is exact.
//
// Offsets that go backwards (a partition re-read after a rebalance, while
// older updates are still buffered) would break the sorted order, so a
// lower offset than the FIFO's tail opens a new sorted segment and Pending
// takes the minimum of the segments' heads. Segments disappear once their
// items are dead, so this is one segment in steady state, a few just after
// a re-read; Pending never reports more than a buffered record's offset.
//
// Timers use the same trick: an element's timer starts at its first Add in
// a life, and Adds come in processing-time order, so a FIFO by deadline
// gives Due in O(emitted) and NextDeadline in O(1). Each live entry has
// exactly one timer item, removed when the entry is emitted, so that FIFO
// holds no dead items and doubles as the age order for the key bound.

// SourcePos identifies the source record an update came from: its
// partition of the job's source topic and its offset there. (It is not
// called Source because Source is the job file's source section.)
type SourcePos struct {
	Partition int32
	Offset    int64
}

// Buffer is the windowed dedupe buffer: keyed state (one merged node or
// edge per identity) with processing-time timers. It is not safe for
// concurrent use; each consumer owns one.
type Buffer struct {
	window  time.Duration
	maxKeys int

	seed maphash.Seed
	// hashMask is all ones; tests clear bits to force collisions.
	hashMask uint64

	// entries holds the element states, free its unused slots.
	entries slab
	free    []int32
	n       int // Elements buffered

	// index maps identity hashes to entries: open addressing with linear
	// probing, at most half full. A slot holds the entry's index + 1 in
	// its low 32 bits (0: empty) and the high 32 bits of the hash, whose
	// low bits are also the slot's home position, so probing compares
	// hashes and deleting moves slots without reading entries.
	index []uint64

	// timers holds every live entry once, in first-Add order, which is
	// deadline order.
	timers fifo[int32]

	parts map[int32]*partQueue
	// Every element of one Add comes from the same record, and consecutive
	// records mostly from the same partition: caching the last queue saves
	// a map lookup per Add.
	lastPart  int32
	lastQueue *partQueue

	// types numbers type names (typeTag); typeHashes holds their hashes.
	types      []string
	typeHashes []uint64
	// touched keeps prefetch's loads alive.
	touched uint64
}

// slab is the buffer's entries in chunks of fixed size, addressed by
// index: growing adds a chunk instead of copying every entry (at its
// size, 100,000 entries are 25 MB), and entries never move, so a pointer
// to one stays valid while others are added.
type slab struct {
	chunks [][]entry
	n      int32
}

const chunkBits = 10 // 1,024 entries, 256 KB

func (s *slab) at(i int32) *entry { return &s.chunks[i>>chunkBits][i&(1<<chunkBits-1)] }

// add returns the index of a new, zero entry.
func (s *slab) add() int32 {
	if int(s.n)>>chunkBits == len(s.chunks) {
		s.chunks = append(s.chunks, make([]entry, 1<<chunkBits))
	}
	s.n++
	return s.n - 1
}

// inlineKey is how many bytes of identity an entry keeps inline: a node's
// id, or an edge's two ids with a length byte each.
const inlineKey = 24

// entry is one buffered element in its current life. A node is kept as
// ref.From (ref.Type empty), so that nodes and edges share one slab and
// one merge.
//
// The first 64 bytes are what an Add of an already buffered element reads
// besides the element's times and properties: its identity (hash, type
// tags, inline id bytes) and its first partition's minimum offset.
type entry struct {
	hash uint64
	// gen identifies the life: incremented on emission, so that queue items
	// of earlier lives (or of a previous use of this slot) are recognised
	// as dead.
	gen uint64
	// src0 is the lowest offset of the first partition merged into this
	// life; srcs[1:nsrcs] and more hold those of further partitions (most
	// elements see one, or two).
	src0 partMin
	// tags are the element's type, from type and to type as numbered by
	// Buffer.typeTag (a node: 0, its type, 0); 0 in a used position means
	// the table was full and the type names in el must be compared.
	tags   [3]uint8
	isEdge bool
	nsrcs  uint8
	// klen is the length of the identity bytes in key, -1 if they did not
	// fit and the id strings in el must be compared.
	klen int8
	key  [inlineKey]byte

	// The element: identity, times, and properties sorted by name. props
	// keeps its memory from one life of the slot to the next. These and
	// the rest make the entry 256 bytes: slab chunks are page aligned, so
	// every entry's first 64 bytes are one cache line, and ref's end,
	// the times and props share the third (what a merge reads).
	ref                  graph.EdgeRef
	first, last, updated int64
	props                []graph.NamedProp

	due  time.Time
	src1 partMin
	more []partMin
}

type partMin struct {
	part int32
	min  int64
}

// pendingItem says that entry idx, in life gen, holds an update from the
// record at offset off.
type pendingItem struct {
	off int64
	idx int32
	gen uint64
}

// partQueue is the pending FIFO of one partition: sorted segments, oldest
// first, normally exactly one (see the package comment on offsets going
// backwards).
type partQueue struct {
	segs []fifo[pendingItem]
}

// NewBuffer returns a buffer that publishes an element window after its
// first update (0 or less: at the next Due) and keeps at most maxKeys
// elements across Due calls (maxKeys <= 0: job.DefaultMaxKeys).
func NewBuffer(window time.Duration, maxKeys int) *Buffer {
	if window < 0 {
		window = 0
	}
	if maxKeys <= 0 {
		maxKeys = job.DefaultMaxKeys
	}
	return &Buffer{
		window:   window,
		maxKeys:  maxKeys,
		seed:     maphash.MakeSeed(),
		hashMask: ^uint64(0),
		index:    make([]uint64, 64),
		parts:    make(map[int32]*partQueue),
	}
}

// Add merges batch's nodes and edges into the buffered state, keyed by
// element identity, with graph's merge rules. The buffer copies what it
// keeps, so the caller may reuse batch. src is the record they came from
// and now the processing time. An element's timer starts at its first Add
// since it was last emitted and fires at that time plus the window; later
// Adds merge into it without moving the deadline, so a hot element is
// still published once per window.
func (b *Buffer) Add(batch *Elements, src SourcePos, now time.Time) {
	if batch.len() == 0 {
		return
	}
	q := b.queue(src.Partition)
	// A record's elements are identified (hash, type tags) first and their
	// index slots and entries touched in one loop of independent loads
	// (prefetch), so that the cache misses of a large buffer overlap rather
	// than follow one another; the merges below then find the lines loaded.
	var idents [prefetchMax]ident
	nn, all := len(batch.nodes), batch.len()
	if all <= prefetchMax {
		for i := range batch.nodes {
			idents[i] = b.nodeIdent(&batch.nodes[i].NodeRef)
		}
		for i := range batch.edges {
			idents[nn+i] = b.edgeIdent(&batch.edges[i].EdgeRef)
		}
		b.prefetch(idents[:all])
	}
	var key [inlineKey]byte
	for i := range batch.nodes {
		n := &batch.nodes[i]
		var id ident
		if all <= prefetchMax {
			id = idents[i]
		} else {
			id = b.nodeIdent(&n.NodeRef)
		}
		klen := nodeKey(&key, n.ID)
		idx := b.lookupNode(id.h, &n.NodeRef, id.tags, &key, klen)
		if idx < 0 {
			idx = b.newEntry(now, id.h, false, id.tags, &key, klen)
			e := b.entries.at(idx)
			e.ref = graph.EdgeRef{From: n.NodeRef}
			e.start(n.FirstSeen, n.LastSeen, n.UpdatedAt, n.props)
		} else {
			b.entries.at(idx).merge(n.FirstSeen, n.LastSeen, n.UpdatedAt, n.props)
		}
		b.track(idx, q, src)
	}
	for i := range batch.edges {
		ed := &batch.edges[i]
		var id ident
		if all <= prefetchMax {
			id = idents[nn+i]
		} else {
			id = b.edgeIdent(&ed.EdgeRef)
		}
		klen := edgeKey(&key, &ed.EdgeRef)
		idx := b.lookupEdge(id.h, &ed.EdgeRef, id.tags, &key, klen)
		if idx < 0 {
			idx = b.newEntry(now, id.h, true, id.tags, &key, klen)
			e := b.entries.at(idx)
			e.ref = ed.EdgeRef
			e.start(ed.FirstSeen, ed.LastSeen, ed.UpdatedAt, ed.props)
		} else {
			b.entries.at(idx).merge(ed.FirstSeen, ed.LastSeen, ed.UpdatedAt, ed.props)
		}
		b.track(idx, q, src)
	}
}

// start fills a new life's times and properties, copied into the slot's
// own memory.
func (e *entry) start(first, last, updated int64, props []graph.NamedProp) {
	e.first, e.last, e.updated = first, last, updated
	e.props = append(e.props[:0], props...)
}

// merge folds an update into e with graph's rules (Node.Merge): times by
// min and max, properties last writer wins.
func (e *entry) merge(first, last, updated int64, props []graph.NamedProp) {
	e.first, e.last, e.updated = min(e.first, first), max(e.last, last), max(e.updated, updated)
	e.props = graph.MergeNamedProps(e.props, props)
}

// ident is an element's identity hash (masked) and type tags.
type ident struct {
	h    uint64
	tags [3]uint8
}

func (b *Buffer) nodeIdent(r *graph.NodeRef) ident {
	t := b.typeTag(r.Type)
	return ident{b.hashNode(t, r) & b.hashMask, [3]uint8{0, t, 0}}
}

func (b *Buffer) edgeIdent(r *graph.EdgeRef) ident {
	tags := [3]uint8{b.typeTag(r.Type), b.typeTag(r.From.Type), b.typeTag(r.To.Type)}
	h := mix(b.typeHash(tags[0], r.Type), b.hashNode(tags[1], &r.From))
	return ident{mix(h, b.hashNode(tags[2], &r.To)) & b.hashMask, tags}
}

// prefetchMax is the most elements of one Add that are prefetched; a
// record maps to a handful.
const prefetchMax = 32

// prefetch reads, for each identity, its home index slot and, if the slot is
// used, that entry's identity line, times line and Props map header: what
// an Add of an already buffered element reads. Each element's loads depend
// on one another, but different elements' do not, so the CPU keeps several
// misses in flight at once. The sum is stored only so that the loads are
// not optimised away.
func (b *Buffer) prefetch(ids []ident) {
	var acc uint64
	for i := range ids {
		if s := b.index[b.home(ids[i].h)]; s != 0 {
			e := b.entries.at(int32(uint32(s) - 1))
			acc += e.hash + uint64(e.last) + uint64(len(e.props))
		}
	}
	b.touched = acc
}

// nodeKey writes a node id's inline identity to key and returns its
// length, or -1 if it does not fit.
func nodeKey(key *[inlineKey]byte, id string) int8 {
	if len(id) > inlineKey {
		return -1
	}
	return int8(copy(key[:], id))
}

// edgeKey writes an edge's two ids, each after a length byte, so that the
// bytes identify the pair; -1 if they do not fit. Types are compared as
// strings (the job's constants, so equal pointers).
func edgeKey(key *[inlineKey]byte, r *graph.EdgeRef) int8 {
	f, t := r.From.ID, r.To.ID
	if 2+len(f)+len(t) > inlineKey {
		return -1
	}
	key[0] = byte(len(f))
	copy(key[1:], f)
	key[1+len(f)] = byte(len(t))
	copy(key[2+len(f):], t)
	return int8(2 + len(f) + len(t))
}

// sameKey compares an element's inline identity with e's. With none (-1)
// it reports true for e without one either; the caller then compares the
// id strings.
func (e *entry) sameKey(key *[inlineKey]byte, klen int8) bool {
	return e.klen == klen && (klen < 0 || string(e.key[:klen]) == string(key[:klen]))
}

func (b *Buffer) lookupNode(h uint64, n *graph.NodeRef, tags [3]uint8, key *[inlineKey]byte, klen int8) int32 {
	mask := uint64(len(b.index) - 1)
	for pos := b.home(h); ; pos = (pos + 1) & mask {
		s := b.index[pos]
		if s == 0 {
			return -1
		}
		if s>>32 != h>>32 {
			continue
		}
		idx := int32(uint32(s) - 1)
		e := b.entries.at(idx)
		if e.hash == h && !e.isEdge && e.tags == tags && e.sameKey(key, klen) &&
			(tags[1] != 0 || e.ref.From.Type == n.Type) && (klen >= 0 || e.ref.From.ID == n.ID) {
			return idx
		}
	}
}

func (b *Buffer) lookupEdge(h uint64, r *graph.EdgeRef, tags [3]uint8, key *[inlineKey]byte, klen int8) int32 {
	mask := uint64(len(b.index) - 1)
	for pos := b.home(h); ; pos = (pos + 1) & mask {
		s := b.index[pos]
		if s == 0 {
			return -1
		}
		if s>>32 != h>>32 {
			continue
		}
		idx := int32(uint32(s) - 1)
		e := b.entries.at(idx)
		if e.hash == h && e.isEdge && e.tags == tags && e.sameKey(key, klen) &&
			(tags[0] != 0 && tags[1] != 0 && tags[2] != 0 || e.ref.Type == r.Type && e.ref.From.Type == r.From.Type && e.ref.To.Type == r.To.Type) &&
			(klen >= 0 || e.ref.From.ID == r.From.ID && e.ref.To.ID == r.To.ID) {
			return idx
		}
	}
}

// typeTag numbers type names for the entries' first cache line: a job has
// a handful of types, and comparing a byte beats following two string
// headers to the name. The names are the job's constants, so the scan
// mostly compares equal pointers. 0 means the table (255 names) is full.
func (b *Buffer) typeTag(s string) uint8 {
	for i, t := range b.types {
		if t == s {
			return uint8(i + 1)
		}
	}
	if len(b.types) == 255 {
		return 0
	}
	b.types = append(b.types, s)
	b.typeHashes = append(b.typeHashes, maphash.String(b.seed, s))
	return uint8(len(b.types))
}

// home is the index slot where the probe for hash h starts.
func (b *Buffer) home(h uint64) uint64 { return (h >> 32) & uint64(len(b.index)-1) }

// hashNode hashes a node identity whose type has tag t, and edgeIdent an
// edge's. Strings are hashed one by one and mixed (rather than written to
// a maphash.Hash) because that is cheaper for short ids, and a type's
// hash is kept with its tag, so only ids are hashed per element; a
// collision costs a comparison, not correctness.
func (b *Buffer) hashNode(t uint8, r *graph.NodeRef) uint64 {
	return mix(b.typeHash(t, r.Type), maphash.String(b.seed, r.ID))
}

// typeHash is type name s's hash, t its tag.
func (b *Buffer) typeHash(t uint8, s string) uint64 {
	if t != 0 {
		return b.typeHashes[t-1]
	}
	return maphash.String(b.seed, s)
}

// mix combines two hashes, order-sensitively so that an edge and its
// reverse differ.
func mix(a, b uint64) uint64 {
	return (a^(a>>29))*0xbf58476d1ce4e5b9 ^ b
}

// newEntry starts a life: a slab slot with its identity, timer and index
// slot. The caller fills in the element.
func (b *Buffer) newEntry(now time.Time, h uint64, isEdge bool, tags [3]uint8, key *[inlineKey]byte, klen int8) int32 {
	var idx int32
	if n := len(b.free); n > 0 {
		idx = b.free[n-1]
		b.free = b.free[:n-1]
	} else {
		idx = b.entries.add()
	}
	e := b.entries.at(idx)
	e.hash, e.isEdge, e.tags, e.klen = h, isEdge, tags, klen
	if klen > 0 {
		copy(e.key[:], key[:klen])
	}
	e.due = now.Add(b.window)
	// If the caller's clock steps back, keep the FIFO sorted by not letting
	// a new deadline precede the newest one: the element is published a
	// little late rather than the FIFO order (and Due's O(emitted)) broken.
	if t := b.timers.back(); t != nil && b.entries.at(*t).due.After(e.due) {
		e.due = b.entries.at(*t).due
	}
	b.timers.push(idx)
	b.n++
	if 2*b.n > len(b.index) {
		b.grow()
	}
	b.insert(h, idx)
	return idx
}

func (b *Buffer) insert(h uint64, idx int32) {
	mask := uint64(len(b.index) - 1)
	pos := b.home(h)
	for b.index[pos] != 0 {
		pos = (pos + 1) & mask
	}
	b.index[pos] = h>>32<<32 | uint64(uint32(idx)+1)
}

// grow doubles the index and places every slot again.
func (b *Buffer) grow() {
	old := b.index
	b.index = make([]uint64, 2*len(old))
	mask := uint64(len(b.index) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		pos := (s >> 32) & mask
		for b.index[pos] != 0 {
			pos = (pos + 1) & mask
		}
		b.index[pos] = s
	}
}

// unindex removes entry idx (hash h) from the index, moving later slots of
// the run back so that no probe sequence has a hole (linear probing
// without tombstones).
func (b *Buffer) unindex(h uint64, idx int32) {
	mask := uint64(len(b.index) - 1)
	want := h>>32<<32 | uint64(uint32(idx)+1)
	i := b.home(h)
	for b.index[i] != want {
		i = (i + 1) & mask
	}
	b.index[i] = 0
	for j := (i + 1) & mask; b.index[j] != 0; j = (j + 1) & mask {
		s := b.index[j]
		home := (s >> 32) & mask
		// s may fill the hole if its probe, from home to j, passes i.
		if (j-home)&mask >= (j-i)&mask {
			b.index[i], b.index[j] = s, 0
			i = j
		}
	}
}

// queue returns partition p's pending FIFO, creating it on first use.
func (b *Buffer) queue(p int32) *partQueue {
	if b.lastQueue != nil && b.lastPart == p {
		return b.lastQueue
	}
	q := b.parts[p]
	if q == nil {
		q = new(partQueue)
		b.parts[p] = q
	}
	b.lastPart, b.lastQueue = p, q
	return q
}

// track records that entry idx's current life holds an update from
// record src, whose partition's queue is q. Only a first update from the
// partition, or a lower offset than seen so far (a re-read), changes the
// entry's minimum and needs an item.
func (b *Buffer) track(idx int32, q *partQueue, src SourcePos) {
	e := b.entries.at(idx)
	p, off := src.Partition, src.Offset
	s := e.srcFor(p)
	switch {
	case s != nil && off >= s.min:
		return
	case s != nil:
		s.min = off
	case e.nsrcs == 0:
		e.src0, e.nsrcs = partMin{part: p, min: off}, 1
	case e.nsrcs == 1:
		e.src1, e.nsrcs = partMin{part: p, min: off}, 2
	default:
		e.more = append(e.more, partMin{part: p, min: off})
	}
	q.push(pendingItem{off: off, idx: idx, gen: e.gen}, &b.entries)
}

// srcFor returns the lowest offset from partition p in e's life, nil if
// there is none.
func (e *entry) srcFor(p int32) *partMin {
	switch {
	case e.nsrcs == 0:
		return nil
	case e.src0.part == p:
		return &e.src0
	case e.nsrcs == 1:
		return nil
	case e.src1.part == p:
		return &e.src1
	}
	for i := range e.more {
		if e.more[i].part == p {
			return &e.more[i]
		}
	}
	return nil
}

// Due appends to out every element whose timer has fired (deadline <= now)
// and then, while more than maxKeys elements are buffered, the oldest ones:
// an early flush instead of unbounded growth. It returns how many it moved.
// What it appends shares memory with the buffer (properties) and is valid
// until the next Add; a caller done with it should clear those properties
// (Elements.clearProps, as Engine.Emit does), or free slots keep their
// values reachable until reused.
func (b *Buffer) Due(now time.Time, out *Elements) int {
	n := 0
	for b.timers.len() > 0 {
		idx := *b.timers.front()
		if b.entries.at(idx).due.After(now) && b.Len() <= b.maxKeys {
			break
		}
		b.timers.pop()
		b.emit(idx, out)
		n++
	}
	return n
}

// DrainAll appends every buffered element to out, oldest first, and
// returns how many: for a rebalance, a shutdown or the end of a
// transaction, when nothing may stay buffered. As with Due, what it
// appends is valid until the next Add.
func (b *Buffer) DrainAll(out *Elements) int {
	n := 0
	for b.timers.len() > 0 {
		idx := *b.timers.front()
		b.timers.pop()
		b.emit(idx, out)
		n++
	}
	// Every item left is dead now; drop them (keeping the queues' memory)
	// rather than pop them one by one later.
	for _, q := range b.parts {
		q.reset()
	}
	return n
}

// emit ends entry idx's life: its element goes to out and the slot to the
// free list.
func (b *Buffer) emit(idx int32, out *Elements) {
	e := b.entries.at(idx)
	b.unindex(e.hash, idx)
	if e.isEdge {
		out.edges = append(out.edges, edge{Edge: graph.Edge{EdgeRef: e.ref, FirstSeen: e.first, LastSeen: e.last, UpdatedAt: e.updated}, props: e.props})
	} else {
		out.nodes = append(out.nodes, node{Node: graph.Node{NodeRef: e.ref.From, FirstSeen: e.first, LastSeen: e.last, UpdatedAt: e.updated}, props: e.props})
	}
	// out shares the properties' memory, which the slot keeps for its next
	// life (hence Due's "valid until the next Add"); the identity strings
	// are dropped for the GC. Bumping gen kills this life's pending items
	// in O(1).
	e.ref = graph.EdgeRef{}
	e.props = e.props[:0]
	e.gen++
	e.nsrcs, e.more = 0, e.more[:0]
	b.free = append(b.free, idx)
	b.n--
}

// Pending reports, for source partition p, the lowest offset among records
// that have an update still in the buffer: the job may commit up to min
// (exclusive: committing min means min is read again after a restart) but
// not beyond. ok is false when nothing from p is buffered.
func (b *Buffer) Pending(p int32) (min int64, ok bool) {
	q := b.parts[p]
	if q == nil {
		return 0, false
	}
	q.prune(&b.entries)
	for i := range q.segs {
		if it := q.segs[i].front(); it != nil && (!ok || it.off < min) {
			min, ok = it.off, true
		}
	}
	return min, ok
}

// Len reports how many elements are buffered.
func (b *Buffer) Len() int { return b.n }

// NextDeadline reports when Due will next have something to emit: the
// oldest element's deadline, or the zero time (already past) when more than
// maxKeys elements are buffered and Due must run now. ok is false when the
// buffer is empty.
func (b *Buffer) NextDeadline() (time.Time, bool) {
	idx := b.timers.front()
	if idx == nil {
		return time.Time{}, false
	}
	if b.Len() > b.maxKeys {
		return time.Time{}, true
	}
	return b.entries.at(*idx).due, true
}

// push appends it, to the newest segment if that keeps it sorted, else to
// a new one. Dead heads are popped first so that the queue stays as long as
// what is buffered, even if nobody asks for Pending, and so that an emptied
// newest segment is reused whatever the offset.
func (q *partQueue) push(it pendingItem, entries *slab) {
	q.prune(entries)
	last := len(q.segs) - 1
	if last < 0 || (q.segs[last].len() > 0 && it.off < q.segs[last].back().off) {
		q.segs = append(q.segs, fifo[pendingItem]{})
		last++
	}
	q.segs[last].push(it)
}

// prune pops dead items at the heads of the segments and drops emptied
// segments, keeping one (and its memory) for the next push. An item is
// dead when its entry has moved on to another life.
func (q *partQueue) prune(entries *slab) {
	kept := 0
	for i := range q.segs {
		s := &q.segs[i]
		for s.len() > 0 && entries.at(s.front().idx).gen != s.front().gen {
			s.pop()
		}
		if s.len() > 0 {
			q.segs[kept], q.segs[i] = q.segs[i], q.segs[kept]
			kept++
		}
	}
	if kept == 0 && len(q.segs) > 0 {
		kept = 1 // an empty segment, kept for its capacity
	}
	for i := kept; i < len(q.segs); i++ {
		q.segs[i] = fifo[pendingItem]{}
	}
	q.segs = q.segs[:kept]
}

func (q *partQueue) reset() {
	if len(q.segs) == 0 {
		return
	}
	for i := 1; i < len(q.segs); i++ {
		q.segs[i] = fifo[pendingItem]{}
	}
	q.segs[0].reset()
	q.segs = q.segs[:1]
}

// fifo is a slice-backed queue. Popped slots are zeroed so that it does not
// keep entries alive, and the live part is moved to the front only once
// at least half the slice is popped, so a push costs O(1) amortized.
type fifo[T any] struct {
	items []T
	head  int
}

func (f *fifo[T]) len() int { return len(f.items) - f.head }

func (f *fifo[T]) front() *T {
	if f.head == len(f.items) {
		return nil
	}
	return &f.items[f.head]
}

func (f *fifo[T]) back() *T {
	if f.head == len(f.items) {
		return nil
	}
	return &f.items[len(f.items)-1]
}

func (f *fifo[T]) push(v T) {
	if len(f.items) == cap(f.items) && f.head > 0 && f.head >= len(f.items)/2 {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items = f.items[:n]
		f.head = 0
	}
	f.items = append(f.items, v)
}

func (f *fifo[T]) pop() {
	var zero T
	f.items[f.head] = zero
	f.head++
	if f.head == len(f.items) {
		f.items = f.items[:0]
		f.head = 0
	}
}

func (f *fifo[T]) reset() {
	clear(f.items)
	f.items = f.items[:0]
	f.head = 0
}
