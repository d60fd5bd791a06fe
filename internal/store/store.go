package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rdgraph/rdg/internal/graph"
)

var (
	_ graph.Reader     = (*Pebble)(nil)
	_ graph.Writer     = (*Pebble)(nil)
	_ graph.TypeLister = (*Pebble)(nil)
)

// layoutKey holds the layout version of keys.go and value.go. The merger
// name already pins the value encoding; this pins the key layout, which
// Pebble knows nothing about.
var layoutKey = []byte{kindMeta, 'l', 'a', 'y', 'o', 'u', 't'}

const layoutVersion = "3"

// ErrClosed is returned by Close on a store that is already closed.
var ErrClosed = errors.New("store: closed")

// Pebble is a graph store in a Pebble database. It is safe for concurrent
// use; concurrent Apply calls need no coordination because their merges
// commute.
type Pebble struct {
	db     *pebble.DB
	wo     *pebble.WriteOptions
	closed atomic.Bool

	ttl graph.TTL
	now func() time.Time
	log *slog.Logger

	// mu orders Apply against the TTL sweep's deletes: Apply holds it
	// shared, the sweep exclusively while it rechecks and deletes, so a
	// delete never lands after a fresh update it has not seen (see
	// Sweep).
	mu sync.RWMutex
	// sweepMu serializes sweeps and guards sweepPos, where the next pass
	// resumes.
	sweepMu   sync.Mutex
	sweepPos  []byte
	sweepKeys int
	stop      chan struct{}
	swept     sync.WaitGroup
	// closeMu lets Close wait for long scans (Stats) that may run on
	// goroutines nobody else waits for: they hold it shared and stop when
	// stop is closed.
	closeMu sync.RWMutex

	// types is every node and edge type stored, as the 't' keys record
	// them; typesMu serializes its updates (see addTypes).
	types   atomic.Pointer[graph.KnownTypes]
	typesMu sync.Mutex

	// scratch holds Apply's working memory between calls (see apply.go).
	scratch chan *scratch
	stalls  *stalls

	// The disk (disk.go): the directory, its file system, the gate asked
	// before writes, the error that stopped writes for good, and the
	// background error handler.
	dir      string
	fs       vfs.FS
	gate     Gate
	writeErr atomic.Pointer[error]
	bg       *bgErrors
}

