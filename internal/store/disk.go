package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The disk: how the store sizes its write-ahead logs, leaves its directory
// after a clean stop, and behaves when the disk is full.
//
// Pebble preallocates each write-ahead log at 110% of the memtable size
// when it is first written, and keeps up to three obsolete logs to reuse;
// with the store's 64 MiB memtables every log would take 70 MiB however
// little it held, and a small store's directory would be mostly logs after
// a clean stop. So the store's files ignore preallocation: the logs grow as they
// are written (a sync of a growing file also writes its new size, which
// next to a batch of thousands of elements costs little; and with
// KEEP_SIZE preallocation ext4 records the blocks written anyway),
// and Close flushes the memtables and then removes the logs, which Pebble
// would otherwise keep (obsolete ones until the next open). A clean stop
// leaves the tables, and an open has nothing to replay.
//
// A full disk: Pebble treats a failed write to the log as fatal (it calls
// Logger.Fatalf, which panics) and retries a failed flush or compaction at
// once, forever, holding its lock and a CPU. The store therefore asks its
// Gate before it writes, and holds or refuses writes while the gate says
// the disk is full; should the disk fill anyway, Apply turns the failed
// log write into an error and refuses every write after it (Pebble's log
// writer cannot be used again; reopening the store recovers, and nothing
// acknowledged is lost, because what Apply did not complete is read again),
// and a failed background write is retried after a pause instead of at
// once.

// Gate says whether the store may write. The store asks it before every
// write, so that a full disk stops writes with an error that says so
// instead of failing in the middle of one.
type Gate interface {
	// Check returns nil if the store may write, with room for need bytes
	// more than usual, or an error that says why not.
	Check(need uint64) error
	// Wait returns nil once the store may write, or an error if it gave
	// up waiting (ctx is done, or the gate is closing).
	Wait(ctx context.Context) error
}

// WriteGate makes the store ask g before it writes: Apply waits until g
// allows it (or returns g's error), the TTL sweep skips a pass that g
// refuses, Close flushes only if g allows it, and Open fails if g does not
// allow room to replay the write-ahead log.
func WriteGate(g Gate) Opt {
	return opt(func(c *cfg) { c.gate = g })
}

// noPreallocFS is a vfs.FS whose writable files ignore Preallocate.
type noPreallocFS struct{ vfs.FS }

func (fs noPreallocFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, cat)
	if err != nil {
		return nil, err
	}
	return noPreallocFile{f}, nil
}

func (fs noPreallocFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, cat)
	if err != nil {
		return nil, err
	}
	return noPreallocFile{f}, nil
}

type noPreallocFile struct{ vfs.File }

func (noPreallocFile) Preallocate(offset, length int64) error { return nil }

// fatalError is what pebbleLogger.Fatalf panics with.
type fatalError string

func (e fatalError) Error() string { return string(e) }

// commitFatal starts the message of the one Fatalf that Pebble calls on
// the caller's goroutine with no lock held, after a failed write to the
// write-ahead log (DB.Apply): the only one the store recovers from.
const commitFatal = "pebble: fatal commit error"

// write commits b to Pebble. A failed write to the write-ahead log, which
// Pebble reports by Fatalf, becomes an error that this and every later
// write returns: Pebble's log writer cannot be used again. The failed
// batch may or may not be in the store, now or once it is reopened, which
// is harmless: the caller did not have it acknowledged and applies it
// again, and merges give one result however many times an update arrives.
func (p *Pebble) write(b *pebble.Batch) (err error) {
	if e := p.writeErr.Load(); e != nil {
		return *e
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		fe, ok := r.(fatalError)
		if !ok || !strings.HasPrefix(string(fe), commitFatal) {
			panic(r)
		}
		err = fmt.Errorf("writes stopped after a failed write to the write-ahead log (%s); reads go on; reopen the store once the cause (a full disk?) is fixed: it holds every batch Apply accepted", fe)
		p.writeErr.CompareAndSwap(nil, &err)
		p.log.Error(err.Error())
	}()
	return p.db.Apply(b, p.wo)
}

