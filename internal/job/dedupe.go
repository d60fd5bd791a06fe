package job

import (
	"hash/maphash"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
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

// DefaultMaxKeys bounds a Buffer's elements when NewBuffer is given none.
const DefaultMaxKeys = 100_000

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

	// Elements are indexed by a hash of their identity computed once per
	// update; entries whose hashes collide are chained through entry.next.
	// Keyed by the refs themselves, the map would hash their two or five
	// strings again for each lookup, insert and delete, which profiles as
	// the largest cost of Add.
	seed  maphash.Seed
	nodes map[uint64]*entry
	edges map[uint64]*entry
	n     int // elements buffered
	// hashMask is all ones; tests clear bits to force collisions.
	hashMask uint64

	// timers holds every live entry once, in first-Add order, which is
	// deadline order.
	timers fifo[*entry]

	parts map[int32]*partQueue
	// Every element of one Add comes from the same record, and consecutive
	// records mostly from the same partition: caching the last queue saves
	// a map lookup per Add.
	lastPart  int32
	lastQueue *partQueue

	// free recycles emitted entries (and their srcs slices) so that the
	// steady state allocates only the copies of Props maps. It never holds
	// more than the peak number of live entries.
	free []*entry
	// props recycles Props maps the caller handed back with Recycle: a
	// copy per element life is otherwise the one allocation left on the
	// hot path.
	props []graph.Props
}

// maxPooledProps bounds the recycled maps (a few MB at most); only small
// maps (one group) are kept, so a pooled map never pins a big table.
const (
	maxPooledProps   = 1 << 14
	maxPooledPropLen = 8
)

// entry is one buffered element in its current life.
type entry struct {
	isEdge bool
	node   graph.Node
	edge   graph.Edge
	due    time.Time
	hash   uint64
	next   *entry // the next entry with the same hash
	// gen identifies the life: incremented on emission, so that queue items
	// of earlier lives (or of a previous use of this pooled struct) are
	// recognised as dead.
	gen uint64
	// srcs is the lowest offset per partition merged into this life. A
	// slice, not a map: most elements see one or two partitions, and a
	// linear scan of a reused slice allocates nothing. It starts on
	// inline, in the entry's own memory: one cache miss less per Add.
	srcs   []partMin
	inline [2]partMin
}

type partMin struct {
	part int32
	min  int64
}

// pendingItem says that entry e, in life gen, holds an update from the
// record at offset off.
type pendingItem struct {
	off int64
	e   *entry
	gen uint64
}

func (it *pendingItem) dead() bool { return it.e.gen != it.gen }

// partQueue is the pending FIFO of one partition: sorted segments, oldest
// first, normally exactly one (see the package comment on offsets going
// backwards).
type partQueue struct {
	segs []fifo[pendingItem]
}

