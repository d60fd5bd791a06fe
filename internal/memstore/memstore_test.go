package memstore_test

import (
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/graph/graphtest"
	"github.com/rdgraph/rdg/internal/memstore"
)

// TestConformance runs the store conformance suite against the reference.
func TestConformance(t *testing.T) {
	graphtest.Run(t, func(t testing.TB, ttl graph.TTL, now func() time.Time) graphtest.Store {
		s, err := memstore.New(ttl, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
