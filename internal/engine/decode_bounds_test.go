package engine

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/testkit"
)

// Avro bombs through the job's decoder: a record whose arrays, maps,
// strings or bytes claim more than it holds is dead-lettered at stage
// decode with the size and the field named, without allocating what it
// claims, whether the job reads with the writer schema or with a reader
// schema that drops the field (hamba's skip path).

const poisonSchema = `{"type":"record","name":"Poison","namespace":"rdg.test","fields":[
	{"name":"id","type":"string"},
	{"name":"tags","type":{"type":"array","items":["null","long"]}},
	{"name":"attrs","type":{"type":"map","values":"string"}},
	{"name":"name","type":"string"},
	{"name":"blob","type":"bytes"},
	{"name":"nested","type":{"type":"array","items":{"type":"map","values":{"type":"array","items":"long"}}}},
	{"name":"nulls","type":{"type":"array","items":"null"}},
	{"name":"empties","type":{"type":"array","items":{"type":"record","name":"Empty","fields":[]}}}]}`

// poisonFields are a valid body of poisonSchema, field by field.
func poisonFields() [][]byte {
	l := varints
	return [][]byte{
		append(l(3), "m-1"...),                                // id
		append(l(1, 1, 5), l(0)...),                           // tags: [5]
		append(append(l(1, 1), 'k'), append(l(1), 'v', 0)...), // attrs: {k: v}
		append(l(1), 'n'),                                     // name
		l(0),                                                  // blob
		l(0),                                                  // nested
		l(0),                                                  // nulls: [] (hamba cannot skip a null item)
		l(2, 0),                                               // empties: [{}, {}]
	}
}

func poisonBody(field int, value []byte) []byte {
	var b []byte
	for i, f := range poisonFields() {
		if i == field {
			f = value
		}
		b = append(b, f...)
	}
	return b
}

