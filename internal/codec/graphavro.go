package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/rdgraph/rdg/internal/graph"
)

// A hand-written Avro encoder and decoder for exactly NodeSchema and
// EdgeSchema. Every job encodes each element it publishes and the graph
// writer decodes each one it stores, so this is on every element's path,
// where hamba/avro's reflective codec allocates for every element each way
// (BENCHMARKS.md has the cost). This one does the same work without
// reflection, decodes every string of a record from one copy of its body,
// and allocates nothing to encode.
//
// It is held to hamba by differential and fuzz tests (graphavro_test.go):
// encoding gives hamba's bytes (hamba writes map entries in Go's random map
// order, this writes them sorted by name, which also makes the encoding
// deterministic), and decoding accepts exactly the bodies Unmarshal (the
// bounds check, then hamba) accepts, with the same result — including
// hamba's leniencies: varints with redundant continuation bytes, a 10th
// byte of a long whose high bits are dropped, map blocks with or without a
// byte size, duplicate map keys (the last wins) — and refuses what the
// bounds check refuses. Bodies written with another schema id whose schema
// differs from ours are still read by hamba with schema resolution
// (Elements).

// Wire layout, Avro binary encoding:
//
//	Node: type string, id string, props map<Prop>, first_seen long, last_seen long, updated_at long
//	Edge: type, from_type, from_id, to_type, to_id string, props, the three longs
//	Prop: ts long, value union{null, string, long, double, boolean}
//	map:  blocks of (count long, [byte size long if count < 0], count × (key string, Prop)), ended by a 0 count
//
// long is a zig-zag varint; string a long length and the bytes; double 8
// bytes little-endian; boolean one byte, 0 or 1.

// Union branch indexes of Prop.value.
const (
	unionNull = iota
	unionString
	unionLong
	unionDouble
	unionBoolean
)

// mapBlockLength is how many entries hamba puts in one map block (its
// Config.BlockLength default); the encoding must split maps the same way
// to give the same bytes.
const mapBlockLength = 100

// maxStringLen is DefaultDecoder's Limits.MaxBytes (hamba's default
// Config.MaxByteSliceSize): a longer string is rejected, not read.
const maxStringLen = DefaultMaxBytes

func appendLong(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendVarint(dst, int64(len(s))), s...)
}

// errPropValue is the error for a property value hamba would not encode.
func errPropValue(v any) error {
	return fmt.Errorf("property value of type %T: want string, int64, float64, bool or nil", v)
}

// appendPropValue appends v with its union index; ok is false, and dst
// unchanged, for a value hamba would not encode.
func appendPropValue(dst []byte, v any) (_ []byte, ok bool) {
	switch x := v.(type) {
	case nil:
		return append(dst, unionNull<<1), true
	case string:
		return appendString(append(dst, unionString<<1), x), true
	case int64:
		return appendLong(append(dst, unionLong<<1), x), true
	case int:
		return appendLong(append(dst, unionLong<<1), int64(x)), true
	case float64:
		return binary.LittleEndian.AppendUint64(append(dst, unionDouble<<1), math.Float64bits(x)), true
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		return append(dst, unionBoolean<<1, b), true
	}
	return dst, false
}

// sortedProps returns p's entries sorted by name, in buf if they fit: Go's
// map order is random, and one element's encoding should not depend on it
// (decoders accept any order).
func sortedProps(buf *[16]graph.NamedProp, p graph.Props) []graph.NamedProp {
	props := buf[:0]
	if len(p) > len(buf) {
		props = make([]graph.NamedProp, 0, len(p))
	}
	for k, v := range p {
		props = append(props, graph.NamedProp{Name: k, Prop: v})
	}
	slices.SortFunc(props, func(a, b graph.NamedProp) int { return strings.Compare(a.Name, b.Name) })
	return props
}

// appendNamedProps appends props, sorted by name, as an Avro map: in blocks
// of mapBlockLength with their byte sizes, as hamba frames them. A block's
// size precedes its entries but is known only after them, so two bytes
// are reserved for it (what a size from 64 to 8,191 takes) and the
// entries moved if it takes one byte or more than two: one pass over the
// values instead of one to size them and one to write them.
func appendNamedProps(dst []byte, props []graph.NamedProp) ([]byte, error) {
	for len(props) > 0 {
		block := props[:min(len(props), mapBlockLength)]
		props = props[len(block):]
		dst = appendLong(dst, -int64(len(block)))
		at := len(dst)
		dst = append(dst, 0, 0)
		for i := range block {
			dst = appendString(dst, block[i].Name)
			dst = appendLong(dst, block[i].TS)
			var ok bool
			if dst, ok = appendPropValue(dst, block[i].Value); !ok {
				return dst, fmt.Errorf("prop %s: %w", block[i].Name, errPropValue(block[i].Value))
			}
		}
		dst = putReservedLong(dst, at, int64(len(dst)-at-2))
	}
	return append(dst, 0), nil
}

