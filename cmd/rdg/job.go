package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hamba/avro/v2"

	"github.com/spf13/cobra"

	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/jobrun"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/stack"
)

func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Write, check and run stream jobs",
	}
	cmd.AddCommand(newJobInitCmd(), newJobCheckCmd(), newJobRunCmd())
	return cmd
}

type jobInitFlags struct {
	subject, schema string
	topic, name     string
	out             string
	force           bool
	registry        string
	access          accessFlags
}

func newJobInitCmd() *cobra.Command {
	f := &jobInitFlags{}
	cmd := &cobra.Command{
		Use:   "init (--subject SUBJECT | --schema FILE.avsc)",
		Short: "Write a commented job file for a topic's Avro schema",
		Long: `Write a job file skeleton for the records of an Avro schema, read from the
registry (--subject, its latest version) or from a file (--schema, which the
job then names as source.schema, relative to the job file, so that
` + "`rdg job check`" + ` checks expressions against its fields). The file lists every
field with the type expressions see, maps the first id-like fields (names
ending in _id or Id, or id) to nodes and an edge between them, takes the event
time from a timestamp field, and shows the optional keys commented out. It
passes ` + "`rdg job check`" + ` as it is; edit it to say what the records mean.

--topic defaults to the subject without -value, or the schema's record name in
lower case; --name to the topic. Without -o the job goes to standard output.`,
		Example: `  rdg job init --subject member.playback-value
  rdg job init --schema examples/netflix/schemas/login.avsc --topic member.login -o login.yaml --force
  rdg job check login.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runJobInit(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.subject, "subject", "", "registry subject whose latest schema the job reads (e.g. orders-value)")
	fl.StringVar(&f.schema, "schema", "", "Avro schema file (.avsc) of the topic's values")
	fl.StringVar(&f.topic, "topic", "", "source topic (default: the subject without -value, or the record name in lower case)")
	fl.StringVar(&f.name, "name", "", "job name (default: from the topic)")
	fl.StringVarP(&f.out, "output", "o", "", "write the job to this file instead of standard output")
	fl.BoolVar(&f.force, "force", false, "overwrite the -o file if it exists")
	fl.StringVar(&f.registry, "registry", "http://127.0.0.1:8081", "schema registry URL (with --subject)")
	f.access.add(cmd, false, false, true)
	cmd.MarkFlagsOneRequired("subject", "schema")
	cmd.MarkFlagsMutuallyExclusive("subject", "schema")
	return cmd
}

func runJobInit(cmd *cobra.Command, f *jobInitFlags) error {
	var (
		sch  avro.Schema
		opts job.InitOptions
		err  error
	)
	if f.schema != "" {
		if sch, err = job.SchemaFile(f.schema); err != nil {
			return err
		}
		if opts.SchemaFile, err = job.SchemaRef(f.schema, f.out); err != nil {
			return err
		}
		opts.From = "schema file " + filepath.Base(f.schema)
	} else {
		reg, err := f.access.registryClient(f.registry)
		if err != nil {
			return err
		}
		if sch, err = jobrun.SubjectSchema(cmd.Context(), reg, f.subject); err != nil {
			return err
		}
		opts.From = "registry subject " + f.subject
	}
	opts.Topic, opts.Name = orDefault(f.topic, job.DefaultTopic(f.subject, sch)), f.name
	text, err := job.Init(sch, opts)
	if err != nil {
		return err
	}
	if f.out == "" {
		_, err := cmd.OutOrStdout().Write(text)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if f.force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	out, err := os.OpenFile(f.out, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: choose another -o or add --force to overwrite it", f.out)
	}
	if err != nil {
		return err
	}
	if _, err := out.Write(text); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (job %s, topic %s); check it with: rdg job check %s\n", f.out, jobNameIn(text), opts.Topic, f.out)
	return nil
}

// jobNameIn reads the name back from a generated job.
func jobNameIn(text []byte) string {
	spec, _ := job.Parse("", text)
	if spec == nil {
		return "?"
	}
	return spec.Name
}

func newJobCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Report every error in job files, with line numbers",
		Long: `Parse and compile job files without running them. Every problem is reported
as FILE:LINE:COLUMN: message, and the command exits non-zero if there is any.
When a job names its source schema (source.schema), expressions are checked
against the schema's fields and types too: an unknown field, a filter that is
not a boolean, a time that is neither a timestamp nor a number.`,
		Example: `  rdg job check examples/netflix/jobs/*.yaml`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, f := range args {
				j, err := engine.Load(f)
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
		Example: `  rdg job run --jobs examples/netflix/jobs --job playback --brokers 127.0.0.1:9092
  rdg job run --jobs ./jobs --brokers 127.0.0.1:9092 --registry https://127.0.0.1:8081 \
    --credentials-file rdg.credentials --kafka-ca-file cert.pem --registry-ca-file cert.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			jobs, err := stack.LoadJobs(f.jobsDir)
			if err != nil {
				return err
			}
			if f.name != "" {
				var keep []*engine.Job
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
				Kafka: kafka.Cluster{Seeds: splitList(f.brokers)}, RegistryURL: f.registry, APIAddr: f.apiAddr,
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
