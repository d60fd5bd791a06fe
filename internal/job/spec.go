package job

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rdgraph/rdg/internal/avrowire"
	"github.com/rdgraph/rdg/internal/graph"
)

// Spec is a parsed job file. Every expression keeps the position of its
// YAML value so that compile errors point at the line that caused them.
type Spec struct {
	File     string
	Name     string
	Source   Source
	Filter   *Expr
	Project  []Field
	Time     *Expr
	Enrich   []EnrichSpec
	Nodes    []NodeSpec
	Edges    []EdgeSpec
	Dedupe   Dedupe
	Delivery string // DeliveryAtLeastOnce (default) or DeliveryExactlyOnce
	Tuning   Tuning
	// TimeBounds is the range of event times the job accepts.
	TimeBounds TimeBounds
}

// Delivery modes.
const (
	DeliveryAtLeastOnce = "at-least-once"
	DeliveryExactlyOnce = "exactly-once"
)

// Miss policies of a side input lookup.
const (
	MissNull       = "null"        // the input's fields are null
	MissDrop       = "drop"        // the record is dropped, like a filter
	MissDeadLetter = "dead-letter" // the record goes to the dead-letter topic
)

// EnrichSpec declares a side input: a table the job looks each record up
// in, by an expression, making the row's fields available as <name>.<field>.
type EnrichSpec struct {
	Name string
	// Topic is a compacted topic (Avro values, keyed) materialised locally;
	// File a static CSV or JSON file, relative to the job file. One of them.
	Topic string
	File  string
	// KeyField names the key column of a file input (default "id").
	KeyField string
	Key      Expr
	OnMiss   string
	Line     int
	Col      int
}

// MaxKeysOrDefault is MaxKeys, or DefaultMaxKeys when unset.
func (d Dedupe) MaxKeysOrDefault() int {
	if d.MaxKeys > 0 {
		return d.MaxKeys
	}
	return DefaultMaxKeys
}

// Tuning holds per-job knobs. Zero values mean the defaults documented in
// the README; Defaults fills them in.
type Tuning struct {
	// Concurrency is the number of consumers this process runs for the job,
	// each a member of the job's consumer group.
	Concurrency int
	// MaxPollRecords bounds the records processed between two looks at
	// timers and commits.
	MaxPollRecords int
	// FetchMaxBytes bounds one fetch response (kgo.FetchMaxBytes).
	FetchMaxBytes int32
	// MaxBufferedRecords bounds records produced but not yet acknowledged;
	// producing blocks beyond it, which holds back fetching.
	MaxBufferedRecords int
	// Linger is how long the producer waits to fill a batch.
	Linger time.Duration
	// CommitInterval is how often source offsets are committed (at least
	// once) or transactions end (exactly once, at least the dedupe window).
	CommitInterval time.Duration
	// MaxRecordBytes rejects larger source values to the dead-letter topic.
	MaxRecordBytes int
	// MaxRecordItems bounds the array items and map entries of one source
	// record; a record with more is dead-lettered (stage decode).
	MaxRecordItems int
	// SessionTimeout is the consumer group session timeout: how long a dead
	// process keeps its partitions before the others take them.
	SessionTimeout time.Duration
	// Compression is the codec of the batches the job produces to graph
	// topics and its dead-letter topic: one of Compressions.
	Compression string
}

// Compression codecs of tuning.compression. DefaultCompression is
// franz-go's own default; a consumer without a Snappy codec (kafkajs has it only as a plugin) can
// read a job's graph topics with none, gzip or another codec it has.
const DefaultCompression = "snappy"

// Compressions lists the values of tuning.compression.
var Compressions = []string{"snappy", "lz4", "zstd", "gzip", "none"}

// Defaults returns t with every zero knob set to its default.
func (t Tuning) Defaults() Tuning {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.Concurrency, 1)
	def(&t.MaxPollRecords, 5_000)
	if t.FetchMaxBytes <= 0 {
		t.FetchMaxBytes = 16 << 20
	}
	def(&t.MaxBufferedRecords, 20_000)
	defDur(&t.Linger, 5*time.Millisecond)
	defDur(&t.CommitInterval, time.Second)
	def(&t.MaxRecordBytes, 1<<20)
	def(&t.MaxRecordItems, avrowire.DefaultMaxItems)
	defDur(&t.SessionTimeout, 10*time.Second)
	if t.Compression == "" {
		t.Compression = DefaultCompression
	}
	return t
}

