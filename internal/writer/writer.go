// Package writer is the graph writer: it consumes the graph topics
// (rdg.node.<type> and rdg.edge.<type>) in its own consumer group and merges
// their elements into a store through graph.Writer, committing offsets only
// after the store has made a batch durable. A graph record it cannot
// decode goes to its dead-letter topic; one whose schema the registry
// cannot give stops its partition until it can (guard.go).
//
// writer knows Kafka, the graph topics' wire format (package codec) and the
// graph.Writer interface. It must not know which store it writes to, nor
// anything about jobs.
package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/kafka"
)

// Group is the consumer group of the writer for store name.
func Group(store string) string { return "rdg-store-" + store }

// Metrics counts the writer's work.
type Metrics struct {
	Elements  *prometheus.CounterVec
	Batches   prometheus.Counter
	Rejected  *prometheus.CounterVec
	Stalled   prometheus.Gauge
	Batch     prometheus.Histogram
	Freshness prometheus.Histogram

	stalled atomic.Int32 // what Stalled shows
}

// StalledPartitions is how many graph partitions the writer has stopped
// reading until the schema registry can give their next record's schema.
func (m *Metrics) StalledPartitions() int { return int(m.stalled.Load()) }

// NewMetrics creates writer metrics and registers them with reg (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Elements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_store_elements_written_total", Help: "Graph elements merged into the store, by kind (node, edge)."}, []string{"kind"}),
		Batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rdg_store_batches_total", Help: "Batches applied to the store."}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_store_records_rejected_total", Help: "Graph topic records that could not be decoded and went to the writer's dead-letter topic, by topic."}, []string{"topic"}),
		Stalled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rdg_store_partitions_stalled", Help: "Graph topic partitions the writer has stopped reading because the schema registry cannot give a record's schema (unreachable, or the schema was deleted)."}),
		Batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rdg_store_batch_elements", Help: "Elements per applied batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		Freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rdg_store_freshness_seconds", Help: "Event time (last_seen) to store commit of each element.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
	}
	if reg != nil {
		reg.MustRegister(m.Elements, m.Batches, m.Rejected, m.Stalled, m.Batch, m.Freshness)
	}
	return m
}

// Config is what the writer needs from its process.
type Config struct {
	// Cluster is the Kafka cluster the graph topics are on.
	Cluster kafka.Cluster
	// Registry resolves graph records' schema ids; a record whose schema
	// it cannot give stalls its partition (see guard.go).
	Registry *sr.Client
	// Store names the store in the consumer group, so that several stores
	// can each hold the whole graph.
	Store   string
	Metrics *Metrics
	Logger  *slog.Logger
	// MaxPollRecords bounds the elements applied in one store batch.
	MaxPollRecords int
	// FetchMaxBytes bounds one fetch from the brokers (default 4 MiB,
	// about 30,000 graph records). The client buffers a fetch while the
	// writer works on the records of the last, so this is most of the
	// writer's memory besides the store's. The default is small next to
	// franz-go's 50 MiB because larger fetches do not speed up a backlog,
	// they only add memory and delay the first batch after a start
	// (BENCHMARKS.md has the sizes measured).
	FetchMaxBytes int32
	// TopicRefresh is how often new graph topics are discovered.
	TopicRefresh time.Duration
	// CommitInterval is the most often the writer commits offsets (default
	// 1s). Offsets of applied batches wait until it has passed since the
	// last commit; a rebalance or a stop commits them at once. The bound
	// exists for the embedded broker: each commit appends an entry per
	// graph partition to its group log, and each compaction of that log
	// holds every client's requests, so committing after every batch would
	// stall every client briefly, every few seconds, under load
	// (BENCHMARKS.md).
	// After a crash the writer re-reads at most this much more, which the
	// merge makes harmless.
	CommitInterval time.Duration
}

