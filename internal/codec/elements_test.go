package codec_test

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
)

// allKinds holds a property of every kind, with edge values.
func allKinds() graph.Props {
	return graph.Props{
		"s":       {Value: "hello, \"world\" é", TS: 1},
		"empty":   {Value: "", TS: 2},
		"i":       {Value: int64(-42), TS: 3},
		"imax":    {Value: int64(math.MaxInt64), TS: 4},
		"imin":    {Value: int64(math.MinInt64), TS: 5},
		"f":       {Value: 3.25, TS: 6},
		"negzero": {Value: math.Copysign(0, -1), TS: 7},
		"inf":     {Value: math.Inf(-1), TS: 8},
		"nan":     {Value: math.NaN(), TS: 8},
		"t":       {Value: true, TS: 9},
		"fa":      {Value: false, TS: 10},
		"null":    {Value: nil, TS: -11},
	}
}

func sameProps(t *testing.T, got, want graph.Props) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("props: got %v, want %v", got, want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || g.TS != w.TS || reflect.TypeOf(g.Value) != reflect.TypeOf(w.Value) {
			t.Fatalf("prop %s: got %#v, want %#v", k, g, w)
		}
		if wf, ok := w.Value.(float64); ok {
			if math.Float64bits(wf) != math.Float64bits(g.Value.(float64)) {
				t.Fatalf("prop %s: got %v, want %v (bitwise)", k, g.Value, wf)
			}
		} else if g.Value != w.Value {
			t.Fatalf("prop %s: got %#v, want %#v", k, g.Value, w.Value)
		}
	}
}

func TestElementsRoundTrip(t *testing.T) {
	reg, _ := startRegistry(t)
	ctx := testCtx(t)
	el, err := codec.RegisterElements(ctx, reg, []string{"account", "title"}, []string{"watched"})
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := reg.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rdg.node.account-value", "rdg.node.title-value", "rdg.edge.watched-value"} {
		if !contains(subjects, want) {
			t.Fatalf("subjects %v lack %s", subjects, want)
		}
	}
	// A reader that only decodes resolves ids through the registry.
	readOnly := codec.NewElements(reg)

	nodes := []graph.Node{
		{NodeRef: graph.NodeRef{Type: "account", ID: "m-1"}, Props: allKinds(), FirstSeen: 1000, LastSeen: 2000, UpdatedAt: 3000},
		{NodeRef: graph.NodeRef{Type: "title", ID: `t"1,[x]`}, FirstSeen: -5, LastSeen: math.MaxInt64, UpdatedAt: 0},
	}
	for _, n := range nodes {
		b, err := el.AppendNode([]byte("keep"), &n)
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:4]) != "keep" {
			t.Fatalf("AppendNode dropped dst: %q", b[:4])
		}
		b = b[4:]
		id, _, err := codec.SplitHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		s, err := reg.SchemaByID(ctx, id)
		if err != nil || !strings.Contains(s.Schema, `"rdg.graph.Node"`) {
			t.Fatalf("header id %d is not the registered node schema: %v %v", id, s.Schema, err)
		}
		for name, dec := range map[string]*codec.Elements{"registered": el, "decode-only": readOnly} {
			got, err := dec.DecodeNode(ctx, b)
			if err != nil {
				t.Fatalf("%s: DecodeNode: %v", name, err)
			}
			if got.NodeRef != n.NodeRef || got.FirstSeen != n.FirstSeen || got.LastSeen != n.LastSeen || got.UpdatedAt != n.UpdatedAt {
				t.Fatalf("%s: DecodeNode = %+v, want %+v", name, got, n)
			}
			sameProps(t, got.Props, n.Props)
		}
	}

	e := graph.Edge{
		EdgeRef: graph.EdgeRef{Type: "watched", From: graph.NodeRef{Type: "account", ID: "m-1"}, To: graph.NodeRef{Type: "title", ID: "t:1"}},
		Props:   allKinds(), FirstSeen: 10, LastSeen: 20, UpdatedAt: 30,
	}
	b, err := el.AppendEdge(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	for name, dec := range map[string]*codec.Elements{"registered": el, "decode-only": readOnly} {
		got, err := dec.DecodeEdge(ctx, b)
		if err != nil {
			t.Fatalf("%s: DecodeEdge: %v", name, err)
		}
		if got.EdgeRef != e.EdgeRef || got.FirstSeen != 10 || got.LastSeen != 20 || got.UpdatedAt != 30 {
			t.Fatalf("%s: DecodeEdge = %+v, want %+v", name, got, e)
		}
		sameProps(t, got.Props, e.Props)
	}

	// An edge value is not a node: different record names do not resolve.
	if _, err := readOnly.DecodeNode(ctx, b); err == nil {
		t.Fatal("DecodeNode of an edge value succeeded")
	}
	// Not Confluent framing.
	if _, err := el.DecodeNode(ctx, []byte{1, 2}); !errors.Is(err, codec.ErrBadHeader) {
		t.Fatalf("DecodeNode(garbage) = %v, want ErrBadHeader", err)
	}
}

