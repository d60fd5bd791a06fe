package dlq

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/rdgraph/rdg/internal/graph"
)

// The output formats of `rdg dlq`. They live here rather than in the
// command so that they are tested with the data they print.

// PreviewBytes is how much of a value is shown unless the full value is
// asked for: enough to see the Confluent header and the start of the body.
const PreviewBytes = 64

// timeFormat is UTC with milliseconds: dead letters from different hosts
// are compared by eye, and Kafka timestamps are milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeFormat)
}

// oneLine folds a multi-line error (expression errors carry a source
// snippet with a caret line) onto one line and cuts it to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if n > 0 && utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = string(r[:n-1]) + "…"
	}
	return s
}

func stagesString(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		if k == "" {
			k = "?"
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// WriteSummaries writes a table with one line per dead-letter topic.
func WriteSummaries(w io.Writer, ss []Summary) error {
	if len(ss) == 0 {
		_, err := fmt.Fprintln(w, "no dead-letter topics")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCOUNT\tOLDEST\tNEWEST\tBY STAGE")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Job, s.Count, fmtTime(s.Oldest), fmtTime(s.Newest), stagesString(s.ByStage))
	}
	return tw.Flush()
}

// LineWriter writes one line per dead letter, under a header. Columns have
// fixed widths rather than a tabwriter's, so that a topic of any size
// streams instead of being held in memory to align.
type LineWriter struct {
	w      io.Writer
	header bool
}

// NewLineWriter returns a LineWriter writing to w.
func NewLineWriter(w io.Writer) *LineWriter { return &LineWriter{w: w} }

const lineFormat = "%-4s %-8s %-24s %-32s %-6s %-7s %s\n"

// Write writes r's line, preceded by the header on the first call.
func (lw *LineWriter) Write(r *Record) error {
	if !lw.header {
		lw.header = true
		if _, err := fmt.Fprintf(lw.w, lineFormat, "PART", "OFFSET", "TIME", "SOURCE", "SCHEMA", "STAGE", "ERROR"); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(lw.w, lineFormat, strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Offset, 10),
		fmtTime(r.Timestamp), sourceString(r), strconv.Itoa(r.SchemaID), orDash(r.Stage), oneLine(r.Error, 120))
	return err
}

// Close writes a note if no line was written, so empty output is not
// mistaken for a failure.
func (lw *LineWriter) Close() error {
	if lw.header {
		return nil
	}
	_, err := fmt.Fprintln(lw.w, "no dead letters")
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sourceString is topic[partition]@offset, the form the job's log lines
// can be searched for.
func sourceString(r *Record) string {
	if r.SourceTopic == "" {
		return "-"
	}
	return fmt.Sprintf("%s[%d]@%d", r.SourceTopic, r.SourcePartition, r.SourceOffset)
}

func keyString(k []byte) string {
	switch {
	case k == nil:
		return "(null)"
	case utf8.Valid(k):
		return strconv.Quote(string(k))
	}
	return "0x" + hex.EncodeToString(k)
}

// WriteRecord writes one dead letter in detail: where it came from, why it
// failed, and a hex/ASCII dump of its value — the first PreviewBytes bytes,
// or all of them with full.
func WriteRecord(w io.Writer, r *Record, full bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "dlq offset %d (partition %d)  %s\n", r.Offset, r.Partition, fmtTime(r.Timestamp))
	src := "-"
	if r.SourceTopic != "" {
		src = fmt.Sprintf("%s partition %d offset %d", r.SourceTopic, r.SourcePartition, r.SourceOffset)
	}
	fmt.Fprintf(&b, "  source     %s\n", src)
	schema := strconv.Itoa(r.SchemaID)
	if r.SchemaID == 0 {
		schema = "0 (no readable Confluent header)"
	}
	fmt.Fprintf(&b, "  schema id  %s\n", schema)
	fmt.Fprintf(&b, "  stage      %s\n", orDash(r.Stage))
	for i, l := range strings.Split(strings.TrimRight(orDash(r.Error), "\n"), "\n") {
		if i == 0 {
			fmt.Fprintf(&b, "  error      %s\n", l)
		} else {
			fmt.Fprintf(&b, "             %s\n", l)
		}
	}
	fmt.Fprintf(&b, "  key        %s\n", keyString(r.Key))
	for i, h := range r.Headers {
		label := "  headers    "
		if i > 0 {
			label = "             "
		}
		fmt.Fprintf(&b, "%s%s: %s\n", label, h.Key, keyString(h.Value))
	}
	v := r.Value
	switch {
	case v == nil:
		b.WriteString("  value      (null)\n")
	case full || len(v) <= PreviewBytes:
		fmt.Fprintf(&b, "  value      %d bytes\n", len(v))
	default:
		fmt.Fprintf(&b, "  value      %d bytes, first %d shown (--full for all)\n", len(v), PreviewBytes)
		v = v[:PreviewBytes]
	}
	for _, l := range strings.SplitAfter(hex.Dump(v), "\n") {
		if l != "" {
			b.WriteString("    " + l)
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// RecordJSON is a dead letter as `--json` prints it.
type RecordJSON struct {
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	Source    struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"source"`
	SchemaID int    `json:"schema_id"`
	Stage    string `json:"stage"`
	Error    string `json:"error"`
	// Key is the key as text when it is UTF-8, else KeyBase64 holds it.
	Key       *string      `json:"key"`
	KeyBase64 []byte       `json:"key_base64,omitempty"`
	Headers   []HeaderJSON `json:"headers,omitempty"`
	ValueLen  int          `json:"value_len"`
	// Value is base64, cut to the requested number of bytes.
	Value          []byte `json:"value,omitempty"`
	ValueTruncated bool   `json:"value_truncated,omitempty"`
}

// HeaderJSON is one of the source record's own headers.
type HeaderJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ToJSON returns r as printed by --json, with at most valueBytes bytes of
// its value (negative: all of it; 0: none, only its length).
func ToJSON(r *Record, valueBytes int) RecordJSON {
	j := RecordJSON{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(),
		SchemaID: r.SchemaID, Stage: r.Stage, Error: r.Error, ValueLen: len(r.Value)}
	j.Source.Topic, j.Source.Partition, j.Source.Offset = r.SourceTopic, r.SourcePartition, r.SourceOffset
	if r.Key != nil {
		if utf8.Valid(r.Key) {
			k := string(r.Key)
			j.Key = &k
		} else {
			j.KeyBase64 = r.Key
		}
	}
	for _, h := range r.Headers {
		j.Headers = append(j.Headers, HeaderJSON{Key: h.Key, Value: string(h.Value)})
	}
	j.Value = r.Value
	if valueBytes == 0 {
		j.Value = nil
	} else if valueBytes > 0 && len(j.Value) > valueBytes {
		j.Value, j.ValueTruncated = j.Value[:valueBytes], true
	}
	return j
}

// JSONArray streams values as one indented JSON array, so that a large
// topic is printed without being held in memory.
type JSONArray struct {
	w io.Writer
	n int
}

// NewJSONArray returns a JSONArray writing to w.
func NewJSONArray(w io.Writer) *JSONArray { return &JSONArray{w: w} }

// Add writes v as the next element.
func (a *JSONArray) Add(v any) error {
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if a.n == 0 {
		sep = "[\n  "
	}
	a.n++
	_, err = io.WriteString(a.w, sep+string(b))
	return err
}

// Close ends the array.
func (a *JSONArray) Close() error {
	end := "\n]\n"
	if a.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(a.w, end)
	return err
}

func propsString(p graph.Props) string {
	if len(p) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" {")
	for i, k := range slices.Sorted(maps.Keys(p)) {
		if i > 0 {
			b.WriteString(", ")
		}
		v := p[k].Value
		if s, ok := v.(string); ok {
			fmt.Fprintf(&b, "%s: %q", k, s)
		} else {
			fmt.Fprintf(&b, "%s: %v", k, v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// WriteOutcome writes what one dead letter became in a replay: the
// elements it made, filtered, or why it still fails.
func WriteOutcome(w io.Writer, o *Outcome) error {
	var b strings.Builder
	r := o.Record
	fmt.Fprintf(&b, "dlq offset %d (partition %d)  source %s: ", r.Offset, r.Partition, sourceString(r))
	switch {
	case o.Err != nil:
		fmt.Fprintf(&b, "still failing at %s: %s\n", o.Err.Stage, oneLine(o.Err.Err.Error(), 0))
	case o.Filtered:
		b.WriteString("filtered by the job\n")
	default:
		fmt.Fprintf(&b, "%d node(s), %d edge(s)\n", len(o.Nodes), len(o.Edges))
		for _, n := range o.Nodes {
			fmt.Fprintf(&b, "  node %s%s\n", n.NodeRef, propsString(n.Props))
		}
		for _, e := range o.Edges {
			fmt.Fprintf(&b, "  edge %s%s\n", e.EdgeRef, propsString(e.Props))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteReport writes a replay's outcome: counts, the still-failing records
// kept in st.Failures, and where the next replay will start.
func WriteReport(w io.Writer, st *ReplayStats) error {
	var b strings.Builder
	verb := "replayed"
	if st.DryRun {
		verb = "would replay"
	}
	fmt.Fprintf(&b, "%s %d, still failing %d, filtered %d", verb, st.Replayed, st.Failed, st.Filtered)
	fmt.Fprintf(&b, " (%d dead letters read from %s", st.Read, st.Topic)
	for _, r := range st.Ranges {
		fmt.Fprintf(&b, ", partition %d offsets %d-%d", r.Partition, r.From, r.To-1)
	}
	elems := "published"
	if st.DryRun {
		elems = "not published: dry run"
	}
	fmt.Fprintf(&b, "; %d nodes and %d edges %s)\n", st.Nodes, st.Edges, elems)
	if st.Read == 0 {
		fmt.Fprintf(&b, "nothing new since the last replay; use --from OFFSET to replay again\n")
	}
	if st.Failed > 0 {
		fmt.Fprintf(&b, "still failing (left in %s):\n", st.Topic)
		for _, f := range st.Failures {
			src := "-"
			if f.SourceTopic != "" {
				src = fmt.Sprintf("%s[%d]@%d", f.SourceTopic, f.SourcePartition, f.SourceOffset)
			}
			fmt.Fprintf(&b, "  offset %d (partition %d)  source %s  %s: %s\n", f.Offset, f.Partition, src, f.Stage, oneLine(f.Error, 200))
		}
		if n := st.Failed - len(st.Failures); n > 0 {
			fmt.Fprintf(&b, "  ... and %d more (rdg dlq show --job %s)\n", n, st.Job)
		}
	}
	if !st.DryRun && len(st.Ranges) > 0 {
		fmt.Fprintf(&b, "replay position saved in consumer group %s: the next replay starts after offset", st.Group)
		for i, r := range st.Ranges {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " %d (partition %d)", r.To-1, r.Partition)
		}
		b.WriteString("\n")
		if len(st.Failures) > 0 {
			first := st.Failures[0].Offset
			for _, f := range st.Failures {
				first = min(first, f.Offset)
			}
			fmt.Fprintf(&b, "to retry the still-failing records after another fix, replay again with --from %d\n", first)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
