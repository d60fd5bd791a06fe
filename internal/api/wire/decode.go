package wire

import (
	"errors"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
)

// The decoding half of codec, for clients: protobuf-go decodes map
// fields through reflection and allocates every map value, oneof wrapper
// and string on its own, which made decoding a 2-hop answer (~900 nodes
// and edges with their properties) cost a client more CPU than the server
// spent traversing. The decoder here reads Node, Edge and Neighbor fields
// directly, allocates property values in blocks, and interns the strings
// an answer repeats (types, property names); every other field goes
// through proto.Unmarshal. Anything it does not expect — an unknown field,
// a wire type that does not match, a repeated message field, invalid
// UTF-8 — makes it start over with proto.Unmarshal, so a message decodes
// to the same value, or fails with protobuf-go's error, either way.
// TestWireDecode compares the two on every field.

// errSlowPath sends a message to proto.Unmarshal.
var errSlowPath = errors.New("wire: message needs the generic decoder")

// Field numbers of the repeated Node, Edge and Neighbor fields of each
// response the fast path knows (0: none).
type bigFields struct{ nodes, edges, neighbors protowire.Number }

// bigFieldsOf returns the fields of m the fast path decodes, and false for
// a message it leaves to proto.Unmarshal.
func bigFieldsOf(m proto.Message) (bigFields, bool) {
	switch m.(type) {
	case *rdgv1.TraverseResponse:
		return bigFields{nodes: 1, edges: 3}, true
	case *rdgv1.ConnectedGroupResponse:
		return bigFields{nodes: 1, edges: 2}, true
	case *rdgv1.GetNodesResponse:
		return bigFields{nodes: 1}, true
	case *rdgv1.NeighborsResponse:
		return bigFields{neighbors: 1}, true
	}
	return bigFields{}, false
}

func unmarshalResponse(b []byte, m proto.Message) error {
	f, ok := bigFieldsOf(m)
	if !ok {
		return proto.Unmarshal(b, m)
	}
	proto.Reset(m)
	d := decoder{strs: map[string]string{}}
	nodes, edges, nbs, rest, err := d.response(b, f)
	if err == nil && len(rest) > 0 {
		err = proto.UnmarshalOptions{Merge: true}.Unmarshal(rest, m)
	}
	if err != nil {
		proto.Reset(m)
		return proto.Unmarshal(b, m)
	}
	switch x := m.(type) {
	case *rdgv1.TraverseResponse:
		x.Nodes, x.Edges = nodes, edges
	case *rdgv1.ConnectedGroupResponse:
		x.Nodes, x.Edges = nodes, edges
	case *rdgv1.GetNodesResponse:
		x.Nodes = nodes
	case *rdgv1.NeighborsResponse:
		x.Neighbors = nbs
	}
	return nil
}

// decoder holds what one response's decoding allocates in blocks.
type decoder struct {
	strs   map[string]string // interned short strings
	values []rdgv1.Value
	sv     []rdgv1.Value_StringValue
	iv     []rdgv1.Value_IntValue
	nodes  []rdgv1.Node
	edges  []rdgv1.Edge
	refs   []rdgv1.NodeRef
}

const decodeBlock = 256

// response splits b into the big repeated fields, decoded, and the bytes of
// every other field.
func (d *decoder) response(b []byte, f bigFields) (nodes []*rdgv1.Node, edges []*rdgv1.Edge, nbs []*rdgv1.Neighbor, rest []byte, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, nil, nil, errSlowPath
		}
		field := b
		b = b[n:]
		if typ == protowire.BytesType && (num == f.nodes || num == f.edges || num == f.neighbors) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, nil, nil, nil, errSlowPath
			}
			b = b[n:]
			switch num {
			case f.nodes:
				nd, err := d.node(v)
				if err != nil {
					return nil, nil, nil, nil, err
				}
				nodes = append(nodes, nd)
			case f.edges:
				e, err := d.edge(v)
				if err != nil {
					return nil, nil, nil, nil, err
				}
				edges = append(edges, e)
			default:
				nb, err := d.neighbor(v)
				if err != nil {
					return nil, nil, nil, nil, err
				}
				nbs = append(nbs, nb)
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, nil, nil, nil, errSlowPath
		}
		b = b[n:]
		rest = append(rest, field[:len(field)-len(b)]...)
	}
	return nodes, edges, nbs, rest, nil
}

// str decodes a string field's payload; intern is for strings an answer
// repeats.
func (d *decoder) str(b []byte, intern bool) (string, error) {
	if !utf8.Valid(b) {
		return "", errSlowPath
	}
	if !intern || len(b) > 32 {
		return string(b), nil
	}
	if s, ok := d.strs[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	d.strs[s] = s
	return s, nil
}

// take hands out the next element of a block, allocating a new block of
// decodeBlock elements when it is used up.
func take[T any](block *[]T) *T {
	if len(*block) == 0 {
		*block = make([]T, decodeBlock)
	}
	x := &(*block)[0]
	*block = (*block)[1:]
	return x
}

func (d *decoder) newNode() *rdgv1.Node   { return take(&d.nodes) }
func (d *decoder) newEdge() *rdgv1.Edge   { return take(&d.edges) }
func (d *decoder) newRef() *rdgv1.NodeRef { return take(&d.refs) }
func (d *decoder) newValue() *rdgv1.Value { return take(&d.values) }

// field reads one field of a message the fast path knows: its number, and
// for a length-delimited field its payload, for a varint its value, for a
// fixed64 its bits. want is the wire type the field must have.
func field(b []byte, want func(protowire.Number) protowire.Type) (num protowire.Number, payload []byte, x uint64, rest []byte, err error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, nil, 0, nil, errSlowPath
	}
	b = b[n:]
	if typ != want(num) {
		return 0, nil, 0, nil, errSlowPath
	}
	switch typ {
	case protowire.BytesType:
		payload, n = protowire.ConsumeBytes(b)
	case protowire.VarintType:
		x, n = protowire.ConsumeVarint(b)
	case protowire.Fixed64Type:
		x, n = protowire.ConsumeFixed64(b)
	default:
		return 0, nil, 0, nil, errSlowPath
	}
	if n < 0 {
		return 0, nil, 0, nil, errSlowPath
	}
	return num, payload, x, b[n:], nil
}

