// Package stack assembles a running rdg from its parts: Kafka (the embedded
// broker or an external cluster), the schema registry (embedded or
// external), the jobs of a jobs directory, the graph writer, the Pebble
// store and the query API, plus /metrics, /healthz and /readyz. It is what
// `rdg up` runs and what end-to-end tests start in-process.
//
// stack owns process lifecycle: start order, readiness, restarting a failed
// job or writer with backoff, and a clean stop; and the wiring between the
// parts: the data directory's owner lock and free-space guard taken before
// anything writes there, the credentials and TLS every embedded listener
// requires and every client of the stack presents, and which registry
// subjects the graph needs kept. It must not contain the logic of any
// part; each lives in its own package.
package stack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/access"
	"github.com/rdgraph/rdg/internal/broker"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/datadir"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/jobrun"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/registry"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/store"
	"github.com/rdgraph/rdg/internal/topic"
	"github.com/rdgraph/rdg/internal/writer"
)

// Config says which parts to run and where.
type Config struct {
	// DataDir holds the embedded broker's log (kafka/) and the store (store/).
	DataDir string
	// KafkaAddr is the embedded broker's listen address. Ignored when
	// Kafka has seeds.
	KafkaAddr string
	// Kafka, if it has seeds, points rdg at an external Kafka cluster,
	// reached with its access (SASL, TLS, options) by every Kafka client
	// of the stack: jobs, side inputs, the writer, the registry. No broker
	// is embedded then.
	Kafka kafka.Cluster
	// RegistryAddr is where the embedded registry listens. Ignored when
	// RegistryURL is set.
	RegistryAddr string
	// RegistryURL points rdg at an external Confluent-compatible registry.
	RegistryURL string
	// APIAddr is where the query API, /metrics and health endpoints listen;
	// empty disables them.
	APIAddr string
	// Token, if set, is the bearer token every API, UI and /metrics request
	// must carry (/healthz, /readyz and the gRPC health service stay open).
	Token string
	// TLSCert and TLSKey, if set, are PEM files: the API port then serves
	// HTTPS (HTTP/2 and HTTP/1.1) instead of cleartext.
	TLSCert, TLSKey string
	// Jobs are the compiled jobs to run in this process.
	Jobs []*engine.Job
	// NoWriter skips the graph writer and store (a jobs-only process).
	NoWriter bool
	// StoreName names the store's consumer group (rdg-store-<name>).
	StoreName string
	// GraphPartitions is the partition count of graph topics rdg creates.
	GraphPartitions int32
	// SourcePartitions, if above 0, makes Start create the source topics
	// the jobs read that do not exist yet, with this many partitions,
	// before any job starts, so that a producer's first record is
	// accepted (Kafka refuses records for a topic that does not exist,
	// and some clients drop them with no error). Their side-input topics
	// too, compacted: an empty side input only means lookups miss until
	// it is written, where a missing one would stop the job. Existing
	// topics are left as they are.
	SourcePartitions int32
	// BeforeJobs, if set, runs once Kafka and the registry are up and before
	// any job starts: the demo uses it to publish its side input.
	BeforeJobs func(ctx context.Context, k kafka.Cluster, reg *sr.Client) error
	Logger     *slog.Logger
	// TTL is the time to live per node or edge type (store.TTL): expired
	// elements are invisible to queries and swept from the store.
	TTL map[string]time.Duration
	// StoreOptions are passed to store.Open after rdg's own.
	StoreOptions []store.Opt

	// Credentials, if set, are required by the embedded broker (SASL
	// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512) and the embedded registry
	// (HTTP basic auth), and presented by the stack's own clients of
	// them. The API's bearer token is Token.
	Credentials *access.Credentials
	// ListenerTLS serves the embedded broker and registry over TLS with
	// TLSCert and TLSKey, as the API; the stack's own clients trust that
	// certificate.
	ListenerTLS bool
	// RegistryOpts are client options (basic auth, TLS) for an external
	// registry (RegistryURL).
	RegistryOpts []sr.ClientOpt

	// The data directory, when this process writes one (the embedded
	// broker, the store): Start makes the process its only owner, or
	// fails naming the owner (DataDirLock: already taken by the caller),
	// and refuses writes while its file system has less than DiskReserve
	// bytes free (0: datadir.DefaultReserve). KafkaSync makes the embedded
	// broker fsync each produced batch before acknowledging it.
	DataDirLock *datadir.Lock
	DiskReserve uint64
	KafkaSync   bool

	// QueryAdmission bounds the query work the API takes on at once
	// (serve.Admission); nil means serve.DefaultAdmission().
	QueryAdmission *serve.Admission
}

