package engine

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/avrowire"
)

// Record decoding
//
// hamba/avro decodes a record into map[string]any through reflection, a
// map insert and an allocation per field: the largest single cost of the
// per-record path. For writer schemas made of the types events are made of
// (null, boolean, int, long, float, double, string, bytes, enum, the date
// and timestamp logical types, and unions of these), a recordDecoder reads
// the body straight into the job's slots instead, skipping fields no
// expression uses. Strings share one copy of the body (a string
// conversion per record, not per field). The values are exactly those
// hamba produces for the same field (int for int, int64 for long,
// time.Time in UTC for timestamps, []byte{} for empty bytes, the symbol
// for an enum, the branch's value or nil for a union), which
// decode_test.go checks against hamba on generated and fuzzed bodies.
//
// Anything else, and every body the fast path cannot read to its exact
// end, goes through hamba (the job's avrowire.Decoder): its value, or its
// error for the dead letter. A reader schema that differs from the writer
// schema (schema evolution) also uses hamba, which implements resolution.
//
// Neither path allocates what a body claims rather than holds. The fast
// path reads no arrays or maps, and checks a string's length against the
// bytes left before it takes one; the avrowire.Decoder walks the body over
// its writer schema and refuses any length or count the bytes left cannot
// hold, or beyond tuning.max_record_items, before hamba reads it.

type fieldKind uint8

const (
	kindUnsupported fieldKind = iota
	kindNull
	kindBool
	kindInt
	kindLong
	kindFloat
	kindDouble
	kindString
	kindBytes
	kindEnum
	kindDate
	kindTimestampMillis
	kindTimestampMicros
	kindUnion
)

// fieldDecoder decodes one field (or union branch).
type fieldDecoder struct {
	kind     fieldKind
	slot     int            // -1: no expression uses the field; skip it
	symbols  []any          // enum symbols, boxed once
	branches []fieldDecoder // union branches (slot unused)
}

// recordDecoder decodes records written with one schema.
type recordDecoder struct {
	// schema is what hamba reads with: writer, or writer resolved to the
	// job's reader schema. The body is checked over writer, whose layout
	// it has, before hamba reads it (avrowire.Decoder).
	schema, writer avro.Schema
	// fields is nil when the schema has a type the fast path does not
	// decode: every record then goes through hamba.
	fields []fieldDecoder
	// clear lists the slots this decoder does not set, which must be reset
	// to nil for each record (fields the writer does not have).
	clear []int
}

func newRecordDecoder(sch avro.Schema, l *layout, fast bool) *recordDecoder {
	d := &recordDecoder{schema: sch, writer: sch}
	if !fast || l == nil {
		return d
	}
	rec, ok := sch.(*avro.RecordSchema)
	if !ok {
		return d
	}
	set := make([]bool, len(l.names))
	fields := make([]fieldDecoder, 0, len(rec.Fields()))
	for _, f := range rec.Fields() {
		fd := fieldOf(f.Type())
		if fd.kind == kindUnsupported {
			return d
		}
		fd.slot = -1
		if i, ok := l.slot[f.Name()]; ok {
			fd.slot = i
			set[i] = true
		}
		fields = append(fields, fd)
	}
	d.fields = fields
	for i, s := range set {
		if !s {
			d.clear = append(d.clear, i)
		}
	}
	return d
}

func fieldOf(s avro.Schema) fieldDecoder {
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch {
		case s.Type() == avro.Int && ls.Logical().Type() == avro.Date:
			return fieldDecoder{kind: kindDate}
		case s.Type() == avro.Long && ls.Logical().Type() == avro.TimestampMillis:
			return fieldDecoder{kind: kindTimestampMillis}
		case s.Type() == avro.Long && ls.Logical().Type() == avro.TimestampMicros:
			return fieldDecoder{kind: kindTimestampMicros}
		}
		return fieldDecoder{}
	}
	switch s.Type() {
	case avro.Null:
		return fieldDecoder{kind: kindNull}
	case avro.Boolean:
		return fieldDecoder{kind: kindBool}
	case avro.Int:
		return fieldDecoder{kind: kindInt}
	case avro.Long:
		return fieldDecoder{kind: kindLong}
	case avro.Float:
		return fieldDecoder{kind: kindFloat}
	case avro.Double:
		return fieldDecoder{kind: kindDouble}
	case avro.String:
		return fieldDecoder{kind: kindString}
	case avro.Bytes:
		return fieldDecoder{kind: kindBytes}
	case avro.Enum:
		syms := s.(*avro.EnumSchema).Symbols()
		boxed := make([]any, len(syms))
		for i, sym := range syms {
			boxed[i] = sym
		}
		return fieldDecoder{kind: kindEnum, symbols: boxed}
	case avro.Union:
		types := s.(*avro.UnionSchema).Types()
		bs := make([]fieldDecoder, len(types))
		for i, t := range types {
			if t.Type() == avro.Union {
				return fieldDecoder{}
			}
			if bs[i] = fieldOf(t); bs[i].kind == kindUnsupported {
				return fieldDecoder{}
			}
		}
		return fieldDecoder{kind: kindUnion, branches: bs}
	case avro.Ref:
		return fieldOf(s.(*avro.RefSchema).Schema())
	}
	return fieldDecoder{}
}

