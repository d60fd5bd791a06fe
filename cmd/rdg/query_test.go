package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
)

func TestParseStep(t *testing.T) {
	now := time.UnixMilli(10_000_000)
	for _, tc := range []struct{ in, want string }{
		{"", `{"direction":"DIRECTION_OUT"}`},
		{"in edges=used,watched", `{"direction":"DIRECTION_IN","edgeTypes":["used","watched"]}`},
		{"both nodes=device node.platform=ios", `{"direction":"DIRECTION_BOTH","nodeTypes":["device"],"nodePredicates":[{"field":"platform","op":"OP_EQ","value":{"stringValue":"ios"}}]}`},
		{"edge.rating>=4.5 edge.n<3 node.kids!=true node.x==null", `{"direction":"DIRECTION_OUT","nodePredicates":[{"field":"kids","op":"OP_NE","value":{"boolValue":true}},{"field":"x","op":"OP_EQ","value":{}}],"edgePredicates":[{"field":"rating","op":"OP_GE","value":{"doubleValue":4.5}},{"field":"n","op":"OP_LT","value":{"intValue":"3"}}]}`},
		{`node.@id<="42" node.name>Ana`, `{"direction":"DIRECTION_OUT","nodePredicates":[{"field":"@id","op":"OP_LE","value":{"stringValue":"42"}},{"field":"name","op":"OP_GT","value":{"stringValue":"Ana"}}]}`},
		{"since=1000 until=1h", `{"direction":"DIRECTION_OUT","sinceMs":"1000","untilMs":"6400000"}`},
	} {
		st, err := parseStep(tc.in, now)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		b, _ := protojson.Marshal(st)
		// protojson's output spacing is deliberately unstable.
		if got := strings.ReplaceAll(string(b), " ", ""); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"sideways", "out in", "node.=3", "node.x", "since=yesterday"} {
		if _, err := parseStep(bad, now); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPathString(t *testing.T) {
	n := func(typ, id string) *rdgv1.Node { return &rdgv1.Node{Type: typ, Id: id} }
	r := func(typ, id string) *rdgv1.NodeRef { return &rdgv1.NodeRef{Type: typ, Id: id} }
	p := &rdgv1.Path{
		Nodes: []*rdgv1.Node{n("device", "tv"), n("account", "m1"), n("title", "t1")},
		Edges: []*rdgv1.Edge{{Type: "uses", From: r("account", "m1"), To: r("device", "tv")}, {Type: "watched", From: r("account", "m1"), To: r("title", "t1")}},
	}
	if got, want := pathString(p), "device:tv <-uses- account:m1 -watched-> title:t1"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if got := partialNote(true, rdgv1.Limit_LIMIT_MAX_VISITED); got != " (partial: limit max_visited reached)" {
		t.Errorf("partialNote: %q", got)
	}
}