func varints(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func TestProcessRefusesAvroBombs(t *testing.T) {
	e := testkit.NewEnv(t)
	id, _ := e.Register(t, "poison-value", poisonSchema)
	schemas := codec.NewSchemas(e.Reg)
	file := filepath.Join("testdata", "bounds", "job.yaml")
	const nodes = "nodes: [{type: account, id: id}]\ntuning: {max_record_items: 1000}\n"
	jobs := map[string]*Job{
		"writer schema": compileJob(t, file, "name: p\nsource: {topic: poison}\n"+nodes),
		"reader schema": compileJob(t, file, "name: p\nsource: {topic: poison, schema: reader.avsc}\n"+nodes),
	}
	const e40 = int64(1) << 40
	cases := []struct {
		name  string
		field int
		value []byte
		want  string
	}{
		{"array", 1, varints(e40, 2, 0), "array block of 1099511627776 items in field tags exceeds the "},
		{"array, 50M", 1, varints(50_000_000, 0), "array block of 50000000 items in field tags exceeds the "},
		{"map", 2, varints(e40, 0), "map block of 1099511627776 entries in field attrs exceeds the "},
		{"string", 3, varints(e40), "string of 1099511627776 bytes in field name exceeds the "},
		{"bytes", 4, varints(e40), "bytes value of 1099511627776 bytes in field blob exceeds the "},
		{"nested array of maps", 5, append(append(varints(1, 1), varints(1)...), append([]byte{'k'}, varints(e40, 0, 0)...)...),
			"array block of 1099511627776 items in field nested[]{} exceeds the "},
		{"nulls", 6, varints(999, 0),
			"array block of 999 items (after 2 before it) in field nulls exceeds the limit of 1000 array items and map entries per record (tuning.max_record_items)"},
		{"empty records", 7, varints(1<<40, 0),
			"array block of 1099511627776 items (after 2 before it) in field empties exceeds the limit of 1000"},
	}
	for jname, j := range jobs {
		proc := NewProcessor(j, schemas)
		ctx := testkit.Ctx(t)
		var out graph.Batch
		good := append(codec.AppendHeader(nil, id), poisonBody(-1, nil)...)
		if _, err := proc.Process(ctx, good, recordTS, &out); err != nil || len(out.Nodes) != 1 || out.Nodes[0].ID != "m-1" {
			t.Fatalf("%s: good record: %v, %+v", jname, err, out.Nodes)
		}
		// Exactly the limit is fine: 1 tag, 1 attribute and 998 empty records.
		if _, err := proc.Process(ctx, append(codec.AppendHeader(nil, id), poisonBody(7, varints(998, 0))...), recordTS, &out); err != nil {
			t.Fatalf("%s: a record of max_record_items items: %v", jname, err)
		}
		for _, c := range cases {
			value := append(codec.AppendHeader(nil, id), poisonBody(c.field, c.value)...)
			var err error
			n := allocatedBytes(func() { _, err = proc.Process(ctx, value, recordTS, &out) })
			wantStageError(t, err, StageDecode, id, c.want)
			if !errors.Is(err, codec.ErrTruncated) && !errors.Is(err, codec.ErrTooManyItems) {
				t.Errorf("%s, %s: %v wraps neither ErrTruncated nor ErrTooManyItems", jname, c.name, err)
			}
			if n > 64<<10 {
				t.Errorf("%s, %s: refusing a %d-byte record allocated %d bytes", jname, c.name, len(value), n)
			}
		}
	}
}

// The fast path's string and bytes fields are bounded the same way: a
// length past the end makes it fall back, and the check names the field.
func TestProcessFastPathRefusesLongStrings(t *testing.T) {
	e := testkit.NewEnv(t)
	id, _ := e.Register(t, "flat-value", `{"type":"record","name":"Flat","fields":[{"name":"id","type":"string"},{"name":"b","type":"bytes"}]}`)
	j := compileJob(t, "inline.yaml", "name: f\nsource: {topic: flat}\nnodes: [{type: account, id: id}]\n")
	proc := NewProcessor(j, codec.NewSchemas(e.Reg))
	ctx := testkit.Ctx(t)
	var out graph.Batch
	for _, c := range []struct {
		body []byte
		want string
	}{
		{append(varints(1<<40), 'x'), "string of 1099511627776 bytes in field id exceeds the 1 bytes left in the record"},
		{append(append(varints(1), 'x'), varints(1<<40)...), "bytes value of 1099511627776 bytes in field b exceeds the 0 bytes left in the record"},
		{append(append(varints(1), 'x'), varints(-3)...), "bytes value with negative length -3 in field b"},
	} {
		var err error
		n := allocatedBytes(func() { _, err = proc.Process(ctx, append(codec.AppendHeader(nil, id), c.body...), recordTS, &out) })
		wantStageError(t, err, StageDecode, id, c.want)
		if n > 64<<10 {
			t.Errorf("%q: allocated %d bytes", c.want, n)
		}
	}
}

func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocBound is what decoding a body of n bytes may allocate with a
// limit of maxItems items: a constant, a multiple of the body, and a
// multiple of the item limit (items that take no bytes still take a slot).
func allocBound(n, maxItems int) uint64 {
	return 64<<10 + 512*uint64(n) + 256*uint64(maxItems)
}

// FuzzSourceRecord runs any body through the job's decoders, as a source
// record's body goes: the fast path and the hamba path agree on every body
// the fast path accepts (decodeTestSchema); on a schema with arrays, maps
// and bytes (poisonSchema) the bounds check accepts only what hamba then
// reads, with the writer schema or resolved to a reader schema that skips
// those fields; and nothing allocates beyond allocBound.
// go test -run XXX -fuzz FuzzSourceRecord ./internal/job
func FuzzSourceRecord(f *testing.F) {
	flat := avro.MustParse(decodeTestSchema)
	l := decodeTestLayout()
	fast := newRecordDecoder(flat, l, true)
	poison := avro.MustParse(poisonSchema)
	reader := avro.MustParse(`{"type":"record","name":"Poison","namespace":"rdg.test","fields":[{"name":"id","type":"string"}]}`)
	resolved, err := avro.NewSchemaCompatibility().Resolve(reader, poison)
	if err != nil {
		f.Fatal(err)
	}
	const maxItems = 1000
	dec := codec.NewDecoder(codec.Limits{MaxItems: maxItems})
	r := rand.New(rand.NewPCG(7, 7))
	for range 10 {
		body, err := avro.Marshal(flat, randRecord(r))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add(poisonBody(-1, nil))
	for i, v := range [][]byte{varints(1<<40, 2, 0), varints(1<<40, 0), varints(1 << 40), varints(1 << 40),
		append(varints(1, 1, 1), append([]byte{'k'}, varints(1<<40, 0, 0)...)...), varints(999, 0), varints(1<<40, 0)} {
		f.Add(poisonBody(i+1, v))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n := allocatedBytes(func() { checkDecode(t, fast, l, body) })
		if n > allocBound(len(body), codec.DefaultMaxItems) {
			t.Fatalf("decoding a %d-byte body allocated %d bytes", len(body), n)
		}
		var m map[string]any
		var werr error
		n = allocatedBytes(func() { werr = dec.Unmarshal(poison, body, &m) })
		if werr != nil && dec.Check(poison, body) == nil {
			t.Fatalf("the check accepts a body hamba rejects (%v): %x", werr, body)
		}
		if n > allocBound(len(body), maxItems) {
			t.Fatalf("decoding a %d-byte body allocated %d bytes (%v)", len(body), n, werr)
		}
		n = allocatedBytes(func() { _ = dec.UnmarshalResolved(poison, resolved, body, &m) })
		if n > allocBound(len(body), maxItems) {
			t.Fatalf("decoding a %d-byte body with a reader schema allocated %d bytes", len(body), n)
		}
	})
}
