package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/stack"
)

func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Check and run stream jobs",
	}
	cmd.AddCommand(newJobCheckCmd(), newJobRunCmd())
	return cmd
}

func newJobCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Report every error in job files, with line numbers",
		Long: `Parse and compile job files without running them. Every problem is reported
as FILE:LINE:COLUMN: message, and the command exits non-zero if there is any.
When a job names its source schema (source.schema), expressions are checked
against the schema's fields too.`,
		Example: `  rdg job check examples/netflix/jobs/*.yaml`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, f := range args {
				j, err := job.Load(f)
				if err != nil {
					bad++
					var es job.Errors
					if errors.As(err, &es) {
						for _, e := range es {
							fmt.Fprintln(cmd.OutOrStdout(), e.Error())
						}
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %v\n", f, err)
					continue
				}
				note := ""
				if j.Reader == nil {
					note = " (no source.schema: field names not checked)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: job %s, %s -> nodes %v, edges %v%s\n",
					f, j.Spec.Name, j.Spec.Source.Topic, j.NodeTypes(), j.EdgeTypes(), note)
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d job files have errors", bad, len(args))
			}
			return nil
		},
	}
}

type jobRunFlags struct {
	jobsDir    string
	name       string
	brokers    string
	registry   string
	apiAddr    string
	partitions int32
	access     accessFlags
}

func newJobRunCmd() *cobra.Command {
	f := &jobRunFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run jobs as a separate process against an existing Kafka and registry",
		Long: `Run the jobs of a jobs directory (or only --job NAME) in this process, without
broker, registry, store or API of its own. Any number of processes running the
same job share its source partitions through the job's consumer group
(rdg-job-<name>); when one stops, the others take over its partitions.`,
		Example: `  rdg job run --jobs ./jobs --job playback --brokers 127.0.0.1:9092
  rdg job run --jobs ./jobs --brokers 127.0.0.1:9092 --registry https://127.0.0.1:8081 \
    --credentials-file rdg.credentials --kafka-ca-file cert.pem --registry-ca-file cert.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			jobs, err := stack.LoadJobs(f.jobsDir)
			if err != nil {
				return err
			}
			if f.name != "" {
				var keep []*job.Job
				for _, j := range jobs {
					if j.Spec.Name == f.name {
						keep = append(keep, j)
					}
				}
				if len(keep) == 0 {
					return fmt.Errorf("no job named %q in %s", f.name, f.jobsDir)
				}
				jobs = keep
			}
			cfg := stack.Config{
				Brokers: splitList(f.brokers), RegistryURL: f.registry, APIAddr: f.apiAddr,
				Jobs: jobs, NoWriter: true, GraphPartitions: f.partitions, Logger: slog.Default(),
			}
			if err := f.access.apply(&cfg); err != nil {
				return err
			}
			st, err := stack.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "running %d job(s); metrics on %s/metrics; Ctrl-C to stop\n", len(jobs), st.APIURL())
			<-cmd.Context().Done()
			return st.Close()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.jobsDir, "jobs", "", "directory of job files (*.yaml)")
	fl.StringVar(&f.name, "job", "", "run only the job with this name")
	fl.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	fl.StringVar(&f.registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	fl.StringVar(&f.apiAddr, "api-addr", "127.0.0.1:0", "listen address for /metrics and health checks")
	fl.Int32Var(&f.partitions, "partitions", 6, "partitions of graph topics rdg creates")
	atLeast(fl, 1, "partitions")
	f.access.add(cmd, false, true, true)
	_ = cmd.MarkFlagRequired("jobs")
	return cmd
}
