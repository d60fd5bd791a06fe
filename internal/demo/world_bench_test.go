package demo

import (
	"runtime"
	"testing"
)

// BenchmarkNewWorld builds a 100,000-member world and reports the heap it
// keeps per member (retained, not allocated: what a long run holds).
func BenchmarkNewWorld(b *testing.B) {
	const members = 100_000
	b.ReportAllocs()
	var retained uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g := New(Config{Seed: 1, Members: members})
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(g)
	}
	b.ReportMetric(float64(retained)/members, "B/member")
}
