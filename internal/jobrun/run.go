package jobrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/kafka"
)

// Group is the consumer group of job name. Every process running the job
// joins it, so Kafka spreads the source partitions across them.
func Group(name string) string { return "rdg-job-" + name }

// GraphRecordMaxBytes is the largest graph record a job produces:
// franz-go's default, which Kafka's default max.message.bytes admits. A
// topic's max.message.bytes, which an external cluster may set lower, is
// handled as Chain.Flush says. Dead letters get a larger limit
// (codec.DeadLetterMaxBytes), so that an element too large for its graph
// topic still fits in the dead-letter topic with its bytes.
const GraphRecordMaxBytes = kafka.DefaultMaxRecordBytes

// RunConfig is what a running job needs from its process.
type RunConfig struct {
	// Seeds are the Kafka bootstrap brokers.
	Seeds []string
	// KafkaOpts are extra client options (SASL, TLS, ...).
	KafkaOpts []kgo.Opt
	Registry  *sr.Client
	Schemas   *codec.Schemas // shared cache; nil makes one from Registry
	Metrics   *Metrics       // nil makes unregistered metrics
	Logger    *slog.Logger
	// GraphPartitions is the partition count of graph topics rdg creates.
	GraphPartitions int32
	// Tables are side inputs already loaded by the caller, by name;
	// inputs the job declares that are missing here are loaded by Run.
	Tables map[string]engine.Lookup
}

// Run runs j until ctx is done or a non-recoverable error occurs (a graph
// or dead-letter topic failing writes; a record refused for itself is
// dead-lettered instead, see Chain.Flush). It starts the job's side inputs,
// then Tuning.Concurrency consumers in the job's group. Returning because
// ctx is done is not an error.
//
// At least once (the default): a record's offset is committed only once
// every element derived from it has left the dedupe buffer and been
// acknowledged by the broker (Buffer.Pending gives the bound per
// partition), so a crash at any moment re-reads, and merge semantics make
// the repeat harmless. Exactly once: each dedupe window is a Kafka
// transaction holding the window's output and the source offsets, so
// read_committed consumers see each window's output once.
func Run(ctx context.Context, j *engine.Job, cfg RunConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Schemas == nil {
		cfg.Schemas = codec.NewSchemas(cfg.Registry)
	}
	name := j.Spec.Name
	log := cfg.Logger.With("job", name)
	tun := j.Spec.Tuning.Defaults()

	if err := Prepare(ctx, j, cfg.Seeds, cfg.KafkaOpts, cfg.GraphPartitions); err != nil {
		return err
	}
	if err := waitTopic(ctx, cfg.Seeds, cfg.KafkaOpts, j.Spec.Source.Topic, log); err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	dlqMax, lagBase, err := startState(ctx, j, cfg, log)
	if err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	elems, err := codec.RegisterElements(ctx, cfg.Registry, j.NodeTypes(), j.EdgeTypes())
	if err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	tables, closeTables, err := StartTables(ctx, j, cfg.Seeds, cfg.KafkaOpts, cfg.Schemas, cfg.Tables, log)
	if err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	defer closeTables()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go monitorLag(runCtx, cfg, j, lagBase)
	errs := make(chan error, tun.Concurrency)
	for i := range tun.Concurrency {
		w := &worker{job: j, cfg: cfg, tun: tun, elems: elems, tables: tables, log: log.With("consumer", i), id: i, dlqMax: dlqMax}
		go func() {
			err := w.run(runCtx)
			if err != nil {
				cancel() // one consumer failing stops the job; the supervisor restarts it
			}
			errs <- err
		}()
	}
	log.Info("job started", "source", j.Spec.Source.Topic, "group", Group(name), "delivery", j.Spec.Delivery,
		"dedupe_window", j.Spec.Dedupe.Window, "consumers", tun.Concurrency, "nodes", j.NodeTypes(), "edges", j.EdgeTypes())
	var first error
	for range tun.Concurrency {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("job %s: %w", name, first)
	}
	log.Info("job stopped")
	return nil
}

