package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/avrowire"
	"github.com/rdgraph/rdg/internal/job"
)

// Job is a compiled job: its spec with every expression compiled once.
// A Job is immutable and safe for concurrent use; per-goroutine state lives
// in a Processor.
type Job struct {
	Spec *job.Spec
	// Reader is the reader schema from source.schema, nil if none.
	Reader avro.Schema

	filter  evaluator
	project []compiledField
	enrich  []compiledEnrich
	time    evaluator
	nodes   []compiledNode
	edges   []compiledEdge

	// notBefore and maxAhead are the time bounds in milliseconds: the
	// earliest event time accepted, and how far after the processing
	// clock one may be.
	notBefore, maxAhead int64

	// layout numbers the variables of the expressions (see eval.go); nil
	// when an expression reads $env, and records are then decoded into a
	// map for the VM alone.
	layout *layout

	// decoder decodes what the fast path does not, within the job's
	// tuning.max_record_items.
	decoder *avrowire.Decoder
}

type compiledField struct {
	name string
	ev   evaluator
	slot int // the variable a projected field sets
}

type compiledEnrich struct {
	name   string
	key    evaluator
	slot   int
	onMiss string
}

type compiledNode struct {
	typ   string
	id    evaluator
	props []compiledField
	when  evaluator
}

type compiledEdge struct {
	typ      string
	fromType string
	fromID   evaluator
	toType   string
	toID     evaluator
	props    []compiledField
	when     evaluator
}

// Load parses and compiles a job file.
func Load(path string) (*Job, error) {
	spec, err := job.ParseFile(path)
	if err == nil {
		j, err := Compile(spec)
		var cerrs job.Errors
		if errors.As(err, &cerrs) {
			return nil, cerrs.Capped()
		}
		return j, err
	}
	var perrs job.Errors
	if !errors.As(err, &perrs) {
		return nil, err
	}
	if spec == nil {
		return nil, perrs.Capped()
	}
	// Compile what parsed, so one run reports expression errors too.
	if _, cerr := Compile(spec); cerr != nil {
		var cerrs job.Errors
		if errors.As(cerr, &cerrs) {
			perrs = append(perrs, cerrs...)
		}
	}
	return nil, perrs.Sorted().Capped()
}

// Compile compiles every expression of spec. When the spec names a source
// schema, expressions are type-checked against its fields, so a misspelt
// field is an error at check time rather than a null at run time. On
// failure the error is an Errors listing every problem.
func Compile(spec *job.Spec) (*Job, error) {
	c := &compiler{file: spec.File}
	j := &Job{Spec: spec, decoder: avrowire.NewDecoder(avrowire.Limits{MaxItems: spec.Tuning.Defaults().MaxRecordItems})}
	tb := spec.TimeBounds.Defaults()
	j.notBefore, j.maxAhead = tb.NotBefore.UnixMilli(), tb.MaxAhead.Milliseconds()
	var env types.Map
	if spec.Source.Schema != "" {
		sch, err := job.SchemaFile(spec.SchemaPath())
		if err != nil {
			c.errs = append(c.errs, job.Error{File: spec.File, Line: spec.Source.SchemaLine(), Col: spec.Source.SchemaCol(), Msg: "source.schema: " + err.Error()})
		} else {
			j.Reader = sch
			env = envOf(sch)
		}
	}
	c.env = env
	if spec.Filter != nil {
		j.filter = c.eval(*spec.Filter, "filter", true)
	}
	for _, f := range spec.Project {
		ev := c.eval(f.Expr, "project."+f.Name, false)
		prog := ev.prog
		j.project = append(j.project, compiledField{name: f.Name, ev: ev})
		if c.env != nil {
			// Later expressions may use the projected name, typed as the
			// checker inferred; unknown types stay unchecked.
			c.env[f.Name] = types.Any
			if prog != nil {
				if t := prog.Node().Type(); t != nil && t.Kind() != reflect.Interface {
					c.env[f.Name] = types.TypeOf(reflect.Zero(t).Interface())
				}
			}
		}
	}
	for i, e := range spec.Enrich {
		j.enrich = append(j.enrich, compiledEnrich{name: e.Name, key: c.eval(e.Key, fmt.Sprintf("enrich[%d].key", i), false), onMiss: e.OnMiss})
		if c.env != nil {
			// Rows are maps whose fields are only known at run time.
			c.env[e.Name] = types.TypeOf(map[string]any{})
		}
	}
	if spec.Time != nil {
		j.time = c.eval(*spec.Time, "time", false)
		c.checkTime(j.time.prog, *spec.Time)
	}
	for i, n := range spec.Nodes {
		what := fmt.Sprintf("nodes[%d]", i)
		cn := compiledNode{typ: n.Type, id: c.eval(n.ID, what+".id", false), props: byName(c.fields(n.Props, what+".props"))}
		if n.When != nil {
			cn.when = c.eval(*n.When, what+".when", true)
		}
		j.nodes = append(j.nodes, cn)
	}
	for i, e := range spec.Edges {
		what := fmt.Sprintf("edges[%d]", i)
		ce := compiledEdge{typ: e.Type,
			fromType: e.From.Type, fromID: c.eval(e.From.ID, what+".from", false),
			toType: e.To.Type, toID: c.eval(e.To.ID, what+".to", false),
			props: byName(c.fields(e.Props, what+".props"))}
		if e.When != nil {
			ce.when = c.eval(*e.When, what+".when", true)
		}
		j.edges = append(j.edges, ce)
	}
	if len(c.errs) > 0 {
		return nil, c.errs.Sorted()
	}
	j.link()
	return j, nil
}

