package stack

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rdgraph/rdg/internal/datadir"
	"github.com/rdgraph/rdg/internal/store"
)

// ownDataDir makes this process the data directory's only owner (before
// anything writes there) unless the caller already did
// (Config.DataDirLock), warns if others can read it, and starts the guard
// of its free space, failing at once if it is already full: the broker and
// the store both write as they start.
func (s *Stack) ownDataDir() error {
	cfg := &s.cfg
	if s.lock == nil {
		var err error
		if s.lock, err = datadir.Acquire(cfg.DataDir); err != nil {
			return err
		}
	}
	if err := datadir.CheckPrivate(cfg.DataDir); err != nil {
		s.log.Warn(err.Error())
	}
	reserve := cfg.DiskReserve
	if reserve == 0 {
		reserve = datadir.DefaultReserve
	}
	var err error
	if s.guard, err = datadir.NewGuard(s.lock.Dir(), reserve, s.log); err != nil {
		return err
	}
	if err := s.guard.Check(0); err != nil {
		return fmt.Errorf("cannot start: %w", err)
	}
	s.promReg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rdg_data_dir_free_bytes",
			Help: "Free bytes on the data directory's file system, as last checked."},
			func() float64 { free, _ := s.guard.Free(); return float64(free) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rdg_data_dir_full",
			Help: "1 while writes are refused because the data directory's file system has less free space than the reserve."},
			func() float64 {
				if _, full := s.guard.Free(); full {
					return 1
				}
				return 0
			}))
	return nil
}

// openStore opens the store, giving up if ctx ends first: Pebble cannot be
// interrupted while it replays its write-ahead log, and a stop asked for
// meanwhile must not wait for it. A store opened after that is closed.
func openStore(ctx context.Context, dir string, opts []store.Opt) (*store.Pebble, error) {
	type opened struct {
		st  *store.Pebble
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		st, err := store.Open(dir, opts...)
		ch <- opened{st, err}
	}()
	select {
	case o := <-ch:
		return o.st, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.st != nil {
				o.st.Close()
			}
		}()
		return nil, fmt.Errorf("stopped while the store was opening: %w", ctx.Err())
	}
}
