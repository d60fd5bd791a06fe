package store

import (
	"unsafe"

	"github.com/rdgraph/rdg/internal/graph"
)

var _ graph.RawPropsReader = (*Session)(nil)

// ReadRawProps switches the session to leaving properties encoded
// (graph.RawPropsReader): Node, Edges and EdgesAfter then return each
// value's bytes in Raw, copied to memory of the answer's own, and decode
// only the times, which expiry and the caller need.
func (s *Session) ReadRawProps() graph.PropsDecoder {
	s.raw = true
	return DecodeProps
}

// rawChunk is the size of the blocks a raw-mode session copies values
// into: one allocation for a few hundred values instead of one each.
const rawChunk = 32 << 10

// keepRaw copies value v to the session's raw memory. The memory is never
// reused (answers keep slices of it after the session is closed), so
// DecodeProps may hand out strings that share it.
func (s *Session) keepRaw(v []byte) []byte {
	if len(v) > rawChunk/4 {
		return append([]byte(nil), v...)
	}
	if cap(s.rawBuf)-len(s.rawBuf) < len(v) {
		s.rawBuf = make([]byte, 0, rawChunk)
	}
	n := len(s.rawBuf)
	s.rawBuf = append(s.rawBuf, v...)
	return s.rawBuf[n:len(s.rawBuf):len(s.rawBuf)]
}

// value decodes a node's or edge's value as the session reads it: all of
// it, or in raw mode only the times, with raw the value's bytes kept for
// the answer (nil otherwise). A raw value's properties are checked when
// decoded. The copy is made before the caller checks expiry, so an expired
// element's copy is wasted: rare, and cheaper than decoding twice.
func (s *Session) value(v []byte) (e element, raw []byte, err error) {
	if !s.raw {
		e, err = decodeValueNames(v, &s.names)
		return e, nil, err
	}
	r := valueReader{v}
	if e.firstSeen, e.lastSeen, e.updatedAt, err = r.header(); err != nil {
		return e, nil, err
	}
	return e, s.keepRaw(v), nil
}

// DecodeProps is the graph.PropsDecoder of the values a raw-mode session
// returns (see value.go for the encoding). Names and string values are
// passed as strings sharing raw's memory, which is safe because keepRaw
// never reuses it; numbers and booleans are boxed as Value.
func DecodeProps(raw []byte, fn func(name string, p graph.Prop) bool) error {
	r := valueReader{raw}
	if _, _, _, err := r.header(); err != nil {
		return err
	}
	for {
		p, ok, err := r.next()
		if err != nil || !ok {
			return err
		}
		var v any
		if p.tag == tagString {
			v = sharedString(p.payload)
		} else {
			v = p.value()
		}
		if !fn(sharedString(p.name), graph.Prop{Value: v, TS: p.ts}) {
			return nil
		}
	}
}

func sharedString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