// putReservedLong writes v into the two bytes reserved at dst[at:], moving
// what follows them if v's encoding is shorter or longer.
func putReservedLong(dst []byte, at int, v int64) []byte {
	var enc [binary.MaxVarintLen64]byte
	n := len(appendLong(enc[:0], v))
	switch {
	case n < 2:
		copy(dst[at+n:], dst[at+2:])
		dst = dst[:len(dst)-(2-n)]
	case n > 2:
		tail := len(dst)
		dst = append(dst, enc[:n-2]...) // room for the longer length
		copy(dst[at+n:], dst[at+2:tail])
	}
	copy(dst[at:], enc[:n])
	return dst
}

// appendNodeBody appends the Avro body of n (no Confluent header) with the
// properties props, sorted by name (n.Props is not read).
func appendNodeBody(dst []byte, n *graph.Node, props []graph.NamedProp) ([]byte, error) {
	dst = appendString(dst, n.Type)
	dst = appendString(dst, n.ID)
	dst, err := appendNamedProps(dst, props)
	if err != nil {
		return dst, err
	}
	dst = appendLong(dst, n.FirstSeen)
	dst = appendLong(dst, n.LastSeen)
	return appendLong(dst, n.UpdatedAt), nil
}

// appendEdgeBody appends the Avro body of e (no Confluent header) with the
// properties props, as appendNodeBody.
func appendEdgeBody(dst []byte, e *graph.Edge, props []graph.NamedProp) ([]byte, error) {
	dst = appendString(dst, e.Type)
	dst = appendString(dst, e.From.Type)
	dst = appendString(dst, e.From.ID)
	dst = appendString(dst, e.To.Type)
	dst = appendString(dst, e.To.ID)
	dst, err := appendNamedProps(dst, props)
	if err != nil {
		return dst, err
	}
	dst = appendLong(dst, e.FirstSeen)
	dst = appendLong(dst, e.LastSeen)
	return appendLong(dst, e.UpdatedAt), nil
}

var (
	errLongOverflow = errors.New("avro: long varint longer than 10 bytes")
	errIntOverflow  = errors.New("avro: int varint longer than 5 bytes")
	errStringLen    = errors.New("avro: negative string length")
	errStringSize   = fmt.Errorf("avro: string longer than %d bytes", maxStringLen)
	errUnionIndex   = errors.New("avro: unknown union type")
	errBool         = errors.New("avro: invalid bool")
	errBlockCount   = fmt.Errorf("%w: map block count -2^63", ErrMalformed)
	errBlockSize    = fmt.Errorf("%w: a map block's byte size is not what its entries take", ErrMalformed)
	errMapEntries   = fmt.Errorf("%w: more than %d map entries", ErrTooManyItems, DefaultMaxItems)
)

// bodyReader reads an Avro body. Strings are cut from s, one copy of the
// body made up front, so a record's strings cost one allocation together.
type bodyReader struct {
	b   []byte
	s   string
	pos int
	err error
}

func newBodyReader(b []byte) bodyReader { return bodyReader{b: b, s: string(b)} }

func (r *bodyReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.pos = len(r.b)
}

// long reads a zig-zag varint as hamba's ReadLong does: at most 10 bytes,
// redundant continuation bytes allowed, bits past the 64th dropped.
func (r *bodyReader) long() int64 {
	var v uint64
	var s uint
	for i := 0; i < 10; i++ {
		if r.pos >= len(r.b) {
			r.fail(ErrTruncated)
			return 0
		}
		c := r.b[r.pos]
		r.pos++
		v |= uint64(c&0x7f) << s
		if c&0x80 == 0 {
			return int64(v>>1) ^ -int64(v&1)
		}
		s += 7
	}
	r.fail(errLongOverflow)
	return 0
}