// Source names the topic a job reads.
type Source struct {
	Topic string
	// Start is where a job with no committed offset begins: "earliest"
	// (the default, so a new job builds the graph from the topic's whole
	// retained history) or "latest".
	Start string
	// Schema is an optional path to the Avro schema (.avsc) of the topic's
	// values, relative to the job file. With it, `rdg job check` verifies
	// that expressions use only fields that exist.
	Schema string
	schemaPos
}

type schemaPos struct{ schemaLine, schemaCol int }

// SchemaLine is the line of source.schema in the job file.
func (p schemaPos) SchemaLine() int { return p.schemaLine }

// SchemaCol is the column of source.schema's value in the job file.
func (p schemaPos) SchemaCol() int { return p.schemaCol }

// Expr is an expression's source and where it stands in the job file.
type Expr struct {
	Src       string
	Line, Col int
	// pos maps each rune of Src to its line and column in the file, for
	// scalars whose text differs from their value (quotes, escapes, folded
	// and block styles). Nil means Src stands verbatim from Line:Col.
	pos []filePos
}

type filePos struct{ line, col int }

// At returns the file position of the rune at offset off in Src.
func (e Expr) At(off int) (line, col int) {
	if e.pos != nil {
		if off >= len(e.pos) {
			off = len(e.pos) - 1
		}
		if off >= 0 {
			return e.pos[off].line, e.pos[off].col
		}
	}
	return e.Line, e.Col + off
}

// Field is a named expression: a projected field or a property.
type Field struct {
	Name string
	Expr Expr
}

// NodeSpec maps a record to one node.
type NodeSpec struct {
	Type      string
	ID        Expr
	Props     []Field
	When      *Expr
	Line, Col int
}

// EdgeSpec maps a record to one edge.
type EdgeSpec struct {
	Type      string
	From, To  Endpoint
	Props     []Field
	When      *Expr
	Line, Col int
}

// Endpoint names an edge's end node: its type and an expression for its id.
type Endpoint struct {
	Type string
	ID   Expr
}

// Dedupe configures the buffer that merges updates to the same element.
type Dedupe struct {
	Window time.Duration
	// MaxKeys bounds the elements buffered; beyond it the oldest are
	// published early (default 100,000).
	MaxKeys int
}

// Error is one problem in a job file, at a line and column (1-based; 0 if
// unknown).
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e Error) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in a job file, in file order.
type Errors []Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Sorted is es in file order.
func (es Errors) Sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
	return es
}

// MaxFileSize bounds a job file; anything larger is not a hand-written job.
const MaxFileSize = 1 << 20

// ParseFile reads and parses a job file. On failure the error is an Errors
// listing every problem found; the Spec is then partial (nil if the file is
// not YAML at all) and only good for finding more errors.
func ParseFile(path string) (*Spec, error) {
	b, err := readBounded(path, MaxFileSize, "job file")
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return Parse(path, b)
}

var (
	jobNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	fieldRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	endpointRE = regexp.MustCompile(`^\s*([a-z][a-z0-9_]*)\s*\((.*)\)\s*$`)
)

