package engine

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
)

// The fast record decoder (decode.go) must read exactly what hamba reads:
// for every body it accepts, hamba accepts it too (strictly, as the
// processor decodes: codec.Unmarshal) and produces the same value for every
// field. Bodies it refuses go to hamba, so refusing is always correct.

const decodeTestSchema = `{"type": "record", "name": "R", "namespace": "t", "fields": [
	{"name": "s", "type": "string"},
	{"name": "skip", "type": "string"},
	{"name": "i", "type": "int"},
	{"name": "l", "type": "long"},
	{"name": "f", "type": "float"},
	{"name": "d", "type": "double"},
	{"name": "b", "type": "boolean"},
	{"name": "n", "type": "null"},
	{"name": "by", "type": "bytes"},
	{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["X", "Y", "Z"]}},
	{"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
	{"name": "tu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
	{"name": "dt", "type": {"type": "int", "logicalType": "date"}},
	{"name": "u", "type": ["null", "string"], "default": null},
	{"name": "u2", "type": ["long", "null", "double", {"type": "long", "logicalType": "timestamp-millis"}]},
	{"name": "skipu", "type": ["null", "E", "bytes"]}
]}`

func decodeTestLayout() *layout {
	l := &layout{slot: map[string]int{}}
	for _, n := range []string{"s", "i", "l", "f", "d", "b", "n", "by", "e", "ts", "tu", "dt", "u", "u2", "absent"} {
		l.add(n)
	}
	return l
}

func randRecord(r *rand.Rand) map[string]any {
	strs := []string{"", "a", "héllo", string(make([]byte, 300))}
	var u2 any
	switch r.IntN(4) {
	case 0:
		u2 = map[string]any{"long": r.Int64() >> r.IntN(64)}
	case 1:
		u2 = nil
	case 2:
		u2 = map[string]any{"double": []float64{0, -1.25, math.Inf(-1), math.NaN()}[r.IntN(4)]}
	default:
		u2 = map[string]any{"long.timestamp-millis": time.UnixMilli(r.Int64N(1 << 45)).UTC()}
	}
	var u any
	if r.IntN(2) == 0 {
		u = strs[r.IntN(len(strs))]
	}
	var skipu any
	switch r.IntN(3) {
	case 1:
		skipu = map[string]any{"t.E": "Y"}
	case 2:
		skipu = map[string]any{"bytes": []byte("zz")}
	}
	return map[string]any{
		"s": strs[r.IntN(len(strs))], "skip": strs[r.IntN(len(strs))],
		"i": int(int32(r.Uint32())) >> r.IntN(32), "l": r.Int64() >> r.IntN(64) * int64(1-2*r.IntN(2)),
		"f": float32(r.NormFloat64()), "d": r.NormFloat64(), "b": r.IntN(2) == 0, "n": nil,
		"by": []byte(strs[r.IntN(len(strs))]), "e": []string{"X", "Y", "Z"}[r.IntN(3)],
		"ts": time.UnixMilli(r.Int64N(1<<45) - 1<<44).UTC(), "tu": time.UnixMicro(r.Int64N(1<<50) - 1<<49).UTC(),
		"dt": time.Unix(int64(r.IntN(40000)-20000)*86400, 0).UTC(),
		"u":  u, "u2": u2, "skipu": skipu,
	}
}

// checkDecode decodes body both ways and compares.
func checkDecode(t *testing.T, d *recordDecoder, l *layout, body []byte) (fast bool) {
	t.Helper()
	slots := make([]any, len(l.names))
	for i := range slots {
		slots[i] = "stale" // a previous record's values must not survive
	}
	if !d.decode(body, slots, newBoxes()) {
		return false
	}
	var m map[string]any
	if err := codec.Unmarshal(d.schema, body, &m); err != nil {
		t.Fatalf("fast decoder accepted a body hamba rejects (%v): %x", err, body)
	}
	for i, name := range l.names {
		if !sameDecoded(slots[i], m[name]) {
			t.Fatalf("field %s: fast %#v (%T), hamba %#v (%T); body %x", name, slots[i], slots[i], m[name], m[name], body)
		}
	}
	return true
}

// sameDecoded compares decoded values, floats bit for bit: both decoders
// read the same bytes, and a float32 NaN is not DeepEqual to itself.
func sameDecoded(a, b any) bool {
	switch x := a.(type) {
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	}
	return sameResult(a, b)
}

func TestRecordDecoderMatchesHamba(t *testing.T) {
	sch := avro.MustParse(decodeTestSchema)
	l := decodeTestLayout()
	d := newRecordDecoder(sch, l, true)
	if d.fields == nil {
		t.Fatal("the schema should be decodable by the fast path")
	}
	r := rand.New(rand.NewPCG(5, 5))
	fast := 0
	for range 2000 {
		body, err := avro.Marshal(sch, randRecord(r))
		if err != nil {
			t.Fatal(err)
		}
		if checkDecode(t, d, l, body) {
			fast++
		}
		// Damaged bodies: cut short, extended, or a byte changed.
		checkDecode(t, d, l, body[:r.IntN(len(body))])
		checkDecode(t, d, l, append(body, byte(r.IntN(256))))
		b := append([]byte(nil), body...)
		b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		checkDecode(t, d, l, b)
	}
	if fast != 2000 {
		t.Fatalf("fast path decoded %d of 2000 valid bodies", fast)
	}
}

// A schema with a type the fast path does not decode goes to hamba whole.
func TestRecordDecoderFallsBack(t *testing.T) {
	for _, s := range []string{
		`{"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"}, {"name": "a", "type": {"type": "array", "items": "long"}}]}`,
		`{"type": "record", "name": "R", "fields": [{"name": "x", "type": {"type": "fixed", "name": "F", "size": 2}}]}`,
		`{"type": "record", "name": "R", "fields": [{"name": "x", "type": {"type": "long", "logicalType": "local-timestamp-millis"}}]}`,
	} {
		d := newRecordDecoder(avro.MustParse(s), decodeTestLayout(), true)
		if d.fields != nil {
			t.Fatalf("%s: fast path claims a schema it cannot decode", s)
		}
	}
}

func FuzzRecordDecoder(f *testing.F) {
	sch := avro.MustParse(decodeTestSchema)
	l := decodeTestLayout()
	d := newRecordDecoder(sch, l, true)
	r := rand.New(rand.NewPCG(6, 6))
	for range 20 {
		body, err := avro.Marshal(sch, randRecord(r))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode(t, d, l, body)
	})
}
