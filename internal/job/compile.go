package job

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/hamba/avro/v2"
)

// Job is a compiled job: its spec with every expression compiled once.
// A Job is immutable and safe for concurrent use; per-goroutine state lives
// in a Processor.
type Job struct {
	Spec *Spec
	// Reader is the reader schema from source.schema, nil if none.
	Reader avro.Schema

	filter  *vm.Program
	project []compiledField
	enrich  []compiledEnrich
	time    *vm.Program
	nodes   []compiledNode
	edges   []compiledEdge
}

type compiledField struct {
	name string
	prog *vm.Program
}

type compiledEnrich struct {
	name   string
	key    *vm.Program
	onMiss string
}

type compiledNode struct {
	typ   string
	id    *vm.Program
	props []compiledField
	when  *vm.Program
}

type compiledEdge struct {
	typ      string
	fromType string
	fromID   *vm.Program
	toType   string
	toID     *vm.Program
	props    []compiledField
	when     *vm.Program
}

// Load parses and compiles a job file.
func Load(path string) (*Job, error) {
	spec, err := ParseFile(path)
	if err == nil {
		return Compile(spec)
	}
	var perrs Errors
	if spec == nil || !errors.As(err, &perrs) {
		return nil, err
	}
	// Compile what parsed, so one run reports expression errors too.
	if _, cerr := Compile(spec); cerr != nil {
		var cerrs Errors
		if errors.As(cerr, &cerrs) {
			perrs = append(perrs, cerrs...)
		}
	}
	return nil, perrs.sorted()
}

// Compile compiles every expression of spec. When the spec names a source
// schema, expressions are type-checked against its fields, so a misspelt
// field is an error at check time rather than a null at run time. On
// failure the error is an Errors listing every problem.
func Compile(spec *Spec) (*Job, error) {
	c := &compiler{file: spec.File}
	j := &Job{Spec: spec}
	var env types.Map
	if spec.Source.Schema != "" {
		sch, err := loadSchema(spec.schemaPath())
		if err != nil {
			c.errs = append(c.errs, Error{File: spec.File, Line: spec.Source.schemaLine, Col: spec.Source.schemaCol, Msg: "source.schema: " + err.Error()})
		} else {
			j.Reader = sch
			env = envOf(sch)
		}
	}
	c.env = env
	if spec.Filter != nil {
		j.filter = c.compile(*spec.Filter, "filter", expr.AsBool())
	}
	for _, f := range spec.Project {
		prog := c.compile(f.Expr, "project."+f.Name)
		j.project = append(j.project, compiledField{f.Name, prog})
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
		j.enrich = append(j.enrich, compiledEnrich{name: e.Name, key: c.compile(e.Key, fmt.Sprintf("enrich[%d].key", i)), onMiss: e.OnMiss})
		if c.env != nil {
			// Rows are maps whose fields are only known at run time.
			c.env[e.Name] = types.TypeOf(map[string]any{})
		}
	}
	if spec.Time != nil {
		j.time = c.compile(*spec.Time, "time")
	}
	for i, n := range spec.Nodes {
		what := fmt.Sprintf("nodes[%d]", i)
		cn := compiledNode{typ: n.Type, id: c.compile(n.ID, what+".id"), props: c.fields(n.Props, what+".props")}
		if n.When != nil {
			cn.when = c.compile(*n.When, what+".when", expr.AsBool())
		}
		j.nodes = append(j.nodes, cn)
	}
	for i, e := range spec.Edges {
		what := fmt.Sprintf("edges[%d]", i)
		ce := compiledEdge{typ: e.Type,
			fromType: e.From.Type, fromID: c.compile(e.From.ID, what+".from"),
			toType: e.To.Type, toID: c.compile(e.To.ID, what+".to"),
			props: c.fields(e.Props, what+".props")}
		if e.When != nil {
			ce.when = c.compile(*e.When, what+".when", expr.AsBool())
		}
		j.edges = append(j.edges, ce)
	}
	if len(c.errs) > 0 {
		return nil, c.errs.sorted()
	}
	return j, nil
}

// EnrichFile resolves a file side input's path relative to the job file.
func (j *Job) EnrichFile(e EnrichSpec) string {
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
	errs Errors
}

func (c *compiler) fields(fs []Field, what string) []compiledField {
	out := make([]compiledField, 0, len(fs))
	for _, f := range fs {
		out = append(out, compiledField{f.Name, c.compile(f.Expr, what+"."+f.Name)})
	}
	return out
}

func (c *compiler) compile(e Expr, what string, opts ...expr.Option) *vm.Program {
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
		c.errs = append(c.errs, Error{File: c.file, Line: line, Col: col, Msg: fmt.Sprintf("%s: %s", what, msg)})
		return nil
	}
	return prog
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

func loadSchema(path string) (avro.Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sch, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sch.Type() != avro.Record {
		return nil, fmt.Errorf("%s: want a record schema, got %s", path, sch.Type())
	}
	return sch, nil
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
		if z := zeroOf(f.Type()); z != nil {
			env[f.Name()] = types.TypeOf(z)
		}
	}
	return env
}

func zeroOf(s avro.Schema) any {
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch ls.Logical().Type() {
		case avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros, avro.Date:
			return time.Time{}
		case avro.TimeMillis, avro.TimeMicros:
			return time.Duration(0)
		}
	}
	switch s.Type() {
	case avro.String, avro.Enum:
		return ""
	case avro.Long:
		return int64(0)
	case avro.Int:
		return 0
	case avro.Float:
		return float32(0)
	case avro.Double:
		return float64(0)
	case avro.Boolean:
		return false
	case avro.Bytes, avro.Fixed:
		return []byte(nil)
	case avro.Array:
		return []any{}
	case avro.Record, avro.Map:
		return map[string]any{}
	case avro.Ref:
		return zeroOf(s.(*avro.RefSchema).Schema())
	}
	// Unions and nulls: the type is only known per record.
	return nil
}
