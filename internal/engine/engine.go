package engine

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Record is one source record as the engine sees it, from whatever source:
// a Kafka record, a row of a table, an element of a Go slice.
type Record struct {
	Key, Value []byte
	Headers    []Header
	// Timestamp is the record's time: its event time unless the job's
	// time expression says otherwise.
	Timestamp time.Time
	// Pos is where the record is in its source; the dedupe buffer keeps
	// the lowest position each element still holds back (Engine.Pending).
	Pos SourcePos
	// Ref is the source's own form of the record, opaque to the engine: a
	// Sink's dead letters may use it.
	Ref any
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Sink is where the engine's output goes: graph elements, and the records
// that failed with the stage they failed at.
type Sink interface {
	// Publish takes b's elements; b is valid only during the call.
	Publish(ctx context.Context, b *Elements)
	// DeadLetter takes a record that failed; err is a *StageError unless
	// the failure had no stage (then stage is StageDecode).
	DeadLetter(ctx context.Context, r *Record, stage string, schemaID int, err error)
}

// EngineConfig is what an Engine needs besides its job and sink.
type EngineConfig struct {
	Schemas SchemaSource
	// Tables are the job's side inputs by name.
	Tables map[string]Lookup
	// MaxRecordBytes rejects larger source values (stage size); 0: no limit.
	MaxRecordBytes int
	// OnMiss, if set, is called with the input's name on every lookup miss.
	OnMiss func(input string)
	// Transient reports a failure that is not the record's (a schema
	// registry that cannot be reached): Ingest waits it out, retrying,
	// instead of dead-lettering the record. nil: none is.
	Transient func(error) bool
	// Unbuffered publishes each record's elements as it is mapped,
	// whatever the job's dedupe window: for a caller that reports each
	// record's outcome on its own (dead-letter replay).
	Unbuffered bool
	Logger     *slog.Logger
}

// Counts are what Ingest did since the last TakeCounts.
type Counts struct{ In, Filtered, Nodes, Edges int }

// ErrStopped is Ingest's error when its context ended while it waited out
// a transient failure; the record was not ingested.
var ErrStopped = errors.New("stopped")

// Engine is one consumer's operator chain without its source or its sink:
// the per-record path (size, decode, filter, project, enrich, time, map:
// Processor), the dedupe buffer, and emission to a Sink. It knows nothing
// of offsets, commits or transactions: whoever owns the source decides
// when to Emit, and may consider a position done once it is below Pending
// and the sink has made everything durable. Not safe for concurrent use.
type Engine struct {
	job  *Job
	proc *Processor
	buf  *Buffer
	sink Sink
	cfg  EngineConfig
	// out holds one record's elements, due what the buffer emits; both are
	// reused for every record.
	out, due Elements
	// now is the processing time of the record being ingested: the
	// processor stamps it as updated_at (one clock read per poll, not per
	// record).
	now    time.Time
	counts Counts
}

// NewEngine returns the operator chain of j, publishing to sink.
func NewEngine(j *Job, cfg EngineConfig, sink Sink) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	proc := NewProcessor(j, cfg.Schemas)
	proc.Tables = cfg.Tables
	proc.MaxRecordBytes = cfg.MaxRecordBytes
	proc.OnMiss = cfg.OnMiss
	e := &Engine{job: j, proc: proc, buf: NewBuffer(j.Spec.Dedupe.Window, j.Spec.Dedupe.MaxKeys), sink: sink, cfg: cfg}
	proc.Now = func() time.Time { return e.now }
	return e
}

// Ingest runs one record through the chain: its elements go into the
// dedupe buffer (or straight to the sink without a window), a failure to
// the sink's DeadLetter. now is the processing time that starts the
// elements' timers and stamps updated_at. It waits out transient failures
// and returns ErrStopped if ctx ends meanwhile.
func (e *Engine) Ingest(ctx context.Context, r *Record, now time.Time) error {
	e.now = now
	e.out.reset()
	filtered, err := e.process(ctx, r)
	switch {
	case errors.Is(err, ErrStopped):
		return err
	case err != nil:
		stage, schemaID := StageDecode, 0
		if se, ok := errors.AsType[*StageError](err); ok {
			stage, schemaID = se.Stage, se.SchemaID
		}
		e.sink.DeadLetter(ctx, r, stage, schemaID, err)
	case filtered:
		e.counts.Filtered++
	default:
		e.counts.Nodes += len(e.out.nodes)
		e.counts.Edges += len(e.out.edges)
		if e.job.Spec.Dedupe.Window == 0 || e.cfg.Unbuffered {
			// No window: every update is published as it is mapped.
			e.sink.Publish(ctx, &e.out)
		} else {
			e.buf.Add(&e.out, r.Pos, now)
		}
	}
	e.counts.In++
	return nil
}

func (e *Engine) process(ctx context.Context, r *Record) (bool, error) {
	backoff := 100 * time.Millisecond
	for {
		filtered, err := e.proc.process(ctx, r.Value, r.Timestamp, &e.out)
		if err == nil || e.cfg.Transient == nil || !e.cfg.Transient(err) {
			return filtered, err
		}
		e.cfg.Logger.Warn("waiting out a transient failure", "partition", r.Pos.Partition, "offset", r.Pos.Offset, "err", err)
		select {
		case <-ctx.Done():
			return false, ErrStopped
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// Emit publishes what the buffer has due at now (everything if all).
func (e *Engine) Emit(ctx context.Context, now time.Time, all bool) {
	e.due.reset()
	if all {
		e.buf.DrainAll(&e.due)
	} else {
		e.buf.Due(now, &e.due)
	}
	if e.due.len() > 0 {
		e.sink.Publish(ctx, &e.due) // valid until the next Add
		e.due.clearProps()
	}
}

// TakeCounts returns and clears what Ingest counted since the last call.
func (e *Engine) TakeCounts() Counts {
	c := e.counts
	e.counts = Counts{}
	return c
}

// Pending is the dedupe buffer's bound for source partition p (see
// Buffer.Pending).
func (e *Engine) Pending(p int32) (int64, bool) { return e.buf.Pending(p) }

// NextDeadline is when Emit next has something to publish (see
// Buffer.NextDeadline).
func (e *Engine) NextDeadline() (time.Time, bool) { return e.buf.NextDeadline() }

// Buffered is the number of elements in the dedupe buffer.
func (e *Engine) Buffered() int { return e.buf.Len() }
