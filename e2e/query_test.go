package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/demo"
)

// TestQueryCLI drives `rdg query` (the built binary) against an in-process
// stack fed with the seed scenario: member m-cli on a phone, a TV and a
// tablet, and member m-cli2 who shares the TV.
func TestQueryCLI(t *testing.T) {
	st := startStack(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs"))
	cl := st.producer(t)
	if err := demo.EnsureTopics(context.Background(), kadm.NewClient(cl), 3); err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	login := func(s int, m, dev, typ string) {
		p.produce(demo.TopicLogins, demo.LoginSchema, m, &demo.Login{EventID: "e-login-" + m + dev, EventTs: at(s),
			MemberID: m, ProfileID: "p-" + m, DeviceID: dev, DeviceType: typ, Country: "NL"})
	}
	ep := "t-cli-s1e1"
	login(0, "m-cli", "d-phone", "phone")
	p.produce(demo.TopicPlayback, demo.PlaybackSchema, "m-cli", &demo.Playback{EventID: "e-play", EventTs: at(1),
		MemberID: "m-cli", ProfileID: "p-m-cli", DeviceID: "d-phone", TitleID: "t-cli", EpisodeID: &ep, PositionMs: 1000, EventType: demo.PlayStart})
	login(20, "m-cli", "d-tv", "tv")
	login(40, "m-cli", "d-tablet", "tablet")
	login(50, "m-cli2", "d-tv", "tv")

	await(t, 10*time.Second, func() (bool, string) {
		r, err := st.api.ConnectedGroup(context.Background(), connect.NewRequest(&rdgv1.ConnectedGroupRequest{
			Node: &rdgv1.NodeRef{Type: "device", Id: "d-tv"}, EdgeTypes: []string{"uses"},
		}))
		if err != nil {
			return false, err.Error()
		}
		if r.Msg.GetSize() < 5 {
			return false, "group of d-tv has " + strings.Join(nodeNames(r.Msg.GetNodes()), " ")
		}
		r2, err := st.api.Traverse(context.Background(), connect.NewRequest(&rdgv1.TraverseRequest{
			Start: []*rdgv1.NodeRef{{Type: "account", Id: "m-cli"}}, Depth: 2,
			Steps: []*rdgv1.Step{{EdgeTypes: []string{"watched"}}, {EdgeTypes: []string{"episode_of"}}},
		}))
		if err != nil {
			return false, err.Error()
		}
		if !slices.Contains(nodeNames(r2.Msg.GetNodes()), "title:t-cli") {
			return false, "playback not in yet"
		}
		return true, ""
	})

	bin := rdgBinary(t)
	query := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"query", "--server", st.APIURL()}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	ok := func(args ...string) string {
		t.Helper()
		out, err := query(args...)
		if err != nil {
			t.Fatalf("rdg query %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	contains := func(what, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", what, w, out)
			}
		}
	}

	out := ok("nodes", "account:m-cli", "device:d-tv", "device:nope")
	contains("nodes", out, "NODE", "account:m-cli", "country=NL", "device:d-tv", "device_type=tv", "device:nope", "(not found)")

	out = ok("neighbors", "account:m-cli", "--edge-types", "uses")
	contains("neighbors", out, "uses", "device:d-phone", "device:d-tablet", "device:d-tv", "3 neighbours")

	// Paging: one at a time, by hand and with --all.
	var page struct {
		Neighbors  []json.RawMessage `json:"neighbors"`
		NextCursor string            `json:"nextCursor"`
		Partial    bool              `json:"partial"`
		LimitHit   string            `json:"limitHit"`
	}
	if err := json.Unmarshal([]byte(ok("neighbors", "account:m-cli", "--edge-types", "uses", "--limit", "1", "--json")), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Neighbors) != 1 || page.NextCursor == "" || !page.Partial || page.LimitHit != "LIMIT_MAX_RESULTS" {
		t.Errorf("first page: %+v", page)
	}
	out = ok("neighbors", "account:m-cli", "--edge-types", "uses", "--limit", "1", "--cursor", page.NextCursor)
	contains("second page", out, "device:d-tablet", "1 neighbours", "next page: --cursor")
	page.NextCursor, page.Neighbors = "", nil // absent from the JSON when empty
	if err := json.Unmarshal([]byte(ok("neighbors", "account:m-cli", "--edge-types", "uses", "--limit", "1", "--all", "--json")), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Neighbors) != 3 || page.NextCursor != "" {
		t.Errorf("--all: %d neighbours, cursor %q", len(page.Neighbors), page.NextCursor)
	}

	out = ok("traverse", "account:m-cli", "--step", "out edges=uses nodes=device node.device_type!=phone")
	contains("traverse", out, "device:d-tv", "device:d-tablet", "3 nodes, 2 edges")
	if strings.Contains(out, "d-phone") {
		t.Errorf("traverse: the predicate let the phone through:\n%s", out)
	}
	out = ok("traverse", "account:m-cli", "--step", "out edges=watched nodes=episode", "--step", "out edges=episode_of", "--mode", "paths")
	contains("traverse paths", out, "account:m-cli -watched-> episode:t-cli-s1e1 -episode_of-> title:t-cli", "1 paths")

	out = ok("path", "account:m-cli", "account:m-cli2", "--dir", "both", "--edge-types", "uses")
	contains("path", out, "account:m-cli -uses-> device:d-tv <-uses- account:m-cli2", "2 hops")
	out = ok("path", "account:m-cli", "account:m-cli2", "--edge-types", "uses")
	contains("directed path", out, "no path found")

	out = ok("group", "device:d-tv", "--edge-types", "uses")
	contains("group", out, "account:m-cli2", "device:d-phone", "group of 5 nodes, 4 edges")
	out = ok("group", "device:d-tv", "--edge-types", "uses", "--limit", "2")
	contains("limited group", out, "group of 2 nodes", "(partial: limit max_results reached)")

	var stats struct {
		NodeTypes []struct {
			Type  string `json:"type"`
			Count string `json:"count"`
		} `json:"nodeTypes"`
	}
	if err := json.Unmarshal([]byte(ok("stats", "--json")), &stats); err != nil {
		t.Fatal(err)
	}
	counts := map[string]string{}
	for _, c := range stats.NodeTypes {
		counts[c.Type] = c.Count
	}
	if counts["account"] != "2" || counts["device"] != "3" {
		t.Errorf("stats counts %v", counts)
	}
	out = ok("stats", "--top", "1", "--node-types", "device")
	contains("stats", out, "node", "account", "device", "device:d-tv", "computed at")

	// Errors name what is wrong and fail the command.
	out, err := query("neighbors", "account:m-cli", "--limit", "5", "--max-visited", "-1")
	// The client refuses it before asking; the server's own refusal
	// (limits.max_visited: -1 is negative) is in serve's hostile-query suite.
	if err == nil || !strings.Contains(out, "--max-visited -1: want 0 or more") {
		t.Errorf("negative limit: %v\n%s", err, out)
	}
	out, err = query("neighbors", "Account:x")
	if err == nil || !strings.Contains(out, "lower-case") {
		t.Errorf("bad type: %v\n%s", err, out)
	}
	out, err = query("traverse", "account:m-cli", "--step", "sideways")
	if err == nil || !strings.Contains(out, "--step 1") {
		t.Errorf("bad step: %v\n%s", err, out)
	}
}

func nodeNames(ns []*rdgv1.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.GetType()+":"+n.GetId())
	}
	return out
}
