package job

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/hamba/avro/v2"
	"gopkg.in/yaml.v3"

	"github.com/rdgraph/rdg/internal/graph"
)

// Job file skeletons (`rdg job init`)
//
// Init writes a job file for a topic from the Avro schema of its values:
// a comment listing every field with the type expressions see, and a job
// that `rdg job check` accepts as it is: nodes for the first id-like fields
// (names ending in _id or Id, or id), an edge between the first two, the
// event time from a timestamp field, and the optional keys commented out
// with examples built from the schema's own fields.

// InitOptions are what Init needs besides the schema.
type InitOptions struct {
	// Topic is the source topic.
	Topic string
	// Name is the job's name; empty derives it from Topic.
	Name string
	// SchemaFile is source.schema as the job file should say it (relative
	// to the job file); empty leaves source.schema out.
	SchemaFile string
	// From says where the schema came from, for the header comment (a
	// registry subject or a file).
	From string
}

// Init returns the text of a job file for records of schema sch, which
// must be a record schema.
func Init(sch avro.Schema, o InitOptions) ([]byte, error) {
	rec, ok := resolveRef(sch).(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("want a record schema, got %s", sch.Type())
	}
	if strings.TrimSpace(o.Topic) == "" {
		return nil, errors.New("no topic")
	}
	name := o.Name
	if name == "" {
		name = jobNameOf(o.Topic)
	}
	if !jobNameRE.MatchString(name) {
		return nil, fmt.Errorf("job name %q: use lower-case letters, digits, '.', '_' and '-'", name)
	}
	fields := flatten(rec)
	if len(fields) == 0 {
		return nil, fmt.Errorf("record %s has no fields", rec.FullName())
	}
	g := &initGen{rec: rec, fields: fields}
	ids := g.idFields()
	if len(ids) == 0 {
		return nil, fmt.Errorf("record %s has no string or integer field to use as a node id", rec.FullName())
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	// c writes a line with a comment at the comment column.
	c := func(code, comment string) { commented(&b, code, comment) }
	from := ""
	if o.From != "" {
		from = " (" + o.From + ")"
	}
	w("# Job for topic %s: records of %s%s.\n", o.Topic, rec.FullName(), from)
	w("# Made by `rdg job init`; edit it, then `rdg job check` this file. Every key\n")
	w("# is described in the README's \"Job files\" section.\n#\n")
	w("# The record's fields, as expressions see them (Avro type → Go type):\n")
	g.writeFields(&b)
	w("\n")
	w("name: %s\n", yamlScalar(name))
	w("source:\n")
	w("  topic: %s\n", yamlScalar(o.Topic))
	c("  start: earliest", "where a new job begins: earliest | latest")
	if o.SchemaFile != "" {
		c("  schema: "+yamlScalar(o.SchemaFile), "reader schema, relative to this file: `rdg job check` checks expressions against it")
	} else {
		c("  # schema: "+strings.ToLower(rec.Name())+".avsc", "the schema saved beside this file: `rdg job check` then checks field names")
	}
	g.writeFilter(&b)
	g.writeTime(&b)
	g.writeProject(&b)
	c("# enrich:", "side inputs (a compacted topic or a CSV/JSON file) looked up per record")
	w("#   - {name: t, topic: some.table, key: %s, on_miss: \"null\"}\n", YAMLFlow(ids[0].expr))

	w("nodes:\n")
	used := map[string]bool{}
	types := make([]string, len(ids))
	for i, f := range ids {
		types[i] = uniqueType(f.nodeType, used)
	}
	limit := min(2, len(ids))
	for i := range limit {
		w("  - type: %s\n", types[i])
		w("    id: %s\n", yamlScalar(ids[i].expr))
	}
	for i := limit; i < len(ids); i++ {
		w("  # - {type: %s, id: %s}\n", types[i], yamlScalar(ids[i].expr))
	}
	if len(ids) >= 2 {
		w("edges:\n")
		c(fmt.Sprintf("  - type: %s_%s", types[0], types[1]), "name it for what a record says: rated, watched, uses, ...")
		w("    from: %s(%s)\n", types[0], ids[0].expr)
		w("    to: %s(%s)\n", types[1], ids[1].expr)
		if p := g.propField(); p != nil {
			w("    props: {%s: %s}\n", p.propName(), YAMLFlow(p.expr))
		} else {
			w("    # props: {name: expression}\n")
		}
	} else {
		w("# edges:\n")
		w("#   - type: %s_other\n", types[0])
		w("#     from: %s(%s)\n", types[0], ids[0].expr)
		w("#     to: other(other_id)\n")
	}
	w("# dedupe:\n")
	c("#   window: 1s", "merge updates to the same element for 1s, then publish once")
	c("# delivery: exactly-once", "default at-least-once")
	c("# time_bounds:", "event times outside are dead-lettered (stage time)")
	c("#   not_before: 2000-01-01", "the default; set it earlier for older events")
	c("#   max_ahead: 1h", "how far past the processing clock")
	w("# tuning:\n")
	c("#   concurrency: 1", "consumers of this job in one process")
	c("#   compression: "+DefaultCompression, "graph topics' codec: "+strings.Join(Compressions, " | "))

	out := []byte(b.String())
	// The skeleton must be a job `rdg job check` accepts; a schema whose
	// names defeat the generator is a bug here, not the user's problem.
	if _, err := Parse("init.yaml", out); err != nil {
		return nil, fmt.Errorf("generated job does not parse (please report): %w", err)
	}
	return out, nil
}

// SchemaFile reads an Avro record schema file (.avsc), as source.schema
// does.
func SchemaFile(path string) (avro.Schema, error) {
	return loadSchema(path)
}

func loadSchema(path string) (avro.Schema, error) {
	b, err := readBounded(path, MaxSchemaSize, "schema file")
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

// DefaultTopic is the topic a job made from a schema reads unless told:
// the subject without its -value suffix, or else the record's name in
// lower case.
func DefaultTopic(subject string, sch avro.Schema) string {
	if subject != "" {
		return strings.TrimSuffix(subject, "-value")
	}
	if n, ok := sch.(avro.NamedSchema); ok {
		return strings.ToLower(n.Name())
	}
	return ""
}

// SchemaRef is source.schema for the schema file at schemaPath in a job
// file at jobPath ("" for standard output: the current directory).
func SchemaRef(schemaPath, jobPath string) (string, error) {
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		return "", err
	}
	dir := ""
	if jobPath != "" {
		if dir, err = filepath.Abs(filepath.Dir(jobPath)); err != nil {
			return "", err
		}
	} else if dir, err = os.Getwd(); err != nil {
		return "", err
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return abs, nil
	}
	return filepath.ToSlash(rel), nil
}

// commentColumn is where the skeleton's comments after code begin.
const commentColumn = 36

func commented(b *strings.Builder, code, comment string) {
	b.WriteString(code)
	n := len([]rune(code))
	b.WriteString(strings.Repeat(" ", max(1, commentColumn-n)))
	b.WriteString("# " + comment + "\n")
}

// flatField is a field of the record or of a record nested in it.
type flatField struct {
	path   string // a.b
	expr   string // how an expression reads it
	schema avro.Schema
	doc    string
	depth  int
	// direct: every record has it (no nullable record on the way).
	direct   bool
	nodeType string
}

// propName is the property name an edge example gives the field.
func (f *flatField) propName() string {
	return strings.ReplaceAll(f.path, ".", "_")
}

func resolveRef(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// nullable returns T for a union ["null", T] (either order).
func nullable(s avro.Schema) (avro.Schema, bool) {
	u, ok := resolveRef(s).(*avro.UnionSchema)
	if !ok || len(u.Types()) != 2 {
		return nil, false
	}
	ts := u.Types()
	switch {
	case ts[0].Type() == avro.Null:
		return ts[1], true
	case ts[1].Type() == avro.Null:
		return ts[0], true
	}
	return nil, false
}

// maxInitDepth bounds the nesting flatten follows (a recursive schema
// would never end).
const maxInitDepth = 4

func flatten(rec *avro.RecordSchema) []flatField {
	var out []flatField
	var walk func(r *avro.RecordSchema, path, expr string, depth int, direct bool)
	walk = func(r *avro.RecordSchema, path, expr string, depth int, direct bool) {
		for _, f := range r.Fields() {
			p, e := f.Name(), fieldExpr(f.Name())
			if path != "" {
				p, e = path+"."+f.Name(), expr+"."+f.Name()
				if !direct {
					e = expr + "?." + f.Name()
				}
			}
			out = append(out, flatField{path: p, expr: e, schema: f.Type(), doc: f.Doc(), depth: depth, direct: direct})
			if depth+1 >= maxInitDepth {
				continue
			}
			t, null := nullable(f.Type())
			if !null {
				t = f.Type()
			}
			if inner, ok := resolveRef(t).(*avro.RecordSchema); ok {
				walk(inner, p, e, depth+1, direct && !null)
			}
		}
	}
	walk(rec, "", "", 0, true)
	return out
}

// exprKeywords are names expr-lang reads as operators or literals: a field
// so named is read through $env.
var exprKeywords = map[string]bool{
	"in": true, "not": true, "and": true, "or": true, "matches": true, "contains": true,
	"startsWith": true, "endsWith": true, "nil": true, "true": true, "false": true,
	"let": true, "if": true, "else": true,
}

func fieldExpr(name string) string {
	if exprKeywords[name] || strings.HasPrefix(name, "$") {
		return fmt.Sprintf("$env[%q]", name)
	}
	return name
}

type initGen struct {
	rec    *avro.RecordSchema
	fields []flatField
}

// AvroTypeName is how the field list and the README name an Avro type.
func AvroTypeName(s avro.Schema) string {
	s = resolveRef(s)
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		l := ls.Logical()
		if d, ok := l.(*avro.DecimalLogicalSchema); ok {
			return fmt.Sprintf("decimal(%d,%d)", d.Precision(), d.Scale())
		}
		return string(l.Type())
	}
	switch x := s.(type) {
	case *avro.UnionSchema:
		parts := make([]string, len(x.Types()))
		for i, t := range x.Types() {
			parts[i] = AvroTypeName(t)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *avro.ArraySchema:
		return "array<" + AvroTypeName(x.Items()) + ">"
	case *avro.MapSchema:
		return "map<" + AvroTypeName(x.Values()) + ">"
	case *avro.RecordSchema:
		return "record " + x.Name()
	case *avro.EnumSchema:
		syms := x.Symbols()
		if len(syms) > 4 {
			syms = append(syms[:4:4], "...")
		}
		return "enum " + strings.Join(syms, "|")
	case *avro.FixedSchema:
		return fmt.Sprintf("fixed(%d)", x.Size())
	}
	return string(s.Type())
}

// ExprTypeName is the Go type an expression sees for a value of schema s:
// what the job's decoders produce (nil for a null).
func ExprTypeName(s avro.Schema) string {
	s = resolveRef(s)
	if t, ok := nullable(s); ok {
		return "nil or " + ExprTypeName(t)
	}
	if u, ok := s.(*avro.UnionSchema); ok {
		parts := make([]string, len(u.Types()))
		for i, t := range u.Types() {
			parts[i] = ExprTypeName(t)
		}
		return "any: " + strings.Join(parts, " or ")
	}
	if s.Type() == avro.Null {
		return "nil"
	}
	z := ZeroOf(s)
	if z == nil {
		return "any"
	}
	return GoTypeName(z)
}

// GoTypeName names the Go type of v as the documentation does: any for
// interface{}, byte for uint8.
func GoTypeName(v any) string {
	if v == nil {
		return "nil"
	}
	t := strings.ReplaceAll(fmt.Sprintf("%T", v), "interface {}", "any")
	return strings.ReplaceAll(t, "uint8", "byte")
}

// exprHint is how to use a value of schema s where a number or string is
// wanted (ids, properties, time), for the types that need one.
func exprHint(expr string, s avro.Schema) string {
	s = resolveRef(s)
	if t, ok := nullable(s); ok {
		if h := exprHint(expr, t); h != "" {
			return h + " when not nil"
		}
		return ""
	}
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch l := ls.Logical().(type) {
		case *avro.DecimalLogicalSchema:
			return fmt.Sprintf("%s.FloatString(%d) for a string", expr, l.Scale())
		}
		switch ls.Logical().Type() {
		case avro.TimestampMillis, avro.LocalTimestampMillis, avro.TimestampMicros, avro.LocalTimestampMicros:
			return expr + ".UnixMilli() for ms"
		case avro.Date:
			return expr + `.Format("2006-01-02") for a string`
		case avro.TimeMillis, avro.TimeMicros:
			return expr + ".Milliseconds() since midnight"
		}
	}
	switch s.Type() {
	case avro.Array:
		return "len(" + expr + "), " + expr + "[0]"
	case avro.Map:
		return expr + `["key"]`
	case avro.Record:
		return "fields below"
	case avro.Bytes, avro.Fixed:
		return "len(" + expr + ")"
	}
	return ""
}

func (g *initGen) writeFields(b *strings.Builder) {
	type row struct{ path, avro, goType, note string }
	rows := make([]row, 0, len(g.fields))
	wp, wa := 0, 0
	for _, f := range g.fields {
		r := row{path: strings.Repeat("  ", f.depth) + f.path, avro: AvroTypeName(f.schema), goType: ExprTypeName(f.schema)}
		var notes []string
		if h := exprHint(f.expr, f.schema); h != "" {
			notes = append(notes, h)
		}
		if d := strings.Join(strings.Fields(f.doc), " "); d != "" {
			if len(d) > 60 {
				d = d[:57] + "..."
			}
			notes = append(notes, d)
		}
		if len(notes) > 0 {
			r.note = " (" + strings.Join(notes, "; ") + ")"
		}
		wp, wa = max(wp, len(r.path)), max(wa, len([]rune(r.avro)))
		rows = append(rows, r)
	}
	for _, r := range rows {
		fmt.Fprintf(b, "#   %-*s  %s%s → %s%s\n", wp, r.path, r.avro, strings.Repeat(" ", wa-len([]rune(r.avro))), r.goType, r.note)
	}
}

// scalarKind is the kind of value a field gives where one is wanted (an
// id, a property): avro.String, Int, Long, ... of s or of T in
// ["null", T]; "" for anything else.
func scalarKind(s avro.Schema) (avro.Type, bool) {
	s = resolveRef(s)
	null := false
	if t, ok := nullable(s); ok {
		s, null = resolveRef(t), true
	}
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch ls.Logical().Type() {
		case avro.UUID:
			return avro.String, null
		case avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros, avro.Date:
			return "timestamp", null
		}
		return "", null
	}
	switch s.Type() {
	case avro.String, avro.Enum, avro.Int, avro.Long, avro.Float, avro.Double, avro.Boolean:
		return s.Type(), null
	}
	return "", null
}

