package codec_test

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
)

// Avro bombs: bodies whose lengths and counts claim far more than they
// hold. Each must be refused with an error that says what was too large,
// without allocating what it claims, through every decoding path that
// reaches hamba.

func long(v int64) []byte { return binary.AppendVarint(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

const (
	tagsSchema = `{"type":"record","name":"R","fields":[{"name":"tags","type":{"type":"array","items":["null","long"]}}]}`
	// What the job's reader schema keeps of tagsReaderWriter: the array is
	// a writer field hamba skips.
	tagsReaderWriter = `{"type":"record","name":"R","fields":[{"name":"id","type":"string"},{"name":"tags","type":{"type":"array","items":["null","long"]}}]}`
	idOnlyReader     = `{"type":"record","name":"R","fields":[{"name":"id","type":"string"}]}`
)

type bomb struct {
	name   string
	schema string
	body   []byte
	kind   error  // what errors.Is must find
	msg    string // what the message must say
}

// e40 is 2^40: a count or length no body holds.
const e40 = int64(1) << 40

func bombs() []bomb {
	return []bomb{
		{"array of 2^40 union items", tagsSchema, cat(long(e40), []byte{2, 2}), codec.ErrTruncated,
			"array block of 1099511627776 items in field tags exceeds the 2 bytes left in the record"},
		{"array of 50M union items", tagsSchema, cat(long(50_000_000), []byte{2, 2, 2}), codec.ErrTruncated,
			"array block of 50000000 items in field tags exceeds the 3 bytes left in the record"},
		{"array block with a byte size", tagsSchema, cat(long(-e40), long(2), []byte{2, 2}), codec.ErrTruncated,
			"array block of 1099511627776 items in field tags exceeds the 2 bytes left in the record"},
		{"second block", tagsSchema, cat(long(1), []byte{0}, long(e40), []byte{0}), codec.ErrTruncated,
			"array block of 1099511627776 items in field tags exceeds the 1 bytes left"},
		{"array of doubles", `{"type":"record","name":"R","fields":[{"name":"d","type":{"type":"array","items":"double"}}]}`,
			cat(long(3), make([]byte, 23)), codec.ErrTruncated, "array block of 3 items in field d exceeds the 23 bytes left"},
		{"array of 200k nulls", `{"type":"record","name":"R","fields":[{"name":"n","type":{"type":"array","items":"null"}}]}`,
			cat(long(200_000), long(0)), codec.ErrTooManyItems,
			"array block of 200000 items (after 0 before it) in field n exceeds the limit of 100000 array items and map entries per record"},
		{"array of 2^40 empty records", `{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"array","items":{"type":"record","name":"E","fields":[]}}}]}`,
			cat(long(e40), long(0)), codec.ErrTooManyItems, "array block of 1099511627776 items (after 0 before it) in field e exceeds the limit"},
		{"items over the limit across arrays", `{"type":"record","name":"R","fields":[
			{"name":"a","type":{"type":"array","items":"null"}},{"name":"b","type":{"type":"array","items":"null"}}]}`,
			cat(long(60_000), long(0), long(60_000), long(0)), codec.ErrTooManyItems, "array block of 60000 items (after 60000 before it) in field b"},
		{"map of 2^40 entries", `{"type":"record","name":"R","fields":[{"name":"attrs","type":{"type":"map","values":"string"}}]}`,
			cat(long(e40), []byte{2, 'k', 2, 'v', 0}), codec.ErrTruncated,
			"map block of 1099511627776 entries in field attrs exceeds the 5 bytes left in the record"},
		{"map of null values", `{"type":"record","name":"R","fields":[{"name":"m","type":{"type":"map","values":"null"}}]}`,
			cat(long(1000), []byte{2, 'k', 0}), codec.ErrTruncated, "map block of 1000 entries in field m exceeds the 3 bytes left"},
		{"string of 2^40 bytes", `{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}`,
			cat(long(7), long(e40), []byte("abc")), codec.ErrTruncated, "string of 1099511627776 bytes in field name exceeds the 3 bytes left in the record"},
		{"string over the limit", `{"type":"record","name":"R","fields":[{"name":"name","type":"string"}]}`,
			cat(long(2<<20), make([]byte, 2<<20)), codec.ErrTooLarge, "string of 2097152 bytes in field name exceeds the limit of 1048576 bytes"},
		{"negative string length", `{"type":"record","name":"R","fields":[{"name":"name","type":"string"}]}`,
			cat(long(-5), []byte("abcde")), codec.ErrMalformed, "string with negative length -5 in field name"},
		{"bytes of 2^40", `{"type":"record","name":"R","fields":[{"name":"blob","type":"bytes"}]}`,
			cat(long(e40), []byte{1}), codec.ErrTruncated, "bytes value of 1099511627776 bytes in field blob exceeds the 1 bytes left"},
		{"bytes over the limit", `{"type":"record","name":"R","fields":[{"name":"blob","type":["null","bytes"]}]}`,
			cat(long(1), long(3<<20), make([]byte, 3<<20)), codec.ErrTooLarge, "bytes value of 3145728 bytes in field blob exceeds the limit"},
		{"nested array of maps", `{"type":"record","name":"R","fields":[{"name":"outer","type":{"type":"array","items":
			{"type":"record","name":"I","fields":[{"name":"m","type":{"type":"map","values":{"type":"array","items":"long"}}}]}}}]}`,
			cat(long(1), long(1), []byte{2, 'k'}, long(e40), []byte{0, 0, 0, 0}), codec.ErrTruncated,
			"array block of 1099511627776 items in field outer[].m{} exceeds the 4 bytes left"},
		{"fixed longer than the body", `{"type":"record","name":"R","fields":[{"name":"f","type":{"type":"fixed","name":"F","size":1073741824}}]}`,
			[]byte{1, 2, 3}, codec.ErrTruncated, "avro body is truncated in field f"},
		{"block size that is not its items'", tagsSchema, cat(long(-1), long(5), []byte{0, 0}), codec.ErrMalformed,
			"array block of 1 items in field tags says it takes 5 bytes, its items take 1"},
		{"block count -2^63", tagsSchema, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}, codec.ErrMalformed,
			"array block count -9223372036854775808 in field tags"},
		{"deep recursion", listSchema, deepList(200), codec.ErrTooLarge, "nested more than 128 deep"},
	}
}

// listSchema is recursive: a body can nest it as deep as it has bytes.
const listSchema = `{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`

func deepList(n int) []byte {
	b := make([]byte, 0, n+1)
	for range n {
		b = append(b, 2) // branch L
	}
	return append(b, 0) // null
}

func TestUnmarshalRefusesBombs(t *testing.T) {
	for _, b := range bombs() {
		t.Run(b.name, func(t *testing.T) {
			sch := avro.MustParse(b.schema)
			var err error
			n := allocated(func() {
				var m map[string]any
				err = codec.Unmarshal(sch, b.body, &m)
			})
			if err == nil || !errors.Is(err, b.kind) || !strings.Contains(err.Error(), b.msg) {
				t.Fatalf("Unmarshal = %v, want an error (%v) containing %q", err, b.kind, b.msg)
			}
			var be *codec.BodyError
			if !errors.As(err, &be) {
				t.Fatalf("error %T is not a *codec.BodyError", err)
			}
			// The body itself is what may be large, never what it claims.
			if limit := uint64(len(b.body)) + 64<<10; n > limit {
				t.Fatalf("refusing the body allocated %d bytes, want at most %d", n, limit)
			}
		})
	}
}

// A reader schema that drops the array makes hamba skip it, in a loop
// over the claimed count: the check refuses the body before.
func TestUnmarshalResolvedRefusesBombsInSkippedFields(t *testing.T) {
	w, r := avro.MustParse(tagsReaderWriter), avro.MustParse(idOnlyReader)
	resolved, err := avro.NewSchemaCompatibility().Resolve(r, w)
	if err != nil {
		t.Fatal(err)
	}
	d := codec.DefaultDecoder
	good := cat(long(2), []byte("m1"), long(2), []byte{2, 4, 0}, long(0))
	var m map[string]any
	if err := d.UnmarshalResolved(w, resolved, good, &m); err != nil || m["id"] != "m1" || len(m) != 1 {
		t.Fatalf("good body: %v, %v", m, err)
	}
	for _, count := range []int64{e40, 50_000_000, -e40} {
		body := cat(long(2), []byte("m1"), long(count), long(0), []byte{0})
		n := allocated(func() {
			var m map[string]any
			err = d.UnmarshalResolved(w, resolved, body, &m)
		})
		if !errors.Is(err, codec.ErrTruncated) || !strings.Contains(err.Error(), "items in field tags exceeds the") {
			t.Fatalf("count %d: %v, want the array refused", count, err)
		}
		if n > 64<<10 {
			t.Fatalf("count %d: allocated %d bytes", count, n)
		}
	}
}

// What fits is decoded: items that take no bytes up to the limit, nesting
// up to its bound, and a Decoder's own item limit is the one applied.
func TestUnmarshalWithinBounds(t *testing.T) {
	nulls := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"n","type":{"type":"array","items":"null"}}]}`)
	var m map[string]any
	if err := codec.Unmarshal(nulls, cat(long(codec.DefaultMaxItems), long(0)), &m); err != nil {
		t.Fatalf("%d nulls: %v", codec.DefaultMaxItems, err)
	}
	if got := len(m["n"].([]any)); got != codec.DefaultMaxItems {
		t.Fatalf("decoded %d nulls", got)
	}
	if err := codec.Unmarshal(avro.MustParse(listSchema), deepList(100), &m); err != nil {
		t.Fatalf("a list 100 deep: %v", err)
	}
	small := codec.NewDecoder(codec.Limits{MaxItems: 10, MaxBytes: 4})
	if err := small.Unmarshal(nulls, cat(long(10), long(0)), &m); err != nil {
		t.Fatalf("10 nulls within a limit of 10: %v", err)
	}
	err := small.Unmarshal(nulls, cat(long(6), long(5), long(0)), &m)
	if !errors.Is(err, codec.ErrTooManyItems) || !strings.Contains(err.Error(), "array block of 5 items (after 6 before it) in field n exceeds the limit of 10") {
		t.Fatalf("11 nulls within a limit of 10: %v", err)
	}
	str := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"s","type":"string"}]}`)
	if err := small.Unmarshal(str, cat(long(4), []byte("abcd")), &m); err != nil || m["s"] != "abcd" {
		t.Fatalf("4-byte string within 4: %v %v", m, err)
	}
	if err := small.Unmarshal(str, cat(long(5), []byte("abcde")), &m); !errors.Is(err, codec.ErrTooLarge) {
		t.Fatalf("5-byte string within 4: %v", err)
	}
	// A block with its byte size right is read like one without.
	tags := avro.MustParse(tagsSchema)
	if err := codec.Unmarshal(tags, cat(long(-2), long(3), []byte{0, 2, 4}, long(0)), &m); err != nil {
		t.Fatalf("sized block: %v", err)
	}
	if got := m["tags"].([]any); len(got) != 2 || got[0] != nil || got[1] != int64(2) {
		t.Fatalf("sized block decoded to %#v", got)
	}
}

