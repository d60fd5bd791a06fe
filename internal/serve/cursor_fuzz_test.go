package serve

import (
	"bytes"
	"encoding/base64"
	"testing"

	"connectrpc.com/connect"

	"github.com/rdgraph/rdg/internal/graph"
)

// fuzzListings are the listings a fuzzed cursor is checked against.
var fuzzListings = []struct {
	ref   graph.NodeRef
	dir   graph.Direction
	types []string
}{
	{graph.NodeRef{Type: "account", ID: "m1"}, graph.Out, nil},
	{graph.NodeRef{Type: "account", ID: "m1"}, graph.Both, []string{"used", "has_profile"}},
	{graph.NodeRef{Type: "device", ID: "tv"}, graph.In, []string{"used"}},
}

// FuzzDecodeCursor: whatever a client passes as a cursor, decoding it
// returns a cursor of the listing or an InvalidArgument, never panics,
// and a cursor it accepts encodes back to the same bytes.
func FuzzDecodeCursor(f *testing.F) {
	m1 := graph.NodeRef{Type: "account", ID: "m1"}
	tv := graph.NodeRef{Type: "device", ID: "tv"}
	for i, c := range []graph.Cursor{
		{Phase: graph.Out, TypeIdx: 0},
		{Phase: graph.Out, After: graph.EdgeRef{Type: "used", From: m1, To: tv}},
		{Phase: graph.In, TypeIdx: 1, After: graph.EdgeRef{Type: "has_profile", From: graph.NodeRef{Type: "profile", ID: "p1"}, To: m1}},
		{Phase: graph.In, After: graph.EdgeRef{Type: "used", From: m1, To: tv}},
	} {
		l := fuzzListings[i%len(fuzzListings)]
		f.Add(encodeCursor(c, l.ref, l.dir, l.types), uint8(i))
	}
	f.Add("", uint8(0))
	f.Add("!!!", uint8(1))
	f.Add("AQ", uint8(2))
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		l := fuzzListings[int(which)%len(fuzzListings)]
		c, err := decodeCursor("cursor", s, l.ref, l.dir, l.types)
		if err != nil {
			if c != nil || connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("cursor %v, error %v: want no cursor and invalid_argument", c, err)
			}
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(s)
		again, _ := base64.RawURLEncoding.DecodeString(encodeCursor(*c, l.ref, l.dir, l.types))
		if !bytes.Equal(raw, again) {
			t.Fatalf("accepted %x, which encodes back as %x", raw, again)
		}
	})
}
