package produce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
)

// Formats of input rows.
const (
	JSONLines = "json"
	CSV       = "csv"
)

// FormatOf is the format of the input name given the --format flag: the
// flag if set, else csv for a .csv file and JSON lines for anything else,
// stdin included.
func FormatOf(name, flag string) (string, error) {
	switch strings.ToLower(flag) {
	case JSONLines, "jsonl", "ndjson":
		return JSONLines, nil
	case CSV:
		return CSV, nil
	case "":
		if strings.EqualFold(filepath.Ext(name), ".csv") {
			return CSV, nil
		}
		return JSONLines, nil
	}
	return "", fmt.Errorf("--format %q: want json or csv", flag)
}

// Options say what Run produces and how it reports.
type Options struct {
	Topic    string
	Schema   avro.Schema
	SchemaID int
	// Key names the top-level field whose value, as the row writes it,
	// becomes the record key; "" for records without a key.
	Key    string
	Format string // JSONLines or CSV
	// StopOnError stops at the first row that does not fit; otherwise such
	// rows are reported and skipped.
	StopOnError   bool
	IgnoreUnknown bool
	MaxLineBytes  int // 0: DefaultMaxLineBytes

	// Name is the input in messages: a file name, or "stdin".
	Name string
	// Size is the input's length in bytes if known (a file), for the
	// percentage done; 0 if not.
	Size int64
	// Log receives rejected rows and progress.
	Log io.Writer
	// Live redraws one progress line in place (for a terminal); otherwise
	// a progress line is written every ProgressEvery.
	Live          bool
	ProgressEvery time.Duration
}

// Stats count a run. Produced rows are those the broker acknowledged.
type Stats struct {
	Read, Produced, Rejected int64
	Bytes                    int64
	Elapsed                  time.Duration
}

// A RowError is a row that was not produced, where it is in the input.
type RowError struct {
	Name string
	Line int
	// Column is, for CSV, the 1-based column and ColumnName its header
	// name; for JSON, the byte column of a syntax error. 0 if the error is
	// not in one place.
	Column     int
	ColumnName string
	// Path is the field within the row (a.b[2]), "" for the row itself.
	Path string
	Err  error
}

func (e *RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:", e.Name, e.Line)
	switch {
	case e.ColumnName != "":
		fmt.Fprintf(&b, " column %d (%s)", e.Column, e.ColumnName)
		if e.Path != "" {
			fmt.Fprintf(&b, ", field %s", e.Path)
		}
		b.WriteString(":")
	case e.Column > 0 && e.Path == "":
		fmt.Fprintf(&b, "%d:", e.Column)
	case e.Path != "":
		fmt.Fprintf(&b, " field %s:", e.Path)
	}
	b.WriteString(" ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *RowError) Unwrap() error { return e.Err }

// ErrRejected is what Run returns, wrapped, when it stops at a row that
// does not fit (StopOnError).
var ErrRejected = errors.New("row rejected")

// ClientOpts are the producing options Run counts on: every record
// acknowledged by all in-sync replicas, idempotently, so that "produced"
// means stored once.
func ClientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MaxBufferedRecords(10_000),
	}
}

// NoTopicError is a topic that does not exist on the cluster.
type NoTopicError struct{ Topic string }

func (e *NoTopicError) Error() string {
	return fmt.Sprintf("topic %s does not exist: create it with rdg topic create %s or let rdg up create it from your job files", e.Topic, e.Topic)
}

// checkTopic fails early, with advice, on a topic that does not exist:
// producing to it would otherwise retry and fail every record alike.
func checkTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	td, ok := tds[topic]
	switch {
	case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		return &NoTopicError{Topic: topic}
	case td.Err != nil:
		return fmt.Errorf("topic %s: %w", topic, td.Err)
	}
	return nil
}

