package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/avrowire"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
)

// Stages of the per-record path, in order. A record that fails is reported
// with the stage that failed; the dead-letter topic records it in a header.
const (
	StageSize    = "size"
	StageDecode  = "decode"
	StageFilter  = "filter"
	StageProject = "project"
	StageEnrich  = "enrich"
	StageTime    = "time"
	StageMap     = "map"
	// StagePublish is a graph element the broker would not take (too
	// large, invalid): its dead letter holds the element, not a source
	// record.
	StagePublish = "publish"
)

// Lookup is a side input as the per-record path sees it; the tables of
// package enrich implement it.
type Lookup interface {
	Lookup(key string) (map[string]any, bool)
}

// missRow stands in for a missing row under on_miss: null, so that
// <input>.<field> evaluates to null rather than failing on a nil map.
var missRow = map[string]any{}

// StageError is a record that could not be processed.
type StageError struct {
	Stage    string
	SchemaID int // 0 when the record had no readable header
	Err      error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// SchemaSource resolves writer schema ids; *codec.Schemas is one.
type SchemaSource interface {
	ByID(ctx context.Context, id int) (avro.Schema, error)
}

// Processor runs a job's per-record path: decode, filter, project, event
// time, map to nodes and edges. It holds per-goroutine scratch state (an
// expression VM, the record's variables, record decoders per schema id,
// recycled property maps), so each goroutine needs its own.
type Processor struct {
	job     *Job
	schemas SchemaSource
	// Now stamps updated_at; tests set it for reproducible output.
	Now func() time.Time
	// Tables are the job's side inputs by name; every input the job
	// declares must be present.
	Tables map[string]Lookup
	// OnMiss, if set, is called with the input's name on every lookup miss.
	OnMiss func(input string)
	// MaxRecordBytes rejects larger values (stage size); 0 means no limit.
	MaxRecordBytes int

	vm      vm.VM
	readers map[int]*recordDecoder
	tables  []Lookup // by enrich index, resolved on first use

	// The record's variables: slots under the job's layout. env is the
	// same variables as a map, for the VM; with a layout it is built only
	// when an expression needs the VM (envFresh says it is current),
	// without one it is the decoded record itself.
	slots    []any
	env      map[string]any
	envFresh bool
	boxes    *boxes

	// scratch is what Process maps into before converting to graph.Batch.
	scratch Elements
}

// NewProcessor returns a Processor for j resolving schemas through s.
func NewProcessor(j *Job, s SchemaSource) *Processor {
	p := &Processor{job: j, schemas: s, Now: time.Now, readers: make(map[int]*recordDecoder), boxes: newBoxes()}
	if j.layout != nil {
		p.slots = make([]any, len(j.layout.names))
		p.env = make(map[string]any, len(j.layout.names))
	}
	return p
}

// Process turns one source record into graph elements appended to out. It
// reports filtered=true for a record the job's filter dropped. On error
// nothing is appended and the error is a *StageError.
func (p *Processor) Process(ctx context.Context, value []byte, recordTime time.Time, out *graph.Batch) (filtered bool, err error) {
	p.scratch.reset()
	filtered, err = p.process(ctx, value, recordTime, &p.scratch)
	if err == nil {
		p.scratch.appendTo(out)
	}
	return filtered, err
}

// process is Process for the chain: the elements, with their properties
// sorted, are appended to out (on error, nothing is).
func (p *Processor) process(ctx context.Context, value []byte, recordTime time.Time, out *Elements) (filtered bool, err error) {
	if p.MaxRecordBytes > 0 && len(value) > p.MaxRecordBytes {
		// Not decoded, but its header still says which schema wrote it
		// (0 if the value is not Confluent-framed), as dead letters report.
		id, _, _ := avrowire.SplitHeader(value)
		return false, &StageError{Stage: StageSize, SchemaID: id, Err: fmt.Errorf("value of %d bytes exceeds the job's max_record_bytes %d", len(value), p.MaxRecordBytes)}
	}
	id, err := p.decode(ctx, value)
	if err != nil {
		return false, &StageError{Stage: StageDecode, SchemaID: id, Err: err}
	}
	fail := func(stage string, err error) (bool, error) {
		return false, &StageError{Stage: stage, SchemaID: id, Err: err}
	}
	j := p.job
	if j.filter.prog != nil {
		keep, err := p.evalBool(&j.filter)
		if err != nil {
			return fail(StageFilter, fmt.Errorf("filter: %w", err))
		}
		if !keep {
			return true, nil
		}
	}
	for i := range j.project {
		f := &j.project[i]
		v, err := p.eval(&f.ev)
		if err != nil {
			return fail(StageProject, fmt.Errorf("project.%s: %w", f.name, err))
		}
		p.set(f.slot, f.name, v)
	}
	for i := range j.enrich {
		drop, err := p.lookup(i)
		if err != nil {
			return fail(StageEnrich, err)
		}
		if drop {
			return true, nil
		}
	}
	ts := recordTime.UnixMilli()
	if j.time.prog != nil {
		v, err := p.eval(&j.time)
		if err == nil {
			ts, err = toMillis(v)
		}
		if err != nil {
			return fail(StageTime, fmt.Errorf("time: %w", err))
		}
	}
	now := p.Now().UnixMilli()
	if err := j.checkTime(ts, now); err != nil {
		return fail(StageTime, err)
	}
	n0, e0, a0 := len(out.nodes), len(out.edges), len(out.arena)
	if err := p.mapElements(ts, now, out); err != nil {
		out.nodes, out.edges, out.arena = out.nodes[:n0], out.edges[:e0], out.arena[:a0]
		return fail(StageMap, err)
	}
	return false, nil
}

// decode reads value's body into the record's variables.
func (p *Processor) decode(ctx context.Context, value []byte) (int, error) {
	id, body, err := avrowire.SplitHeader(value)
	if err != nil {
		return 0, err
	}
	d, ok := p.readers[id]
	if !ok {
		if d, err = p.decoder(ctx, id); err != nil {
			return id, err
		}
		p.readers[id] = d
	}
	p.envFresh = false
	l := p.job.layout
	if l != nil && d.decode(body, p.slots, p.boxes) {
		return id, nil
	}
	var env map[string]any
	if err := p.job.decoder.UnmarshalResolved(d.writer, d.schema, body, &env); err != nil {
		if errors.Is(err, avrowire.ErrTooManyItems) {
			return id, fmt.Errorf("avro body (schema %d): %w (tuning.max_record_items)", id, err)
		}
		return id, fmt.Errorf("avro body (schema %d): %w", id, err)
	}
	if l == nil {
		p.env = env
		return id, nil
	}
	for i, name := range l.names {
		p.slots[i] = env[name]
	}
	return id, nil
}

// decoder builds the decoder of writer schema id: read with the job's
// reader schema if it has one (schema evolution), else as written.
func (p *Processor) decoder(ctx context.Context, id int) (*recordDecoder, error) {
	w, err := p.schemas.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	sch, resolved := w, false
	if r := p.job.Reader; r != nil && r.Fingerprint() != w.Fingerprint() {
		if sch, err = avro.NewSchemaCompatibility().Resolve(r, w); err != nil {
			return nil, fmt.Errorf("writer schema %d cannot be read with the job's reader schema: %w", id, err)
		}
		resolved = true
	}
	if sch.Type() != avro.Record {
		return nil, fmt.Errorf("schema %d is a %s, want a record", id, sch.Type())
	}
	// Resolution (defaults, promotions, skipped writer fields) is hamba's.
	d := newRecordDecoder(sch, p.job.layout, !resolved)
	d.writer = w
	return d, nil
}

// vars is the record's variables as a map, for the VM.
func (p *Processor) vars() map[string]any {
	l := p.job.layout
	if l == nil || p.envFresh {
		return p.env
	}
	clear(p.env)
	for i, name := range l.names {
		p.env[name] = p.slots[i]
	}
	p.envFresh = true
	return p.env
}

// set assigns variable name (slot under a layout).
func (p *Processor) set(slot int, name string, v any) {
	if p.job.layout == nil {
		p.env[name] = v
		return
	}
	p.slots[slot] = v
	if p.envFresh {
		p.env[name] = v
	}
}

// eval evaluates e over the record's variables: from its slot, its fast
// form, or, if it has none or the fast form fails, the VM, whose value and
// error define the result.
func (p *Processor) eval(e *evaluator) (any, error) {
	if e.slot >= 0 {
		return p.slots[e.slot], nil
	}
	if e.fast != nil {
		if v, ok := runFast(e.fast, p.slots); ok {
			return v, nil
		}
	}
	return p.vm.Run(e.prog, p.vars())
}

func runFast(f func([]any) any, s []any) (v any, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return f(s), true
}

// lookup sets the side input's variable to its row for the record's key.
// It reports drop for a miss under on_miss: drop.
func (p *Processor) lookup(i int) (drop bool, err error) {
	e := &p.job.enrich[i]
	if p.tables == nil {
		p.tables = make([]Lookup, len(p.job.enrich))
	}
	t := p.tables[i]
	if t == nil {
		if t = p.Tables[e.name]; t == nil {
			return false, fmt.Errorf("side input %s is not loaded", e.name)
		}
		p.tables[i] = t
	}
	v, err := p.eval(&e.key)
	if err != nil {
		return false, fmt.Errorf("enrich %s key: %w", e.name, err)
	}
	key, err := idString(v)
	var row map[string]any
	ok := false
	if err == nil {
		row, ok = t.Lookup(key)
	} else if !errors.Is(err, errEmptyID) {
		return false, fmt.Errorf("enrich %s key: %w", e.name, err)
	}
	if ok {
		p.set(e.slot, e.name, row)
		return false, nil
	}
	if p.OnMiss != nil {
		p.OnMiss(e.name)
	}
	switch e.onMiss {
	case job.MissDrop:
		return true, nil
	case job.MissDeadLetter:
		return false, fmt.Errorf("enrich %s: no row for key %q", e.name, key)
	}
	p.set(e.slot, e.name, missRow)
	return false, nil
}

func (p *Processor) evalBool(e *evaluator) (bool, error) {
	v, err := p.eval(e)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("want a bool, got %T", v)
	}
	return b, nil
}

