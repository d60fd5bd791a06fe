package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
)

// diskUse is the space the files of dir take on disk (allocated blocks,
// not their lengths: a preallocated file takes more than its length),
// split into tables and the rest, and the names of its write-ahead logs.
func diskUse(t testing.TB, dir string) (tables, other int64, logs []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n := fi.Sys().(*syscall.Stat_t).Blocks * 512
		switch filepath.Ext(path) {
		case ".sst":
			tables += n
		case ".log":
			logs = append(logs, filepath.Base(path))
			other += n
		default:
			other += n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tables, other, logs
}

// A small graph's store directory stays small after a clean stop: tables
// and a few KiB of Pebble's own files, no write-ahead log. It guards
// against Pebble's defaults, which preallocate each log at 110% of the 64
// MiB memtable and keep obsolete logs for reuse.
func TestCleanStopLeavesOnlyTables(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	batches := benchBatches(50, 1) // 50,000 edges
	for round := range 2 {
		// The defaults (synced writes) as rdg runs the store.
		p, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		// Each edge three times, as replays and updates bring them.
		for range 3 {
			for _, b := range batches {
				if err := p.Apply(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		tables, other, logs := diskUse(t, dir)
		t.Logf("round %d: tables %.1f MiB, other files %.1f KiB, logs %v", round, float64(tables)/(1<<20), float64(other)/(1<<10), logs)
		if len(logs) > 0 {
			t.Errorf("round %d: write-ahead logs left after a clean stop: %v", round, logs)
		}
		if other > 1<<20 {
			t.Errorf("round %d: files other than tables take %d bytes after a clean stop, want at most 1 MiB (tables: %d bytes)", round, other, tables)
		}
	}
	p, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if n := watchedEdges(t, p); n != 50_000 {
		t.Errorf("reopened store holds %d edges, want 50000", n)
	}
}

// watchedEdges is how many edges of benchBatches' type p holds.
func watchedEdges(t *testing.T, p *Pebble) int64 {
	t.Helper()
	_, edges, err := p.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return edges["watched"]
}

// testGate is a Gate the test opens and closes.
type testGate struct {
	full    atomic.Bool
	maxNeed uint64
	held    atomic.Int64 // times Wait found the gate closed
}

var errTestFull = errors.New("test gate: full")

func (g *testGate) Check(need uint64) error {
	if g.full.Load() || need > g.maxNeed {
		return errTestFull
	}
	return nil
}

func (g *testGate) Wait(ctx context.Context) error {
	for g.Check(0) != nil {
		g.held.Add(1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", ctx.Err(), errTestFull)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// While the gate refuses, Apply holds its batch (until the gate opens or
// its context ends), the sweep and Close's flush write nothing, and an open
// that would have to replay more log than the gate allows fails at once.
func TestGateHoldsWrites(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	g := &testGate{maxNeed: 1 << 40}
	p, err := Open(dir, WriteGate(g))
	if err != nil {
		t.Fatal(err)
	}
	batches := benchBatches(2, 1)
	apply(t, p, batches[0])

	g.full.Store(true)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err = p.Apply(cctx, batches[1])
	cancel()
	if !errors.Is(err, errTestFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Apply while the gate refuses, until its context ends: %v", err)
	}
	done := make(chan error, 1)
	before := g.held.Load()
	go func() { done <- p.Apply(ctx, batches[1]) }()
	// Held: Apply has asked the closed gate twice and is still waiting.
	for deadline := time.Now().Add(10 * time.Second); g.held.Load() < before+2; {
		select {
		case err := <-done:
			t.Fatalf("Apply returned %v while the gate refused", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Apply did not ask the gate in 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling the count
	}
	select {
	case err := <-done:
		t.Fatalf("Apply returned %v while the gate refused", err)
	default:
	}
	g.full.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("Apply once the gate opened: %v", err)
	}

	// Closed while the gate refuses: nothing is flushed, the log keeps it.
	g.full.Store(true)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, logs := diskUse(t, dir)
	if len(logs) == 0 {
		t.Fatal("no write-ahead log after a close that could not flush")
	}
	g.full.Store(false)
	g.maxNeed = 0
	if _, err := Open(dir, WriteGate(g)); !errors.Is(err, errTestFull) {
		t.Fatalf("Open with a log to replay and no room for it: %v, want the gate's error", err)
	}
	g.maxNeed = 1 << 40
	p, err = Open(dir, WriteGate(g))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if n := watchedEdges(t, p); n != 2*benchBatch {
		t.Errorf("reopened store holds %d edges, want %d", n, 2*benchBatch)
	}
}

// mountTmpfs mounts a tmpfs of sizeMiB and returns its directory and a
// function that resizes it; it skips the test where it cannot mount
// (mounting needs root).
func mountTmpfs(t *testing.T, sizeMiB int) (string, func(sizeMiB int)) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", sizeMiB), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a full disk needs a small file system, and this test cannot mount a tmpfs (it needs root): %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir, func(sizeMiB int) {
		t.Helper()
		if out, err := exec.Command("mount", "-o", fmt.Sprintf("remount,size=%dm", sizeMiB), dir).CombinedOutput(); err != nil {
			t.Fatalf("resize tmpfs: %v: %s", err, out)
		}
	}
}

// When the disk fills under the write-ahead log, Apply returns an error
// (rather than let Pebble's panic take the whole process down) and
// refuses every write after it, reads go on, Close returns, and once there
// is space again a reopened store holds every batch Apply accepted. No
// gate here: this is what happens when the disk fills faster than a gate
// looks.
func TestApplyOnFullDisk(t *testing.T) {
	mnt, resize := mountTmpfs(t, 8)
	dir := filepath.Join(mnt, "store")
	ctx := context.Background()
	p, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	batches := benchBatches(400, 1)
	accepted := 0
	var applyErr error
	for _, b := range batches {
		if applyErr = p.Apply(ctx, b); applyErr != nil {
			break
		}
		accepted++
	}
	if applyErr == nil {
		t.Fatalf("%d batches fit in an 8 MiB file system: the disk never filled", len(batches))
	}
	t.Logf("%d batches accepted, then: %v", accepted, applyErr)
	if !strings.Contains(applyErr.Error(), "no space left on device") || !strings.Contains(applyErr.Error(), "writes stopped") {
		t.Errorf("Apply on a full disk: %q, want it to say writes stopped for want of space", applyErr)
	}
	if err := p.Apply(ctx, batches[0]); err == nil || !strings.Contains(err.Error(), "writes stopped") {
		t.Errorf("Apply after the failure: %v, want writes refused", err)
	}
	e := batches[0].Edges[0]
	if _, ok, err := p.Edge(ctx, e.EdgeRef); err != nil || !ok {
		t.Errorf("read after the failure: found %v, %v", ok, err)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		t.Logf("Close after the failure: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return within 30s on a full disk")
	}

	resize(64)
	p, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen once there is space: %v", err)
	}
	defer p.Close()
	for i, b := range batches[:accepted] {
		for _, e := range []graph.Edge{b.Edges[0], b.Edges[len(b.Edges)-1]} {
			if _, ok, err := p.Edge(ctx, e.EdgeRef); err != nil || !ok {
				t.Fatalf("batch %d of %d accepted before the disk filled: edge %s found %v, %v", i, accepted, e.EdgeRef, ok, err)
			}
		}
	}
	if n := watchedEdges(t, p); n < int64(accepted*benchBatch) {
		t.Errorf("reopened store holds %d edges, want at least the %d accepted", n, accepted*benchBatch)
	}
}
