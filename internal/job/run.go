package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/broker"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
)

// Group is the consumer group of job name. Every process running the job
// joins it, so Kafka spreads the source partitions across them.
func Group(name string) string { return "rdg-job-" + name }

// DeadLetterTopic is where records job name could not process go.
func DeadLetterTopic(name string) string { return "rdg.dlq." + name }

// Dead-letter headers added to the original record's headers.
const (
	HeaderStage     = "rdg.stage"
	HeaderError     = "rdg.error"
	HeaderTopic     = "rdg.source.topic"
	HeaderPartition = "rdg.source.partition"
	HeaderOffset    = "rdg.source.offset"
	HeaderSchemaID  = "rdg.source.schema_id"
)

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
	Tables map[string]Lookup
}

// Run runs j until ctx is done or a non-recoverable error occurs (a graph
// or dead-letter topic rejecting writes). It starts the job's side inputs,
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
func Run(ctx context.Context, j *Job, cfg RunConfig) error {
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
	go monitorLag(runCtx, cfg, j, log)
	errs := make(chan error, tun.Concurrency)
	for i := range tun.Concurrency {
		w := &worker{job: j, cfg: cfg, tun: tun, elems: elems, tables: tables, log: log.With("consumer", i), id: i}
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
func Prepare(ctx context.Context, j *Job, seeds []string, kopts []kgo.Opt, partitions int32) error {
	if partitions <= 0 {
		partitions = 6
	}
	admCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, kopts...)...)
	if err != nil {
		return fmt.Errorf("job %s: kafka client: %w", j.Spec.Name, err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	topics := []broker.Topic{{Name: DeadLetterTopic(j.Spec.Name), Partitions: 1}}
	for _, t := range j.NodeTypes() {
		topics = append(topics, broker.Topic{Name: codec.NodeTopic(t), Partitions: partitions, Compact: true})
	}
	for _, t := range j.EdgeTypes() {
		topics = append(topics, broker.Topic{Name: codec.EdgeTopic(t), Partitions: partitions, Compact: true})
	}
	if err := broker.EnsureTopics(ctx, adm, topics...); err != nil {
		return fmt.Errorf("job %s: %w", j.Spec.Name, err)
	}
	return nil
}

// waitTopic waits for the source topic to exist. Producers own source
// topics; a job started first would otherwise sit on a consumer that only
// notices the topic at its next metadata refresh.
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

// monitorLag publishes the job's consumer lag every few seconds: how many
// source records are behind the group's committed offsets.
func monitorLag(ctx context.Context, cfg RunConfig, j *Job, log *slog.Logger) {
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
		lags, err := adm.Lag(ctx, Group(j.Spec.Name))
		if err != nil {
			continue
		}
		var total int64
		lags.Each(func(l kadm.DescribedGroupLag) {
			for _, ps := range l.Lag {
				for _, pl := range ps {
					if pl.Topic == j.Spec.Source.Topic && pl.Lag > 0 {
						total += pl.Lag
					}
				}
			}
		})
		g.Set(float64(total))
	}
}

var errStopped = errors.New("stopped")

// worker is one consumer of a job: a group member with its own client,
// processor, dedupe buffer and publisher.
type worker struct {
	job    *Job
	cfg    RunConfig
	tun    Tuning
	elems  *codec.Elements
	tables map[string]Lookup
	log    *slog.Logger
	id     int

	cl   *kgo.Client
	proc *Processor
	pub  *publisher

	// mu guards the buffer, the publisher and the offsets below: the poll
	// loop and the client's revoke callback both flush and commit.
	mu        sync.Mutex
	buf       *Buffer
	processed map[int32]int64 // next offset to read, per partition, since the last assignment
	committed map[int32]int64
	out       graph.Batch
	due       graph.Batch

	in, filtered, nodesIn, edgesIn, commits prometheus.Counter
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
		kgo.SessionTimeout(w.tun.SessionTimeout),
		kgo.ClientID(fmt.Sprintf("rdg-job-%s-%d", w.job.Spec.Name, w.id)),
		kgo.WithLogger(broker.KgoLogger(w.log)),
	}, w.cfg.KafkaOpts...)
}

func (w *worker) setup() {
	name := w.job.Spec.Name
	m := w.cfg.Metrics
	w.in = m.RecordsIn.WithLabelValues(name)
	w.filtered = m.Filtered.WithLabelValues(name)
	w.nodesIn = m.NodesOut.WithLabelValues(name)
	w.edgesIn = m.EdgesOut.WithLabelValues(name)
	w.commits = m.Commits.WithLabelValues(name)
	w.proc = NewProcessor(w.job, w.cfg.Schemas)
	w.proc.Tables = w.tables
	w.proc.MaxRecordBytes = w.tun.MaxRecordBytes
	w.proc.OnMiss = func(input string) { m.EnrichMisses.WithLabelValues(name, input).Inc() }
	w.buf = NewBuffer(w.job.Spec.Dedupe.Window, w.job.Spec.Dedupe.MaxKeys)
	w.processed = make(map[int32]int64)
	w.committed = make(map[int32]int64)
}