// Prepare creates the job's graph and dead-letter topics. Run calls it; a
// process that starts a graph writer alongside its jobs calls it first, so
// the writer sees every graph topic when it joins instead of discovering
// them one metadata refresh later.
func Prepare(ctx context.Context, j *engine.Job, seeds []string, kopts []kgo.Opt, partitions int32) error {
	if partitions <= 0 {
		partitions = 6
	}
	admCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, kopts...)...)
	if err != nil {
		return fmt.Errorf("job %s: kafka client: %w", j.Spec.Name, err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	topics := []kafka.Topic{{Name: job.DeadLetterTopic(j.Spec.Name), Partitions: 1}}
	for _, t := range j.NodeTypes() {
		topics = append(topics, kafka.Topic{Name: codec.NodeTopic(t), Partitions: partitions, Compact: true})
	}
	for _, t := range j.EdgeTypes() {
		topics = append(topics, kafka.Topic{Name: codec.EdgeTopic(t), Partitions: partitions, Compact: true})
	}
	if err := kafka.EnsureTopics(ctx, adm, topics...); err != nil {
		return fmt.Errorf("job %s: %w", j.Spec.Name, err)
	}
	return nil
}

// waitTopic waits for the source topic to exist: `rdg up` creates a missing
// one before its jobs start, but `rdg job run` creates nothing (it runs
// beside a cluster others administer), and a job started before its topic
// would otherwise sit on a consumer that only notices the topic at its next
// metadata refresh.
func waitTopic(ctx context.Context, seeds []string, kopts []kgo.Opt, topic string, log *slog.Logger) error {
	// kadm answers ListTopics from the client's metadata cache, which
	// keeps even "no such topic" for MetadataMinAge (5s by default): a
	// short one lets each poll below see a topic created since the last.
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(50 * time.Millisecond)}, kopts...)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	warned := false
	for {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil && td.Has(topic) && td[topic].Err == nil {
			return nil
		}
		if !warned {
			log.Warn("waiting for source topic to be created", "topic", topic)
			warned = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// startState is what a job's start finds on the cluster: the largest dead
// letter its dead-letter topic takes (raised to codec.DeadLetterMaxBytes where
// the cluster lets rdg alter the topic's config) and the offsets the job
// begins from where its group has committed nothing (see Lag).
func startState(ctx context.Context, j *engine.Job, cfg RunConfig, log *slog.Logger) (dlqMax int32, base map[int32]int64, err error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Seeds...)}, cfg.KafkaOpts...)...)
	if err != nil {
		return 0, nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	dlqMax = deadLetterMax(ctx, adm, job.DeadLetterTopic(j.Spec.Name), log)
	list := adm.ListStartOffsets
	if j.Spec.Source.Start == "latest" {
		list = adm.ListEndOffsets
	}
	offs, err := list(ctx, j.Spec.Source.Topic)
	if err != nil {
		return 0, nil, fmt.Errorf("list offsets of %s: %w", j.Spec.Source.Topic, err)
	}
	base = map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Topic == j.Spec.Source.Topic {
			base[o.Partition] = o.Offset
		}
	})
	return dlqMax, base, nil
}

// deadLetterMax raises the dead-letter topic's max.message.bytes to
// codec.DeadLetterMaxBytes and returns the limit the job may produce to it
// (see kafka.RaiseMaxMessageBytes).
func deadLetterMax(ctx context.Context, adm *kadm.Client, topic string, log *slog.Logger) int32 {
	limit, err := kafka.RaiseMaxMessageBytes(ctx, adm, topic, codec.DeadLetterMaxBytes)
	if err != nil {
		log.Warn("cannot raise the dead-letter topic's max.message.bytes; a dead letter larger than the topic takes goes without its value",
			"topic", topic, "want", codec.DeadLetterMaxBytes, "limit", limit, "err", err)
	}
	return limit
}

// monitorLag publishes the job's consumer lag every few seconds: how many
// source records are behind the group's committed offsets (see Lag).
func monitorLag(ctx context.Context, cfg RunConfig, j *engine.Job, base map[int32]int64) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Seeds...)}, cfg.KafkaOpts...)...)
	if err != nil {
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	g := cfg.Metrics.Lag.WithLabelValues(j.Spec.Name)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if lag, err := Lag(ctx, adm, j, base); err == nil {
			g.Set(float64(lag))
		}
	}
}

