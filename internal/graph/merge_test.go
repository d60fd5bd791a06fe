package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Merge must be the join of a semilattice: whatever order, grouping or
// number of times updates arrive, the stored element is the same. These
// tests check the three laws on random elements whose properties are drawn
// from every kind, with few timestamps and few values so that ties (equal
// event times, equal values, -0/+0, NaNs) are common.

const propertyIterations = 3000

// Float values that are easy to get wrong: signed zeros, infinities and
// NaNs of both signs with different payloads.
var trickyFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.5,
	math.Inf(1), math.Inf(-1),
	math.NaN(),
	math.Float64frombits(0x7ff8000000000001), // quiet NaN, other payload
	math.Float64frombits(0xfff8000000000000), // negative NaN
	math.Float64frombits(0x7ff0000000000001), // signalling NaN
	math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
	math.MaxFloat64, -math.MaxFloat64,
}

var trickyInts = []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64}

var trickyStrings = []string{"", "a", "b", "ab", "A", "é", "\x00", "a\x00"}

func randValue(r *rand.Rand) any {
	switch r.IntN(5) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return trickyInts[r.IntN(len(trickyInts))]
	case 3:
		return trickyFloats[r.IntN(len(trickyFloats))]
	default:
		return trickyStrings[r.IntN(len(trickyStrings))]
	}
}

func randProps(r *rand.Rand) Props {
	switch r.IntN(6) {
	case 0:
		return nil
	case 1:
		return Props{}
	}
	keys := []string{"a", "b", "c", "d"}
	p := make(Props)
	for range r.IntN(len(keys) + 1) {
		// Few distinct timestamps, so that equal event times are frequent.
		p[keys[r.IntN(len(keys))]] = Prop{Value: randValue(r), TS: int64(r.IntN(3))}
	}
	return p
}

func randTimes(r *rand.Rand) (first, last, updated int64) {
	first = int64(r.IntN(5)) - 2
	last = first + int64(r.IntN(3))
	return first, last, int64(r.IntN(5))
}

func randNode(r *rand.Rand) Node {
	n := Node{NodeRef: NodeRef{Type: "account", ID: "1"}, Props: randProps(r)}
	n.FirstSeen, n.LastSeen, n.UpdatedAt = randTimes(r)
	return n
}

func randEdge(r *rand.Rand) Edge {
	e := Edge{EdgeRef: EdgeRef{Type: "watched", From: NodeRef{"account", "1"}, To: NodeRef{"title", "2"}}, Props: randProps(r)}
	e.FirstSeen, e.LastSeen, e.UpdatedAt = randTimes(r)
	return e
}

func cloneProps(p Props) Props {
	if p == nil {
		return nil
	}
	c := make(Props, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

func cloneNode(n Node) Node  { n.Props = cloneProps(n.Props); return n }
func cloneEdgeT(e Edge) Edge { e.Props = cloneProps(e.Props); return e }

// sameValue is identity of property values: same kind and, for floats, the
// same bits (so -0 differs from +0 and NaN equals the same NaN).
func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Float64bits(fa) == math.Float64bits(fb)
	}
	return a == b
}

// propsDiff compares props; a nil and an empty map are the same (no props).
func propsDiff(a, b Props) string {
	if len(a) != len(b) {
		return fmt.Sprintf("props %v vs %v", a, b)
	}
	for k, pa := range a {
		pb, ok := b[k]
		if !ok || pa.TS != pb.TS || !sameValue(pa.Value, pb.Value) {
			return fmt.Sprintf("prop %q: %#v vs %#v", k, pa, pb)
		}
	}
	return ""
}

func nodeDiff(a, b Node) string {
	if a.NodeRef != b.NodeRef || a.FirstSeen != b.FirstSeen || a.LastSeen != b.LastSeen || a.UpdatedAt != b.UpdatedAt {
		return fmt.Sprintf("%+v vs %+v", a, b)
	}
	return propsDiff(a.Props, b.Props)
}

func edgeDiff(a, b Edge) string {
	if a.EdgeRef != b.EdgeRef || a.FirstSeen != b.FirstSeen || a.LastSeen != b.LastSeen || a.UpdatedAt != b.UpdatedAt {
		return fmt.Sprintf("%+v vs %+v", a, b)
	}
	return propsDiff(a.Props, b.Props)
}

func joinNodes(a, b Node) Node {
	a = cloneNode(a)
	a.Merge(&b)
	return a
}

