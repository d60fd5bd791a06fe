package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/graph"
)

// The hand-written codec (graphavro.go) is held to hamba/avro, which the
// schemas are written for: the same bytes out, the same bodies accepted,
// the same elements read.

func testProps() []graph.Props {
	many := graph.Props{}
	for i := range 250 { // three map blocks
		many["p"+strconv.Itoa(i)] = graph.Prop{Value: int64(i * i), TS: int64(i)}
	}
	return []graph.Props{
		nil,
		{},
		{"s": {Value: "x", TS: 1}},
		{"null": {Value: nil, TS: -1}},
		{"t": {Value: true, TS: math.MaxInt64}},
		{"f": {Value: false, TS: math.MinInt64}},
		{"i": {Value: int64(math.MinInt64), TS: 0}},
		{"i": {Value: 7, TS: 0}}, // Go int: hamba writes it as a long
		{"nan": {Value: math.NaN(), TS: 3}, "negzero": {Value: math.Copysign(0, -1), TS: 3}, "inf": {Value: math.Inf(1), TS: 3}},
		{"": {Value: "empty name", TS: 2}, "é": {Value: "\x00\xff", TS: 2}, "long": {Value: string(bytes.Repeat([]byte("ab"), 5000)), TS: 2}},
		{"a": {Value: "1", TS: 1}, "b": {Value: int64(1 << 40), TS: 2}, "c": {Value: 2.5, TS: 3}, "d": {Value: true, TS: 4}, "e": {Value: nil, TS: 5}},
		many,
	}
}

func testNodes() []graph.Node {
	var out []graph.Node
	for i, p := range testProps() {
		out = append(out, graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "m-" + strconv.Itoa(i)}, Props: p,
			FirstSeen: int64(i) - 1, LastSeen: 1 << 50, UpdatedAt: math.MinInt64})
	}
	out = append(out, graph.Node{}) // empty strings are still Avro
	return out
}

func testEdges() []graph.Edge {
	var out []graph.Edge
	for i, p := range testProps() {
		out = append(out, graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched",
			From: graph.NodeRef{Type: "account", ID: "m/" + strconv.Itoa(i)},
			To:   graph.NodeRef{Type: "title", ID: "t\x00" + strconv.Itoa(i)}},
			Props: p, FirstSeen: -1, LastSeen: int64(i), UpdatedAt: math.MaxInt64})
	}
	return out
}

func hambaNode(n *graph.Node) wireNode {
	return wireNode{Type: n.Type, ID: n.ID, Props: hambaProps(n.Props), FirstSeen: n.FirstSeen, LastSeen: n.LastSeen, UpdatedAt: n.UpdatedAt}
}

func hambaEdge(e *graph.Edge) wireEdge {
	return wireEdge{Type: e.Type, FromType: e.From.Type, FromID: e.From.ID, ToType: e.To.Type, ToID: e.To.ID,
		Props: hambaProps(e.Props), FirstSeen: e.FirstSeen, LastSeen: e.LastSeen, UpdatedAt: e.UpdatedAt}
}

func hambaProps(p graph.Props) map[string]wireProp {
	m := make(map[string]wireProp, len(p))
	for k, v := range p {
		m[k] = wireProp{TS: v.TS, Value: v.Value}
	}
	return m
}

// hambaSorted is what hamba writes for an element, with its map entries
// in name order instead of Go's random map order: hamba's encoding of the
// element without properties, and of each property alone, give the bytes
// before and after the map and each entry's bytes; the entries are then
// framed in blocks as hamba frames them (Avro's block encoding: a
// negative count, the block's byte size, the entries; a 0 count at the
// end).
func hambaSorted(t *testing.T, schema avro.Schema, props graph.Props, encode func(graph.Props) any) []byte {
	t.Helper()
	empty, err := avro.Marshal(schema, encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range props {
			if !yield(k) {
				return
			}
		}
	})
	var prefix, suffix []byte
	entries := map[string][]byte{}
	for _, k := range names {
		one, err := avro.Marshal(schema, encode(graph.Props{k: props[k]}))
		if err != nil {
			t.Fatal(err)
		}
		// empty = prefix 0x00 suffix; one = prefix 0x01 varint(size) entry 0x00 suffix.
		i := 0
		for empty[i] == one[i] {
			i++
		}
		prefix, suffix = empty[:i], empty[i+1:]
		rest := one[i+1 : len(one)-len(suffix)-1]
		size, n := binary.Varint(rest)
		if n <= 0 || int(size) != len(rest)-n {
			t.Fatalf("cannot split hamba's map entry from %x", one)
		}
		entries[k] = rest[n:]
	}
	if len(names) == 0 {
		return empty
	}
	out := slices.Clone(prefix)
	for len(names) > 0 {
		block := names[:min(len(names), 100)]
		names = names[len(block):]
		var body []byte
		for _, k := range block {
			body = append(body, entries[k]...)
		}
		out = binary.AppendVarint(out, -int64(len(block)))
		out = binary.AppendVarint(out, int64(len(body)))
		out = append(out, body...)
	}
	return append(append(out, 0), suffix...)
}