// external says whether the stack uses an external Kafka cluster.
func (cfg *Config) external() bool { return len(cfg.Kafka.Seeds) > 0 }

// kafkaAccess is how the stack's clients reach its Kafka, but for the
// seeds of an embedded broker, known once it listens: Kafka for an
// external cluster; for the embedded broker, SASL with Credentials and,
// with ListenerTLS, trust in its certificate.
func (cfg *Config) kafkaAccess() kafka.Cluster {
	if cfg.external() {
		return cfg.Kafka
	}
	k := kafka.Cluster{SASL: cfg.Credentials}
	if cfg.ListenerTLS {
		k.TLS = access.TrustCertFile(cfg.TLSCert)
	}
	return k
}

// registryClientOpts are kafkaAccess' counterpart for the registry.
func (cfg *Config) registryClientOpts() []sr.ClientOpt {
	if cfg.RegistryURL != "" {
		return cfg.RegistryOpts
	}
	r := access.Registry{Basic: cfg.Credentials}
	if cfg.ListenerTLS {
		r.TLS = access.TrustCertFile(cfg.TLSCert)
	}
	return r.Opts()
}

// listenerTLS is the server TLS configuration of the embedded broker and
// registry, nil without ListenerTLS.
func (cfg *Config) listenerTLS(log *slog.Logger) (*tls.Config, error) {
	if !cfg.ListenerTLS {
		return nil, nil
	}
	if cfg.TLSCert == "" || cfg.TLSKey == "" {
		return nil, errors.New("TLS on the broker and registry needs a certificate and key (--tls-cert, --tls-key)")
	}
	return serve.TLSConfig(cfg.TLSCert, cfg.TLSKey, log)
}

// graphSubject says whether a registry subject holds the value schemas of
// a graph topic: records of a compacted graph topic live as long as their
// key, and a writer rebuilding a store cannot read them without these
// schemas, so the embedded registry refuses to delete them.
func graphSubject(subject string) bool {
	topic, ok := strings.CutSuffix(subject, codec.Subject(""))
	return ok && (strings.HasPrefix(topic, codec.NodeTopicPrefix) || strings.HasPrefix(topic, codec.EdgeTopicPrefix))
}

// Stack is a running rdg.
type Stack struct {
	cfg      Config
	log      *slog.Logger
	lock     *datadir.Lock
	guard    *datadir.Guard
	embedded *broker.Embedded
	kafka    kafka.Cluster // every Kafka client's cluster and access
	reg      *sr.Client
	regURL   string
	regSrv   *registry.Server
	regHTTP  *http.Server
	store    *store.Pebble
	apiURL   string
	promReg  *prometheus.Registry
	health   *serve.Health

	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  atomic.Bool
	errMu  sync.Mutex
	errs   []error

	// writerMetrics, once the graph writer starts, tells /readyz about
	// partitions it has stalled.
	writerMetrics atomic.Pointer[writer.Metrics]
}

// LoadJobs compiles every *.yaml and *.yml file in dir, reporting all
// errors of all files together.
func LoadJobs(dir string) ([]*engine.Job, error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("jobs directory: %w", err)
		}
		return nil, fmt.Errorf("jobs directory %s has no .yaml job files", dir)
	}
	sort.Strings(files)
	var jobs []*engine.Job
	var all job.Errors
	names := map[string]string{}
	topics := map[string]string{}
	for _, f := range files {
		j, err := engine.Load(f)
		if err != nil {
			var es job.Errors
			if errors.As(err, &es) {
				all = append(all, es...)
				continue
			}
			return nil, err
		}
		if prev, ok := names[j.Spec.Name]; ok {
			all = append(all, job.Error{File: f, Msg: fmt.Sprintf("job name %q already used by %s", j.Spec.Name, prev)})
			continue
		}
		// One job per source topic: two jobs on a topic would be two
		// consumer groups each publishing the topic's graph.
		if prev, ok := topics[j.Spec.Source.Topic]; ok {
			all = append(all, job.Error{File: f, Msg: fmt.Sprintf("source topic %q is already read by %s: one job per source topic", j.Spec.Source.Topic, prev)})
			continue
		}
		names[j.Spec.Name], topics[j.Spec.Source.Topic] = f, f
		jobs = append(jobs, j)
	}
	if len(all) > 0 {
		return nil, all
	}
	return jobs, nil
}

