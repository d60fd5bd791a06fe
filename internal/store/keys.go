package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/rdgraph/rdg/internal/graph"
)

// Key encoding
//
// Every key starts with one kind byte that names its keyspace; the rest is a
// sequence of components, each of them encoded as
//
//	component := escaped(bytes) 0x00 0x01
//	escaped   := every 0x00 byte written as 0x00 0xff, every other byte as is
//
// (the byte-string encoding CockroachDB uses for its keys). The encoding is
// order preserving: for byte strings a and b, a < b exactly when
// enc(a)+x < enc(b)+y for any suffixes x and y. A string that is a proper
// prefix of another ends with the terminator 0x00 0x01 where the longer one
// has either a byte >= 0x01 or an escaped 0x00 (0x00 0xff), both greater.
// It is also prefix free, so "dev" and "device", or the ids "a" and "a\x00",
// never share a component prefix: the keys of one node, or one node type,
// are exactly the keys that start with its encoded components. Ids are
// arbitrary bytes (0x00, 0xff, ':' included); types need no escaping under
// graph.ValidTypeName but use the same encoding so that one decoder serves
// every component.
//
// Keyspaces:
//
//	'n' type id                                       node → element value
//	'o' fromType fromID edgeType toType toID          out-edge → element value
//	'i' toType toID edgeType fromType fromID          in-edge → element value
//	'm' name (raw bytes, not a component)             store metadata
//	't' 'n'|'e' type                                  a node or edge type stored at least once → empty
//
// So the nodes of one type are the range 'n' enc(type); the out-edges of a
// node the range 'o' enc(type) enc(id), narrowed to one edge type by
// appending enc(edgeType); the in-edges likewise under 'i'. An 'i' key holds
// the same five components as its 'o' key in a different order, and the
// same value: both are written in one batch with the same merge operands,
// so a reverse listing reads values as it reads keys (layout version 1 kept
// 'i' values empty and paid a point lookup of the 'o' entry per in-edge;
// see migrateLayout1). The 't' keys let a store know its types without a
// scan: Apply writes one, in the batch of the elements, the first time a
// type appears (layout version 2 had none; see migrateLayout2). Element
// values are described in value.go.
const (
	kindNode byte = 'n'
	kindOut  byte = 'o'
	kindIn   byte = 'i'
	kindMeta byte = 'm'
	kindType byte = 't'
)

// The second byte of a 't' key.
const (
	typeOfNode byte = 'n'
	typeOfEdge byte = 'e'
)

const (
	escByte  byte = 0x00
	escEsc   byte = 0xff // 0x00 0xff is a literal 0x00
	escTerm  byte = 0x01 // 0x00 0x01 ends a component
	termSize      = 2
)

// appendComponent appends the order-preserving, escape-terminated encoding
// of s to dst.
func appendComponent(dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, escByte, escEsc)
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, escByte, escTerm)
}

var errBadKey = errors.New("store: malformed key")

// splitComponent returns the raw (still escaped, terminator included)
// encoding of the first component of b and the rest of b. Raw components
// are enough to rebuild one key from another without decoding.
func splitComponent(b []byte) (raw, rest []byte, err error) {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], escByte)
		if j < 0 || i+j+1 >= len(b) {
			return nil, nil, errBadKey
		}
		i += j
		switch b[i+1] {
		case escTerm:
			return b[:i+termSize], b[i+termSize:], nil
		case escEsc:
			i += 2
		default:
			return nil, nil, errBadKey
		}
	}
}

// decodeComponent decodes the first component of b into a string.
func decodeComponent(b []byte) (s string, rest []byte, err error) {
	raw, rest, err := splitComponent(b)
	if err != nil {
		return "", nil, err
	}
	return unescape(raw), rest, nil
}

// unescape turns a raw component (as returned by splitComponent) into its
// string, allocating once.
func unescape(raw []byte) string {
	raw = raw[:len(raw)-termSize]
	if bytes.IndexByte(raw, escByte) < 0 {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		out = append(out, raw[i])
		if raw[i] == escByte {
			i++ // skip escEsc
		}
	}
	return string(out)
}

// nodeKey is 'n' type id.
func nodeKey(dst []byte, r graph.NodeRef) []byte {
	dst = append(dst, kindNode)
	dst = appendComponent(dst, r.Type)
	return appendComponent(dst, r.ID)
}

// outKey is 'o' fromType fromID edgeType toType toID.
func outKey(dst []byte, r *graph.EdgeRef) []byte {
	dst = append(dst, kindOut)
	dst = appendComponent(dst, r.From.Type)
	dst = appendComponent(dst, r.From.ID)
	dst = appendComponent(dst, r.Type)
	dst = appendComponent(dst, r.To.Type)
	return appendComponent(dst, r.To.ID)
}