// evaluators lists every expression of the job, in evaluation order.
func (j *Job) evaluators() []*evaluator {
	evs := []*evaluator{&j.filter}
	for i := range j.project {
		evs = append(evs, &j.project[i].ev)
	}
	for i := range j.enrich {
		evs = append(evs, &j.enrich[i].key)
	}
	evs = append(evs, &j.time)
	for i := range j.nodes {
		n := &j.nodes[i]
		evs = append(evs, &n.id, &n.when)
		for k := range n.props {
			evs = append(evs, &n.props[k].ev)
		}
	}
	for i := range j.edges {
		e := &j.edges[i]
		evs = append(evs, &e.fromID, &e.toID, &e.when)
		for k := range e.props {
			evs = append(evs, &e.props[k].ev)
		}
	}
	return evs
}

// link numbers the variables of the job's expressions and compiles each
// into its fast form (eval.go). A job whose expressions read $env keeps
// the map environment and the VM throughout.
func (j *Job) link() {
	l := &layout{slot: make(map[string]int)}
	for _, ev := range j.evaluators() {
		if !l.identifiers(ev.prog) {
			return
		}
	}
	for i := range j.project {
		j.project[i].slot = l.add(j.project[i].name)
	}
	for i := range j.enrich {
		j.enrich[i].slot = l.add(j.enrich[i].name)
	}
	j.layout = l
	for _, ev := range j.evaluators() {
		ev.link(l)
	}
}

// EnrichFile resolves a file side input's path relative to the job file.
func (j *Job) EnrichFile(e job.EnrichSpec) string {
	if filepath.IsAbs(e.File) {
		return e.File
	}
	return filepath.Join(filepath.Dir(j.Spec.File), e.File)
}

// NodeTypes lists the node types the job emits, once each.
func (j *Job) NodeTypes() []string {
	var ts []string
	for _, n := range j.nodes {
		ts = appendUnique(ts, n.typ)
	}
	return ts
}

// EdgeTypes lists the edge types the job emits, once each.
func (j *Job) EdgeTypes() []string {
	var ts []string
	for _, e := range j.edges {
		ts = appendUnique(ts, e.typ)
	}
	return ts
}

func appendUnique(ts []string, t string) []string {
	for _, x := range ts {
		if x == t {
			return ts
		}
	}
	return append(ts, t)
}

type compiler struct {
	file string
	env  types.Map
	errs job.Errors
}

func (c *compiler) fields(fs []job.Field, what string) []compiledField {
	out := make([]compiledField, 0, len(fs))
	for _, f := range fs {
		out = append(out, compiledField{name: f.Name, ev: c.eval(f.Expr, what+"."+f.Name, false), slot: -1})
	}
	return out
}

// byName sorts a node's or edge's property fields by name: evaluated in
// that order, they give the mapped element's properties already sorted
// (see elements.go). Names are unique; the parser rejects duplicates.
func byName(fs []compiledField) []compiledField {
	slices.SortFunc(fs, func(a, b compiledField) int { return strings.Compare(a.name, b.name) })
	return fs
}

