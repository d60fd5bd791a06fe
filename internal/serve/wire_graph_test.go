package serve

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/wire"
	"github.com/rdgraph/rdg/internal/graph"
)

type odd struct{ A int }

// graphWireCases are nodes and edges with every kind of property value the
// server may meet (kinds the store should not hold included), empty and
// missing props, zero and negative times, and messages whose lengths take
// one, two and three bytes.
func graphWireCases() ([]graph.Node, []graph.Edge) {
	p := func(v any) graph.Prop { return graph.Prop{Value: v, TS: 1} }
	long := strings.Repeat("ü", 200)
	props := graph.Props{
		"s": p("x"), "empty": p(""), "long": p(long), "null": p(nil),
		"i": p(int64(-5)), "zero": p(int64(0)), "big": p(int64(1) << 62),
		"f": p(2.5), "fzero": p(0.0), "t": p(true), "false": p(false),
		"int": p(7), "int32": p(int32(-3)), "odd": p(odd{A: 1}), "": p("no name"),
	}
	ref := func(t, id string) graph.NodeRef { return graph.NodeRef{Type: t, ID: id} }
	nodes := []graph.Node{
		{NodeRef: ref("account", "a1"), Props: props, FirstSeen: 1, LastSeen: 2, UpdatedAt: 3},
		{NodeRef: ref("device", long)},
		{NodeRef: ref("title", "t"), Props: graph.Props{}, FirstSeen: -1, LastSeen: 1 << 40},
		// Over 16 KiB: a three-byte length.
		{NodeRef: ref("title", "huge"), Props: graph.Props{"text": p(strings.Repeat("x", 20_000))}},
	}
	edges := []graph.Edge{
		{EdgeRef: graph.EdgeRef{Type: "uses", From: ref("account", "a1"), To: ref("device", long)}, Props: props, FirstSeen: 4, LastSeen: 5, UpdatedAt: 6},
		{EdgeRef: graph.EdgeRef{Type: "watched", From: ref("account", "a1"), To: ref("title", "t")}},
	}
	return nodes, edges
}

// TestGraphWire: nodes and edges written straight from the engine's types
// decode (with protobuf-go and with the client codec) to the messages the
// server builds for JSON answers, in the fields the handlers name.
func TestGraphWire(t *testing.T) {
	fieldNum := func(m proto.Message, name protoreflect.Name) protowire.Number {
		return m.ProtoReflect().Descriptor().Fields().ByName(name).Number()
	}
	for _, c := range []struct {
		m          proto.Message
		nodes, edg protowire.Number // as the handlers in query.go pass them
	}{
		{&rdgv1.TraverseResponse{}, 1, 3},
		{&rdgv1.ConnectedGroupResponse{}, 1, 2},
	} {
		if n, e := fieldNum(c.m, "nodes"), fieldNum(c.m, "edges"); n != c.nodes || e != c.edg {
			t.Errorf("%T: nodes is field %d, edges %d; the handlers write %d and %d", c.m, n, e, c.nodes, c.edg)
		}
	}

	nodes, edges := graphWireCases()
	var pa protoAlloc
	want := &rdgv1.TraverseResponse{Nodes: pa.nodeList(nodes), Edges: pa.edgeList(edges), Depths: []uint32{0, 1, 1, 2}, Visited: 9}
	raw := &rdgv1.TraverseResponse{Depths: []uint32{0, 1, 1, 2}, Visited: 9}
	if err := setRawGraph(raw, 1, nodes, 3, edges, nil); err != nil {
		t.Fatal(err)
	}
	b, err := wire.Codec().Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	wantB, err := wire.Codec().Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != len(wantB) {
		t.Errorf("raw answer %d bytes, from messages %d", len(b), len(wantB))
	}
	for name, unmarshal := range map[string]func([]byte, proto.Message) error{
		"protobuf-go":  func(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) },
		"client codec": func(b []byte, m proto.Message) error { return wire.Codec().Unmarshal(b, m) },
	} {
		got := &rdgv1.TraverseResponse{}
		if err := unmarshal(b, got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s decoded\n%v\nwant\n%v", name, got, want)
		}
	}
	// The odd kind is shown as text, as for JSON answers.
	if v := want.Nodes[0].Props["odd"].GetStringValue(); v != "{1}" {
		t.Errorf("odd value = %q", v)
	}
}

func TestBinaryAnswer(t *testing.T) {
	for _, c := range []struct {
		method, ct string
		want       bool
	}{
		{"POST", "application/proto", true},
		{"POST", "application/grpc", true},
		{"POST", "application/grpc+proto", true},
		{"POST", "application/grpc-web", true},
		{"POST", "application/grpc-web+proto", true},
		{"POST", "Application/Proto; charset=utf-8", true},
		{"POST", "application/json", false},
		{"POST", "application/grpc+json", false},
		{"POST", "application/grpc-web+json", false},
		{"POST", "", false},
		{"POST", "text/plain", false},
		{"GET", "application/proto", false},
	} {
		h := http.Header{}
		if c.ct != "" {
			h.Set("Content-Type", c.ct)
		}
		if got := binaryAnswer(h, c.method); got != c.want {
			t.Errorf("%s %q: binary = %v, want %v", c.method, c.ct, got, c.want)
		}
	}
}

// bigAnswer is a 2-hop answer's size and shape as bench/query sees it:
// 860 nodes with three properties, 880 edges with two.
func bigAnswer(b *testing.B) []byte {
	b.Helper()
	p := func(v any) graph.Prop { return graph.Prop{Value: v, TS: 1} }
	var ns []graph.Node
	var es []graph.Edge
	for i := range 860 {
		ref := graph.NodeRef{Type: []string{"account", "device", "title"}[i%3], ID: fmt.Sprintf("id-%07d", i)}
		ns = append(ns, graph.Node{NodeRef: ref, Props: graph.Props{"country": p("US"), "plan": p("premium"), "score": p(int64(i))},
			FirstSeen: 1_700_000_000_000, LastSeen: 1_700_000_500_000, UpdatedAt: 1_700_000_600_000})
	}
	for i := range 880 {
		es = append(es, graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched", From: ns[0].NodeRef, To: ns[i%860].NodeRef},
			Props:     graph.Props{"device": p("tv"), "position_ms": p(int64(i * 1000))},
			FirstSeen: 1_700_000_000_000, LastSeen: 1_700_000_500_000, UpdatedAt: 1_700_000_600_000})
	}
	m := &rdgv1.TraverseResponse{}
	if err := setRawGraph(m, 1, ns, 3, es, nil); err != nil {
		b.Fatal(err)
	}
	out, err := wire.Codec().Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkWireDecode: a Go client decoding a 2-hop answer.
func BenchmarkWireDecode(b *testing.B) {
	body := bigAnswer(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var m rdgv1.TraverseResponse
		if err := wire.Codec().Unmarshal(body, &m); err != nil {
			b.Fatal(err)
		}
	}
}