// Check and hamba agree on the structure of a valid body: every body
// hamba writes passes the check.
func TestCheckAcceptsWhatHambaWrites(t *testing.T) {
	sch := avro.MustParse(`{"type":"record","name":"R","fields":[
		{"name":"s","type":"string"},
		{"name":"a","type":{"type":"array","items":["null","long",{"type":"record","name":"E","fields":[]}]}},
		{"name":"m","type":{"type":"map","values":{"type":"array","items":"double"}}},
		{"name":"f","type":{"type":"fixed","name":"F","size":3}},
		{"name":"e","type":{"type":"enum","name":"En","symbols":["A","B"]}},
		{"name":"l","type":["null",{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}]}]}`)
	items := make([]any, 250)
	for i := range items {
		switch i % 3 {
		case 1:
			items[i] = int64(i)
		case 2:
			items[i] = map[string]any{"E": map[string]any{}}
		}
	}
	v := map[string]any{
		"s": "x", "a": items, "m": map[string]any{"k": []float64{1, 2}, "": []float64{}},
		"f": [3]byte{1, 2, 3}, "e": "B",
		"l": map[string]any{"L": map[string]any{"next": map[string]any{"L": map[string]any{"next": nil}}}},
	}
	body, err := avro.Marshal(sch, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := codec.DefaultDecoder.Check(sch, body); err != nil {
		t.Fatalf("Check refuses what hamba writes: %v", err)
	}
	var m map[string]any
	if err := codec.Unmarshal(sch, body, &m); err != nil {
		t.Fatal(err)
	}
	for cut := range len(body) {
		if err := codec.DefaultDecoder.Check(sch, body[:cut]); err == nil {
			t.Fatalf("Check accepts the body cut to %d of %d bytes", cut, len(body))
		}
	}
	if err := codec.DefaultDecoder.Check(sch, append(body, 0)); !errors.Is(err, codec.ErrTrailing) {
		t.Fatalf("trailing byte: %v", err)
	}
}

// A graph record written with a schema that resolves to Node but has an
// extra array (a compatible evolution anyone who can register a schema can
// make) is read by hamba, which skips the array: the bomb in it is refused
// before, with the field named, and quickly.
func TestDecodeNodeRefusesBombInEvolvedSchema(t *testing.T) {
	reg, _ := startRegistry(t)
	ctx := testCtx(t)
	const evolved = `{"type":"record","name":"Node","namespace":"rdg.graph","fields":[
		{"name":"type","type":"string"},{"name":"id","type":"string"},
		{"name":"junk","type":{"type":"array","items":["null","long"]},"default":[]},
		{"name":"props","type":{"type":"map","values":{"type":"record","name":"Prop","fields":[
			{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
			{"name":"value","type":["null","string","long","double","boolean"]}]}}},
		{"name":"first_seen","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"last_seen","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"updated_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	if _, err := codec.RegisterElements(ctx, reg, []string{"account"}, nil); err != nil {
		t.Fatal(err)
	}
	id, err := codec.Register(ctx, reg, codec.Subject(codec.NodeTopic("account")), evolved)
	if err != nil {
		t.Fatalf("registry refused a compatible evolution: %v", err)
	}
	el := codec.NewElements(reg)
	head := cat(codec.AppendHeader(nil, id), long(7), []byte("account"), long(1), []byte("a"))
	tail := cat(long(0), long(1), long(2), long(3))
	good := cat(head, long(2), []byte{0, 2, 8}, long(0), tail)
	if n, err := el.DecodeNode(ctx, good); err != nil || n.ID != "a" || n.UpdatedAt != 3 {
		t.Fatalf("DecodeNode(good) = %+v, %v", n, err)
	}
	for _, count := range []int64{e40, 50_000_000} {
		n := allocated(func() {
			_, err = el.DecodeNode(ctx, cat(head, long(count), tail))
		})
		if !errors.Is(err, codec.ErrTruncated) || !strings.Contains(err.Error(), "items in field junk exceeds the 4 bytes left in the record") {
			t.Fatalf("count %d: DecodeNode = %v, want the array refused", count, err)
		}
		if n > 64<<10 {
			t.Fatalf("count %d: allocated %d bytes", count, n)
		}
	}
}

// The hand-written decoder of graph records bounds its map as the check
// bounds hamba's: by the bytes left, by DefaultMaxItems, and by a block's
// byte size.
func TestDecodeNodeOwnBounds(t *testing.T) {
	el := codec.NewElementsWithIDs(1, 2)
	ctx := testCtx(t)
	head := cat(codec.AppendHeader(nil, 1), long(7), []byte("account"), long(1), []byte("a"))
	tail := cat(long(1), long(2), long(3))
	entry := []byte{2, 'k', 0, 0} // "k": ts 0, null
	many := cat(head, long(codec.DefaultMaxItems+1))
	for range codec.DefaultMaxItems + 1 {
		many = append(many, entry...)
	}
	many = cat(many, long(0), tail)
	for _, tc := range []struct {
		name  string
		value []byte
		kind  error
	}{
		{"2^40 entries", cat(head, long(e40), entry, long(0), tail), codec.ErrTruncated},
		{"more entries than DefaultMaxItems", many, codec.ErrTooManyItems},
		{"a block size that is not its entries'", cat(head, long(-1), long(5), entry, long(0), tail), codec.ErrMalformed},
		{"block count -2^63", cat(head, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, long(0), tail), codec.ErrMalformed},
	} {
		if _, err := el.DecodeNode(ctx, tc.value); !errors.Is(err, tc.kind) {
			t.Errorf("%s: DecodeNode = %v, want %v", tc.name, err, tc.kind)
		}
	}
	if n, err := el.DecodeNode(ctx, cat(head, long(-1), long(4), entry, long(0), tail)); err != nil || len(n.Props) != 1 {
		t.Fatalf("a block with its size right: %+v, %v", n, err)
	}
}

// richSchema has every kind of type the check walks, a recursive one
// included; richReader keeps two of its fields, so hamba skips the rest.
const (
	richSchema = `{"type":"record","name":"R","namespace":"rdg.test","fields":[
		{"name":"s","type":"string"},
		{"name":"a","type":{"type":"array","items":["null","long",{"type":"record","name":"E","fields":[]}]}},
		{"name":"m","type":{"type":"map","values":{"type":"array","items":"double"}}},
		{"name":"f","type":{"type":"fixed","name":"F","size":3}},
		{"name":"e","type":{"type":"enum","name":"En","symbols":["A","B"]}},
		{"name":"b","type":["null","bytes","boolean","float","int"]},
		{"name":"l","type":["null",{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]},{"name":"v","type":"int"}]}]}]}`
	richReader = `{"type":"record","name":"R","namespace":"rdg.test","fields":[{"name":"s","type":"string"},{"name":"e","type":{"type":"enum","name":"En","symbols":["A","B"]}}]}`
)

// allocBound is what decoding a body of n bytes may allocate with a limit
// of maxItems items: a constant, a multiple of the body, and a multiple of
// the item limit (items that take no bytes still take a slot).
func allocBound(n, maxItems int) uint64 {
	return 64<<10 + 512*uint64(n) + 256*uint64(maxItems)
}

// FuzzBoundedDecode: on any body, the check accepts only what hamba then
// reads, and decoding (with the writer schema, with a reader schema that
// makes hamba skip fields, and a graph record's hand-written decoder)
// allocates within allocBound.
// go test -run XXX -fuzz FuzzBoundedDecode ./internal/codec
func FuzzBoundedDecode(f *testing.F) {
	w, r := avro.MustParse(richSchema), avro.MustParse(richReader)
	resolved, err := avro.NewSchemaCompatibility().Resolve(r, w)
	if err != nil {
		f.Fatal(err)
	}
	const maxItems = 1000
	dec := codec.NewDecoder(codec.Limits{MaxItems: maxItems})
	for _, v := range []map[string]any{
		{"s": "x", "a": []any{nil, int64(3), map[string]any{"rdg.test.E": map[string]any{}}}, "m": map[string]any{"k": []float64{1.5}},
			"f": [3]byte{1, 2, 3}, "e": "B", "b": map[string]any{"bytes": []byte("zz")},
			"l": map[string]any{"rdg.test.L": map[string]any{"next": map[string]any{"rdg.test.L": map[string]any{"next": nil, "v": 2}}, "v": 1}}},
		{"s": "", "a": []any{}, "m": map[string]any{}, "f": [3]byte{}, "e": "A", "b": nil, "l": nil},
	} {
		body, err := avro.Marshal(w, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	for _, b := range bombs() {
		if len(b.body) <= 1<<10 { // the megabyte strings would only slow the fuzzer
			f.Add(b.body)
		}
	}
	el := codec.NewElementsWithIDs(1, 2)
	f.Fuzz(func(t *testing.T, body []byte) {
		var m map[string]any
		var werr error
		n := allocated(func() { werr = dec.Unmarshal(w, body, &m) })
		if werr != nil && dec.Check(w, body) == nil {
			t.Fatalf("the check accepts a body hamba rejects (%v): %x", werr, body)
		}
		if n > allocBound(len(body), maxItems) {
			t.Fatalf("decoding a %d-byte body allocated %d bytes (%v)", len(body), n, werr)
		}
		n = allocated(func() { _ = dec.UnmarshalResolved(w, resolved, body, &m) })
		if n > allocBound(len(body), maxItems) {
			t.Fatalf("decoding a %d-byte body with a reader schema allocated %d bytes", len(body), n)
		}
		value := append(codec.AppendHeader(nil, 1), body...)
		n = allocated(func() { _, _ = el.DecodeNode(context.Background(), value) })
		if n > allocBound(len(body), codec.DefaultMaxItems) {
			t.Fatalf("decoding a %d-byte graph record allocated %d bytes", len(body), n)
		}
	})
}