func (w *worker) run(ctx context.Context) error {
	w.setup()
	if w.job.Spec.Delivery == DeliveryExactlyOnce {
		return w.runExactlyOnce(ctx)
	}
	return w.runAtLeastOnce(ctx)
}

// process runs one record through the job, waiting out registry outages:
// a record whose schema cannot be fetched right now is not a bad record.
func (w *worker) process(ctx context.Context, rec *kgo.Record) (bool, error) {
	backoff := 100 * time.Millisecond
	for {
		filtered, err := w.proc.Process(ctx, rec.Value, rec.Timestamp, &w.out)
		if !errors.Is(err, codec.ErrRegistryUnavailable) {
			return filtered, err
		}
		w.log.Warn("waiting for the schema registry", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		select {
		case <-ctx.Done():
			return false, errStopped
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// ingest processes a poll's records into the dedupe buffer; failures go to
// the dead-letter topic at once. It returns errStopped if ctx ended while
// waiting for the registry; records not yet ingested are then read again.
func (w *worker) ingest(ctx context.Context, fetches kgo.Fetches) error {
	var stopped bool
	now := time.Now()
	fetches.EachRecord(func(rec *kgo.Record) {
		if stopped {
			return
		}
		w.out.Reset()
		filtered, err := w.process(ctx, rec)
		switch {
		case errors.Is(err, errStopped):
			stopped = true
			return
		case err != nil:
			stage, schemaID := w.pub.deadLetter(ctx, rec, err)
			w.cfg.Metrics.DeadLettered.WithLabelValues(w.job.Spec.Name, stage).Inc()
			w.log.Warn("record dead-lettered", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset,
				"stage", stage, "schema_id", schemaID, "err", err, "dlq", w.pub.dlq)
		case filtered:
			w.filtered.Inc()
		default:
			w.nodesIn.Add(float64(len(w.out.Nodes)))
			w.edgesIn.Add(float64(len(w.out.Edges)))
			if w.job.Spec.Dedupe.Window == 0 {
				// No window: every update is published as it is mapped.
				w.pub.add(ctx, &w.out)
			} else {
				w.buf.Add(&w.out, SourcePos{Partition: rec.Partition, Offset: rec.Offset}, now)
			}
		}
		w.in.Inc()
		w.processed[rec.Partition] = rec.Offset + 1
	})
	if stopped {
		return errStopped
	}
	return nil
}

// emit publishes what the buffer has due (everything if all).
func (w *worker) emit(ctx context.Context, now time.Time, all bool) {
	w.due.Reset()
	if all {
		w.buf.DrainAll(&w.due)
	} else {
		w.buf.Due(now, &w.due)
	}
	if w.due.Len() > 0 {
		w.pub.add(ctx, &w.due)
		w.buf.Recycle(&w.due) // add has encoded them; their Props maps can be reused
	}
}

// pollTimeout is how long a poll may wait: until the next timer or commit.
func (w *worker) pollTimeout(nextCommit time.Time) time.Duration {
	until := time.Until(nextCommit)
	if d, ok := w.buf.NextDeadline(); ok {
		until = min(until, time.Until(d))
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
	w.cl = cl
	w.pub = &publisher{cl: cl, elems: w.elems, dlq: DeadLetterTopic(w.job.Spec.Name), m: w.cfg.Metrics, job: w.job.Spec.Name}
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
		err := w.ingest(ctx, fetches)
		if err == nil {
			now := time.Now()
			w.emit(ctx, now, false)
			if !now.Before(nextCommit) {
				err = w.commit(ctx)
				nextCommit = now.Add(w.tun.CommitInterval)
			}
		}
		w.mu.Unlock()
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
	w.emit(ctx, time.Now(), true)
	return w.commit(ctx)
}

// commit waits until everything published so far is acknowledged, then
// commits, per partition, the highest offset below which every record's
// elements have been published: the buffer's Pending bound, or everything
// processed when the buffer holds nothing from that partition. Called with
// w.mu held.
func (w *worker) commit(ctx context.Context) error {
	if err := w.pub.flush(ctx); err != nil {
		// Not committing means the records are read again after a restart.
		return fmt.Errorf("publish output (offsets not committed): %w", err)
	}
	offsets := make(map[int32]kgo.EpochOffset)
	for p, next := range w.processed {
		if min, ok := w.buf.Pending(p); ok && min < next {
			next = min
		}
		if next > w.committed[p] {
			offsets[p] = kgo.EpochOffset{Epoch: -1, Offset: next}
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	var commitErr error
	w.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{w.job.Spec.Source.Topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				commitErr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil && commitErr == nil {
						commitErr = fmt.Errorf("partition %d: %w", p.Partition, err)
					}
				}
			}
		})
	if commitErr != nil {
		// A failed commit (e.g. a rebalance in progress) loses nothing: the
		// records are read again by whoever owns the partition next.
		w.log.Warn("offset commit failed", "err", commitErr)
		return nil
	}
	for p, o := range offsets {
		w.committed[p] = o.Offset
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
	w.emit(ctx, time.Now(), true)
	if err := w.commit(ctx); err != nil {
		w.log.Error("commit before rebalance failed; the records will be read again", "err", err)
	}
	for _, ps := range revoked {
		for _, p := range ps {
			delete(w.processed, p)
			delete(w.committed, p)
		}
	}
}

// onLost: the partitions are already someone else's, so nothing can be
// committed; publishing what is buffered is still right (the merge absorbs
// the repeat when the new owner re-reads).
func (w *worker) onLost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit(ctx, time.Now(), true)
	for _, ps := range lost {
		for _, p := range ps {
			delete(w.processed, p)
			delete(w.committed, p)
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
	w.cl = sess.Client()
	w.pub = &publisher{cl: w.cl, elems: w.elems, dlq: DeadLetterTopic(w.job.Spec.Name), m: w.cfg.Metrics, job: w.job.Spec.Name}

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
		w.mu.Unlock()
		if errors.Is(err, errStopped) {
			stopping = true
		}
		if !stopping && time.Now().Before(txnEnd) && w.buf.Len() < w.job.Spec.Dedupe.MaxKeysOrDefault() {
			continue
		}
		w.mu.Lock()
		w.emit(ctx, time.Now(), true)
		pubErr := w.pub.takeErr()
		w.mu.Unlock()
		try := kgo.TryCommit
		if pubErr != nil || errors.Is(err, errStopped) {
			try = kgo.TryAbort
		}
		endCtx, cancelEnd := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
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

// publisher is the last operator of a job: it writes graph elements to
// their topics and failed records to the dead-letter topic. add is called
// per record and flush once per batch, before the batch's offsets are
// committed; flush returns only when everything added is acknowledged. The
// windowed dedupe buffer goes in front of it with the same two calls.
type publisher struct {
	cl    *kgo.Client
	elems *codec.Elements
	dlq   string
	m     *Metrics
	job   string

	mu  sync.Mutex
	err error // first failure since the last flush
}

func (p *publisher) promise(_ *kgo.Record, err error) {
	if err != nil {
		p.mu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
	}
}

// elementPromise also observes freshness: event time (the element's
// last_seen) to the broker's acknowledgement.
func (p *publisher) elementPromise(lastSeen int64) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		if err != nil {
			p.promise(r, err)
			return
		}
		p.m.Freshness.WithLabelValues(p.job).Observe(float64(time.Now().UnixMilli()-lastSeen) / 1000)
	}
}

// takeErr returns and clears the first failure since the last call.
func (p *publisher) takeErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
	p.err = nil
	return err
}

func (p *publisher) add(ctx context.Context, b *graph.Batch) {
	p.m.NodesPublished.WithLabelValues(p.job).Add(float64(len(b.Nodes)))
	p.m.EdgesPublished.WithLabelValues(p.job).Add(float64(len(b.Edges)))
	for i := range b.Nodes {
		n := &b.Nodes[i]
		r, err := p.elems.NodeRecord(n)
		if err != nil {
			p.promise(nil, err)
			continue
		}
		p.cl.Produce(ctx, r, p.elementPromise(n.LastSeen))
	}
	for i := range b.Edges {
		e := &b.Edges[i]
		r, err := p.elems.EdgeRecord(e)
		if err != nil {
			p.promise(nil, err)
			continue
		}
		p.cl.Produce(ctx, r, p.elementPromise(e.LastSeen))
	}
}

func (p *publisher) flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	return p.takeErr()
}

// deadLetter publishes a record that failed, with its original key, value
// and headers, plus headers saying where it came from and why it failed,
// and returns the failed stage and the record's schema id (0 if unknown). The dead letter is flushed with the batch:
// the source offset is not committed until the broker has acknowledged it.
func (p *publisher) deadLetter(ctx context.Context, rec *kgo.Record, err error) (stage string, schemaID int) {
	stage = StageDecode
	var se *StageError
	if errors.As(err, &se) {
		stage, schemaID = se.Stage, se.SchemaID
	}
	headers := append(append([]kgo.RecordHeader(nil), rec.Headers...),
		kgo.RecordHeader{Key: HeaderStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		kgo.RecordHeader{Key: HeaderOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		kgo.RecordHeader{Key: HeaderSchemaID, Value: []byte(strconv.Itoa(schemaID))},
	)
	p.cl.Produce(ctx, &kgo.Record{Topic: p.dlq, Key: rec.Key, Value: rec.Value, Headers: headers, Timestamp: rec.Timestamp}, p.promise)
	return stage, schemaID
}