var camelIDRE = regexp.MustCompile(`[a-z0-9](Id|ID)$`)

// idName reports whether a field name reads as an identifier, and the
// node type it names: member_id → member, movieId → movie; a lone id
// names the record itself.
func idName(name, record string) (string, bool) {
	switch {
	case strings.EqualFold(name, "id"):
		return snake(record), true
	case strings.HasSuffix(strings.ToLower(name), "_id") && len(name) > 3:
		return snake(name[:len(name)-3]), true
	case camelIDRE.MatchString(name):
		return snake(name[:len(name)-2]), true
	}
	return "", false
}

// snake turns a name into a node type name: lower-case snake case,
// starting with a letter.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case unicode.IsUpper(r):
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		}
	}
	t := strings.Trim(b.String(), "_")
	if t == "" || t[0] < 'a' || t[0] > 'z' {
		t = "n_" + t
	}
	if len(t) > graph.MaxTypeName {
		t = strings.TrimRight(t[:graph.MaxTypeName], "_")
	}
	if graph.ValidTypeName(t) != nil {
		return "node"
	}
	return t
}

// eventIDPrefixes mark ids of the event itself, which make poor nodes:
// they are tried after the other id fields.
var eventIDPrefixes = []string{"event", "message", "msg", "record", "request", "trace", "span", "correlation", "transaction", "tx"}

