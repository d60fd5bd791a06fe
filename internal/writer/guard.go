package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/kafka"
)

// Graph records the writer cannot decode
//
// Graph topics are written by rdg's jobs, so a graph record that does not
// decode is either not the record's fault or not rdg's:
//
//   - The registry cannot be reached, or does not have the record's schema
//     (someone deleted the subject). The record is fine; skipping it, and
//     every record after it, would empty the store silently. The writer
//     stops consuming that partition (pauses it, and rewinds it to the
//     record, so nothing past the record is applied or committed), says
//     why at ERROR with the topic, partition, offset and schema id, shows
//     it in rdg_store_partitions_stalled, asks the registry again with
//     backoff, and resumes by itself once the schema can be read.
//   - Anything else (not Confluent-framed, a body its schema cannot read,
//     an invalid node or edge, a schema that exists but is no Avro): the
//     record is dead-lettered to rdg.dlq.writer-<store>, with the headers
//     a job's dead letters carry, and counted; its offset is committed
//     only once the dead letter is acknowledged.

// DeadLetterTopic is where the writer of store puts the graph records it
// cannot decode: a name no job may take (codec.WriterDeadLetterPrefix).
func DeadLetterTopic(store string) string {
	return codec.DeadLetterPrefix + codec.WriterDeadLetterPrefix + store
}

// deadLetters produces one batch's dead letters and waits for them before
// the batch's offsets are owed.
type deadLetters struct {
	topic string
	max   int32
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error         // first failure to deliver
	again []*kgo.Record // refused for themselves: sent again without their values
}

func (d *deadLetters) reset() {
	d.err, d.again = nil, d.again[:0]
}

// add produces the dead letter of rec, which failed to decode with err.
func (d *deadLetters) add(cl *kgo.Client, rec *kgo.Record, err error) {
	id, _, _ := codec.SplitHeader(rec.Value)
	dl := codec.DeadLetter(d.topic, int(d.max), rec, codec.StageDecode, id, err)
	d.wg.Add(1)
	cl.Produce(context.Background(), dl, func(r *kgo.Record, err error) {
		defer d.wg.Done()
		if err == nil {
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if kafka.RecordRefused(err) {
			d.again = append(d.again, codec.StripDeadLetter(r, err))
			return
		}
		if d.err == nil {
			d.err = err
		}
	})
}

// wait waits until every dead letter added is acknowledged, sending those
// the topic refused again without their values, and returns the first
// failure.
func (d *deadLetters) wait(ctx context.Context, cl *kgo.Client) error {
	d.wg.Wait()
	if d.err == nil && len(d.again) > 0 {
		d.err = cl.ProduceSync(ctx, d.again...).FirstErr()
	}
	if d.err != nil {
		return fmt.Errorf("writer: dead letter to %s (offsets not committed): %w", d.topic, d.err)
	}
	return nil
}

// stall is a partition the writer stopped consuming at a record whose
// schema it could not read.
type stall struct {
	offset   int64
	schemaID int
	err      error
	since    time.Time
	next     time.Time // next look at the registry
	backoff  time.Duration
	warned   time.Time // last time the stall was logged
}

// Backoff of a stalled partition's looks at the registry, and how often a
// stall that lasts is logged again.
const (
	stallFirstRetry = 100 * time.Millisecond
	stallMaxRetry   = 5 * time.Second
	stallRemind     = time.Minute
)

// stalls are the partitions stopped for the registry. The poll loop adds
// and resumes them; rebalance callbacks forget those that move.
type stalls struct {
	log     *slog.Logger
	m       *Metrics
	schemas *codec.Schemas

	mu sync.Mutex
	ps map[topicPartition]*stall
	// n is len(ps), for the per-record look that is almost always "none".
	n atomic.Int32
}

// setStalled publishes the number of stalled partitions. Called with
// s.mu held.
func (s *stalls) setStalled() {
	s.n.Store(int32(len(s.ps)))
	s.m.Stalled.Set(float64(len(s.ps)))
	s.m.stalled.Store(int32(len(s.ps)))
}

// newStalls starts with none stalled, and says so in m: a writer that
// restarts (the stack's supervisor restarts a failed one with the same
// Metrics) reads its partitions from their commits again.
func newStalls(reg *sr.Client, m *Metrics, log *slog.Logger) *stalls {
	s := &stalls{log: log, m: m, schemas: codec.NewSchemas(reg), ps: map[topicPartition]*stall{}}
	s.mu.Lock()
	s.setStalled()
	s.mu.Unlock()
	return s
}

func (s *stalls) has(tp topicPartition) bool {
	if s.n.Load() == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps[tp] != nil
}

// registryFault says whether err, decoding rec, is the registry's fault
// rather than the record's: the registry cannot be reached, or it does not
// have the record's schema id. It returns the schema id and, if it is the
// registry's fault, why. A schema the registry has but which is no usable
// Avro is the record's fault.
func registryFault(ctx context.Context, reg *sr.Client, rec *kgo.Record, err error) (int, error) {
	id, _, _ := codec.SplitHeader(rec.Value)
	if errors.Is(err, codec.ErrRegistryUnavailable) {
		return id, err
	}
	var use *codec.UnknownSchemaError
	if !errors.As(err, &use) || reg == nil {
		return id, nil
	}
	// codec does not say which: ask the registry itself.
	_, lerr := reg.SchemaByID(ctx, use.ID)
	switch {
	case lerr == nil:
		return use.ID, nil
	case notFound(lerr):
		return use.ID, fmt.Errorf("schema id %d is not in the schema registry (was its subject deleted?): %w", use.ID, err)
	}
	return use.ID, fmt.Errorf("%w: %v", codec.ErrRegistryUnavailable, lerr)
}

// stop pauses rec's partition at rec: nothing from rec on is applied or
// committed until resume. Called between a poll and AllowRebalance, so no
// rebalance runs meanwhile.
func (s *stalls) stop(cl *kgo.Client, rec *kgo.Record, schemaID int, cause error) {
	tp := topicPartition{rec.Topic, rec.Partition}
	now := time.Now()
	s.mu.Lock()
	s.ps[tp] = &stall{offset: rec.Offset, schemaID: schemaID, err: cause, since: now, next: now.Add(stallFirstRetry), backoff: stallFirstRetry, warned: now}
	s.setStalled()
	s.mu.Unlock()
	cl.PauseFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
	// The poll has moved the partition's position past the records it
	// returned; reading resumes from rec.
	cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{tp.topic: {tp.partition: {Epoch: rec.LeaderEpoch, Offset: rec.Offset}}})
	s.log.Error("graph partition stalled: its record's schema cannot be read from the schema registry; nothing after it is applied or committed until it can",
		"topic", tp.topic, "partition", tp.partition, "offset", rec.Offset, "schema_id", schemaID, "err", cause)
}

