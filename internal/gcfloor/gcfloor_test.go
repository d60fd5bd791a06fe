package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live  uint64
		floor int64
		base  int
		want  int
	}{
		{live: 8 << 20, floor: 64 << 20, base: 100, want: 700},   // goal 8 × 8 = 64 MiB
		{live: 32 << 20, floor: 64 << 20, base: 100, want: 100},  // the ordinary goal is the floor
		{live: 256 << 20, floor: 64 << 20, base: 100, want: 100}, // above the floor: base
		{live: 10 << 20, floor: 64 << 20, base: 50, want: 540},   // rounded up: goal >= floor
		{live: 8 << 20, floor: 64 << 20, base: 1000, want: 1000}, // a higher base wins
		{live: 1 << 20, floor: 64 << 20, base: 100, want: 1600},  // the scaled minimum goal reaches the floor first
		{live: 0, floor: 64 << 20, base: 100, want: 1600},        // nothing marked yet
		{live: 4 << 20, floor: 64 << 20, base: 100, want: 1500},  // live × 16 = 64 MiB
		{live: 1 << 20, floor: 2 << 20, base: 100, want: 100},    // a floor under the minimum goal
		{live: 1, floor: 1 << 62, base: 100, want: 2147483647},   // clamped
	} {
		if got := percent(c.live, c.floor, c.base); got != c.want {
			t.Errorf("percent(live %d, floor %d, base %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

func readUint(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink []byte

// churn allocates n bytes of garbage in 4 KiB pieces, keeping the live
// heap small, and returns the collections that ran meanwhile.
func churn(n int) uint64 {
	c0 := readUint("/gc/cycles/total:gc-cycles")
	for range n / 4096 {
		sink = make([]byte, 4096)
	}
	sink = nil
	return readUint("/gc/cycles/total:gc-cycles") - c0
}

// waitPercent waits for the GOGC in force to satisfy ok: the floor adjusts
// it from a cleanup, after a collection.
func waitPercent(t *testing.T, ok func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC stayed at %d", p)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

func TestFloorFewerCollections(t *testing.T) {
	const floor = 128 << 20
	runtime.GC()
	without := churn(512 << 20)

	f := Start(floor)
	defer f.Stop()
	runtime.GC()
	// The live heap of a test binary is a few MiB, so the floor must have
	// raised GOGC well above its default.
	p := waitPercent(t, func(p int) bool { return p > 1000 })
	goal := readUint("/gc/heap/goal:bytes")
	with := churn(512 << 20)
	t.Logf("512 MiB allocated: %d collections without a floor, %d with a %d MiB floor (GOGC %d, goal %d MiB)",
		without, with, floor>>20, p, goal>>20)
	if goal < floor*9/10 || goal > floor*11/10 {
		t.Errorf("heap goal %d MiB, want about the %d MiB floor", goal>>20, floor>>20)
	}
	// Without a floor a few-MiB heap collects every few MiB; with it,
	// about every floor bytes: 4 for 512 MiB, give or take.
	if with*4 > without || with > 16 {
		t.Errorf("%d collections with the floor, %d without: want at most a quarter and at most 16", with, without)
	}
}

func TestStopRestoresGOGC(t *testing.T) {
	old := debug.SetGCPercent(150)
	defer debug.SetGCPercent(old)
	f := Start(256 << 20)
	runtime.GC()
	waitPercent(t, func(p int) bool { return p != 150 })
	f.Stop()
	f.Stop() // harmless
	// A cleanup armed before Stop must not set it again.
	runtime.GC()
	runtime.GC()
	if p := debug.SetGCPercent(old); p != 150 {
		t.Errorf("after Stop GOGC is %d, want 150 restored", p)
	}
}

func TestOffOrNoFloorDoesNothing(t *testing.T) {
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	f := Start(64 << 20)
	runtime.GC()
	f.Stop()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("with collection off, Start set GOGC to %d", p)
	}
	debug.SetGCPercent(120)
	f = Start(0)
	runtime.GC()
	f.Stop()
	if p := debug.SetGCPercent(120); p != 120 {
		t.Errorf("with no floor, GOGC is %d, want 120 untouched", p)
	}
}