// decode reads body into slots. It reports false if the fast path cannot
// decode it (an unsupported schema, or a body hamba might read
// differently or reject); the caller then decodes with hamba.
func (d *recordDecoder) decode(body []byte, slots []any, bx *boxes) bool {
	if d.fields == nil {
		return false
	}
	r := bodyReader{buf: body, bx: bx}
	for i := range d.fields {
		f := &d.fields[i]
		if f.slot < 0 {
			if !r.skip(f) {
				return false
			}
			continue
		}
		v, ok := r.value(f)
		if !ok {
			return false
		}
		slots[f.slot] = v
	}
	if r.pos != len(body) {
		return false // trailing bytes: hamba reports them
	}
	for _, i := range d.clear {
		slots[i] = nil
	}
	return true
}

// maxByteSlice is the hamba path's limit on strings and bytes: longer ones
// are errors there.
const maxByteSlice = avrowire.DefaultMaxBytes

// bodyReader reads Avro binary encoding from a record body.
type bodyReader struct {
	buf []byte
	pos int
	// str is buf as a string, made on first use, so that every string
	// field of the record shares one allocation.
	str string
	bx  *boxes // see box.go
}

// long reads a zig-zag varint of at most 10 bytes, as hamba's ReadLong
// does, including its overflow behaviour.
func (r *bodyReader) long() (int64, bool) {
	var v uint64
	var s uint8
	for i := 0; i < 10; i++ {
		if r.pos >= len(r.buf) {
			return 0, false
		}
		b := r.buf[r.pos]
		r.pos++
		v |= uint64(b&0x7f) << s
		if b&0x80 == 0 {
			return int64((v >> 1) ^ -(v & 1)), true
		}
		s += 7
	}
	return 0, false
}

// int reads a zig-zag varint of at most 5 bytes, as hamba's ReadInt does.
func (r *bodyReader) int() (int32, bool) {
	var v uint32
	var s uint8
	for i := 0; i < 5; i++ {
		if r.pos >= len(r.buf) {
			return 0, false
		}
		b := r.buf[r.pos]
		r.pos++
		v |= uint32(b&0x7f) << s
		if b&0x80 == 0 {
			return int32((v >> 1) ^ -(v & 1)), true
		}
		s += 7
	}
	return 0, false
}

// span reads a length-prefixed string or bytes and returns its bounds.
func (r *bodyReader) span() (int, int, bool) {
	n, ok := r.long()
	if !ok || n < 0 || n > maxByteSlice || int64(len(r.buf)-r.pos) < n {
		return 0, 0, false
	}
	start := r.pos
	r.pos += int(n)
	return start, r.pos, true
}

func (r *bodyReader) value(f *fieldDecoder) (any, bool) {
	switch f.kind {
	case kindNull:
		return nil, true
	case kindBool:
		if r.pos >= len(r.buf) || r.buf[r.pos] > 1 {
			return nil, false
		}
		r.pos++
		return r.buf[r.pos-1] == 1, true
	case kindInt:
		v, ok := r.int()
		return int(v), ok
	case kindLong:
		v, ok := r.long()
		return r.bx.long.box(v), ok
	case kindFloat:
		if len(r.buf)-r.pos < 4 {
			return nil, false
		}
		r.pos += 4
		return math.Float32frombits(binary.LittleEndian.Uint32(r.buf[r.pos-4:])), true
	case kindDouble:
		if len(r.buf)-r.pos < 8 {
			return nil, false
		}
		r.pos += 8
		return math.Float64frombits(binary.LittleEndian.Uint64(r.buf[r.pos-8:])), true
	case kindString:
		a, b, ok := r.span()
		if !ok {
			return nil, false
		}
		if a == b {
			return "", true
		}
		if r.str == "" {
			r.str = string(r.buf)
		}
		return r.bx.str.box(r.str[a:b]), true
	case kindBytes:
		a, b, ok := r.span()
		if !ok {
			return nil, false
		}
		return append([]byte{}, r.buf[a:b]...), true
	case kindEnum:
		i, ok := r.int()
		if !ok || i < 0 || int(i) >= len(f.symbols) {
			return nil, false
		}
		return f.symbols[i], true
	case kindDate:
		v, ok := r.int()
		return r.bx.time.box(time.Unix(int64(v)*86400, 0).UTC()), ok
	case kindTimestampMillis:
		v, ok := r.long()
		sec := v / 1e3
		return r.bx.time.box(time.Unix(sec, (v-sec*1e3)*1e6).UTC()), ok
	case kindTimestampMicros:
		v, ok := r.long()
		sec := v / 1e6
		return r.bx.time.box(time.Unix(sec, (v-sec*1e6)*1e3).UTC()), ok
	case kindUnion:
		i, ok := r.int()
		if !ok || i < 0 || int(i) >= len(f.branches) {
			return nil, false
		}
		return r.value(&f.branches[i])
	}
	return nil, false
}

// skip advances past a field without building its value.
func (r *bodyReader) skip(f *fieldDecoder) bool {
	switch f.kind {
	case kindNull:
		return true
	case kindBool:
		if r.pos >= len(r.buf) || r.buf[r.pos] > 1 {
			return false
		}
		r.pos++
		return true
	case kindInt, kindDate:
		_, ok := r.int()
		return ok
	case kindLong, kindTimestampMillis, kindTimestampMicros:
		_, ok := r.long()
		return ok
	case kindFloat:
		r.pos += 4
		return r.pos <= len(r.buf)
	case kindDouble:
		r.pos += 8
		return r.pos <= len(r.buf)
	case kindString, kindBytes:
		_, _, ok := r.span()
		return ok
	case kindEnum:
		i, ok := r.int()
		return ok && i >= 0 && int(i) < len(f.symbols)
	case kindUnion:
		i, ok := r.int()
		if !ok || i < 0 || int(i) >= len(f.branches) {
			return false
		}
		return r.skip(&f.branches[i])
	}
	return false
}