// Run reads rows from in, converts each to an Avro record and produces it
// to the topic with the Confluent header of SchemaID. Every row that does
// not fit is written to Log with its line and column; Run returns when the
// input ends and every record is acknowledged or failed, or at the first
// bad row with StopOnError, or when ctx ends.
func Run(ctx context.Context, cl *kgo.Client, in io.Reader, o Options) (Stats, error) {
	r, err := newRunner(o, in)
	if err != nil {
		return Stats{}, err
	}
	if err := checkTopic(ctx, cl, o.Topic); err != nil {
		return Stats{}, err
	}
	r.cl = cl
	r.send = r.produce
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	stopProgress := r.progress()
	err = r.rows(pctx)
	// Whatever stopped the reading, records already handed to the client
	// are waited for, so that the counts are of acknowledgements.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	ferr := cl.Flush(fctx)
	fcancel()
	stopProgress()
	st := r.stats()
	if cause := context.Cause(pctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	} else if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err == nil && ferr != nil {
		err = fmt.Errorf("waiting for acknowledgements: %w", ferr)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = fmt.Errorf("interrupted after %d rows", st.Read)
	}
	return st, err
}

// newRunner checks the options and sets up the reading of in.
func newRunner(o Options, in io.Reader) (*runner, error) {
	r := &runner{o: o, conv: NewConverter(o.Schema, o.IgnoreUnknown), start: time.Now()}
	if r.o.MaxLineBytes <= 0 {
		r.o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.Key != "" {
		rs, ok := deref(o.Schema).(*avro.RecordSchema)
		if !ok {
			return nil, fmt.Errorf("--key %s: the schema is not a record", o.Key)
		}
		ri, err := r.conv.info(rs)
		if err != nil {
			return nil, err
		}
		if _, ok := ri.byName[o.Key]; !ok {
			return nil, fmt.Errorf("--key %s is not a field of %s (its fields: %s)", o.Key, rs.FullName(), fieldNames(ri))
		}
	}
	r.header = codec.AppendHeader(nil, o.SchemaID)
	counted := &countingReader{r: in}
	r.bytes = &counted.n
	r.lr = newLineReader(counted, r.o.MaxLineBytes)
	return r, nil
}

// rows reads, converts and sends every row.
func (r *runner) rows(ctx context.Context) error {
	if r.o.Format == CSV {
		return r.csv(ctx, r.lr)
	}
	return r.json(ctx, r.lr)
}

type runner struct {
	o  Options
	cl *kgo.Client
	lr *lineReader
	// send passes on the encoded row in buf: to Kafka, or in tests to a
	// slice.
	send   func(ctx context.Context, line int, key []byte)
	conv   *Converter
	header []byte
	start  time.Time
	cancel context.CancelCauseFunc

	bytes                    *atomic.Int64
	read, produced, rejected atomic.Int64

	csvHeader []string

	logMu    sync.Mutex
	barShown bool
	buf      []byte
}

func (r *runner) stats() Stats {
	return Stats{Read: r.read.Load(), Produced: r.produced.Load(), Rejected: r.rejected.Load(),
		Bytes: r.bytes.Load(), Elapsed: time.Since(r.start)}
}

// reject reports a row that does not fit; with StopOnError it ends the run.
func (r *runner) reject(e *RowError) error {
	r.rejected.Add(1)
	r.logf("%s\n", e.Error())
	if r.o.StopOnError {
		return fmt.Errorf("%w (--on-error stop): %w", ErrRejected, e)
	}
	return nil
}

func (r *runner) rowError(line int, err error) *RowError {
	e := &RowError{Name: r.o.Name, Line: line}
	var se *syntaxError
	var ce *cellError
	switch {
	case errors.As(err, &ce):
		e.Column, e.ColumnName = ce.col+1, r.csvHeader[ce.col]
		e.Path, e.Err = splitPath(ce.err)
	case errors.As(err, &se):
		e.Column, e.Err = se.col, errors.New("invalid JSON: "+se.msg)
	default:
		e.Path, e.Err = splitPath(err)
	}
	return e
}

func (r *runner) json(ctx context.Context, lr *lineReader) error {
	for ctx.Err() == nil {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var tl *LineTooLongError
		if errors.As(err, &tl) {
			r.read.Add(1)
			if err := r.reject(&RowError{Name: r.o.Name, Line: lr.line, Err: err}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", r.o.Name, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r.read.Add(1)
		if i := invalidUTF8(line); i >= 0 {
			if err := r.reject(&RowError{Name: r.o.Name, Line: lr.line, Column: i + 1, Err: errors.New("not valid UTF-8")}); err != nil {
				return err
			}
			continue
		}
		v, err := decodeJSON(line)
		if err == nil {
			r.buf, err = r.conv.Append(append(r.buf[:0], r.header...), v)
		}
		if err != nil {
			if err := r.reject(r.rowError(lr.line, err)); err != nil {
				return err
			}
			continue
		}
		var key []byte
		if r.o.Key != "" {
			key = jsonKey(v, r.o.Key)
		}
		r.send(ctx, lr.line, key)
	}
	return nil
}

// jsonKey is the record key from field name of row v: a string as it is,
// a number or boolean as written, an object or array as compact JSON; nil
// (no key) if it is null or missing.
func jsonKey(v any, name string) []byte {
	m, _ := v.(map[string]any)
	f := m[name]
	// {"string": "x"}: a union value in the Avro JSON encoding.
	if w, ok := f.(map[string]any); ok && len(w) == 1 {
		for _, inner := range w {
			switch inner.(type) {
			case string, json.Number, bool:
				f = inner
			}
		}
	}
	switch x := f.(type) {
	case nil:
		return nil
	case string:
		return []byte(x)
	case json.Number:
		return []byte(x)
	case bool:
		if x {
			return []byte("true")
		}
		return []byte("false")
	}
	b, _ := json.Marshal(f)
	return b
}

func (r *runner) csv(ctx context.Context, lr *lineReader) error {
	cr := &csvReader{lr: lr}
	header, line, err := cr.next()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: no header row: a CSV file starts with a header naming the schema's fields", r.o.Name)
	}
	if err != nil {
		return fmt.Errorf("%s:%d: header: %w", r.o.Name, line, err)
	}
	l, err := r.conv.layout(header)
	if err != nil {
		return fmt.Errorf("%s:%d: header: %w", r.o.Name, line, err)
	}
	r.csvHeader = l.header
	keyCol := -1
	if r.o.Key != "" {
		keyCol = l.col[l.rs.byName[r.o.Key]]
	}
	for ctx.Err() == nil {
		fields, line, err := cr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var tl *LineTooLongError
		var se *csvSyntaxError
		switch {
		case errors.As(err, &tl):
			r.read.Add(1)
			err = r.reject(&RowError{Name: r.o.Name, Line: line, Err: err})
		case errors.As(err, &se):
			r.read.Add(1)
			e := &RowError{Name: r.o.Name, Line: line, Err: errors.New("invalid CSV: " + se.Msg)}
			if se.Column > 0 {
				e.Column = se.Column
				e.ColumnName = "?"
				if se.Column <= len(l.header) {
					e.ColumnName = l.header[se.Column-1]
				}
			}
			err = r.reject(e)
		case err != nil:
			return fmt.Errorf("read %s: %w", r.o.Name, err)
		default:
			r.read.Add(1)
			r.buf, err = r.conv.appendCSV(append(r.buf[:0], r.header...), l, fields)
			if err != nil {
				err = r.reject(r.rowError(line, err))
				break
			}
			var key []byte
			if keyCol >= 0 && (fields[keyCol].text != "" || fields[keyCol].quoted) {
				key = []byte(fields[keyCol].text)
			}
			r.send(ctx, line, key)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// produce hands the encoded row in r.buf to the client; it is counted as
// produced when the broker acknowledges it.
func (r *runner) produce(ctx context.Context, line int, key []byte) {
	rec := &kgo.Record{Topic: r.o.Topic, Key: key, Value: bytes.Clone(r.buf)}
	r.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		switch {
		case err == nil:
			r.produced.Add(1)
		case errors.Is(err, kerr.MessageTooLarge):
			// The row itself is at fault: reported like any row that does
			// not fit.
			if err := r.reject(&RowError{Name: r.o.Name, Line: line, Err: fmt.Errorf("the record (%d bytes) is larger than the broker or the client accepts: %w", len(rec.Value), err)}); err != nil {
				r.cancel(err)
			}
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			r.cancel(&NoTopicError{Topic: r.o.Topic})
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			// The run is ending for another reason, already recorded.
		default:
			r.cancel(fmt.Errorf("producing to %s (row at line %d): %w", r.o.Topic, line, err))
		}
	})
}

func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		c, n := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