// idFields lists the fields usable as node ids, best first: id-like names
// of string or integer fields that every record has, the event's own ids
// last; without any, every string or integer field.
func (g *initGen) idFields() []*flatField {
	var good, event, other []*flatField
	for i := range g.fields {
		f := &g.fields[i]
		k, null := scalarKind(f.schema)
		if !f.direct || null || (k != avro.String && k != avro.Int && k != avro.Long && k != avro.Enum) {
			continue
		}
		last := f.path[strings.LastIndex(f.path, ".")+1:]
		parent := g.rec.Name()
		if i := strings.LastIndex(f.path, "."); i >= 0 {
			parent = f.path[:i]
			parent = parent[strings.LastIndex(parent, ".")+1:]
		}
		typ, ok := idName(last, parent)
		if !ok {
			if k != avro.Enum {
				f.nodeType = snake(last)
				other = append(other, f)
			}
			continue
		}
		f.nodeType = typ
		isEvent := strings.EqualFold(last, "id") && f.depth == 0
		for _, p := range eventIDPrefixes {
			if typ == p {
				isEvent = true
			}
		}
		if isEvent {
			event = append(event, f)
		} else {
			good = append(good, f)
		}
	}
	ids := append(good, event...)
	if len(ids) == 0 {
		return other
	}
	return ids
}

