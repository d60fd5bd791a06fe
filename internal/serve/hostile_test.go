package serve_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/serve"
)

// The hostile query requests: what an attacker or a confused client
// sends. Each states the outcome — an HTTP status and Connect error code
// for requests sent as raw HTTP (Connect protocol, JSON or binary), a
// Connect code for gRPC calls — and a fragment of the message, which must
// name what is wrong. They run against a real server over HTTP, on the
// household graph (query_test.go).

// hostileCase is one request. Exactly one of json, raw or grpc is set.
type hostileCase struct {
	name   string
	rpc    string // method of rdg.v1.GraphService, or a path for raw HTTP
	json   string // a Connect JSON body
	raw    []byte // a Connect binary body (application/proto)
	ctype  string // overrides the content type
	method string // overrides POST
	grpc   func(ctx context.Context, c rdgv1connect.GraphServiceClient) error

	status int    // HTTP status (raw HTTP cases)
	code   string // connect code ("ok" for success, "" when the body is not a Connect error)
	msg    string // a fragment of the error message (or of the body)
}

// withUnknown returns m's binary encoding with field num (unknown to m)
// appended.
func withUnknown(m proto.Message, num protowire.Number) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

func refsJSON(n int, typ string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":%q,"id":"n%d"}`, typ, i)
	}
	return b.String()
}