// A truncated value is an error, not a node with zeroed fields.
func TestDecodeTruncated(t *testing.T) {
	reg, _ := startRegistry(t)
	ctx := testCtx(t)
	el, err := codec.RegisterElements(ctx, reg, []string{"account"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "m-1"}, Props: graph.Props{"p": {Value: "v", TS: 1}},
		FirstSeen: 1000, LastSeen: 2000, UpdatedAt: 3000}
	b, err := el.AppendNode(nil, &n)
	if err != nil {
		t.Fatal(err)
	}
	var accepted []int
	for cut := codec.HeaderSize; cut < len(b); cut++ {
		if _, err := el.DecodeNode(ctx, b[:cut]); err == nil {
			accepted = append(accepted, len(b)-cut)
		}
	}
	if len(accepted) > 0 {
		t.Fatalf("DecodeNode accepts a value truncated by %v bytes (of %d) and returns zeroed fields: "+
			"hamba/avro's Unmarshal swallows io.EOF at a value boundary and codec does not check the body was complete", accepted, len(b))
	}
}

func TestAppendNodeRejectsNonPropValue(t *testing.T) {
	reg, _ := startRegistry(t)
	el, err := codec.RegisterElements(testCtx(t), reg, []string{"account"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "1"}, Props: graph.Props{"bad": {Value: []string{"x"}, TS: 1}}}
	if b, err := el.AppendNode([]byte("dst"), &n); err == nil || string(b) != "dst" {
		t.Fatalf("AppendNode with a list property = %q, %v; want an error and dst unchanged", b, err)
	}
}

func TestDecodeUnknownSchemaID(t *testing.T) {
	reg, _ := startRegistry(t)
	ctx := testCtx(t)
	el, err := codec.RegisterElements(ctx, reg, []string{"account"}, []string{"watched"})
	if err != nil {
		t.Fatal(err)
	}
	n := graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "1"}}
	good, err := el.AppendNode(nil, &n)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := codec.SplitHeader(good)
	bad := append(codec.AppendHeader(nil, 9999), body...)

	for name, dec := range map[string]*codec.Elements{"registered": el, "decode-only": codec.NewElements(reg)} {
		_, err := dec.DecodeNode(ctx, bad)
		var use *codec.UnknownSchemaError
		if !errors.As(err, &use) || use.ID != 9999 {
			t.Fatalf("%s: DecodeNode with unknown id = %v, want *UnknownSchemaError{ID: 9999}", name, err)
		}
		if errors.Is(err, codec.ErrRegistryUnavailable) {
			t.Fatalf("%s: unknown id reported as registry unavailable: %v", name, err)
		}
		if _, err := dec.DecodeEdge(ctx, bad); !errors.As(err, &use) {
			t.Fatalf("%s: DecodeEdge with unknown id = %v", name, err)
		}
	}
	// Schemas.ByID directly.
	if _, err := codec.NewSchemas(reg).ByID(ctx, 424242); !errors.As(err, new(*codec.UnknownSchemaError)) {
		t.Fatalf("ByID(unknown) = %v", err)
	}
}

