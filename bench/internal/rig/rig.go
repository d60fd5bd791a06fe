// Package rig is the test rig of the pipeline benchmarks (bench/throughput,
// bench/dedupe, bench/freshness): it starts Kafka and the schema registry
// as `rdg up` does, produces the demo workload (the title catalogue and N
// playback events, as `rdg generate` does), compiles the demo playback job
// with a chosen dedupe window under a fresh consumer group, runs it until
// its group has committed the end of the source topic, samples progress
// for steady-state rates, and reads the job's metrics.
//
// It knows how to drive rdg's parts, never what a benchmark concludes:
// programs own their figures (and bench/internal/report their output).
package rig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/examples"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/stack"
)

// Logger logs warnings and errors of rdg's parts to stderr, which is where
// benchmark progress goes; their info chatter would drown it.
func Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Kafka is the embedded broker, with its log in a data directory as
// `rdg up` keeps it, and the embedded schema registry, both on loopback
// ports of their own.
type Kafka struct {
	st *stack.Stack
}

// KafkaOpt changes how StartKafka starts the broker.
type KafkaOpt func(*stack.Config)

// KafkaSync makes the broker fsync each produced batch before it
// acknowledges it (`rdg up --kafka-sync`) if on.
func KafkaSync(on bool) KafkaOpt { return func(c *stack.Config) { c.KafkaSync = on } }

// StartKafka starts the broker (log under dataDir/kafka) and the registry
// through package stack, exactly as `rdg up --no-writer` does with no jobs.
func StartKafka(ctx context.Context, dataDir string, log *slog.Logger, opts ...KafkaOpt) (*Kafka, error) {
	cfg := stack.Config{
		DataDir:      dataDir,
		KafkaAddr:    "127.0.0.1:0",
		RegistryAddr: "127.0.0.1:0",
		NoWriter:     true,
		Logger:       log,
	}
	for _, o := range opts {
		o(&cfg)
	}
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Kafka{st: st}, nil
}

// Seeds are the broker's addresses.
func (k *Kafka) Seeds() []string { return k.st.Seeds() }

// RegistryURL is the registry's base URL.
func (k *Kafka) RegistryURL() string { return k.st.RegistryURL() }

// Close stops the registry and the broker.
func (k *Kafka) Close() error { return k.st.Close() }

// Workload is the demo workload: the world of Seed and Members, and Events
// playback events of it.
type Workload struct {
	Seed       int64 `json:"seed"`
	Members    int   `json:"members"`
	Events     int64 `json:"events"`
	Partitions int32 `json:"partitions"`
}

// Demo is the generator configuration of w: only playback events, as fast
// as the broker takes them, stamped with the wall clock (as `rdg generate
// --rate -1` does).
func (w Workload) Demo() demo.Config {
	return demo.Config{Seed: w.Seed, Members: w.Members, Count: w.Events, Rate: -1, Topics: []string{demo.TopicPlayback}}
}