func hostileCases(cursor, otherCursor string) []hostileCase {
	m1 := `{"type":"account","id":"m1"}`
	nb := func(extra string) string { return `{"node":` + m1 + extra + `}` }
	tr := func(extra string) string { return `{"start":[` + m1 + `]` + extra + `}` }
	pred := func(p string) string { return tr(`,"steps":[{"nodePredicates":[` + p + `]}]`) }
	rawCursor, _ := base64.RawURLEncoding.DecodeString(cursor)
	unknownStep := &rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m1")}, Steps: []*rdgv1.Step{{}}}
	unknownStep.Steps[0].ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 77, protowire.VarintType), 1))
	manyPreds := make([]string, 33)
	for i := range manyPreds {
		manyPreds[i] = `{"field":"x","op":"OP_EQ","value":{"intValue":"1"}}`
	}
	const bad = 400
	return []hostileCase{
		// Fields and enums the server does not know.
		{name: "typo'd filter edgeType", rpc: "Neighbors", json: nb(`,"edgeType":["used"]`), status: bad, code: "invalid_argument", msg: `unknown field "edgeType"`},
		{name: "typo'd traverse field maxNode", rpc: "Traverse", json: tr(`,"maxNode":5`), status: bad, code: "invalid_argument", msg: `unknown field "maxNode"`},
		{name: "unknown field in a step", rpc: "Traverse", json: tr(`,"steps":[{"edgeType":["used"]}]`), status: bad, code: "invalid_argument", msg: `unknown field "edgeType"`},
		{name: "unknown field in limits", rpc: "Traverse", json: tr(`,"limits":{"maxVisit":10}`), status: bad, code: "invalid_argument", msg: `unknown field "maxVisit"`},
		{name: "unknown direction name", rpc: "Neighbors", json: nb(`,"direction":"SIDEWAYS"`), status: bad, code: "invalid_argument", msg: `direction: "SIDEWAYS"`},
		{name: "unknown step direction name", rpc: "Traverse", json: tr(`,"steps":[{"direction":"DIRECTION_UP"}]`), status: bad, code: "invalid_argument", msg: `"DIRECTION_UP"`},
		{name: "unknown direction number", rpc: "Neighbors", json: nb(`,"direction":7`), status: bad, code: "invalid_argument", msg: "direction: unknown direction 7"},
		{name: "unknown mode name", rpc: "Traverse", json: tr(`,"mode":"TRAVERSE_MODE_ALL"`), status: bad, code: "invalid_argument", msg: `"TRAVERSE_MODE_ALL"`},
		{name: "unknown op name", rpc: "Traverse", json: pred(`{"field":"platform","op":"GT","value":{"stringValue":"a"}}`), status: bad, code: "invalid_argument", msg: `"GT"`},
		{name: "OP_UNSPECIFIED", rpc: "Traverse", json: pred(`{"field":"platform","op":"OP_UNSPECIFIED","value":{"stringValue":"ios"}}`), status: bad, code: "invalid_argument", msg: "steps[0].node_predicates[0].op: required"},
		{name: "op left out", rpc: "Traverse", json: pred(`{"field":"platform","value":{"stringValue":"ios"}}`), status: bad, code: "invalid_argument", msg: "steps[0].node_predicates[0].op: required"},
		{name: "binary: unknown field", rpc: "Neighbors", raw: withUnknown(&rdgv1.NeighborsRequest{Node: ref("account", "m1")}, 99), status: bad, code: "invalid_argument", msg: "request: unknown field number 99"},
		{name: "binary: unknown field in a step", rpc: "Traverse", raw: mustMarshal(unknownStep), status: bad, code: "invalid_argument", msg: "steps[0]: unknown field number 77"},

		// Wrong types and malformed bodies.
		{name: "string for a number", rpc: "Neighbors", json: nb(`,"limit":"ten"`), status: bad, code: "invalid_argument", msg: `limit: "ten"`},
		{name: "number for a string", rpc: "Neighbors", json: `{"node":{"type":"account","id":5}}`, status: bad, code: "invalid_argument", msg: "string field id"},
		{name: "object for a list", rpc: "Traverse", json: `{"start":` + m1 + `}`, status: bad, code: "invalid_argument", msg: "(line 1:10): unexpected token {"},
		{name: "duplicate field", rpc: "Neighbors", json: nb(`,"limit":1,"limit":2`), status: bad, code: "invalid_argument", msg: `duplicate field "limit"`},
		{name: "int64 out of range", rpc: "Neighbors", json: nb(`,"sinceMs":"1e30"`), status: bad, code: "invalid_argument", msg: "sinceMs"},
		{name: "not JSON", rpc: "Neighbors", json: `{"node":`, status: bad, code: "invalid_argument", msg: "unexpected EOF"},
		{name: "a JSON array", rpc: "Neighbors", json: `[]`, status: bad, code: "invalid_argument", msg: "syntax error"},
		{name: "empty JSON body", rpc: "Neighbors", json: "", status: bad, code: "invalid_argument", msg: "empty body"},
		{name: "binary garbage", rpc: "Neighbors", raw: []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, status: bad, code: "invalid_argument", msg: "unmarshal"},
		{name: "null node", rpc: "Neighbors", json: `{"node":null}`, status: bad, code: "invalid_argument", msg: "node: required"},

		// Limits: huge, negative, zero.
		{name: "negative uint32 limit", rpc: "Neighbors", json: nb(`,"limit":-1`), status: bad, code: "invalid_argument", msg: "limit: -1"},
		{name: "limit beyond uint32", rpc: "Neighbors", json: nb(`,"limit":4294967296`), status: bad, code: "invalid_argument", msg: "4294967296"},
		{name: "negative max_visited", rpc: "Traverse", json: tr(`,"limits":{"maxVisited":-1}`), status: bad, code: "invalid_argument", msg: "limits.max_visited: -1 is negative"},
		{name: "negative deadline", rpc: "ShortestPath", json: `{"from":` + m1 + `,"to":` + m1 + `,"limits":{"deadlineMs":-5}}`, status: bad, code: "invalid_argument", msg: "limits.deadline_ms: -5 is negative"},
		{name: "huge limits are lowered", rpc: "Traverse", json: tr(`,"depth":100,"maxNodes":4294967295,"maxEdges":4294967295,"limits":{"maxVisited":2147483647,"maxResults":2147483647,"maxFanout":2147483647,"deadlineMs":2147483647}`), status: 200, code: "ok", msg: `"nodes"`},
		{name: "huge page size is lowered", rpc: "Neighbors", json: nb(`,"limit":4294967295`), status: 200, code: "ok", msg: `"neighbors"`},
		{name: "zero limits mean defaults", rpc: "Traverse", json: tr(`,"maxNodes":0,"maxEdges":0,"limits":{"maxVisited":0,"maxResults":0,"maxFanout":0,"deadlineMs":0}`), status: 200, code: "ok", msg: `"depths"`},
		{name: "depth beyond the maximum", rpc: "Traverse", json: tr(`,"depth":101`), status: bad, code: "invalid_argument", msg: "depth: 101 is more than the server's maximum of 100"},
		{name: "depth at uint32 max", rpc: "Traverse", json: tr(`,"depth":4294967295`), status: bad, code: "invalid_argument", msg: "depth: 4294967295"},
		{name: "path depth beyond the maximum", rpc: "ShortestPath", json: `{"from":` + m1 + `,"to":` + m1 + `,"maxDepth":21}`, status: bad, code: "invalid_argument", msg: "max_depth: 21"},
		{name: "stats top_k beyond the maximum", rpc: "Stats", json: `{"topK":101}`, status: bad, code: "invalid_argument", msg: "top_k: 101"},

		// Sizes: start lists, refs, steps, predicates, ids, bodies.
		{name: "enormous start list", rpc: "Traverse", json: `{"start":[` + refsJSON(1001, "account") + `]}`, status: bad, code: "invalid_argument", msg: "start: 1001 start nodes, more than the server's maximum of 1000"},
		{name: "empty start list", rpc: "Traverse", json: `{"start":[]}`, status: bad, code: "invalid_argument", msg: "start: at least one start node is required"},
		{name: "too many refs", rpc: "GetNodes", json: `{"refs":[` + refsJSON(1001, "account") + `]}`, status: bad, code: "invalid_argument", msg: "refs: 1001 refs"},
		{name: "too many steps", rpc: "Traverse", json: tr(`,"steps":[` + strings.Repeat(`{},`, 100) + `{}]`), status: bad, code: "invalid_argument", msg: "steps: 101 steps"},
		{name: "too many predicates", rpc: "Traverse", json: pred(strings.Join(manyPreds, ",")), status: bad, code: "invalid_argument", msg: "33 predicates"},
		{name: "empty id", rpc: "Neighbors", json: `{"node":{"type":"account","id":""}}`, status: bad, code: "invalid_argument", msg: "node.id: empty id"},
		{name: "giant id", rpc: "Neighbors", json: `{"node":{"type":"account","id":"` + strings.Repeat("x", 5000) + `"}}`, status: bad, code: "invalid_argument", msg: "node.id: 5000 bytes"},
		{name: "empty type", rpc: "GetNodes", json: `{"refs":[{"type":"","id":"x"}]}`, status: bad, code: "invalid_argument", msg: "refs[0].type: empty type name"},
		{name: "malformed type", rpc: "Neighbors", json: `{"node":{"type":"Account!","id":"x"}}`, status: bad, code: "invalid_argument", msg: "node.type"},
		{name: "giant type", rpc: "Neighbors", json: `{"node":{"type":"` + strings.Repeat("a", 200) + `","id":"x"}}`, status: bad, code: "invalid_argument", msg: "longer than"},
		{name: "unknown node type gets a warning", rpc: "Neighbors", json: `{"node":{"type":"spaceship","id":"x"}}`, status: 200, code: "ok", msg: `has never been stored; known node types: `},
		{name: "unknown node type, strict", rpc: "Neighbors", json: `{"node":{"type":"spaceship","id":"x"},"strict":true}`, status: bad, code: "invalid_argument", msg: `node.type: node type "spaceship" has never been stored; known node types: `},
		{name: "node that does not exist, strict", rpc: "Neighbors", json: `{"node":{"type":"device","id":"nope"},"strict":true}`, status: http.StatusNotFound, code: "not_found", msg: `node device:nope does not exist`},
		{name: "body over the maximum", rpc: "Neighbors", json: nb(`,"edgeTypes":["` + strings.Repeat("a", 5<<20) + `"]`), status: http.StatusTooManyRequests, code: "resource_exhausted", msg: "larger than configured max"},
		{name: "since after until", rpc: "Neighbors", json: nb(`,"sinceMs":"9","untilMs":"1"`), status: bad, code: "invalid_argument", msg: "since_ms: 9 is after until_ms 1"},

		// Bad cursors.
		{name: "cursor: base64 garbage", rpc: "Neighbors", json: nb(`,"cursor":"!!!not base64!!!"`), status: bad, code: "invalid_argument", msg: "cursor: malformed cursor"},
		{name: "cursor: forged", rpc: "Neighbors", json: nb(`,"cursor":"` + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 40)) + `"`), status: bad, code: "invalid_argument", msg: "cursor: belongs to another listing"},
		{name: "cursor: forged with the listing's fingerprint", rpc: "Neighbors", json: nb(`,"cursor":"` + base64.RawURLEncoding.EncodeToString(append(rawCursor[:9:9], 7, 0, 0, 0, 0, 0, 0)) + `"`), status: bad, code: "invalid_argument", msg: "cursor: malformed cursor"},
		{name: "cursor: truncated", rpc: "Neighbors", json: nb(`,"cursor":"` + cursor[:len(cursor)-3] + `"`), status: bad, code: "invalid_argument", msg: "cursor: malformed cursor"},
		{name: "cursor: trailing bytes", rpc: "Neighbors", json: nb(`,"cursor":"` + base64.RawURLEncoding.EncodeToString(append(rawCursor, 0)) + `"`), status: bad, code: "invalid_argument", msg: "cursor: malformed cursor"},
		{name: "cursor: from another query", rpc: "Neighbors", json: nb(`,"cursor":"` + otherCursor + `"`), status: bad, code: "invalid_argument", msg: "cursor: belongs to another listing"},
		{name: "cursor: another direction", rpc: "Neighbors", json: nb(`,"direction":"DIRECTION_IN","cursor":"` + cursor + `"`), status: bad, code: "invalid_argument", msg: "cursor: belongs to another listing"},

		// Bombs that the limits bound: answered, cut short.
		{name: "deep traversal", rpc: "Traverse", json: tr(`,"depth":100,"steps":[{"direction":"DIRECTION_BOTH"}]`), status: 200, code: "ok", msg: `"depths"`},
		{name: "fan-out bomb", rpc: "Traverse", json: tr(`,"depth":100,"steps":[{"direction":"DIRECTION_BOTH"}],"maxNodes":100000,"maxEdges":1000000,"limits":{"maxFanout":100000,"maxVisited":1000000}`), status: 200, code: "ok", msg: `"depths"`},

		// Content types, methods, paths.
		{name: "text/plain", rpc: "Neighbors", json: nb(""), ctype: "text/plain", status: http.StatusUnsupportedMediaType},
		{name: "application/xml", rpc: "Neighbors", json: "<node/>", ctype: "application/xml", status: http.StatusUnsupportedMediaType},
		{name: "GET with a garbage message", rpc: "Neighbors?encoding=json&message=%7Bnope", method: http.MethodGet, status: bad, code: "invalid_argument", msg: "unmarshal"},
		{name: "PUT", rpc: "Neighbors", json: nb(""), method: http.MethodPut, status: http.StatusMethodNotAllowed},
		{name: "unknown RPC", rpc: "DropGraph", json: `{}`, status: http.StatusNotFound},

		// gRPC.
		{name: "grpc: unknown field", grpc: func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
			req := &rdgv1.NeighborsRequest{Node: ref("account", "m1")}
			req.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 42, protowire.VarintType), 3))
			_, err := c.Neighbors(ctx, connect.NewRequest(req))
			return err
		}, code: "invalid_argument", msg: "request: unknown field number 42"},
		{name: "grpc: unknown direction number", grpc: func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1"), Direction: 12}))
			return err
		}, code: "invalid_argument", msg: "direction: unknown direction 12"},
		{name: "grpc: OP_UNSPECIFIED", grpc: func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m1")},
				Steps: []*rdgv1.Step{{EdgePredicates: []*rdgv1.Predicate{{Field: "rating"}}}}}))
			return err
		}, code: "invalid_argument", msg: "steps[0].edge_predicates[0].op: required"},
		{name: "grpc: negative fan-out", grpc: func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
			_, err := c.ConnectedGroup(ctx, connect.NewRequest(&rdgv1.ConnectedGroupRequest{Node: ref("account", "m1"), Limits: &rdgv1.QueryLimits{MaxFanout: -1}}))
			return err
		}, code: "invalid_argument", msg: "limits.max_fanout: -1 is negative"},
		{name: "grpc: enormous start list", grpc: func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
			start := make([]*rdgv1.NodeRef, 5000)
			for i := range start {
				start[i] = ref("account", fmt.Sprint(i))
			}
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: start}))
			return err
		}, code: "invalid_argument", msg: "start: 5000 start nodes"},
		{name: "grpc: body over the maximum", grpc: func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
			_, err := c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", strings.Repeat("x", 5<<20))}))
			return err
		}, code: "resource_exhausted", msg: "larger than configured max"},
		{name: "grpc: huge limits are lowered", grpc: func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
			_, err := c.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m1")}, Depth: 100, MaxNodes: 1 << 31, MaxEdges: 1 << 31,
				Limits: &rdgv1.QueryLimits{MaxVisited: 1<<31 - 1, MaxResults: 1<<31 - 1, MaxFanout: 1<<31 - 1, DeadlineMs: 1<<31 - 1}}))
			return err
		}, code: "ok"},
		{name: "grpc: empty id in a path", grpc: func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
			_, err := c.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "")}))
			return err
		}, code: "invalid_argument", msg: "to.id: empty id"},
	}
}

