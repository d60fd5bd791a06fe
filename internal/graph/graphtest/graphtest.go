// Package graphtest is the conformance suite of graph stores: data-driven
// files (testdata/, in github.com/cockroachdb/datadriven's format) that
// write a graph through graph.Writer and query it through the queries of
// package graph, with the answers every store must give. A store backend
// passes the suite by calling Run from its tests; the in-memory reference
// (internal/memstore) and the Pebble store (internal/store) both do, with
// the same files and the same expected output.
//
// It knows package graph and nothing of any store.
//
// Commands (arguments are key=value, lists key=(a,b)):
//
//	open [ttl=(type:duration,...)]  a new empty store; every file starts with one without TTL
//	clock ms=N                      the store's time, unix ms
//	apply                           input: one element per line, see parseElement
//	node ref=T:ID                   one node record
//	exists ref=T:ID
//	edges ref=T:ID dir=out|in [type=T] [after=T:ID [after-type=T] [after-near=T:ID]]
//	                                after: the far node of the edge to list after; its
//	                                type is after-type or type, its near node after-near or ref
//	neighbors ref=T:ID [dir=] [types=(..)] [node-types=(..)] [since=] [until=] [limit=] [max-visited=] [max-fanout=]
//	                                every page until the listing is complete
//	traverse start=(refs) [depth=] [mode=paths] [max-nodes=] [max-edges=] [max-visited=] [max-fanout=] [max-results=]
//	                                input: one step per line, "dir [types] [filters]"
//	path from= to= [dir=] [types=(..)] [max-depth=] [max-visited=]
//	group ref= [types=(..)] [max-results=]
//	stats [topk=N]
package graphtest

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/rdgraph/rdg/internal/graph"
)

// Store is what the suite needs of a store.
type Store interface {
	graph.Writer
	graph.Reader
}

// Open returns a new empty store that expires elements under ttl at the
// time now returns; the store is closed by the test's cleanup.
type Open func(t testing.TB, ttl graph.TTL, now func() time.Time) Store

// Run runs every file of the suite against stores made by open.
func Run(t *testing.T, open Open) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("graphtest: cannot locate the testdata directory")
	}
	datadriven.Walk(t, filepath.Join(filepath.Dir(file), "testdata"), func(t *testing.T, path string) {
		r := &runner{open: open}
		r.reopen(t, nil)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := r.run(t, d)
			if err != nil {
				// Stores word their errors each their own way; that a
				// command fails is the contract.
				t.Logf("%s: %v", d.Pos, err)
				return out + "error\n"
			}
			return out
		})
	})
}

type runner struct {
	open  Open
	store Store
	now   int64
}

func (r *runner) reopen(t *testing.T, ttl graph.TTL) {
	r.store = r.open(t, ttl, func() time.Time { return time.UnixMilli(r.now) })
}

func (r *runner) run(t *testing.T, d *datadriven.TestData) (string, error) {
	ctx := context.Background()
	a := args(d)
	switch d.Cmd {
	case "open":
		ttl := graph.TTL{}
		for _, v := range a.list("ttl") {
			name, dur, ok := strings.Cut(v, ":")
			pd, err := time.ParseDuration(dur)
			if !ok || err != nil {
				return "", fmt.Errorf("ttl %q: want type:duration", v)
			}
			ttl[name] = pd
		}
		r.reopen(t, ttl)
		return "ok\n", nil
	case "clock":
		r.now = a.int("ms")
		return "ok\n", nil
	case "apply":
		var b graph.Batch
		for i, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if err := parseElement(line, &b); err != nil {
				d.Fatalf(t, "line %d: %v", i+1, err)
			}
		}
		if err := r.store.Apply(ctx, &b); err != nil {
			return "", err
		}
		return "ok\n", nil
	case "node":
		n, ok, err := r.store.Node(ctx, a.ref("ref"))
		if err != nil || !ok {
			return "not found\n", err
		}
		return formatNode(&n) + "\n", nil
	case "exists":
		ok, err := graph.Exists(ctx, r.store, a.ref("ref"))
		return fmt.Sprintln(ok), err
	case "edges":
		return r.edges(ctx, a)
	case "neighbors":
		return r.neighbors(ctx, a)
	case "traverse":
		return r.traverse(ctx, a, d)
	case "path":
		res, err := graph.ShortestPath(ctx, r.store, graph.PathRequest{
			From: a.ref("from"), To: a.ref("to"), Direction: a.dir("dir", graph.Out),
			EdgeTypes: a.list("types"), MaxDepth: int(a.intOr("max-depth", 6)), Limits: a.limits(),
		})
		if err != nil {
			return "", err
		}
		var sb strings.Builder
		if !res.Found {
			sb.WriteString("no path\n")
		}
		writePath(&sb, res.Path)
		writeOutcome(&sb, res.Outcome)
		return sb.String(), nil
	case "group":
		res, err := graph.ConnectedGroup(ctx, r.store, graph.GroupRequest{Node: a.ref("ref"), EdgeTypes: a.list("types"), Limits: a.limits()})
		if err != nil {
			return "", err
		}
		var sb strings.Builder
		for i := range res.Nodes {
			fmt.Fprintf(&sb, "node %s\n", formatNode(&res.Nodes[i]))
		}
		for i := range res.Edges {
			fmt.Fprintf(&sb, "edge %s\n", formatEdge(&res.Edges[i]))
		}
		writeOutcome(&sb, res.Outcome)
		return sb.String(), nil
	case "stats":
		st, err := r.store.Stats(ctx, int(a.intOr("topk", 3)))
		if err != nil {
			return "", err
		}
		return formatStats(st), nil
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return "", nil
}

