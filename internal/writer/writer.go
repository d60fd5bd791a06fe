// Package writer is the graph writer: it consumes the graph topics
// (rdg.node.<type> and rdg.edge.<type>) in its own consumer group and merges
// their elements into a store through graph.Writer, committing offsets only
// after the store has made a batch durable.
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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/broker"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
)

// Group is the consumer group of the writer for store name.
func Group(store string) string { return "rdg-store-" + store }

// Metrics counts the writer's work.
type Metrics struct {
	Elements  *prometheus.CounterVec
	Batches   prometheus.Counter
	Rejected  *prometheus.CounterVec
	Batch     prometheus.Histogram
	Freshness prometheus.Histogram
}

// NewMetrics creates writer metrics and registers them with reg (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Elements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_store_elements_written_total", Help: "Graph elements merged into the store, by kind (node, edge)."}, []string{"kind"}),
		Batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rdg_store_batches_total", Help: "Batches applied to the store."}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_store_records_rejected_total", Help: "Graph topic records that could not be decoded and were skipped, by topic."}, []string{"topic"}),
		Batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rdg_store_batch_elements", Help: "Elements per applied batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		Freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rdg_store_freshness_seconds", Help: "Event time (last_seen) to store commit of each element.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
	}
	if reg != nil {
		reg.MustRegister(m.Elements, m.Batches, m.Rejected, m.Batch, m.Freshness)
	}
	return m
}

// Config is what the writer needs from its process.
type Config struct {
	Seeds     []string
	KafkaOpts []kgo.Opt
	Registry  *sr.Client
	// Store names the store in the consumer group, so that several stores
	// can each hold the whole graph.
	Store   string
	Metrics *Metrics
	Logger  *slog.Logger
	// MaxPollRecords bounds the elements applied in one store batch.
	MaxPollRecords int
	// FetchMaxBytes bounds one fetch from the brokers (default 16 MiB, a
	// job's default). The client buffers one fetch while the writer works
	// on the records of the last, so this is most of the writer's memory
	// besides the store's: franz-go's default, 50 MiB, measured about
	// 650 MiB peak RSS on a backlog of small graph records.
	FetchMaxBytes int32
	// TopicRefresh is how often new graph topics are discovered.
	TopicRefresh time.Duration
}

// Run consumes the graph topics into w until ctx is done. A record that
// cannot be decoded is logged, counted and skipped: graph topics are written
// by rdg, so such a record is a bug or tampering, and stopping would halt
// the whole graph. A store error stops Run without committing, so the batch
// is re-read after a restart.
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
		cfg.FetchMaxBytes = 16 << 20
	}
	log := cfg.Logger.With("component", "writer", "store", cfg.Store)
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Seeds...),
		kgo.ConsumerGroup(Group(cfg.Store)),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(codec.GraphTopicRegex),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kgo.BlockRebalanceOnPoll(),
		// Regex subscriptions see new topics on metadata refresh; a new
		// job's first elements should not wait minutes for it.
		kgo.MetadataMaxAge(cfg.TopicRefresh),
		kgo.MetadataMinAge(min(cfg.TopicRefresh, 500*time.Millisecond)),
		kgo.ClientID("rdg-writer-" + cfg.Store),
		// A restarted writer takes its partitions back after this long, not
		// franz-go's 45s default.
		kgo.SessionTimeout(10 * time.Second),
		kgo.WithLogger(broker.KgoLogger(log)),
	}, cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("writer: kafka client: %w", err)
	}
	defer cl.Close()
	elems := codec.NewElements(cfg.Registry)
	var batch graph.Batch
	log.Info("graph writer started", "group", Group(cfg.Store))
	for {
		fetches := cl.PollRecords(ctx, cfg.MaxPollRecords)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		batch.Reset()
		n := 0
		stopped := false
		fetches.EachRecord(func(rec *kgo.Record) {
			n++
			if stopped || rec.Value == nil {
				return
			}
			err := decodeInto(ctx, elems, rec, &batch)
			for backoff := 100 * time.Millisecond; errors.Is(err, codec.ErrRegistryUnavailable); backoff = min(2*backoff, 5*time.Second) {
				log.Warn("waiting for the schema registry", "err", err)
				select {
				case <-ctx.Done():
					stopped = true
					return
				case <-time.After(backoff):
				}
				err = decodeInto(ctx, elems, rec, &batch)
			}
			if err != nil {
				cfg.Metrics.Rejected.WithLabelValues(rec.Topic).Inc()
				log.Error("skipping undecodable graph record", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
			}
		})
		if stopped {
			return nil // nothing committed: the batch is re-read next time
		}
		if n == 0 {
			cl.AllowRebalance()
			continue
		}
		wctx := context.WithoutCancel(ctx)
		if batch.Len() > 0 {
			if err := w.Apply(wctx, &batch); err != nil {
				return fmt.Errorf("writer: apply batch (offsets not committed): %w", err)
			}
			cfg.Metrics.Elements.WithLabelValues("node").Add(float64(len(batch.Nodes)))
			cfg.Metrics.Elements.WithLabelValues("edge").Add(float64(len(batch.Edges)))
			cfg.Metrics.Batches.Inc()
			cfg.Metrics.Batch.Observe(float64(batch.Len()))
			now := time.Now().UnixMilli()
			for i := range batch.Nodes {
				cfg.Metrics.Freshness.Observe(float64(now-batch.Nodes[i].LastSeen) / 1000)
			}
			for i := range batch.Edges {
				cfg.Metrics.Freshness.Observe(float64(now-batch.Edges[i].LastSeen) / 1000)
			}
		}
		if err := cl.CommitUncommittedOffsets(wctx); err != nil {
			return fmt.Errorf("writer: commit offsets: %w", err)
		}
		cl.AllowRebalance()
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
