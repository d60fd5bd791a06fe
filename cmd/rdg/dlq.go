package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/dlq"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/stack"
)

func newDLQCmd() *cobra.Command {
	var brokers string
	var acc accessFlags
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect and replay dead letters: records a job could not process",
		Long: `A record a job cannot process — not Avro, an unknown schema id, a failing
expression, an empty node id — never stops the job: it goes to the job's
dead-letter topic rdg.dlq.<job> with its original key, value and headers, plus
headers saying where it came from and why it failed:

  rdg.stage               size, decode, filter, project, enrich, time or map
  rdg.error               the error
  rdg.source.topic        where the record was read from
  rdg.source.partition
  rdg.source.offset
  rdg.source.schema_id    writer schema id, 0 if the value had no Confluent header

Use list and show to see what failed and why, fix the job file (or register
the missing schema), then replay the dead letters through the fixed job.`,
		Example: `  rdg dlq list
  rdg dlq show --job playback --limit 5
  rdg dlq replay --jobs examples/netflix/jobs --job playback --dry-run`,
	}
	cmd.PersistentFlags().StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	acc.add(cmd, true, true, true)
	cluster := func() (dlq.Cluster, error) {
		k, err := acc.kafka(nil)
		if err != nil {
			return dlq.Cluster{}, err
		}
		// internal/dlq takes seeds and access options apart.
		opts, err := k.ClientOpts()
		return dlq.Cluster{Seeds: splitList(brokers), Opts: opts}, err
	}
	cmd.AddCommand(newDLQListCmd(cluster), newDLQShowCmd(cluster), newDLQReplayCmd(cluster, &acc))
	return cmd
}

// noTopicHint turns a missing dead-letter topic into advice.
func noTopicHint(err error, name string) error {
	if errors.Is(err, dlq.ErrNoTopic) {
		return fmt.Errorf("%w (has job %q ever run on this cluster? `rdg dlq list` shows the dead-letter topics that exist)", err, name)
	}
	return err
}

