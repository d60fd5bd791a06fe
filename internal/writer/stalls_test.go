package writer

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// A writer that the stack restarts with the same Metrics after it failed
// while partitions were stalled starts with none stalled: its partitions
// are read from their commits again, and /readyz and the gauge must not
// go on reporting the old run's stalls.
func TestRestartedWriterClearsStalls(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	old := newStalls(nil, m, slog.New(slog.DiscardHandler))
	old.mu.Lock()
	old.ps[topicPartition{"rdg.edge.rated", 0}] = &stall{}
	old.ps[topicPartition{"rdg.edge.rated", 1}] = &stall{}
	old.setStalled()
	old.mu.Unlock()
	if n, g := m.StalledPartitions(), gauge(t, reg, "rdg_store_partitions_stalled"); n != 2 || g != 2 {
		t.Fatalf("before the restart: %d stalled, gauge %v; want 2", n, g)
	}
	newStalls(nil, m, slog.New(slog.DiscardHandler))
	if n, g := m.StalledPartitions(), gauge(t, reg, "rdg_store_partitions_stalled"); n != 0 || g != 0 {
		t.Fatalf("after the restart: %d stalled, gauge %v; want 0", n, g)
	}
}
