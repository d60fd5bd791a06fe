package wire

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
)

// fill sets every field of m, recursively, to a value that is not the
// zero value; variant picks which member of each oneof is set and varies
// the values, so that a field added to the .proto files and not to the
// wire codec fails TestWireCodec.
func fill(m protoreflect.Message, variant, depth int) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
			if o.Fields().Get(variant%o.Fields().Len()) != f {
				continue
			}
		}
		switch {
		case f.IsMap():
			mp := m.Mutable(f).Map()
			for j := range 2 {
				k := protoreflect.ValueOfString(fmt.Sprintf("k%d", j)).MapKey()
				if f.MapValue().Kind() == protoreflect.MessageKind {
					v := mp.NewValue()
					if j == 0 || depth < 3 {
						fill(v.Message(), variant+j, depth+1)
					}
					mp.Set(k, v)
				} else {
					mp.Set(k, scalar(f.MapValue(), variant+j))
				}
			}
		case f.IsList():
			l := m.Mutable(f).List()
			for j := range 2 {
				if f.Kind() == protoreflect.MessageKind {
					v := l.NewElement()
					if depth < 3 {
						fill(v.Message(), variant+j, depth+1)
					}
					l.Append(v)
				} else {
					l.Append(scalar(f, variant+j))
				}
			}
		case f.Kind() == protoreflect.MessageKind:
			if depth < 3 {
				fill(m.Mutable(f).Message(), variant, depth+1)
			}
		default:
			m.Set(f, scalar(f, variant))
		}
	}
}

func scalar(f protoreflect.FieldDescriptor, variant int) protoreflect.Value {
	switch f.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d", f.Name(), variant))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(-1 - variant*1_000_000_007))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(-1 - variant))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(1 + variant))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(1 + variant))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(1.5 + float64(variant))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1.5 + float32(variant))
	case protoreflect.EnumKind:
		vals := f.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(1 + variant%(vals.Len()-1)).Number())
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(variant), 0})
	}
	panic(fmt.Sprintf("unhandled kind %s", f.Kind()))
}

// TestWireCodec: what a client decodes from the wire codec's encoding is
// the message, for every response type with a fast path, every field set.
func TestWireCodec(t *testing.T) {
	for _, newMsg := range []func() proto.Message{
		func() proto.Message { return &rdgv1.TraverseResponse{} },
		func() proto.Message { return &rdgv1.ConnectedGroupResponse{} },
		func() proto.Message { return &rdgv1.GetNodesResponse{} },
		func() proto.Message { return &rdgv1.NeighborsResponse{} },
		func() proto.Message { return &rdgv1.ShortestPathResponse{} },
	} {
		for variant := range 4 {
			m := newMsg()
			fill(m.ProtoReflect(), variant, 0)
			if tr, ok := m.(*rdgv1.TraverseResponse); ok && variant%2 == 0 {
				tr.Paths = nil // the fast path
			}
			b, err := codec{}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got := newMsg()
			if err := proto.Unmarshal(b, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, m) {
				t.Errorf("%T variant %d: decoded\n%v\nwant\n%v", m, variant, got, m)
			}
			// The message is left as it was given.
			again, err := codec{}.Marshal(m)
			if err != nil || len(again) != len(b) {
				t.Errorf("%T variant %d: second encoding %d bytes, first %d, %v", m, variant, len(again), len(b), err)
			}
		}
	}
	// A null property: an empty Value in the map.
	n := &rdgv1.GetNodesResponse{Nodes: []*rdgv1.Node{{Type: "t", Id: "1", Props: map[string]*rdgv1.Value{"null": {}, "": {Kind: &rdgv1.Value_IntValue{}}}}}}
	b, err := codec{}.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	got := &rdgv1.GetNodesResponse{}
	if err := proto.Unmarshal(b, got); err != nil || !proto.Equal(got, n) {
		t.Errorf("null and zero values: %v %v", got, err)
	}
}

