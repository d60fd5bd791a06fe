package rig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

func TestProgressRate(t *testing.T) {
	p := &Progress{}
	// 0 at 0s, 100 at 1s, 300 at 2s, 300 at 3s.
	for i, n := range []float64{0, 100, 300, 300} {
		p.at = append(p.at, time.Duration(i)*time.Second)
		p.n = append(p.n, n)
	}
	if at, ok := p.Reached(200); !ok || at != 1500*time.Millisecond {
		t.Fatalf("Reached(200) = %v, %v", at, ok)
	}
	if at, ok := p.Reached(300); !ok || at != 2*time.Second {
		t.Fatalf("Reached(300) = %v, %v", at, ok)
	}
	if _, ok := p.Reached(301); ok {
		t.Fatal("Reached(301) found")
	}
	if r, ok := p.Rate(50, 250); !ok || r != 200/1.25 {
		t.Fatalf("Rate(50, 250) = %v, %v", r, ok)
	}
}

func TestTrack(t *testing.T) {
	var n atomic.Int64
	count := func() float64 { return float64(n.Load()) }
	p := Track(time.Millisecond, count)
	for range 50 {
		n.Add(10)
		time.Sleep(time.Millisecond) // the count must grow over time for the sampler to see
	}
	p.Stop(count)
	if _, ok := p.Reached(500); !ok {
		t.Fatal("last sample missing")
	}
	if r, ok := p.Rate(100, 400); !ok || r <= 0 {
		t.Fatalf("Rate = %v, %v", r, ok)
	}
}

// A labelled busy loop shows up as its part; the rest is "other" or
// another part.
func TestCPUByPart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := CPUProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	Labelled(context.Background(), "spin", func(context.Context) {
		deadline := time.Now().Add(300 * time.Millisecond)
		x := 0
		for time.Now().Before(deadline) {
			x++
		}
		_ = x
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	parts, err := CPUByPart(path)
	if err != nil {
		t.Fatal(err)
	}
	// On a busy machine the loop may get little CPU, but what it gets is
	// most of the process's.
	var total time.Duration
	for _, d := range parts {
		total += d
	}
	if parts["spin"] == 0 || parts["spin"] < total/2 {
		t.Fatalf("parts %v: the labelled loop is missing", parts)
	}
}

// The rig end to end on a small workload: Kafka and the registry, the
// catalogue and events, the playback job until its group has committed
// the end.
func TestRunJob(t *testing.T) {
	ctx := context.Background()
	lg := Logger()
	k, err := StartKafka(ctx, t.TempDir(), lg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	reg, err := sr.NewClient(sr.URLs(k.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	w := Workload{Seed: 1, Members: 500, Events: 2000, Partitions: 3}
	p, err := Produce(ctx, k.Seeds(), reg, w, lg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Events != w.Events || p.Titles == 0 || len(p.Ends) != 3 {
		t.Fatalf("produced %+v", p)
	}
	for _, window := range []time.Duration{0, 200 * time.Millisecond} {
		res, err := RunJob(ctx, JobRun{Seeds: k.Seeds(), RegistryURL: k.RegistryURL(), Name: fmt.Sprintf("test-%d", window.Milliseconds()),
			Window: window, Ends: p.Ends}, lg)
		if err != nil {
			t.Fatal(err)
		}
		c := res.Counts
		if c.In != w.Events || c.DeadLettered != 0 || c.Mapped() < 4*w.Events || res.Wall <= 0 || time.Duration(res.Window) != window {
			t.Fatalf("window %s: %+v", window, res)
		}
		if window == 0 && c.Published() != c.Mapped() || window > 0 && c.Published() >= c.Mapped() {
			t.Fatalf("window %s: published %d of %d mapped", window, c.Published(), c.Mapped())
		}
	}
}

// TestRecordTo checks that the CPU profile and the execution trace end up
// in files that their readers accept, and that an empty path records
// nothing.
func TestRecordTo(t *testing.T) {
	dir := t.TempDir()
	cpu, tr := filepath.Join(dir, "sub", "cpu.pprof"), filepath.Join(dir, "trace.out")
	stopCPU, err := CPUProfile(cpu)
	if err != nil {
		t.Fatal(err)
	}
	stopTrace, err := Trace(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CPUProfile(filepath.Join(dir, "cpu2.pprof")); err == nil {
		t.Error("a second CPU profile started while one runs")
	}
	if err := stopTrace(); err != nil {
		t.Fatal(err)
	}
	if err := stopCPU(); err != nil {
		t.Fatal(err)
	}
	if _, err := CPUByPart(cpu); err != nil {
		t.Errorf("CPU profile: %v", err)
	}
	if fi, err := os.Stat(tr); err != nil || fi.Size() == 0 {
		t.Errorf("trace: %v, %v", fi, err)
	}
	stop, err := CPUProfile("")
	if err != nil || stop() != nil {
		t.Errorf("empty path: %v", err)
	}
}
