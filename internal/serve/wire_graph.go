package serve

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rdgraph/rdg/internal/api/wire"
	"github.com/rdgraph/rdg/internal/graph"
)

// A traversal's answer is mostly its nodes and edges. Converting each to a
// protobuf message (with a map and a Value per property) only to encode it
// once cost the server about as much as encoding; for an answer sent in
// binary protobuf the server writes them to the wire straight from the
// engine's graph.Node and graph.Edge instead, and hands the bytes to the
// response message as unknown fields, which protobuf-go's encoder (and so
// wire.Codec) writes as they are. The receiver sees the same fields as from
// the messages: TestGraphWire compares the two encodings. A traversal's
// properties come still in the store's encoding (graph.RawPropsReader), so
// no map is built for them on the server at all. A JSON answer cannot
// carry raw fields, so it is built from the protobuf messages.

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
// as its repeated Edge field edgeField. Elements with Raw properties are
// decoded with decode; an error is a malformed stored value.
func setRawGraph(m protoreflect.ProtoMessage, nodeField protowire.Number, ns []graph.Node, edgeField protowire.Number, es []graph.Edge, decode graph.PropsDecoder) error {
	w := graphWriter{b: make([]byte, 0, 128*(len(ns)+len(es))), decode: decode}
	w.propFn = w.prop
	for i := range ns {
		var at int
		w.b, at = beginMessage(w.b, nodeField)
		if err := w.node(&ns[i]); err != nil {
			return err
		}
		w.b = endMessage(w.b, at)
	}
	for i := range es {
		var at int
		w.b, at = beginMessage(w.b, edgeField)
		if err := w.edge(&es[i]); err != nil {
			return err
		}
		w.b = endMessage(w.b, at)
	}
	m.ProtoReflect().SetUnknown(w.b)
	return nil
}

// graphWriter appends nodes and edges as Node and Edge messages; node and
// edge mirror appendNode and appendEdge (internal/api/wire) field for field, with the
// conversions of protoAlloc (convert.go).
type graphWriter struct {
	b      []byte
	decode graph.PropsDecoder
	// propFn is prop as a func value made once, and num the field it
	// writes: DecodeProps calls it for every property.
	propFn func(string, graph.Prop) bool
	num    protowire.Number
}

func (w *graphWriter) prop(k string, p graph.Prop) bool {
	w.b = appendGraphEntry(w.b, w.num, k, p.Value)
	return true
}

func (w *graphWriter) props(num protowire.Number, ps graph.Props, raw []byte) error {
	if ps == nil && raw != nil {
		if w.decode == nil {
			return errors.New("serve: properties left encoded without a decoder")
		}
		w.num = num
		return w.decode(raw, w.propFn)
	}
	for k, p := range ps {
		w.b = appendGraphEntry(w.b, num, k, p.Value)
	}
	return nil
}

func (w *graphWriter) node(n *graph.Node) error {
	w.b = wire.AppendString(w.b, 1, n.Type)
	w.b = wire.AppendString(w.b, 2, n.ID)
	if err := w.props(3, n.Props, n.Raw); err != nil {
		return err
	}
	w.b = wire.AppendInt64(w.b, 4, n.FirstSeen)
	w.b = wire.AppendInt64(w.b, 5, n.LastSeen)
	w.b = wire.AppendInt64(w.b, 6, n.UpdatedAt)
	return nil
}

func (w *graphWriter) edge(e *graph.Edge) error {
	w.b = wire.AppendString(w.b, 1, e.Type)
	w.b = appendGraphRef(w.b, 2, e.From)
	w.b = appendGraphRef(w.b, 3, e.To)
	if err := w.props(4, e.Props, e.Raw); err != nil {
		return err
	}
	w.b = wire.AppendInt64(w.b, 5, e.FirstSeen)
	w.b = wire.AppendInt64(w.b, 6, e.LastSeen)
	w.b = wire.AppendInt64(w.b, 7, e.UpdatedAt)
	return nil
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

func sizeGraphRef(r graph.NodeRef) int { return wire.SizeString(1, r.Type) + wire.SizeString(2, r.ID) }

func appendGraphRef(b []byte, num protowire.Number, r graph.NodeRef) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeGraphRef(r)))
	b = wire.AppendString(b, 1, r.Type)
	return wire.AppendString(b, 2, r.ID)
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

// sizeGraphValue and appendGraphValue take a value wireValue returned.
func sizeGraphValue(v any) int {
	switch x := v.(type) {
	case string:
		return wire.SizeBytesField(1, len(x))
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
	switch x := v.(type) {
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

// appendGraphEntry appends one entry of a property map field num.
func appendGraphEntry(b []byte, num protowire.Number, k string, v any) []byte {
	v = wireValue(v)
	vs := sizeGraphValue(v)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(wire.SizeString(1, k)+wire.SizeBytesField(2, vs)))
	b = wire.AppendString(b, 1, k)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(vs))
	return appendGraphValue(b, v)
}
