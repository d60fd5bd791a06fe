// Package wire is the binary protobuf codec of rdg's API, shared by the
// server (internal/serve) and its Go clients (cmd/rdg, bench/): the same
// wire format as protobuf-go's, encoded and decoded faster for answers made
// of many nodes and edges. It knows the generated messages of
// internal/api/rdgv1 and nothing of the graph engine or of serving.
package wire

import (
	"fmt"

	"connectrpc.com/connect"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
)

// codec is connect's binary protobuf codec (gRPC, gRPC-Web and the
// Connect protocol all use it, under the name "proto") with a faster
// encoder for the messages that large answers are made of: Node and Edge,
// with their property maps. protobuf-go encodes map fields through its
// generic reflection-based path, which cost more than building the
// messages; the encoder here writes the same wire format directly, and
// leaves every other field to proto.Marshal, whose output is appended
// (protobuf allows a message's fields in any order, and repeated fields to
// arrive in several runs). TestWireCodec keeps it in step with the .proto
// files: it fills every field and compares what clients decode.
//
// Clients decode answers with it too (decode.go): the CLI, and any Go
// program that passes connect.WithCodec(wire.Codec()) to its client.
type codec struct{}

// Codec is the codec rdg's server speaks binary protobuf with, for Go
// clients of the API: the same wire format as protobuf-go's, encoded and
// decoded faster for the answers made of many nodes and edges.
func Codec() connect.Codec { return codec{} }

func (codec) Name() string   { return "proto" }
func (codec) IsBinary() bool { return true }

func (c codec) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

func (codec) MarshalAppend(b []byte, m any) ([]byte, error) {
	switch x := m.(type) {
	case *rdgv1.TraverseResponse:
		if len(x.Paths) > 0 {
			break // rare and small: the generic encoder
		}
		nodes, edges := x.Nodes, x.Edges
		x.Nodes, x.Edges = nil, nil
		b, err := proto.MarshalOptions{}.MarshalAppend(b, x)
		x.Nodes, x.Edges = nodes, edges
		b = appendNodes(b, 1, nodes)
		return appendEdges(b, 3, edges), err
	case *rdgv1.ConnectedGroupResponse:
		nodes, edges := x.Nodes, x.Edges
		x.Nodes, x.Edges = nil, nil
		b, err := proto.MarshalOptions{}.MarshalAppend(b, x)
		x.Nodes, x.Edges = nodes, edges
		b = appendNodes(b, 1, nodes)
		return appendEdges(b, 2, edges), err
	case *rdgv1.GetNodesResponse:
		nodes := x.Nodes
		x.Nodes = nil
		b, err := proto.MarshalOptions{}.MarshalAppend(b, x)
		x.Nodes = nodes
		return appendNodes(b, 1, nodes), err
	case *rdgv1.NeighborsResponse:
		nbs := x.Neighbors
		x.Neighbors = nil
		b, err := proto.MarshalOptions{}.MarshalAppend(b, x)
		x.Neighbors = nbs
		for _, nb := range nbs {
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(sizeNeighbor(nb)))
			b = appendNeighbor(b, nb)
		}
		return b, err
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{}.MarshalAppend(b, pm)
}

func (codec) MarshalStable(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(pm)
}

func (codec) Unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if err := unmarshalResponse(b, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// Sizes and encoders, one pair per message, in the order of the .proto
// fields. Scalars at their zero value are omitted, as proto3 does; a
// oneof member is always written. The scalar helpers are exported for the
// server, which writes graph elements to the wire without building
// messages first and must write their fields exactly as these do.

// SizeBytesField is the size of length-delimited field num of n bytes.
func SizeBytesField(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

// SizeString is the size of string field num holding s; 0 for "".
func SizeString(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return SizeBytesField(num, len(s))
}

// AppendString appends string field num holding s, nothing for "".
func AppendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func sizeInt64(num protowire.Number, v int64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(uint64(v))
}

// AppendInt64 appends int64 field num holding v, nothing for 0.
func AppendInt64(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func sizeRef(r *rdgv1.NodeRef) int {
	return SizeString(1, r.GetType()) + SizeString(2, r.GetId())
}

func appendRef(b []byte, num protowire.Number, r *rdgv1.NodeRef) []byte {
	if r == nil {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeRef(r)))
	b = AppendString(b, 1, r.GetType())
	return AppendString(b, 2, r.GetId())
}

func sizeValue(v *rdgv1.Value) int {
	switch k := v.GetKind().(type) {
	case *rdgv1.Value_StringValue:
		return SizeBytesField(1, len(k.StringValue))
	case *rdgv1.Value_IntValue:
		return protowire.SizeTag(2) + protowire.SizeVarint(uint64(k.IntValue))
	case *rdgv1.Value_DoubleValue:
		return protowire.SizeTag(3) + protowire.SizeFixed64()
	case *rdgv1.Value_BoolValue:
		return protowire.SizeTag(4) + 1
	}
	return 0
}

func appendValue(b []byte, v *rdgv1.Value) []byte {
	switch k := v.GetKind().(type) {
	case *rdgv1.Value_StringValue:
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		return protowire.AppendString(b, k.StringValue)
	case *rdgv1.Value_IntValue:
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(k.IntValue))
	case *rdgv1.Value_DoubleValue:
		b = protowire.AppendTag(b, 3, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(k.DoubleValue))
	case *rdgv1.Value_BoolValue:
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(k.BoolValue))
	}
	return b
}