func TestDecodeRegistryDown(t *testing.T) {
	reg, hs := startRegistry(t)
	ctx := testCtx(t)
	el, err := codec.RegisterElements(ctx, reg, []string{"account"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "1"}}
	b, err := el.AppendNode(nil, &n)
	if err != nil {
		t.Fatal(err)
	}
	// The elements that registered the schema need no registry for it.
	hs.Close()
	if _, err := el.DecodeNode(ctx, b); err != nil {
		t.Fatalf("DecodeNode with our own schema id needed the registry: %v", err)
	}
	// A decode-only reader must ask, and the registry is gone.
	_, err = codec.NewElements(reg).DecodeNode(ctx, b)
	if !errors.Is(err, codec.ErrRegistryUnavailable) {
		t.Fatalf("DecodeNode with the registry down = %v, want ErrRegistryUnavailable", err)
	}
	if errors.As(err, new(*codec.UnknownSchemaError)) {
		t.Fatalf("registry outage reported as an unknown schema: %v", err)
	}
}

func TestSchemasCacheAndRetry(t *testing.T) {
	reg, hs := startRegistry(t)
	ctx := testCtx(t)
	s := codec.NewSchemas(reg)
	// Not found is not cached: a schema registered later is found.
	if _, err := s.ByID(ctx, 1); !errors.As(err, new(*codec.UnknownSchemaError)) {
		t.Fatalf("ByID before registration = %v", err)
	}
	id, err := codec.Register(ctx, reg, "x-value", `{"type":"record","name":"X","fields":[{"name":"a","type":"string"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := s.ByID(ctx, id)
	if err != nil || sch.Type() != avro.Record {
		t.Fatalf("ByID(%d) = %v, %v", id, sch, err)
	}
	// Found is cached: it survives the registry going away.
	hs.Close()
	if again, err := s.ByID(ctx, id); err != nil || again != sch {
		t.Fatalf("cached ByID(%d) = %v, %v", id, again, err)
	}
}

const evolvedNodeSchema = `{"type":"record","name":"Node","namespace":"rdg.graph","fields":[
	{"name":"type","type":"string"},
	{"name":"id","type":"string"},
	{"name":"props","type":{"type":"map","values":{"type":"record","name":"Prop","fields":[
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"value","type":["null","string","long","double","boolean"]}]}}},
	{"name":"first_seen","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"last_seen","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"updated_at","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"origin","type":"string","default":"unknown"}]}`

type evolvedProp struct {
	TS    time.Time `avro:"ts"`
	Value any       `avro:"value"`
}

type evolvedNode struct {
	Type      string                 `avro:"type"`
	ID        string                 `avro:"id"`
	Props     map[string]evolvedProp `avro:"props"`
	FirstSeen time.Time              `avro:"first_seen"`
	LastSeen  time.Time              `avro:"last_seen"`
	UpdatedAt time.Time              `avro:"updated_at"`
	Origin    string                 `avro:"origin"`
}

// A producer on a newer version of the node schema (a field added with a
// default, a compatible change the registry accepts) must stay readable.
func TestDecodeEvolvedNodeSchema(t *testing.T) {
	reg, _ := startRegistry(t)
	ctx := testCtx(t)
	el, err := codec.RegisterElements(ctx, reg, []string{"account"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	subject := codec.Subject(codec.NodeTopic("account"))
	newID, err := codec.Register(ctx, reg, subject, evolvedNodeSchema)
	if err != nil {
		t.Fatalf("registry refused a compatible evolution: %v", err)
	}
	ownNode, _ := el.AppendNode(nil, &graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "1"}})
	if oldID, _, _ := codec.SplitHeader(ownNode); oldID == newID {
		t.Fatalf("evolved schema got the same id %d as the original", newID)
	}
	sch, err := avro.ParseWithCache(evolvedNodeSchema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int64) time.Time { return time.UnixMilli(n).UTC() }
	body, err := avro.Marshal(sch, &evolvedNode{
		Type: "account", ID: "m-7",
		Props:     map[string]evolvedProp{"plan": {TS: ms(5), Value: "premium"}, "n": {TS: ms(6), Value: int64(3)}},
		FirstSeen: ms(100), LastSeen: ms(200), UpdatedAt: ms(300), Origin: "v2-producer",
	})
	if err != nil {
		t.Fatal(err)
	}
	value := append(codec.AppendHeader(nil, newID), body...)
	for name, dec := range map[string]*codec.Elements{"registered": el, "decode-only": codec.NewElements(reg)} {
		got, err := dec.DecodeNode(ctx, value)
		if err != nil {
			t.Fatalf("%s: DecodeNode(evolved) = %v", name, err)
		}
		want := graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "m-7"}, FirstSeen: 100, LastSeen: 200, UpdatedAt: 300,
			Props: graph.Props{"plan": {Value: "premium", TS: 5}, "n": {Value: int64(3), TS: 6}}}
		if got.NodeRef != want.NodeRef || got.FirstSeen != 100 || got.LastSeen != 200 || got.UpdatedAt != 300 {
			t.Fatalf("%s: DecodeNode(evolved) = %+v", name, got)
		}
		sameProps(t, got.Props, want.Props)
	}
}

// A schema that cannot be read as a node is an error naming the schema.
func TestDecodeIncompatibleSchema(t *testing.T) {
	reg, _ := startRegistry(t)
	ctx := testCtx(t)
	id, err := codec.Register(ctx, reg, "other-value", `{"type":"record","name":"Node","namespace":"rdg.graph","fields":[{"name":"type","type":"long"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	sch := avro.MustParse(`{"type":"record","name":"Node","namespace":"rdg.graph","fields":[{"name":"type","type":"long"}]}`)
	body, err := avro.Marshal(sch, map[string]any{"type": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = codec.NewElements(reg).DecodeNode(ctx, append(codec.AppendHeader(nil, id), body...))
	if err == nil || !strings.Contains(err.Error(), "cannot be read as Node") {
		t.Fatalf("DecodeNode(incompatible) = %v, want 'cannot be read as Node'", err)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// The sorted-slice form of properties encodes to the same bytes as the map
// form, for every kind of value, with and without properties.
func TestRecordSortedSameBytes(t *testing.T) {
	reg, _ := startRegistry(t)
	el, err := codec.RegisterElements(testCtx(t), reg, []string{"account", "title"}, []string{"watched"})
	if err != nil {
		t.Fatal(err)
	}
	sorted := func(p graph.Props) []graph.NamedProp {
		var out []graph.NamedProp
		for k, v := range p {
			out = append(out, graph.NamedProp{Name: k, Prop: v})
		}
		slices.SortFunc(out, func(a, b graph.NamedProp) int { return strings.Compare(a.Name, b.Name) })
		return out
	}
	for _, props := range []graph.Props{allKinds(), {"one": {Value: "x", TS: 1}}, nil} {
		n := graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "a\x00b"}, Props: props, FirstSeen: 1, LastSeen: 5, UpdatedAt: 9}
		want, err := el.NodeRecord(&n)
		if err != nil {
			t.Fatal(err)
		}
		bare := n
		bare.Props = graph.Props{"ignored": {Value: "x", TS: 1}}
		got, err := el.NodeRecordSorted(&bare, sorted(props))
		if err != nil {
			t.Fatal(err)
		}
		if got.Topic != want.Topic || string(got.Key) != string(want.Key) || string(got.Value) != string(want.Value) {
			t.Fatalf("node with %d props: sorted form encodes %q/%x, map form %q/%x", len(props), got.Key, got.Value, want.Key, want.Value)
		}
		e := graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched", From: n.NodeRef, To: graph.NodeRef{Type: "title", ID: "t1"}}, Props: props, FirstSeen: 2, LastSeen: 3, UpdatedAt: 4}
		wantE, err := el.EdgeRecord(&e)
		if err != nil {
			t.Fatal(err)
		}
		bareE := e
		bareE.Props = nil
		gotE, err := el.EdgeRecordSorted(&bareE, sorted(props))
		if err != nil {
			t.Fatal(err)
		}
		if gotE.Topic != wantE.Topic || string(gotE.Key) != string(wantE.Key) || string(gotE.Value) != string(wantE.Value) {
			t.Fatalf("edge with %d props: sorted form encodes %x, map form %x", len(props), gotE.Value, wantE.Value)
		}
	}
	bad := []graph.NamedProp{{Name: "bad", Prop: graph.Prop{Value: []string{"x"}, TS: 1}}}
	if _, err := el.NodeRecordSorted(&graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: "1"}}, bad); err == nil {
		t.Fatal("NodeRecordSorted with a list property: no error")
	}
}