func TestHostileQueries(t *testing.T) {
	s := openHousehold(t)
	url := startServer(t, serve.NewHandler(s))
	h1, h2 := http1Client(), h2cClient()
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	ctx := context.Background()
	c := rdgv1connect.NewGraphServiceClient(h1, url)
	first := mustOK(c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m1"), Limit: 1})))(t)
	other := mustOK(c.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: ref("account", "m2"), Limit: 1})))(t)
	if first.GetNextCursor() == "" || other.GetNextCursor() == "" {
		t.Fatal("no cursors to tamper with")
	}
	grpc := rdgv1connect.NewGraphServiceClient(h2, url, connect.WithGRPC(), connect.WithSendMaxBytes(8<<20))

	for _, tc := range hostileCases(first.GetNextCursor(), other.GetNextCursor()) {
		t.Run(tc.name, func(t *testing.T) {
			if tc.grpc != nil {
				err := tc.grpc(ctx, grpc)
				code := "ok"
				if err != nil {
					code = connect.CodeOf(err).String()
				}
				if code != tc.code {
					t.Fatalf("got %s (%v), want %s", code, err, tc.code)
				}
				var ce *connect.Error
				if errors.As(err, &ce) && !strings.Contains(ce.Message(), tc.msg) {
					t.Errorf("message %q does not say %q", ce.Message(), tc.msg)
				}
				return
			}
			method, body, ctype := http.MethodPost, io.Reader(strings.NewReader(tc.json)), "application/json"
			if tc.raw != nil {
				body, ctype = bytes.NewReader(tc.raw), "application/proto"
			}
			if tc.ctype != "" {
				ctype = tc.ctype
			}
			if tc.method != "" {
				method = tc.method
			}
			if method == http.MethodGet {
				body = nil
			}
			req, err := http.NewRequest(method, url+"/rdg.v1.GraphService/"+tc.rpc, body)
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req.Header.Set("Content-Type", ctype)
			}
			resp, err := h1.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, b)
			}
			switch tc.code {
			case "":
			case "ok":
				if !strings.Contains(string(b), tc.msg) {
					t.Errorf("answer %.300q does not contain %q", b, tc.msg)
				}
			default:
				var ce struct{ Code, Message string }
				if err := json.Unmarshal(b, &ce); err != nil {
					t.Fatalf("not a Connect error: %v: %.300s", err, b)
				}
				if ce.Code != tc.code || !strings.Contains(ce.Message, tc.msg) {
					t.Errorf("got %s %q, want %s mentioning %q", ce.Code, ce.Message, tc.code, tc.msg)
				}
			}
		})
	}
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