func uniqueType(t string, used map[string]bool) string {
	u := t
	for i := 2; used[u]; i++ {
		u = fmt.Sprintf("%s_%d", t, i)
	}
	used[u] = true
	return u
}

// propField picks a field for the example edge's property: a scalar that
// is neither an id nor the event time.
func (g *initGen) propField() *flatField {
	tf := g.timeField()
	for i := range g.fields {
		f := &g.fields[i]
		k, _ := scalarKind(f.schema)
		if f.nodeType != "" || f == tf || !f.direct || k == "" || k == "timestamp" {
			continue
		}
		if _, isID := idName(f.path[strings.LastIndex(f.path, ".")+1:], ""); isID {
			continue
		}
		return f
	}
	return nil
}

var timeNameRE = regexp.MustCompile(`(?i)(^|_)(ts|time|timestamp|date|datetime|at)$|(Ts|Time|Timestamp|At|Date)$|^(ts|time|timestamp|date)`)

// timeField is the field the event time comes from: a timestamp or date
// field every record has, one with a time-like name first.
func (g *initGen) timeField() *flatField {
	var first *flatField
	for i := range g.fields {
		f := &g.fields[i]
		if k, null := scalarKind(f.schema); k != "timestamp" || null || !f.direct {
			continue
		}
		if timeNameRE.MatchString(f.path[strings.LastIndex(f.path, ".")+1:]) {
			return f
		}
		if first == nil {
			first = f
		}
	}
	return first
}