// Open opens the store in dir, creating it if it does not exist.
func Open(dir string, opts ...Opt) (*Pebble, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.ttl.Validate(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	fs := c.fs
	if fs == nil {
		fs = vfs.Default
	}
	fs = noPreallocFS{fs}
	if c.gate != nil {
		// Open replays the write-ahead log into tables before it returns,
		// and Pebble cannot be stopped while it retries a write that finds
		// the disk full: check that there is room first.
		need, err := replayBytes(fs, dir)
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
		if err := c.gate.Check(need); err != nil {
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
	}
	bg := newBGErrors(c.logger)
	po := &pebble.Options{
		Merger:             merger,
		Logger:             pebbleLogger{c.logger},
		CacheSize:          c.cacheSize,
		MemTableSize:       c.memTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		// One compaction at a time normally; Pebble adds a second (and
		// more, on bigger machines) only when compaction debt or level-0
		// read amplification builds up, which under a sustained ingest of
		// uniformly spread keys is what otherwise stalls writes.
		CompactionConcurrencyRange: func() (int, int) { return 1, min(max(runtime.GOMAXPROCS(0), 1), 4) },
		FS:                         fs,
	}
	// Bloom filters on every level: the default comparer's prefix is the
	// whole key, so they let a node read or a reverse edge lookup skip tables
	// that cannot hold the key — most useful for nodes that edges reference
	// but no record created.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	log := c.logger
	st := &stalls{}
	po.AddEventListener(pebble.EventListener{
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			st.begin()
			log.Warn("store: write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			st.end()
			log.Info("store: write stall ended")
		},
		BackgroundError: bg.handle,
	})
	bg.opening.Store(true)
	db, err := pebble.Open(dir, po)
	bg.opening.Store(false)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if err := checkLayout(db, c.logger); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	types, err := loadTypes(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	wo := pebble.Sync
	if !c.sync {
		wo = pebble.NoSync
	}
	p := &Pebble{db: db, wo: wo, ttl: c.ttl, now: c.now, log: c.logger, sweepKeys: c.sweepKeys, stop: make(chan struct{}),
		scratch: make(chan *scratch, scratchKept), stalls: st, dir: dir, fs: fs, gate: c.gate, bg: bg}
	p.types.Store(types)
	if len(p.ttl) > 0 && c.sweepEvery > 0 {
		p.swept.Add(1)
		go p.sweepLoop(c.sweepEvery)
	}
	return p, nil
}

// checkLayout records the layout of a new store, migrates a store of an
// older layout, and refuses one of a layout this build does not know.
func checkLayout(db *pebble.DB, log *slog.Logger) error {
	v, closer, err := db.Get(layoutKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return db.Set(layoutKey, []byte(layoutVersion), pebble.Sync)
	}
	if err != nil {
		return err
	}
	version := string(v)
	closer.Close()
	switch version {
	case layoutVersion:
		return nil
	case "1":
		if err := migrateLayout1(db, log); err != nil {
			return err
		}
		return migrateLayout2(db, log)
	case "2":
		return migrateLayout2(db, log)
	}
	return fmt.Errorf("key layout version %q, this build reads %q", version, layoutVersion)
}

// migrateLayout1 brings a layout 1 store, whose 'i' entries were empty, to
// layout 2 by giving every 'i' entry its 'o' entry's value. It writes in
// batches without syncing and records the new version in the last, synced
// one: a crash part way leaves version 1, and the next open starts over
// (the writes are Sets of what the 'o' entries hold, so repeating them is
// harmless). It runs before the store is handed out, so no write races it.
func migrateLayout1(db *pebble.DB, log *slog.Logger) error {
	const batchBytes = 16 << 20
	start := time.Now()
	log.Info("store: migrating key layout 1 to 2 (in-edge entries get their values); this reads and rewrites every edge once")
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindOut}, UpperBound: []byte{kindOut + 1}})
	if err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	defer it.Close()
	b := db.NewBatch()
	defer func() { b.Close() }()
	var (
		ik       []byte
		n        int
		reported = start
	)
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("migrate layout: %s: %w", prettyKey(it.Key()), err)
		}
		if ik, err = inKeyFromOut(ik[:0], it.Key()); err != nil {
			return fmt.Errorf("migrate layout: %s: %w", prettyKey(it.Key()), err)
		}
		if err := b.Set(ik, v, nil); err != nil {
			return fmt.Errorf("migrate layout: %w", err)
		}
		n++
		if b.Len() >= batchBytes {
			if err := b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("migrate layout: %w", err)
			}
			b.Close()
			b = db.NewBatch()
			if time.Since(reported) >= 10*time.Second {
				reported = time.Now()
				log.Info("store: migrating key layout", "edges", n, "elapsed", time.Since(start).Round(time.Second))
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	if err := b.Set(layoutKey, []byte("2"), nil); err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	log.Info("store: migrated key layout 1 to 2", "edges", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// migrateLayout2 brings a layout 2 store, which had no 't' keys, to layout
// 3 by recording the types it holds: node types from the 'n' keys, one
// seek per type, and edge types and the node types of edge ends from every
// 'o' key. The types and the new version are written in one synced batch,
// so a crash part way leaves version 2 and the next open starts over. It
// runs before the store is handed out, so no write races it.
func migrateLayout2(db *pebble.DB, log *slog.Logger) error {
	start := time.Now()
	log.Info("store: migrating key layout 2 to 3 (a record of the node and edge types); this reads every edge key once")
	nodeTypes, edgeTypes := map[string]struct{}{}, map[string]struct{}{}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindNode}, UpperBound: []byte{kindNode + 1}})
	if err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	for valid := it.First(); valid; {
		t, _, err := decodeComponent(it.Key()[1:])
		if err != nil {
			it.Close()
			return fmt.Errorf("migrate layout: %s: %w", prettyKey(it.Key()), err)
		}
		nodeTypes[t] = struct{}{}
		valid = it.SeekGE(prefixEnd(typePrefix(kindNode, t)))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	if it, err = db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindOut}, UpperBound: []byte{kindOut + 1}}); err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	var last [3][]byte // raw from type, edge type, to type of the last key
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		var raw [5][]byte
		rest := it.Key()[1:]
		for i := range raw {
			if raw[i], rest, err = splitComponent(rest); err != nil {
				it.Close()
				return fmt.Errorf("migrate layout: %s: %w", prettyKey(it.Key()), err)
			}
		}
		n++
		for i, c := range [3]int{0, 2, 3} {
			if bytes.Equal(raw[c], last[i]) {
				continue
			}
			last[i] = append(last[i][:0], raw[c]...)
			if i == 1 {
				edgeTypes[unescape(raw[c])] = struct{}{}
			} else {
				nodeTypes[unescape(raw[c])] = struct{}{}
			}
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	b := db.NewBatch()
	defer b.Close()
	for t := range nodeTypes {
		if err := b.Set(typeKey(nil, typeOfNode, t), nil, nil); err != nil {
			return fmt.Errorf("migrate layout: %w", err)
		}
	}
	for t := range edgeTypes {
		if err := b.Set(typeKey(nil, typeOfEdge, t), nil, nil); err != nil {
			return fmt.Errorf("migrate layout: %w", err)
		}
	}
	if err := b.Set(layoutKey, []byte(layoutVersion), nil); err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("migrate layout: %w", err)
	}
	log.Info("store: migrated key layout 2 to 3", "node_types", len(nodeTypes), "edge_types", len(edgeTypes),
		"edges", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// loadTypes reads the 't' keys.
func loadTypes(db *pebble.DB) (*graph.KnownTypes, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindType}, UpperBound: []byte{kindType + 1}})
	if err != nil {
		return nil, err
	}
	var nodes, edges []string
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		if len(k) < 2 {
			it.Close()
			return nil, fmt.Errorf("%s: %w", prettyKey(k), errBadKey)
		}
		t, rest, err := decodeComponent(k[2:])
		if err != nil || len(rest) != 0 || (k[1] != typeOfNode && k[1] != typeOfEdge) {
			it.Close()
			return nil, fmt.Errorf("%s: %w", prettyKey(k), errBadKey)
		}
		if k[1] == typeOfNode {
			nodes = append(nodes, t)
		} else {
			edges = append(edges, t)
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, err
	}
	return graph.NewKnownTypes(nodes, edges), nil
}