// eval compiles an expression into an evaluator that runs on the VM until
// Job.link gives it its fast form. asBool requires a boolean result.
func (c *compiler) eval(e job.Expr, what string, asBool bool) evaluator {
	var opts []expr.Option
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	return evaluator{prog: c.compile(e, what, opts...), slot: -1, asBool: asBool}
}

func (c *compiler) compile(e job.Expr, what string, opts ...expr.Option) *vm.Program {
	if strings.TrimSpace(e.Src) == "" {
		return nil // missing or empty: already reported by the parser
	}
	if c.env != nil {
		opts = append(opts, expr.Env(c.env))
	} else {
		opts = append(opts, expr.AllowUndefinedVariables())
	}
	opts = append(opts, expr.MaxNodes(10_000))
	prog, err := expr.Compile(e.Src, opts...)
	if err != nil {
		line, col, msg := e.Line, e.Col, err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			msg = fe.Message
			line, col = e.At(runeOffset(e.Src, fe.Line, fe.Column))
		}
		c.errs = append(c.errs, job.Error{File: c.file, Line: line, Col: col, Msg: fmt.Sprintf("%s: %s", what, msg)})
		return nil
	}
	n := len(c.errs)
	c.costErrors(prog, e, what)
	if len(c.errs) > n {
		return nil
	}
	return prog
}

// checkTime reports a time expression whose type the checker knows (from
// the reader schema) and which is neither a timestamp nor a number of
// milliseconds: every record would fail at stage time (toMillis). An
// expression of unknown type (no schema, a union field) is checked per
// record instead.
func (c *compiler) checkTime(prog *vm.Program, e job.Expr) {
	if prog == nil || c.env == nil {
		return
	}
	t := prog.Node().Type()
	if t == nil || t.Kind() == reflect.Interface {
		return
	}
	switch t {
	case reflect.TypeFor[time.Time](), reflect.TypeFor[int64](), reflect.TypeFor[int](), reflect.TypeFor[int32](), reflect.TypeFor[float64]():
		return
	}
	hint := ""
	switch t {
	case reflect.TypeFor[string]():
		hint = "; a string is not parsed: use a timestamp-millis field or a number of milliseconds"
	case reflect.TypeFor[time.Duration]():
		hint = "; a time-millis or time-micros field is a time of day, not an event time"
	case reflect.TypeFor[float32]():
		hint = "; a float holds milliseconds since 1970 only to about 2 minutes: use a long or a double"
	}
	c.errs = append(c.errs, job.Error{File: c.file, Line: e.Line, Col: e.Col, Msg: fmt.Sprintf(
		"time: expression is %s; want a timestamp (timestamp-millis, timestamp-micros or date field) or a number of unix milliseconds%s", exprTypeName(t), hint)})
}

// exprTypeName names a Go type as the job-file documentation does.
func exprTypeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[[]byte]():
		return "bytes ([]byte)"
	case t.Kind() == reflect.Slice:
		return "an array ([]any)"
	case t.Kind() == reflect.Map:
		return "a map or record (map[string]any)"
	}
	return "of type " + t.String()
}

// runeOffset converts expr's error position (1-based line, 0-based rune
// column) into a rune offset in src.
func runeOffset(src string, line, col int) int {
	off := 0
	for l, text := range strings.Split(src, "\n") {
		if l == line-1 {
			return off + col
		}
		off += len([]rune(text)) + 1
	}
	return off + col
}

// envOf builds a type-checking environment: each field of the record
// schema with the Go type hamba/avro decodes it to. A field whose type is
// only known per record (a union such as ["null", "string"]) is "any":
// unchecked, like a variable of interface type, so that guarded uses
// such as `x == nil ? 0 : len(x)` compile. (A nil value in a plain map
// environment would instead give it the type of the nil constant, and the
// checker would reject len(x), upper(x) or x + "...".)
func envOf(sch avro.Schema) types.Map {
	rec := sch.(*avro.RecordSchema)
	env := make(types.Map, len(rec.Fields()))
	for _, f := range rec.Fields() {
		env[f.Name()] = types.Any
		if z := job.ZeroOf(f.Type()); z != nil {
			env[f.Name()] = types.TypeOf(z)
		}
	}
	return env
}