// Produced says what Produce wrote.
type Produced struct {
	Titles  int           `json:"titles"`
	Events  int64         `json:"events"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Ends are the source topic's end offsets after producing, per
	// partition: what a consumer group has to commit to have read it all.
	Ends map[int32]int64 `json:"ends"`
}

// Produce creates the demo source topics with w.Partitions partitions,
// publishes the title catalogue (the playback job's side input) and
// produces w.Events playback events through demo.Run — Avro in the
// Confluent wire format, schema registered, keyed by member — waiting for
// every acknowledgement.
func Produce(ctx context.Context, seeds []string, reg *sr.Client, w Workload, log *slog.Logger) (Produced, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return Produced{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := demo.EnsureTopics(ctx, adm, w.Partitions); err != nil {
		return Produced{}, err
	}
	var p Produced
	if p.Titles, err = demo.ProduceCatalog(ctx, cl, reg, w.Demo()); err != nil {
		return p, err
	}
	st, err := demo.Run(ctx, cl, reg, w.Demo(), func(s demo.Stats) {
		log.Info("producing", "events", s.Total(), "per_second", int64(float64(s.Total())/s.Elapsed.Seconds()))
	})
	if err != nil {
		return p, err
	}
	p.Events, p.Elapsed = st.Total(), st.Elapsed
	if p.Ends, err = EndOffsets(ctx, adm, demo.TopicPlayback); err != nil {
		return p, err
	}
	return p, nil
}

// PublishCatalog is a stack.Config.BeforeJobs that creates the demo's
// source topics with partitions partitions and publishes world's title
// catalogue, the example jobs' side input, before the jobs start.
func PublishCatalog(world demo.Config, partitions int32) func(context.Context, kafka.Cluster, *sr.Client) error {
	return func(ctx context.Context, k kafka.Cluster, reg *sr.Client) error {
		cl, err := k.NewClient()
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := demo.EnsureTopics(ctx, kadm.NewClient(cl), partitions); err != nil {
			return err
		}
		_, err = demo.ProduceCatalog(ctx, cl, reg, world)
		return err
	}
}

// Loaded is the embedded broker and registry holding a produced workload,
// where the stack benchmarks that replay one backlog start: the broker, an
// admin client of it, and what was produced.
type Loaded struct {
	*Kafka
	Admin    *kadm.Client
	Produced Produced

	cl  *kgo.Client
	tmp string // removed by Close
}

// Load starts the broker and the registry with their data under dir (a new
// temporary directory if empty, removed by Close) and produces w into
// them, saying so on stderr.
func Load(ctx context.Context, dir string, w Workload, log *slog.Logger, opts ...KafkaOpt) (_ *Loaded, err error) {
	l := &Loaded{}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if dir == "" {
		if l.tmp, err = os.MkdirTemp("", "rdg-bench"); err != nil {
			return nil, err
		}
		dir = l.tmp
	}
	if l.Kafka, err = StartKafka(ctx, dir, log, opts...); err != nil {
		return nil, err
	}
	reg, err := sr.NewClient(sr.URLs(l.RegistryURL()))
	if err != nil {
		return nil, err
	}
	// kadm answers topic listings from the client's metadata cache: a
	// short minimum age lets it see the topics each run creates.
	if l.cl, err = kgo.NewClient(kgo.SeedBrokers(l.Seeds()...), kgo.MetadataMinAge(50*time.Millisecond)); err != nil {
		return nil, err
	}
	l.Admin = kadm.NewClient(l.cl)
	fmt.Fprintf(os.Stderr, "producing the catalogue and %d playback events (%d members)\n", w.Events, w.Members)
	if l.Produced, err = Produce(ctx, l.Seeds(), reg, w, log); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "produced %d events in %s\n", l.Produced.Events, l.Produced.Elapsed.Round(time.Millisecond))
	return l, nil
}

// Close stops the broker and the registry and removes a temporary data
// directory.
func (l *Loaded) Close() {
	if l.cl != nil {
		l.cl.Close()
	}
	if l.Kafka != nil {
		l.Kafka.Close()
	}
	if l.tmp != "" {
		os.RemoveAll(l.tmp)
	}
}

// EndOffsets are topic's end offsets per partition.
func EndOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := lo.Error(); err != nil {
		return nil, err
	}
	ends := make(map[int32]int64)
	lo.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	if len(ends) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	return ends, nil
}

// WaitCommitted returns once group has committed at least ends on topic,
// checking every poll: the condition a benchmark awaits to know the group
// has processed (and, for rdg's jobs, published and had acknowledged)
// everything.
func WaitCommitted(ctx context.Context, adm *kadm.Client, group, topic string, ends map[int32]int64, poll time.Duration) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if ok, err := committed(ctx, adm, group, topic, ends); err != nil {
			return err
		} else if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func committed(ctx context.Context, adm *kadm.Client, group, topic string, ends map[int32]int64) (bool, error) {
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil // the group may not exist yet
	}
	for p, end := range ends {
		o, ok := offs.Lookup(topic, p)
		if !ok || o.Err != nil || o.At < end {
			return false, nil
		}
	}
	return true, nil
}

// PlaybackJob compiles the demo playback job (examples/netflix/jobs/
// playback.yaml, from the copy embedded in rdg, written under dir) named
// name, so that its consumer group rdg-job-<name> is new, with the dedupe
// window set to window (negative: the file's own, 1s) and, if positive,
// tuning.concurrency set to concurrency.
func PlaybackJob(dir, name string, window time.Duration, concurrency int) (*engine.Job, error) {
	jobs, err := examples.WriteNetflix(dir)
	if err != nil {
		return nil, err
	}
	spec, err := job.ParseFile(filepath.Join(jobs, "playback.yaml"))
	if err != nil {
		return nil, err
	}
	spec.Name = name
	if window >= 0 {
		spec.Dedupe.Window = window
	}
	if concurrency > 0 {
		spec.Tuning.Concurrency = concurrency
	}
	return engine.Compile(spec)
}

// JobOutput reports whether topic is one a job writes: a graph topic or a
// dead-letter topic. Runs delete them between them.
func JobOutput(topic string) bool {
	return strings.HasPrefix(topic, codec.NodeTopicPrefix) || strings.HasPrefix(topic, codec.EdgeTopicPrefix) ||
		strings.HasPrefix(topic, codec.DeadLetterPrefix)
}

// DeleteTopics deletes every topic for which match is true, so that one
// run's output does not weigh on the next run's broker.
func DeleteTopics(ctx context.Context, adm *kadm.Client, match func(string) bool) error {
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range td.Names() {
		if match(t) {
			names = append(names, t)
		}
	}
	if len(names) == 0 {
		return nil
	}
	resps, err := adm.DeleteTopics(ctx, names...)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

// CPUProfile starts a CPU profile written to path; an empty path profiles
// nothing. The returned function stops it.
func CPUProfile(path string) (stop func() error, err error) {
	return recordTo(path, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// recordTo creates path (and its directory) and runs start on it; the
// returned function runs stop and closes the file. An empty path records
// nothing.
func recordTo(path string, start func(io.Writer) error, stop func()) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		stop()
		return f.Close()
	}, nil
}

// BlockProfile records where goroutines block (one event sampled per
// 100µs spent blocked) until the returned function writes the profile to
// path; an empty path records nothing.
func BlockProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	runtime.SetBlockProfileRate(int((100 * time.Microsecond).Nanoseconds()))
	return func() error {
		runtime.SetBlockProfileRate(0)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("block").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

// Trace records an execution trace to path until the returned function is
// called; an empty path records nothing. `go tool trace -pprof=sched`
// (runnable but waiting for a CPU), `-pprof=syscall` and `-pprof=sync` turn
// it into profiles of where goroutines waited, which tells a starved
// process from a blocked one.
func Trace(path string) (stop func() error, err error) {
	return recordTo(path, trace.Start, trace.Stop)
}

// LoadAvg is the machine's one-minute load average (0 if unknown): on a
// shared machine, the figure that says how much of it a run had.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return 0
	}
	return l
}

// Labelled runs f with the profiler label rdg=component (inherited by the
// goroutines f starts), as package stack labels rdg's own parts, so that
// a benchmark's producer and prober show apart in a profile.
func Labelled(ctx context.Context, component string, f func(context.Context)) {
	pprof.Do(ctx, pprof.Labels("rdg", component), f)
}