// Start starts every configured part and returns once jobs and the writer
// have started and the API is listening. Stop with Close.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StoreName == "" {
		cfg.StoreName = "default"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "rdg-data"
	}
	s := &Stack{cfg: cfg, log: cfg.Logger, promReg: prometheus.NewRegistry(), health: serve.NewHealth()}
	s.promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if c := cfg.Credentials; c != nil && (c.User == "" || c.Password == "") {
		return nil, errors.New("credentials need a user and a password")
	}
	lnTLS, err := cfg.listenerTLS(s.log)
	if err != nil {
		return nil, err
	}
	s.kafka = cfg.kafkaAccess()
	if _, err := s.kafka.ClientOpts(); err != nil {
		return nil, err
	}

	s.lock = cfg.DataDirLock
	if !cfg.external() || !cfg.NoWriter {
		if err := s.ownDataDir(); err != nil {
			return nil, err
		}
	}

	// Kafka.
	if !cfg.external() {
		if cfg.KafkaAddr == "" {
			cfg.KafkaAddr = "127.0.0.1:9092"
		}
		bopts := []broker.Opt{broker.Addr(cfg.KafkaAddr), broker.DataDir(filepath.Join(cfg.DataDir, "kafka")), broker.Logger(s.log),
			broker.WriteGate(func() error { return s.guard.Check(0) })}
		if cfg.Credentials != nil {
			bopts = append(bopts, broker.SASL(cfg.Credentials.User, cfg.Credentials.Password))
		}
		if lnTLS != nil {
			bopts = append(bopts, broker.TLS(lnTLS))
		}
		if cfg.KafkaSync {
			bopts = append(bopts, broker.SyncWrites())
		}
		labelled(ctx, "broker", func(context.Context) {
			s.embedded, err = broker.Start(bopts...)
		})
		if err != nil {
			return nil, err
		}
		s.kafka.Seeds = []string{s.embedded.Addr()}
		s.log.Info("embedded Kafka listening", "addr", s.embedded.Addr(), "data", filepath.Join(cfg.DataDir, "kafka"),
			"sasl", cfg.Credentials != nil, "tls", lnTLS != nil, "sync_writes", cfg.KafkaSync)
	}
	adminCl, err := s.kafka.NewClient()
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	err = kafka.WaitReachable(ctx, kadm.NewClient(adminCl), 30*time.Second)
	adminCl.Close()
	if err != nil {
		return nil, err
	}

	// Schema registry.
	if cfg.RegistryURL != "" {
		s.regURL = cfg.RegistryURL
	} else {
		if cfg.RegistryAddr == "" {
			cfg.RegistryAddr = "127.0.0.1:8081"
		}
		ropts := []registry.Opt{registry.Cluster(s.kafka), registry.Logger(s.log), registry.Protect(graphSubject)}
		if cfg.Credentials != nil {
			ropts = append(ropts, registry.BasicAuth(cfg.Credentials.User, cfg.Credentials.Password))
		}
		labelled(ctx, "registry", func(ctx context.Context) {
			s.regSrv, err = registry.New(ctx, ropts...)
		})
		if err != nil {
			return nil, fmt.Errorf("schema registry: %w", err)
		}
		ln, err := net.Listen("tcp", cfg.RegistryAddr)
		if err != nil {
			return nil, fmt.Errorf("schema registry listen (use --registry-addr to change): %w", err)
		}
		s.regHTTP = &http.Server{Handler: s.regSrv, ReadHeaderTimeout: 10 * time.Second}
		s.regURL = "http://" + ln.Addr().String()
		if lnTLS != nil {
			ln = tls.NewListener(ln, lnTLS)
			s.regURL = "https://" + ln.Addr().String()
		}
		labelled(ctx, "registry", func(context.Context) {
			go func() {
				if err := s.regHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					s.fail(fmt.Errorf("schema registry: %w", err))
				}
			}()
		})
		s.log.Info("schema registry listening", "url", s.regURL, "basic_auth", cfg.Credentials != nil)
	}
	s.reg, err = sr.NewClient(append([]sr.ClientOpt{sr.URLs(s.regURL)}, cfg.registryClientOpts()...)...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}

	// Store and API.
	if !cfg.NoWriter {
		dir := filepath.Join(cfg.DataDir, "store")
		labelled(ctx, "store", func(ctx context.Context) {
			s.store, err = openStore(ctx, dir, append([]store.Opt{store.Logger(s.log), store.TTL(cfg.TTL), store.WriteGate(s.guard)}, cfg.StoreOptions...))
		})
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		s.log.Info("store opened", "dir", dir)
	}
	jm := jobrun.NewMetrics(s.promReg)
	schemas := codec.NewSchemas(s.reg)
	// internal/job takes seeds and access options apart.
	jobAccess := s.kafka
	jobAccess.Seeds = nil
	jobOpts, err := jobAccess.ClientOpts()
	if err != nil {
		return nil, err
	}
	if cfg.APIAddr != "" {
		labelled(runCtx, "api", func(ctx context.Context) { err = s.startAPI(ctx, cfg.APIAddr) })
		if err != nil {
			return nil, err
		}
	}
	for _, j := range cfg.Jobs {
		if err := jobrun.Prepare(ctx, j, s.kafka.Seeds, jobOpts, cfg.GraphPartitions); err != nil {
			return nil, err
		}
	}
	if cfg.BeforeJobs != nil {
		if err := cfg.BeforeJobs(ctx, s.kafka, s.reg); err != nil {
			return nil, err
		}
	}
	if cfg.SourcePartitions > 0 && len(cfg.Jobs) > 0 {
		if err := s.createSourceTopics(ctx); err != nil {
			return nil, err
		}
	}
	for _, j := range cfg.Jobs {
		s.supervise(runCtx, "job "+j.Spec.Name, "job:"+j.Spec.Name, func(ctx context.Context) error {
			return jobrun.Run(ctx, j, jobrun.RunConfig{Seeds: s.kafka.Seeds, KafkaOpts: jobOpts, Registry: s.reg, Schemas: schemas,
				Metrics: jm, Logger: s.log, GraphPartitions: cfg.GraphPartitions})
		})
	}
	if s.store != nil {
		wm := writer.NewMetrics(s.promReg)
		s.writerMetrics.Store(wm)
		s.supervise(runCtx, "graph writer", "writer", func(ctx context.Context) error {
			return writer.Run(ctx, s.store, writer.Config{Cluster: s.kafka, Registry: s.reg, Store: cfg.StoreName,
				Metrics: wm, Logger: s.log})
		})
	}
	s.ready.Store(true)
	s.health.SetServing(true)
	return s, nil
}

