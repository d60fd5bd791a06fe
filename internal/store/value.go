package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/rdgraph/rdg/internal/graph"
)

// Element value encoding (the value of 'n', 'o' and 'i' keys)
//
//	value := version times prop*
//	version := 0x01
//	times := varint(firstSeen) varint(lastSeen) varint(updatedAt)
//	prop := uvarint(len(name)) name varint(ts) tag payload
//
// varint is Go's zig-zag signed varint (encoding/binary.AppendVarint),
// uvarint the unsigned one. Props are sorted by name, bytewise, each name
// once, and run to the end of the value, so one value is complete on its
// own: it is both a Pebble merge operand and a merge result, and two values
// merge in one linear pass over their sorted props without building maps.
// Tags, in the order graph.CompareValues ranks the kinds:
//
//	0x00 null    no payload
//	0x01 false   no payload
//	0x02 true    no payload
//	0x03 int     varint
//	0x04 float   8 bytes, big-endian IEEE 754 bits (NaN stored as one canonical NaN)
//	0x05 string  uvarint(len) bytes
//
// The encoding is canonical — each logical element has exactly one
// encoding — which is what makes replays and reorderings converge to
// identical bytes and not merely equal values.
const valueVersion byte = 1

const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
)

var canonicalNaN = math.Float64bits(math.NaN())

// element is the part of a node or edge that a value stores.
type element struct {
	props                          graph.Props
	firstSeen, lastSeen, updatedAt int64
}

// encodeValue appends the canonical encoding of e to dst. names is scratch
// space for sorting property names. It fails on a value that is not a
// property kind (after graph.NormalizeValue).
func encodeValue(dst []byte, e element, names []string) ([]byte, []string, error) {
	dst = append(dst, valueVersion)
	dst = binary.AppendVarint(dst, e.firstSeen)
	dst = binary.AppendVarint(dst, e.lastSeen)
	dst = binary.AppendVarint(dst, e.updatedAt)
	names = names[:0]
	for k := range e.props {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		p := e.props[k]
		v, err := graph.NormalizeValue(p.Value)
		if err != nil {
			return dst, names, fmt.Errorf("property %q: %w", k, err)
		}
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendVarint(dst, p.TS)
		switch x := v.(type) {
		case nil:
			dst = append(dst, tagNull)
		case bool:
			if x {
				dst = append(dst, tagTrue)
			} else {
				dst = append(dst, tagFalse)
			}
		case int64:
			dst = append(dst, tagInt)
			dst = binary.AppendVarint(dst, x)
		case float64:
			bits := math.Float64bits(x)
			if math.IsNaN(x) {
				// One NaN on disk: NaN payloads carry no meaning worth
				// keeping apart.
				bits = canonicalNaN
			}
			dst = append(dst, tagFloat)
			dst = binary.BigEndian.AppendUint64(dst, bits)
		case string:
			dst = append(dst, tagString)
			dst = binary.AppendUvarint(dst, uint64(len(x)))
			dst = append(dst, x...)
		}
	}
	return dst, names, nil
}

var errBadValue = errors.New("store: malformed value")

// valueReader walks an encoded value without allocating.
type valueReader struct {
	b []byte
}

func (r *valueReader) varint() (int64, bool) {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		return 0, false
	}
	r.b = r.b[n:]
	return v, true
}

// header reads the version and times.
func (r *valueReader) header() (first, last, updated int64, err error) {
	if len(r.b) == 0 || r.b[0] != valueVersion {
		return 0, 0, 0, errBadValue
	}
	r.b = r.b[1:]
	var ok1, ok2, ok3 bool
	first, ok1 = r.varint()
	last, ok2 = r.varint()
	updated, ok3 = r.varint()
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, errBadValue
	}
	return first, last, updated, nil
}

// rawProp is one encoded property, its slices aliasing the value.
type rawProp struct {
	name    []byte
	ts      int64
	tag     byte
	payload []byte // without the tag; for strings, without the length
	enc     []byte // the whole encoded prop, to copy into a merge result
}

// next reads the next prop; ok is false at the end of the value.
func (r *valueReader) next() (p rawProp, ok bool, err error) {
	if len(r.b) == 0 {
		return p, false, nil
	}
	start := r.b
	n, k := binary.Uvarint(r.b)
	if k <= 0 || uint64(len(r.b)-k) < n {
		return p, false, errBadValue
	}
	p.name = r.b[k : k+int(n)]
	r.b = r.b[k+int(n):]
	var okTS bool
	if p.ts, okTS = r.varint(); !okTS || len(r.b) == 0 {
		return p, false, errBadValue
	}
	p.tag = r.b[0]
	r.b = r.b[1:]
	switch p.tag {
	case tagNull, tagFalse, tagTrue:
	case tagInt:
		_, k := binary.Varint(r.b)
		if k <= 0 {
			return p, false, errBadValue
		}
		p.payload, r.b = r.b[:k], r.b[k:]
	case tagFloat:
		if len(r.b) < 8 {
			return p, false, errBadValue
		}
		p.payload, r.b = r.b[:8], r.b[8:]
	case tagString:
		n, k := binary.Uvarint(r.b)
		if k <= 0 || uint64(len(r.b)-k) < n {
			return p, false, errBadValue
		}
		p.payload, r.b = r.b[k:k+int(n)], r.b[k+int(n):]
	default:
		return p, false, errBadValue
	}
	p.enc = start[:len(start)-len(r.b)]
	return p, true, nil
}

