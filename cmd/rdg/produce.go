package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/produce"
)

type produceFlags struct {
	topic, schema, subject, key string
	format, onError             string
	ignoreUnknown, progress     bool
	maxLineBytes                int
	brokers, registry           string
	access                      accessFlags
}

func newProduceCmd() *cobra.Command {
	f := &produceFlags{}
	cmd := &cobra.Command{
		Use:   "produce --topic T [--schema FILE.avsc | --subject S] [FILE|-]",
		Short: "Produce JSON lines or CSV rows as Avro records of a registered schema",
		Long: `Read rows from FILE (or stdin: - or no FILE), convert each to an Avro record
of the schema, and produce it to --topic in the Confluent wire format.

The schema: --schema FILE.avsc registers the file under --subject (default
<topic>-value) and uses the id the registry returns; without --schema, the
latest version of --subject is used.

Rows are JSON lines (one object per line), or CSV with a header row naming
the schema's fields: a file ending in .csv is CSV, anything else JSON lines,
unless --format says. A row that does not fit the schema is reported with its
line and field (CSV: column) and skipped, or with --on-error stop ends the run
with a non-zero exit. A field the schema does not have is an error unless
--ignore-unknown; in CSV a header column that is not a field fails the file.
An unquoted empty CSV cell is null for a nullable field, else the field's
default, else an error; "" is an empty string.

Each record is counted as produced when the broker acknowledges it (all
in-sync replicas, idempotent). Progress goes to stderr (redrawn in place on a
terminal or with --progress, else a line every 5 seconds), and a summary at
the end: rows read, produced, rejected. The topic must exist: rdg topic
create, or rdg up creates its jobs' source topics.`,
		Example: `  # sample login events, on rdg up --demo's member.logins schema
  rdg produce --topic member.logins examples/netflix/events/logins.jsonl
  rdg produce --topic member.logins --key member_id examples/netflix/events/logins.csv
  rdg produce --topic member.logins --schema examples/netflix/schemas/login.avsc \
    --on-error stop examples/netflix/events/logins.jsonl
  rdg produce --topic member.logins --subject member.logins-value - < examples/netflix/events/logins.jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runProduce(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.topic, "topic", "", "topic to produce to (required)")
	fl.StringVar(&f.schema, "schema", "", "Avro schema file (.avsc) to register under --subject and produce with")
	fl.StringVar(&f.subject, "subject", "", "registry subject of the schema (default <topic>-value)")
	fl.StringVar(&f.key, "key", "", "field whose value, as the row writes it, is the record key (default: no key)")
	fl.StringVar(&f.format, "format", "", "json (JSON lines) or csv (default: csv for a .csv file, else json)")
	fl.StringVar(&f.onError, "on-error", "skip", "a row that does not fit: skip (report it and go on) or stop (exit non-zero)")
	fl.BoolVar(&f.ignoreUnknown, "ignore-unknown", false, "drop fields (CSV: columns) the schema does not have instead of rejecting them")
	fl.BoolVar(&f.progress, "progress", false, "redraw a progress line in place even when stderr is not a terminal")
	fl.IntVar(&f.maxLineBytes, "max-line-bytes", produce.DefaultMaxLineBytes, "longest row accepted, in bytes; a longer one is reported and skipped")
	fl.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	fl.StringVar(&f.registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	atLeast(fl, 1, "max-line-bytes")
	_ = cmd.MarkFlagRequired("topic")
	f.access.add(cmd, false, true, true)
	return cmd
}

func runProduce(cmd *cobra.Command, f *produceFlags, args []string) error {
	ctx := cmd.Context()
	var stop bool
	switch f.onError {
	case "skip":
	case "stop":
		stop = true
	default:
		return fmt.Errorf("--on-error %q: want skip or stop", f.onError)
	}
	var in io.Reader = os.Stdin
	name, size := "stdin", int64(0)
	if (len(args) == 0 || args[0] == "-") && isTerminal(os.Stdin) {
		fmt.Fprintln(os.Stderr, "reading rows from the terminal; Ctrl-D ends them")
	}
	if len(args) == 1 && args[0] != "-" {
		file, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer file.Close()
		if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in, name = file, args[0]
	}
	format, err := produce.FormatOf(name, f.format)
	if err != nil {
		return err
	}
	reg, err := f.access.registryClient(f.registry)
	if err != nil {
		return err
	}
	schema, err := produce.ResolveSchema(ctx, reg, orDefault(f.subject, f.topic+"-value"), f.schema)
	if err != nil {
		return err
	}
	k, err := f.access.kafka(splitList(f.brokers))
	if err != nil {
		return err
	}
	cl, err := k.NewClient(produce.ClientOpts()...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	stats, err := produce.Run(ctx, cl, in, produce.Options{
		Topic: f.topic, Schema: schema.Avro, SchemaID: schema.ID, Key: f.key, Format: format,
		StopOnError: stop, IgnoreUnknown: f.ignoreUnknown, MaxLineBytes: f.maxLineBytes,
		Name: name, Size: size, Log: os.Stderr,
		Live: f.progress || isTerminal(os.Stderr), ProgressEvery: 5 * time.Second,
	})
	if err == nil || stats.Read > 0 {
		fmt.Fprintln(os.Stderr, produce.Summary(name, f.topic, stats))
	}
	return err
}

// isTerminal says whether f is a character device: a terminal, where a
// progress line can be redrawn in place.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
