package store

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/rdgraph/rdg/internal/graph"
)

func mustEncode(t testing.TB, e element) []byte {
	t.Helper()
	v, _, err := encodeValue(nil, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValueRoundTrip(t *testing.T) {
	e := element{
		firstSeen: -5, lastSeen: math.MaxInt64, updatedAt: math.MinInt64,
		props: graph.Props{
			"":        {Value: "empty name", TS: 1},
			"null":    {Value: nil, TS: -1},
			"t":       {Value: true, TS: 2},
			"f":       {Value: false, TS: 3},
			"min":     {Value: int64(math.MinInt64), TS: math.MaxInt64},
			"max":     {Value: int64(math.MaxInt64), TS: math.MinInt64},
			"negzero": {Value: math.Copysign(0, -1), TS: 4},
			"inf":     {Value: math.Inf(-1), TS: 5},
			"s":       {Value: "a\x00\xff:é", TS: 6},
			"é\x00":   {Value: "", TS: 7},
		},
	}
	got, err := decodeValue(mustEncode(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, e)
	}
	if math.Signbit(got.props["negzero"].Value.(float64)) != true {
		t.Fatal("-0 lost its sign")
	}
	// No props decodes to a nil map, as graph leaves it.
	got, err = decodeValue(mustEncode(t, element{firstSeen: 1}))
	if err != nil || got.props != nil || got.firstSeen != 1 {
		t.Fatalf("empty props: %#v, %v", got, err)
	}
}

func TestEncodeNormalizesAndRejects(t *testing.T) {
	v := mustEncode(t, element{props: graph.Props{"n": {Value: 7}, "f": {Value: float32(0.5)}}})
	got, _ := decodeValue(v)
	if got.props["n"].Value != int64(7) || got.props["f"].Value != 0.5 {
		t.Fatalf("normalized: %#v", got.props)
	}
	if _, _, err := encodeValue(nil, element{props: graph.Props{"x": {Value: []int{1}}}}, nil); err == nil {
		t.Fatal("encoded a slice")
	}
	a := mustEncode(t, element{props: graph.Props{"x": {Value: math.NaN(), TS: 1}}})
	b := mustEncode(t, element{props: graph.Props{"x": {Value: math.Float64frombits(0x7ff8dead00000001), TS: 1}}})
	if !bytes.Equal(a, b) {
		t.Fatal("NaN payloads encode differently")
	}
}

// randElement draws from small domains so that names collide and equal
// event times with different values (ties) are common.
func randElement(r *rand.Rand) element {
	e := element{firstSeen: r.Int64N(10), lastSeen: r.Int64N(10) + 10, updatedAt: r.Int64N(20)}
	names := []string{"a", "b", "c", "", "a\x00"}
	for _, n := range names {
		if r.IntN(2) == 0 {
			continue
		}
		if e.props == nil {
			e.props = graph.Props{}
		}
		e.props[n] = graph.Prop{Value: randValue(r), TS: r.Int64N(3)}
	}
	return e
}

func randValue(r *rand.Rand) any {
	switch r.IntN(6) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return int64(r.IntN(3) - 1)
	case 3:
		return float64(r.IntN(3)) / 2
	case 4:
		return []string{"x", "y", "x\x00"}[r.IntN(3)]
	}
	return int64(r.IntN(3))
}

func graphMerge(a, b element) element {
	n := graph.Node{Props: graph.MergeProps(nil, a.props), FirstSeen: a.firstSeen, LastSeen: a.lastSeen, UpdatedAt: a.updatedAt}
	n.Merge(&graph.Node{Props: b.props, FirstSeen: b.firstSeen, LastSeen: b.lastSeen, UpdatedAt: b.updatedAt})
	return element{props: n.Props, firstSeen: n.FirstSeen, lastSeen: n.LastSeen, updatedAt: n.UpdatedAt}
}

func mustMerge(t testing.TB, a, b []byte) []byte {
	t.Helper()
	v, err := mergeValues(nil, a, b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMergeValuesIsGraphMerge checks the encoded merge against graph's
// reference merge, and the semilattice laws on bytes.
func TestMergeValuesIsGraphMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		a, b, c := randElement(r), randElement(r), randElement(r)
		ea, eb, ec := mustEncode(t, a), mustEncode(t, b), mustEncode(t, c)
		ab := mustMerge(t, ea, eb)
		got, err := decodeValue(ab)
		if err != nil {
			t.Fatal(err)
		}
		if want := graphMerge(a, b); !reflect.DeepEqual(got, want) {
			t.Fatalf("merge(%v, %v):\n got %#v\nwant %#v", a, b, got, want)
		}
		if !bytes.Equal(ab, mustEncode(t, got)) {
			t.Fatal("merge result is not the canonical encoding")
		}
		if ba := mustMerge(t, eb, ea); !bytes.Equal(ab, ba) {
			t.Fatalf("not commutative: %q vs %q", ab, ba)
		}
		if aa := mustMerge(t, ea, ea); !bytes.Equal(aa, ea) {
			t.Fatalf("not idempotent: %q vs %q", aa, ea)
		}
		if l, r := mustMerge(t, ab, ec), mustMerge(t, ea, mustMerge(t, eb, ec)); !bytes.Equal(l, r) {
			t.Fatalf("not associative: %q vs %q", l, r)
		}
	}
}

// TestTieBreak spells out last-writer-wins at equal event times, where the
// greater value by graph.CompareValues wins.
func TestTieBreak(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, c := range []struct {
		a, b, want any
	}{
		{"x", int64(9), "x"},
		{true, false, true},
		{nil, false, false},
		{int64(2), int64(-3), int64(2)},
		{1.5, int64(100), 1.5},
		{"ab", "a", "ab"},
		// Floats tie-break in IEEE 754 totalOrder: a positive NaN is above
		// every number, and +0 above -0.
		{math.NaN(), -1e300, math.NaN()},
		{0.0, negZero, 0.0},
	} {
		ea := mustEncode(t, element{props: graph.Props{"p": {Value: c.a, TS: 5}}})
		eb := mustEncode(t, element{props: graph.Props{"p": {Value: c.b, TS: 5}}})
		for _, v := range [][]byte{mustMerge(t, ea, eb), mustMerge(t, eb, ea)} {
			got, _ := decodeValue(v)
			if g := got.props["p"].Value; !sameValue(g, c.want) {
				t.Errorf("tie %v vs %v: got %v, want %v", c.a, c.b, g, c.want)
			}
		}
	}
	// A later event time wins whatever the values.
	ea := mustEncode(t, element{props: graph.Props{"p": {Value: "z", TS: 5}}})
	eb := mustEncode(t, element{props: graph.Props{"p": {Value: nil, TS: 6}}})
	got, _ := decodeValue(mustMerge(t, ea, eb))
	if got.props["p"] != (graph.Prop{Value: nil, TS: 6}) {
		t.Errorf("later null lost: %v", got.props["p"])
	}
}

// sameValue is == except that floats compare by bits (so -0 != +0).
func sameValue(a, b any) bool {
	x, ok1 := a.(float64)
	y, ok2 := b.(float64)
	if ok1 && ok2 {
		return math.Float64bits(x) == math.Float64bits(y)
	}
	return a == b
}

func TestMergeRejectsMalformed(t *testing.T) {
	good := mustEncode(t, element{props: graph.Props{"a": {Value: int64(1)}}})
	unsorted := append(bytes.Clone(good[:4]), good[4:]...)
	unsorted = append(unsorted, good[4:]...) // "a" twice
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0, 0}, append(bytes.Clone(good), 0x01), unsorted, append(bytes.Clone(good[:len(good)-2]), 0x09)} {
		if _, err := mergeValues(nil, good, bad); err == nil {
			t.Errorf("merged malformed %q", bad)
		}
		if _, err := decodeValue(bad); err == nil && !bytes.Equal(bad, unsorted) {
			t.Errorf("decoded malformed %q", bad)
		}
	}
	if _, err := merger.Merge(layoutKey, nil); err == nil {
		t.Error("merger accepted a metadata key")
	}
	if _, err := merger.Merge(nil, nil); err == nil {
		t.Error("merger accepted an empty key")
	}
}
