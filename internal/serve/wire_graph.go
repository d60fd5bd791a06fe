package serve

import (
	"fmt"
	"math"
	"mime"
	"net/http"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rdgraph/rdg/internal/graph"
)

// A traversal's answer is mostly its nodes and edges. Converting each to a
// protobuf message (with a map and a Value per property) only to encode it
// once cost the server about as much as encoding; for an answer sent in
// binary protobuf the server writes them to the wire straight from the
// engine's graph.Node and graph.Edge instead, and hands the bytes to the
// response message as unknown fields, which protobuf-go's encoder (and so
// wireCodec) writes as they are. The receiver sees the same fields as from
// the messages: TestGraphWire compares the two encodings. A JSON answer
// cannot carry raw fields, so it is built from messages as before.

// binaryAnswer reports whether the answer to a request with header h and
// HTTP method method is encoded in binary protobuf: Connect's
// application/proto, and gRPC and gRPC-Web without a +json codec. A GET
// (Connect's idempotent requests name their codec in the query) or a
// content type this does not know gets messages, which every codec can
// encode.
func binaryAnswer(h http.Header, method string) bool {
	if method != http.MethodPost {
		return false
	}
	ct, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false
	}
	switch strings.ToLower(ct) {
	case "application/proto", "application/grpc", "application/grpc+proto", "application/grpc-web", "application/grpc-web+proto":
		return true
	}
	return false
}

// setRawGraph makes m carry ns as its repeated Node field nodeField and es
// as its repeated Edge field edgeField.
func setRawGraph(m protoreflect.ProtoMessage, nodeField protowire.Number, ns []graph.Node, edgeField protowire.Number, es []graph.Edge) {
	b := make([]byte, 0, 128*(len(ns)+len(es)))
	for i := range ns {
		var at int
		b, at = beginMessage(b, nodeField)
		b = endMessage(appendGraphNode(b, &ns[i]), at)
	}
	for i := range es {
		var at int
		b, at = beginMessage(b, edgeField)
		b = endMessage(appendGraphEdge(b, &es[i]), at)
	}
	m.ProtoReflect().SetUnknown(b)
}

// beginMessage appends the tag of message field num and room for a
// two-byte length, and returns where the length goes; endMessage writes it
// once the message is appended, moving the message if its length takes
// another size. Computing sizes first would iterate every property map
// twice, which costs more than moving the odd message.
func beginMessage(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return append(b, 0, 0), len(b)
}

func endMessage(b []byte, at int) []byte {
	n := len(b) - at - 2
	if s := protowire.SizeVarint(uint64(n)); s != 2 {
		if s > 2 {
			b = append(b, make([]byte, s-2)...)
		}
		copy(b[at+s:], b[at+2:at+2+n])
		b = b[:at+s+n]
	}
	protowire.AppendVarint(b[at:at], uint64(n))
	return b
}

// The encoders below mirror appendNode, appendEdge and their helpers in
// wire.go field for field, with the conversions of protoAlloc (convert.go).

func sizeGraphRef(r graph.NodeRef) int { return sizeString(1, r.Type) + sizeString(2, r.ID) }

func appendGraphRef(b []byte, num protowire.Number, r graph.NodeRef) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeGraphRef(r)))
	b = appendString(b, 1, r.Type)
	return appendString(b, 2, r.ID)
}

// wireValue is v as protoAlloc.value shows it: nil, a string, an int64, a
// float64 or a bool.
func wireValue(v any) any {
	switch v.(type) {
	case nil, string, int64, float64, bool:
		return v
	}
	if n, err := graph.NormalizeValue(v); err == nil {
		switch n.(type) {
		case nil, string, int64, float64, bool:
			return n
		}
	}
	return fmt.Sprint(v)
}

func sizeGraphValue(v any) int {
	switch x := wireValue(v).(type) {
	case string:
		return sizeBytesField(1, len(x))
	case int64:
		return protowire.SizeTag(2) + protowire.SizeVarint(uint64(x))
	case float64:
		return protowire.SizeTag(3) + protowire.SizeFixed64()
	case bool:
		return protowire.SizeTag(4) + 1
	}
	return 0
}

func appendGraphValue(b []byte, v any) []byte {
	switch x := wireValue(v).(type) {
	case string:
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		return protowire.AppendString(b, x)
	case int64:
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(x))
	case float64:
		b = protowire.AppendTag(b, 3, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(x))
	case bool:
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(x))
	}
	return b
}

func sizeGraphEntry(k string, v any) int {
	return sizeString(1, k) + sizeBytesField(2, sizeGraphValue(v))
}

func appendGraphProps(b []byte, num protowire.Number, ps graph.Props) []byte {
	for k, p := range ps {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeGraphEntry(k, p.Value)))
		b = appendString(b, 1, k)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeGraphValue(p.Value)))
		b = appendGraphValue(b, p.Value)
	}
	return b
}

func appendGraphNode(b []byte, n *graph.Node) []byte {
	b = appendString(b, 1, n.Type)
	b = appendString(b, 2, n.ID)
	b = appendGraphProps(b, 3, n.Props)
	b = appendInt64(b, 4, n.FirstSeen)
	b = appendInt64(b, 5, n.LastSeen)
	return appendInt64(b, 6, n.UpdatedAt)
}

func appendGraphEdge(b []byte, e *graph.Edge) []byte {
	b = appendString(b, 1, e.Type)
	b = appendGraphRef(b, 2, e.From)
	b = appendGraphRef(b, 3, e.To)
	b = appendGraphProps(b, 4, e.Props)
	b = appendInt64(b, 5, e.FirstSeen)
	b = appendInt64(b, 6, e.LastSeen)
	return appendInt64(b, 7, e.UpdatedAt)
}