// bgErrors handles Pebble's background errors: it logs them (the same
// message at most once a minute, with how many were not logged) and,
// after one that says the disk is full, pauses before Pebble retries.
// Pebble calls it holding its lock, so the pause is short while the store
// is open (a new read session waits for it); while opening, when nothing
// else waits, it is a second.
type bgErrors struct {
	log     *slog.Logger
	opening atomic.Bool
	closing chan struct{} // closed by Close before it closes Pebble: no more pauses
	// failed is signalled (without blocking) by each error, for a flush
	// that waits for its outcome.
	failed chan struct{}

	mu     sync.Mutex
	last   string
	logged time.Time
	quiet  int
}

func newBGErrors(log *slog.Logger) *bgErrors {
	return &bgErrors{log: log, closing: make(chan struct{}), failed: make(chan struct{}, 1)}
}

const (
	bgLogEvery    = time.Minute
	bgPauseOpen   = time.Second
	bgPauseOpened = 250 * time.Millisecond
)

func (b *bgErrors) handle(err error) {
	msg := err.Error()
	b.mu.Lock()
	if msg != b.last || time.Since(b.logged) >= bgLogEvery {
		b.log.Error("store: background write failed; Pebble retries it", "err", msg, "not_logged_since_last", b.quiet, "component", "pebble")
		b.last, b.logged, b.quiet = msg, time.Now(), 0
	} else {
		b.quiet++
	}
	b.mu.Unlock()
	select {
	case b.failed <- struct{}{}:
	default:
	}
	if !errors.Is(err, syscall.ENOSPC) {
		return
	}
	pause := bgPauseOpened
	if b.opening.Load() {
		pause = bgPauseOpen
	}
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.closing:
	}
}

// walFiles lists the paths of the write-ahead logs in dir (named
// NNNNNN.log by Pebble).
func walFiles(fs vfs.FS, dir string) ([]string, error) {
	names, err := fs.List(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var logs []string
	for _, name := range names {
		num, ok := strings.CutSuffix(name, ".log")
		if !ok {
			continue
		}
		if _, err := strconv.ParseUint(num, 10, 64); err != nil {
			continue
		}
		logs = append(logs, fs.PathJoin(dir, name))
	}
	return logs, nil
}

// replayBytes is the size of the write-ahead logs in dir: at most what
// Open writes into tables while it replays them.
func replayBytes(fs vfs.FS, dir string) (uint64, error) {
	logs, err := walFiles(fs, dir)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, path := range logs {
		fi, err := fs.Stat(path)
		if err != nil {
			return 0, err
		}
		n += uint64(fi.Size())
	}
	return n, nil
}

// flushForClose flushes the memtables into tables, unless the disk is
// full or writes have failed, and reports whether it did: then the
// write-ahead logs hold nothing the tables do not. It gives up, leaving the
// rest to the log, as soon as a background write fails (Pebble would
// retry it forever).
func (p *Pebble) flushForClose() bool {
	if p.writeErr.Load() != nil {
		return false
	}
	if p.gate != nil && p.gate.Check(0) != nil {
		return false
	}
	select {
	case <-p.bg.failed: // an old signal must not cut this flush short
	default:
	}
	done, err := p.db.AsyncFlush()
	if err != nil {
		p.log.Warn("store: flush on close failed; the write-ahead log keeps everything", "err", err)
		return false
	}
	select {
	case <-done:
		return true
	case <-p.bg.failed:
		p.log.Warn("store: flush on close stopped by a failed write; the write-ahead log keeps everything")
		return false
	}
}

// removeLogs deletes the write-ahead logs of a store that flushForClose
// flushed and Close then closed: the flush put what the older logs held
// into tables, and the log it began holds nothing, since Close kept every
// write out. Pebble needs no log to open a store whose tables hold
// everything, and starts a new one. (A crash part way through leaves logs
// that are obsolete or empty, which an open handles.)
func removeLogs(fs vfs.FS, dir string, log *slog.Logger) {
	logs, err := walFiles(fs, dir)
	if err != nil {
		log.Warn("store: listing write-ahead logs after close", "err", err)
		return
	}
	for _, path := range logs {
		if err := fs.Remove(path); err != nil {
			log.Warn("store: removing a flushed write-ahead log", "file", filepath.Base(path), "err", err)
		}
	}
}
