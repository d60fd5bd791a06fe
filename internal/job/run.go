package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
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
	// MaxPollRecords bounds how many records are processed between commits.
	MaxPollRecords int
}

// Run runs j until ctx is done or a non-recoverable error occurs (a graph
// or dead-letter topic rejecting writes). Records are processed in poll
// batches; a batch's offsets are committed only once every element and
// dead letter derived from it has been acknowledged by the broker, so a
// crash at any moment re-reads, and merge semantics make the repeat
// harmless (at-least-once). Returning because ctx is done is not an error.
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
	if cfg.GraphPartitions <= 0 {
		cfg.GraphPartitions = 6
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 10_000
	}
	name := j.Spec.Name
	log := cfg.Logger.With("job", name)

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

	start := kgo.NewOffset().AtStart()
	if j.Spec.Source.Start == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Seeds...),
		kgo.ConsumerGroup(Group(name)),
		kgo.ConsumeTopics(j.Spec.Source.Topic),
		kgo.ConsumeResetOffset(start),
		kgo.DisableAutoCommit(),
		// Rebalances wait until the records of a poll are flushed and
		// committed, so no partition moves with work in flight.
		kgo.BlockRebalanceOnPoll(),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.ClientID("rdg-job-" + name),
	}, cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("job %s: kafka client: %w", name, err)
	}
	defer cl.Close()

	r := &runner{name: name, cl: cl, proc: NewProcessor(j, cfg.Schemas), log: log, m: cfg.Metrics,
		pub: &publisher{cl: cl, elems: elems, dlq: DeadLetterTopic(name)}}
	r.initCounters()
	log.Info("job started", "source", j.Spec.Source.Topic, "group", Group(name),
		"nodes", j.NodeTypes(), "edges", j.EdgeTypes())
	for {
		fetches := cl.PollRecords(ctx, cfg.MaxPollRecords)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			log.Info("job stopped")
			return nil
		}
		var fatal error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			if errors.Is(err, kgo.ErrClientClosed) {
				fatal = err
			}
		})
		if fatal != nil {
			return fmt.Errorf("job %s: %w", name, fatal)
		}
		if err := r.batch(ctx, fetches); err != nil {
			if errors.Is(err, errStopped) {
				log.Info("job stopped before its batch was committed; it will be re-read")
				return nil
			}
			return fmt.Errorf("job %s: %w", name, err)
		}
		cl.AllowRebalance()
	}
}

// Prepare creates the job's graph and dead-letter topics. Run calls it; a process that starts a graph writer
// alongside its jobs calls it first, so the writer sees every graph topic
// when it joins instead of discovering them one metadata refresh later.
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
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, kopts...)...)
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

type runner struct {
	name string
	cl   *kgo.Client
	proc *Processor
	pub  *publisher
	log  *slog.Logger
	m    *Metrics

	out graph.Batch

	in, filtered, nodes, edges, commits interface{ Add(float64) }
}

func (r *runner) initCounters() {
	r.in = r.m.RecordsIn.WithLabelValues(r.name)
	r.filtered = r.m.Filtered.WithLabelValues(r.name)
	r.nodes = r.m.NodesOut.WithLabelValues(r.name)
	r.edges = r.m.EdgesOut.WithLabelValues(r.name)
	r.commits = r.m.Commits.WithLabelValues(r.name)
}

var errStopped = errors.New("stopped")

// process runs one record through the job, waiting out registry outages:
// a record whose schema cannot be fetched right now is not a bad record.
func (r *runner) process(ctx context.Context, rec *kgo.Record) (bool, error) {
	backoff := 100 * time.Millisecond
	for {
		filtered, err := r.proc.Process(ctx, rec.Value, rec.Timestamp, &r.out)
		if !errors.Is(err, codec.ErrRegistryUnavailable) {
			return filtered, err
		}
		r.log.Warn("waiting for the schema registry", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		select {
		case <-ctx.Done():
			return false, errStopped
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// batch processes one poll's records, waits until everything derived from
// them is acknowledged, then commits the poll's offsets. Once the records
// are processed the batch is finished even if ctx is cancelled meanwhile,
// so a clean stop leaves nothing to re-read.
func (r *runner) batch(ctx context.Context, fetches kgo.Fetches) error {
	n := 0
	var nNodes, nEdges int
	var stopped bool
	fetches.EachRecord(func(rec *kgo.Record) {
		if stopped {
			return
		}
		n++
		r.out.Reset()
		filtered, err := r.process(ctx, rec)
		switch {
		case errors.Is(err, errStopped):
			stopped = true
		case err != nil:
			stage, schemaID := r.pub.deadLetter(ctx, rec, err)
			r.m.DeadLettered.WithLabelValues(r.name, stage).Add(1)
			r.log.Warn("record dead-lettered", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset,
				"stage", stage, "schema_id", schemaID, "err", err, "dlq", r.pub.dlq)
		case filtered:
			r.filtered.Add(1)
		default:
			r.pub.add(ctx, &r.out)
			nNodes += len(r.out.Nodes)
			nEdges += len(r.out.Edges)
		}
	})
	if stopped {
		return errStopped
	}
	if n == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	if err := r.pub.flush(ctx); err != nil {
		// Not committing means the batch is read again after restart.
		return fmt.Errorf("publish output (offsets not committed): %w", err)
	}
	if err := r.cl.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	r.in.Add(float64(n))
	r.nodes.Add(float64(nNodes))
	r.edges.Add(float64(nEdges))
	r.commits.Add(1)
	return nil
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

func (p *publisher) add(ctx context.Context, b *graph.Batch) {
	for i := range b.Nodes {
		n := &b.Nodes[i]
		v, err := p.elems.AppendNode(nil, n)
		if err != nil {
			p.promise(nil, err)
			continue
		}
		p.cl.Produce(ctx, &kgo.Record{Topic: codec.NodeTopic(n.Type), Key: codec.NodeKey(n.NodeRef), Value: v}, p.promise)
	}
	for i := range b.Edges {
		e := &b.Edges[i]
		v, err := p.elems.AppendEdge(nil, e)
		if err != nil {
			p.promise(nil, err)
			continue
		}
		p.cl.Produce(ctx, &kgo.Record{Topic: codec.EdgeTopic(e.Type), Key: codec.EdgeKey(e.EdgeRef), Value: v}, p.promise)
	}
}

func (p *publisher) flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
	p.err = nil
	return err
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
