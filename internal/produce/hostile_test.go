package produce

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

const eventSchema = `{"type": "record", "name": "E", "namespace": "t", "fields": [
  {"name": "id", "type": "string"},
  {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
  {"name": "n", "type": ["null", "long"], "default": null}
]}`

func parse(t *testing.T, s string) avro.Schema {
	t.Helper()
	sch, err := avro.ParseWithCache(s, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// A line far longer than the maximum is reported with its number and
// skipped without being held: the reader's buffer stays near the maximum,
// and the rows around it are produced.
func TestLongLineIsBounded(t *testing.T) {
	const max = 64 << 10
	var in bytes.Buffer
	in.WriteString(`{"id": "before"}` + "\n")
	in.WriteString(`{"id": "` + strings.Repeat("x", 8<<20) + `"}` + "\n")
	in.WriteString(`{"id": "after"}` + "\n")
	o := Options{Schema: parse(t, eventSchema), SchemaID: 1, Format: JSONLines, MaxLineBytes: max, Name: "big.jsonl"}
	r, err := newRunner(o, &in)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r.o.Log = &log
	var ids []int
	r.send = func(_ context.Context, line int, _ []byte) { ids = append(ids, line) }
	if err := r.rows(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := "big.jsonl:2: longer than 65536 bytes (--max-line-bytes); the row is skipped unread\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 3 {
		t.Errorf("produced lines %v, want [1 3]", ids)
	}
	if c := cap(r.lr.buf); c > 2*max {
		t.Errorf("line buffer grew to %d bytes reading an 8 MiB line with a %d byte maximum", c, max)
	}
	if st := r.stats(); st.Read != 3 || st.Rejected != 1 {
		t.Errorf("stats %+v: want 3 read, 1 rejected", st)
	}
}

// A CSV record whose quoted field spans more than the maximum is reported
// at the line it starts on.
func TestLongCSVRecordIsBounded(t *testing.T) {
	const max = 1 << 10
	in := "id,tags\n" + `"` + strings.Repeat("a\n", 4*max) + `",[]` + "\nok,[]\n"
	got := convert(t, Options{Schema: parse(t, eventSchema), SchemaID: 1, Format: CSV, MaxLineBytes: max, Name: "big.csv"}, []byte(in))
	if got.err != nil {
		t.Fatal(got.err)
	}
	if !strings.HasPrefix(got.log, "big.csv:2: longer than 1024 bytes") {
		t.Errorf("log %q: want the record reported at line 2", got.log)
	}
	// The record is skipped to its end, so the next one is read whole.
	if got.stats.Read != 2 || got.stats.Rejected != 1 || len(got.values) != 1 || got.lines[0] != 4*max+3 {
		t.Errorf("stats %+v, produced lines %v: want the row at line %d produced", got.stats, got.lines, 4*max+3)
	}
}

// Nesting deeper than JSON decoding allows is an error for the row, not a
// crash; nesting a recursive schema really has converts.
func TestDeepNesting(t *testing.T) {
	deep := `{"id": "x", "tags": ` + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + "}\n"
	got := convert(t, Options{Schema: parse(t, eventSchema), SchemaID: 1, Format: JSONLines, Name: "deep.jsonl"}, []byte(deep))
	if got.err != nil || len(got.values) != 0 || !strings.Contains(got.log, "deep.jsonl:1:") || !strings.Contains(got.log, "exceeded max depth") {
		t.Errorf("err %v, %d values, log %q: want line 1 rejected for its depth", got.err, len(got.values), got.log)
	}

	list := parse(t, `{"type": "record", "name": "L", "fields": [{"name": "v", "type": "int"}, {"name": "next", "type": ["null", "L"], "default": null}]}`)
	const depth = 5000
	row := strings.Repeat(`{"v": 1, "next": `, depth) + "null" + strings.Repeat("}", depth) + "\n"
	got = convert(t, Options{Schema: list, SchemaID: 1, Format: JSONLines}, []byte(row))
	if got.err != nil || len(got.values) != 1 || got.log != "" {
		t.Fatalf("err %v, log %q: want the list converted", got.err, got.log)
	}
	// Each record is its int (1 byte) and the union index of its next (1
	// byte); the innermost next is the null branch.
	if n := len(got.values[0]) - 5; n != 2*depth {
		t.Errorf("body of %d bytes, want %d", n, 2*depth)
	}
}

// Invalid UTF-8 is reported where it is; it is never replaced silently by
// U+FFFD as JSON decoding would.
func TestInvalidUTF8(t *testing.T) {
	in := "{\"id\": \"ok\"}\n{\"id\": \"b\xffd\"}\n"
	got := convert(t, Options{Schema: parse(t, eventSchema), SchemaID: 1, Format: JSONLines, Name: "u.jsonl"}, []byte(in))
	if want := "u.jsonl:2:10: not valid UTF-8\n"; got.log != want {
		t.Errorf("log %q, want %q", got.log, want)
	}
	if len(got.values) != 1 {
		t.Errorf("%d values, want 1", len(got.values))
	}
	got = convert(t, Options{Schema: parse(t, eventSchema), SchemaID: 1, Format: CSV, Name: "u.csv"}, []byte("id\xff\n"))
	if got.err == nil || !strings.Contains(got.err.Error(), "not valid UTF-8") {
		t.Errorf("header with invalid UTF-8: err %v", got.err)
	}
}

// A header that does not fit the schema fails the file before any row:
// every row would fail alike.
func TestCSVHeader(t *testing.T) {
	sch := parse(t, eventSchema)
	for _, tc := range []struct {
		header, want string
		ignore       bool
	}{
		{"id,tag", `h.csv:1: header: column 2 of the header, "tag", is not a field of t.E (did you mean tags? the header names the schema's fields exactly); its fields: id, tags, n; --ignore-unknown skips such columns`, false},
		{"ID,tags", `h.csv:1: header: column 1 of the header, "ID", is not a field of t.E (did you mean id? the header names the schema's fields exactly); its fields: id, tags, n; --ignore-unknown skips such columns`, false},
		{"tags,n", `h.csv:1: header: the header has no column for field id (string), which has no default`, false},
		{"id,id", `h.csv:1: header: column 2 of the header, "id", repeats column 1`, false},
		{"id,extra", "", true},
		{"", `h.csv: no header row: a CSV file starts with a header naming the schema's fields`, false},
	} {
		in := tc.header + "\nv,w\n"
		if tc.header == "" {
			in = ""
		}
		got := convert(t, Options{Schema: sch, SchemaID: 1, Format: CSV, Name: "h.csv", IgnoreUnknown: tc.ignore}, []byte(in))
		switch {
		case tc.want == "" && (got.err != nil || len(got.values) != 1):
			t.Errorf("header %q: err %v, %d values; want one row", tc.header, got.err, len(got.values))
		case tc.want != "" && (got.err == nil || got.err.Error() != tc.want):
			t.Errorf("header %q: err\n  %v\nwant\n  %s", tc.header, got.err, tc.want)
		}
	}
}

// --key names a field of the schema; its value as written is the key.
func TestKey(t *testing.T) {
	sch := parse(t, eventSchema)
	if got := convert(t, Options{Schema: sch, Format: JSONLines, Key: "nope"}, nil); got.err == nil || !strings.Contains(got.err.Error(), "--key nope is not a field of t.E") {
		t.Errorf("unknown key field: %v", got.err)
	}
	in := `{"id": "a", "n": 12}` + "\n" + `{"id": "b"}` + "\n" + `{"id": "c", "n": {"long": 7}}` + "\n"
	got := convert(t, Options{Schema: sch, Format: JSONLines, Key: "n"}, []byte(in))
	if len(got.keys) != 3 || string(got.keys[0]) != "12" || got.keys[1] != nil || string(got.keys[2]) != "7" {
		t.Errorf("keys %q, want [12 <nil> 7]", got.keys)
	}
}

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct{ name, flag, want string }{
		{"a.csv", "", CSV}, {"A.CSV", "", CSV}, {"a.jsonl", "", JSONLines}, {"stdin", "", JSONLines},
		{"stdin", "csv", CSV}, {"a.csv", "json", JSONLines},
	} {
		if got, err := FormatOf(tc.name, tc.flag); err != nil || got != tc.want {
			t.Errorf("FormatOf(%q, %q) = %q, %v; want %q", tc.name, tc.flag, got, err, tc.want)
		}
	}
	if _, err := FormatOf("a", "xml"); err == nil {
		t.Error("--format xml accepted")
	}
}

// Decimals are parsed exactly, and an exponent cannot make the parser
// build a number larger than the schema's precision allows.
func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in               string
		precision, scale int
		want             string // unscaled, or "error"
	}{
		{"12.34", 4, 2, "1234"}, {"-0.5", 3, 2, "-50"}, {"1e2", 5, 2, "10000"}, {"1.50e-1", 3, 2, "15"},
		{"+7", 1, 0, "7"}, {"000123.4500", 5, 2, "12345"}, {"0e-999999999999", 1, 0, "0"},
		{"1e999999999999", 38, 0, "error"}, {"1e-999999999999", 38, 10, "error"},
		{"1.", 2, 0, "1"}, {".5", 2, 1, "5"}, {".", 2, 1, "error"}, {"1e", 2, 0, "error"}, {"--1", 2, 0, "error"},
		{"1.005", 5, 2, "error"}, {"123456", 5, 0, "error"},
	} {
		n, err := parseDecimal(tc.in, tc.precision, tc.scale)
		got := "error"
		if err == nil {
			got = n.String()
		}
		if got != tc.want {
			t.Errorf("parseDecimal(%q, %d, %d) = %s (%v), want %s", tc.in, tc.precision, tc.scale, got, err, tc.want)
		}
	}
}
