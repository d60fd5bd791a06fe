package main

import (
	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/stack"
	"github.com/rdgraph/rdg/internal/store"
)

// storeFlags size the Pebble store, for `rdg up` and `rdg writer run`.
type storeFlags struct {
	cacheMiB int
}

func (f *storeFlags) add(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.cacheMiB, "store-cache-mib", 64,
		"Pebble block cache in MiB: queries that find their blocks cached skip the disk and the decompression; size it to the store's hot part (BENCHMARKS.md measured queries with the whole store cached)")
	atLeast(cmd.Flags(), 1, "store-cache-mib")
}

func (f *storeFlags) apply(cfg *stack.Config) {
	cfg.StoreOptions = append(cfg.StoreOptions, store.CacheSize(int64(f.cacheMiB)<<20))
}
