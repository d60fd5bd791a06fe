// Package gcfloor keeps the garbage collector from running on a tiny heap.
//
// Go sets the next collection's heap goal to the live heap times
// (1 + GOGC/100). A process whose live heap is a few MiB, as rdg's query
// server is (Pebble's block cache lives outside the Go heap), then
// collects every few MiB allocated: a 2-hop traversal that returns a
// thousand nodes ran about fifty collections a second, a fifth of the
// server's CPU. A floor under the goal lets such a process allocate up to
// the floor between collections, and changes nothing once the live heap
// is large enough that the ordinary goal is above it.
//
// It owns the process's GOGC setting while it runs and knows nothing of
// rdg; GOMEMLIMIT keeps working as usual above it.
package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultFloor is rdg's floor: small next to the memory a store, a broker
// or a dedupe buffer takes, and in a query server about six times its
// live heap.
const DefaultFloor = 64 << 20

// Floor raises GOGC after every collection so that the next heap goal is
// at least floor bytes: the goal is max(live × (1 + base/100), floor),
// where base is the GOGC in force when Start was called (100 unless the
// GOGC environment variable or debug.SetGCPercent said otherwise). A
// negative base (collection turned off) or floor <= 0 makes Start do
// nothing.
type Floor struct {
	floor int64
	base  int

	stopped atomic.Bool
	mu      sync.Mutex // serialises adjust with Stop's restore
	samples []metrics.Sample
}

// Start begins keeping the floor. Only one Floor should run in a process:
// each sets GOGC.
func Start(floor int64) *Floor {
	f := &Floor{floor: floor, base: debug.SetGCPercent(100)}
	debug.SetGCPercent(f.base)
	if floor <= 0 || f.base < 0 {
		f.stopped.Store(true)
		return f
	}
	f.samples = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	f.adjust()
	f.arm()
	return f
}

// Stop restores the GOGC in force when Start was called.
func (f *Floor) Stop() {
	if f.stopped.Swap(true) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	debug.SetGCPercent(f.base)
}

// sentinel is an object nothing refers to: its cleanup runs after the
// collection that finds it unreachable, which makes it a hook on every
// collection. (It holds a pointer so that the allocator does not batch it
// with other tiny objects, whose cleanups may be delayed.)
type sentinel struct{ _ *int }

func (f *Floor) arm() {
	runtime.AddCleanup(new(sentinel), func(f *Floor) {
		if f.stopped.Load() {
			return
		}
		f.adjust()
		f.arm()
	}, f)
}

// adjust sets GOGC from the live heap the last collection marked.
func (f *Floor) adjust() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Load() {
		return
	}
	metrics.Read(f.samples)
	var live uint64
	if v := f.samples[0].Value; v.Kind() == metrics.KindUint64 {
		live = v.Uint64()
	}
	debug.SetGCPercent(percent(live, f.floor, f.base))
}

// heapMinimum is the runtime's smallest heap goal at GOGC=100
// (defaultHeapMinimum in runtime/mgcpacer.go). The runtime scales it with
// GOGC, so a GOGC computed from a tiny live heap alone would put the goal
// far above the floor: a 128 KiB live heap and a 64 MiB floor ask for
// GOGC 51,100, which makes the minimum goal 2 GiB.
const heapMinimum = 4 << 20

// percent is the GOGC that puts the heap goal of a live heap of live bytes
// at floor (or base, if that is higher): enough to lift live ×
// (1 + GOGC/100) to the floor, but no more than lifts the runtime's
// scaled minimum goal to it.
func percent(live uint64, floor int64, base int) int {
	if live == 0 {
		live = 1
	}
	p := math.Ceil((float64(floor)/float64(live) - 1) * 100)
	p = math.Min(p, float64(floor)*100/heapMinimum)
	if p <= float64(base) {
		return base
	}
	return int(math.Min(p, math.MaxInt32))
}
