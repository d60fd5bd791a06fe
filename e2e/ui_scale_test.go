package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// scaleEvents is how much demo history TestExplorerAtScale produces: with
// 200 members, about what `rdg up --demo` gives each of its 1,000 members
// in 15 minutes (1,000 events a second): enough that the busiest members
// have several times 50 neighbours, the listing size the test sets so that
// a group spans several listings.
const scaleEvents = 180_000

// TestExplorerAtScale drives the explorer in headless Chromium against the
// demo world once its members have far more neighbours than fit on a
// screen: the busiest member's neighbourhood must be drawn as groups (one
// group node per large edge type, labelled with the size the API gives),
// a group must open a page at a time and page through to its end, every
// node and edge type must have a colour of its own, labels must not
// overlap, edges must be labelled only under the pointer, the query box
// must draw what Traverse answers, and the console must stay clean (no
// Content-Security-Policy violation). The screenshot of the grouped
// neighbourhood is kept under $RDG_ARTIFACTS.
func TestExplorerAtScale(t *testing.T) {
	chromium, driver := findChromium(t)
	st := startStack(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs"))
	ctx := context.Background()
	cl := st.producer(t)
	adm := kadm.NewClient(cl)
	if err := demo.EnsureTopics(ctx, adm, 3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cfg := demo.Config{Seed: 1, Members: 200, Rate: -1, Count: scaleEvents, Start: time.Now().Add(-time.Hour).Truncate(time.Millisecond)}
	if _, err := demo.Run(ctx, cl, st.Registry(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	groups := []string{jobrun.Group("logins"), jobrun.Group("playback"), jobrun.Group("games"), "rdg-store-default"}
	await(t, 3*time.Minute, func() (bool, string) {
		lags, err := adm.Lag(ctx, groups...)
		if err != nil {
			return false, err.Error()
		}
		var msg []string
		done := true
		for _, g := range groups {
			l, ok := lags[g]
			if !ok || l.Error() != nil || len(l.Lag) == 0 || l.Lag.Total() != 0 {
				done = false
				if ok && l.Error() == nil {
					msg = append(msg, fmt.Sprintf("%s lag %d", g, l.Lag.Total()))
				} else {
					msg = append(msg, g+" not consuming yet")
				}
			}
		}
		return done, strings.Join(msg, ", ")
	})
	t.Logf("%d demo events produced and stored in %s", scaleEvents, time.Since(start).Round(time.Millisecond))

	// The busiest member, and its neighbours as the API lists them.
	stats, err := st.api.Stats(ctx, connect.NewRequest(&rdgv1.StatsRequest{TopK: 1, NodeTypes: []string{"account"}}))
	if err != nil {
		t.Fatal(err)
	}
	var member string
	for _, td := range stats.Msg.GetTopDegree() {
		if td.GetNodeType() == "account" && len(td.GetNodes()) > 0 {
			member = td.GetNodes()[0].GetNode().GetId()
		}
	}
	all := allNeighbors(t, st, "account", member)
	kindOf := func(nb *rdgv1.Neighbor) string { // "watched → title", "uses ← account"
		arrow := " ← "
		if nb.GetEdge().GetFrom().GetType() == "account" && nb.GetEdge().GetFrom().GetId() == member {
			arrow = " → "
		}
		return nb.GetEdge().GetType() + arrow + nb.GetNode().GetType()
	}
	perGroup := map[string]int{}
	for _, nb := range all {
		perGroup[kindOf(nb)]++
	}
	t.Logf("account:%s has %d neighbours: %v", member, len(all), perGroup)
	if len(all) <= 50 {
		t.Fatalf("account:%s, the busiest member, has %d neighbours: the test needs more than 50", member, len(all))
	}

	wd := startWebDriver(t, driver, chromium)
	opened := time.Now()
	wd.navigate(st.APIURL() + "/ui/#account/" + member)
	wd.waitFor("the explorer to load", `return !!window.__rdg && window.__rdg.root !== null`)
	wd.waitIdle()
	t.Logf("page loaded and account:%s's groups drawn in %s", member, time.Since(opened).Round(time.Millisecond))
	if e := wd.eval(`return window.__rdg.lastError`); e != "" {
		t.Fatalf("explorer error: %v", e)
	}

	// Grouped: every group of more than 8 is one group node labelled with
	// its size (exact up to the 200 one listing counts), the rest are drawn.
	type group struct {
		ID, Label, Owner, Dir, Etype, Ntype string
		Known, Shown                        int
		Complete                            bool
	}
	drawnGroups := func() map[string]group {
		out := map[string]group{}
		for _, v := range wd.eval(`return window.__rdg.groups()`).([]any) {
			m := v.(map[string]any)
			g := group{ID: m["id"].(string), Label: m["label"].(string), Owner: m["owner"].(string), Dir: m["dir"].(string),
				Etype: m["etype"].(string), Ntype: m["ntype"].(string), Known: int(m["known"].(float64)), Shown: int(m["shown"].(float64)),
				Complete: m["complete"].(bool)}
			arrow := " → "
			if g.Dir == "in" {
				arrow = " ← "
			}
			out[g.Etype+arrow+g.Ntype] = g
		}
		return out
	}
	gs := drawnGroups()
	wantDrawn := 1
	for kind, n := range perGroup {
		g, ok := gs[kind]
		if n <= 8 {
			wantDrawn += n
			if ok {
				t.Errorf("%d %s: a group node %q, want its members drawn", n, kind, g.Label)
			}
			continue
		}
		want := fmt.Sprintf("%d %s", n, kind)
		if n > 200 {
			want = fmt.Sprintf("200+ %s", kind)
		}
		if !ok || g.Label != want {
			t.Errorf("%d %s: group node %+v, want one labelled %q", n, kind, g, want)
		}
	}
	if len(gs) == 0 {
		t.Fatalf("no group nodes for account:%s's %d neighbours: %v", member, len(all), perGroup)
	}
	if got := wd.drawnNodes(); len(got) != wantDrawn {
		t.Errorf("%d nodes drawn besides the groups, want %d (the member and its small groups): %v", len(got), wantDrawn, got)
	}
	checkReadable(t, wd)

	// The largest group opens a page (20) at a time.
	var big group
	for _, g := range gs {
		if g.Known > big.Known {
			big = g
		}
	}
	kind := big.Etype + " → " + big.Ntype
	if big.Dir == "in" {
		kind = big.Etype + " ← " + big.Ntype
	}
	before := len(wd.drawnNodes())
	wd.clickDrawn(big.ID)
	wd.waitFor("the group to open", fmt.Sprintf(`return !window.__rdg.busy && window.__rdg.groups().some(g => g.id === %q && g.shown === 20)`, big.ID))
	if got := len(wd.drawnNodes()); got < before+1 || got > before+20 {
		t.Errorf("after opening %s: %d nodes drawn, had %d, want up to 20 more", kind, got, before)
	}
	g := drawnGroups()[kind]
	if want := regexp.MustCompile(`^\d+\+? more ` + regexp.QuoteMeta(kind) + `$`); !want.MatchString(g.Label) {
		t.Errorf("opened group labelled %q, want %s", g.Label, want)
	}
	// Many edges now: only those under the pointer show their type.
	wd.moveTo(1, 1)
	if n := wd.eval(`return window.__rdg.labelledEdges()`); n != 0.0 {
		t.Errorf("%v edges labelled in a large graph, want none until hovered", n)
	}
	x, y := wd.drawnAt(big.ID + "|edge")
	wd.moveTo(x, y)
	wd.waitFor("the hovered edge's label", `return window.__rdg.labelledEdges() > 0`)
	wd.moveTo(1, 1)
	checkReadable(t, wd)
	wd.eval(`document.getElementById("fit").click()`)
	wd.saveScreenshot("explorer-at-scale.png")

	// Paging to the end draws exactly the group's members. With listings of
	// 50 instead of 200 the group is larger than one listing, says so, and
	// pages on with the API's cursor.
	var members []string
	for _, nb := range all {
		if kindOf(nb) == kind {
			members = append(members, nb.GetNode().GetType()+":"+nb.GetNode().GetId())
		}
	}
	wd.eval(`window.__rdg.listingSize(50); window.__rdg.search("account", arguments[0])`, member)
	wd.waitIdle()
	if g, want := drawnGroups()[kind], fmt.Sprintf("50+ %s", kind); len(members) > 50 && g.Label != want {
		t.Errorf("with listings of 50, group %+v, want it labelled %q", g, want)
	}
	wd.eval(`document.getElementById("page").value = "40"`)
	for i := 0; ; i++ {
		g, ok := drawnGroups()[kind]
		if !ok {
			break
		}
		if i > len(members)/40+1 {
			t.Fatalf("group %s still drawn after %d pages: %+v", kind, i, g)
		}
		wd.eval(`window.__rdg.openGroup(arguments[0])`, g.ID)
		wd.waitIdle()
	}
	drawn := wd.drawnNodes()
	for _, m := range members {
		if !slices.Contains(drawn, m) {
			t.Errorf("group %s paged to its end, but %s is not drawn", kind, m)
		}
	}
	t.Logf("group %s: %d members, all drawn after paging", kind, len(members))

	// The query box draws what Traverse answers.
	query := "account:" + member + " out edges=has_profile | out edges=signed_in_on"
	wd.clear("#query")
	wd.sendKeys("#query", query)
	wd.click("#query-btn")
	wd.waitIdle()
	res, err := st.api.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{
		Start: []*rdgv1.NodeRef{{Type: "account", Id: member}},
		Steps: []*rdgv1.Step{{Direction: rdgv1.Direction_DIRECTION_OUT, EdgeTypes: []string{"has_profile"}}, {Direction: rdgv1.Direction_DIRECTION_OUT, EdgeTypes: []string{"signed_in_on"}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range res.Msg.GetNodes() {
		want = append(want, n.GetType()+":"+n.GetId())
	}
	slices.Sort(want)
	if got := wd.drawnNodes(); !slices.Equal(got, want) || len(want) < 3 {
		t.Errorf("query %q drew\n %v\nTraverse answers\n %v", query, got, want)
	}
	// A traversal that fans out is drawn as groups too.
	wd.clear("#query")
	wd.sendKeys("#query", "account:"+member+" out edges=watched nodes=title | in edges=watched")
	wd.click("#query-btn")
	wd.waitIdle()
	if e := wd.eval(`return window.__rdg.lastError`); e != "" {
		t.Fatalf("explorer error: %v", e)
	}
	// Its second hop hangs off the first hop's group: the titles' watchers
	// are one group of accounts, not hundreds of nodes.
	gs = drawnGroups()
	if g, ok := gs["watched ← account"]; !ok || !strings.HasPrefix(g.Owner, "group:") {
		t.Errorf("a traversal from account:%s over watched titles to their watchers drew groups %v, want the watchers grouped under the titles' group", member, gs)
	}
	checkReadable(t, wd)
	// Opening the titles' group draws a page of titles, each with its own
	// watchers hanging off it.
	titles := gs["watched → title"]
	wd.eval(`document.getElementById("page").value = "20"`)
	wd.clickDrawn(titles.ID)
	wd.waitFor("the titles' group to open", fmt.Sprintf(`return !window.__rdg.busy && window.__rdg.groups().some(g => g.id === %q && g.shown === 20)`, titles.ID))
	wd.moveTo(1, 1)
	if n := len(wd.drawnNodes()); n != 21 {
		t.Errorf("after opening the titles' group of the query: %d nodes drawn, want the start and 20 titles", n)
	}
	perTitle := 0
	for _, g := range drawnGroups() {
		if strings.HasPrefix(g.Owner, "title:") {
			perTitle++
		}
	}
	t.Logf("query with 20 titles open: %d groups of watchers hang off titles", perTitle)
	checkReadable(t, wd)
	wd.eval(`document.getElementById("fit").click()`)
	wd.saveScreenshot("explorer-query.png")
	// A query the page cannot read says where.
	wd.clear("#query")
	wd.sendKeys("#query", "account:"+member+" out sideways")
	wd.click("#query-btn")
	if e := fmt.Sprint(wd.eval(`return window.__rdg.lastError`)); !strings.Contains(e, "column") || !strings.Contains(e, "sideways") {
		t.Errorf("a bad query: error %q, want one naming the word and its column", e)
	}

	checkConsole(t, wd.browserLog(), "")
}

// checkReadable checks that no two drawn nodes' labels overlap and that
// every node and edge type is drawn in a colour of its own.
func checkReadable(t *testing.T, wd *webDriver) {
	t.Helper()
	if n := wd.eval(`return window.__rdg.labelOverlaps()`); n != 0.0 {
		t.Errorf("%v pairs of nodes whose labels overlap, want none", n)
	}
	cols := wd.eval(`return window.__rdg.drawnColours()`).(map[string]any)
	owner := map[string]string{}
	for _, kind := range []string{"node", "edge"} {
		for typ, cs := range cols[kind].(map[string]any) {
			list := cs.([]any)
			if len(list) != 1 {
				t.Errorf("%s type %s drawn in %d colours: %v", kind, typ, len(list), list)
				continue
			}
			c := fmt.Sprint(list[0])
			if o, ok := owner[c]; ok {
				t.Errorf("%s type %s has the colour %s of %s", kind, typ, c, o)
			}
			owner[c] = kind + " type " + typ
		}
	}
}

// allNeighbors lists every neighbour of a node, both directions, page by
// page.
func allNeighbors(t *testing.T, st *testStack, typ, id string) []*rdgv1.Neighbor {
	t.Helper()
	var out []*rdgv1.Neighbor
	req := &rdgv1.NeighborsRequest{Node: &rdgv1.NodeRef{Type: typ, Id: id}, Direction: rdgv1.Direction_DIRECTION_BOTH, Limit: 1000}
	for {
		res, err := st.api.Neighbors(context.Background(), connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Msg.GetNeighbors()...)
		if res.Msg.GetNextCursor() == "" {
			return out
		}
		req.Cursor = res.Msg.GetNextCursor()
	}
}
