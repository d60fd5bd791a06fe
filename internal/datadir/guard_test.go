package datadir

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFS stands in for statfs: the free space is what the test says.
type fakeFS struct{ free atomic.Uint64 }

func (f *fakeFS) statfs(string) (uint64, error) { return f.free.Load(), nil }

func newTestGuard(t *testing.T, free, reserve uint64) (*Guard, *fakeFS) {
	t.Helper()
	fs := &fakeFS{}
	fs.free.Store(free)
	g, err := newGuard("/data", reserve, slog.New(slog.DiscardHandler), fs.statfs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g, fs
}

func TestGuardRefusesBelowReserve(t *testing.T) {
	g, fs := newTestGuard(t, 100<<20, 10<<20)
	if err := g.Check(0); err != nil {
		t.Fatalf("Check with 100 MiB free, 10 MiB reserve: %v", err)
	}
	if err := g.Check(95 << 20); err == nil {
		t.Error("Check needing 95 MiB more than a 10 MiB reserve with 100 MiB free: nil, want an error")
	} else if !strings.Contains(err.Error(), "plus the 95.0 MiB") {
		t.Errorf("error %q does not say what was needed", err)
	}
	fs.free.Store(4 << 20)
	// Check rereads the file system once its last answer is refresh old.
	var err error
	for deadline := time.Now().Add(5 * time.Second); err == nil && time.Now().Before(deadline); {
		if err = g.Check(0); err == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	var full *FullError
	if !errors.As(err, &full) {
		t.Fatalf("Check with 4 MiB free: %v, want a *FullError", err)
	}
	for _, want := range []string{"/data", strconv.Itoa(4 << 20), "reserve of 10.0 MiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if free, isFull := g.Free(); free != 4<<20 || !isFull {
		t.Errorf("Free() = %d, %v; want %d, true", free, isFull, 4<<20)
	}
}

// Wait holds a write while the directory is full and lets it go once the
// background check sees space again.
func TestGuardWaitResumes(t *testing.T) {
	g, fs := newTestGuard(t, 1<<20, 10<<20)
	done := make(chan error, 1)
	go func() { done <- g.Wait(context.Background()) }()
	// A Wait with a deadline ends with it, and the other is still held.
	ctx, cancel := context.WithTimeout(context.Background(), 2*fullPoll)
	err := g.Wait(ctx)
	cancel()
	var full *FullError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &full) {
		t.Fatalf("Wait while the directory was full: %v, want its context's deadline and the FullError", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v while the directory was full", err)
	default:
	}
	fs.free.Store(100 << 20)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait after space was freed: %v", err)
		}
	case <-time.After(pollEvery + time.Second):
		t.Fatal("Wait did not return after space was freed")
	}
}

func TestGuardWaitEnds(t *testing.T) {
	g, _ := newTestGuard(t, 1<<20, 10<<20)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a canceled context: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait(context.Background()) }()
	g.Close()
	select {
	case err := <-done:
		var full *FullError
		if !errors.Is(err, ErrStopped) || !errors.As(err, &full) {
			t.Errorf("Wait after Close: %v, want ErrStopped and the FullError", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after Close")
	}
}