// numericTimeField is a long or int field with a time-like name: an event
// time whose unit the schema does not say.
func (g *initGen) numericTimeField() *flatField {
	for i := range g.fields {
		f := &g.fields[i]
		if k, null := scalarKind(f.schema); (k != avro.Long && k != avro.Int && k != avro.Double) || null || !f.direct {
			continue
		}
		if timeNameRE.MatchString(f.path[strings.LastIndex(f.path, ".")+1:]) {
			return f
		}
	}
	return nil
}

func (g *initGen) writeTime(b *strings.Builder) {
	if f := g.timeField(); f != nil {
		commented(b, "time: "+yamlScalar(f.expr), "event time; without it, the Kafka record's timestamp")
		return
	}
	if f := g.numericTimeField(); f != nil {
		e := f.expr + " * 1000"
		commented(b, "# time: "+yamlScalar(e), "event time in unix ms: keep * 1000 if "+f.path+" holds seconds, drop it for ms;")
		commented(b, "#", "until then each record's Kafka timestamp is its event time")
		return
	}
	commented(b, "# time: ts_field", "event time: a timestamp field or unix ms; default the Kafka record's timestamp")
}

func (g *initGen) writeFilter(b *strings.Builder) {
	example := ""
	for i := range g.fields {
		f := &g.fields[i]
		if !f.direct {
			continue
		}
		if e, ok := resolveRef(f.schema).(*avro.EnumSchema); ok {
			syms := make([]string, 0, 2)
			for _, s := range e.Symbols()[:min(2, len(e.Symbols()))] {
				syms = append(syms, fmt.Sprintf("%q", s))
			}
			example = f.expr + " in [" + strings.Join(syms, ", ") + "]"
			break
		}
	}
	if example == "" {
		for i := range g.fields {
			f := &g.fields[i]
			if k, null := scalarKind(f.schema); f.direct && !null && k == avro.String {
				example = f.expr + ` != ""`
				break
			}
		}
	}
	if example == "" {
		if f := g.numberField(); f != nil {
			example = f.expr + " > 0"
		}
	}
	if example == "" {
		example = "true"
	}
	commented(b, "# filter: "+yamlScalar(example), "records for which it is false are skipped")
}