func (p *rawProp) value() any {
	switch p.tag {
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt:
		v, _ := binary.Varint(p.payload)
		return v
	case tagFloat:
		return math.Float64frombits(binary.BigEndian.Uint64(p.payload))
	case tagString:
		return string(p.payload)
	}
	return nil
}

// compareRaw orders two encoded property values as graph.CompareValues
// orders the decoded ones. That order is total (floats in IEEE 754
// totalOrder), so the winner of an equal-time tie never depends on arrival
// order.
func compareRaw(a, b *rawProp) int {
	if a.tag != b.tag {
		// Tags are numbered in CompareValues' kind order, false before true.
		return cmp3(a.tag, b.tag)
	}
	switch a.tag {
	case tagInt:
		x, _ := binary.Varint(a.payload)
		y, _ := binary.Varint(b.payload)
		return cmp3(x, y)
	case tagFloat:
		xb, yb := binary.BigEndian.Uint64(a.payload), binary.BigEndian.Uint64(b.payload)
		return graph.CompareValues(math.Float64frombits(xb), math.Float64frombits(yb))
	case tagString:
		return bytes.Compare(a.payload, b.payload)
	}
	return 0
}

func cmp3[T int64 | uint64 | byte](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rawWins is graph.PropWins over encoded props.
func rawWins(a, b *rawProp) bool {
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	return compareRaw(a, b) > 0
}

// mergeValues appends to dst the join of the encoded values a and b:
// graph.Node.Merge semantics, computed on the encodings. It is commutative,
// associative and idempotent on bytes, which is what a Pebble merge
// operator that may see any subset of operands in any grouping needs.
func mergeValues(dst, a, b []byte) ([]byte, error) {
	ra, rb := valueReader{a}, valueReader{b}
	f1, l1, u1, err := ra.header()
	if err != nil {
		return dst, err
	}
	f2, l2, u2, err := rb.header()
	if err != nil {
		return dst, err
	}
	dst = append(dst, valueVersion)
	dst = binary.AppendVarint(dst, min(f1, f2))
	dst = binary.AppendVarint(dst, max(l1, l2))
	dst = binary.AppendVarint(dst, max(u1, u2))

	pa, okA, err := ra.next()
	if err != nil {
		return dst, err
	}
	pb, okB, err := rb.next()
	if err != nil {
		return dst, err
	}
	var lastA, lastB []byte
	haveA, haveB := false, false
	for okA || okB {
		c := 0
		switch {
		case !okA:
			c = 1
		case !okB:
			c = -1
		default:
			c = bytes.Compare(pa.name, pb.name)
		}
		advA, advB := c <= 0, c >= 0
		switch {
		case c < 0:
			dst = append(dst, pa.enc...)
		case c > 0:
			dst = append(dst, pb.enc...)
		case rawWins(&pb, &pa):
			dst = append(dst, pb.enc...)
		default:
			dst = append(dst, pa.enc...)
		}
		// A value whose props are not strictly sorted would make the result
		// depend on operand order; refuse it rather than spread it.
		if advA {
			if haveA && bytes.Compare(lastA, pa.name) >= 0 {
				return dst, errBadValue
			}
			lastA, haveA = pa.name, true
			if pa, okA, err = ra.next(); err != nil {
				return dst, err
			}
		}
		if advB {
			if haveB && bytes.Compare(lastB, pb.name) >= 0 {
				return dst, errBadValue
			}
			lastB, haveB = pb.name, true
			if pb, okB, err = rb.next(); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// decodeValue decodes an encoded value.
func decodeValue(v []byte) (element, error) { return decodeValueNames(v, nil) }

// decodeValueNames decodes an encoded value, taking property names from n
// (if not nil) rather than allocating them.
func decodeValueNames(v []byte, n *names) (element, error) {
	r := valueReader{v}
	var e element
	var err error
	if e.firstSeen, e.lastSeen, e.updatedAt, err = r.header(); err != nil {
		return e, err
	}
	for {
		p, ok, err := r.next()
		if err != nil {
			return e, err
		}
		if !ok {
			return e, nil
		}
		if e.props == nil {
			e.props = make(graph.Props, 4)
		}
		if n == nil {
			e.props[string(p.name)] = graph.Prop{Value: p.value(), TS: p.ts}
			continue
		}
		var v any
		if p.tag == tagString {
			v = n.stringValue(p.payload)
		} else {
			v = p.value()
		}
		e.props[n.get(p.name)] = graph.Prop{Value: v, TS: p.ts}
	}
}
