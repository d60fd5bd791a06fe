// Command rdg turns Kafka event streams into a real-time graph. This file
// and its siblings are flags and wiring only; the work is in internal/.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/gcfloor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "rdg:", err)
		os.Exit(1)
	}
}

type globalFlags struct {
	logLevel   string
	logFormat  string
	gcFloorMiB int
}

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "rdg",
		Short: "A real-time graph built from Kafka event streams",
		Long: `rdg turns streams of member events on Kafka into a property graph that can be
traversed within a second of the event: which devices, profiles and titles
belong to this member?

One job per source topic decodes Avro records, filters, projects and maps each
event to nodes and edges; the graph elements are published to one compacted
topic per type (rdg.node.<type>, rdg.edge.<type>); a graph writer merges them
into a Pebble store; a gRPC / Connect / JSON API answers neighbour and
traversal queries.

Start everything on one machine, with a demo event generator:

  rdg up --demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFlagBounds(cmd); err != nil {
				return err
			}
			if err := setupLogging(g); err != nil {
				return err
			}
			return setupGC(g)
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().IntVar(&g.gcFloorMiB, "gc-floor-mib", gcfloor.DefaultFloor>>20, "let the Go heap grow to this many MiB before collecting garbage, however little of it is live (0: Go's default; ignored if $GOGC is set)")
	atLeast(root.PersistentFlags(), 0, "gc-floor-mib")
	root.AddCommand(newUpCmd(), newGenerateCmd(), newJobCmd(), newWriterCmd(), newDLQCmd())
	root.AddCommand(newQueryCmd(), newProduceCmd(), newTopicCmd(), newVersionCmd())
	return root
}

func setupLogging(g *globalFlags) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(g.logFormat) {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, opts)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, opts)))
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	return nil
}

// setupGC starts the GC floor for the life of the process, unless the
// operator chose a GOGC of their own.
func setupGC(g *globalFlags) error {
	if _, set := os.LookupEnv("GOGC"); set || g.gcFloorMiB == 0 {
		return nil
	}
	gcfloor.Start(int64(g.gcFloorMiB) << 20)
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