// noField is a wire type no known field has: an unknown field number
// never matches.
const noField protowire.Type = -1

func nodeWire(num protowire.Number) protowire.Type {
	switch num {
	case 1, 2, 3:
		return protowire.BytesType
	case 4, 5, 6:
		return protowire.VarintType
	}
	return noField
}

func (d *decoder) node(b []byte) (*rdgv1.Node, error) {
	nd := d.newNode()
	for len(b) > 0 {
		num, p, x, rest, err := field(b, nodeWire)
		if err != nil {
			return nil, err
		}
		b = rest
		switch num {
		case 1:
			nd.Type, err = d.str(p, true)
		case 2:
			nd.Id, err = d.str(p, false)
		case 3:
			if nd.Props == nil {
				nd.Props = make(map[string]*rdgv1.Value, 4)
			}
			err = d.entry(p, nd.Props)
		case 4:
			nd.FirstSeenMs = int64(x)
		case 5:
			nd.LastSeenMs = int64(x)
		case 6:
			nd.UpdatedAtMs = int64(x)
		}
		if err != nil {
			return nil, err
		}
	}
	return nd, nil
}

func edgeWire(num protowire.Number) protowire.Type {
	switch num {
	case 1, 2, 3, 4:
		return protowire.BytesType
	case 5, 6, 7:
		return protowire.VarintType
	}
	return noField
}

func (d *decoder) edge(b []byte) (*rdgv1.Edge, error) {
	e := d.newEdge()
	for len(b) > 0 {
		num, p, x, rest, err := field(b, edgeWire)
		if err != nil {
			return nil, err
		}
		b = rest
		switch num {
		case 1:
			e.Type, err = d.str(p, true)
		case 2:
			if e.From != nil {
				return nil, errSlowPath // a repeated message field merges
			}
			e.From, err = d.ref(p)
		case 3:
			if e.To != nil {
				return nil, errSlowPath
			}
			e.To, err = d.ref(p)
		case 4:
			if e.Props == nil {
				e.Props = make(map[string]*rdgv1.Value, 4)
			}
			err = d.entry(p, e.Props)
		case 5:
			e.FirstSeenMs = int64(x)
		case 6:
			e.LastSeenMs = int64(x)
		case 7:
			e.UpdatedAtMs = int64(x)
		}
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

func refWire(num protowire.Number) protowire.Type {
	if num == 1 || num == 2 {
		return protowire.BytesType
	}
	return noField
}

func (d *decoder) ref(b []byte) (*rdgv1.NodeRef, error) {
	r := d.newRef()
	for len(b) > 0 {
		num, p, _, rest, err := field(b, refWire)
		if err != nil {
			return nil, err
		}
		b = rest
		if num == 1 {
			r.Type, err = d.str(p, true)
		} else {
			r.Id, err = d.str(p, false)
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (d *decoder) neighbor(b []byte) (*rdgv1.Neighbor, error) {
	nb := &rdgv1.Neighbor{}
	for len(b) > 0 {
		num, p, _, rest, err := field(b, refWire) // fields 1 and 2, both messages
		if err != nil {
			return nil, err
		}
		b = rest
		if num == 1 {
			if nb.Edge != nil {
				return nil, errSlowPath
			}
			nb.Edge, err = d.edge(p)
		} else {
			if nb.Node != nil {
				return nil, errSlowPath
			}
			nb.Node, err = d.node(p)
		}
		if err != nil {
			return nil, err
		}
	}
	return nb, nil
}

// entry decodes one map entry (key = field 1, value = field 2) into m. As
// protobuf-go does, a missing value is an empty Value and a repeated key
// keeps the last.
func (d *decoder) entry(b []byte, m map[string]*rdgv1.Value) error {
	var (
		key string
		val *rdgv1.Value
	)
	for len(b) > 0 {
		num, p, _, rest, err := field(b, refWire)
		if err != nil {
			return err
		}
		b = rest
		if num == 1 {
			if key, err = d.str(p, true); err != nil {
				return err
			}
			continue
		}
		if val != nil {
			return errSlowPath
		}
		if val, err = d.value(p); err != nil {
			return err
		}
	}
	if val == nil {
		val = d.newValue()
	}
	m[key] = val
	return nil
}

func valueWire(num protowire.Number) protowire.Type {
	switch num {
	case 1:
		return protowire.BytesType
	case 2, 4:
		return protowire.VarintType
	case 3:
		return protowire.Fixed64Type
	}
	return noField
}

func (d *decoder) value(b []byte) (*rdgv1.Value, error) {
	v := d.newValue()
	for len(b) > 0 {
		num, p, x, rest, err := field(b, valueWire)
		if err != nil {
			return nil, err
		}
		b = rest
		switch num {
		case 1:
			s, err := d.str(p, true)
			if err != nil {
				return nil, err
			}
			w := take(&d.sv)
			w.StringValue = s
			v.Kind = w
		case 2:
			w := take(&d.iv)
			w.IntValue = int64(x)
			v.Kind = w
		case 3:
			v.Kind = &rdgv1.Value_DoubleValue{DoubleValue: math.Float64frombits(x)}
		case 4:
			v.Kind = &rdgv1.Value_BoolValue{BoolValue: x != 0}
		}
	}
	return v, nil
}