// KnownTypes returns every node and edge type the store has had an element
// of (graph.TypeLister): what the 't' keys record, kept in memory, so it
// costs an atomic load.
func (p *Pebble) KnownTypes() *graph.KnownTypes { return p.types.Load() }

// addTypes adds types that a committed write recorded. Concurrent callers
// are serialized so that neither loses the other's types.
func (p *Pebble) addTypes(nodeTypes, edgeTypes []string) {
	p.typesMu.Lock()
	defer p.typesMu.Unlock()
	p.types.Store(p.types.Load().With(nodeTypes, edgeTypes))
}

// Close closes the store, first flushing what the write-ahead log holds
// into tables (unless the disk is full or writes failed) and then removing
// the logs, which that leaves holding nothing, so that a clean stop leaves
// only tables and no log to replay. It waits for writes in flight; reads
// and writes after Close panic, as Pebble's do.
func (p *Pebble) Close() error {
	if p.closed.Swap(true) {
		return ErrClosed
	}
	close(p.stop)
	p.closeMu.Lock()
	p.swept.Wait()
	// Held to the end: no write may land in the log begun by the flush,
	// which is removed with the others.
	p.mu.Lock()
	flushed := p.flushForClose()
	close(p.bg.closing)
	err := p.db.Close()
	p.mu.Unlock()
	p.closeMu.Unlock()
	if err == nil && flushed {
		removeLogs(p.fs, p.dir, p.log)
	}
	return err
}

// longRead guards a long read that may outlive its caller's interest in
// the store: it fails with ErrClosed after Close, and its context is
// canceled when Close begins, which waits for it to return.
func (p *Pebble) longRead(ctx context.Context) (context.Context, func(), error) {
	p.closeMu.RLock()
	if p.closed.Load() {
		p.closeMu.RUnlock()
		return nil, nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel()
		p.closeMu.RUnlock()
	}, nil
}

// Compact flushes the memtables and compacts the whole key space, so that
// reads afterwards meet one sorted run per level instead of many overlapping
// files. Pebble compacts by itself as data arrives; this is for tools and
// benchmarks that bulk-load a store and then measure reads.
func (p *Pebble) Compact(ctx context.Context) error {
	if err := p.db.Flush(); err != nil {
		return fmt.Errorf("store: flush: %w", err)
	}
	if err := p.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	return nil
}

