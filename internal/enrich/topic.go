package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/kafka"
)

// DefaultReadyTimeout bounds StartTopic when TopicConfig.ReadyTimeout is
// zero.
const DefaultReadyTimeout = 60 * time.Second

// TopicConfig configures StartTopic.
type TopicConfig struct {
	// Cluster is the Kafka cluster the topic is on. Its options must not
	// configure consuming: the table sets that itself.
	Cluster kafka.Cluster
	// Forwarding for internal/job until it sets Cluster: Seeds, if set,
	// replace Cluster's, and KafkaOpts are added to Cluster's options.
	Seeds     []string
	KafkaOpts []kgo.Opt
	// Topic is the compacted topic to materialise.
	Topic string
	// Schemas resolves the writer schemas of the values. Required.
	Schemas *codec.Schemas
	// Logger receives warnings about bad records and fetch errors; nil
	// means slog.Default(), so that skipped records are never silent.
	Logger *slog.Logger
	// ReadyTimeout bounds StartTopic: waiting for the topic to exist and
	// reading it up to the end offsets seen at start. Zero means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// TopicTable is a table materialised from a compacted topic: the latest
// value of each key, decoded, with tombstones removing keys.
//
// A lookup is a map read under a read lock: about 18 ns and no allocation
// on this project's 2-core machine, with two goroutines looking up at once
// about as fast (BenchmarkLookupParallel). A plain map behind an RWMutex
// beat sync.Map (about 42 ns a lookup) here; with many cores the shared
// reader count of the RWMutex becomes the limit, and sharding the table
// would be the next step.
type TopicTable struct {
	topic string
	log   *slog.Logger

	// Writers decode a whole fetch outside the lock and then apply it in
	// one critical section, so lookups wait at most for a batch of map
	// assignments, never for decoding or the registry.
	mu   sync.RWMutex
	rows map[string]map[string]any

	errs    atomic.Int64
	records atomic.Int64

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// StartTopic materialises cfg.Topic into an in-memory table.
//
// Values are Avro in the Confluent wire format, decoded with cfg.Schemas
// into map[string]any; the key of a row is the record key's bytes as a
// string; a null value is a tombstone that deletes its key. Every partition
// is read from its start by a plain consumer (no group: each process needs
// the whole table, and no offsets are worth committing because a restart
// must rebuild the table from the start anyway).
//
// StartTopic returns only once the table holds everything up to the end
// offsets it observed at start, so that a job that starts after it sees the
// table as complete as its first source record could expect. It waits up to
// ReadyTimeout for the topic to exist (a catalogue producer may start at the
// same time as the job) and for that catch-up, and fails after it with an
// error naming what it was waiting for. Then a goroutine keeps following
// the topic until ctx is done or Close is called; the table stays readable
// after that, frozen.
//
// The consumer reads committed data only (read_committed), so a
// transactional producer's aborted writes never reach the table, and the
// end it catches up to is the last stable offset: a transaction still open
// at start is not waited for.
//
// A record that cannot be decoded (no Confluent header, an unknown schema,
// a body that does not match it, no key) is counted in Errors, logged, and
// skipped: the key keeps its previous row. A registry that cannot be
// reached is not the record's fault, so that record is retried until the
// registry answers rather than skipped; the table does not move past it
// meanwhile, which keeps it a faithful prefix of the topic.
func StartTopic(ctx context.Context, cfg TopicConfig) (*TopicTable, error) {
	if cfg.Topic == "" {
		return nil, errors.New("enrich: no topic")
	}
	if cfg.Schemas == nil {
		return nil, fmt.Errorf("enrich: topic %s: no schema registry (TopicConfig.Schemas)", cfg.Topic)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "enrich", "topic", cfg.Topic)

	c := cfg.Cluster
	if len(cfg.Seeds) > 0 {
		c.Seeds = cfg.Seeds
	}
	c.Opts = append(c.Opts[:len(c.Opts):len(c.Opts)], cfg.KafkaOpts...)
	cl, err := c.NewClient(
		kgo.ConsumeTopics(cfg.Topic),
		// Also applies to partitions added later: they too are read whole.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers carry no data but occupy offsets, possibly
		// the last one of a partition: seeing them is how catch-up knows
		// it reached an end offset that no data record sits at.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return nil, fmt.Errorf("enrich: topic %s: kafka client: %w", cfg.Topic, err)
	}

	readyCtx, readyCancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer readyCancel()
	pending, err := endOffsets(readyCtx, kadm.NewClient(cl), cfg.Topic)
	if err != nil {
		cl.Close()
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("enrich: topic %s: %w", cfg.Topic, ctx.Err())
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			return nil, fmt.Errorf("enrich: topic %s does not exist (waited %s for it to be created)", cfg.Topic, cfg.ReadyTimeout)
		}
		return nil, fmt.Errorf("enrich: topic %s: cannot list its offsets within %s: %w", cfg.Topic, cfg.ReadyTimeout, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	t := &TopicTable{
		topic:  cfg.Topic,
		log:    log,
		rows:   make(map[string]map[string]any),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	f := &follower{t: t, cl: cl, schemas: cfg.Schemas, pending: pending, ready: make(chan struct{})}
	f.checkReady()
	go f.run(runCtx)

	select {
	case <-f.ready:
	case <-readyCtx.Done():
	}
	// Readiness and the deadline may arrive together: a table that made it
	// is not thrown away for losing the race.
	if isClosed(f.ready) && ctx.Err() == nil {
		log.Info("side input ready", "rows", t.Len(), "records", t.records.Load(), "bad_records", t.errs.Load())
		return t, nil
	}
	t.Close()
	// The follower has exited, so its state can be read without a lock.
	if ctx.Err() != nil {
		return nil, fmt.Errorf("enrich: topic %s: %w", cfg.Topic, ctx.Err())
	}
	msg := fmt.Sprintf("enrich: topic %s: not caught up within %s: %s", cfg.Topic, cfg.ReadyTimeout, f.progress())
	if f.lastErr != nil {
		return nil, fmt.Errorf("%s; last error: %w", msg, f.lastErr)
	}
	return nil, errors.New(msg)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// endOffsets waits for topic to exist and returns, for every partition that
// has records to read, the last offset StartTopic must reach: the last
// stable offset minus one, because read_committed cannot read further.
// Every error is retried until ctx is done, and the last one returned: a
// broker that is still starting looks the same as one that is down.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	backoff := 50 * time.Millisecond
	var last error // the last answer that was not just ctx ending
	for {
		pending, err := listPending(ctx, adm, topic)
		if err == nil {
			return pending, nil
		}
		if ctx.Err() == nil {
			last = err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			if last == nil {
				return nil, ctx.Err()
			}
			return nil, last
		case <-timer.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

func listPending(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, err
	}
	if len(ends[topic]) == 0 {
		return nil, kerr.UnknownTopicOrPartition
	}
	pending := make(map[int32]int64)
	for p, end := range ends[topic] {
		start, ok := starts.Lookup(topic, p)
		if ok && start.Offset >= end.Offset {
			continue // empty, or emptied by retention or DeleteRecords
		}
		pending[p] = end.Offset - 1
	}
	return pending, nil
}

// follower is the goroutine that applies the topic to the table.
type follower struct {
	t       *TopicTable
	cl      *kgo.Client
	schemas *codec.Schemas

	// pending maps each partition not yet caught up to the offset it must
	// reach; ready is closed when it empties.
	pending map[int32]int64
	reached map[int32]int64
	ready   chan struct{}
	isReady bool
	lastErr error

	ops []op

	// Warnings are rate limited by a token bucket (a burst of logBurst,
	// then one a second), so the first few bad records are each logged but
	// a topic full of garbage cannot flood the log; the next line logged
	// says how many were left out.
	logTokens  float64
	lastLog    time.Time
	suppressed int
}

const logBurst = 10

// op is one decoded record: a row to store, or a nil row to delete key.
type op struct {
	key string
	row map[string]any
}

func (f *follower) run(ctx context.Context) {
	defer close(f.t.done)
	defer f.cl.Close()
	for {
		fs := f.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			f.lastErr = fmt.Errorf("fetch partition %d: %w", p, err)
			f.warn("fetch failed", "partition", p, "err", err)
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			f.ops = f.ops[:0]
			for _, r := range p.Records {
				if !f.decode(ctx, r) {
					return // ctx is done
				}
			}
			f.t.apply(f.ops)
			f.noteReached(p.Partition, p.Records[len(p.Records)-1].Offset, p.LogStartOffset)
		})
		if !f.isReady {
			f.checkReady()
		}
	}
}

// decode appends r's operation to f.ops; bad records are counted and
// skipped. It returns false only if ctx ended while waiting for the
// registry.
func (f *follower) decode(ctx context.Context, r *kgo.Record) bool {
	if r.Attrs.IsControl() {
		return true
	}
	f.t.records.Add(1)
	if r.Key == nil {
		f.bad(r, errors.New("record has no key"))
		return true
	}
	if r.Value == nil {
		f.ops = append(f.ops, op{key: string(r.Key)})
		return true
	}
	id, body, err := codec.SplitHeader(r.Value)
	if err != nil {
		f.bad(r, err)
		return true
	}
	backoff := 100 * time.Millisecond
	for {
		schema, err := f.schemas.ByID(ctx, id)
		if err == nil {
			var row map[string]any
			if err := codec.Unmarshal(schema, body, &row); err != nil {
				f.bad(r, fmt.Errorf("schema id %d: %w", id, err))
				return true
			}
			if row == nil { // a non-record schema decodes to nothing
				f.bad(r, fmt.Errorf("schema id %d: value is not an Avro record", id))
				return true
			}
			f.ops = append(f.ops, op{key: string(r.Key), row: row})
			return true
		}
		if !errors.Is(err, codec.ErrRegistryUnavailable) {
			f.bad(r, err)
			return true
		}
		f.lastErr = err
		f.warn("schema registry unavailable; retrying the record", "partition", r.Partition, "offset", r.Offset, "err", err)
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (f *follower) bad(r *kgo.Record, err error) {
	f.t.errs.Add(1)
	f.lastErr = fmt.Errorf("partition %d offset %d: %w", r.Partition, r.Offset, err)
	f.warn("skipping undecodable record", "partition", r.Partition, "offset", r.Offset, "key", string(r.Key), "err", err)
}

func (f *follower) warn(msg string, args ...any) {
	now := time.Now()
	if f.lastLog.IsZero() {
		f.logTokens = logBurst
	} else {
		f.logTokens = min(f.logTokens+now.Sub(f.lastLog).Seconds(), logBurst)
	}
	f.lastLog = now
	if f.logTokens < 1 {
		f.suppressed++
		return
	}
	f.logTokens--
	if f.suppressed > 0 {
		args = append(args, "not_logged_since_last", f.suppressed)
	}
	f.t.log.Warn(msg, args...)
	f.suppressed = 0
}

func (f *follower) noteReached(p int32, offset, logStart int64) {
	if f.isReady {
		return
	}
	if f.reached == nil {
		f.reached = make(map[int32]int64)
	}
	f.reached[p] = offset
	// Retention may have removed the target offset since it was listed.
	if want, ok := f.pending[p]; ok && (offset >= want || logStart > want) {
		delete(f.pending, p)
	}
}

func (f *follower) checkReady() {
	if len(f.pending) == 0 && !f.isReady {
		f.isReady = true
		close(f.ready)
	}
}

// progress describes the partitions still behind, for the timeout error.
func (f *follower) progress() string {
	ps := make([]int32, 0, len(f.pending))
	for p := range f.pending {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		if o, ok := f.reached[p]; ok {
			fmt.Fprintf(&b, "partition %d read to offset %d, needs %d", p, o, f.pending[p])
		} else {
			fmt.Fprintf(&b, "partition %d read nothing, needs offset %d", p, f.pending[p])
		}
	}
	return b.String()
}

func (t *TopicTable) apply(ops []op) {
	if len(ops) == 0 {
		return
	}
	t.mu.Lock()
	for _, o := range ops {
		if o.row == nil {
			delete(t.rows, o.key)
		} else {
			t.rows[o.key] = o.row
		}
	}
	t.mu.Unlock()
}

// Lookup returns the row stored under key. The row must not be modified.
func (t *TopicTable) Lookup(key string) (map[string]any, bool) {
	t.mu.RLock()
	row, ok := t.rows[key]
	t.mu.RUnlock()
	return row, ok
}

// Len is the number of keys in the table.
func (t *TopicTable) Len() int {
	t.mu.RLock()
	n := len(t.rows)
	t.mu.RUnlock()
	return n
}

// Errors is the number of records skipped because they could not be
// decoded.
func (t *TopicTable) Errors() int64 { return t.errs.Load() }

// Records is the number of data records read, tombstones and bad records
// included.
func (t *TopicTable) Records() int64 { return t.records.Load() }

// Topic is the topic the table follows.
func (t *TopicTable) Topic() string { return t.topic }

// Close stops following the topic and waits for the consumer to close.
// The table stays readable with the rows it had.
func (t *TopicTable) Close() {
	t.closeOnce.Do(func() {
		t.cancel()
		<-t.done
	})
}

var _ Table = (*TopicTable)(nil)
