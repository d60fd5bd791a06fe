package datadir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"
)

// DefaultReserve is the free space below which a Guard refuses writes
// unless told otherwise: room for the store to flush its two memtables
// and start a new write-ahead log, and for the broker to finish what it
// is writing, after writes stop.
const DefaultReserve = 256 << 20

// Guard watches the free space of the file system that holds a data
// directory and says when writes must stop: when fewer than a reserve of
// bytes are free. The parts that write the directory ask it before they
// write (Check, Wait), so that they refuse or hold a write with an error
// that names the directory and its free bytes rather than meet ENOSPC in
// the middle of one — which the broker answers with an unknown server
// error and the store cannot recover from without a restart. It checks the
// file system at most every refresh on demand and every poll interval in
// the background, and logs each change between full and not full.
type Guard struct {
	dir     string
	reserve uint64
	log     *slog.Logger
	statfs  func(dir string) (uint64, error)

	mu      sync.Mutex
	free    uint64
	full    bool
	errLog  bool // a statfs failure has been logged
	checked time.Time
	// space is closed while the directory is not full, so that waiters
	// wake when it stops being full; it is replaced when it becomes full.
	space chan struct{}

	stop chan struct{}
	done chan struct{}
}

// Intervals of a Guard's checks: a write's Check uses a result at most
// refresh old; the background poll runs every pollEvery, or fullPoll while
// the directory is full, so that held writes resume soon after space is
// freed.
const (
	refresh   = 100 * time.Millisecond
	pollEvery = time.Second
	fullPoll  = 200 * time.Millisecond
)

// FullError says that a data directory has too little free space to
// write.
type FullError struct {
	Dir     string
	Free    uint64
	Reserve uint64
	// Need is what the write needed on top of the reserve, if anything.
	Need uint64
}

func (e *FullError) Error() string {
	below := "the reserve of " + mib(e.Reserve)
	if e.Need > 0 {
		below += " plus the " + mib(e.Need) + " this needs"
	}
	return fmt.Sprintf("data directory %s is full: %d bytes free (%s), below %s (--disk-reserve-mib): writes are refused until space is freed",
		e.Dir, e.Free, mib(e.Free), below)
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// ErrStopped is returned (wrapped with the FullError) by Wait once the
// guard is closed while the directory is full.
var ErrStopped = errors.New("stopping")

// NewGuard checks dir's file system once (failing if it cannot be
// checked) and starts watching it. Close stops it.
func NewGuard(dir string, reserve uint64, log *slog.Logger) (*Guard, error) {
	return newGuard(dir, reserve, log, statfsFree)
}

func newGuard(dir string, reserve uint64, log *slog.Logger, statfs func(string) (uint64, error)) (*Guard, error) {
	if log == nil {
		log = slog.Default()
	}
	g := &Guard{dir: dir, reserve: reserve, log: log, statfs: statfs, space: make(chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	close(g.space)
	free, err := statfs(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: free space: %w", dir, err)
	}
	g.mu.Lock()
	g.set(free)
	g.mu.Unlock()
	go g.poll()
	return g, nil
}

// statfsFree is the bytes an unprivileged process may still write on the
// file system of dir.
func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Check returns nil if a write may go ahead that needs need bytes on top
// of the reserve (0 for an ordinary write), or a *FullError.
func (g *Guard) Check(need uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if need > 0 || time.Since(g.checked) >= refresh {
		g.refresh()
	}
	if !g.full && g.free-g.reserve >= need {
		return nil
	}
	return &FullError{Dir: g.dir, Free: g.free, Reserve: g.reserve, Need: need}
}

// Wait returns nil as soon as a write may go ahead; while the directory is
// full it waits, returning ctx's error if ctx ends first, or the FullError
// wrapping ErrStopped if the guard is closed first.
func (g *Guard) Wait(ctx context.Context) error {
	for {
		err := g.Check(0)
		if err == nil {
			return nil
		}
		g.mu.Lock()
		space := g.space
		g.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		case <-g.stop:
			return fmt.Errorf("%w: %w", ErrStopped, err)
		}
	}
}

// Free is the free space last seen and whether writes are refused.
func (g *Guard) Free() (free uint64, full bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.free, g.full
}

// Close stops watching and releases every Wait with an error if the
// directory is full.
func (g *Guard) Close() {
	select {
	case <-g.stop:
		return
	default:
	}
	close(g.stop)
	<-g.done
}

func (g *Guard) poll() {
	defer close(g.done)
	t := time.NewTimer(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.mu.Lock()
		g.refresh()
		next := pollEvery
		if g.full {
			next = fullPoll
		}
		g.mu.Unlock()
		t.Reset(next)
	}
}

// refresh reads the file system's free space. A failure keeps the last
// state: writes are not refused for want of an answer, and are refused
// by the file system itself if it is full. Called with g.mu held.
func (g *Guard) refresh() {
	free, err := g.statfs(g.dir)
	if err != nil {
		if !g.errLog {
			g.errLog = true
			g.log.Error("data directory: cannot read the free space", "dir", g.dir, "err", err)
		}
		g.checked = time.Now()
		return
	}
	g.errLog = false
	g.set(free)
}

// set records a check's result, logging and waking waiters on a change.
// Called with g.mu held.
func (g *Guard) set(free uint64) {
	g.free, g.checked = free, time.Now()
	full := free < g.reserve
	if full == g.full {
		return
	}
	g.full = full
	if full {
		g.space = make(chan struct{})
		g.log.Error("data directory full: writes are refused (Kafka produce requests get KAFKA_STORAGE_ERROR, the graph writer holds its batch) until space is freed; queries are still served",
			"dir", g.dir, "free_bytes", free, "reserve_bytes", g.reserve)
		return
	}
	close(g.space)
	g.log.Info("data directory has space again: writes resume", "dir", g.dir, "free_bytes", free, "reserve_bytes", g.reserve)
}
