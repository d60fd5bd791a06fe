package jobrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/kafka"
)

// Producer is where a job's output records go. *kgo.Client is one; the
// engine benchmark uses an in-memory one. Produce must eventually call
// promise exactly once per record.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// ChainConfig is what a Chain needs besides its job.
type ChainConfig struct {
	Schemas engine.SchemaSource
	// Elements encodes graph records; its schema ids are the graph
	// topics' registered ones.
	Elements *codec.Elements
	// Tables are the job's side inputs by name.
	Tables   map[string]engine.Lookup
	Producer Producer
	Metrics  *Metrics // nil makes unregistered metrics
	Logger   *slog.Logger
	// MaxRecordBytes rejects larger source values (stage size); 0: no limit.
	MaxRecordBytes int
	// MaxElementBytes is the largest graph record the producer can send
	// (its max record bytes for graph topics, as codec.RecordSize counts): a
	// larger element is dead-lettered at stage publish without a round
	// trip. 0: no limit.
	MaxElementBytes int
	// MaxDeadLetterBytes is the same for the dead-letter topic: a larger
	// dead letter goes without its value. 0: no limit.
	MaxDeadLetterBytes int
	// Flush waits until everything the Producer was given is answered
	// (kgo.Client.Flush). Chain.Flush uses it to retry a record the
	// broker rejected alone; nil: the Producer answers at once.
	Flush func(context.Context) error
}

// Chain is one consumer's operator chain on Kafka: the engine (the
// per-record path and the dedupe buffer) and the publisher that encodes
// graph elements and dead letters into records for a Producer. It knows
// nothing of offsets, commits or transactions; the runner that owns the
// consumer decides when to Emit, and commits below Pending once the
// producer has acknowledged everything. Not safe for concurrent use.
type Chain struct {
	job *engine.Job
	eng *engine.Engine
	pub *publisher
	rec engine.Record

	in, filtered, nodesIn, edgesIn prometheus.Counter
}

// NewChain returns the operator chain of j.
func NewChain(j *engine.Job, cfg ChainConfig) *Chain {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	name := j.Spec.Name
	m := cfg.Metrics
	c := &Chain{
		job: j,
		pub: newPublisher(j, cfg),
		in:  m.RecordsIn.WithLabelValues(name), filtered: m.Filtered.WithLabelValues(name),
		nodesIn: m.NodesOut.WithLabelValues(name), edgesIn: m.EdgesOut.WithLabelValues(name),
	}
	c.eng = engine.NewEngine(j, engine.EngineConfig{Schemas: cfg.Schemas, Tables: cfg.Tables, MaxRecordBytes: cfg.MaxRecordBytes,
		OnMiss:    func(input string) { m.EnrichMisses.WithLabelValues(name, input).Inc() },
		Transient: func(err error) bool { return errors.Is(err, codec.ErrRegistryUnavailable) },
		Logger:    cfg.Logger}, c.pub)
	return c
}

// newPublisher is the publisher of j's chains; cfg has its defaults set.
func newPublisher(j *engine.Job, cfg ChainConfig) *publisher {
	name := j.Spec.Name
	m := cfg.Metrics
	p := &publisher{prod: cfg.Producer, elems: cfg.Elements, dlq: job.DeadLetterTopic(name), source: j.Spec.Source.Topic,
		nodes: m.NodesPublished.WithLabelValues(name), edges: m.EdgesPublished.WithLabelValues(name),
		freshness: m.Freshness.WithLabelValues(name), published: m.DeadLettered.WithLabelValues(name, engine.StagePublish),
		maxElement: cfg.MaxElementBytes, maxDeadLetter: cfg.MaxDeadLetterBytes, flush: cfg.Flush, log: cfg.Logger,
		m: m, job: name}
	p.epoch = p.newEpoch()
	return p
}

// Publisher is a live job's publisher on its own, for what publishes a
// job's graph elements without consuming its source (dead-letter replay):
// the same topics, keys and values, each record's timestamp the element's
// last_seen, and the same handling of records the broker refuses.
type Publisher struct{ p *publisher }

// NewPublisher returns j's publisher. cfg's Schemas, Tables and
// MaxRecordBytes are not used.
func NewPublisher(j *engine.Job, cfg ChainConfig) *Publisher {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Publisher{p: newPublisher(j, cfg)}
}