// DiskUsage is the estimated size on disk of each keyspace, in bytes.
type DiskUsage struct {
	Nodes    uint64 `json:"nodes"`     // node keys and values
	OutEdges uint64 `json:"out_edges"` // out-edge keys and the edges' values
	InEdges  uint64 `json:"in_edges"`  // in-edge keys, which have no values
}

// DiskUsage estimates the space each keyspace takes in the store's tables
// (Pebble's EstimateDiskUsage: whole tables inside a keyspace, overlapping
// blocks of the others), not counting the write-ahead log. After Compact
// the tables hold one keyspace each at most levels, so the estimate is
// close; capacity planning and the store benchmark use it.
func (p *Pebble) DiskUsage() (DiskUsage, error) {
	var u DiskUsage
	for _, ks := range []struct {
		kind byte
		n    *uint64
	}{{kindNode, &u.Nodes}, {kindOut, &u.OutEdges}, {kindIn, &u.InEdges}} {
		n, err := p.db.EstimateDiskUsage([]byte{ks.kind}, []byte{ks.kind + 1})
		if err != nil {
			return u, fmt.Errorf("store: disk usage: %w", err)
		}
		*ks.n = n
	}
	return u, nil
}

// cutoffs fixes the TTLs at the current time for one read.
func (p *Pebble) cutoffs() graph.Cutoffs {
	if len(p.ttl) == 0 {
		return graph.Cutoffs{}
	}
	return p.ttl.Cutoffs(p.now())
}

// Node returns the stored node ref with one point lookup. An expired node
// (see TTL) is not found.
func (p *Pebble) Node(ctx context.Context, ref graph.NodeRef) (graph.Node, bool, error) {
	if err := ref.Validate(); err != nil {
		return graph.Node{}, false, fmt.Errorf("store: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return graph.Node{}, false, err
	}
	var buf [128]byte
	key := nodeKey(buf[:0], ref)
	e, ok, err := p.get(key)
	if !ok || err != nil {
		return graph.Node{}, false, err
	}
	if len(p.ttl) > 0 && e.lastSeen < p.cutoffs().Node(ref.Type) {
		return graph.Node{}, false, nil
	}
	return graph.Node{NodeRef: ref, Props: e.props, FirstSeen: e.firstSeen, LastSeen: e.lastSeen, UpdatedAt: e.updatedAt}, true, nil
}

func (p *Pebble) get(key []byte) (element, bool, error) {
	v, closer, err := p.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return element{}, false, nil
	}
	if err != nil {
		return element{}, false, fmt.Errorf("store: read %s: %w", prettyKey(key), err)
	}
	e, err := decodeValue(v)
	closer.Close()
	if err != nil {
		return element{}, false, fmt.Errorf("store: read %s: %w", prettyKey(key), err)
	}
	return e, true, nil
}

// ctxCheckEvery is how many entries a scan reads between checks of its
// context: often enough to stop within microseconds, rarely enough to cost
// nothing.
const ctxCheckEvery = 256

// Edges calls fn with the edges of ref in direction dir (graph.Out or
// graph.In), of type edgeType or of all types if it is "", in key order:
// by edge type, then far node type, then far node id. Out-edges are one
// range read; in-edges one range read plus one point lookup per edge of the
// out-edge entry that holds its properties. *e is reused between calls (copy
// it to keep it); e.Props is a fresh map for each edge. Expired edges (see
// TTL) are skipped. A query making many reads should use a ReadSession.
func (p *Pebble) Edges(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, fn func(*graph.Edge) bool) error {
	s := p.oneCall()
	defer s.Close()
	return s.Edges(ctx, ref, dir, edgeType, fn)
}

// EdgesAfter is Edges resuming strictly after the key position of edge
// after: the listing's range read starts at the successor of after's key
// (its 'o' key for Out, its 'i' key for In), whether or not after still
// exists. Keys are the listing's order, so pages read this way never
// repeat an edge and never skip one that existed throughout, whatever is
// written in between: this is what makes the API's paging cursor stable.
func (p *Pebble) EdgesAfter(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, after graph.EdgeRef, fn func(*graph.Edge) bool) error {
	s := p.oneCall()
	defer s.Close()
	return s.EdgesAfter(ctx, ref, dir, edgeType, after, fn)
}

