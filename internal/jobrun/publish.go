package jobrun

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/kafka"
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
func (c *Chain) Flush(ctx context.Context) error { return c.pub.flushAll(ctx) }

func (p *publisher) flushAll(ctx context.Context) error {
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
		rec, next = codec.StripDeadLetter(rec, r.err), stepStripped
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
		case kafka.RecordRefused(err) && st != stepStripped:
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
// one source position is given: partition and offset -1).
func (p *publisher) elementDeadLetter(r *kgo.Record, err error) *kgo.Record {
	p.published.Inc()
	id, _, _ := codec.SplitHeader(r.Value)
	p.log.Warn("graph element dead-lettered", "topic", r.Topic, "key", job.Clip(string(r.Key)), "bytes", len(r.Value),
		"stage", engine.StagePublish, "err", err, "dlq", p.dlq)
	element := &kgo.Record{Topic: p.source, Partition: -1, Offset: -1, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
		Headers: []kgo.RecordHeader{{Key: codec.HeaderElementTopic, Value: []byte(r.Topic)}}}
	return codec.DeadLetter(p.dlq, p.maxDeadLetter, element, engine.StagePublish, id, err)
}