// int reads a zig-zag varint as hamba's ReadInt does: at most 5 bytes,
// bits past the 32nd dropped.
func (r *bodyReader) int() int32 {
	var v uint32
	var s uint
	for i := 0; i < 5; i++ {
		if r.pos >= len(r.b) {
			r.fail(ErrTruncated)
			return 0
		}
		c := r.b[r.pos]
		r.pos++
		v |= uint32(c&0x7f) << s
		if c&0x80 == 0 {
			return int32(v>>1) ^ -int32(v&1)
		}
		s += 7
	}
	r.fail(errIntOverflow)
	return 0
}

func (r *bodyReader) string() string {
	n := r.long()
	switch {
	case r.err != nil:
		return ""
	case n < 0:
		r.fail(errStringLen)
		return ""
	case n == 0:
		return ""
	case n > maxStringLen:
		r.fail(errStringSize)
		return ""
	case n > int64(len(r.b)-r.pos):
		r.fail(ErrTruncated)
		return ""
	}
	s := r.s[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

func (r *bodyReader) double() float64 {
	if len(r.b)-r.pos < 8 {
		r.fail(ErrTruncated)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.pos:]))
	r.pos += 8
	return v
}

func (r *bodyReader) bool() bool {
	if r.pos >= len(r.b) {
		r.fail(ErrTruncated)
		return false
	}
	c := r.b[r.pos]
	r.pos++
	if c > 1 {
		r.fail(errBool)
	}
	return c == 1
}

func (r *bodyReader) propValue() any {
	switch r.int() {
	case unionNull:
		return nil
	case unionString:
		return r.string()
	case unionLong:
		return r.long()
	case unionDouble:
		return r.double()
	case unionBoolean:
		return r.bool()
	}
	r.fail(errUnionIndex)
	return nil
}

// props reads a map<Prop> as hamba's map decoder does: blocks until a 0
// count; a negative count is followed by a byte size; a later duplicate
// key replaces an earlier one. An empty map is nil, as graph elements have
// it. Like the check of bodies hamba reads (bounds.go), it refuses a byte
// size other than what the block's entries take, a count of -2^63, and
// more entries than DefaultMaxItems.
func (r *bodyReader) props() graph.Props {
	var p graph.Props
	entries := int64(0)
	for r.err == nil {
		count := r.long()
		if count == 0 || r.err != nil {
			break
		}
		size := int64(-1)
		if count < 0 {
			if count == math.MinInt64 {
				r.fail(errBlockCount)
				break
			}
			count = -count
			size = r.long()
		}
		// Each entry takes at least 3 bytes (key length, ts, union index).
		if count > int64(len(r.b)-r.pos)/3 {
			r.fail(ErrTruncated)
			break
		}
		if entries += count; entries > DefaultMaxItems {
			r.fail(errMapEntries)
			break
		}
		start := r.pos
		for i := int64(0); i < count && r.err == nil; i++ {
			k := r.string()
			ts := r.long()
			v := r.propValue()
			if r.err != nil {
				break
			}
			if p == nil {
				p = make(graph.Props, count)
			}
			p[k] = graph.Prop{Value: v, TS: ts}
		}
		if r.err == nil && size > 0 && int64(r.pos-start) != size {
			r.fail(errBlockSize)
		}
	}
	return p
}

// end fails unless the whole body was read.
func (r *bodyReader) end() error {
	if r.err == nil && r.pos != len(r.b) {
		r.err = ErrTrailing
	}
	return r.err
}

// decodeNodeBody decodes an Avro body written with NodeSchema.
func decodeNodeBody(b []byte) (graph.Node, error) {
	r := newBodyReader(b)
	var n graph.Node
	n.Type = r.string()
	n.ID = r.string()
	n.Props = r.props()
	n.FirstSeen = r.long()
	n.LastSeen = r.long()
	n.UpdatedAt = r.long()
	if err := r.end(); err != nil {
		return graph.Node{}, err
	}
	return n, nil
}

// decodeEdgeBody decodes an Avro body written with EdgeSchema.
func decodeEdgeBody(b []byte) (graph.Edge, error) {
	r := newBodyReader(b)
	var e graph.Edge
	e.Type = r.string()
	e.From.Type = r.string()
	e.From.ID = r.string()
	e.To.Type = r.string()
	e.To.ID = r.string()
	e.Props = r.props()
	e.FirstSeen = r.long()
	e.LastSeen = r.long()
	e.UpdatedAt = r.long()
	if err := r.end(); err != nil {
		return graph.Edge{}, err
	}
	return e, nil
}