func (r *runner) edges(ctx context.Context, a argMap) (string, error) {
	ref, dir, typ := a.ref("ref"), a.dir("dir", graph.Out), a.str("type")
	var sb strings.Builder
	fn := func(e *graph.Edge) bool {
		sb.WriteString(formatEdge(e) + "\n")
		return true
	}
	var err error
	if far := a.str("after"); far != "" {
		near, f := ref, mustRef(far)
		if s := a.str("after-near"); s != "" {
			near = mustRef(s)
		}
		after := graph.EdgeRef{Type: typ, From: near, To: f}
		if t := a.str("after-type"); t != "" {
			after.Type = t
		}
		if dir == graph.In {
			after.From, after.To = f, near
		}
		err = r.store.EdgesAfter(ctx, ref, dir, typ, after, fn)
	} else {
		err = r.store.Edges(ctx, ref, dir, typ, fn)
	}
	return sb.String(), err
}

func (r *runner) neighbors(ctx context.Context, a argMap) (string, error) {
	req := graph.NeighborsRequest{
		Node: a.ref("ref"), Direction: a.dir("dir", graph.Out), EdgeTypes: a.list("types"),
		Filter: a.filter(), Limit: int(a.intOr("limit", 0)), Limits: a.limits(),
	}
	var sb strings.Builder
	for page := 1; ; page++ {
		if page > 100 {
			return sb.String(), fmt.Errorf("more than 100 pages")
		}
		res, err := graph.ListNeighbors(ctx, r.store, req)
		if err != nil {
			return sb.String(), err
		}
		fmt.Fprintf(&sb, "page %d\n", page)
		for i := range res.Edges {
			fmt.Fprintf(&sb, "  %s\n  > %s\n", formatEdge(&res.Edges[i]), formatNode(&res.Nodes[i]))
		}
		writeOutcome(&sb, res.Outcome)
		if res.Next == nil {
			return sb.String(), nil
		}
		req.After = res.Next
	}
}

func (r *runner) traverse(ctx context.Context, a argMap, d *datadriven.TestData) (string, error) {
	req := graph.TraverseRequest{
		Depth: int(a.intOr("depth", 0)), MaxNodes: int(a.intOr("max-nodes", 0)), MaxEdges: int(a.intOr("max-edges", 0)),
		Limits: a.limits(),
	}
	for _, s := range a.list("start") {
		req.Start = append(req.Start, mustRef(s))
	}
	if a.str("mode") == "paths" {
		req.Mode = graph.ModePaths
	}
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		step, err := parseStep(line)
		if err != nil {
			return "", err
		}
		req.Steps = append(req.Steps, step)
	}
	sg, err := graph.Traverse(ctx, r.store, req)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i := range sg.Nodes {
		fmt.Fprintf(&sb, "node %d %s\n", sg.Depths[i], formatNode(&sg.Nodes[i]))
	}
	for i := range sg.Edges {
		fmt.Fprintf(&sb, "edge %s\n", formatEdge(&sg.Edges[i]))
	}
	for i, p := range sg.Paths {
		fmt.Fprintf(&sb, "path %d\n", i+1)
		writePath(&sb, p)
	}
	writeOutcome(&sb, sg.Outcome)
	return sb.String(), nil
}