// createSourceTopics creates the jobs' missing source and side-input
// topics (see Config.SourcePartitions), after BeforeJobs so that a topic
// it made keeps the settings it was made with.
func (s *Stack) createSourceTopics(ctx context.Context) error {
	var specs []topic.Spec
	sideInput := map[string]bool{}
	for _, j := range s.cfg.Jobs {
		specs = append(specs, topic.Spec{Name: j.Spec.Source.Topic, Partitions: s.cfg.SourcePartitions})
		for _, e := range j.Spec.Enrich {
			if e.Topic != "" && !sideInput[e.Topic] {
				sideInput[e.Topic] = true
				specs = append(specs, topic.Spec{Name: e.Topic, Partitions: s.cfg.SourcePartitions,
					Configs: map[string]string{"cleanup.policy": "compact"}})
			}
		}
	}
	cl, err := s.kafka.NewClient()
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	created, err := topic.New(kadm.NewClient(cl)).CreateMissing(ctx, specs...)
	for _, t := range created {
		if sideInput[t] {
			s.log.Warn("created side-input topic, compacted and empty: lookups miss (on_miss) until its rows are produced to it", "topic", t, "partitions", s.cfg.SourcePartitions)
		} else {
			s.log.Info("created source topic", "topic", t, "partitions", s.cfg.SourcePartitions)
		}
	}
	if err != nil {
		return fmt.Errorf("create source topics: %w", err)
	}
	return nil
}