// nextLook is when the earliest stalled partition is next due a look at
// the registry; ok is false with none stalled.
func (s *stalls) nextLook() (t time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.ps {
		if !ok || st.next.Before(t) {
			t, ok = st.next, true
		}
	}
	return t, ok
}

// retry looks at the registry for every stalled partition that is due and
// resumes those whose schema can be read again.
func (s *stalls) retry(ctx context.Context, cl *kgo.Client) {
	s.mu.Lock()
	due := map[topicPartition]stall{}
	now := time.Now()
	for tp, st := range s.ps {
		if !now.Before(st.next) {
			due[tp] = *st
		}
	}
	s.mu.Unlock()
	for tp, st := range due {
		_, err := s.schemas.ByID(ctx, st.schemaID)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		cur := s.ps[tp]
		if cur == nil || cur.offset != st.offset { // moved away meanwhile
			s.mu.Unlock()
			continue
		}
		if err != nil {
			cur.backoff = min(2*cur.backoff, stallMaxRetry)
			cur.next = time.Now().Add(cur.backoff)
			remind := time.Since(cur.warned) >= stallRemind
			if remind {
				cur.warned = time.Now()
			}
			s.mu.Unlock()
			if remind {
				s.log.Error("graph partition still stalled: the schema registry still cannot give its record's schema",
					"topic", tp.topic, "partition", tp.partition, "offset", st.offset, "schema_id", st.schemaID,
					"stalled_for", time.Since(st.since).Round(time.Second), "err", err)
			}
			continue
		}
		delete(s.ps, tp)
		s.setStalled()
		s.mu.Unlock()
		cl.ResumeFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
		s.log.Info("graph partition resumed: the schema registry has its record's schema again",
			"topic", tp.topic, "partition", tp.partition, "offset", st.offset, "schema_id", st.schemaID,
			"stalled_for", time.Since(st.since).Round(time.Millisecond))
	}
}

// forget drops the stalls of partitions that are no longer this writer's,
// resuming them: a pause outlives a rebalance, and the partition may come
// back, to be read from its commit, which is at most the stalled record.
func (s *stalls) forget(cl *kgo.Client, gone map[string][]int32) {
	s.mu.Lock()
	resume := map[string][]int32{}
	for t, ps := range gone {
		for _, p := range ps {
			if s.ps[topicPartition{t, p}] != nil {
				delete(s.ps, topicPartition{t, p})
				resume[t] = append(resume[t], p)
			}
		}
	}
	s.setStalled()
	s.mu.Unlock()
	if len(resume) > 0 && cl != nil {
		cl.ResumeFetchPartitions(resume)
	}
}

// notFound reports whether err is the registry's 404.
func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// prepare creates the writer's dead-letter topic, or raises an existing
// one's max.message.bytes to codec.DeadLetterMaxBytes, and returns the
// largest dead letter the writer may produce to it.
func prepare(ctx context.Context, cfg Config, dlq string, log *slog.Logger) (int32, error) {
	cl, err := cfg.Cluster.NewClient()
	if err != nil {
		return 0, fmt.Errorf("writer: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := kafka.EnsureTopics(ctx, adm, kafka.Topic{Name: dlq, Partitions: 1}); err != nil {
		return 0, fmt.Errorf("writer: %w", err)
	}
	limit, err := kafka.RaiseMaxMessageBytes(ctx, adm, dlq, codec.DeadLetterMaxBytes)
	if err != nil {
		log.Warn("cannot raise the writer's dead-letter topic's max.message.bytes; a dead letter larger than the topic takes goes without its value",
			"topic", dlq, "want", codec.DeadLetterMaxBytes, "limit", limit, "err", err)
	}
	return limit, nil
}