func (p *Processor) mapElements(ts, now int64, out *Elements) error {
	j := p.job
	for i := range j.nodes {
		n := &j.nodes[i]
		if n.when.prog != nil {
			ok, err := p.evalBool(&n.when)
			if err != nil {
				return fmt.Errorf("nodes[%d].when: %w", i, err)
			}
			if !ok {
				continue
			}
		}
		id, err := p.evalID(&n.id)
		if err != nil {
			return fmt.Errorf("nodes[%d] (%s) id: %w", i, n.typ, err)
		}
		props, err := p.evalProps(n.props, ts, out)
		if err != nil {
			return fmt.Errorf("nodes[%d] (%s) %w", i, n.typ, err)
		}
		out.nodes = append(out.nodes, node{Node: graph.Node{NodeRef: graph.NodeRef{Type: n.typ, ID: id},
			FirstSeen: ts, LastSeen: ts, UpdatedAt: now}, props: props})
	}
	for i := range j.edges {
		e := &j.edges[i]
		if e.when.prog != nil {
			ok, err := p.evalBool(&e.when)
			if err != nil {
				return fmt.Errorf("edges[%d].when: %w", i, err)
			}
			if !ok {
				continue
			}
		}
		from, err := p.evalID(&e.fromID)
		if err != nil {
			return fmt.Errorf("edges[%d] (%s) from: %w", i, e.typ, err)
		}
		to, err := p.evalID(&e.toID)
		if err != nil {
			return fmt.Errorf("edges[%d] (%s) to: %w", i, e.typ, err)
		}
		props, err := p.evalProps(e.props, ts, out)
		if err != nil {
			return fmt.Errorf("edges[%d] (%s) %w", i, e.typ, err)
		}
		out.edges = append(out.edges, edge{Edge: graph.Edge{
			EdgeRef: graph.EdgeRef{Type: e.typ,
				From: graph.NodeRef{Type: e.fromType, ID: from},
				To:   graph.NodeRef{Type: e.toType, ID: to}},
			FirstSeen: ts, LastSeen: ts, UpdatedAt: now}, props: props})
	}
	return nil
}

