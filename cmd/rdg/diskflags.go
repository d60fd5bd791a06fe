package main

import (
	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/datadir"
	"github.com/rdgraph/rdg/internal/stack"
)

// diskFlags are the data directory's free space reserve, for `rdg up` and
// `rdg writer run`.
type diskFlags struct {
	reserveMiB int
}

func (f *diskFlags) add(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.reserveMiB, "disk-reserve-mib", datadir.DefaultReserve>>20,
		"refuse writes (Kafka produce requests get KAFKA_STORAGE_ERROR, the graph writer holds its batch) while the data directory's file system has less free space than this many MiB, and refuse to start; queries are still served")
	atLeast(cmd.Flags(), 1, "disk-reserve-mib")
}

func (f *diskFlags) apply(cfg *stack.Config) {
	cfg.DiskReserve = uint64(f.reserveMiB) << 20
}