// EdgeRefs lists edges as Edges does, without their values.
func (p *Pebble) EdgeRefs(ctx context.Context, ref graph.NodeRef, dir graph.Direction, edgeType string, fn func(*graph.EdgeRef) bool) error {
	s := p.oneCall()
	defer s.Close()
	return s.EdgeRefs(ctx, ref, dir, edgeType, fn)
}

// Edge reads one edge with a point lookup of its 'o' entry; an expired
// edge is not found.
func (p *Pebble) Edge(ctx context.Context, ref graph.EdgeRef) (graph.Edge, bool, error) {
	s := p.oneCall()
	defer s.Close()
	return s.Edge(ctx, ref)
}

// interner remembers the last string it decoded: keys in a range mostly
// repeat their type components, and this saves an allocation per entry.
type interner struct {
	raw []byte
	s   string
}

func (in *interner) get(raw []byte) string {
	if in.raw != nil && bytes.Equal(in.raw, raw) {
		return in.s
	}
	in.raw = append(in.raw[:0], raw...)
	in.s = unescape(raw)
	return in.s
}

// EachNode calls fn with every stored node of type nodeType, or of every
// type if it is "", in key order, until fn returns false. Only *n is reused
// between calls; n.Props is fresh each time. Expired nodes are skipped.
func (p *Pebble) EachNode(ctx context.Context, nodeType string, fn func(*graph.Node) bool) error {
	prefix := typePrefix(kindNode, nodeType)
	var (
		n     graph.Node
		types interner
	)
	cut := p.cutoffs()
	return p.scan(ctx, prefix, nil, func(it *pebble.Iterator) (bool, error) {
		k := it.Key()
		raw, rest, err := splitComponent(k[1:])
		if err != nil {
			return false, err
		}
		n.Type = types.get(raw)
		if n.ID, rest, err = decodeComponent(rest); err != nil {
			return false, err
		}
		if len(rest) != 0 {
			return false, errBadKey
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return false, err
		}
		el, err := decodeValue(v)
		if err != nil {
			return false, fmt.Errorf("%s: %w", prettyKey(k), err)
		}
		if !cut.Empty() && el.lastSeen < cut.Node(n.Type) {
			return true, nil
		}
		n.Props, n.FirstSeen, n.LastSeen, n.UpdatedAt = el.props, el.firstSeen, el.lastSeen, el.updatedAt
		return fn(&n), nil
	})
}

// EachEdge calls fn with every stored edge of type edgeType, or of every
// type if it is "", in out-edge key order (by source node), until fn returns
// false. Edges are keyed by source node first, so a typed scan skips, per
// source node, straight to that type's entries and past the rest. Only *e
// is reused between calls; e.Props is fresh each time. Expired edges are
// skipped.
func (p *Pebble) EachEdge(ctx context.Context, edgeType string, fn func(*graph.Edge) bool) error {
	cut := p.cutoffs()
	var (
		e                  graph.Edge
		fromTypes, toTypes interner
		edgeTypes          interner
		want               []byte
		seek               []byte
		fromRaw, fromIDRaw []byte
		typeRaw, rest      []byte
		err                error
	)
	if edgeType != "" {
		want = appendComponent(nil, edgeType)
	}
	return p.scan(ctx, []byte{kindOut}, func(it *pebble.Iterator) []byte {
		// Skip step for typed scans, called right after visit found an entry
		// of another type (so fromRaw, fromIDRaw and typeRaw are its
		// components): seek to the wanted type of this source node, or past
		// this source node if that is behind us.
		seek = append(seek[:0], it.Key()[:1+len(fromRaw)+len(fromIDRaw)]...)
		if bytes.Compare(typeRaw, want) < 0 {
			return append(seek, want...)
		}
		return prefixEnd(seek)
	}, func(it *pebble.Iterator) (bool, error) {
		k := it.Key()
		if fromRaw, rest, err = splitComponent(k[1:]); err != nil {
			return false, err
		}
		if fromIDRaw, rest, err = splitComponent(rest); err != nil {
			return false, err
		}
		if typeRaw, rest, err = splitComponent(rest); err != nil {
			return false, err
		}
		if want != nil && !bytes.Equal(typeRaw, want) {
			return true, errSkip
		}
		e.Type = edgeTypes.get(typeRaw)
		e.From = graph.NodeRef{Type: fromTypes.get(fromRaw), ID: unescape(fromIDRaw)}
		if typeRaw, rest, err = splitComponent(rest); err != nil {
			return false, err
		}
		e.To.Type = toTypes.get(typeRaw)
		if e.To.ID, rest, err = decodeComponent(rest); err != nil {
			return false, err
		}
		if len(rest) != 0 {
			return false, errBadKey
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return false, err
		}
		el, err := decodeValue(v)
		if err != nil {
			return false, fmt.Errorf("%s: %w", prettyKey(k), err)
		}
		if !cut.Empty() && el.lastSeen < cut.Edge(e.Type, e.From.Type, e.To.Type) {
			return true, nil
		}
		e.Props, e.FirstSeen, e.LastSeen, e.UpdatedAt = el.props, el.firstSeen, el.lastSeen, el.updatedAt
		return fn(&e), nil
	})
}