var errEmptyID = errors.New("empty node id")

func (p *Processor) evalID(e *evaluator) (string, error) {
	v, err := p.eval(e)
	if err != nil {
		return "", err
	}
	return idString(v)
}

// idString converts an id or key value to its string form.
func idString(v any) (string, error) {
	var id string
	switch x := v.(type) {
	case string:
		id = x
	case int:
		id = strconv.Itoa(x)
	case int64:
		id = strconv.FormatInt(x, 10)
	case int32:
		id = strconv.FormatInt(int64(x), 10)
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("id %v is not an integer; convert it with string()", x)
		}
		id = strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return "", errEmptyID
	default:
		return "", fmt.Errorf("id of type %T: want a string or an integer", v)
	}
	if id == "" {
		return "", errEmptyID
	}
	if len(id) > graph.MaxIDLen {
		return "", fmt.Errorf("id of %d bytes exceeds %d", len(id), graph.MaxIDLen)
	}
	return id, nil
}

// evalProps evaluates fs (sorted by name) into out's arena and returns
// the window of it that holds them: the element's properties, sorted.
func (p *Processor) evalProps(fs []compiledField, ts int64, out *Elements) ([]graph.NamedProp, error) {
	if len(fs) == 0 {
		return nil, nil
	}
	a0 := len(out.arena)
	for i := range fs {
		f := &fs[i]
		v, err := p.eval(&f.ev)
		if err != nil {
			out.arena = out.arena[:a0]
			return nil, fmt.Errorf("props.%s: %w", f.name, err)
		}
		if t, ok := v.(time.Time); ok {
			v = t.UnixMilli()
		}
		nv, err := graph.NormalizeValue(v)
		if err != nil {
			out.arena = out.arena[:a0]
			return nil, fmt.Errorf("props.%s: %w", f.name, err)
		}
		out.arena = append(out.arena, graph.NamedProp{Name: f.name, Prop: graph.Prop{Value: nv, TS: ts}})
	}
	n := len(out.arena)
	return out.arena[a0:n:n], nil
}

