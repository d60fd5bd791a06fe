package serve

import (
	"fmt"
	"testing"

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
			b, err := wireCodec{}.Marshal(m)
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
			again, err := wireCodec{}.Marshal(m)
			if err != nil || len(again) != len(b) {
				t.Errorf("%T variant %d: second encoding %d bytes, first %d, %v", m, variant, len(again), len(b), err)
			}
		}
	}
	// A null property: an empty Value in the map.
	n := &rdgv1.GetNodesResponse{Nodes: []*rdgv1.Node{{Type: "t", Id: "1", Props: map[string]*rdgv1.Value{"null": {}, "": {Kind: &rdgv1.Value_IntValue{}}}}}}
	b, err := wireCodec{}.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	got := &rdgv1.GetNodesResponse{}
	if err := proto.Unmarshal(b, got); err != nil || !proto.Equal(got, n) {
		t.Errorf("null and zero values: %v %v", got, err)
	}
}
