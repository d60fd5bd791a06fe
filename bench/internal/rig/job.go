package rig

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// JobRun is one measured run of the playback job over a workload already
// in Kafka. It is plain data so that a parent can hand it to the child
// process that performs it.
type JobRun struct {
	Seeds       []string `json:"seeds"`
	RegistryURL string   `json:"registry_url"`
	// Name is the job's name in this run: a fresh consumer group.
	Name string `json:"name"`
	// Window is the dedupe window; negative keeps the job file's.
	Window time.Duration `json:"window_ns"`
	// Concurrency, if positive, replaces the job's tuning.concurrency:
	// consumers of the job in the process.
	Concurrency int `json:"concurrency,omitempty"`
	// Ends are the source topic's end offsets: the run ends when the job's
	// group has committed them.
	Ends map[int32]int64 `json:"ends"`
	// CPUProfile, if set, is where the run's CPU profile goes.
	CPUProfile string `json:"cpu_profile,omitempty"`
	// BlockProfile, if set, is where the run's blocking profile goes: where
	// goroutines waited (channels, locks, the producer's full buffer), which
	// a CPU profile cannot show.
	BlockProfile string `json:"block_profile,omitempty"`
}

// Total is the number of source records the run has to read.
func (r JobRun) Total() int64 {
	var n int64
	for _, o := range r.Ends {
		n += o
	}
	return n
}

// JobResult is what a JobRun measured.
type JobResult struct {
	// Wall is from the call of jobrun.Run (with a fresh consumer group) until
	// the group had committed the end offsets: start-up (side input, group
	// join), processing, and the last commit after its output was
	// acknowledged.
	Wall time.Duration `json:"wall_ns"`
	// FirstRecord is when the first record had been processed: start-up.
	FirstRecord time.Duration `json:"first_record_ns"`
	// Steady is records per second between 10% and 90% of the records
	// processed: the steady state, without start-up and tail.
	Steady float64    `json:"steady_events_per_s"`
	Counts JobCounts  `json:"counts"`
	Window Duration   `json:"window"`
	Tuning job.Tuning `json:"tuning"`
}

// Duration is a time.Duration that reads as one in JSON ("1s").
type Duration time.Duration

// MarshalText formats d as time.Duration does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses what MarshalText wrote.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// RunJob runs r: the playback job, in this process, from a fresh consumer
// group until it has committed r.Ends, sampling its records-in counter to
// separate the steady state from start-up and tail. The job is then
// stopped (which commits nothing new: everything is committed already).
func RunJob(ctx context.Context, r JobRun, log *slog.Logger) (JobResult, error) {
	dir, err := os.MkdirTemp("", "rdg-bench-job")
	if err != nil {
		return JobResult{}, err
	}
	defer os.RemoveAll(dir)
	j, err := PlaybackJob(dir, r.Name, r.Window, r.Concurrency)
	if err != nil {
		return JobResult{}, err
	}
	reg, err := sr.NewClient(sr.URLs(r.RegistryURL))
	if err != nil {
		return JobResult{}, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.Seeds...))
	if err != nil {
		return JobResult{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	prom := prometheus.NewRegistry()
	m := jobrun.NewMetrics(prom)
	in := func() float64 {
		v, _ := Counter(prom, "rdg_job_records_in_total", "job", r.Name)
		return v
	}
	total := float64(r.Total())

	stopProf, err := CPUProfile(r.CPUProfile)
	if err != nil {
		return JobResult{}, err
	}
	stopBlock, err := BlockProfile(r.BlockProfile)
	if err != nil {
		return JobResult{}, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	prog := Track(10*time.Millisecond, in)
	ran := make(chan error, 1)
	// Labelled as package stack labels a job, so that the profile tells
	// the job's own CPU from the Go runtime's (GC).
	Labelled(runCtx, "job:"+r.Name, func(ctx context.Context) {
		go func() {
			ran <- jobrun.Run(ctx, j, jobrun.RunConfig{Seeds: r.Seeds, Registry: reg, Metrics: m, Logger: log})
		}()
	})
	waited := make(chan error, 1)
	go func() {
		waited <- WaitCommitted(runCtx, adm, jobrun.Group(r.Name), demo.TopicPlayback, r.Ends, 10*time.Millisecond)
	}()
	select {
	case err := <-waited:
		if err != nil {
			return JobResult{}, err
		}
	case err := <-ran:
		return JobResult{}, fmt.Errorf("job stopped before reading everything: %v", err)
	}
	wall := time.Since(start)
	prog.Stop(in)
	if err := stopProf(); err != nil {
		return JobResult{}, err
	}
	if err := stopBlock(); err != nil {
		return JobResult{}, err
	}
	cancel()
	if err := <-ran; err != nil {
		return JobResult{}, err
	}
	res := JobResult{Wall: wall, Window: Duration(j.Spec.Dedupe.Window), Tuning: j.Spec.Tuning.Defaults()}
	res.FirstRecord, _ = prog.Reached(1)
	res.Steady, _ = prog.Rate(0.1*total, 0.9*total)
	if res.Counts, err = ReadJobCounts(prom, r.Name); err != nil {
		return res, err
	}
	if res.Counts.In < r.Total() {
		// The steady rate is read from this counter: without it the run
		// would report nothing and look like it had worked.
		return res, fmt.Errorf("the job's group committed the end, but rdg_job_records_in_total says %d of %d records", res.Counts.In, r.Total())
	}
	return res, nil
}