func (g *initGen) writeProject(b *strings.Builder) {
	commented(b, "# project:", "computed fields, usable by later expressions")
	for i := range g.fields {
		f := &g.fields[i]
		if _, null := nullable(f.schema); null && f.depth == 0 {
			fmt.Fprintf(b, "#   has_%s: %s\n", snake(f.path), yamlScalar(f.expr+" != nil"))
			return
		}
	}
	for i := range g.fields {
		f := &g.fields[i]
		if k, null := scalarKind(f.schema); k == avro.String && !null && f.direct {
			fmt.Fprintf(b, "#   %s_upper: %s\n", snake(f.path), yamlScalar("upper("+f.expr+")"))
			return
		}
	}
	if f := g.numberField(); f != nil {
		fmt.Fprintf(b, "#   %s_positive: %s\n", snake(f.path), yamlScalar(f.expr+" > 0"))
		return
	}
	fmt.Fprintf(b, "#   name: expression\n")
}

// numberField is the first number every record has that is not an id.
func (g *initGen) numberField() *flatField {
	tf := g.numericTimeField()
	for i := range g.fields {
		f := &g.fields[i]
		if f == tf {
			continue
		}
		k, null := scalarKind(f.schema)
		if null || !f.direct || f.nodeType != "" || (k != avro.Int && k != avro.Long && k != avro.Float && k != avro.Double) {
			continue
		}
		return f
	}
	return nil
}

// jobNameOf derives a job name from a topic name.
func jobNameOf(topic string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(topic) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.TrimLeft(b.String(), "_.-")
	if name == "" {
		return "job"
	}
	return name
}

// yamlScalar writes s as a YAML scalar: plain if YAML reads it back as the
// same string, quoted otherwise.
func yamlScalar(s string) string {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("v: "+s), &n); err == nil && len(n.Content) == 1 && len(n.Content[0].Content) == 2 {
		if v := n.Content[0].Content[1]; v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == s && v.Style == 0 {
			return s
		}
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

var plainFlowRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// YAMLFlow is yamlScalar for values inside a flow mapping ({a: b}), where
// more characters (',', '?', brackets, ...) end or change a plain scalar:
// anything but a name or a path is quoted.
func YAMLFlow(s string) string {
	if !plainFlowRE.MatchString(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return yamlScalar(s)
}

// ZeroOf is a value of the Go type the job's decoders (fast path and
// hamba's) produce for schema s, nil where that depends on the record.
func ZeroOf(s avro.Schema) any {
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch ls.Logical().Type() {
		case avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros, avro.Date:
			return time.Time{}
		case avro.TimeMillis, avro.TimeMicros:
			return time.Duration(0)
		case avro.Decimal:
			return (*big.Rat)(nil)
		case avro.Duration:
			return avro.LogicalDuration{}
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
	case avro.Bytes:
		return []byte(nil)
	case avro.Fixed:
		return reflect.Zero(reflect.ArrayOf(s.(*avro.FixedSchema).Size(), reflect.TypeFor[byte]())).Interface()
	case avro.Array:
		return []any{}
	case avro.Record, avro.Map:
		return map[string]any{}
	case avro.Ref:
		return ZeroOf(s.(*avro.RefSchema).Schema())
	}
	// Unions and nulls: the type is only known per record.
	return nil
}
