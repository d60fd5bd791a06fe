package job

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
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
// expression VM, resolved read schemas), so each goroutine needs its own.
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
	readers map[int]avro.Schema
}

// NewProcessor returns a Processor for j resolving schemas through s.
func NewProcessor(j *Job, s SchemaSource) *Processor {
	return &Processor{job: j, schemas: s, Now: time.Now, readers: make(map[int]avro.Schema)}
}

// Process turns one source record into graph elements appended to out. It
// reports filtered=true for a record the job's filter dropped. On error
// nothing is appended and the error is a *StageError.
func (p *Processor) Process(ctx context.Context, value []byte, recordTime time.Time, out *graph.Batch) (filtered bool, err error) {
	if p.MaxRecordBytes > 0 && len(value) > p.MaxRecordBytes {
		// Not decoded, but its header still says which schema wrote it
		// (0 if the value is not Confluent-framed), as dead letters report.
		id, _, _ := codec.SplitHeader(value)
		return false, &StageError{Stage: StageSize, SchemaID: id, Err: fmt.Errorf("value of %d bytes exceeds the job's max_record_bytes %d", len(value), p.MaxRecordBytes)}
	}
	env, id, err := p.decode(ctx, value)
	if err != nil {
		return false, &StageError{Stage: StageDecode, SchemaID: id, Err: err}
	}
	fail := func(stage string, err error) (bool, error) {
		return false, &StageError{Stage: stage, SchemaID: id, Err: err}
	}
	j := p.job
	if j.filter != nil {
		keep, err := p.evalBool(j.filter, env)
		if err != nil {
			return fail(StageFilter, fmt.Errorf("filter: %w", err))
		}
		if !keep {
			return true, nil
		}
	}
	for _, f := range j.project {
		v, err := p.vm.Run(f.prog, env)
		if err != nil {
			return fail(StageProject, fmt.Errorf("project.%s: %w", f.name, err))
		}
		env[f.name] = v
	}
	for i := range j.enrich {
		e := &j.enrich[i]
		drop, err := p.lookup(e, env)
		if err != nil {
			return fail(StageEnrich, err)
		}
		if drop {
			return true, nil
		}
	}
	ts := recordTime.UnixMilli()
	if j.time != nil {
		v, err := p.vm.Run(j.time, env)
		if err == nil {
			ts, err = toMillis(v)
		}
		if err != nil {
			return fail(StageTime, fmt.Errorf("time: %w", err))
		}
	}
	now := p.Now().UnixMilli()
	n0, e0 := len(out.Nodes), len(out.Edges)
	if err := p.mapElements(env, ts, now, out); err != nil {
		out.Nodes, out.Edges = out.Nodes[:n0], out.Edges[:e0]
		return fail(StageMap, err)
	}
	return false, nil
}

func (p *Processor) decode(ctx context.Context, value []byte) (map[string]any, int, error) {
	id, body, err := codec.SplitHeader(value)
	if err != nil {
		return nil, 0, err
	}
	sch, ok := p.readers[id]
	if !ok {
		w, err := p.schemas.ByID(ctx, id)
		if err != nil {
			return nil, id, err
		}
		sch = w
		if r := p.job.Reader; r != nil && r.Fingerprint() != w.Fingerprint() {
			if sch, err = avro.NewSchemaCompatibility().Resolve(r, w); err != nil {
				return nil, id, fmt.Errorf("writer schema %d cannot be read with the job's reader schema: %w", id, err)
			}
		}
		if sch.Type() != avro.Record {
			return nil, id, fmt.Errorf("schema %d is a %s, want a record", id, sch.Type())
		}
		p.readers[id] = sch
	}
	var env map[string]any
	if err := codec.Unmarshal(sch, body, &env); err != nil {
		return nil, id, fmt.Errorf("avro body (schema %d): %w", id, err)
	}
	return env, id, nil
}

