package serve

import "time"

// SetCertCheckEvery changes how often TLSConfig's handshakes look for a
// renewed certificate, and returns a function that restores it.
func SetCertCheckEvery(d time.Duration) (restore func()) {
	old := certCheckEvery.Swap(int64(d))
	return func() { certCheckEvery.Store(old) }
}

// MemoryFor is the memory estimate of a query that may keep results
// nodes and edges: a memory bound of MemoryFor(n) lets a traversal visit
// n elements at most.
func MemoryFor(results int) int64 { return costBase + int64(results)*costResult }

// MemoryAvailable is the memory DefaultAdmission takes a quarter of.
func MemoryAvailable() int64 { return memoryAvailable() }
