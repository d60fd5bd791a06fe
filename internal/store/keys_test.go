package store

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rdgraph/rdg/internal/graph"
)

// awkward are ids that break naive encodings: separators, escape bytes,
// prefixes of one another.
var awkward = []string{
	"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "\xff", "\xff\xff",
	"a", "a\x00", "a\x00b", "a\x01", "a:b", "a:", ":", "ab", "b", "dev", "device",
	"\x00a", "a\xff", "é", "a\x00\x00",
}

func TestComponentRoundTrip(t *testing.T) {
	for _, s := range awkward {
		enc := appendComponent(nil, s)
		got, rest, err := decodeComponent(append(enc, "tail"...))
		if err != nil || got != s || string(rest) != "tail" {
			t.Errorf("decode(enc(%q)) = %q, %q, %v", s, got, rest, err)
		}
	}
}

func TestComponentOrder(t *testing.T) {
	// enc(a)+x vs enc(b)+y must order as a vs b for any suffixes when a != b.
	suffixes := []string{"", "\x00", "\xff", "zz"}
	for _, a := range awkward {
		for _, b := range awkward {
			want := strings.Compare(a, b)
			for _, x := range suffixes {
				for _, y := range suffixes {
					ka := append(appendComponent(nil, a), x...)
					kb := append(appendComponent(nil, b), y...)
					got := bytes.Compare(ka, kb)
					if want != 0 && got != want {
						t.Fatalf("order of %q+%q vs %q+%q: %d, want %d", a, x, b, y, got, want)
					}
				}
			}
		}
	}
}

func randAwkward(r *rand.Rand) string {
	const alphabet = "\x00\x01\xff:a"
	n := r.IntN(4)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func TestEdgeKeyTupleOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tuple := func() [5]string {
		var c [5]string
		for i := range c {
			c[i] = randAwkward(r)
		}
		return c
	}
	key := func(c [5]string) []byte {
		return outKey(nil, &graph.EdgeRef{
			From: graph.NodeRef{Type: c[0], ID: c[1]}, Type: c[2], To: graph.NodeRef{Type: c[3], ID: c[4]},
		})
	}
	for range 20000 {
		a, b := tuple(), tuple()
		want := 0
		for i := range a {
			if c := strings.Compare(a[i], b[i]); c != 0 {
				want = c
				break
			}
		}
		if got := bytes.Compare(key(a), key(b)); got != want {
			t.Fatalf("order of %q vs %q: %d, want %d", a, b, got, want)
		}
	}
}

func TestPrefixSelectsExactly(t *testing.T) {
	types := []string{"de", "dev", "device", "devices"}
	ids := []string{"a", "a\x00", "a\x00b", "ab", "a:b", "\xff", "\x00"}
	var keys [][]byte
	var refs []graph.NodeRef
	for _, ty := range types {
		for _, id := range ids {
			r := graph.NodeRef{Type: ty, ID: id}
			refs = append(refs, r)
			keys = append(keys, nodeKey(nil, r))
		}
	}
	inRange := func(k, lo []byte) bool {
		hi := prefixEnd(lo)
		return bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0)
	}
	for _, ty := range types {
		lo := typePrefix(kindNode, ty)
		for i, k := range keys {
			if got, want := inRange(k, lo), refs[i].Type == ty; got != want {
				t.Errorf("type %q range holds %s: %v, want %v", ty, refs[i], got, want)
			}
		}
	}
	// Adjacency prefixes: one node's edges, and one node's edges of one type.
	for _, from := range refs {
		for _, et := range []string{"", "dev", "device"} {
			lo := adjacencyPrefix(nil, kindOut, from, et)
			for _, to := range refs[:len(ids)] {
				for _, e := range []graph.EdgeRef{
					{Type: "dev", From: from, To: to},
					{Type: "device", From: from, To: to},
					{Type: "dev", From: to, To: from},
				} {
					want := e.From == from && (et == "" || e.Type == et)
					if got := inRange(outKey(nil, &e), lo); got != want {
						t.Errorf("out range of %s type %q holds %s: %v, want %v", from, et, e, got, want)
					}
				}
			}
		}
	}
}