type parser struct {
	file  string
	lines []string // the file's lines, for mapping scalar values to positions
	errs  Errors
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	e := Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// Parse parses a job file's bytes; file names it in errors.
func Parse(file string, src []byte) (*Spec, error) {
	if len(src) > MaxFileSize {
		return nil, Errors{{File: file, Msg: fmt.Sprintf("job file is %d bytes; the limit is %d", len(src), MaxFileSize)}}
	}
	p := &parser{file: file, lines: strings.Split(string(src), "\n")}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: file, Msg: "empty job file"}}
		}
		return nil, Errors{yamlError(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Line: extra.Line, Msg: "more than one YAML document: one job per file"}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Msg: "empty job file"}}
	}
	spec := &Spec{File: file}
	root := doc.Content[0]
	p.mapping(root, "job", map[string]func(*yaml.Node){
		"name":    func(n *yaml.Node) { spec.Name = p.str(n, "name") },
		"source":  func(n *yaml.Node) { p.source(n, &spec.Source) },
		"filter":  func(n *yaml.Node) { spec.Filter = p.exprPtr(n, "filter") },
		"project": func(n *yaml.Node) { spec.Project = p.fields(n, "project") },
		"time":    func(n *yaml.Node) { spec.Time = p.exprPtr(n, "time") },
		"nodes":   func(n *yaml.Node) { spec.Nodes = p.nodes(n) },
		"edges":   func(n *yaml.Node) { spec.Edges = p.edges(n) },
		"enrich":  func(n *yaml.Node) { spec.Enrich = p.enrich(n) },
		"dedupe":  func(n *yaml.Node) { p.dedupe(n, &spec.Dedupe) },
		"delivery": func(n *yaml.Node) {
			spec.Delivery = p.str(n, "delivery")
			if spec.Delivery != "" && spec.Delivery != DeliveryAtLeastOnce && spec.Delivery != DeliveryExactlyOnce {
				p.errf(n, "delivery %q: want %s or %s", spec.Delivery, DeliveryAtLeastOnce, DeliveryExactlyOnce)
			}
		},
		"tuning": func(n *yaml.Node) { p.tuning(n, &spec.Tuning) },
		"time_bounds": func(n *yaml.Node) {
			p.timeBounds(n, &spec.TimeBounds)
		},
	}, "name", "source")
	if spec.Delivery == "" {
		spec.Delivery = DeliveryAtLeastOnce
	}
	if spec.Name != "" && !jobNameRE.MatchString(spec.Name) {
		p.errf(p.find(root, "name"), "name %q: use lower-case letters, digits, '.', '_' and '-'", Clip(spec.Name))
	}
	p.topicNames(p.find(root, "name"), spec.Name)
	p.duplicateElements(spec)
	if root.Kind == yaml.MappingNode && len(spec.Nodes) == 0 && len(spec.Edges) == 0 && p.find(root, "nodes") == nil && p.find(root, "edges") == nil {
		p.errf(root, "job maps records to nothing: add nodes or edges")
	}
	if len(p.errs) > 0 {
		return spec, p.errs.Sorted()
	}
	return spec, nil
}

func yamlError(file string, err error) Error {
	// yaml.v3 reports "yaml: line N: msg"; keep the line as a position.
	msg := err.Error()
	var line int
	if _, scanErr := fmt.Sscanf(msg, "yaml: line %d:", &line); scanErr == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			if j := strings.Index(msg[i+2:], ": "); j >= 0 {
				msg = msg[i+2+j+2:]
			}
		}
		if parserError(msg) {
			line++ // yaml.v3 numbers parser (not scanner) errors from 0
		}
		return Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return Error{File: file, Msg: "invalid YAML: " + strings.Join(te.Errors, "; ")}
	}
	return Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// parserError reports whether a yaml.v3 message comes from its parser,
// whose line numbers are 0-based, rather than its scanner.
func parserError(msg string) bool {
	for _, m := range []string{
		"did not find expected ',' or '}'", "did not find expected ',' or ']'",
		"did not find expected key", "did not find expected '-' indicator",
		"did not find expected node content", "did not find expected <document start>",
	} {
		if strings.HasPrefix(msg, m) {
			return true
		}
	}
	return false
}

func (p *parser) find(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// mapping walks a YAML mapping, dispatching known keys and reporting
// unknown, duplicate and missing required ones.
func (p *parser) mapping(n *yaml.Node, what string, keys map[string]func(*yaml.Node), required ...string) {
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s: want a mapping of keys to values, got %s", what, kindName(n))
		return
	}
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		fn, ok := keys[k.Value]
		switch {
		case !ok:
			p.errf(k, "%s: unknown key %q (known: %s)", what, Clip(k.Value), knownKeys(keys))
		case seen[k.Value]:
			p.errf(k, "%s: duplicate key %q", what, k.Value)
		default:
			seen[k.Value] = true
			fn(v)
		}
	}
	for _, r := range required {
		if !seen[r] {
			p.errf(n, "%s: missing required key %q", what, r)
		}
	}
}