// Publish encodes b's elements and hands them to the producer.
func (p *Publisher) Publish(ctx context.Context, b *engine.Elements) { p.p.Publish(ctx, b) }

// Flush waits until everything published is answered for (see
// Chain.Flush), and returns ctx's error or the first publishing failure
// since the last Flush.
func (p *Publisher) Flush(ctx context.Context) error {
	if err := p.p.flushAll(ctx); err != nil {
		return err
	}
	return p.p.takeErr()
}

// Ingest runs one source record through the chain: its elements go into
// the dedupe buffer (or straight to the producer without a window), a
// failure to the dead-letter topic. now is the processing time that starts
// the elements' timers. It waits out registry outages (a record whose
// schema cannot be fetched right now is not a bad record) and returns
// errStopped if ctx ends meanwhile; the record is then not ingested.
func (c *Chain) Ingest(ctx context.Context, rec *kgo.Record, now time.Time) error {
	// One Record reused: handed to the sink through an interface, a
	// fresh one per record would escape to the heap.
	c.rec = engine.Record{Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp,
		Pos: engine.SourcePos{Partition: rec.Partition, Offset: rec.Offset}, Ref: rec}
	return c.eng.Ingest(ctx, &c.rec, now)
}

// Emit publishes what the buffer has due at now (everything if all), and
// brings the chain's counters up to date.
func (c *Chain) Emit(ctx context.Context, now time.Time, all bool) {
	c.FlushCounts()
	c.eng.Emit(ctx, now, all)
}

// FlushCounts adds what Ingest counted since the last call to the job's
// metrics. Emit calls it; a runner that ingests several polls between
// Emits calls it after each.
func (c *Chain) FlushCounts() {
	n := c.eng.TakeCounts()
	c.in.Add(float64(n.In))
	c.filtered.Add(float64(n.Filtered))
	c.nodesIn.Add(float64(n.Nodes))
	c.edgesIn.Add(float64(n.Edges))
}

// Pending is the dedupe buffer's commit bound for source partition p (see
// Buffer.Pending).
func (c *Chain) Pending(p int32) (int64, bool) { return c.eng.Pending(p) }

// NextDeadline is when Emit next has something to publish (see
// Buffer.NextDeadline).
func (c *Chain) NextDeadline() (time.Time, bool) { return c.eng.NextDeadline() }

// Buffered is the number of elements in the dedupe buffer.
func (c *Chain) Buffered() int { return c.eng.Buffered() }

// TakeErr returns and clears the first publishing failure since the last
// call: output the producer could not deliver.
func (c *Chain) TakeErr() error { return c.pub.takeErr() }

// Seal ends the chain's current epoch and starts another: the returned
// epoch holds every record published since the last Seal, and no more.
// A runner that commits without waiting for the producer (Flush) seals at
// each commit point, and commits that point's offsets once the epoch and
// every earlier one are Done.
func (c *Chain) Seal() *Epoch {
	ep := c.pub.epoch
	c.pub.epoch = c.pub.newEpoch()
	return ep
}

// Epoch counts a chain's records published between two Seals until the
// broker has answered for them. A record the broker rejected for itself
// (see Chain.Flush) is answered for once it is in a graph topic or its
// dead letter in the dead-letter topic.
type Epoch struct {
	n       atomic.Int64 // records not yet answered for
	mu      sync.Mutex
	err     error // first failure
	element func(*kgo.Record, error)
	plain   func(*kgo.Record, error)
	// done answers for one record, failed if err is not nil.
	done func(err error)
}

// Done reports whether the broker has answered for every record of the
// sealed epoch.
func (e *Epoch) Done() bool { return e.n.Load() == 0 }

// Err is the first failure among the epoch's records; meaningful once
// Done.
func (e *Epoch) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// newEpoch makes an epoch whose promises count down and keep the first
// failure, besides what the publisher's own promises do. They are made
// once per epoch, not per record.
func (p *publisher) newEpoch() *Epoch {
	e := &Epoch{}
	done := func(err error) {
		if err != nil {
			e.mu.Lock()
			if e.err == nil {
				e.err = err
			}
			e.mu.Unlock()
		}
		e.n.Add(-1)
	}
	e.done = done
	e.element = func(r *kgo.Record, err error) {
		if kafka.RecordRefused(err) {
			p.reject(rejection{rec: r, err: err, ep: e})
			return
		}
		p.elementPromise(r, err)
		done(err)
	}
	e.plain = func(r *kgo.Record, err error) {
		if kafka.RecordRefused(err) {
			p.reject(rejection{rec: r, err: err, ep: e})
			return
		}
		p.promise(r, err)
		done(err)
	}
	return e
}

