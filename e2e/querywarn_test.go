package e2e

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/store"
)

// TestQueryWarningsCLI runs `rdg query` (the built binary) against a served
// Pebble store and checks what a person who misspells a type or a node id
// sees: a warning on stderr naming the known types, closest first, and exit
// 0; with --strict the same message as the error and exit 1; and in --json
// the warning in the answer.
func TestQueryWarningsCLI(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Sync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ref := func(s string) graph.NodeRef { r, _ := graph.ParseNodeRef(s); return r }
	edge := func(typ, from, to string) graph.Edge {
		return graph.Edge{EdgeRef: graph.EdgeRef{Type: typ, From: ref(from), To: ref(to)}, FirstSeen: 1, LastSeen: 1}
	}
	if err := st.Apply(context.Background(), &graph.Batch{
		Nodes: []graph.Node{{NodeRef: ref("account:m-000001"), FirstSeen: 1, LastSeen: 1}},
		Edges: []graph.Edge{
			edge("uses", "account:m-000001", "device:d-1"),
			edge("has_profile", "account:m-000001", "profile:p-1"),
			edge("watched", "profile:p-1", "title:t-1"),
		},
	}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve.Serve(ctx, ln, serve.NewHandler(st)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		return execRdg(t, "", "", append([]string{"query", "--server", "http://" + ln.Addr().String()}, args...)...)
	}
	expect := func(what, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, out)
			}
		}
	}

	typo := `steps[0].edge_types[0]: edge type "used" has never been stored; known edge types: uses, watched, has_profile`
	out, errOut, code := run("traverse", "account:m-000001", "--step", "out edges=used")
	if code != 0 {
		t.Errorf("unknown edge type: exit %d\n%s", code, errOut)
	}
	expect("stderr", errOut, "warning: "+typo)
	expect("stdout", out, "account:m-000001", "1 nodes, 0 edges")

	out, errOut, code = run("traverse", "account:m-000001", "--step", "out edges=used", "--strict")
	if code != 1 {
		t.Errorf("unknown edge type, --strict: exit %d", code)
	}
	expect("stderr with --strict", errOut, "invalid_argument: "+typo)
	if out != "" {
		t.Errorf("--strict failure printed on stdout: %q", out)
	}

	out, errOut, code = run("traverse", "account:m-999999", "--step", "out edges=uses")
	if code != 0 {
		t.Errorf("missing start node: exit %d\n%s", code, errOut)
	}
	expect("stderr", errOut, "warning: start node account:m-999999 does not exist")
	expect("stdout", out, "0 nodes, 0 edges")
	if strings.Contains(out, "m-999999") {
		t.Errorf("the missing start node is listed as found:\n%s", out)
	}
	_, errOut, code = run("traverse", "account:m-999999", "--step", "out edges=uses", "--strict")
	if code != 1 {
		t.Errorf("missing start node, --strict: exit %d", code)
	}
	expect("stderr with --strict", errOut, "not_found: start node account:m-999999 does not exist")

	_, errOut, _ = run("neighbors", "acount:m-000001", "--node-types", "devices")
	expect("neighbors stderr", errOut,
		`warning: node.type: node type "acount" has never been stored; known node types: account, `,
		`warning: node_types[0]: node type "devices" has never been stored; known node types: device, `)

	out, _, code = run("neighbors", "account:m-000001", "--edge-types", "use", "--json")
	var res struct {
		Warnings []struct {
			Kind       string
			Type       string
			KnownTypes []string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Kind != "WARNING_KIND_UNKNOWN_EDGE_TYPE" || res.Warnings[0].Type != "use" ||
		len(res.Warnings[0].KnownTypes) != 3 || res.Warnings[0].KnownTypes[0] != "uses" {
		t.Errorf("--json warnings: %+v", res.Warnings)
	}

	// A right question gets no warning.
	_, errOut, code = run("traverse", "account:m-000001", "--step", "out edges=has_profile", "--step", "out edges=watched", "--strict")
	if code != 0 || errOut != "" {
		t.Errorf("valid traversal: exit %d, stderr %q", code, errOut)
	}
}
