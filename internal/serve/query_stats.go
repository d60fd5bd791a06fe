package serve

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
)

// statsCache keeps the last statistics computed and computes them at most
// once at a time. Counts are not maintained on write (a blind write does
// not know whether its element is new), so Stats is a scan of the store,
// bounded by StatsTimeout. A result is served again for statsAgeFactor
// times as long as its scan took, at least statsMinAge and at most
// StatsMaxAge: statistics scans then take at most a 1/statsAgeFactor share
// of one core however many clients ask, and a small graph's counts follow
// its writes within seconds instead of lagging by the large graph's
// allowance.
//
// The scan runs on its own goroutine with its own deadline: a request
// whose deadline passes first gets the previous result if there is one,
// or a partial answer, and the scan's result serves the requests after
// it. The store stops the scan when it closes.
type statsCache struct {
	r       graph.Reader
	topK    int
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	cur     *graph.Stats
	at      time.Time     // wall time cur was computed
	took    time.Duration // by the scan that computed cur
	running chan struct{} // closed when the scan in flight ends
	err     error         // of the last scan
}

func newStatsCache(r graph.Reader, topK int, timeout time.Duration, log *slog.Logger) *statsCache {
	return &statsCache{r: r, topK: topK, timeout: timeout, log: log}
}

// Bounds of how long a statistics result is served (see statsCache).
const (
	statsAgeFactor = 20
	statsMinAge    = 2 * time.Second
)

// get returns statistics fresh enough (see statsCache; never older than
// maxAge), waiting for a scan if needed until ctx is done. Then it returns
// the last statistics computed, however old, or nil if there are none.
func (c *statsCache) get(ctx context.Context, maxAge time.Duration) (*graph.Stats, error) {
	c.mu.Lock()
	if c.cur != nil && time.Since(c.at) < min(maxAge, max(statsMinAge, statsAgeFactor*c.took)) {
		st := c.cur
		c.mu.Unlock()
		return st, nil
	}
	if c.running == nil {
		c.running = make(chan struct{})
		go c.compute(c.running)
	}
	done := c.running
	c.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil && c.err != nil && ctx.Err() == nil {
		return nil, c.err
	}
	return c.cur, nil
}

func (c *statsCache) compute(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	st, err := c.r.Stats(ctx, c.topK)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.log.Warn("graph statistics scan failed", "err", err)
		c.err = err
	} else {
		c.cur, c.at, c.took, c.err = st, time.Now(), time.Since(start), nil
		c.log.Debug("graph statistics computed", "took", c.took.Round(time.Millisecond))
	}
	c.running = nil
	close(done)
}
