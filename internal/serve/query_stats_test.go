package serve

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/store"
)

// TestStatsCacheAge: a result is served again for statsAgeFactor times its
// scan's duration, at least statsMinAge and at most the maximum age, so a
// small graph's counts follow its writes within seconds.
func TestStatsCacheAge(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(t.TempDir(), store.Sync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	n := 0
	addNode := func() {
		t.Helper()
		n++
		id := string(rune('a' + n))
		if err := s.Apply(ctx, &graph.Batch{Nodes: []graph.Node{{NodeRef: graph.NodeRef{Type: "device", ID: id}, FirstSeen: 1, LastSeen: 1, UpdatedAt: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	c := newStatsCache(s, 5, time.Minute, slog.New(slog.DiscardHandler))
	devices := func(maxAge time.Duration) int64 {
		t.Helper()
		st, err := c.get(ctx, maxAge)
		if err != nil || st == nil {
			t.Fatalf("stats: %v, %v", st, err)
		}
		return st.Nodes["device"]
	}
	// age pretends the last result was computed ago by a scan that took took.
	age := func(ago, took time.Duration) {
		c.mu.Lock()
		c.at, c.took = time.Now().Add(-ago), took
		c.mu.Unlock()
	}

	addNode()
	if got := devices(time.Minute); got != 1 {
		t.Fatalf("devices = %d, want 1", got)
	}
	addNode()
	if got := devices(time.Minute); got != 1 {
		t.Errorf("a result younger than %s was computed again: devices = %d", statsMinAge, got)
	}
	age(3*time.Second, time.Second) // allowance 20 s
	if got := devices(time.Minute); got != 1 {
		t.Errorf("a result within 20 times its scan's duration was computed again: devices = %d", got)
	}
	if got := devices(2 * time.Second); got != 2 {
		t.Errorf("a result older than the maximum age was served: devices = %d, want 2", got)
	}
	addNode()
	age(3*time.Second, time.Millisecond) // allowance the 2 s minimum
	if got := devices(time.Minute); got != 3 {
		t.Errorf("a quick scan's result older than %s was served: devices = %d, want 3", statsMinAge, got)
	}
}