// Run consumes the graph topics into w until ctx is done. A record that
// cannot be decoded is dead-lettered, or, when the schema registry is at
// fault, stalls its partition until the registry can give its schema (see
// guard.go). A store error stops Run without committing, so the batch is
// re-read after a restart.
func Run(ctx context.Context, w graph.Writer, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Store == "" {
		cfg.Store = "default"
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 20_000
	}
	if cfg.TopicRefresh <= 0 {
		cfg.TopicRefresh = time.Second
	}
	if cfg.FetchMaxBytes <= 0 {
		cfg.FetchMaxBytes = 4 << 20
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	log := cfg.Logger.With("component", "writer", "store", cfg.Store)
	dlq := DeadLetterTopic(cfg.Store)
	dlqMax, err := prepare(ctx, cfg, dlq, log)
	if err != nil {
		return err
	}
	stalled := newStalls(cfg.Registry, cfg.Metrics, log)
	// The client's revoke callback needs the pipeline, which may exist
	// before its client: it commits nothing until a batch is applied.
	p := newPipeline(context.WithoutCancel(ctx), w, cfg.Metrics, cfg.CommitInterval)
	var cl *kgo.Client
	cl, err = cfg.Cluster.NewClient(
		kgo.ConsumerGroup(Group(cfg.Store)),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(codec.GraphTopicRegex),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(func(_ context.Context, cl *kgo.Client, revoked map[string][]int32) {
			p.revoked()
			stalled.forget(cl, revoked)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
			p.lost(lost)
			stalled.forget(cl, lost)
		}),
		kgo.ProducerBatchMaxBytesFn(func(topic string) int32 {
			if topic == dlq {
				return dlqMax
			}
			return kafka.DefaultMaxRecordBytes
		}),
		// Regex subscriptions see new topics on metadata refresh; a new
		// job's first elements should not wait minutes for it.
		kgo.MetadataMaxAge(cfg.TopicRefresh),
		kgo.MetadataMinAge(min(cfg.TopicRefresh, 500*time.Millisecond)),
		kgo.ClientID("rdg-writer-"+cfg.Store),
		// A restarted writer takes its partitions back after this long, not
		// franz-go's 45s default.
		kgo.SessionTimeout(10*time.Second),
		kgo.WithLogger(kafka.KgoLogger(log)),
	)
	if err != nil {
		p.close()
		return fmt.Errorf("writer: kafka client: %w", err)
	}
	// Close would hang after a poll whose rebalance block was not lifted,
	// as when the store fails mid-batch.
	defer cl.CloseAllowingRebalance()
	elems := codec.NewElements(cfg.Registry)
	log.Info("graph writer started", "group", Group(cfg.Store))
	p.cl = cl
	// Before the client closes: stopping commits what was applied.
	defer p.close()
	for {
		// Offsets owed wait at most CommitInterval, even with nothing to
		// read: the poll returns empty when they are due. Once they are
		// due, the batch in flight commits them when applied, or, with
		// none, the loop now. (A poll given an expired deadline returns
		// nothing, and the drain after it would stall the pipeline.)
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if due, ok := p.commitDue(); ok {
			switch {
			case time.Until(due) > 0:
				pollCtx, cancel = context.WithDeadline(ctx, due)
			case !p.flying:
				p.commitOwed(commitIfDue)
			}
		}
		// Stalled partitions are looked at when due, and the poll waits no
		// longer than the next look (after retry, every look is ahead).
		stalled.retry(ctx, cl)
		if look, ok := stalled.nextLook(); ok {
			if d, has := pollCtx.Deadline(); !has || look.Before(d) {
				cancel()
				pollCtx, cancel = context.WithDeadline(ctx, look)
			}
		}
		fetches := cl.PollRecords(pollCtx, cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			// The batch in flight is applied and committed; what was
			// polled since is re-read after a restart.
			err := p.settle()
			cl.AllowRebalance()
			return err
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		wk := p.next()
		wk.dead.topic, wk.dead.max = dlq, dlqMax
		stopped := false
		fetches.EachRecord(func(rec *kgo.Record) {
			tp := topicPartition{rec.Topic, rec.Partition}
			if stopped || stalled.has(tp) {
				// A stalled partition's records from the stalled one on
				// are read again once it resumes.
				return
			}
			if rec.Value != nil {
				if err := decodeInto(ctx, elems, rec, &wk.batch); err != nil {
					id, cause := registryFault(ctx, cfg.Registry, rec, err)
					switch {
					case ctx.Err() != nil:
						stopped = true
						return
					case cause != nil:
						stalled.stop(cl, rec, id, cause)
						return
					}
					cfg.Metrics.Rejected.WithLabelValues(rec.Topic).Inc()
					log.Error("graph record dead-lettered: it cannot be decoded", "topic", rec.Topic, "partition", rec.Partition,
						"offset", rec.Offset, "schema_id", id, "err", err, "dlq", dlq)
					wk.dead.add(cl, rec, err)
				}
			}
			wk.last[tp] = rec
		})
		if stopped {
			// Nothing of this batch is committed: it is re-read next time.
			err := p.settle()
			cl.AllowRebalance()
			return err
		}
		if len(wk.last) == 0 {
			p.release(wk)
			if err := p.drain(); err != nil {
				return err
			}
			cl.AllowRebalance()
			p.allowed = time.Now()
			continue
		}
		if err := p.submit(wk); err != nil {
			return err
		}
		// While a backlog lasts the next batch is decoded as this one is
		// applied, and rebalances wait (BlockRebalanceOnPoll) until the
		// pipeline is drained: every batch polled before a rebalance is
		// applied and its commit issued first (see pipeline). Drain when
		// caught up (the next poll would wait for records anyway) and at
		// least every second, so a rebalance waits no longer than that.
		if cl.BufferedFetchRecords() == 0 || time.Since(p.allowed) > time.Second {
			if err := p.drain(); err != nil {
				return err
			}
			cl.AllowRebalance()
			p.allowed = time.Now()
		}
	}
}

type topicPartition struct {
	topic     string
	partition int32
}

// work is one polled batch: its decoded elements and the last record of
// each partition it holds, whose offsets are committed once the store has
// applied the batch.
type work struct {
	batch graph.Batch
	last  map[topicPartition]*kgo.Record
	// dead are the batch's dead letters: its offsets are owed only once
	// they are acknowledged.
	dead deadLetters
}

// pipeline applies batches on a goroutine of its own, one at a time and in
// order, so that the next batch is polled and decoded while the store
// applies this one: on a backlog the writer otherwise alternates between
// a decoding core and a store that waits for it. At most one batch is in
// flight and one being decoded.
//
// A batch's offsets become owed once it is applied, never before, and
// owed offsets are committed at most every commit interval (see
// Config.CommitInterval), by the applying goroutine after an apply or by
// the poll loop when idle. Commits are asynchronous: the next batch is
// applied while the broker answers (a round trip that took a third of the
// applying goroutine's busy time when every batch waited for it).
//
// Before a rebalance everything applied is committed: the poll loop
// drains the applies before AllowRebalance, and with BlockRebalanceOnPoll
// franz-go runs the revoke callback only after that, while no poll can
// return records, so the callback finds every applied batch owed and
// commits it synchronously. A commit that fails stops the writer; what it
// covered is re-read after a restart and merged again, which changes
// nothing.
type pipeline struct {
	ctx     context.Context
	w       graph.Writer
	cl      *kgo.Client
	m       *Metrics
	jobs    chan *work
	done    chan error
	free    chan *work
	flying  bool
	allowed time.Time

	// commits counts commits issued and not yet answered; commitErr
	// holds the first that failed.
	commits   sync.WaitGroup
	mu        sync.Mutex
	commitErr error

	// owedMu guards owed, the offsets after applied records not yet
	// committed, and issued, when the last commit was issued; taking
	// owed and issuing its commit under one lock keeps commits in the
	// order their offsets were owed. A revoke holds it while its
	// synchronous commit waits for the asynchronous ones before it; their
	// callbacks take only mu, whose holders never take owedMu, so they
	// finish.
	owedMu sync.Mutex
	owed   map[string]map[int32]kgo.EpochOffset
	issued time.Time
	every  time.Duration
}

func newPipeline(ctx context.Context, w graph.Writer, m *Metrics, every time.Duration) *pipeline {
	p := &pipeline{ctx: ctx, w: w, m: m, jobs: make(chan *work), done: make(chan error, 1), free: make(chan *work, 2), allowed: time.Now(),
		owed: map[string]map[int32]kgo.EpochOffset{}, issued: time.Now(), every: every}
	for range 2 {
		p.free <- &work{last: map[topicPartition]*kgo.Record{}}
	}
	go func() {
		for wk := range p.jobs {
			p.done <- p.apply(wk)
		}
	}()
	return p
}

// next returns an empty batch to decode into. There is always one: at
// most one other is in flight.
func (p *pipeline) next() *work {
	wk := <-p.free
	wk.batch.Reset()
	clear(wk.last)
	wk.dead.reset()
	return wk
}

func (p *pipeline) release(wk *work) { p.free <- wk }

// submit waits for the batch in flight and hands wk to the store. It
// returns the error of the batch in flight or of a commit, if any.
func (p *pipeline) submit(wk *work) error {
	if err := p.drain(); err != nil {
		p.release(wk)
		return err
	}
	p.flying = true
	p.jobs <- wk
	return nil
}

// drain waits until the batch in flight, if any, is applied and its
// commit issued, and returns the first error of an apply or a commit.
func (p *pipeline) drain() error {
	if p.flying {
		p.flying = false
		if err := <-p.done; err != nil {
			return err
		}
	}
	return p.failed()
}

// settle commits every applied batch and waits until every commit issued
// has been answered: the writer stops with nothing applied left
// uncommitted.
func (p *pipeline) settle() error {
	err := p.drain()
	p.commitOwed(commitNow)
	p.commits.Wait()
	if err != nil {
		return err
	}
	return p.failed()
}

func (p *pipeline) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.commitErr
}

// close stops the applying goroutine after the batch in flight, and
// waits for the commits issued.
func (p *pipeline) close() {
	_ = p.settle()
	close(p.jobs)
}

// apply stores one batch and owes its offsets, committing them if the
// interval has passed; the batch's dead letters are acknowledged first.
// Its context is not canceled when the writer stops: a batch begun is
// finished, so that stopping never leaves work applied but uncommitted for
// no reason.
func (p *pipeline) apply(wk *work) error {
	defer p.release(wk)
	ctx := p.ctx
	if err := wk.dead.wait(ctx, p.cl); err != nil {
		return err
	}
	b := &wk.batch
	if b.Len() > 0 {
		if err := p.w.Apply(ctx, b); err != nil {
			return fmt.Errorf("writer: apply batch (offsets not committed): %w", err)
		}
		p.m.Elements.WithLabelValues("node").Add(float64(len(b.Nodes)))
		p.m.Elements.WithLabelValues("edge").Add(float64(len(b.Edges)))
		p.m.Batches.Inc()
		p.m.Batch.Observe(float64(b.Len()))
		now := time.Now().UnixMilli()
		for i := range b.Nodes {
			p.m.Freshness.Observe(float64(now-b.Nodes[i].LastSeen) / 1000)
		}
		for i := range b.Edges {
			p.m.Freshness.Observe(float64(now-b.Edges[i].LastSeen) / 1000)
		}
	}
	p.owe(wk.last)
	p.commitOwed(commitIfDue)
	return nil
}

// owe records the offsets after last's records (as CommitRecords would
// commit them) as owed.
func (p *pipeline) owe(last map[topicPartition]*kgo.Record) {
	p.owedMu.Lock()
	defer p.owedMu.Unlock()
	for tp, r := range last {
		ps := p.owed[tp.topic]
		if ps == nil {
			ps = make(map[int32]kgo.EpochOffset)
			p.owed[tp.topic] = ps
		}
		ps[tp.partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	}
}

// commitDue reports when the owed offsets are due to be committed; ok is
// false when nothing is owed.
func (p *pipeline) commitDue() (due time.Time, ok bool) {
	p.owedMu.Lock()
	defer p.owedMu.Unlock()
	return p.issued.Add(p.every), len(p.owed) > 0
}

// commitMode says how commitOwed commits.
type commitMode int

const (
	commitIfDue   commitMode = iota // asynchronously, if the commit interval has passed
	commitNow                       // asynchronously, now
	commitAndWait                   // now, waiting for the answer (a revoke)
)

// commitOwed commits the owed offsets, as mode says.
func (p *pipeline) commitOwed(mode commitMode) {
	p.owedMu.Lock()
	defer p.owedMu.Unlock()
	if len(p.owed) == 0 || mode == commitIfDue && time.Since(p.issued) < p.every {
		return
	}
	offsets := p.owed
	p.owed = make(map[string]map[int32]kgo.EpochOffset, len(offsets))
	p.issued = time.Now()
	onDone := func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err := kafka.CommitError(resp, err); err != nil {
			p.mu.Lock()
			if p.commitErr == nil {
				p.commitErr = fmt.Errorf("writer: commit offsets: %w", err)
			}
			p.mu.Unlock()
		}
	}
	if mode == commitAndWait {
		// franz-go: an asynchronous commit in a revoke would let the
		// rebalance proceed before it is sent.
		p.cl.CommitOffsetsSync(p.ctx, offsets, onDone)
		return
	}
	p.commits.Add(1)
	p.cl.CommitOffsets(p.ctx, offsets, func(cl *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		defer p.commits.Done()
		onDone(cl, req, resp, err)
	})
}

// revoked commits everything owed before partitions move and waits for
// it. franz-go calls it only after AllowRebalance, when the poll loop has
// drained the applies and no poll can return records, so every applied
// batch is in what it commits.
func (p *pipeline) revoked() { p.commitOwed(commitAndWait) }

// lost drops the owed offsets of partitions the writer no longer owns
// without a revoke (its session expired): committing them could rewind a
// new owner's commits. Their records are re-read and merged again.
func (p *pipeline) lost(lost map[string][]int32) {
	p.owedMu.Lock()
	defer p.owedMu.Unlock()
	for t, ps := range lost {
		for _, part := range ps {
			delete(p.owed[t], part)
		}
		if len(p.owed[t]) == 0 {
			delete(p.owed, t)
		}
	}
}

func decodeInto(ctx context.Context, elems *codec.Elements, rec *kgo.Record, b *graph.Batch) error {
	switch {
	case strings.HasPrefix(rec.Topic, codec.NodeTopicPrefix):
		n, err := elems.DecodeNode(ctx, rec.Value)
		if err == nil {
			err = n.NodeRef.Validate()
		}
		if err != nil {
			return err
		}
		b.Nodes = append(b.Nodes, n)
	case strings.HasPrefix(rec.Topic, codec.EdgeTopicPrefix):
		e, err := elems.DecodeEdge(ctx, rec.Value)
		if err == nil {
			err = e.EdgeRef.Validate()
		}
		if err != nil {
			return err
		}
		b.Edges = append(b.Edges, e)
	default:
		return fmt.Errorf("not a graph topic")
	}
	return nil
}
