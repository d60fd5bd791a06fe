package serve_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/api/wire"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/serve"
)

// warned is what a test expects of one warning.
type warned struct {
	kind  rdgv1.WarningKind
	field string
	typ   string   // unknown type
	known []string // the first known types, in order
	node  string   // type:id of a node that does not exist
}

func checkWarnings(t *testing.T, what string, got []*rdgv1.Warning, want []warned) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d warnings, want %d: %v", what, len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.GetKind() != w.kind || g.GetField() != w.field || g.GetType() != w.typ {
			t.Errorf("%s: warning %d = %v %q type %q, want %v %q type %q", what, i, g.GetKind(), g.GetField(), g.GetType(), w.kind, w.field, w.typ)
		}
		if len(g.GetKnownTypes()) < len(w.known) || !slices.Equal(g.GetKnownTypes()[:len(w.known)], w.known) {
			t.Errorf("%s: warning %d known types %q, want %q first", what, i, g.GetKnownTypes(), w.known)
		}
		if w.node != "" && g.GetNode().GetType()+":"+g.GetNode().GetId() != w.node {
			t.Errorf("%s: warning %d node %v, want %s", what, i, g.GetNode(), w.node)
		}
		if !strings.HasPrefix(g.GetMessage(), w.field+": ") && w.node == "" {
			t.Errorf("%s: message %q does not start with the field", what, g.GetMessage())
		}
		if w.node != "" && !strings.Contains(g.GetMessage(), w.node+" does not exist") {
			t.Errorf("%s: message %q does not say that %s does not exist", what, g.GetMessage(), w.node)
		}
	}
}

// call runs one RPC of a table test with strict set or not, returning its
// warnings.
type checkCall func(ctx context.Context, c rdgv1connect.GraphServiceClient, strict bool) ([]*rdgv1.Warning, error)