// A map entry is a message with the key as field 1 and the value as field
// 2; the value message is written even when empty (a null property).
func sizeEntry(k string, v *rdgv1.Value) int {
	return SizeString(1, k) + SizeBytesField(2, sizeValue(v))
}

func sizeProps(num protowire.Number, props map[string]*rdgv1.Value) int {
	n := 0
	for k, v := range props {
		n += SizeBytesField(num, sizeEntry(k, v))
	}
	return n
}

func appendProps(b []byte, num protowire.Number, props map[string]*rdgv1.Value) []byte {
	for k, v := range props {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeEntry(k, v)))
		b = AppendString(b, 1, k)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeValue(v)))
		b = appendValue(b, v)
	}
	return b
}

func sizeNode(n *rdgv1.Node) int {
	return SizeString(1, n.GetType()) + SizeString(2, n.GetId()) + sizeProps(3, n.GetProps()) +
		sizeInt64(4, n.GetFirstSeenMs()) + sizeInt64(5, n.GetLastSeenMs()) + sizeInt64(6, n.GetUpdatedAtMs())
}

func appendNode(b []byte, n *rdgv1.Node) []byte {
	b = AppendString(b, 1, n.GetType())
	b = AppendString(b, 2, n.GetId())
	b = appendProps(b, 3, n.GetProps())
	b = AppendInt64(b, 4, n.GetFirstSeenMs())
	b = AppendInt64(b, 5, n.GetLastSeenMs())
	return AppendInt64(b, 6, n.GetUpdatedAtMs())
}

func appendNodes(b []byte, num protowire.Number, ns []*rdgv1.Node) []byte {
	for _, n := range ns {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeNode(n)))
		b = appendNode(b, n)
	}
	return b
}

func sizeEdge(e *rdgv1.Edge) int {
	n := SizeString(1, e.GetType())
	if e.GetFrom() != nil {
		n += SizeBytesField(2, sizeRef(e.GetFrom()))
	}
	if e.GetTo() != nil {
		n += SizeBytesField(3, sizeRef(e.GetTo()))
	}
	return n + sizeProps(4, e.GetProps()) +
		sizeInt64(5, e.GetFirstSeenMs()) + sizeInt64(6, e.GetLastSeenMs()) + sizeInt64(7, e.GetUpdatedAtMs())
}

func appendEdge(b []byte, e *rdgv1.Edge) []byte {
	b = AppendString(b, 1, e.GetType())
	b = appendRef(b, 2, e.GetFrom())
	b = appendRef(b, 3, e.GetTo())
	b = appendProps(b, 4, e.GetProps())
	b = AppendInt64(b, 5, e.GetFirstSeenMs())
	b = AppendInt64(b, 6, e.GetLastSeenMs())
	return AppendInt64(b, 7, e.GetUpdatedAtMs())
}

func appendEdges(b []byte, num protowire.Number, es []*rdgv1.Edge) []byte {
	for _, e := range es {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeEdge(e)))
		b = appendEdge(b, e)
	}
	return b
}

func sizeNeighbor(nb *rdgv1.Neighbor) int {
	n := 0
	if nb.GetEdge() != nil {
		n += SizeBytesField(1, sizeEdge(nb.GetEdge()))
	}
	if nb.GetNode() != nil {
		n += SizeBytesField(2, sizeNode(nb.GetNode()))
	}
	return n
}

func appendNeighbor(b []byte, nb *rdgv1.Neighbor) []byte {
	if e := nb.GetEdge(); e != nil {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeEdge(e)))
		b = appendEdge(b, e)
	}
	if n := nb.GetNode(); n != nil {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeNode(n)))
		b = appendNode(b, n)
	}
	return b
}