// Lag is how many records of j's source topic its consumer group has not
// committed: per partition the end offset less the group's commit, or,
// where the group has committed nothing, less the offset the job began
// from (base: the log start offset, or the end at the job's start for
// start: latest; the log start offset for a partition base does not
// know). It does not depend on the group's members, so a job that
// restarts before it commits anything shows all its lag.
func Lag(ctx context.Context, adm *kadm.Client, j *engine.Job, base map[int32]int64) (int64, error) {
	topic := j.Spec.Source.Topic
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	committed, err := adm.FetchOffsets(ctx, Group(j.Spec.Name))
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return 0, err
	}
	var total int64
	var failed error
	ends.Each(func(end kadm.ListedOffset) {
		if end.Topic != topic {
			return
		}
		if end.Err != nil {
			failed = end.Err
			return
		}
		from, ok := base[end.Partition]
		if s, sok := starts.Lookup(topic, end.Partition); sok && s.Err == nil && (!ok || s.Offset > from) {
			from = s.Offset // records before the log start are gone: not lag
		}
		if c, ok := committed.Lookup(topic, end.Partition); ok && c.Err == nil && c.At >= 0 {
			from = c.At
		}
		total += max(end.Offset-from, 0)
	})
	return total, failed
}

var errStopped = engine.ErrStopped

// worker is one consumer of a job: a group member with its own client and
// operator chain.
type worker struct {
	job    *engine.Job
	cfg    RunConfig
	tun    job.Tuning
	elems  *codec.Elements
	tables map[string]engine.Lookup
	log    *slog.Logger
	id     int
	// dlqMax is the largest record the dead-letter topic takes.
	dlqMax int32

	cl *kgo.Client

	// mu guards the chain and the offsets below: the poll loop and the
	// client's revoke callback both flush and commit.
	mu        sync.Mutex
	chain     *Chain
	processed map[int32]int64 // next offset to read, per partition, since the last assignment
	// issued is the offset last sealed or committed per partition, so
	// that a commit point leaves out partitions that did not move.
	issued map[int32]int64
	// sealed are the commit points waiting for their output to be
	// acknowledged, oldest first (at least once; see commitPoint).
	sealed []commitPoint
	// resend is set when an asynchronous commit fails: the next commit
	// point then holds every partition again.
	resend atomic.Bool

	commits prometheus.Counter
}

// commitPoint is a commit that waits for its output: offsets computed at
// a moment (the buffer's Pending bounds, as in commit), safe to commit once
// everything published before that moment is acknowledged, which is ep
// and every earlier epoch being Done.
//
// The at-least-once loop seals one every commit interval and commits the
// points that are ready asynchronously, in order (franz-go orders
// commits), instead of stopping to Flush the producer and wait for the
// commit's round trip: at 50,000 events/s those stops took tens of
// milliseconds, at times over 200, and the job neither read nor
// published during them, which every event's freshness paid for.
type commitPoint struct {
	ep      *Epoch
	offsets map[int32]kgo.EpochOffset
}

func (w *worker) clientOpts() []kgo.Opt {
	start := kgo.NewOffset().AtStart()
	if w.job.Spec.Source.Start == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	return append([]kgo.Opt{
		kgo.SeedBrokers(w.cfg.Seeds...),
		kgo.ConsumerGroup(Group(w.job.Spec.Name)),
		kgo.ConsumeTopics(w.job.Spec.Source.Topic),
		kgo.ConsumeResetOffset(start),
		kgo.FetchMaxBytes(w.tun.FetchMaxBytes),
		kgo.MaxBufferedRecords(w.tun.MaxBufferedRecords),
		kgo.ProducerLinger(w.tun.Linger),
		ProducerCompression(w.job),
		kgo.ProducerBatchMaxBytesFn(w.maxRecordBytes),
		kgo.SessionTimeout(w.tun.SessionTimeout),
		kgo.ClientID(fmt.Sprintf("rdg-job-%s-%d", w.job.Spec.Name, w.id)),
		kgo.WithLogger(kafka.KgoLogger(w.log)),
	}, w.cfg.KafkaOpts...)
}