// TestWireDecode: the client side of the wire codec decodes what
// protobuf-go decodes, from either encoder, taking its fast path for valid
// answers; for damaged or unusual input (unknown fields, bad UTF-8, repeated
// message fields, random corruption) it agrees with proto.Unmarshal on the
// value or on failing.
func TestWireDecode(t *testing.T) {
	msgs := []func() proto.Message{
		func() proto.Message { return &rdgv1.TraverseResponse{} },
		func() proto.Message { return &rdgv1.ConnectedGroupResponse{} },
		func() proto.Message { return &rdgv1.GetNodesResponse{} },
		func() proto.Message { return &rdgv1.NeighborsResponse{} },
	}
	agree := func(t *testing.T, newMsg func() proto.Message, b []byte) {
		t.Helper()
		want, got := newMsg(), newMsg()
		werr := proto.Unmarshal(b, want)
		gerr := codec{}.Unmarshal(b, got)
		if (werr != nil) != (gerr != nil) || (werr == nil && !proto.Equal(got, want)) {
			t.Fatalf("%T from %x:\nwire codec %v, %v\nprotobuf-go %v, %v", want, b, got, gerr, want, werr)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, newMsg := range msgs {
		for variant := range 4 {
			m := newMsg()
			fill(m.ProtoReflect(), variant, 0)
			m.ProtoReflect().Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
				if f.Name() == "paths" {
					m.ProtoReflect().Clear(f) // decoded by protobuf-go either way
				}
				return true
			})
			generic, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			fast, err := codec{}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range [][]byte{generic, fast} {
				got := newMsg()
				if err := (codec{}).Unmarshal(b, got); err != nil || !proto.Equal(got, m) {
					t.Fatalf("%T variant %d: decoded %v, %v\nwant %v", m, variant, got, err, m)
				}
				// Valid answers take the fast path.
				d := decoder{strs: map[string]string{}}
				if _, _, _, _, err := d.response(b, mustBigFields(t, m)); err != nil {
					t.Errorf("%T variant %d: fast path refused a valid message: %v", m, variant, err)
				}
				agree(t, newMsg, b)
				for range 300 {
					bad := bytes.Clone(b)
					for range 1 + rng.IntN(3) {
						bad[rng.IntN(len(bad))] = byte(rng.Uint32())
					}
					agree(t, newMsg, bad)
					agree(t, newMsg, b[:rng.IntN(len(b))])
				}
			}
		}
	}

	// Hand-made unusual input inside a node or an edge.
	node := func(extra ...byte) []byte {
		n := protowire.AppendTag(nil, 1, protowire.BytesType)
		n = protowire.AppendString(n, "account")
		n = append(n, extra...)
		b := protowire.AppendTag(nil, 1, protowire.BytesType)
		return protowire.AppendBytes(b, n)
	}
	field := func(num protowire.Number, typ protowire.Type, payload []byte) []byte {
		b := protowire.AppendTag(nil, num, typ)
		if typ == protowire.BytesType {
			return protowire.AppendBytes(b, payload)
		}
		return append(b, payload...)
	}
	entry := func(parts ...[]byte) []byte { return field(3, protowire.BytesType, bytes.Join(parts, nil)) }
	ref := field(1, protowire.BytesType, []byte("device"))
	for name, b := range map[string][]byte{
		"unknown field":       node(field(99, protowire.VarintType, []byte{7})...),
		"wrong wire type":     node(field(4, protowire.BytesType, []byte("x"))...),
		"bad utf-8 id":        node(field(2, protowire.BytesType, []byte{0xff, 0xfe})...),
		"entry without value": node(entry(field(1, protowire.BytesType, []byte("k")))...),
		"entry without key":   node(entry(field(2, protowire.BytesType, field(2, protowire.VarintType, []byte{5})))...),
		"two values in entry": node(entry(field(1, protowire.BytesType, []byte("k")), field(2, protowire.BytesType, field(2, protowire.VarintType, []byte{5})), field(2, protowire.BytesType, field(1, protowire.BytesType, []byte("s"))))...),
		"oneof twice":         node(entry(field(1, protowire.BytesType, []byte("k")), field(2, protowire.BytesType, append(field(2, protowire.VarintType, []byte{5}), field(4, protowire.VarintType, []byte{1})...)))...),
		"repeated key":        node(append(entry(field(1, protowire.BytesType, []byte("k"))), entry(field(1, protowire.BytesType, []byte("k")), field(2, protowire.BytesType, field(3, protowire.Fixed64Type, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f})))...)...),
	} {
		t.Run(name, func(t *testing.T) {
			agree(t, msgs[2], b)
			agree(t, msgs[0], b)
		})
	}
	edge := field(3, protowire.BytesType, append(field(2, protowire.BytesType, ref), field(2, protowire.BytesType, field(2, protowire.BytesType, []byte("d1")))...))
	agree(t, msgs[0], edge) // "from" twice: protobuf-go merges the two
}

func mustBigFields(t *testing.T, m proto.Message) bigFields {
	f, ok := bigFieldsOf(m)
	if !ok {
		t.Fatalf("%T has no fast path", m)
	}
	return f
}