func knownKeys(keys map[string]func(*yaml.Node)) string {
	ks := make([]string, 0, len(keys))
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "%s: want a string, got %s", what, kindName(n))
		return ""
	}
	if n.Value == "" {
		p.errf(n, "%s: empty", what)
	}
	return n.Value
}

func (p *parser) expr(n *yaml.Node, what string) Expr {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "%s: want an expression, got %s", what, kindName(n))
		return Expr{}
	}
	if strings.TrimSpace(n.Value) == "" {
		p.errf(n, "%s: empty expression", what)
	}
	e := Expr{Src: n.Value, Line: n.Line, Col: n.Column}
	if n.Style != 0 || strings.Contains(n.Value, "\n") || !p.verbatim(n) {
		e.pos = p.positions(n)
	}
	return e
}

// verbatim reports whether a plain scalar's value stands unchanged on its
// line, so that Line:Col plus an offset is a position.
func (p *parser) verbatim(n *yaml.Node) bool {
	if n.Line < 1 || n.Line > len(p.lines) {
		return false
	}
	line := []rune(p.lines[n.Line-1])
	start := n.Column - 1
	v := []rune(n.Value)
	return start >= 0 && start+len(v) <= len(line) && string(line[start:start+len(v)]) == n.Value
}

// positions maps each rune of a scalar's value to where it stands in the
// file. A value is its source with quotes, escapes, indentation and line
// breaks taken out, in order; so each value rune is matched to the next
// source rune equal to it, with a double-quoted escape sequence standing
// for the one rune it produces. Unmatched runes keep the last position.
func (p *parser) positions(n *yaml.Node) []filePos {
	val := []rune(n.Value)
	out := make([]filePos, len(val))
	li, ci := n.Line-1, n.Column-1 // 0-based cursor in the source
	var row []rune
	if li >= 0 && li < len(p.lines) {
		row = []rune(p.lines[li])
	}
	double := n.Style&yaml.DoubleQuotedStyle != 0
	last := filePos{n.Line, n.Column}
	for i, want := range val {
		for {
			if li >= len(p.lines) || li < 0 {
				out[i] = last
				break
			}
			if ci >= len(row) {
				// The line break, which a literal block keeps as '\n'.
				if want == '\n' {
					last = filePos{li + 1, ci + 1}
					out[i] = last
				}
				li, ci = li+1, 0
				if li < len(p.lines) {
					row = []rune(p.lines[li])
				}
				if want == '\n' {
					break
				}
				continue
			}
			c := row[ci]
			if double && c == '\\' && ci+1 < len(row) && want != '\\' {
				// An escape: \X, \xHH, \uHHHH or \UHHHHHHHH makes one rune.
				width := 2
				switch row[ci+1] {
				case 'x':
					width = 4
				case 'u':
					width = 6
				case 'U':
					width = 10
				}
				last = filePos{li + 1, ci + 1}
				out[i] = last
				ci += width
				break
			}
			if double && c == '\\' && ci+1 < len(row) && row[ci+1] == '\\' {
				ci++ // the escaped backslash itself matches below
				c = row[ci]
			}
			ci++
			if c == want {
				last = filePos{li + 1, ci}
				out[i] = last
				break
			}
		}
	}
	return out
}

func (p *parser) exprPtr(n *yaml.Node, what string) *Expr {
	e := p.expr(n, what)
	return &e
}

func (p *parser) source(n *yaml.Node, s *Source) {
	p.mapping(n, "source", map[string]func(*yaml.Node){
		"topic": func(v *yaml.Node) { s.Topic = p.str(v, "source.topic") },
		"start": func(v *yaml.Node) {
			s.Start = p.str(v, "source.start")
			if s.Start != "" && s.Start != "earliest" && s.Start != "latest" {
				p.errf(v, "source.start %q: want earliest or latest", s.Start)
			}
		},
		"schema": func(v *yaml.Node) {
			s.Schema = p.str(v, "source.schema")
			s.schemaLine, s.schemaCol = v.Line, v.Column
		},
	}, "topic")
	if s.Start == "" {
		s.Start = "earliest"
	}
}