// maxRecordBytes is the producer's record size limit for topic (see
// codec.DeadLetterMaxBytes).
func (w *worker) maxRecordBytes(topic string) int32 {
	if topic == job.DeadLetterTopic(w.job.Spec.Name) && w.dlqMax > GraphRecordMaxBytes {
		return w.dlqMax
	}
	return GraphRecordMaxBytes
}

func (w *worker) setup(cl *kgo.Client) {
	w.cl = cl
	w.commits = w.cfg.Metrics.Commits.WithLabelValues(w.job.Spec.Name)
	w.chain = NewChain(w.job, ChainConfig{Schemas: w.cfg.Schemas, Elements: w.elems, Tables: w.tables,
		Producer: cl, Metrics: w.cfg.Metrics, Logger: w.log, MaxRecordBytes: w.tun.MaxRecordBytes,
		MaxElementBytes: GraphRecordMaxBytes, MaxDeadLetterBytes: int(w.maxRecordBytes(job.DeadLetterTopic(w.job.Spec.Name))),
		Flush: cl.Flush})
	w.processed = make(map[int32]int64)
	w.issued = make(map[int32]int64)
}

func (w *worker) run(ctx context.Context) error {
	if w.job.Spec.Delivery == job.DeliveryExactlyOnce {
		return w.runExactlyOnce(ctx)
	}
	return w.runAtLeastOnce(ctx)
}

// ingest runs a poll's records through the chain. It returns errStopped if
// ctx ended while waiting for the registry; records not yet ingested are
// then read again.
func (w *worker) ingest(ctx context.Context, fetches kgo.Fetches) error {
	var stopped bool
	now := time.Now()
	fetches.EachRecord(func(rec *kgo.Record) {
		if stopped {
			return
		}
		if err := w.chain.Ingest(ctx, rec, now); err != nil {
			stopped = true
			return
		}
		w.processed[rec.Partition] = rec.Offset + 1
	})
	if stopped {
		return errStopped
	}
	return nil
}

// readyPoll bounds a poll while a commit point waits for its output, so
// that it is committed soon after the broker acknowledges it even when no
// records arrive.
const readyPoll = 5 * time.Millisecond

// pollTimeout is how long a poll may wait: until the next timer or commit,
// and no longer than readyPoll while a commit point waits.
func (w *worker) pollTimeout(nextCommit time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	until := time.Until(nextCommit)
	if d, ok := w.chain.NextDeadline(); ok {
		until = min(until, time.Until(d))
	}
	if len(w.sealed) > 0 {
		until = min(until, readyPoll)
	}
	return max(until, time.Millisecond)
}

func (w *worker) runAtLeastOnce(ctx context.Context) error {
	opts := append(w.clientOpts(),
		kgo.DisableAutoCommit(),
		// Rebalances wait until a poll's records are in the buffer; the
		// revoke callback then drains and commits before partitions move.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(w.onRevoked),
		kgo.OnPartitionsLost(w.onLost),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	w.setup(cl)
	defer cl.Close()

	nextCommit := time.Now().Add(w.tun.CommitInterval)
	for {
		pollCtx, cancel := context.WithTimeout(ctx, w.pollTimeout(nextCommit))
		fetches := cl.PollRecords(pollCtx, w.tun.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return w.shutdown()
		}
		if err := fetchError(fetches); err != nil {
			return err
		}
		w.mu.Lock()
		var ready map[int32]kgo.EpochOffset
		err := w.ingest(ctx, fetches)
		if err == nil {
			now := time.Now()
			w.chain.Emit(ctx, now, false)
			if w.chain.Rejected() {
				// Records the broker refused hold back their commit point
				// until they are dead-lettered; a stop leaves the rest to
				// the shutdown's commit.
				_ = w.chain.Flush(ctx)
			}
			if !now.Before(nextCommit) {
				w.seal()
				nextCommit = now.Add(w.tun.CommitInterval)
			}
			ready, err = w.ready()
		}
		w.mu.Unlock()
		if len(ready) > 0 {
			// Before AllowRebalance: a revoke's commit then follows this one.
			cl.CommitOffsets(context.WithoutCancel(ctx), map[string]map[int32]kgo.EpochOffset{w.job.Spec.Source.Topic: ready}, w.committed)
		}
		cl.AllowRebalance()
		if errors.Is(err, errStopped) {
			return w.shutdown()
		}
		if err != nil {
			return err
		}
	}
}

func fetchError(fetches kgo.Fetches) error {
	var fatal error
	fetches.EachError(func(_ string, _ int32, err error) {
		if errors.Is(err, kgo.ErrClientClosed) {
			fatal = err
		}
	})
	return fatal
}

// shutdown publishes everything buffered and commits it, so that a clean
// stop leaves nothing to re-read.
func (w *worker) shutdown() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.chain.Emit(ctx, time.Now(), true)
	return w.commit(ctx)
}