func TestEncodeMatchesHamba(t *testing.T) {
	el := &Elements{nodeID: 7, edgeID: 8}
	for _, n := range testNodes() {
		got, err := el.AppendNode(nil, &n)
		if err != nil {
			t.Fatal(err)
		}
		id, body, err := SplitHeader(got)
		if err != nil || id != 7 {
			t.Fatalf("header: id %d, %v", id, err)
		}
		if len(n.Props) <= 1 {
			// No order to differ in: hamba's bytes exactly.
			w := hambaNode(&n)
			want, err := avro.Marshal(nodeSchema, &w)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, want) {
				t.Fatalf("node %s: got %x, hamba %x", n.NodeRef, body, want)
			}
		}
		want := hambaSorted(t, nodeSchema, n.Props, func(p graph.Props) any { m := n; m.Props = p; w := hambaNode(&m); return &w })
		if !bytes.Equal(body, want) {
			t.Fatalf("node %s with %d props: got %x, hamba (sorted) %x", n.NodeRef, len(n.Props), body, want)
		}
	}
	for _, e := range testEdges() {
		got, err := el.AppendEdge(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		_, body, _ := SplitHeader(got)
		want := hambaSorted(t, edgeSchema, e.Props, func(p graph.Props) any { m := e; m.Props = p; w := hambaEdge(&m); return &w })
		if !bytes.Equal(body, want) {
			t.Fatalf("edge %s with %d props: got %x, hamba (sorted) %x", e.EdgeRef, len(e.Props), body, want)
		}
	}
}

// Values hamba cannot encode are errors for both, naming the property.
func TestEncodeRejectsWhatHambaRejects(t *testing.T) {
	el := &Elements{}
	for _, v := range []any{int32(1), uint8(1), uint64(1), float32(1), []byte("x"), []string{"x"}, map[string]any{"x": 1}, struct{}{}} {
		n := graph.Node{NodeRef: graph.NodeRef{Type: "a", ID: "b"}, Props: graph.Props{"bad": {Value: v, TS: 1}}}
		w := hambaNode(&n)
		_, herr := avro.Marshal(nodeSchema, &w)
		_, err := el.AppendNode(nil, &n)
		if err == nil {
			t.Errorf("AppendNode accepted a %T value", v)
		}
		if herr == nil {
			// hamba writes a map[string]any as a union in map form; a graph
			// property is never one (graph.NormalizeValue rejects maps).
			if _, ok := v.(map[string]any); !ok {
				t.Errorf("hamba accepts a %T value and AppendNode does not", v)
			}
		}
	}
}

// The decoder reads what hamba writes, entries in any order.
func TestDecodeHambaOutput(t *testing.T) {
	for _, n := range testNodes() {
		w := hambaNode(&n)
		b, err := avro.Marshal(nodeSchema, &w)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeNodeBody(b)
		if err != nil {
			t.Fatalf("node %s: %v", n.NodeRef, err)
		}
		sameNode(t, got, n)
	}
	for _, e := range testEdges() {
		w := hambaEdge(&e)
		b, err := avro.Marshal(edgeSchema, &w)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeEdgeBody(b)
		if err != nil {
			t.Fatalf("edge %s: %v", e.EdgeRef, err)
		}
		sameEdge(t, got, e)
	}
}

func normProps(p graph.Props) graph.Props {
	if len(p) == 0 {
		return nil
	}
	out := make(graph.Props, len(p))
	for k, v := range p {
		if i, ok := v.Value.(int); ok {
			v.Value = int64(i)
		}
		out[k] = v
	}
	return out
}