func (p *parser) fields(n *yaml.Node, what string) []Field {
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s: want a mapping of names to expressions, got %s", what, kindName(n))
		return nil
	}
	var fs []Field
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !fieldRE.MatchString(k.Value):
			p.errf(k, "%s: name %q: want letters, digits and _, not starting with a digit", what, k.Value)
		case seen[k.Value]:
			p.errf(k, "%s: duplicate name %q", what, k.Value)
		}
		seen[k.Value] = true
		fs = append(fs, Field{Name: k.Value, Expr: p.expr(v, what+"."+k.Value)})
	}
	return fs
}

func (p *parser) typeName(n *yaml.Node, what string) string {
	s := p.str(n, what)
	if s != "" {
		if err := graph.ValidTypeName(s); err != nil {
			p.errf(n, "%s: %v", what, err)
		}
	}
	return s
}

func (p *parser) seq(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "%s: want a list, got %s", what, kindName(n))
		return nil
	}
	return n.Content
}

func (p *parser) nodes(n *yaml.Node) []NodeSpec {
	var out []NodeSpec
	for i, item := range p.seq(n, "nodes") {
		what := fmt.Sprintf("nodes[%d]", i)
		ns := NodeSpec{Line: item.Line, Col: item.Column}
		p.mapping(item, what, map[string]func(*yaml.Node){
			"type":  func(v *yaml.Node) { ns.Type = p.typeName(v, what+".type") },
			"id":    func(v *yaml.Node) { ns.ID = p.expr(v, what+".id") },
			"props": func(v *yaml.Node) { ns.Props = p.fields(v, what+".props") },
			"when":  func(v *yaml.Node) { ns.When = p.exprPtr(v, what+".when") },
		}, "type", "id")
		out = append(out, ns)
	}
	return out
}

func (p *parser) edges(n *yaml.Node) []EdgeSpec {
	var out []EdgeSpec
	for i, item := range p.seq(n, "edges") {
		what := fmt.Sprintf("edges[%d]", i)
		es := EdgeSpec{Line: item.Line, Col: item.Column}
		p.mapping(item, what, map[string]func(*yaml.Node){
			"type":  func(v *yaml.Node) { es.Type = p.typeName(v, what+".type") },
			"from":  func(v *yaml.Node) { es.From = p.endpoint(v, what+".from") },
			"to":    func(v *yaml.Node) { es.To = p.endpoint(v, what+".to") },
			"props": func(v *yaml.Node) { es.Props = p.fields(v, what+".props") },
			"when":  func(v *yaml.Node) { es.When = p.exprPtr(v, what+".when") },
		}, "type", "from", "to")
		out = append(out, es)
	}
	return out
}

// endpoint accepts the short form "account(member_id)" or the mapping
// {type: account, id: member_id}.
func (p *parser) endpoint(n *yaml.Node, what string) Endpoint {
	var ep Endpoint
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		m := endpointRE.FindStringSubmatch(n.Value)
		if m == nil {
			p.errf(n, "%s: want type(id expression), e.g. account(member_id), or {type: ..., id: ...}; got %q", what, n.Value)
			return ep
		}
		ep.Type = m[1]
		if err := graph.ValidTypeName(ep.Type); err != nil {
			p.errf(n, "%s: %v", what, err)
		}
		col := n.Column + strings.Index(n.Value, "(") + 1
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			col++
		}
		ep.ID = Expr{Src: m[2], Line: n.Line, Col: col}
		if n.Style != 0 || !p.verbatim(n) {
			// The id expression is the part of the scalar inside the
			// parentheses; shift the whole scalar's map to it.
			off := len([]rune(n.Value[:strings.Index(n.Value, "(")+1]))
			if all := p.positions(n); off < len(all) {
				ep.ID.pos = all[off:]
			}
		}
		if strings.TrimSpace(m[2]) == "" {
			p.errf(n, "%s: empty id expression", what)
		}
		return ep
	}
	p.mapping(n, what, map[string]func(*yaml.Node){
		"type": func(v *yaml.Node) { ep.Type = p.typeName(v, what+".type") },
		"id":   func(v *yaml.Node) { ep.ID = p.expr(v, what+".id") },
	}, "type", "id")
	return ep
}