// toMillis converts an event-time value to unix milliseconds: a timestamp,
// or a number of milliseconds.
func toMillis(v any) (int64, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UnixMilli(), nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float64:
		// Converting a float beyond int64's range is implementation-defined.
		if math.IsNaN(x) || x >= math.MaxInt64 || x < math.MinInt64 {
			return 0, fmt.Errorf("event time %v is not a number of milliseconds", x)
		}
		return int64(x), nil
	case nil:
		return 0, errors.New("event time is null")
	}
	return 0, fmt.Errorf("event time of type %T: want a timestamp or unix milliseconds", v)
}

// checkTime fails an event time ts (unix milliseconds) outside the job's
// time bounds, with now the processing clock.
func (j *Job) checkTime(ts, now int64) error {
	switch {
	case ts < j.notBefore:
		return fmt.Errorf("event time %s is before time_bounds.not_before %s", fmtMillis(ts), fmtMillis(j.notBefore))
	case ts > now+j.maxAhead: // now is a clock and maxAhead at most a century: no overflow
		return fmt.Errorf("event time %s is more than time_bounds.max_ahead %s ahead of the processing clock %s",
			fmtMillis(ts), time.Duration(j.maxAhead)*time.Millisecond, fmtMillis(now))
	}
	return nil
}

// fmtMillis shows unix milliseconds as a UTC time, and as the number too
// when the year is outside what RFC 3339 can write.
func fmtMillis(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return fmt.Sprintf("%d ms (year %d)", ms, y)
	}
	return t.Format("2006-01-02T15:04:05.999Z07:00")
}