// parseStep reads "dir [type,type] [node-types=a,b] [since=N] [until=N]
// [edge-where=PRED] [node-where=PRED]".
func parseStep(line string) (graph.Step, error) {
	f := strings.Fields(line)
	dir, err := graph.ParseDirection(f[0])
	if err != nil {
		return graph.Step{}, err
	}
	s := graph.Step{Direction: dir}
	for _, tok := range f[1:] {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || strings.ContainsAny(k, "<>!") {
			if ok || strings.ContainsAny(tok, "<>!") {
				return s, fmt.Errorf("step %q: %q", line, tok)
			}
			s.EdgeTypes = append(s.EdgeTypes, strings.Split(tok, ",")...)
			continue
		}
		switch k {
		case "node-types":
			s.NodeTypes = strings.Split(v, ",")
		case "since":
			s.Since, err = strconv.ParseInt(v, 10, 64)
		case "until":
			s.Until, err = strconv.ParseInt(v, 10, 64)
		case "edge-where", "node-where":
			var p graph.Predicate
			p, err = parsePredicate(v)
			if k == "edge-where" {
				s.EdgePredicates = append(s.EdgePredicates, p)
			} else {
				s.NodePredicates = append(s.NodePredicates, p)
			}
		default:
			err = fmt.Errorf("unknown filter %q", k)
		}
		if err != nil {
			return s, fmt.Errorf("step %q: %w", line, err)
		}
	}
	return s, nil
}

// parsePredicate reads "field OP value" written without spaces, OP one of
// = != < <= > >=.
func parsePredicate(s string) (graph.Predicate, error) {
	i := strings.IndexAny(s, "=!<>")
	if i <= 0 {
		return graph.Predicate{}, fmt.Errorf("predicate %q: want field, operator, value", s)
	}
	j := i + 1
	if j < len(s) && s[j] == '=' {
		j++
	}
	op, err := graph.ParseOp(s[i:j])
	if err != nil {
		return graph.Predicate{}, err
	}
	v, err := parseValue(s[j:])
	return graph.Predicate{Field: s[:i], Op: op, Value: v}, err
}

// parseElement reads one element into b:
//
//	node T:ID [first=N] [last=N] [updated=N] [name=value[@ts] ...]
//	edge T:ID TYPE T:ID [first=N] ...
//
// first defaults to last, and a property's ts to last. Values are null,
// true, false, integers, floats (with a '.', an exponent, NaN or Inf), and
// strings (without spaces), quoted when they hold "=" or "@" or look like
// another kind.
func parseElement(line string, b *graph.Batch) error {
	f := strings.Fields(line)
	if len(f) < 2 {
		return fmt.Errorf("%q: want node or edge and refs", line)
	}
	var rest []string
	var props graph.Props
	var first, last, updated int64
	firstSet := false
	switch f[0] {
	case "node":
		rest = f[2:]
	case "edge":
		if len(f) < 4 {
			return fmt.Errorf("%q: want edge FROM TYPE TO", line)
		}
		rest = f[4:]
	default:
		return fmt.Errorf("%q: want node or edge", line)
	}
	type rawProp struct{ name, v, ts string }
	var raws []rawProp
	for _, tok := range rest {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			return fmt.Errorf("%q: want name=value", tok)
		}
		var err error
		switch k {
		case "first":
			first, err = strconv.ParseInt(v, 10, 64)
			firstSet = true
		case "last":
			last, err = strconv.ParseInt(v, 10, 64)
		case "updated":
			updated, err = strconv.ParseInt(v, 10, 64)
		default:
			val, ts, _ := strings.Cut(v, "@")
			raws = append(raws, rawProp{k, val, ts})
		}
		if err != nil {
			return fmt.Errorf("%q: %w", tok, err)
		}
	}
	if !firstSet {
		first = last
	}
	for _, p := range raws {
		v, err := parseValue(p.v)
		if err != nil {
			return err
		}
		ts := last
		if p.ts != "" {
			if ts, err = strconv.ParseInt(p.ts, 10, 64); err != nil {
				return fmt.Errorf("%s@%s: %w", p.name, p.ts, err)
			}
		}
		if props == nil {
			props = graph.Props{}
		}
		props[p.name] = graph.Prop{Value: v, TS: ts}
	}
	from, err := splitRef(f[1])
	if err != nil {
		return err
	}
	if f[0] == "node" {
		b.Nodes = append(b.Nodes, graph.Node{NodeRef: from, Props: props, FirstSeen: first, LastSeen: last, UpdatedAt: updated})
		return nil
	}
	to, err := splitRef(f[3])
	if err != nil {
		return err
	}
	b.Edges = append(b.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: f[2], From: from, To: to},
		Props: props, FirstSeen: first, LastSeen: last, UpdatedAt: updated})
	return nil
}