func (p *parser) dedupe(n *yaml.Node, d *Dedupe) {
	p.mapping(n, "dedupe", map[string]func(*yaml.Node){
		"window": func(v *yaml.Node) {
			s := p.str(v, "dedupe.window")
			if s == "" {
				return
			}
			w, err := time.ParseDuration(s)
			switch {
			case err != nil:
				p.errf(v, "dedupe.window %q: want a duration such as 0s, 500ms or 2s", s)
			case w < 0:
				p.errf(v, "dedupe.window %q: negative", s)
			default:
				d.Window = w
			}
		},
		"max_keys": func(v *yaml.Node) { d.MaxKeys = p.positiveInt(v, "dedupe.max_keys") },
	})
}

func (p *parser) positiveInt(n *yaml.Node, what string) int {
	var v int
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil || v <= 0 {
		p.errf(n, "%s: want a positive integer, got %s", what, kindName(n))
		return 0
	}
	return v
}

// byteSize accepts a plain number of bytes or one with a KiB, MiB or GiB
// suffix.
func (p *parser) byteSize(n *yaml.Node, what string) int {
	s := strings.TrimSpace(n.Value)
	mult := 1
	for suffix, m := range map[string]int{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, suffix)), m
		}
	}
	v, err := strconv.Atoi(s)
	if n.Kind != yaml.ScalarNode || err != nil || v <= 0 || v > (1<<31-1)/mult {
		p.errf(n, "%s: want a positive size such as 1048576 or 1MiB, got %s", what, kindName(n))
		return 0
	}
	return v * mult
}

func (p *parser) duration(n *yaml.Node, what string) time.Duration {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d <= 0 {
		p.errf(n, "%s: want a positive duration such as 500ms or 2s, got %s", what, kindName(n))
		return 0
	}
	return d
}

func (p *parser) tuning(n *yaml.Node, t *Tuning) {
	p.mapping(n, "tuning", map[string]func(*yaml.Node){
		"concurrency": func(v *yaml.Node) {
			if t.Concurrency = p.positiveInt(v, "tuning.concurrency"); t.Concurrency > 64 {
				p.errf(v, "tuning.concurrency %d: at most 64 consumers per process; run more processes instead", t.Concurrency)
			}
		},
		"max_poll_records":     func(v *yaml.Node) { t.MaxPollRecords = p.positiveInt(v, "tuning.max_poll_records") },
		"fetch_max_bytes":      func(v *yaml.Node) { t.FetchMaxBytes = int32(p.byteSize(v, "tuning.fetch_max_bytes")) },
		"max_buffered_records": func(v *yaml.Node) { t.MaxBufferedRecords = p.positiveInt(v, "tuning.max_buffered_records") },
		"linger":               func(v *yaml.Node) { t.Linger = p.duration(v, "tuning.linger") },
		"commit_interval":      func(v *yaml.Node) { t.CommitInterval = p.duration(v, "tuning.commit_interval") },
		"max_record_bytes":     func(v *yaml.Node) { t.MaxRecordBytes = p.byteSize(v, "tuning.max_record_bytes") },
		"max_record_items":     func(v *yaml.Node) { t.MaxRecordItems = p.positiveInt(v, "tuning.max_record_items") },
		"compression": func(v *yaml.Node) {
			t.Compression = p.str(v, "tuning.compression")
			if t.Compression != "" && !slices.Contains(Compressions, t.Compression) {
				p.errf(v, "tuning.compression %q: want one of %s", Clip(t.Compression), strings.Join(Compressions, ", "))
				t.Compression = ""
			}
		},
		"session_timeout": func(v *yaml.Node) {
			if t.SessionTimeout = p.duration(v, "tuning.session_timeout"); t.SessionTimeout > 0 && t.SessionTimeout < 6*time.Second {
				p.errf(v, "tuning.session_timeout %s: brokers accept 6s at least", t.SessionTimeout)
			}
		},
	})
}

var enrichNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func (p *parser) enrich(n *yaml.Node) []EnrichSpec {
	var out []EnrichSpec
	names := map[string]bool{}
	for i, item := range p.seq(n, "enrich") {
		what := fmt.Sprintf("enrich[%d]", i)
		es := EnrichSpec{Line: item.Line, Col: item.Column, OnMiss: MissNull, KeyField: "id"}
		p.mapping(item, what, map[string]func(*yaml.Node){
			"name": func(v *yaml.Node) {
				es.Name = p.str(v, what+".name")
				switch {
				case es.Name != "" && !enrichNameRE.MatchString(es.Name):
					p.errf(v, "%s.name %q: want lower-case letters, digits and _", what, es.Name)
				case names[es.Name]:
					p.errf(v, "%s.name %q: already used by another side input", what, es.Name)
				}
				names[es.Name] = true
			},
			"topic":     func(v *yaml.Node) { es.Topic = p.str(v, what+".topic") },
			"file":      func(v *yaml.Node) { es.File = p.str(v, what+".file") },
			"key_field": func(v *yaml.Node) { es.KeyField = p.str(v, what+".key_field") },
			"key":       func(v *yaml.Node) { es.Key = p.expr(v, what+".key") },
			"on_miss": func(v *yaml.Node) {
				if v.Tag == "!!null" {
					return // on_miss: null, unquoted, is YAML's null: the default
				}
				es.OnMiss = p.str(v, what+".on_miss")
				if es.OnMiss != MissNull && es.OnMiss != MissDrop && es.OnMiss != MissDeadLetter {
					p.errf(v, "%s.on_miss %q: want %s, %s or %s", what, es.OnMiss, MissNull, MissDrop, MissDeadLetter)
				}
			},
		}, "name", "key")
		if item.Kind == yaml.MappingNode && (es.Topic == "") == (es.File == "") {
			p.errf(item, "%s: want exactly one of topic or file", what)
		}
		out = append(out, es)
	}
	return out
}

// SchemaPath resolves Source.Schema relative to the job file.
func (s *Spec) SchemaPath() string {
	if s.Source.Schema == "" || filepath.IsAbs(s.Source.Schema) {
		return s.Source.Schema
	}
	return filepath.Join(filepath.Dir(s.File), s.Source.Schema)
}

// Event-time bounds (time_bounds). A record from far in the future would
// win every later property update (last writer wins by event time) and
// never expire by TTL; one from before any real feed (a zero or negative
// time, a unit mistake) pins first_seen. Neither is data, so each job
// bounds the event times it accepts, with defaults no live feed reaches.
var (
	// DefaultNotBefore is the earliest event time a job accepts unless
	// time_bounds.not_before says otherwise.
	DefaultNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	// DefaultMaxAhead is how far ahead of the processing clock an event
	// time may be unless time_bounds.max_ahead says otherwise: producers'
	// clocks drift, but not by an hour.
	DefaultMaxAhead = time.Hour
)

// TimeBounds is the range of event times a job accepts; a record outside
// it is dead-lettered at stage time. Zero values mean the defaults.
type TimeBounds struct {
	// NotBefore is the earliest event time accepted.
	NotBefore time.Time
	// MaxAhead is how far after the processing clock an event time may be.
	MaxAhead time.Duration
}

// Defaults returns b with its unset bounds set to the defaults.
func (b TimeBounds) Defaults() TimeBounds {
	if b.NotBefore.IsZero() {
		b.NotBefore = DefaultNotBefore
	}
	if b.MaxAhead <= 0 {
		b.MaxAhead = DefaultMaxAhead
	}
	return b
}

// maxAheadLimit bounds time_bounds.max_ahead: a century ahead is no bound
// at all, and durations near time.Duration's limit overflow when added to
// the clock.
const maxAheadLimit = 100 * 365 * 24 * time.Hour