// lookup sets env[e.name] to the side input's row for the record's key. It
// reports drop for a miss under on_miss: drop.
func (p *Processor) lookup(e *compiledEnrich, env map[string]any) (drop bool, err error) {
	t := p.Tables[e.name]
	if t == nil {
		return false, fmt.Errorf("side input %s is not loaded", e.name)
	}
	v, err := p.vm.Run(e.key, env)
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
		env[e.name] = row
		return false, nil
	}
	if p.OnMiss != nil {
		p.OnMiss(e.name)
	}
	switch e.onMiss {
	case MissDrop:
		return true, nil
	case MissDeadLetter:
		return false, fmt.Errorf("enrich %s: no row for key %q", e.name, key)
	}
	env[e.name] = missRow
	return false, nil
}

func (p *Processor) evalBool(prog *vm.Program, env map[string]any) (bool, error) {
	v, err := p.vm.Run(prog, env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("want a bool, got %T", v)
	}
	return b, nil
}

func (p *Processor) mapElements(env map[string]any, ts, now int64, out *graph.Batch) error {
	j := p.job
	for i := range j.nodes {
		n := &j.nodes[i]
		if n.when != nil {
			ok, err := p.evalBool(n.when, env)
			if err != nil {
				return fmt.Errorf("nodes[%d].when: %w", i, err)
			}
			if !ok {
				continue
			}
		}
		id, err := p.evalID(n.id, env)
		if err != nil {
			return fmt.Errorf("nodes[%d] (%s) id: %w", i, n.typ, err)
		}
		props, err := p.evalProps(n.props, env, ts)
		if err != nil {
			return fmt.Errorf("nodes[%d] (%s) %w", i, n.typ, err)
		}
		out.Nodes = append(out.Nodes, graph.Node{NodeRef: graph.NodeRef{Type: n.typ, ID: id},
			Props: props, FirstSeen: ts, LastSeen: ts, UpdatedAt: now})
	}
	for i := range j.edges {
		e := &j.edges[i]
		if e.when != nil {
			ok, err := p.evalBool(e.when, env)
			if err != nil {
				return fmt.Errorf("edges[%d].when: %w", i, err)
			}
			if !ok {
				continue
			}
		}
		from, err := p.evalID(e.fromID, env)
		if err != nil {
			return fmt.Errorf("edges[%d] (%s) from: %w", i, e.typ, err)
		}
		to, err := p.evalID(e.toID, env)
		if err != nil {
			return fmt.Errorf("edges[%d] (%s) to: %w", i, e.typ, err)
		}
		props, err := p.evalProps(e.props, env, ts)
		if err != nil {
			return fmt.Errorf("edges[%d] (%s) %w", i, e.typ, err)
		}
		out.Edges = append(out.Edges, graph.Edge{
			EdgeRef: graph.EdgeRef{Type: e.typ,
				From: graph.NodeRef{Type: e.fromType, ID: from},
				To:   graph.NodeRef{Type: e.toType, ID: to}},
			Props: props, FirstSeen: ts, LastSeen: ts, UpdatedAt: now})
	}
	return nil
}

// MaxIDLen bounds node ids; a longer id is a mapping mistake (a whole
// payload used as an id), not an identity.
const MaxIDLen = 4096

var errEmptyID = errors.New("empty node id")

func (p *Processor) evalID(prog *vm.Program, env map[string]any) (string, error) {
	v, err := p.vm.Run(prog, env)
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
	if len(id) > MaxIDLen {
		return "", fmt.Errorf("id of %d bytes exceeds %d", len(id), MaxIDLen)
	}
	return id, nil
}

func (p *Processor) evalProps(fs []compiledField, env map[string]any, ts int64) (graph.Props, error) {
	if len(fs) == 0 {
		return nil, nil
	}
	props := make(graph.Props, len(fs))
	for _, f := range fs {
		v, err := p.vm.Run(f.prog, env)
		if err != nil {
			return nil, fmt.Errorf("props.%s: %w", f.name, err)
		}
		if t, ok := v.(time.Time); ok {
			v = t.UnixMilli()
		}
		nv, err := graph.NormalizeValue(v)
		if err != nil {
			return nil, fmt.Errorf("props.%s: %w", f.name, err)
		}
		props[f.name] = graph.Prop{Value: nv, TS: ts}
	}
	return props, nil
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
		return int64(x), nil
	case nil:
		return 0, errors.New("event time is null")
	}
	return 0, fmt.Errorf("event time of type %T: want a timestamp or unix milliseconds", v)
}
