package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/stack"
)

type writerRunFlags struct {
	brokers  string
	registry string
	dataDir  string
	apiAddr  string
	store    string
	sec      securityFlags
	storage  storeFlags
	ttl      string
	access   accessFlags
	disk     diskFlags
	queries  admissionFlags
}

func newWriterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "writer",
		Short: "Run the graph writer, store and query API as a separate process",
	}
	f := &writerRunFlags{}
	run := &cobra.Command{
		Use:   "run",
		Short: "Consume the graph topics into a Pebble store and serve the query API",
		Long: `Run the graph writer against an existing Kafka cluster and registry: it
consumes every graph topic (rdg.node.*, rdg.edge.*) in consumer group
rdg-store-<store>, merges the elements into the Pebble store under
--data-dir/store, and serves the query API, /metrics and health checks on
--api-addr. Offsets are committed only after the store has made a batch
durable, so a crash at any moment loses nothing.

--credentials-file FILE (one line user:password) authenticates to Kafka
(SASL) and the registry (basic auth) and, unless --token or --token-file
gives another, makes the API require the password as a bearer token.`,
		Example: `  rdg writer run --brokers 127.0.0.1:9092 --registry http://127.0.0.1:8081 --data-dir ./rdg-writer --api-addr 127.0.0.1:8090`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := stack.Config{
				DataDir: f.dataDir, Kafka: kafka.Cluster{Seeds: splitList(f.brokers)}, RegistryURL: f.registry,
				APIAddr: f.apiAddr, StoreName: f.store, Logger: slog.Default(),
			}
			if err := f.access.apply(&cfg); err != nil {
				return err
			}
			if err := f.sec.apply(&cfg); err != nil {
				return err
			}
			warnExposed(&cfg)
			f.storage.apply(&cfg)
			f.disk.apply(&cfg)
			f.queries.apply(&cfg)
			ttl, err := parseTTL(f.ttl)
			if err != nil {
				return err
			}
			cfg.TTL = ttl
			st, err := stack.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "graph writer running; query API on %s; Ctrl-C to stop\n", st.APIURL())
			<-cmd.Context().Done()
			return st.Close()
		},
	}
	fl := run.Flags()
	fl.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	fl.StringVar(&f.registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	fl.StringVar(&f.dataDir, "data-dir", "./rdg-data", "directory of the store (store/ below it); one process per directory, so not that of an rdg up on this machine")
	fl.StringVar(&f.apiAddr, "api-addr", "127.0.0.1:8080", "listen address of the query API, /metrics and health checks")
	fl.StringVar(&f.store, "store", "default", "store name: the writer's consumer group is rdg-store-<store>")
	f.sec.add(run)
	f.storage.add(run)
	addTTLFlag(fl, &f.ttl)
	f.access.add(run, false, true, true)
	f.disk.add(run)
	f.queries.add(run)
	cmd.AddCommand(run)
	return cmd
}
