package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

const (
	// maxInFlight bounds records handed to the client but not yet acked,
	// so a slow broker slows the generator instead of growing memory.
	maxInFlight = 10_000
	// maxBatch bounds the events produced between checks of the stop
	// conditions and the progress clock.
	maxBatch = 1024
	// flushGrace is how long Run still waits for in-flight records after
	// ctx is cancelled, before failing them.
	flushGrace = 10 * time.Second
)

// Stats counts what Run produced.
type Stats struct {
	// Events is the number of records acknowledged by the broker, per
	// topic.
	Events map[string]int64
	// Errors is the number of records that failed to produce.
	Errors int64
	// Elapsed is the wall time since production started (after schema
	// registration).
	Elapsed time.Duration
}

// Total is the number of acknowledged records across topics.
func (s Stats) Total() int64 {
	var n int64
	for _, v := range s.Events {
		n += v
	}
	return n
}

// EnsureTopics creates the three source topics with the given partition
// count (<= 0: broker default) and the broker's default replication factor.
// Topics that already exist are left as they are.
func EnsureTopics(ctx context.Context, adm *kadm.Client, partitions int32) error {
	if partitions <= 0 {
		partitions = -1
	}
	resps, err := adm.CreateTopics(ctx, partitions, -1, nil, topicNames[:]...)
	if err != nil {
		return fmt.Errorf("demo: create topics: %w", err)
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("demo: create topic %s: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

// HasEvents reports whether any of the three source topics holds a record,
// so that a demo started again on the same topics can leave out its
// history (Config.History), which would otherwise backdate a second
// history into the time the first run already covers. Topics that do not
// exist hold nothing.
func HasEvents(ctx context.Context, adm *kadm.Client) (bool, error) {
	ends, err := adm.ListEndOffsets(ctx, topicNames[:]...)
	if err != nil {
		return false, fmt.Errorf("demo: list offsets: %w", err)
	}
	found := false
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
		case o.Err != nil:
			errs = append(errs, fmt.Errorf("demo: list offsets of %s: %w", o.Topic, o.Err))
		case o.Offset > 0:
			found = true
		}
	})
	if found {
		return true, nil
	}
	return false, errors.Join(errs...)
}

// Run registers the schemas of the configured topics under "<topic>-value",
// then produces generated events (Avro, Confluent wire format; key = member
// id; timestamp = event time) through cl until Count records were produced,
// Duration has passed, ctx is cancelled, or a record fails.
//
// Production is asynchronous with at most maxInFlight (10,000) records
// unacknowledged. The history (Config.History) goes first, as fast as the
// broker takes it. Then, with a Rate, events are released in batches
// against a schedule fixed when the history is out (the n-th event after
// it is due at n/Rate), so sleeps do not accumulate drift and a stall is
// caught up afterwards. Count includes the history.
//
// progress, if not nil, is called from Run's goroutine about once a second
// while producing (not after the end: the returned Stats are final).
//
// Cancelling ctx is a normal way to stop and is not an error: Run stops
// generating and waits up to 10s for in-flight records before failing
// them. Otherwise Run waits for every record. The first produce error is
// returned after that wait; Stats are returned in every case.
func Run(ctx context.Context, cl *kgo.Client, reg *sr.Client, cfg Config, progress func(Stats)) (Stats, error) {
	cfg.withDefaults()
	on, err := cfg.enabled()
	if err != nil {
		return Stats{}, err
	}
	r := &runner{on: on, sem: make(chan struct{}, maxInFlight), failed: make(chan struct{})}
	for k := range numKinds {
		r.promises[k] = r.promise(k)
	}
	for k := range numKinds {
		if !on[k] {
			continue
		}
		subject := topicNames[k] + "-value"
		ss, err := reg.CreateSchema(ctx, subject, sr.Schema{Schema: schemaTexts[k], Type: sr.TypeAvro})
		if err != nil {
			return Stats{}, fmt.Errorf("demo: register schema %s: %w", subject, err)
		}
		r.hdr[k] = [5]byte{0, byte(ss.ID >> 24), byte(ss.ID >> 16), byte(ss.ID >> 8), byte(ss.ID)}
	}

	// Records carry pctx rather than ctx: cancelling ctx must stop the
	// generator, not fail records already handed to the client. pctx is
	// cancelled only when the grace period after ctx is over.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer pcancel()
	graceDone := make(chan struct{})
	defer close(graceDone)
	go func() {
		select {
		case <-ctx.Done():
		case <-graceDone:
			return
		}
		t := time.NewTimer(flushGrace)
		defer t.Stop()
		select {
		case <-t.C:
			pcancel()
		case <-graceDone:
		}
	}()

	g := New(cfg)
	w := avro.NewWriter(nil, 512)
	start := time.Now()
	// The history goes out unpaced; the pacer's schedule starts when it
	// is out.
	hist, sent := g.histN, int64(0)
	p := pacer{start: start, rate: cfg.Rate}
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	nextProgress := start.Add(time.Second)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var encErr error

produce:
	for {
		if cfg.Count > 0 && sent >= cfg.Count {
			break
		}
		select {
		case <-ctx.Done():
			break produce
		case <-r.failed:
			break produce
		default:
		}
		now := time.Now()
		if progress != nil && !now.Before(nextProgress) {
			progress(r.stats(now.Sub(start)))
			nextProgress = nextProgress.Add(time.Second)
			if nextProgress.Before(now) { // a long stall; do not replay ticks
				nextProgress = now.Add(time.Second)
			}
		}
		if !deadline.IsZero() && !now.Before(deadline) {
			break
		}
		var n int64
		if sent < hist {
			n = min(hist-sent, maxBatch)
		} else {
			n = min(p.allowance(now), maxBatch)
		}
		if cfg.Count > 0 {
			n = min(n, cfg.Count-sent)
		}
		if n == 0 {
			wake := p.wakeAt()
			if progress != nil && nextProgress.Before(wake) {
				wake = nextProgress
			}
			if !deadline.IsZero() && deadline.Before(wake) {
				wake = deadline
			}
			timer.Reset(time.Until(wake))
			select {
			case <-ctx.Done():
				timer.Stop()
				break produce
			case <-r.failed:
				timer.Stop()
				break produce
			case <-timer.C:
			}
			continue
		}
		for range n {
			ev := g.Next()
			if cfg.Tap != nil {
				cfg.Tap(&ev)
			}
			rec, err := encode(w, &r.hdr[ev.kind], ev)
			if err != nil {
				encErr = err
				break produce
			}
			select {
			case r.sem <- struct{}{}:
			case <-ctx.Done():
				break produce
			case <-r.failed:
				break produce
			}
			cl.Produce(pctx, rec, r.promises[ev.kind])
			if sent++; sent > hist {
				p.sent++
			} else if sent == hist {
				p.start = time.Now()
			}
		}
	}

	flushErr := cl.Flush(pctx)
	st := r.stats(time.Since(start))
	switch perr := r.firstErr(); {
	case perr != nil:
		return st, fmt.Errorf("demo: produce: %w", perr)
	case encErr != nil:
		return st, fmt.Errorf("demo: encode: %w", encErr)
	case flushErr != nil:
		return st, fmt.Errorf("demo: flush: %w", flushErr)
	}
	return st, nil
}

