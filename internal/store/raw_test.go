package store

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
)

// decoded returns raw's properties as Props, failing t on a decoding error.
func decoded(t *testing.T, raw []byte) graph.Props {
	t.Helper()
	var ps graph.Props
	err := DecodeProps(raw, func(name string, p graph.Prop) bool {
		if ps == nil {
			ps = graph.Props{}
		}
		ps[name] = p
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestRawProps: a raw-mode session returns what a decoding one does, with
// the properties left encoded; the bytes stay valid and unchanged after
// later reads and after the session is closed; expiry still applies.
func TestRawProps(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	ups := randUpdates(r, 300)
	wantNodes, wantEdges := reference(ups)
	p := openT(t, t.TempDir())
	apply(t, p, batchOf(ups))

	gs, err := p.ReadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := gs.(*Session)
	if s.ReadRawProps() == nil {
		t.Fatal("no decoder")
	}
	type kept struct {
		raw  []byte
		copy []byte
		want graph.Props
	}
	var keep []kept
	check := func(what string, props graph.Props, raw []byte, want graph.Props) {
		t.Helper()
		if props != nil {
			t.Fatalf("%s: Props %v in raw mode", what, props)
		}
		if got := decoded(t, raw); !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Fatalf("%s: decoded %v, want %v", what, got, want)
		}
		keep = append(keep, kept{raw, append([]byte(nil), raw...), want})
	}
	for ref, want := range wantNodes {
		n, ok, err := s.Node(ctx, ref)
		if err != nil || !ok {
			t.Fatalf("node %s: %v %v", ref, ok, err)
		}
		if n.FirstSeen != want.FirstSeen || n.LastSeen != want.LastSeen || n.UpdatedAt != want.UpdatedAt {
			t.Fatalf("node %s times: %+v, want %+v", ref, n, want)
		}
		check("node "+ref.String(), n.Props, n.Raw, want.Props)
	}
	for er, want := range wantEdges {
		for _, dir := range []graph.Direction{graph.Out, graph.In} {
			end := er.From
			if dir == graph.In {
				end = er.To
			}
			found := false
			err := s.Edges(ctx, end, dir, er.Type, func(e *graph.Edge) bool {
				if e.EdgeRef != er {
					return true
				}
				found = true
				if e.FirstSeen != want.FirstSeen || e.LastSeen != want.LastSeen || e.UpdatedAt != want.UpdatedAt {
					t.Fatalf("edge %s %s times: %+v, want %+v", er, dir, e, want)
				}
				check("edge "+er.String(), e.Props, e.Raw, want.Props)
				return true
			})
			if err != nil || !found {
				t.Fatalf("edge %s %s: found %v, %v", er, dir, found, err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Another session's reads do not reuse the memory.
	other, err := p.ReadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other.(*Session).ReadRawProps()
	for ref := range wantNodes {
		if _, _, err := other.Node(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	_ = other.Close()
	for i, k := range keep {
		if string(k.raw) != string(k.copy) {
			t.Fatalf("raw value %d changed after the session closed", i)
		}
	}

	// Expiry applies as when decoding.
	clk := &fakeClock{}
	pt := openTTL(t, map[string]time.Duration{"device": time.Hour}, clk)
	apply(t, pt, &graph.Batch{Edges: []graph.Edge{
		edgeAt("account:a", "used", "device:old", 0),
		edgeAt("account:a", "used", "device:new", 100*time.Minute),
	}})
	clk.set(61 * time.Minute)
	ts, err := pt.ReadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	ts.(*Session).ReadRawProps()
	var got []string
	if err := ts.Edges(ctx, ref("account:a"), graph.Out, "", func(e *graph.Edge) bool { got = append(got, e.String()); return true }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"account:a -used-> device:new"}; !reflect.DeepEqual(got, want) {
		t.Errorf("raw edges with a TTL: %v, want %v", got, want)
	}
}

func TestDecodePropsRejectsMalformed(t *testing.T) {
	v, _, err := encodeValue(nil, element{props: graph.Props{"a": {Value: "x", TS: 1}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, v[:len(v)-1], append(append([]byte(nil), v...), 0x7f)} {
		if err := DecodeProps(bad, func(string, graph.Prop) bool { return true }); err == nil {
			t.Errorf("DecodeProps(%x) = nil, want an error", bad)
		}
	}
}
