package produce

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
)

var update = flag.Bool("update", false, "rewrite the want files of testdata/convert from what the converter does (review the diff)")

// converted is what a run sent, in order, and what it reported.
type converted struct {
	values [][]byte // Confluent-framed
	keys   [][]byte
	lines  []int
	log    string
	stats  Stats
	err    error
}

// convert runs rows of in through the conversion with o, collecting the
// records instead of producing them.
func convert(t *testing.T, o Options, in []byte) *converted {
	t.Helper()
	var log bytes.Buffer
	o.Log = &log
	if o.Name == "" {
		o.Name = "input"
	}
	r, err := newRunner(o, bytes.NewReader(in))
	if err != nil {
		return &converted{err: err}
	}
	out := &converted{}
	r.send = func(_ context.Context, line int, key []byte) {
		out.values = append(out.values, bytes.Clone(r.buf))
		out.keys = append(out.keys, key)
		out.lines = append(out.lines, line)
		r.produced.Add(1)
	}
	out.err = r.rows(context.Background())
	out.stats = r.stats()
	out.log = log.String()
	return out
}

// decode is a record's value as JSON: the Avro body decoded by hamba/avro
// (an implementation independent of the converter's encoder), strictly.
func decode(t *testing.T, schema avro.Schema, id int, value []byte) string {
	t.Helper()
	gotID, body, err := codec.SplitHeader(value)
	if err != nil || gotID != id {
		t.Fatalf("header: id %d, %v; want id %d", gotID, err, id)
	}
	var v any
	if err := codec.Unmarshal(schema, body, &v); err != nil {
		t.Fatalf("decode % x: %v", body, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// caseOptions are a test case's options.json.
type caseOptions struct {
	IgnoreUnknown bool   `json:"ignore_unknown"`
	Key           string `json:"key"`
	MaxLineBytes  int    `json:"max_line_bytes"`
	Stop          bool   `json:"stop"`
}

// TestConvertCases runs every directory of testdata/convert: schema.avsc,
// an input (input.jsonl or input.csv), options.json if any; it compares
// the decoded records with want.jsonl (one line per record: the line it
// came from, its key and its value), and the rejections with errors.txt.
func TestConvertCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/convert/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			schemaText, err := os.ReadFile(filepath.Join(dir, "schema.avsc"))
			if err != nil {
				t.Fatal(err)
			}
			schema, err := avro.ParseWithCache(string(schemaText), "", &avro.SchemaCache{})
			if err != nil {
				t.Fatal(err)
			}
			var opts caseOptions
			if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
				if err := json.Unmarshal(b, &opts); err != nil {
					t.Fatal(err)
				}
			}
			inputs, _ := filepath.Glob(filepath.Join(dir, "input.*"))
			if len(inputs) != 1 {
				t.Fatalf("want one input file, have %v", inputs)
			}
			in, err := os.ReadFile(inputs[0])
			if err != nil {
				t.Fatal(err)
			}
			format, _ := FormatOf(inputs[0], "")
			const id = 7
			got := convert(t, Options{Topic: "t", Schema: schema, SchemaID: id, Format: format, Name: filepath.Base(inputs[0]),
				IgnoreUnknown: opts.IgnoreUnknown, Key: opts.Key, MaxLineBytes: opts.MaxLineBytes, StopOnError: opts.Stop}, in)
			var records strings.Builder
			for i, v := range got.values {
				key := "-"
				if got.keys[i] != nil {
					key = string(got.keys[i])
				}
				records.WriteString(strings.Join([]string{itoa(got.lines[i]), key, decode(t, schema, id, v)}, "\t") + "\n")
			}
			log := got.log
			if got.err != nil {
				log += "error: " + got.err.Error() + "\n"
			}
			compare(t, filepath.Join(dir, "want.jsonl"), records.String())
			compare(t, filepath.Join(dir, "errors.txt"), log)
			rejected := int64(strings.Count(got.log, "\n"))
			if got.stats.Rejected != rejected || got.stats.Read != got.stats.Rejected+int64(len(got.values)) && got.err == nil {
				t.Errorf("stats %+v: want %d rejected, %d read", got.stats, rejected, rejected+int64(len(got.values)))
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func compare(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs.\ngot:\n%s\nwant:\n%s", file, got, want)
	}
}