// offsets returns, per partition, the highest offset below which every
// record's elements have been published: the buffer's Pending bound, or
// everything processed when the buffer holds nothing from that partition;
// with skip, only those beyond skip's. Called with w.mu held.
func (w *worker) offsets(skip map[int32]int64) map[int32]kgo.EpochOffset {
	offsets := make(map[int32]kgo.EpochOffset)
	for p, next := range w.processed {
		if min, ok := w.chain.Pending(p); ok && min < next {
			next = min
		}
		if skip == nil || next > skip[p] {
			offsets[p] = kgo.EpochOffset{Epoch: -1, Offset: next}
		}
	}
	return offsets
}

// seal makes a commit point of the offsets published so far. Called with
// w.mu held.
func (w *worker) seal() {
	if w.resend.Swap(false) {
		clear(w.issued)
	}
	offsets := w.offsets(w.issued)
	for p, o := range offsets {
		w.issued[p] = o.Offset
	}
	w.sealed = append(w.sealed, commitPoint{ep: w.chain.Seal(), offsets: offsets})
}

// ready pops the commit points whose output is acknowledged, oldest
// first, and returns the offsets to commit (the latest per partition). A
// publishing failure is returned instead: nothing at or after it is
// committed, and the records are read again after a restart. Called with
// w.mu held.
func (w *worker) ready() (map[int32]kgo.EpochOffset, error) {
	var ready map[int32]kgo.EpochOffset
	for len(w.sealed) > 0 && w.sealed[0].ep.Done() {
		cp := w.sealed[0]
		w.sealed[0] = commitPoint{}
		w.sealed = w.sealed[1:]
		if err := cp.ep.Err(); err != nil {
			return nil, fmt.Errorf("publish output (offsets not committed): %w", err)
		}
		if ready == nil {
			ready = cp.offsets
		} else {
			maps.Copy(ready, cp.offsets)
		}
	}
	return ready, nil
}

// committed is the answer to an asynchronous commit. A failure loses
// nothing (the records are read again by whoever owns the partition
// next); the next commit point then holds every partition.
func (w *worker) committed(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
	if err := kafka.CommitError(resp, err); err != nil {
		w.log.Warn("offset commit failed", "err", err)
		w.resend.Store(true)
		return
	}
	w.commits.Inc()
}

// commit waits until everything published so far is acknowledged, then
// commits every partition's offsets (see offsets) and waits for the
// answer, after any asynchronous commit still in flight: what a revoke or
// a shutdown needs. It supersedes the commit points still waiting.
// Called with w.mu held.
func (w *worker) commit(ctx context.Context) error {
	if err := w.flush(ctx); err != nil {
		// Not committing means the records are read again after a restart.
		return fmt.Errorf("publish output (offsets not committed): %w", err)
	}
	w.sealed = w.sealed[:0]
	offsets := w.offsets(nil)
	if len(offsets) == 0 {
		return nil
	}
	var commitErr error
	w.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{w.job.Spec.Source.Topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			commitErr = kafka.CommitError(resp, err)
		})
	if commitErr != nil {
		// A failed commit (e.g. a rebalance in progress) loses nothing: the
		// records are read again by whoever owns the partition next. The
		// points it superseded had marked their offsets issued, so the
		// next point holds every partition again.
		w.log.Warn("offset commit failed", "err", commitErr)
		w.resend.Store(true)
		return nil
	}
	for p, o := range offsets {
		w.issued[p] = o.Offset
	}
	w.commits.Inc()
	return nil
}

