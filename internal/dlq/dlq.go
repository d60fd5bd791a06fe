// Package dlq owns reading and replaying dead-letter topics (rdg.dlq.<job>,
// and the graph writers' rdg.dlq.writer-<store>): the records a job or
// writer could not process, kept with their original key, value and
// headers plus the rdg.* headers saying which stage failed and why.
// It summarizes those topics, reads their records with the headers parsed,
// and replays them through a (fixed) job, publishing the resulting nodes
// and edges to the graph topics exactly as the job runner does.
//
// dlq knows Kafka, jobs (to replay through them), and the dead-letter
// format and the graph topics' record layout (package codec). It must not
// know stores or serving: a replay ends at the graph topics, and the graph
// writer merges what it publishes like any other update.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
)

// TopicPrefix starts the name of every dead-letter topic, a job's or a
// graph writer's.
const TopicPrefix = codec.DeadLetterPrefix

// JobOf returns the job whose dead-letter topic is topic, or "" if topic is
// not a dead-letter topic.
func JobOf(topic string) string {
	name, ok := strings.CutPrefix(topic, TopicPrefix)
	if !ok {
		return ""
	}
	return name
}

// ErrNoTopic reports a dead-letter topic that does not exist: the job has
// never been prepared on this cluster, or the name is wrong.
var ErrNoTopic = errors.New("no such dead-letter topic")

// Cluster is how dlq reaches Kafka. Every call makes its own short-lived
// clients from it, because reading a topic from chosen offsets needs a
// consumer configured for exactly those partitions.
type Cluster struct {
	Seeds []string
	// Opts are extra client options (SASL, TLS, ...).
	Opts []kgo.Opt
}

func (c Cluster) client(extra ...kgo.Opt) (*kgo.Client, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(c.Seeds...)}, c.Opts...)
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// Record is one dead letter with its headers parsed (codec's format).
type Record = codec.DeadLetterRecord

// ParseRecord parses a dead-letter record (codec.ParseDeadLetter).
func ParseRecord(r *kgo.Record) Record { return codec.ParseDeadLetter(r) }

