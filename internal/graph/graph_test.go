package graph

import (
	"strings"
	"testing"
)

func TestValidTypeName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"account", true},
		{"episode_of", true},
		{"a1", true},
		{"a_1_b", true},
		{strings.Repeat("a", MaxTypeName), true},
		{"", false},
		{strings.Repeat("a", MaxTypeName+1), false},
		{"Account", false},
		{"aB", false},
		{"1a", false},
		{"_a", false},
		{"a-b", false},
		{"a.b", false},
		{"a b", false},
		{"a:b", false},
		{"é", false},
		{"aé", false},
	} {
		err := ValidTypeName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidTypeName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestParseNodeRef(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    NodeRef
		wantErr string
	}{
		{in: "account:42", want: NodeRef{"account", "42"}},
		{in: "title:tt:0001", want: NodeRef{"title", "tt:0001"}},
		{in: "device:a b", want: NodeRef{"device", "a b"}},
		{in: "device::", want: NodeRef{"device", ":"}},
		{in: "account", wantErr: "want type:id"},
		{in: "", wantErr: "want type:id"},
		{in: ":42", wantErr: "empty type name"},
		{in: "account:", wantErr: "empty id"},
		{in: "Account:1", wantErr: "lower-case"},
		{in: "1x:1", wantErr: "lower-case"},
	} {
		got, err := ParseNodeRef(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseNodeRef(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseNodeRef(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
			continue
		}
		// String is the inverse of ParseNodeRef.
		if s := got.String(); s != tc.in {
			t.Errorf("ParseNodeRef(%q).String() = %q", tc.in, s)
		}
	}
}

func TestNodeRefValidate(t *testing.T) {
	for _, tc := range []struct {
		ref     NodeRef
		wantErr string
	}{
		{NodeRef{"account", "1"}, ""},
		{NodeRef{"account", ""}, "empty id"},
		{NodeRef{"", "1"}, "empty type name"},
		{NodeRef{"Bad", "1"}, "lower-case"},
	} {
		checkErr(t, tc.ref.String(), tc.ref.Validate(), tc.wantErr)
	}
}

func TestEdgeRefValidate(t *testing.T) {
	a, b := NodeRef{"account", "1"}, NodeRef{"title", "2"}
	for _, tc := range []struct {
		ref     EdgeRef
		wantErr string
	}{
		{EdgeRef{"watched", a, b}, ""},
		{EdgeRef{"watched", a, a}, ""}, // self loops are allowed
		{EdgeRef{"", a, b}, "edge: empty type name"},
		{EdgeRef{"Watched", a, b}, "lower-case"},
		{EdgeRef{"watched", NodeRef{"account", ""}, b}, "from: node of type \"account\": empty id"},
		{EdgeRef{"watched", a, NodeRef{"", "2"}}, "to: empty type name"},
	} {
		checkErr(t, tc.ref.String(), tc.ref.Validate(), tc.wantErr)
	}
	if s := (EdgeRef{"watched", a, b}).String(); s != "account:1 -watched-> title:2" {
		t.Errorf("EdgeRef.String() = %q", s)
	}
}

func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: error %v, want one containing %q", what, err, want)
	}
}

func TestParseDirection(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Direction
		ok   bool
	}{
		{"out", Out, true},
		{"OUT", Out, true},
		{"", Out, true},
		{"in", In, true},
		{"IN", In, true},
		{"both", Both, true},
		{"BOTH", Both, true},
		{"sideways", 0, false},
		{" out", 0, false},
		{"inout", 0, false},
	} {
		got, err := ParseDirection(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDirection(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "want out, in or both")) {
			t.Errorf("ParseDirection(%q) error %v does not say what is accepted", tc.in, err)
		}
	}
	for _, d := range []Direction{Out, In, Both} {
		got, err := ParseDirection(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDirection(%v.String()) = %v, %v", d, got, err)
		}
	}
	if s := Direction(7).String(); s != "Direction(7)" {
		t.Errorf("Direction(7).String() = %q", s)
	}
}

func TestBatch(t *testing.T) {
	var b Batch
	b.Nodes = append(b.Nodes, Node{}, Node{})
	b.Edges = append(b.Edges, Edge{})
	if b.Len() != 3 {
		t.Fatalf("Len = %d, want 3", b.Len())
	}
	c := cap(b.Nodes)
	b.Reset()
	if b.Len() != 0 || cap(b.Nodes) != c {
		t.Fatalf("Reset: len %d cap %d, want 0 and %d", b.Len(), cap(b.Nodes), c)
	}
}