// onRevoked runs in the client's group goroutine before partitions move:
// everything buffered is published and committed, so the next owner starts
// exactly after what this worker made durable.
func (w *worker) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chain.Emit(ctx, time.Now(), true)
	if err := w.commit(ctx); err != nil {
		w.log.Error("commit before rebalance failed; the records will be read again", "err", err)
	}
	w.forget(revoked)
}

// onLost: the partitions are already someone else's, so nothing can be
// committed; publishing what is buffered is still right (the merge absorbs
// the repeat when the new owner re-reads).
func (w *worker) onLost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chain.Emit(ctx, time.Now(), true)
	w.forget(lost)
}

// forget drops partitions that are no longer this worker's, from the
// commit points still waiting too. Called with w.mu held.
func (w *worker) forget(gone map[string][]int32) {
	for _, ps := range gone {
		for _, p := range ps {
			delete(w.processed, p)
			delete(w.issued, p)
			for i := range w.sealed {
				delete(w.sealed[i].offsets, p)
			}
		}
	}
}

// runExactlyOnce makes each dedupe window (at least the commit interval
// when the window is shorter) one transaction: the window's output and
// dead letters, and the source offsets, commit together or not at all. On
// abort the client rewinds to the committed offsets and the buffer is
// empty, so the window is simply redone.
func (w *worker) runExactlyOnce(ctx context.Context) error {
	opts := append(w.clientOpts(),
		kgo.TransactionalID(fmt.Sprintf("rdg-job-%s-%d-%d", w.job.Spec.Name, w.id, time.Now().UnixNano())),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionTimeout(max(2*w.txnLength(), 30*time.Second)),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer sess.Close()
	w.setup(sess.Client())

	inTxn := false
	var txnEnd time.Time
	for {
		if !inTxn {
			if err := sess.Begin(); err != nil {
				return fmt.Errorf("begin transaction: %w", err)
			}
			inTxn, txnEnd = true, time.Now().Add(w.txnLength())
		}
		pollCtx, cancel := context.WithTimeout(ctx, max(time.Until(txnEnd), time.Millisecond))
		fetches := sess.PollRecords(pollCtx, w.tun.MaxPollRecords)
		cancel()
		stopping := ctx.Err() != nil
		if err := fetchError(fetches); err != nil {
			return err
		}
		w.mu.Lock()
		err := w.ingest(ctx, fetches)
		w.chain.FlushCounts()
		w.mu.Unlock()
		if errors.Is(err, errStopped) {
			stopping = true
		}
		if !stopping && time.Now().Before(txnEnd) && w.chain.Buffered() < w.job.Spec.Dedupe.MaxKeysOrDefault() {
			continue
		}
		endCtx, cancelEnd := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		w.mu.Lock()
		w.chain.Emit(ctx, time.Now(), true)
		// Everything, dead letters of refused elements too, is answered
		// for before the transaction ends: End's own flush would commit
		// without a record refused meanwhile.
		flushErr := w.chain.Flush(endCtx)
		pubErr := w.chain.TakeErr()
		if pubErr == nil {
			pubErr = flushErr
		}
		w.mu.Unlock()
		try := kgo.TryCommit
		if pubErr != nil || errors.Is(err, errStopped) {
			try = kgo.TryAbort
		}
		committed, endErr := sess.End(endCtx, try)
		cancelEnd()
		inTxn = false
		switch {
		case endErr != nil:
			return fmt.Errorf("end transaction: %w", endErr)
		case pubErr != nil:
			return fmt.Errorf("publish output (transaction aborted): %w", pubErr)
		case committed:
			w.commits.Inc()
		default:
			w.log.Info("transaction aborted after a rebalance; its records are read again")
		}
		if stopping {
			return nil
		}
	}
}

func (w *worker) txnLength() time.Duration {
	return max(w.job.Spec.Dedupe.Window, w.tun.CommitInterval)
}

// flush waits until everything produced so far is acknowledged and
// returns the first failure among it.
func (w *worker) flush(ctx context.Context) error {
	if err := w.chain.Flush(ctx); err != nil {
		return err
	}
	return w.chain.TakeErr()
}