func joinEdges(a, b Edge) Edge {
	a = cloneEdgeT(a)
	a.Merge(&b)
	return a
}

func TestNodeMergeSemilattice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range propertyIterations {
		a, b, c := randNode(r), randNode(r), randNode(r)
		before := cloneNode(b)
		if d := nodeDiff(joinNodes(a, b), joinNodes(b, a)); d != "" {
			t.Fatalf("iteration %d: not commutative: a=%+v b=%+v: %s", i, a, b, d)
		}
		if d := nodeDiff(joinNodes(joinNodes(a, b), c), joinNodes(a, joinNodes(b, c))); d != "" {
			t.Fatalf("iteration %d: not associative: a=%+v b=%+v c=%+v: %s", i, a, b, c, d)
		}
		if d := nodeDiff(joinNodes(a, a), a); d != "" {
			t.Fatalf("iteration %d: not idempotent: a=%+v: %s", i, a, d)
		}
		// Merging the same update again changes nothing (a replay).
		ab := joinNodes(a, b)
		if d := nodeDiff(joinNodes(ab, b), ab); d != "" {
			t.Fatalf("iteration %d: replay of b changed a⊔b: %s", i, d)
		}
		if d := nodeDiff(b, before); d != "" {
			t.Fatalf("iteration %d: Merge modified its argument: %s", i, d)
		}
	}
}

func TestEdgeMergeSemilattice(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range propertyIterations {
		a, b, c := randEdge(r), randEdge(r), randEdge(r)
		if d := edgeDiff(joinEdges(a, b), joinEdges(b, a)); d != "" {
			t.Fatalf("iteration %d: not commutative: a=%+v b=%+v: %s", i, a, b, d)
		}
		if d := edgeDiff(joinEdges(joinEdges(a, b), c), joinEdges(a, joinEdges(b, c))); d != "" {
			t.Fatalf("iteration %d: not associative: %s", i, d)
		}
		if d := edgeDiff(joinEdges(a, a), a); d != "" {
			t.Fatalf("iteration %d: not idempotent: a=%+v: %s", i, a, d)
		}
	}
}

// Any delivery order of a set of updates, with duplicates, converges to the
// same node.
func TestNodeMergeOrderInsensitive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		updates := make([]Node, 2+r.IntN(6))
		for j := range updates {
			updates[j] = randNode(r)
		}
		fold := func(us []Node) Node {
			acc := cloneNode(us[0])
			for k := 1; k < len(us); k++ {
				acc.Merge(&us[k])
			}
			return acc
		}
		want := fold(updates)
		for range 5 {
			perm := slices.Clone(updates)
			perm = append(perm, updates[r.IntN(len(updates))]) // a duplicate
			r.Shuffle(len(perm), func(x, y int) { perm[x], perm[y] = perm[y], perm[x] })
			if d := nodeDiff(fold(perm), want); d != "" {
				t.Fatalf("iteration %d: order changed the result: %s", i, d)
			}
		}
	}
}

func TestMergeTimes(t *testing.T) {
	n := Node{NodeRef: NodeRef{"account", "1"}, FirstSeen: 10, LastSeen: 20, UpdatedAt: 100}
	o := Node{NodeRef: NodeRef{"account", "1"}, FirstSeen: 5, LastSeen: 15, UpdatedAt: 200}
	n.Merge(&o)
	if n.FirstSeen != 5 || n.LastSeen != 20 || n.UpdatedAt != 200 {
		t.Fatalf("got first=%d last=%d updated=%d, want 5 20 200", n.FirstSeen, n.LastSeen, n.UpdatedAt)
	}
	e := Edge{EdgeRef: EdgeRef{Type: "x", From: NodeRef{"a", "1"}, To: NodeRef{"b", "2"}}, FirstSeen: 7, LastSeen: 8, UpdatedAt: 9}
	oe := Edge{EdgeRef: e.EdgeRef, FirstSeen: 1, LastSeen: 30, UpdatedAt: 2}
	e.Merge(&oe)
	if e.FirstSeen != 1 || e.LastSeen != 30 || e.UpdatedAt != 9 {
		t.Fatalf("edge got first=%d last=%d updated=%d, want 1 30 9", e.FirstSeen, e.LastSeen, e.UpdatedAt)
	}
}