// inKey is 'i' toType toID edgeType fromType fromID.
func inKey(dst []byte, r *graph.EdgeRef) []byte {
	dst = append(dst, kindIn)
	dst = appendComponent(dst, r.To.Type)
	dst = appendComponent(dst, r.To.ID)
	dst = appendComponent(dst, r.Type)
	dst = appendComponent(dst, r.From.Type)
	return appendComponent(dst, r.From.ID)
}

// typeKey is 't' of type: the record that typ is a known node (of
// typeOfNode) or edge (typeOfEdge) type.
func typeKey(dst []byte, of byte, typ string) []byte {
	dst = append(dst, kindType, of)
	return appendComponent(dst, typ)
}

// adjacencyPrefix is the prefix of the out- (kind 'o') or in- (kind 'i')
// edges of ref, narrowed to one edge type unless edgeType is "".
func adjacencyPrefix(dst []byte, kind byte, ref graph.NodeRef, edgeType string) []byte {
	dst = append(dst, kind)
	dst = appendComponent(dst, ref.Type)
	dst = appendComponent(dst, ref.ID)
	if edgeType != "" {
		dst = appendComponent(dst, edgeType)
	}
	return dst
}

// typePrefix is kind followed by enc(typ), or kind alone if typ is "".
func typePrefix(kind byte, typ string) []byte {
	p := []byte{kind}
	if typ != "" {
		p = appendComponent(p, typ)
	}
	return p
}

// prefixEnd returns the smallest key greater than every key with the given
// prefix, or nil if there is none (the prefix is all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// decodeNodeKey decodes a 'n' key.
func decodeNodeKey(k []byte) (graph.NodeRef, error) {
	if len(k) == 0 || k[0] != kindNode {
		return graph.NodeRef{}, errBadKey
	}
	t, rest, err := decodeComponent(k[1:])
	if err != nil {
		return graph.NodeRef{}, err
	}
	id, rest, err := decodeComponent(rest)
	if err != nil {
		return graph.NodeRef{}, err
	}
	if len(rest) != 0 {
		return graph.NodeRef{}, errBadKey
	}
	return graph.NodeRef{Type: t, ID: id}, nil
}

// decodeEdgeKey decodes an 'o' or 'i' key into the edge it names, in its
// stored orientation whichever keyspace the key is from.
func decodeEdgeKey(k []byte) (graph.EdgeRef, error) {
	if len(k) == 0 || (k[0] != kindOut && k[0] != kindIn) {
		return graph.EdgeRef{}, errBadKey
	}
	var c [5]string
	rest := k[1:]
	for i := range c {
		var err error
		if c[i], rest, err = decodeComponent(rest); err != nil {
			return graph.EdgeRef{}, err
		}
	}
	if len(rest) != 0 {
		return graph.EdgeRef{}, errBadKey
	}
	a, b := graph.NodeRef{Type: c[0], ID: c[1]}, graph.NodeRef{Type: c[3], ID: c[4]}
	if k[0] == kindIn {
		a, b = b, a
	}
	return graph.EdgeRef{Type: c[2], From: a, To: b}, nil
}

// inKeyFromOut builds the 'i' key of the edge an 'o' key holds by
// reordering its raw components, without decoding them.
func inKeyFromOut(dst, out []byte) ([]byte, error) { return flipEdgeKey(dst, out, kindOut, kindIn) }

// flipEdgeKey turns one adjacency key into the other: both hold five
// components, (near type, near id, edge type, far type, far id), so the flip
// swaps the two ends and keeps the edge type in the middle.
func flipEdgeKey(dst, key []byte, from, to byte) ([]byte, error) {
	if len(key) == 0 || key[0] != from {
		return nil, errBadKey
	}
	var raw [5][]byte
	rest := key[1:]
	for i := range raw {
		var err error
		if raw[i], rest, err = splitComponent(rest); err != nil {
			return nil, err
		}
	}
	if len(rest) != 0 {
		return nil, errBadKey
	}
	dst = append(dst, to)
	dst = append(dst, raw[3]...)
	dst = append(dst, raw[4]...)
	dst = append(dst, raw[2]...)
	dst = append(dst, raw[0]...)
	return append(dst, raw[1]...), nil
}

// prettyKey renders a key for error messages.
func prettyKey(k []byte) string {
	if len(k) == 0 {
		return "<empty key>"
	}
	switch k[0] {
	case kindNode:
		if r, err := decodeNodeKey(k); err == nil {
			return fmt.Sprintf("node %q", r.String())
		}
	case kindOut, kindIn:
		if r, err := decodeEdgeKey(k); err == nil {
			return fmt.Sprintf("edge %q", r.String())
		}
	case kindType:
		if len(k) > 1 {
			if t, rest, err := decodeComponent(k[2:]); err == nil && len(rest) == 0 {
				return fmt.Sprintf("type record %c %q", k[1], t)
			}
		}
	}
	return fmt.Sprintf("key %q", k)
}