// NewBuffer returns a buffer that publishes an element window after its
// first update (0 or less: at the next Due) and keeps at most maxKeys
// elements across Due calls (maxKeys <= 0: DefaultMaxKeys).
func NewBuffer(window time.Duration, maxKeys int) *Buffer {
	if window < 0 {
		window = 0
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Buffer{
		window:   window,
		maxKeys:  maxKeys,
		seed:     maphash.MakeSeed(),
		hashMask: ^uint64(0),
		nodes:    make(map[uint64]*entry),
		edges:    make(map[uint64]*entry),
		parts:    make(map[int32]*partQueue),
	}
}

// Add merges batch's nodes and edges into the buffered state, keyed by
// element identity, with graph's Merge. It copies what it keeps (Props
// maps; strings and property values are immutable), since the caller reuses
// batch and its maps. src is the record they came from and now the
// processing time. An element's timer starts at its first Add since it was
// last emitted and fires at that time plus the window; later Adds merge
// into it without moving the deadline, so a hot element is still published
// once per window.
func (b *Buffer) Add(batch *graph.Batch, src SourcePos, now time.Time) {
	if batch.Len() == 0 {
		return
	}
	q := b.queue(src.Partition)
	for i := range batch.Nodes {
		n := &batch.Nodes[i]
		h := b.hashNode(&n.NodeRef) & b.hashMask
		head := b.nodes[h]
		e := head
		for e != nil && e.node.NodeRef != n.NodeRef {
			e = e.next
		}
		if e == nil {
			e = b.newEntry(now, h, head)
			e.node = *n
			e.node.Props = b.copyProps(n.Props)
			b.nodes[h] = e
		} else {
			if e.node.Props == nil && len(n.Props) > 0 {
				// Merge would allocate; use a pooled map instead.
				e.node.Props = b.emptyProps(len(n.Props))
			}
			e.node.Merge(n)
		}
		track(e, q, src)
	}
	for i := range batch.Edges {
		ed := &batch.Edges[i]
		h := b.hashEdge(&ed.EdgeRef) & b.hashMask
		head := b.edges[h]
		e := head
		for e != nil && e.edge.EdgeRef != ed.EdgeRef {
			e = e.next
		}
		if e == nil {
			e = b.newEntry(now, h, head)
			e.isEdge = true
			e.edge = *ed
			e.edge.Props = b.copyProps(ed.Props)
			b.edges[h] = e
		} else {
			if e.edge.Props == nil && len(ed.Props) > 0 {
				e.edge.Props = b.emptyProps(len(ed.Props))
			}
			e.edge.Merge(ed)
		}
		track(e, q, src)
	}
}

// copyProps returns a map of the buffer's own holding src's properties,
// never the caller's map, which it reuses; nil if src is empty, as
// MergeProps(nil, src) would.
func (b *Buffer) copyProps(src graph.Props) graph.Props {
	if len(src) == 0 {
		return nil
	}
	m := b.emptyProps(len(src))
	for k, p := range src {
		m[k] = p // m is empty: copying is what MergeProps would do
	}
	return m
}

// emptyProps returns a recycled map, or a new one for size properties.
func (b *Buffer) emptyProps(size int) graph.Props {
	if n := len(b.props); n > 0 {
		m := b.props[n-1]
		b.props[n-1] = nil
		b.props = b.props[:n-1]
		return m
	}
	return make(graph.Props, size)
}

// Recycle resets out, a batch that Due or DrainAll filled, handing its
// Props maps back for reuse. Calling it is optional and only allowed once
// nothing refers to those maps any more (the elements are encoded); it
// removes the allocation of a map per element life.
func (b *Buffer) Recycle(out *graph.Batch) {
	for i := range out.Nodes {
		b.recycleProps(out.Nodes[i].Props)
		out.Nodes[i] = graph.Node{} // drop references for the GC
	}
	for i := range out.Edges {
		b.recycleProps(out.Edges[i].Props)
		out.Edges[i] = graph.Edge{}
	}
	out.Reset()
}

func (b *Buffer) recycleProps(m graph.Props) {
	if m == nil || len(m) > maxPooledPropLen || len(b.props) >= maxPooledProps {
		return
	}
	clear(m)
	b.props = append(b.props, m)
}

// hashNode and hashEdge hash an identity. Strings are hashed one by one
// and mixed (rather than written to a maphash.Hash) because that is
// cheaper for short ids; a collision costs a comparison, not correctness.
func (b *Buffer) hashNode(r *graph.NodeRef) uint64 {
	return mix(maphash.String(b.seed, r.Type), maphash.String(b.seed, r.ID))
}

func (b *Buffer) hashEdge(r *graph.EdgeRef) uint64 {
	h := mix(maphash.String(b.seed, r.Type), b.hashNode(&r.From))
	return mix(h, b.hashNode(&r.To))
}

// mix combines two hashes, order-sensitively so that an edge and its
// reverse differ.
func mix(a, b uint64) uint64 {
	return (a^(a>>29))*0xbf58476d1ce4e5b9 ^ b
}

// newEntry starts a life: a pooled entry with its timer, chained in front
// of head, the entry (if any) already indexed under hash h.
func (b *Buffer) newEntry(now time.Time, h uint64, head *entry) *entry {
	var e *entry
	if n := len(b.free); n > 0 {
		e = b.free[n-1]
		b.free[n-1] = nil
		b.free = b.free[:n-1]
	} else {
		e = new(entry)
		e.srcs = e.inline[:0]
	}
	e.due = now.Add(b.window)
	// If the caller's clock steps back, keep the FIFO sorted by not letting
	// a new deadline precede the newest one: the element is published a
	// little late rather than the FIFO order (and Due's O(emitted)) broken.
	if t := b.timers.back(); t != nil && (*t).due.After(e.due) {
		e.due = (*t).due
	}
	b.timers.push(e)
	e.hash, e.next = h, head
	b.n++
	return e
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

// track records that e's current life holds an update from record src,
// whose partition's queue is q. Only a first update from the partition, or
// a lower offset than seen so far (a re-read), changes e's minimum and
// needs an item.
func track(e *entry, q *partQueue, src SourcePos) {
	p, off := src.Partition, src.Offset
	for i := range e.srcs {
		s := &e.srcs[i]
		if s.part != p {
			continue
		}
		if off < s.min {
			s.min = off
			q.push(pendingItem{off: off, e: e, gen: e.gen})
		}
		return
	}
	e.srcs = append(e.srcs, partMin{part: p, min: off})
	q.push(pendingItem{off: off, e: e, gen: e.gen})
}

// Due appends to out every element whose timer has fired (deadline <= now)
// and then, while more than maxKeys elements are buffered, the oldest ones:
// an early flush instead of unbounded growth. It returns how many it moved.
// The Props maps of what it appends belong to the caller.
func (b *Buffer) Due(now time.Time, out *graph.Batch) int {
	n := 0
	for b.timers.len() > 0 {
		e := *b.timers.front()
		if e.due.After(now) && b.Len() <= b.maxKeys {
			break
		}
		b.timers.pop()
		b.emit(e, out)
		n++
	}
	return n
}

// DrainAll appends every buffered element to out, oldest first, and
// returns how many: for a rebalance, a shutdown or the end of a
// transaction, when nothing may stay buffered.
func (b *Buffer) DrainAll(out *graph.Batch) int {
	n := 0
	for b.timers.len() > 0 {
		e := *b.timers.front()
		b.timers.pop()
		b.emit(e, out)
		n++
	}
	// Every item left is dead now; drop them (keeping the queues' memory)
	// rather than pop them one by one later.
	for _, q := range b.parts {
		q.reset()
	}
	return n
}

// emit ends e's life: its element goes to out and the entry to the pool.
func (b *Buffer) emit(e *entry, out *graph.Batch) {
	if e.isEdge {
		unindex(b.edges, e)
		out.Edges = append(out.Edges, e.edge)
		e.edge = graph.Edge{}
	} else {
		unindex(b.nodes, e)
		out.Nodes = append(out.Nodes, e.node)
		e.node = graph.Node{}
	}
	e.next = nil
	b.n--
	// The Props map went to out with the element; the next life makes its
	// own. Bumping gen kills this life's pending items in O(1).
	e.isEdge = false
	e.gen++
	e.srcs = e.srcs[:0]
	b.free = append(b.free, e)
}

// unindex removes e from its hash chain in index.
func unindex(index map[uint64]*entry, e *entry) {
	head := index[e.hash]
	if head == e {
		if e.next == nil {
			delete(index, e.hash)
		} else {
			index[e.hash] = e.next
		}
		return
	}
	for p := head; p != nil; p = p.next {
		if p.next == e {
			p.next = e.next
			return
		}
	}
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
	q.prune()
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
	e := b.timers.front()
	if e == nil {
		return time.Time{}, false
	}
	if b.Len() > b.maxKeys {
		return time.Time{}, true
	}
	return (*e).due, true
}

// push appends it, to the newest segment if that keeps it sorted, else to
// a new one. Dead heads are popped first so that the queue stays as long as
// what is buffered, even if nobody asks for Pending, and so that an emptied
// newest segment is reused whatever the offset.
func (q *partQueue) push(it pendingItem) {
	q.prune()
	last := len(q.segs) - 1
	if last < 0 || (q.segs[last].len() > 0 && it.off < q.segs[last].back().off) {
		q.segs = append(q.segs, fifo[pendingItem]{})
		last++
	}
	q.segs[last].push(it)
}

// prune pops dead items at the heads of the segments and drops emptied
// segments, keeping one (and its memory) for the next push.
func (q *partQueue) prune() {
	kept := 0
	for i := range q.segs {
		s := &q.segs[i]
		for s.len() > 0 && s.front().dead() {
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