// Topics lists the dead-letter topics on the cluster, sorted.
func Topics(ctx context.Context, c Cluster) ([]string, error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var out []string
	for _, t := range td.Names() {
		if JobOf(t) != "" {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// span is one partition's offsets: [Low, High) holds its records, and
// [Low, Stable) those a reader can see: High minus any transaction still
// open, for jobs that write dead letters in transactions (exactly once).
type span struct {
	Partition         int32
	Low, Stable, High int64
}

// spans returns the readable range of every partition of topic, by
// partition.
func spans(ctx context.Context, adm *kadm.Client, topic string) ([]span, error) {
	all, err := spansOf(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	return all[topic], nil
}

func spansOf(ctx context.Context, adm *kadm.Client, topics ...string) (map[string][]span, error) {
	lows, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	highs, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	stables, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list last stable offsets: %w", err)
	}
	out := make(map[string][]span, len(topics))
	for _, t := range topics {
		var ss []span
		for p, hi := range highs[t] {
			if errors.Is(hi.Err, kerr.UnknownTopicOrPartition) {
				return nil, fmt.Errorf("%w: %s", ErrNoTopic, t)
			}
			if hi.Err != nil {
				return nil, fmt.Errorf("end offset of %s[%d]: %w", t, p, hi.Err)
			}
			lo, ok := lows.Lookup(t, p)
			if !ok || lo.Err != nil {
				return nil, fmt.Errorf("start offset of %s[%d]: %v", t, p, lo.Err)
			}
			stable := hi.Offset
			if so, ok := stables.Lookup(t, p); ok && so.Err == nil && so.Offset >= 0 {
				stable = min(so.Offset, hi.Offset)
			}
			ss = append(ss, span{Partition: p, Low: lo.Offset, Stable: stable, High: hi.Offset})
		}
		if len(ss) == 0 {
			return nil, fmt.Errorf("%w: %s", ErrNoTopic, t)
		}
		slices.SortFunc(ss, func(a, b span) int { return int(a.Partition - b.Partition) })
		out[t] = ss
	}
	return out, nil
}

// stallTimeout bounds how long a read waits for records that the end
// offset says exist. Reads only ask for such records, so a fetch that
// brings nothing for this long means the broker is unreachable or the
// records were deleted under us; failing beats hanging an operator's shell.
const stallTimeout = 15 * time.Second

// errStop ends a scan early without error.
var errStop = errors.New("stop")

// scanPartition calls fn with every record of topic[p] in [begin, end), in
// offset order. It reads committed data only — records of an aborted
// transaction were never dead-lettered — and asks for control records to
// skip them itself, so that transaction markers still advance the position
// and a range ending on a marker terminates. end must not pass the last
// stable offset, or the read would wait for an open transaction.
func scanPartition(ctx context.Context, c Cluster, topic string, p int32, begin, end int64, fn func(*kgo.Record) error) error {
	if begin >= end {
		return nil
	}
	cl, err := c.client(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(begin)}}),
		kgo.KeepControlRecords(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	next := begin
	lastProgress := time.Now()
	for next < end {
		pctx, cancel := context.WithTimeout(ctx, stallTimeout)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("read %s[%d] at offset %d: %w", topic, p, next, ferr)
		}
		for it := fs.RecordIter(); !it.Done() && next < end; {
			r := it.Next()
			if r.Offset < next {
				continue
			}
			if r.Offset >= end {
				next = end
				break
			}
			next = r.Offset + 1
			lastProgress = time.Now()
			if r.Attrs.IsControl() {
				continue
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		if next < end && time.Since(lastProgress) >= stallTimeout {
			return fmt.Errorf("read %s[%d]: no record at offset %d after %s (end offset %d); were records deleted, or is the broker down?",
				topic, p, next, stallTimeout, end)
		}
	}
	return nil
}

// Scan calls fn with every dead letter of topic from offset from (in each
// partition; offsets before the log start are skipped) up to the last
// stable offsets at the time of the call, partition by partition, in
// offset order. Records arriving during the scan are left for the next
// one, so a scan of a topic a job is still writing to ends. fn returning an
// error stops the scan with that error.
func Scan(ctx context.Context, c Cluster, topic string, from int64, fn func(*Record) error) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ss, err := spans(ctx, kadm.NewClient(cl), topic)
	cl.Close()
	if err != nil {
		return err
	}
	for _, s := range ss {
		err := scanPartition(ctx, c, topic, s.Partition, max(from, s.Low), s.Stable, func(r *kgo.Record) error {
			rec := ParseRecord(r)
			return fn(&rec)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Read returns up to limit dead letters of topic from offset from (see
// Scan); limit <= 0 means all of them.
func Read(ctx context.Context, c Cluster, topic string, from int64, limit int) ([]Record, error) {
	var out []Record
	err := Scan(ctx, c, topic, from, func(r *Record) error {
		out = append(out, *r)
		if limit > 0 && len(out) >= limit {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return out, err
	}
	return out, nil
}

// Summary describes one dead-letter topic.
type Summary struct {
	Job   string `json:"job"`
	Topic string `json:"topic"`
	// Count is the number of records retained: high watermark minus log
	// start offset, summed over partitions. With transactional dead
	// letters it also counts markers and aborted records, which ByStage,
	// read from committed data, does not.
	Count int64 `json:"count"`
	// Oldest and Newest are the earliest and latest record timestamps
	// (the source records' timestamps); zero when the topic is empty.
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
	// ByStage counts records by the stage that failed ("" for records
	// without an rdg.stage header, which no rdg job writes).
	ByStage map[string]int64 `json:"by_stage"`
}

// Summarize describes the given dead-letter topics, or every one on the
// cluster when none is given. Counting by stage and finding the time range
// reads every retained record: dead-letter topics hold the exceptions, not
// the stream, so this is expected to be cheap.
func Summarize(ctx context.Context, c Cluster, topics ...string) ([]Summary, error) {
	if len(topics) == 0 {
		var err error
		if topics, err = Topics(ctx, c); err != nil {
			return nil, err
		}
		if len(topics) == 0 {
			return nil, nil
		}
	}
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	all, err := spansOf(ctx, kadm.NewClient(cl), topics...)
	cl.Close()
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(topics))
	for _, t := range topics {
		s := Summary{Job: JobOf(t), Topic: t, ByStage: map[string]int64{}}
		for _, sp := range all[t] {
			s.Count += sp.High - sp.Low
			err := scanPartition(ctx, c, t, sp.Partition, sp.Low, sp.Stable, func(r *kgo.Record) error {
				s.ByStage[codec.DeadLetterStage(r)]++
				ts := r.Timestamp.UTC()
				if s.Oldest.IsZero() || ts.Before(s.Oldest) {
					s.Oldest = ts
				}
				if ts.After(s.Newest) {
					s.Newest = ts
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}