// errSkip tells scan to reposition with its skip function.
var errSkip = errors.New("skip")

// scan iterates the keys with the given prefix, calling visit on each until
// it returns false or an error. If visit returns errSkip, scan seeks to the
// key skip returns (which must be past the current one) instead of stepping.
func (p *Pebble) scan(ctx context.Context, prefix []byte, skip func(*pebble.Iterator) []byte, visit func(*pebble.Iterator) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it, err := p.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("store: scan: %w", err)
	}
	n := 0
	valid := it.First()
	for valid {
		if n++; n%ctxCheckEvery == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		var more bool
		more, err = visit(it)
		if err == errSkip {
			err = nil
			if to := skip(it); to != nil {
				valid = it.SeekGE(to)
			} else {
				valid = false
			}
			continue
		}
		if err != nil || !more {
			break
		}
		valid = it.Next()
	}
	if err == nil {
		err = it.Error()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: scan: %w", err)
	}
	return nil
}

// Counts returns the number of stored nodes per node type and edges per edge
// type. It scans every key: the counts cannot be maintained on write without
// reading, since a blind write does not know whether its element is new.
// Edges are counted on the in-edge entries, which have no values to merge.
// With TTLs, expired elements do not count, which takes reading values:
// edges are then counted on their out-edge entries.
func (p *Pebble) Counts(ctx context.Context) (nodes, edges map[string]int64, err error) {
	if len(p.ttl) > 0 {
		nodes, edges = map[string]int64{}, map[string]int64{}
		if err := p.EachNode(ctx, "", func(n *graph.Node) bool { nodes[n.Type]++; return true }); err != nil {
			return nil, nil, err
		}
		if err := p.EachEdge(ctx, "", func(e *graph.Edge) bool { edges[e.Type]++; return true }); err != nil {
			return nil, nil, err
		}
		return nodes, edges, nil
	}
	nodes, edges = map[string]int64{}, map[string]int64{}
	var last interner
	err = p.scan(ctx, []byte{kindNode}, nil, func(it *pebble.Iterator) (bool, error) {
		raw, _, err := splitComponent(it.Key()[1:])
		if err != nil {
			return false, err
		}
		nodes[last.get(raw)]++
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	// In-edge keys are ordered by target node, so edge types interleave;
	// index counts through a map keyed by the raw component without
	// allocating a string per key.
	var names []string
	idx := map[string]int{}
	var cnt []int64
	err = p.scan(ctx, []byte{kindIn}, nil, func(it *pebble.Iterator) (bool, error) {
		_, rest, err := splitComponent(it.Key()[1:])
		if err != nil {
			return false, err
		}
		if _, rest, err = splitComponent(rest); err != nil {
			return false, err
		}
		raw, _, err := splitComponent(rest)
		if err != nil {
			return false, err
		}
		i, ok := idx[string(raw)]
		if !ok {
			i = len(cnt)
			idx[string(raw)] = i
			names = append(names, unescape(raw))
			cnt = append(cnt, 0)
		}
		cnt[i]++
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	for i, name := range names {
		edges[name] = cnt[i]
	}
	return nodes, edges, nil
}