// splitRef splits "type:id" without validating either part: an invalid
// element must reach the store, whose Apply is to reject it.
func splitRef(s string) (graph.NodeRef, error) {
	t, id, ok := strings.Cut(s, ":")
	if !ok {
		return graph.NodeRef{}, fmt.Errorf("%q: want type:id", s)
	}
	return graph.NodeRef{Type: t, ID: id}, nil
}

func parseValue(s string) (any, error) {
	switch s {
	case "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "NaN":
		return math.NaN(), nil
	}
	if strings.HasPrefix(s, `"`) {
		return strconv.Unquote(s)
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, nil
	}
	return s, nil
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if p, err := parseValue(x); err != nil || p != x || x == "" || strings.ContainsAny(x, " =@\"") {
			return strconv.Quote(x)
		}
		return x
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0"
		}
		return s
	}
	return fmt.Sprint(v)
}

func formatProps(ps graph.Props) string {
	names := make([]string, 0, len(ps))
	for k := range ps {
		names = append(names, k)
	}
	slices.Sort(names)
	var sb strings.Builder
	for _, k := range names {
		fmt.Fprintf(&sb, " %s=%s@%d", k, formatValue(ps[k].Value), ps[k].TS)
	}
	return sb.String()
}

func formatNode(n *graph.Node) string {
	return fmt.Sprintf("%s [%d %d %d]%s", n.NodeRef, n.FirstSeen, n.LastSeen, n.UpdatedAt, formatProps(n.Props))
}

func formatEdge(e *graph.Edge) string {
	return fmt.Sprintf("%s [%d %d %d]%s", e.EdgeRef, e.FirstSeen, e.LastSeen, e.UpdatedAt, formatProps(e.Props))
}

func writePath(sb *strings.Builder, p graph.Path) {
	for i := range p.Nodes {
		fmt.Fprintf(sb, "  %s\n", formatNode(&p.Nodes[i]))
		if i < len(p.Edges) {
			fmt.Fprintf(sb, "  - %s\n", formatEdge(&p.Edges[i]))
		}
	}
}

func writeOutcome(sb *strings.Builder, o graph.Outcome) {
	if o.Partial {
		fmt.Fprintf(sb, "partial: %s; visited %d\n", o.LimitHit, o.Visited)
		return
	}
	fmt.Fprintf(sb, "visited %d\n", o.Visited)
}

func formatStats(st *graph.Stats) string {
	var sb strings.Builder
	for _, kind := range []struct {
		name string
		m    map[string]int64
	}{{"nodes", st.Nodes}, {"edges", st.Edges}} {
		for _, t := range slices.Sorted(mapKeys(kind.m)) {
			fmt.Fprintf(&sb, "%s %s %d\n", kind.name, t, kind.m[t])
		}
	}
	types := make([]string, 0, len(st.TopDegree))
	for t := range st.TopDegree {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		for _, d := range st.TopDegree[t] {
			fmt.Fprintf(&sb, "top %s out=%d in=%d\n", d.Node, d.Out, d.In)
		}
	}
	return sb.String()
}

func mapKeys(m map[string]int64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func mustRef(s string) graph.NodeRef {
	r, err := graph.ParseNodeRef(s)
	if err != nil {
		panic(fmt.Sprintf("graphtest: %v", err))
	}
	return r
}

// argMap is a command's key=value arguments.
type argMap map[string][]string

func args(d *datadriven.TestData) argMap {
	m := argMap{}
	for _, a := range d.CmdArgs {
		m[a.Key] = a.Vals
	}
	return m
}

func (a argMap) str(k string) string {
	if v := a[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (a argMap) list(k string) []string { return a[k] }

func (a argMap) ref(k string) graph.NodeRef { return mustRef(a.str(k)) }

func (a argMap) intOr(k string, def int64) int64 {
	s := a.str(k)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("graphtest: %s=%s: %v", k, s, err))
	}
	return n
}

func (a argMap) int(k string) int64 { return a.intOr(k, 0) }

func (a argMap) dir(k string, def graph.Direction) graph.Direction {
	s := a.str(k)
	if s == "" {
		return def
	}
	d, err := graph.ParseDirection(s)
	if err != nil {
		panic(fmt.Sprintf("graphtest: %v", err))
	}
	return d
}

func (a argMap) filter() graph.Filter {
	return graph.Filter{NodeTypes: a.list("node-types"), Since: a.int("since"), Until: a.int("until")}
}

func (a argMap) limits() graph.Limits {
	return graph.Limits{
		MaxVisited: int(a.int("max-visited")), MaxResults: int(a.int("max-results")), MaxFanout: int(a.int("max-fanout")),
	}
}
