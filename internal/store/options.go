package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rdgraph/rdg/internal/graph"
)

// Opt configures Open.
type Opt interface {
	apply(*cfg)
}

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	logger       *slog.Logger
	cacheSize    int64
	memTableSize uint64
	sync         bool
	ttl          graph.TTL
	now          func() time.Time
	sweepEvery   time.Duration
	sweepKeys    int
	// fs replaces the disk (tests: a file system that can crash).
	fs   vfs.FS
	gate Gate
}

func defaultCfg() cfg {
	return cfg{
		logger:       slog.New(slog.DiscardHandler),
		cacheSize:    64 << 20,
		memTableSize: DefaultMemTableSize,
		sync:         true,
		now:          time.Now,
		sweepEvery:   DefaultSweepInterval,
		sweepKeys:    DefaultSweepKeys,
	}
}

// Defaults of the TTL sweep: every minute, at most 100,000 keys examined per
// pass, so a pass costs tens of milliseconds however large the store, and a
// store of E edges is swept completely every E/100,000 minutes.
const (
	DefaultSweepInterval = time.Minute
	DefaultSweepKeys     = 100_000
)

// TTL sets a time to live per node or edge type (see graph.TTL for the
// rules). Expired elements are invisible to every read at once, and a
// background sweep deletes them (see SweepInterval). Without TTL (the
// default) nothing expires and no sweep runs. Open fails on an invalid
// type name or a non-positive duration.
func TTL(ttl map[string]time.Duration) Opt {
	return opt(func(c *cfg) {
		if len(ttl) == 0 {
			c.ttl = nil
			return
		}
		c.ttl = make(graph.TTL, len(ttl))
		for k, v := range ttl {
			c.ttl[k] = v
		}
	})
}

// Clock sets the clock TTLs are measured against (default time.Now); tests
// use it to expire elements without waiting.
func Clock(now func() time.Time) Opt {
	return opt(func(c *cfg) {
		if now != nil {
			c.now = now
		}
	})
}

// SweepInterval sets how often the background TTL sweep runs (default
// DefaultSweepInterval); 0 or less disables it, leaving Sweep to the
// caller. Expired elements are invisible either way.
func SweepInterval(d time.Duration) Opt {
	return opt(func(c *cfg) { c.sweepEvery = d })
}

// SweepKeys bounds the keys one sweep pass examines (default
// DefaultSweepKeys).
func SweepKeys(n int) Opt {
	return opt(func(c *cfg) {
		if n > 0 {
			c.sweepKeys = n
		}
	})
}

// Logger sets the logger for Pebble's own messages (background errors,
// write stalls). The default discards them.
func Logger(l *slog.Logger) Opt {
	return opt(func(c *cfg) {
		if l != nil {
			c.logger = l
		}
	})
}

// CacheSize sets the size in bytes of Pebble's block cache (default 64 MiB).
func CacheSize(bytes int64) Opt {
	return opt(func(c *cfg) { c.cacheSize = bytes })
}

// DefaultMemTableSize is the size of one memtable unless MemTableSize
// says otherwise. Pebble's own default, 4 MiB, is smaller than one of the
// graph writer's batches (20,000 elements, about 3 MiB of keys and values
// with the reverse edge keys): each batch then took Pebble's large-batch
// path, was flushed on its own into a small level-0 table, and the store
// spent its time compacting them (and stalled writes on the memtable
// count). 64 MiB memtables take about 20 batches each; with Pebble's two
// memtables before writes stop, at most 128 MiB of memory.
const DefaultMemTableSize = 64 << 20

// MemTableSize sets the size in bytes of one Pebble memtable (default
// DefaultMemTableSize). Larger memtables absorb more merge operands before
// a flush has to resolve them and make fewer, larger level-0 tables, at
// the cost of memory and of a longer write-ahead log to replay on open.
func MemTableSize(bytes uint64) Opt {
	return opt(func(c *cfg) {
		if bytes > 0 {
			c.memTableSize = bytes
		}
	})
}

// Sync sets whether Apply waits for the write-ahead log to reach stable
// storage (default true). With false a crash may lose the most recent
// batches; graph.Writer's "durable when Apply returns" then holds only
// against a process crash, not a machine crash, which is acceptable when the
// graph topics can be replayed.
func Sync(sync bool) Opt {
	return opt(func(c *cfg) { c.sync = sync })
}

// pebbleLogger adapts slog to pebble.Logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Info(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf is called by Pebble on invariant violations (e.g. data corruption)
// and failed writes to its logs, after which it must not continue;
// panicking instead of exiting lets the process's own recovery and logging
// run, and lets Apply recover from the one failure it can (see write).
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Log(context.Background(), slog.LevelError+4, msg, "component", "pebble")
	panic(fatalError(msg))
}

// withFS opens the store on fs instead of the disk.
func withFS(fs vfs.FS) Opt { return opt(func(c *cfg) { c.fs = fs }) }