func (p *parser) timeBounds(n *yaml.Node, b *TimeBounds) {
	var notBefore *yaml.Node
	p.mapping(n, "time_bounds", map[string]func(*yaml.Node){
		"not_before": func(v *yaml.Node) {
			notBefore = v
			s := p.str(v, "time_bounds.not_before")
			if s == "" {
				return
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t, err = time.Parse(time.DateOnly, s)
			}
			if err != nil {
				p.errf(v, "time_bounds.not_before %q: want a date such as 2000-01-01 or a time such as 2000-01-01T00:00:00Z", s)
				return
			}
			b.NotBefore = t.UTC()
		},
		"max_ahead": func(v *yaml.Node) {
			d := p.duration(v, "time_bounds.max_ahead")
			if d > maxAheadLimit {
				p.errf(v, "time_bounds.max_ahead %s: at most %s (a century)", v.Value, maxAheadLimit)
				return
			}
			b.MaxAhead = d
		},
	})
	// An inverted range accepts nothing: every record would be dead-lettered.
	d := b.Defaults()
	if notBefore != nil && d.NotBefore.After(time.Now().Add(d.MaxAhead)) {
		p.errf(notBefore, "time_bounds.not_before %s is after the latest event time accepted (the processing clock plus max_ahead %s): every record would be dead-lettered",
			d.NotBefore.Format(time.RFC3339), d.MaxAhead)
	}
}

// Names that reach Kafka. A job's name becomes its dead-letter topic
// (rdg.dlq.<name>), which Kafka must accept, and which must not be a
// graph writer's (rdg.dlq.writer-<store>, writerDeadLetterPrefix).

// maxTopicName is Kafka's limit on a topic name.
const maxTopicName = 249

func (p *parser) topicNames(n *yaml.Node, name string) {
	if n == nil || name == "" {
		return
	}
	if dlq := DeadLetterTopic(name); len(dlq) > maxTopicName {
		p.errf(n, "name is %d bytes: its dead-letter topic %s... would be longer than Kafka's %d-character limit on topic names (at most %d)",
			len(name), dlq[:len(deadLetterPrefix)+16], maxTopicName, maxTopicName-len(dlq)+len(name))
	}
	if strings.HasPrefix(name, writerDeadLetterPrefix) {
		p.errf(n, "name %q: names beginning %q are reserved: %s%s<store> is a graph writer's dead-letter topic",
			Clip(name), writerDeadLetterPrefix, deadLetterPrefix, writerDeadLetterPrefix)
	}
}

// duplicateElements reports a node (or edge) mapping that repeats an
// earlier one: the same type and the same id expression (for an edge, the
// same end points) make the same element from every record twice, once
// with each entry's properties at one event time, so which value a
// property keeps would be decided by the tie-break rather than the job.
// Two entries of one type with different ids are fine: two accounts per
// record, say.
func (p *parser) duplicateElements(spec *Spec) {
	norm := func(e Expr) string { return strings.Join(strings.Fields(e.Src), " ") }
	seen := map[string]int{}
	for i, n := range spec.Nodes {
		if n.Type == "" || strings.TrimSpace(n.ID.Src) == "" {
			continue
		}
		key := n.Type + "\x00" + norm(n.ID)
		if first, ok := seen[key]; ok {
			p.errs = append(p.errs, Error{File: p.file, Line: n.Line, Col: n.Col, Msg: fmt.Sprintf(
				"nodes[%d]: same type and id as nodes[%d] (%s, %s): each record would make that node twice; merge the two entries",
				i, first, n.Type, Clip(norm(n.ID)))})
			continue
		}
		seen[key] = i
	}
	seen = map[string]int{}
	for i, e := range spec.Edges {
		if e.Type == "" || e.From.Type == "" || e.To.Type == "" {
			continue
		}
		key := strings.Join([]string{e.Type, e.From.Type, norm(e.From.ID), e.To.Type, norm(e.To.ID)}, "\x00")
		if first, ok := seen[key]; ok {
			p.errs = append(p.errs, Error{File: p.file, Line: e.Line, Col: e.Col, Msg: fmt.Sprintf(
				"edges[%d]: same type and end points as edges[%d] (%s from %s(%s) to %s(%s)): each record would make that edge twice; merge the two entries",
				i, first, e.Type, e.From.Type, Clip(norm(e.From.ID)), e.To.Type, Clip(norm(e.To.ID)))})
			continue
		}
		seen[key] = i
	}
}