func TestEdgeKeysRoundTrip(t *testing.T) {
	for _, a := range awkward {
		for _, b := range awkward[:8] {
			e := graph.EdgeRef{Type: "t" + b, From: graph.NodeRef{Type: a, ID: b}, To: graph.NodeRef{Type: b, ID: a}}
			checkEdgeKeys(t, e)
		}
	}
}

func checkEdgeKeys(t testing.TB, e graph.EdgeRef) {
	t.Helper()
	ok, ik := outKey(nil, &e), inKey(nil, &e)
	for _, k := range [][]byte{ok, ik} {
		got, err := decodeEdgeKey(k)
		if err != nil || got != e {
			t.Fatalf("decodeEdgeKey(%q) = %v, %v; want %v", k, got, err, e)
		}
	}
	rebuilt, err := outKeyFromIn(nil, ik)
	if err != nil || !bytes.Equal(rebuilt, ok) {
		t.Fatalf("outKeyFromIn(%q) = %q, %v; want %q", ik, rebuilt, err, ok)
	}
	n, err := decodeNodeKey(nodeKey(nil, e.From))
	if err != nil || n != e.From {
		t.Fatalf("decodeNodeKey(nodeKey(%v)) = %v, %v", e.From, n, err)
	}
}

func TestDecodeMalformedKeys(t *testing.T) {
	for _, k := range []string{"", "n", "nab", "na\x00", "na\x00\x02b\x00\x01", "na\x00\x01b\x00\x01x", "o\x00\x01", "i\x00\x01\x00\x01"} {
		if _, err := decodeNodeKey([]byte(k)); err == nil {
			t.Errorf("decodeNodeKey(%q) succeeded", k)
		}
		if _, err := decodeEdgeKey([]byte(k)); err == nil {
			t.Errorf("decodeEdgeKey(%q) succeeded", k)
		}
		if _, err := outKeyFromIn(nil, []byte(k)); err == nil {
			t.Errorf("outKeyFromIn(%q) succeeded", k)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a", "b"}, {"a\xff", "b"}, {"a\x00\x01", "a\x00\x02"}, {"\xff\xff", ""},
	} {
		if got := prefixEnd([]byte(c.in)); string(got) != c.want {
			t.Errorf("prefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzKeyRoundTrip(f *testing.F) {
	f.Add("account", "m1", "watched", "title", "t:1")
	f.Add("dev", "a\x00", "device", "de", "\xff\x00\x01")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, ft, fid, et, tt, tid string) {
		e := graph.EdgeRef{Type: et, From: graph.NodeRef{Type: ft, ID: fid}, To: graph.NodeRef{Type: tt, ID: tid}}
		checkEdgeKeys(t, e)
		// Order preservation on one component, the rest of the key equal.
		a := nodeKey(nil, graph.NodeRef{Type: ft, ID: fid})
		b := nodeKey(nil, graph.NodeRef{Type: ft, ID: tid})
		if got, want := bytes.Compare(a, b), strings.Compare(fid, tid); got != want {
			t.Fatalf("order of ids %q, %q: %d, want %d", fid, tid, got, want)
		}
		// Arbitrary bytes must decode or fail, never panic.
		for _, k := range []string{ft + fid, "n" + fid, "o" + fid + et, "i" + tid} {
			_, _ = decodeNodeKey([]byte(k))
			_, _ = decodeEdgeKey([]byte(k))
			_, _ = outKeyFromIn(nil, []byte(k))
		}
	})
}

// outKeyFromIn is inKeyFromOut's reverse. The store does not need it
// (in-edge entries carry the edge's value, so no read goes from an in-edge
// key to its out-edge key); the tests use it to check that the flip loses
// nothing.
func outKeyFromIn(dst, in []byte) ([]byte, error) { return flipEdgeKey(dst, in, kindIn, kindOut) }
