package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
)

// Records the broker will not take
//
// A broker that is down or slow fails records with errors the producer
// retries, and in the end with an error that stops the job: nothing is
// committed, and the records are read again after a restart. A broker
// that refuses a record for what it is (too large for the topic, invalid)
// would refuse it again after any number of restarts, and the job would
// never move past it. Such a rejection is the element's own, so the
// element is dead-lettered (stage publish, the broker's error in rdg.error,
// the element's bytes as the value) and the job goes on; its offsets are
// committed only once the dead letter is acknowledged, because the
// rejected record's epoch is not done until then.
//
// A broker answers per batch: every record of the rejected record's
// partition fails with its error (franz-go fails all records buffered for
// the partition), good ones too. So a rejected record is first produced
// again alone, waiting for its answer before the next, and only a record
// rejected alone is dead-lettered. A dead letter the dead-letter topic
// refuses likewise goes again alone, then without its value (and with a
// note of why in rdg.error); if even that is refused, the job stops as for
// a broker that is down. Chain.Flush does this work: a runner calls it
// before it commits, and whenever Rejected says there is some.

// rejected reports whether err is a broker's (or the producer's) refusal of
// a record for what it is, as opposed to a failure to deliver it.
func rejected(err error) bool {
	return err != nil && (errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.InvalidTimestamp))
}

// step is how far a rejected record's handling has gone.
type step int

const (
	stepBatched  step = iota // rejected in a batch: may be another record's fault
	stepAlone                // rejected alone: its own fault
	stepStripped             // a dead letter without its value; nothing further
)

type rejection struct {
	rec  *kgo.Record
	err  error
	ep   *Epoch
	step step
}

func (p *publisher) reject(r rejection) {
	p.rejectedMu.Lock()
	p.rejections = append(p.rejections, r)
	p.rejectedMu.Unlock()
}

func (p *publisher) takeRejections() []rejection {
	p.rejectedMu.Lock()
	defer p.rejectedMu.Unlock()
	rs := p.rejections
	p.rejections = nil
	return rs
}

// Rejected reports whether records the broker refused are waiting for
// Flush.
func (c *Chain) Rejected() bool {
	c.pub.rejectedMu.Lock()
	defer c.pub.rejectedMu.Unlock()
	return len(c.pub.rejections) > 0
}

// Flush waits until everything published is answered for: acknowledged,
// or, for records the broker refused, produced again alone or
// dead-lettered and that acknowledged. It returns only ctx's error (a
// record that fails otherwise is a publishing failure, see TakeErr).
func (c *Chain) Flush(ctx context.Context) error {
	p := &c.pub
	for {
		if p.flush != nil {
			if err := p.flush(ctx); err != nil {
				return err
			}
		}
		rs := p.takeRejections()
		if len(rs) == 0 {
			return nil
		}
		for i, r := range rs {
			if err := p.resolve(ctx, r); err != nil {
				// The rest stay waiting, their epochs not done.
				for _, r := range rs[i+1:] {
					p.reject(r)
				}
				return err
			}
		}
	}
}

// resolve takes the next step for one rejected record, alone: it is
// produced and answered before resolve returns.
func (p *publisher) resolve(ctx context.Context, r rejection) error {
	next := stepAlone
	rec := r.rec
	switch {
	case r.step == stepBatched:
		rec.Context = nil // its first produce's context may be gone
	case rec.Topic != p.dlq:
		rec = p.elementDeadLetter(rec, r.err)
	default:
		rec, next = strippedDeadLetter(rec, r.err), stepStripped
	}
	p.prod.Produce(ctx, rec, p.resend(r.ep, next))
	if p.flush != nil {
		return p.flush(ctx)
	}
	return nil
}

// resend is the promise of a record produced again at step st: answered
// for if acknowledged, rejected again if refused (unless there is no step
// left), failed otherwise.
func (p *publisher) resend(ep *Epoch, st step) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		switch {
		case err == nil:
			if r.Topic != p.dlq {
				p.freshness.Observe(float64(time.Since(r.Timestamp)) / float64(time.Second))
			}
			ep.done(nil)
		case rejected(err) && st != stepStripped:
			p.reject(rejection{rec: r, err: err, ep: ep, step: st})
		default:
			p.promise(r, err)
			ep.done(err)
		}
	}
}

// elementDeadLetter is the dead letter of graph record r, refused with
// err: r's key and value, the element's topic and the job's source topic
// (an element merges updates from any records of the dedupe window, so no
// one source position is given).
func (p *publisher) elementDeadLetter(r *kgo.Record, err error) *kgo.Record {
	p.published.Inc()
	id, _, _ := codec.SplitHeader(r.Value)
	p.log.Warn("graph element dead-lettered", "topic", r.Topic, "key", clip(string(r.Key)), "bytes", len(r.Value),
		"stage", StagePublish, "err", err, "dlq", p.dlq)
	return &kgo.Record{Topic: p.dlq, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: []kgo.RecordHeader{
		{Key: HeaderElementTopic, Value: []byte(r.Topic)},
		{Key: HeaderStage, Value: []byte(StagePublish)},
		{Key: HeaderError, Value: []byte(err.Error())},
		{Key: HeaderTopic, Value: []byte(p.source)},
		{Key: HeaderPartition, Value: []byte("-1")},
		{Key: HeaderOffset, Value: []byte("-1")},
		{Key: HeaderSchemaID, Value: []byte(strconv.Itoa(id))},
	}}
}

// maxStrippedError bounds rdg.error in a dead letter sent without its value.
const maxStrippedError = 1024

// strippedDeadLetter is dead letter r without its value and the source
// record's own headers, which may be what made it too large: only the
// rdg.* headers, rdg.error saying why the value is missing.
func strippedDeadLetter(r *kgo.Record, why error) *kgo.Record {
	out := &kgo.Record{Topic: r.Topic, Key: r.Key, Timestamp: r.Timestamp}
	if len(out.Key) > maxStrippedError {
		out.Key = nil
	}
	last := map[string]int{}
	for i, h := range r.Headers {
		last[h.Key] = i
	}
	for i, h := range r.Headers {
		if last[h.Key] != i {
			continue
		}
		switch h.Key {
		case HeaderError:
			msg := fmt.Sprintf("%s; the value (%d bytes) is left out: %v", h.Value, len(r.Value), why)
			if len(msg) > maxStrippedError {
				msg = msg[:maxStrippedError]
			}
			out.Headers = append(out.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(msg)})
		case HeaderStage, HeaderTopic, HeaderPartition, HeaderOffset, HeaderSchemaID, HeaderElementTopic:
			out.Headers = append(out.Headers, h)
		}
	}
	return out
}

// RecordSize is about what r takes in a record batch of its own, as a
// producer measures it against its max record bytes: the batch header and
// the record with its length fields, a few bytes more than exact.
func RecordSize(r *kgo.Record) int {
	const batchHeader = 61
	n := batchHeader + 1 + 3*binaryVarintMax + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += 2*binaryVarintMax + len(h.Key) + len(h.Value)
	}
	return n + 2*binaryVarintMax // record length and header count
}

// binaryVarintMax is the longest varint a record field length takes in a
// batch under 2 GiB.
const binaryVarintMax = 5