func traverseCall(req *rdgv1.TraverseRequest) checkCall {
	return func(ctx context.Context, c rdgv1connect.GraphServiceClient, strict bool) ([]*rdgv1.Warning, error) {
		req.Strict = strict
		res, err := c.Traverse(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetWarnings(), nil
	}
}

func neighborsCall(req *rdgv1.NeighborsRequest) checkCall {
	return func(ctx context.Context, c rdgv1connect.GraphServiceClient, strict bool) ([]*rdgv1.Warning, error) {
		req.Strict = strict
		res, err := c.Neighbors(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetWarnings(), nil
	}
}

func pathCall(req *rdgv1.ShortestPathRequest) checkCall {
	return func(ctx context.Context, c rdgv1connect.GraphServiceClient, strict bool) ([]*rdgv1.Warning, error) {
		req.Strict = strict
		res, err := c.ShortestPath(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetWarnings(), nil
	}
}

func groupCall(req *rdgv1.ConnectedGroupRequest) checkCall {
	return func(ctx context.Context, c rdgv1connect.GraphServiceClient, strict bool) ([]*rdgv1.Warning, error) {
		req.Strict = strict
		res, err := c.ConnectedGroup(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetWarnings(), nil
	}
}

func nodesCall(req *rdgv1.GetNodesRequest) checkCall {
	return func(ctx context.Context, c rdgv1connect.GraphServiceClient, strict bool) ([]*rdgv1.Warning, error) {
		req.Strict = strict
		res, err := c.GetNodes(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetWarnings(), nil
	}
}

func statsCall(req *rdgv1.StatsRequest) checkCall {
	return func(ctx context.Context, c rdgv1connect.GraphServiceClient, strict bool) ([]*rdgv1.Warning, error) {
		req.Strict = strict
		res, err := c.Stats(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetWarnings(), nil
	}
}

// TestQueryWarnings asks every RPC questions that name types the household
// graph has never stored or nodes it does not have, over the binary
// protocol (the server's own encoder) and JSON: each answer carries the
// warnings, and with strict set each fails with the warning as its message.
// Valid questions get no warning, and a node that only edges refer to
// exists.
func TestQueryWarnings(t *testing.T) {
	s := openHousehold(t)
	// A device with no record of its own, that an edge refers to.
	if err := s.Apply(context.Background(), &graph.Batch{Edges: []graph.Edge{{EdgeRef: graph.EdgeRef{Type: "used",
		From: graph.NodeRef{Type: "account", ID: "m3"}, To: graph.NodeRef{Type: "device", ID: "norecord"}}, LastSeen: 1}}}); err != nil {
		t.Fatal(err)
	}
	url := startServer(t, serve.NewHandler(s))
	hc := http1Client()
	t.Cleanup(hc.CloseIdleConnections)
	protos := map[string]rdgv1connect.GraphServiceClient{
		"proto": rdgv1connect.NewGraphServiceClient(hc, url, connect.WithCodec(wire.Codec())),
		"json":  rdgv1connect.NewGraphServiceClient(hc, url, connect.WithProtoJSON()),
	}
	edgeKnown := func(first ...string) []string { return first }
	unknownEdge := func(field, typ string, known ...string) warned {
		return warned{kind: rdgv1.WarningKind_WARNING_KIND_UNKNOWN_EDGE_TYPE, field: field, typ: typ, known: edgeKnown(known...)}
	}
	unknownNode := func(field, typ string, known ...string) warned {
		return warned{kind: rdgv1.WarningKind_WARNING_KIND_UNKNOWN_NODE_TYPE, field: field, typ: typ, known: known}
	}
	missing := func(field, node string) warned {
		return warned{kind: rdgv1.WarningKind_WARNING_KIND_NODE_NOT_FOUND, field: field, node: node}
	}
	step := func(dir rdgv1.Direction, edges, nodes []string, np ...*rdgv1.Predicate) *rdgv1.Step {
		return &rdgv1.Step{Direction: dir, EdgeTypes: edges, NodeTypes: nodes, NodePredicates: np}
	}
	out, in := rdgv1.Direction_DIRECTION_OUT, rdgv1.Direction_DIRECTION_IN
	start := func(refs ...*rdgv1.NodeRef) []*rdgv1.NodeRef { return refs }
	for _, tc := range []struct {
		name string
		call checkCall
		want []warned
		code connect.Code // with strict
	}{
		// Valid questions.
		{"traverse", traverseCall(&rdgv1.TraverseRequest{Start: start(ref("account", "m1")), Steps: []*rdgv1.Step{
			step(out, []string{"used"}, []string{"device"}, &rdgv1.Predicate{Field: "@type", Op: rdgv1.Op_OP_EQ, Value: str("device")})}}), nil, 0},
		{"traverse from a node without a record", traverseCall(&rdgv1.TraverseRequest{Start: start(ref("device", "norecord")),
			Steps: []*rdgv1.Step{step(in, []string{"used"}, nil)}}), nil, 0},
		{"neighbors of a node without such edges", neighborsCall(&rdgv1.NeighborsRequest{Node: ref("account", "m3"), EdgeTypes: []string{"has_profile"}}), nil, 0},
		{"no path, both ends exist", pathCall(&rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m3")}), nil, 0},
		{"group", groupCall(&rdgv1.ConnectedGroupRequest{Node: ref("account", "m3"), EdgeTypes: []string{"used"}}), nil, 0},
		{"nodes", nodesCall(&rdgv1.GetNodesRequest{Refs: start(ref("account", "nobody"))}), nil, 0},
		{"stats", statsCall(&rdgv1.StatsRequest{NodeTypes: []string{"device"}}), nil, 0},

		// Types the graph has never stored.
		{"traverse: edge type", traverseCall(&rdgv1.TraverseRequest{Start: start(ref("account", "m1")), Steps: []*rdgv1.Step{
			step(out, []string{"used"}, nil), step(in, []string{"usd", "used"}, nil)}}),
			[]warned{unknownEdge("steps[1].edge_types[0]", "usd", "used", "watched", "has_profile")}, connect.CodeInvalidArgument},
		{"traverse: node type and @type", traverseCall(&rdgv1.TraverseRequest{Start: start(ref("acount", "m1")), Steps: []*rdgv1.Step{
			step(out, nil, []string{"devise"}, &rdgv1.Predicate{Field: "@type", Op: rdgv1.Op_OP_EQ, Value: str("tv")})}}),
			[]warned{unknownNode("start[0].type", "acount", "account"), unknownNode("steps[0].node_types[0]", "devise", "device"),
				unknownNode("steps[0].node_predicates[0].value", "tv", "title")}, connect.CodeInvalidArgument},
		{"neighbors", neighborsCall(&rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"watched", "uses"}, NodeTypes: []string{"profiles"}}),
			[]warned{unknownEdge("edge_types[1]", "uses", "used"), unknownNode("node_types[0]", "profiles", "profile")}, connect.CodeInvalidArgument},
		{"path", pathCall(&rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m2"), EdgeTypes: []string{"has_profiles"}}),
			[]warned{unknownEdge("edge_types[0]", "has_profiles", "has_profile")}, connect.CodeInvalidArgument},
		{"group", groupCall(&rdgv1.ConnectedGroupRequest{Node: ref("account", "m1"), EdgeTypes: []string{"wached"}}),
			[]warned{unknownEdge("edge_types[0]", "wached", "watched")}, connect.CodeInvalidArgument},
		{"nodes", nodesCall(&rdgv1.GetNodesRequest{Refs: start(ref("account", "m1"), ref("titel", "t1"))}),
			[]warned{unknownNode("refs[1].type", "titel", "title")}, connect.CodeInvalidArgument},
		{"stats", statsCall(&rdgv1.StatsRequest{NodeTypes: []string{"devices"}}),
			[]warned{unknownNode("node_types[0]", "devices", "device")}, connect.CodeInvalidArgument},

		// Nodes that do not exist.
		{"traverse: start", traverseCall(&rdgv1.TraverseRequest{Start: start(ref("account", "m1"), ref("account", "m-999999")),
			Steps: []*rdgv1.Step{step(out, []string{"used"}, nil)}}),
			[]warned{missing("start[1]", "account:m-999999")}, connect.CodeNotFound},
		{"traverse paths: start", traverseCall(&rdgv1.TraverseRequest{Start: start(ref("account", "m-999999")),
			Mode: rdgv1.TraverseMode_TRAVERSE_MODE_PATHS}),
			[]warned{missing("start[0]", "account:m-999999")}, connect.CodeNotFound},
		{"neighbors: node", neighborsCall(&rdgv1.NeighborsRequest{Node: ref("device", "d-0001")}),
			[]warned{missing("node", "device:d-0001")}, connect.CodeNotFound},
		{"path: to", pathCall(&rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m9")}),
			[]warned{missing("to", "account:m9")}, connect.CodeNotFound},
		{"group: node", groupCall(&rdgv1.ConnectedGroupRequest{Node: ref("account", "m9")}),
			[]warned{missing("node", "account:m9")}, connect.CodeNotFound},
	} {
		for pname, c := range protos {
			t.Run(tc.name+"/"+pname, func(t *testing.T) {
				ctx := context.Background()
				got, err := tc.call(ctx, c, false)
				if err != nil {
					t.Fatal(err)
				}
				checkWarnings(t, "answer", got, tc.want)
				_, err = tc.call(ctx, c, true)
				if len(tc.want) == 0 {
					if err != nil {
						t.Errorf("strict: %v", err)
					}
					return
				}
				var ce *connect.Error
				if !errors.As(err, &ce) || ce.Code() != tc.code {
					t.Fatalf("strict: %v, want code %v", err, tc.code)
				}
				if len(got) > 0 && ce.Message() != got[0].GetMessage() {
					t.Errorf("strict: message %q, want the first warning's, %q", ce.Message(), got[0].GetMessage())
				}
			})
		}
	}
}

// TestWarningJSON: the answer a curl user gets carries the warning, with
// the known types, in the API's JSON form.
func TestWarningJSON(t *testing.T) {
	url := startServer(t, serve.NewHandler(openHousehold(t)))
	resp, err := http.Post(url+"/rdg.v1.GraphService/Traverse", "application/json",
		strings.NewReader(`{"start":[{"type":"account","id":"m1"}],"steps":[{"edgeTypes":["whatched"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var got struct {
		Warnings []struct {
			Kind, Field, Message, Type string
			KnownTypes                 []string
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if len(got.Warnings) != 1 {
		t.Fatalf("warnings: %s", b)
	}
	w := got.Warnings[0]
	equal(t, "kind", w.Kind, "WARNING_KIND_UNKNOWN_EDGE_TYPE")
	equal(t, "field", w.Field, "steps[0].edge_types[0]")
	equal(t, "type", w.Type, "whatched")
	equalJSON(t, "known types", w.KnownTypes, []string{"watched", "used", "has_profile"})
	equal(t, "message", w.Message, `steps[0].edge_types[0]: edge type "whatched" has never been stored; known edge types: watched, used, has_profile`)
}

// TestWarningsFollowWrites: a type is known as soon as the write that
// brings it returns, to a server already running.
func TestWarningsFollowWrites(t *testing.T) {
	c, s := householdClient(t)
	ctx := context.Background()
	req := &rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"rated"}}
	m := mustOK(c.Neighbors(ctx, connect.NewRequest(req)))(t)
	checkWarnings(t, "before", m.GetWarnings(), []warned{{kind: rdgv1.WarningKind_WARNING_KIND_UNKNOWN_EDGE_TYPE, field: "edge_types[0]", typ: "rated"}})
	if err := s.Apply(ctx, &graph.Batch{Edges: []graph.Edge{{EdgeRef: graph.EdgeRef{Type: "rated",
		From: graph.NodeRef{Type: "profile", ID: "p1"}, To: graph.NodeRef{Type: "title", ID: "t2"}}, LastSeen: 1}}}); err != nil {
		t.Fatal(err)
	}
	m = mustOK(c.Neighbors(ctx, connect.NewRequest(req)))(t)
	checkWarnings(t, "after", m.GetWarnings(), nil)
}

// TestNoTypeListing: a store that does not list its types gets no type
// warnings, but still says when a node does not exist.
func TestNoTypeListing(t *testing.T) {
	url := startServer(t, serve.NewHandler(struct{ graph.Reader }{openHousehold(t)}))
	c := rdgv1connect.NewGraphServiceClient(http1Client(), url)
	m := mustOK(c.Traverse(context.Background(), connect.NewRequest(&rdgv1.TraverseRequest{
		Start: []*rdgv1.NodeRef{ref("acount", "m1")}, Steps: []*rdgv1.Step{{EdgeTypes: []string{"usd"}}},
	})))(t)
	checkWarnings(t, "traverse", m.GetWarnings(), []warned{{kind: rdgv1.WarningKind_WARNING_KIND_NODE_NOT_FOUND, field: "start[0]", node: "acount:m1"}})
}
