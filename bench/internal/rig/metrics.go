package rig

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Counter sums the counters and gauges named name in g whose labels
// include every pair of match (name, value, name, value, ...). Reading
// what a Prometheus scrape would read, rather than rdg's internals, keeps
// the benchmarks honest about what the job says it did.
func Counter(g prometheus.Gatherer, name string, match ...string) (float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(match); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == match[i] && l.GetValue() == match[i+1] {
						found = true
						break
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum, nil
}

// JobCounts are a job's counters (package job's Metrics).
type JobCounts struct {
	In             int64 `json:"records_in"`
	Filtered       int64 `json:"filtered"`
	DeadLettered   int64 `json:"dead_lettered"`
	NodesMapped    int64 `json:"nodes_mapped"`
	EdgesMapped    int64 `json:"edges_mapped"`
	NodesPublished int64 `json:"nodes_published"`
	EdgesPublished int64 `json:"edges_published"`
	Commits        int64 `json:"commits"`
}

// Mapped is the elements mapped from records, before dedupe.
func (c JobCounts) Mapped() int64 { return c.NodesMapped + c.EdgesMapped }

// Published is the element records published to graph topics.
func (c JobCounts) Published() int64 { return c.NodesPublished + c.EdgesPublished }

// ReadJobCounts reads job name's counters from g.
func ReadJobCounts(g prometheus.Gatherer, name string) (JobCounts, error) {
	var c JobCounts
	for _, f := range []struct {
		metric string
		dst    *int64
	}{
		{"rdg_job_records_in_total", &c.In},
		{"rdg_job_records_filtered_total", &c.Filtered},
		{"rdg_job_records_dead_lettered_total", &c.DeadLettered},
		{"rdg_job_nodes_out_total", &c.NodesMapped},
		{"rdg_job_edges_out_total", &c.EdgesMapped},
		{"rdg_job_nodes_published_total", &c.NodesPublished},
		{"rdg_job_edges_published_total", &c.EdgesPublished},
		{"rdg_job_commits_total", &c.Commits},
	} {
		v, err := Counter(g, f.metric, "job", name)
		if err != nil {
			return c, err
		}
		*f.dst = int64(v)
	}
	return c, nil
}

// Progress samples a growing count over time, so that a run's
// steady-state rate can be told from its start-up and its tail.
type Progress struct {
	start time.Time
	stop  context.CancelFunc
	done  chan struct{}

	mu sync.Mutex
	at []time.Duration
	n  []float64
}

// Track samples count every period from now until Stop.
func Track(period time.Duration, count func() float64) *Progress {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Progress{start: time.Now(), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			p.sample(count)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *Progress) sample(count func() float64) {
	n := count()
	at := time.Since(p.start)
	p.mu.Lock()
	p.at = append(p.at, at)
	p.n = append(p.n, n)
	p.mu.Unlock()
}

// Stop takes a last sample of count and stops sampling.
func (p *Progress) Stop(count func() float64) {
	p.stop()
	<-p.done
	p.sample(count)
}

// Reached is when the count first reached n (linearly interpolated
// between samples), and false if it never did.
func (p *Progress) Reached(n float64) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, v := range p.n {
		if v < n {
			continue
		}
		if i == 0 || v == p.n[i-1] {
			return p.at[i], true
		}
		prev := p.n[i-1]
		f := (n - prev) / (v - prev)
		return p.at[i-1] + time.Duration(f*float64(p.at[i]-p.at[i-1])), true
	}
	return 0, false
}

// Rate is the count's rate per second between the moments it reached lo
// and hi: with lo and hi at 10% and 90% of the total, the steady state,
// without the start-up before the first record and the tail after the
// last.
func (p *Progress) Rate(lo, hi float64) (float64, bool) {
	t0, ok0 := p.Reached(lo)
	t1, ok1 := p.Reached(hi)
	if !ok0 || !ok1 || t1 <= t0 {
		return 0, false
	}
	return (hi - lo) / (t1 - t0).Seconds(), true
}
