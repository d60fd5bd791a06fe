package main

import (
	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/stack"
)

// admissionFlags bound the query work the API takes on at once, for `rdg
// up` and `rdg writer run`. Their defaults come from the machine
// (serve.DefaultAdmission), so --help shows this machine's.
type admissionFlags struct {
	running   int
	memoryMiB int64
	queued    int
}

func (f *admissionFlags) add(cmd *cobra.Command) {
	d := serve.DefaultAdmission()
	fl := cmd.Flags()
	fl.IntVar(&f.running, "query-concurrency", d.MaxRunning,
		"queries the API runs at once; more wait their turn within their deadline (default: 4 per core; 0: no bound, for benchmarking only)")
	fl.Int64Var(&f.memoryMiB, "query-memory-mib", d.MaxMemory>>20,
		"MiB of memory running queries may reserve, each by an estimate from its limits; a query larger than this runs with lower limits (default: a quarter of the memory, or of the cgroup's limit; 0: no bound, for benchmarking only)")
	fl.IntVar(&f.queued, "query-queue", d.MaxQueued,
		"queries that may wait for room to run; more are refused at once with resource_exhausted and a retry hint (default: 32 per core)")
	atLeast(fl, 0, "query-concurrency", "query-memory-mib", "query-queue")
}

func (f *admissionFlags) apply(cfg *stack.Config) {
	cfg.QueryAdmission = &serve.Admission{MaxRunning: f.running, MaxMemory: f.memoryMiB << 20, MaxQueued: f.queued}
}