func newDLQListCmd(clusterOf func() (dlq.Cluster, error)) *cobra.Command {
	var (
		name   string
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Summarize dead-letter topics, or list one job's dead letters",
		Long: `Without --job: one line per dead-letter topic with its job, the number of
records retained (high watermark minus log start, summed over partitions), the
oldest and newest record timestamps (the source records' own) and the counts
by failed stage. Counting by stage reads every retained dead letter.

With --job: one line per dead letter of that job: its offset, timestamp,
source topic[partition]@offset, schema id, stage and error (on one line, cut
short; rdg dlq show prints it whole).`,
		Example: `  rdg dlq list
  rdg dlq list --json | jq '.[] | select(.count > 0)'
  rdg dlq list --job playback --limit 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			cluster, err := clusterOf()
			if err != nil {
				return err
			}
			if name == "" {
				sums, err := dlq.Summarize(ctx, cluster)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONArray(out, sums)
				}
				return dlq.WriteSummaries(out, sums)
			}
			topic := job.DeadLetterTopic(name)
			var add func(*dlq.Record) error
			var done func() error
			if asJSON {
				a := dlq.NewJSONArray(out)
				add = func(r *dlq.Record) error { return a.Add(dlq.ToJSON(r, 0)) }
				done = a.Close
			} else {
				lw := dlq.NewLineWriter(out)
				add, done = lw.Write, lw.Close
			}
			n := 0
			err = dlq.Scan(ctx, cluster, topic, 0, func(r *dlq.Record) error {
				if limit > 0 && n >= limit {
					return errListed
				}
				n++
				return add(r)
			})
			if err != nil && !errors.Is(err, errListed) {
				return noTopicHint(err, name)
			}
			return done()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "job", "", "list the dead letters of this job, one line each")
	fl.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	fl.IntVar(&limit, "limit", 0, "with --job: list at most this many dead letters (0: all)")
	atLeast(fl, 0, "limit")
	return cmd
}

var errListed = errors.New("limit reached")

func writeJSONArray[T any](w io.Writer, vs []T) error {
	a := dlq.NewJSONArray(w)
	for i := range vs {
		if err := a.Add(vs[i]); err != nil {
			return err
		}
	}
	return a.Close()
}

func newDLQShowCmd(clusterOf func() (dlq.Cluster, error)) *cobra.Command {
	var (
		name   string
		limit  int
		offset int64
		asJSON bool
		full   bool
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a job's dead letters in detail",
		Long: fmt.Sprintf(`Print each dead letter of a job from --offset on: its offset in the
dead-letter topic, the source topic, partition and offset it was read from,
the writer schema id, the stage that failed and the whole error, the key, the
source record's own headers, and a hex/ASCII dump of the value — the first
%d bytes, or all of them with --full.

With --json, each record is an object; key is text when it is UTF-8 (else
key_base64), value is base64 and cut like the dump unless --full.`, dlq.PreviewBytes),
		Example: `  rdg dlq show --job playback
  rdg dlq show --job playback --offset 0 --limit 1 --full
  rdg dlq show --job playback --json --limit 0 | jq -r '.[] | .error' | sort | uniq -c`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			cluster, err := clusterOf()
			if err != nil {
				return err
			}
			// One more than asked for says whether to point at the next page.
			n := limit
			if n > 0 {
				n++
			}
			recs, err := dlq.Read(ctx, cluster, job.DeadLetterTopic(name), offset, n)
			if err != nil {
				return noTopicHint(err, name)
			}
			var more *dlq.Record
			if limit > 0 && len(recs) > limit {
				more, recs = &recs[limit], recs[:limit]
			}
			if asJSON {
				preview := dlq.PreviewBytes
				if full {
					preview = -1
				}
				js := make([]dlq.RecordJSON, len(recs))
				for i := range recs {
					js[i] = dlq.ToJSON(&recs[i], preview)
				}
				return writeJSONArray(out, js)
			}
			if len(recs) == 0 {
				fmt.Fprintf(out, "no dead letters of job %s at or after offset %d\n", name, offset)
				return nil
			}
			for i := range recs {
				if err := dlq.WriteRecord(out, &recs[i], full); err != nil {
					return err
				}
			}
			if more != nil {
				fmt.Fprintf(out, "more: rdg dlq show --job %s --offset %d\n", name, more.Offset)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "job", "", "job whose dead letters to show (required)")
	fl.IntVar(&limit, "limit", 10, "show at most this many dead letters (0: all)")
	fl.Int64Var(&offset, "offset", 0, "first dead-letter offset to show")
	atLeast(fl, 0, "limit", "offset")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	fl.BoolVar(&full, "full", false, "show whole values, not their first bytes")
	_ = cmd.MarkFlagRequired("job")
	return cmd
}

func newDLQReplayCmd(clusterOf func() (dlq.Cluster, error), acc *accessFlags) *cobra.Command {
	var (
		jobsDir    string
		name       string
		registry   string
		from       int64
		dryRun     bool
		partitions int32
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Run a job's dead letters through the fixed job and publish the result",
		Long: `Load the job from the jobs directory — fixed since its records were
dead-lettered — run each dead letter's original value through it, and publish
the nodes and edges it makes to the graph topics exactly as the running job
would (same topics, keys and Avro values), so the graph writer merges them
like any other update.

A replay reads from where the last replay of the job stopped up to the end of
the dead-letter topic. The position is kept as committed offsets of the
consumer group rdg-dlq-replay-<job>, committed only after every element
published up to it has been acknowledged by the broker, so a replay never
re-ingests what an earlier one replayed and an interrupted one resumes.
--from OFFSET starts somewhere else, for instance 0 to replay everything again.

Records that still fail are reported with their stage and error (the first
20) and stay in the dead-letter topic; they are not dead-lettered again, so
replaying cannot loop. To retry them after another fix, replay with --from.

--dry-run prints what every record would make and writes nothing: no graph
records, no schemas, no topics, no position.`,
		Example: `  rdg dlq replay --jobs examples/netflix/jobs --job playback --dry-run
  rdg dlq replay --jobs examples/netflix/jobs --job playback
  rdg dlq replay --jobs examples/netflix/jobs --job playback --from 0 --dry-run
  rdg dlq replay --jobs ./jobs --job playback --from 0 --brokers kafka-1:9092 --registry http://registry:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			jobs, err := stack.LoadJobs(jobsDir)
			if err != nil {
				return err
			}
			var j *engine.Job
			for _, c := range jobs {
				if c.Spec.Name == name {
					j = c
				}
			}
			if j == nil {
				return fmt.Errorf("no job named %q in %s", name, jobsDir)
			}
			cluster, err := clusterOf()
			if err != nil {
				return err
			}
			reg, err := acc.registryClient(registry)
			if err != nil {
				return err
			}
			cfg := dlq.ReplayConfig{Cluster: cluster, Registry: reg, Job: j, DryRun: dryRun, GraphPartitions: partitions}
			if cmd.Flags().Changed("from") {
				cfg.From = &from
			}
			if dryRun {
				cfg.Each = func(o *dlq.Outcome) {
					if err := dlq.WriteOutcome(out, o); err != nil {
						fmt.Fprintln(os.Stderr, "rdg:", err)
					}
				}
			}
			st, err := dlq.Replay(ctx, cfg)
			if err != nil {
				if st.Read > 0 && !dryRun {
					fmt.Fprintf(out, "stopped after %d dead letters (replayed %d, still failing %d, filtered %d); "+
						"the next replay resumes from the last position saved in group %s\n",
						st.Read, st.Replayed, st.Failed, st.Filtered, st.Group)
				}
				return noTopicHint(err, name)
			}
			return dlq.WriteReport(out, &st)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&jobsDir, "jobs", "", "directory of job files (*.yaml) holding the fixed job (required)")
	fl.StringVar(&name, "job", "", "name of the job whose dead letters to replay (required)")
	fl.StringVar(&registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	fl.Int64Var(&from, "from", 0, "replay from this dead-letter offset instead of where the last replay stopped")
	fl.BoolVar(&dryRun, "dry-run", false, "print the nodes and edges each record would make; write nothing")
	fl.Int32Var(&partitions, "partitions", 6, "partitions of graph topics the replay has to create")
	atLeast(fl, 0, "from")
	atLeast(fl, 1, "partitions")
	_ = cmd.MarkFlagRequired("jobs")
	_ = cmd.MarkFlagRequired("job")
	return cmd
}
