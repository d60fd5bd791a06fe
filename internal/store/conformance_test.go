package store

import (
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/graph/graphtest"
)

// TestConformance runs the store conformance suite against Pebble, with
// the expected output the in-memory reference (internal/memstore) gives.
func TestConformance(t *testing.T) {
	graphtest.Run(t, func(t testing.TB, ttl graph.TTL, now func() time.Time) graphtest.Store {
		p, err := Open(t.TempDir(), Sync(false), CacheSize(8<<20), TTL(ttl), Clock(now), SweepInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	})
}