func sameNode(t *testing.T, got, want graph.Node) {
	t.Helper()
	if got.NodeRef != want.NodeRef || got.FirstSeen != want.FirstSeen || got.LastSeen != want.LastSeen || got.UpdatedAt != want.UpdatedAt {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if err := sameProps(got.Props, normProps(want.Props)); err != nil {
		t.Fatalf("node %s: %v", want.NodeRef, err)
	}
}

func sameEdge(t *testing.T, got, want graph.Edge) {
	t.Helper()
	if got.EdgeRef != want.EdgeRef || got.FirstSeen != want.FirstSeen || got.LastSeen != want.LastSeen || got.UpdatedAt != want.UpdatedAt {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if err := sameProps(got.Props, normProps(want.Props)); err != nil {
		t.Fatalf("edge %s: %v", want.EdgeRef, err)
	}
}

// sameProps compares props exactly: kinds, and floats bit for bit.
func sameProps(got, want graph.Props) error {
	if (got == nil) != (want == nil) || len(got) != len(want) {
		return fmt.Errorf("props %v, want %v", got, want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || g.TS != w.TS || reflect.TypeOf(g.Value) != reflect.TypeOf(w.Value) {
			return fmt.Errorf("prop %q: %#v, want %#v", k, g, w)
		}
		if wf, ok := w.Value.(float64); ok {
			if math.Float64bits(wf) != math.Float64bits(g.Value.(float64)) {
				return fmt.Errorf("prop %q: %v, want %v (bitwise)", k, g.Value, wf)
			}
		} else if g.Value != w.Value {
			return fmt.Errorf("prop %q: %#v, want %#v", k, g.Value, w.Value)
		}
	}
	return nil
}

// hambaDecodeNode is the reference: what DecodeNode did with hamba.
func hambaDecodeNode(b []byte) (graph.Node, error) {
	var w wireNode
	if err := Unmarshal(nodeSchema, b, &w); err != nil {
		return graph.Node{}, err
	}
	props, err := fromWireProps(w.Props)
	if err != nil {
		return graph.Node{}, err
	}
	return graph.Node{NodeRef: graph.NodeRef{Type: w.Type, ID: w.ID}, Props: props,
		FirstSeen: w.FirstSeen, LastSeen: w.LastSeen, UpdatedAt: w.UpdatedAt}, nil
}

func hambaDecodeEdge(b []byte) (graph.Edge, error) {
	var w wireEdge
	if err := Unmarshal(edgeSchema, b, &w); err != nil {
		return graph.Edge{}, err
	}
	props, err := fromWireProps(w.Props)
	if err != nil {
		return graph.Edge{}, err
	}
	return graph.Edge{EdgeRef: graph.EdgeRef{Type: w.Type, From: graph.NodeRef{Type: w.FromType, ID: w.FromID},
		To: graph.NodeRef{Type: w.ToType, ID: w.ToID}}, Props: props,
		FirstSeen: w.FirstSeen, LastSeen: w.LastSeen, UpdatedAt: w.UpdatedAt}, nil
}

// checkNodeBody fails unless the decoder and hamba agree on b: both
// reject it, or both read the same node.
func checkNodeBody(t *testing.T, b []byte) {
	t.Helper()
	got, err := decodeNodeBody(b)
	want, herr := hambaDecodeNode(b)
	if (err == nil) != (herr == nil) {
		t.Fatalf("body %x: decoder says %v, hamba says %v", b, err, herr)
	}
	if err == nil {
		sameNode(t, got, want)
	}
}

func checkEdgeBody(t *testing.T, b []byte) {
	t.Helper()
	got, err := decodeEdgeBody(b)
	want, herr := hambaDecodeEdge(b)
	if (err == nil) != (herr == nil) {
		t.Fatalf("body %x: decoder says %v, hamba says %v", b, err, herr)
	}
	if err == nil {
		sameEdge(t, got, want)
	}
}

// Bodies on the edges of what hamba accepts.
var edgeCaseNodeBodies = [][]byte{
	{},
	{0, 0, 0, 0, 0, 0},          // empty strings, no props, zero times
	{0, 0, 0, 0, 0, 0, 0},       // trailing byte
	{0, 0, 0, 0, 0},             // truncated
	{0x80, 0x00, 0, 0, 0, 0, 0}, // an overlong zero
	{0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0, 0},    // 10-byte long, high bits dropped
	{0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0}, // 11-byte long
	{1, 0, 0, 0, 0, 0},                                                                // negative string length
	{0x80, 0x80, 0x81, 0x01, 0, 0, 0, 0, 0},                                           // string longer than 1 MiB
	{0, 0, 2, 2, 'k', 0, 0, 0, 0, 0, 0},                                               // positive block count, null value
	{0, 0, 1, 0x7f, 2, 'k', 0, 0, 0, 0, 0, 0},                                         // negative count, negative byte size: ignored
	{0, 0, 1, 8, 2, 'k', 0, 0, 0, 0, 0, 0},                                            // negative count, its byte size
	{0, 0, 1, 10, 2, 'k', 0, 0, 0, 0, 0, 0},                                           // negative count, a byte size too large
	{0, 0, 1, 6, 2, 'k', 0, 0, 0, 0, 0, 0},                                            // negative count, a byte size too small
	{0, 0, 1, 0x7f, 2, 'k', 0, 10, 0, 0, 0, 0},                                        // union index 5
	{0, 0, 1, 0x7f, 2, 'k', 0, 0x81, 0x00, 0, 0, 0, 0},                                // union index -1 overlong
	{0, 0, 1, 0x7f, 2, 'k', 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 0},              // 5-byte union index, bits dropped: 0
	{0, 0, 1, 0x7f, 2, 'k', 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0, 0, 0, 0},        // 6-byte union index
	{0, 0, 1, 0x7f, 2, 'k', 0, 8, 2, 0, 0, 0, 0},                                      // bool 2
	{0, 0, 1, 0x7f, 2, 'k', 0, 8, 1, 0, 0, 0, 0},                                      // bool true
	{0, 0, 1, 0x7f, 2, 'k', 0, 6, 1, 2, 3, 0, 0, 0, 0},                                // short double
	{0, 0, 4, 2, 'k', 2, 2, 2, 'a', 2, 'k', 4, 2, 2, 'b', 0, 0, 0, 0},                 // duplicate key: last wins
	{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0}, // count MinInt64: malformed
	{0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0},    // count MaxInt64, then nothing
	{0, 0, 3, 0, 2, 'k', 0, 0, 0, 0, 0, 0},                                            // count -2 with one entry
	{0, 0, 2, 2, 'k', 0, 2, 0, 0, 0, 0},                                               // value string, truncated
}

func TestDecodeEdgeCasesAgreeWithHamba(t *testing.T) {
	for _, b := range edgeCaseNodeBodies {
		checkNodeBody(t, b)
	}
	el := &Elements{}
	for _, n := range testNodes() {
		b, _ := el.AppendNode(nil, &n)
		for cut := HeaderSize; cut <= len(b); cut++ {
			checkNodeBody(t, b[HeaderSize:cut])
		}
	}
	for _, e := range testEdges()[:5] {
		b, _ := el.AppendEdge(nil, &e)
		for cut := HeaderSize; cut <= len(b); cut++ {
			checkEdgeBody(t, b[HeaderSize:cut])
		}
	}
}

func fuzzSeeds(f *testing.F, edges bool) {
	el := &Elements{}
	if edges {
		for _, e := range testEdges()[:11] {
			b, _ := el.AppendEdge(nil, &e)
			f.Add(b[HeaderSize:])
		}
		return
	}
	for _, b := range edgeCaseNodeBodies {
		f.Add(b)
	}
	for _, n := range testNodes()[:11] {
		b, _ := el.AppendNode(nil, &n)
		f.Add(b[HeaderSize:])
	}
}

// FuzzDecodeNode: on any body the decoder and hamba agree.
// go test -run XXX -fuzz FuzzDecodeNode ./internal/codec
func FuzzDecodeNode(f *testing.F) {
	fuzzSeeds(f, false)
	f.Fuzz(func(t *testing.T, b []byte) { checkNodeBody(t, b) })
}

// FuzzDecodeEdge: on any body the decoder and hamba agree.
func FuzzDecodeEdge(f *testing.F) {
	fuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, b []byte) { checkEdgeBody(t, b) })
}

// FuzzEncodeNode: what the encoder writes, hamba reads back as the node.
func FuzzEncodeNode(f *testing.F) {
	f.Add("account", "m-1", "k", "v", int64(1), int64(2), 2.5, true, int64(3))
	f.Fuzz(func(t *testing.T, typ, id, key, s string, i, ts int64, fl float64, bl bool, first int64) {
		n := graph.Node{NodeRef: graph.NodeRef{Type: typ, ID: id}, FirstSeen: first, LastSeen: ts, UpdatedAt: i,
			Props: graph.Props{key: {Value: s, TS: ts}, key + "i": {Value: i, TS: i}, key + "f": {Value: fl, TS: first},
				key + "b": {Value: bl, TS: 0}, key + "n": {Value: nil, TS: -ts}}}
		b, err := (&Elements{}).AppendNode(nil, &n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := hambaDecodeNode(b[HeaderSize:])
		if err != nil {
			t.Fatalf("hamba cannot read %x: %v", b, err)
		}
		sameNode(t, got, n)
		w := hambaNode(&n)
		hb, err := avro.Marshal(nodeSchema, &w)
		if err != nil {
			t.Fatal(err)
		}
		if len(hb) != len(b)-HeaderSize {
			t.Fatalf("hamba writes %d bytes, the encoder %d", len(hb), len(b)-HeaderSize)
		}
	})
}