func (s *Stack) startAPI(ctx context.Context, addr string) error {
	var tlsCfg *tls.Config
	if s.cfg.TLSCert != "" || s.cfg.TLSKey != "" {
		var err error
		if tlsCfg, err = serve.TLSConfig(s.cfg.TLSCert, s.cfg.TLSKey, s.log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("API listen (use --api-addr to change): %w", err)
	}
	s.apiURL = "http://" + ln.Addr().String()
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		s.apiURL = "https://" + ln.Addr().String()
	}
	extra := map[string]http.Handler{
		"GET /metrics": promhttp.HandlerFor(s.promReg, promhttp.HandlerOpts{}),
		"GET /healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("ok\n"))
		}),
		"GET /readyz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if !s.ready.Load() {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ready\n"))
			// Writes refused for want of space, or partitions the writer
			// stalled, leave the process ready, since queries are served
			// from what is stored; they are said here, as in the log and
			// the metrics (rdg_data_dir_full, rdg_store_partitions_stalled).
			if s.guard != nil {
				if err := s.guard.Check(0); err != nil {
					_, _ = w.Write([]byte("writes refused: " + err.Error() + "\n"))
				}
			}
			if wm := s.writerMetrics.Load(); wm != nil && wm.StalledPartitions() > 0 {
				fmt.Fprintf(w, "graph writer: %d partition(s) stalled: the schema registry cannot give a record's schema (see the log and rdg_store_partitions_stalled)\n", wm.StalledPartitions())
			}
		}),
	}
	var h http.Handler
	if s.store != nil {
		opts := []serve.Opt{serve.WithLogger(s.log), serve.WithReflection(), serve.WithHealth(s.health), serve.WithUI()}
		adm := serve.DefaultAdmission()
		if s.cfg.QueryAdmission != nil {
			adm = *s.cfg.QueryAdmission
		}
		opts = append(opts, serve.WithAdmission(adm), serve.WithMetrics(s.promReg))
		s.log.Info("query admission control", "bounds", adm.String())
		for p, eh := range extra {
			opts = append(opts, serve.WithHandle(p, eh))
		}
		h = serve.NewHandler(s.store, opts...)
	} else {
		// A jobs-only process serves no queries, only its own health.
		mux := http.NewServeMux()
		for p, eh := range extra {
			mux.Handle(p, eh)
		}
		h = mux
	}
	if s.cfg.Token != "" {
		h = serve.RequireToken(s.cfg.Token, h, s.log)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := serve.Serve(ctx, ln, h); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("API: %w", err))
		}
	}()
	s.log.Info("query API listening", "url", s.apiURL, "explorer", s.apiURL+"/ui/", "tls", tlsCfg != nil, "token", s.cfg.Token != "")
	return nil
}

// labelled runs f with the profiler label rdg=component, which every
// goroutine started in f inherits (client, broker and Pebble goroutines
// included), so that a CPU profile of the whole process can say how much
// each part cost.
func labelled(ctx context.Context, component string, f func(context.Context)) {
	pprof.Do(ctx, pprof.Labels("rdg", component), f)
}

// supervise runs fn until ctx is done, restarting it with backoff when it
// fails, so that one job's broken output topic does not take the process
// down with it. Its goroutines carry the profiler label rdg=component.
func (s *Stack) supervise(ctx context.Context, what, component string, fn func(context.Context) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		backoff := time.Second
		for {
			var err error
			labelled(ctx, component, func(ctx context.Context) { err = fn(ctx) })
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			s.log.Error(what+" failed; restarting", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}()
}

func (s *Stack) fail(err error) {
	s.log.Error("component failed", "err", err)
	s.errMu.Lock()
	s.errs = append(s.errs, err)
	s.errMu.Unlock()
}

// Seeds are the Kafka bootstrap addresses the stack uses.
func (s *Stack) Seeds() []string { return s.kafka.Seeds }

// Kafka is the cluster the stack uses, with the access (SASL, TLS) its
// clients need.
func (s *Stack) Kafka() kafka.Cluster { return s.kafka }

// RegistryURL is the schema registry's base URL.
func (s *Stack) RegistryURL() string { return s.regURL }

// Registry is a client of the stack's schema registry.
func (s *Stack) Registry() *sr.Client { return s.reg }

// APIURL is the query API's base URL ("" if not serving).
func (s *Stack) APIURL() string { return s.apiURL }

// Store is the stack's store (nil with NoWriter).
func (s *Stack) Store() *store.Pebble { return s.store }

// Metrics is the stack's Prometheus registry.
func (s *Stack) Metrics() *prometheus.Registry { return s.promReg }

// Embedded is the embedded broker, nil when using external Kafka.
func (s *Stack) Embedded() *broker.Embedded { return s.embedded }

// Close stops everything in reverse start order: jobs and the writer finish
// their current batch, then the API, registry, store and broker close.
func (s *Stack) Close() error {
	if s.health != nil {
		s.health.SetServing(false)
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.guard != nil {
		// A graph writer holding its batch for space must give up now.
		s.guard.Close()
	}
	s.wg.Wait()
	if s.regHTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.regHTTP.Shutdown(ctx)
		cancel()
	}
	if s.regSrv != nil {
		s.regSrv.Close()
	}
	var err error
	if s.store != nil {
		err = s.store.Close()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	if lerr := s.lock.Release(); lerr != nil && err == nil {
		err = fmt.Errorf("data directory lock: %w", lerr)
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return errors.Join(append(s.errs, err)...)
}
