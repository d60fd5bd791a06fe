package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/examples"
	"github.com/rdgraph/rdg/internal/datadir"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/stack"
)

type upFlags struct {
	dataDir      string
	kafkaAddr    string
	brokers      string
	registryAddr string
	registryURL  string
	apiAddr      string
	jobsDir      string
	partitions   int32
	noWriter     bool
	demo         bool
	demoRate     float64
	demoMembers  int
	demoSeed     int64
	demoHistory  time.Duration
	sec          securityFlags
	storage      storeFlags
	ttl          string
	access       accessFlags
	disk         diskFlags
	kafkaSync    bool
	admission    admissionFlags
}

// securityFlags are the API's authentication and TLS options, shared by
// `rdg up` and `rdg writer run`.
type securityFlags struct {
	token, tokenFile string
	tlsCert, tlsKey  string
}

func (f *securityFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.token, "token", "", "require this bearer token on the API, the explorer and /metrics (visible in ps: prefer --token-file)")
	fl.StringVar(&f.tokenFile, "token-file", "", "require the bearer token in this file (surrounding white space ignored)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve the API over HTTPS with this PEM certificate (chain); needs --tls-key")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
}

// apply checks the flags and sets the stack's token and TLS files. Without
// a token of its own the API requires the password of cfg.Credentials, so
// that one credentials file protects every listener.
func (f *securityFlags) apply(cfg *stack.Config) error {
	switch {
	case f.token != "" && f.tokenFile != "":
		return errors.New("--token and --token-file are exclusive")
	case f.tokenFile != "":
		tok, err := serve.ReadTokenFile(f.tokenFile)
		if err != nil {
			return err
		}
		cfg.Token = tok
	case f.token != "":
		if err := serve.CheckToken(f.token); err != nil {
			return fmt.Errorf("--token: %w", err)
		}
		cfg.Token = f.token
	}
	if cfg.Token == "" && cfg.Credentials != nil {
		cfg.Token = cfg.Credentials.Password
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	cfg.TLSCert, cfg.TLSKey = f.tlsCert, f.tlsKey
	return nil
}

// loopback reports whether addr (host:port) can only be reached from this
// machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newUpCmd() *cobra.Command {
	f := &upFlags{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole stack: Kafka, schema registry, jobs, graph writer, store and API",
		Long: `Run every part of rdg in this process until interrupted:

  - an embedded Kafka broker (kfake) on --kafka-addr, persisting topics and
    committed offsets under --data-dir/kafka (or, with --brokers, an external
    Kafka cluster and no embedded broker);
  - a Confluent-compatible schema registry on --registry-addr, persisting
    schemas in the _schemas topic (or, with --registry, an external one);
  - every job file in --jobs, one job per source topic;
  - the graph writer, merging graph topics into the Pebble store under
    --data-dir/store;
  - the query API (gRPC, gRPC-Web and Connect JSON), /metrics, /healthz and
    /readyz on --api-addr.

Everything listens on 127.0.0.1 and requires no credentials unless told
otherwise. --credentials-file FILE (one line user:password) makes every
listener require them: the embedded broker SASL (PLAIN, SCRAM-SHA-256 or
SCRAM-SHA-512) as that user, the embedded registry HTTP basic auth, and the
API the password as a bearer token (unless --token or --token-file gives
another); the jobs, the writer, the registry's own Kafka client and the
demo generator in this process use them. --tls-cert and --tls-key serve
all three over TLS. A listener on an address other than loopback without
credentials is warned about at start. With --brokers or --registry, the
--kafka-* and --registry-* flags say how to reach and verify them.

Stopping (Ctrl-C, SIGTERM) finishes the batch in flight and commits it;
starting again on the same --data-dir resumes from the committed offsets.

With --demo, the Netflix example jobs run against generated member events
(logins, playback, games): first --demo-history of backdated events, so that
queries have answers within seconds, then --demo-rate events a second.`,
		Example: `  rdg up --demo
  rdg up --jobs examples/netflix/jobs --data-dir ./netflix-data
  rdg up --jobs ./jobs --brokers kafka1:9092,kafka2:9092 --registry http://registry:8081
  rdg up --demo --credentials-file rdg.credentials --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUp(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "./rdg-data", "directory for the embedded broker's log and the store")
	fl.StringVar(&f.kafkaAddr, "kafka-addr", "127.0.0.1:9092", "listen address of the embedded Kafka broker")
	fl.StringVar(&f.brokers, "brokers", "", "comma-separated bootstrap brokers of an external Kafka cluster (no embedded broker)")
	fl.StringVar(&f.registryAddr, "registry-addr", "127.0.0.1:8081", "listen address of the embedded schema registry")
	fl.StringVar(&f.registryURL, "registry", "", "URL of an external Confluent-compatible schema registry (no embedded registry)")
	fl.StringVar(&f.apiAddr, "api-addr", "127.0.0.1:8080", "listen address of the query API, /metrics and health checks")
	fl.StringVar(&f.jobsDir, "jobs", "", "directory of job files (*.yaml); with --demo, defaults to the built-in Netflix example")
	fl.Int32Var(&f.partitions, "partitions", 6, "partitions of the topics rdg creates: graph topics, and the source and side-input topics of job files that do not exist")
	fl.BoolVar(&f.noWriter, "no-writer", false, "run no graph writer, store or query API here (run rdg writer run elsewhere)")
	fl.BoolVar(&f.demo, "demo", false, "run the Netflix example jobs against generated member events")
	fl.Float64Var(&f.demoRate, "demo-rate", 200, "with --demo: generated events per second")
	fl.IntVar(&f.demoMembers, "demo-members", 1000, "with --demo: number of simulated members")
	fl.Int64Var(&f.demoSeed, "demo-seed", 1, "with --demo: seed of the simulated world")
	fl.DurationVar(&f.demoHistory, "demo-history", 5*time.Minute, "with --demo: first produce this much backdated history (--demo-rate events a second, at most 100,000), unless the demo topics already hold events")
	atLeast(fl, 1, "partitions", "demo-members")
	atLeast(fl, 0, "demo-history")
	above(fl, 0, nil, "demo-rate")
	f.sec.add(cmd)
	f.storage.add(cmd)
	addTTLFlag(fl, &f.ttl)
	f.access.add(cmd, false, true, true)
	f.disk.add(cmd)
	fl.BoolVar(&f.kafkaSync, "kafka-sync", false, "the embedded broker fsyncs each produced batch before acknowledging it: an acknowledged record then survives a machine crash, not only a process crash (slower; see README, Durability)")
	f.admission.add(cmd)
	return cmd
}

func runUp(ctx context.Context, f *upFlags) error {
	log := slog.Default()
	if f.kafkaSync && f.brokers != "" {
		return errors.New("--kafka-sync is for the embedded broker: with --brokers, the cluster's own settings decide when it syncs")
	}
	jobsDir := f.jobsDir
	var lock *datadir.Lock
	if jobsDir == "" && f.demo {
		// The demo's job files go into the data directory: own it first.
		var err error
		if lock, err = datadir.Acquire(f.dataDir); err != nil {
			return err
		}
		dir, err := examples.WriteNetflix(filepath.Join(f.dataDir, "demo"))
		if err != nil {
			lock.Release()
			return err
		}
		jobsDir = dir
	}
	var jobs []*engine.Job
	if jobsDir != "" {
		var err error
		if jobs, err = stack.LoadJobs(jobsDir); err != nil {
			return err
		}
	} else {
		log.Info("no --jobs: running Kafka, the registry, the graph writer and the API only (jobs can run elsewhere with `rdg job run`)")
	}
	var beforeJobs func(context.Context, kafka.Cluster, *sr.Client) error
	if f.demo {
		// The catalogue is the example jobs' side input: publish it before
		// they start so that even the first events get title names.
		beforeJobs = func(ctx context.Context, k kafka.Cluster, reg *sr.Client) error {
			cl, err := k.NewClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			n, err := demo.ProduceCatalog(ctx, cl, reg, f.demoConfig())
			if err == nil {
				log.Info("demo title catalogue published", "topic", demo.TopicTitles, "titles", n)
			}
			return err
		}
	}
	cfg := stack.Config{
		BeforeJobs:      beforeJobs,
		DataDir:         f.dataDir,
		KafkaAddr:       f.kafkaAddr,
		Kafka:           kafka.Cluster{Seeds: splitList(f.brokers)},
		RegistryAddr:    f.registryAddr,
		RegistryURL:     f.registryURL,
		APIAddr:         f.apiAddr,
		Jobs:            jobs,
		NoWriter:        f.noWriter,
		GraphPartitions: f.partitions,
		Logger:          log,
		DataDirLock:     lock,
		KafkaSync:       f.kafkaSync,
	}
	// A producer's first record needs its topic to exist.
	cfg.SourcePartitions = f.partitions
	if err := f.access.apply(&cfg); err != nil {
		return err
	}
	if err := f.sec.apply(&cfg); err != nil {
		return err
	}
	cfg.ListenerTLS = cfg.TLSCert != ""
	warnExposed(&cfg)
	f.disk.apply(&cfg)
	f.storage.apply(&cfg)
	f.admission.apply(&cfg)
	ttl, err := parseTTL(f.ttl)
	if err != nil {
		return err
	}
	cfg.TTL = ttl
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if f.demo {
		go runDemo(ctx, st, f)
	}
	printBanner(st, jobs, jobsDir, f.demo, cfg.Token != "", cfg.Credentials != nil, curlAccess(&cfg), cfg.TLSCert)
	<-ctx.Done()
	log.Info("stopping")
	return st.Close()
}

func runDemo(ctx context.Context, st *stack.Stack, f *upFlags) {
	log := slog.Default().With("component", "demo")
	cl, err := st.Kafka().NewClient(kgo.ProducerLinger(5 * time.Millisecond))
	if err != nil {
		log.Error("demo generator", "err", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := demo.EnsureTopics(ctx, adm, f.partitions); err != nil {
		log.Error("demo topics", "err", err)
		return
	}
	cfg := f.demoConfig()
	if cfg.History > 0 {
		switch had, err := demo.HasEvents(ctx, adm); {
		case err != nil:
			log.Warn("demo: cannot tell whether the topics hold events; writing no history", "err", err)
			cfg.History = 0
		case had:
			log.Info("demo topics already hold events: no history this time")
			cfg.History = 0
		}
	}
	last := time.Now()
	_, err = demo.Run(ctx, cl, st.Registry(), cfg, func(s demo.Stats) {
		if time.Since(last) >= 30*time.Second {
			last = time.Now()
			log.Info("demo events produced", "total", s.Total(), "elapsed", s.Elapsed.Round(time.Second))
		}
	})
	if err != nil && ctx.Err() == nil {
		log.Error("demo generator stopped", "err", err)
	}
}

func (f *upFlags) demoConfig() demo.Config {
	return demo.Config{Seed: f.demoSeed, Members: f.demoMembers, Rate: f.demoRate, History: f.demoHistory}
}

// curlAccess are the curl options the banner's example needs to pass the
// API's TLS and token.
func curlAccess(cfg *stack.Config) string {
	var s string
	if cfg.TLSCert != "" {
		s += "--cacert " + cfg.TLSCert + " "
	}
	if cfg.Token != "" {
		s += "-H 'Authorization: Bearer <token>' "
	}
	return s
}

func printBanner(st *stack.Stack, jobs []*engine.Job, jobsDir string, demoOn, token, creds bool, curlOpts, tlsCert string) {
	w := os.Stderr
	fmt.Fprintf(w, "\nrdg is up.\n\n")
	fmt.Fprintf(w, "  Kafka            %v\n", st.Seeds())
	fmt.Fprintf(w, "  Schema registry  %s\n", st.RegistryURL())
	fmt.Fprintf(w, "  Query API        %s  (gRPC, gRPC-Web, Connect JSON)\n", st.APIURL())
	fmt.Fprintf(w, "  Metrics          %s/metrics\n", st.APIURL())
	if st.Store() != nil {
		fmt.Fprintf(w, "  Web explorer     %s/ui/\n", st.APIURL())
	}
	if creds {
		fmt.Fprintf(w, "  Authentication   Kafka: SASL as the user of --credentials-file; registry: HTTP basic auth, the same user\n")
	}
	if token {
		fmt.Fprintf(w, "  Authentication   API: bearer token required (Authorization: Bearer <token>; the explorer asks for it)\n")
	}
	fmt.Fprintf(w, "  Jobs (%s):\n", jobsDir)
	for _, j := range jobs {
		fmt.Fprintf(w, "    %-10s %s -> nodes %v, edges %v\n", j.Spec.Name, j.Spec.Source.Topic, j.NodeTypes(), j.EdgeTypes())
	}
	if demoOn {
		q := "rdg query"
		if u := st.APIURL(); u != "http://127.0.0.1:8080" {
			q += " --server " + u
		}
		if tlsCert != "" {
			q += " --ca-file " + tlsCert
		}
		if token {
			q += " --token <token>"
		}
		fmt.Fprintf(w, `
Demo events are flowing: on a first start a few minutes of backdated
history, then live ones. Members live in households that share a TV;
m-000001, m-000002 and m-000003 are one, and m-000004 of the next household
signs in on their TV too. Try, in another terminal:

  %[1]s neighbors account:%[2]s --edge-types uses,has_profile
  %[1]s neighbors device:%[3]s --dir in --edge-types uses
  %[1]s path account:%[4]s account:%[5]s --dir both --edge-types uses
  %[1]s stats --top 5 --node-types device

(the devices and profiles of a member; who shares this TV; two households
joined by one TV; the devices with the most accounts), or with curl:

  curl -s %[6]s-H 'Content-Type: application/json' %[7]s/rdg.v1.GraphService/Neighbors \
    -d '{"node":{"type":"account","id":"%[2]s"},"edgeTypes":["uses","has_profile"]}'

or open %[7]s/ui/#account/%[2]s in a browser and click the nodes.

`, q, demo.StoryMember, demo.HouseholdTV, demo.StoryMember2, demo.StorySharer, curlOpts, st.APIURL())
	}
	fmt.Fprintf(w, "Press Ctrl-C to stop.\n\n")
}