// publisher is the last operator of a chain: it encodes graph elements for
// their topics and failed records for the dead-letter topic, and hands them
// to the producer. Failures are kept until takeErr; the runner checks after
// flushing, before committing.
type publisher struct {
	prod   Producer
	elems  *codec.Elements
	dlq    string
	source string // the job's source topic

	nodes, edges prometheus.Counter
	freshness    prometheus.Observer
	published    prometheus.Counter // engine.Elements dead-lettered at stage publish

	maxElement, maxDeadLetter int
	flush                     func(context.Context) error
	log                       *slog.Logger
	m                         *Metrics
	job                       string

	// epoch counts what is published until the chain is next sealed.
	epoch *Epoch

	mu  sync.Mutex
	err error // first failure since the last takeErr

	// rejectedMu guards rejections, the records the broker refused for
	// themselves, waiting for Chain.Flush.
	rejectedMu sync.Mutex
	rejections []rejection
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
// last_seen, which is the record's timestamp) to the broker's
// acknowledgement.
func (p *publisher) elementPromise(r *kgo.Record, err error) {
	if err != nil {
		p.promise(r, err)
		return
	}
	p.freshness.Observe(float64(time.Since(r.Timestamp)) / float64(time.Second))
}

// takeErr returns and clears the first failure since the last call.
func (p *publisher) takeErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
	p.err = nil
	return err
}

// produce hands r to the producer as part of the current epoch; promise
// is one of the epoch's.
func (p *publisher) produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.epoch.n.Add(1)
	p.prod.Produce(ctx, r, promise)
}

// fail records a failure to publish that never reached the producer (an
// element that could not be encoded), in the current epoch too.
func (p *publisher) fail(err error) {
	p.epoch.n.Add(1)
	p.epoch.plain(nil, err)
}

// add publishes b's elements. Each record's timestamp is the element's
// last_seen, its event time, so that freshness needs nothing per record
// beyond the record itself.
func (p *publisher) Publish(ctx context.Context, b *engine.Elements) {
	p.nodes.Add(float64(b.NumNodes()))
	p.edges.Add(float64(b.NumEdges()))
	for i := range b.NumNodes() {
		n, props := b.Node(i)
		r, err := p.elems.NodeRecordSorted(n, props)
		if err != nil {
			p.fail(err)
			continue
		}
		r.Timestamp = time.UnixMilli(n.LastSeen)
		p.produceElement(ctx, r)
	}
	for i := range b.NumEdges() {
		e, props := b.Edge(i)
		r, err := p.elems.EdgeRecordSorted(e, props)
		if err != nil {
			p.fail(err)
			continue
		}
		r.Timestamp = time.UnixMilli(e.LastSeen)
		p.produceElement(ctx, r)
	}
}

// produceElement produces a graph record, or its dead letter if it is
// larger than the producer would send.
func (p *publisher) produceElement(ctx context.Context, r *kgo.Record) {
	if size := codec.RecordSize(r); p.maxElement > 0 && size > p.maxElement {
		err := fmt.Errorf("%w: element of %d bytes exceeds the producer's max record bytes %d", kerr.MessageTooLarge, size, p.maxElement)
		p.produce(ctx, p.elementDeadLetter(r, err), p.epoch.plain)
		return
	}
	p.produce(ctx, r, p.epoch.element)
}

// DeadLetter publishes a record that failed, with its original key, value
// and headers, plus headers saying where it came from and why it failed.
// The dead letter is flushed with the batch: the source offset is not
// committed until the broker has acknowledged it.
func (p *publisher) DeadLetter(ctx context.Context, r *engine.Record, stage string, schemaID int, err error) {
	rec := r.Ref.(*kgo.Record)
	p.produce(ctx, codec.DeadLetter(p.dlq, p.maxDeadLetter, rec, stage, schemaID, err), p.epoch.plain)
	p.m.DeadLettered.WithLabelValues(p.job, stage).Inc()
	p.log.Warn("record dead-lettered", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset,
		"stage", stage, "schema_id", schemaID, "err", err, "dlq", p.dlq)
}