func TestMergePropsLWW(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, tc := range []struct {
		name     string
		dst, src Props
		want     Props
	}{
		{"later wins", Props{"k": {"old", 1}}, Props{"k": {"new", 2}}, Props{"k": {"new", 2}}},
		{"earlier loses", Props{"k": {"new", 2}}, Props{"k": {"old", 1}}, Props{"k": {"new", 2}}},
		{"later null wins", Props{"k": {"v", 1}}, Props{"k": {nil, 2}}, Props{"k": {nil, 2}}},
		{"earlier value loses to later null", Props{"k": {nil, 2}}, Props{"k": {"v", 1}}, Props{"k": {nil, 2}}},
		{"tie: greater string", Props{"k": {"a", 1}}, Props{"k": {"b", 1}}, Props{"k": {"b", 1}}},
		{"tie: greater string kept", Props{"k": {"b", 1}}, Props{"k": {"a", 1}}, Props{"k": {"b", 1}}},
		{"tie: kinds", Props{"k": {int64(99), 1}}, Props{"k": {"0", 1}}, Props{"k": {"0", 1}}},
		{"tie: null below everything", Props{"k": {false, 1}}, Props{"k": {nil, 1}}, Props{"k": {false, 1}}},
		{"tie: +0 over -0", Props{"k": {negZero, 1}}, Props{"k": {0.0, 1}}, Props{"k": {0.0, 1}}},
		{"tie: NaN over +Inf", Props{"k": {math.Inf(1), 1}}, Props{"k": {math.NaN(), 1}}, Props{"k": {math.NaN(), 1}}},
		{"disjoint keys", Props{"a": {"x", 1}}, Props{"b": {"y", 0}}, Props{"a": {"x", 1}, "b": {"y", 0}}},
		{"nil dst", nil, Props{"a": {int64(1), 3}}, Props{"a": {int64(1), 3}}},
		{"nil src", Props{"a": {true, 3}}, nil, Props{"a": {true, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := cloneProps(tc.src)
			got := MergeProps(cloneProps(tc.dst), tc.src)
			if d := propsDiff(got, tc.want); d != "" {
				t.Fatal(d)
			}
			if d := propsDiff(tc.src, src); d != "" {
				t.Fatalf("src modified: %s", d)
			}
		})
	}
}

func TestMergePropsAliasing(t *testing.T) {
	dst := Props{"a": {"x", 1}}
	if got := MergeProps(dst, Props{"a": {"y", 2}}); got["a"].Value != "y" || dst["a"].Value != "y" {
		t.Fatalf("MergeProps must fold into dst in place: got %v, dst %v", got, dst)
	}
	if got := MergeProps(nil, nil); got != nil {
		t.Fatalf("MergeProps(nil, nil) = %v, want nil", got)
	}
	got := MergeProps(nil, Props{"a": {"x", 1}})
	got["b"] = Prop{"z", 1}
	if got == nil || len(got) != 2 {
		t.Fatalf("MergeProps(nil, src) must allocate a fresh map: %v", got)
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func compareSamples() []any {
	vals := []any{nil, false, true}
	for _, i := range trickyInts {
		vals = append(vals, i)
	}
	for _, f := range trickyFloats {
		vals = append(vals, f)
	}
	for _, s := range trickyStrings {
		vals = append(vals, s)
	}
	return vals
}

func TestCompareValuesTotalOrder(t *testing.T) {
	vals := compareSamples()
	r := rand.New(rand.NewPCG(7, 8))
	for range 40 {
		vals = append(vals, randValue(r), r.Int64(), r.NormFloat64(), math.Float64frombits(r.Uint64()))
	}
	for _, a := range vals {
		if c := CompareValues(a, a); c != 0 {
			t.Fatalf("CompareValues(%#v, itself) = %d", a, c)
		}
		for _, b := range vals {
			ab, ba := CompareValues(a, b), CompareValues(b, a)
			if sign(ab) != -sign(ba) {
				t.Fatalf("not antisymmetric: cmp(%#v,%#v)=%d cmp(b,a)=%d", a, b, ab, ba)
			}
			// Total: only identical values tie, so no tie-break depends on
			// which value a replica saw first.
			if (ab == 0) != sameValue(a, b) {
				t.Fatalf("cmp(%#v,%#v)=0 is %v, identical is %v", a, b, ab == 0, sameValue(a, b))
			}
			for _, c := range vals {
				if CompareValues(a, b) <= 0 && CompareValues(b, c) <= 0 && CompareValues(a, c) > 0 {
					t.Fatalf("not transitive: %#v <= %#v <= %#v but cmp(a,c) > 0", a, b, c)
				}
			}
		}
	}
}

func TestCompareValuesOrder(t *testing.T) {
	negNaN := math.Float64frombits(0xfff8000000000000)
	// Strictly increasing.
	ordered := []any{
		nil, false, true,
		int64(math.MinInt64), int64(-1), int64(0), int64(1), int64(math.MaxInt64),
		negNaN, math.Inf(-1), -math.MaxFloat64, -1.0, -math.SmallestNonzeroFloat64, math.Copysign(0, -1),
		0.0, math.SmallestNonzeroFloat64, 1.0, math.MaxFloat64, math.Inf(1), math.NaN(),
		"", "A", "a", "ab", "b", "é",
	}
	for i := 0; i+1 < len(ordered); i++ {
		if c := CompareValues(ordered[i], ordered[i+1]); c >= 0 {
			t.Errorf("CompareValues(%#v, %#v) = %d, want < 0", ordered[i], ordered[i+1], c)
		}
	}
}

func TestNormalizeValue(t *testing.T) {
	for _, tc := range []struct {
		in      any
		want    any
		wantErr string
	}{
		{nil, nil, ""},
		{"s", "s", ""},
		{true, true, ""},
		{int64(-5), int64(-5), ""},
		{1.5, 1.5, ""},
		{int(7), int64(7), ""},
		{int8(-8), int64(-8), ""},
		{int16(-16), int64(-16), ""},
		{int32(-32), int64(-32), ""},
		{uint8(8), int64(8), ""},
		{uint16(16), int64(16), ""},
		{uint32(math.MaxUint32), int64(math.MaxUint32), ""},
		{uint(9), int64(9), ""},
		{uint64(math.MaxInt64), int64(math.MaxInt64), ""},
		{uint64(math.MaxInt64 + 1), nil, "overflows int64"},
		{uint(math.MaxUint), nil, "overflows int64"},
		{float32(1.25), float64(1.25), ""},
		{[]any{1}, nil, "[]interface {}"},
		{map[string]any{}, nil, "map[string]interface {}"},
		{[]byte("x"), nil, "[]uint8"},
		{struct{}{}, nil, "struct {}"},
	} {
		got, err := NormalizeValue(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NormalizeValue(%#v) error = %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("NormalizeValue(%#v): %v", tc.in, err)
			continue
		}
		if !sameValue(got, tc.want) {
			t.Errorf("NormalizeValue(%#v) = %#v (%T), want %#v (%T)", tc.in, got, got, tc.want, tc.want)
		}
	}
	// NaN and -0 survive unchanged.
	if got, _ := NormalizeValue(float32(math.NaN())); !math.IsNaN(got.(float64)) {
		t.Errorf("float32 NaN became %v", got)
	}
	if got, _ := NormalizeValue(math.Copysign(0, -1)); !math.Signbit(got.(float64)) {
		t.Errorf("-0 lost its sign")
	}
}

// named is p as a NamedProp slice sorted by name.
func named(p Props) []NamedProp {
	out := make([]NamedProp, 0, len(p))
	for k, v := range p {
		out = append(out, NamedProp{Name: k, Prop: v})
	}
	slices.SortFunc(out, func(a, b NamedProp) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// MergeNamedProps is MergeProps on sorted slices: same result on random
// property sets (disjoint, overlapping, equal names, empty), sorted and
// unique, and dst's memory reused when the names are the same.
func TestMergeNamedPropsMatchesMergeProps(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for i := range propertyIterations {
		a, b := randProps(r), randProps(r)
		if i%3 == 0 {
			// Same names, other values: the in-place path.
			b = Props{}
			for k := range a {
				b[k] = Prop{Value: randValue(r), TS: int64(r.IntN(3))}
			}
		}
		want := MergeProps(cloneProps(a), b)
		da := named(a)
		got := MergeNamedProps(da, named(b))
		if !slices.IsSortedFunc(got, func(x, y NamedProp) int { return strings.Compare(x.Name, y.Name) }) {
			t.Fatalf("merge of %v and %v not sorted: %v", a, b, got)
		}
		gp := Props{}
		for _, p := range got {
			if _, dup := gp[p.Name]; dup {
				t.Fatalf("merge of %v and %v repeats %s: %v", a, b, p.Name, got)
			}
			gp[p.Name] = p.Prop
		}
		if d := propsDiff(gp, want); d != "" {
			t.Fatalf("merge of %v and %v: %s", a, b, d)
		}
		if i%3 == 0 && len(da) > 0 && &got[0] != &da[0] {
			t.Fatalf("same names: result does not reuse dst")
		}
	}
}