// encode builds the record for ev: the Confluent header hdr followed by the
// Avro body. w is reused so that only the value copy is allocated.
func encode(w *avro.Writer, hdr *[5]byte, ev Event) (*kgo.Record, error) {
	w.Reset(nil)
	_, _ = w.Write(hdr[:])
	w.WriteVal(parsedSchemas[ev.kind], ev.Value)
	if err := w.Error; err != nil {
		w.Error = nil
		return nil, err
	}
	return &kgo.Record{
		Topic:     ev.Topic,
		Key:       ev.Key,
		Value:     bytes.Clone(w.Buffer()),
		Timestamp: ev.Time,
	}, nil
}

type runner struct {
	on       [numKinds]bool
	hdr      [numKinds][5]byte
	acked    [numKinds]atomic.Int64
	errs     atomic.Int64
	sem      chan struct{}
	promises [numKinds]func(*kgo.Record, error)

	mu     sync.Mutex
	err    error         // the first produce error
	failed chan struct{} // closed when err is set
}

func (r *runner) promise(k kind) func(*kgo.Record, error) {
	return func(_ *kgo.Record, err error) {
		if err != nil {
			r.errs.Add(1)
			r.mu.Lock()
			if r.err == nil {
				r.err = err
				close(r.failed)
			}
			r.mu.Unlock()
		} else {
			r.acked[k].Add(1)
		}
		<-r.sem
	}
}

func (r *runner) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *runner) stats(elapsed time.Duration) Stats {
	s := Stats{Events: make(map[string]int64, numKinds), Errors: r.errs.Load(), Elapsed: elapsed}
	for k := range numKinds {
		if r.on[k] {
			s.Events[topicNames[k]] = r.acked[k].Load()
		}
	}
	return s
}

// pacer releases events against a schedule fixed at start: event n is due
// at start + n/rate. Deriving the allowance from the absolute schedule
// rather than sleeping a fixed interval per batch is what keeps it from
// drifting.
type pacer struct {
	start time.Time
	rate  float64 // <= 0: unlimited
	sent  int64
}

// allowance is the number of events that are due at now and not yet sent.
func (p *pacer) allowance(now time.Time) int64 {
	if p.rate <= 0 {
		return math.MaxInt64
	}
	due := int64(now.Sub(p.start).Seconds()*p.rate) + 1 // event 0 is due at start
	return max(due-p.sent, 0)
}

// wakeAt is when a batch worth waking for is due: about 10ms worth of
// events at high rates (at most ~100 wake-ups a second), the next single
// event at low ones.
func (p *pacer) wakeAt() time.Time {
	batch := min(max(int64(p.rate/100), 1), maxBatch)
	n := p.sent + batch - 1
	return p.start.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
}
