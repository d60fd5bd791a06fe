package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/store"
)

// answer is what one query returned, reduced to what the two sides must
// agree on.
type answer struct {
	// n is the number of results: neighbours, nodes reached, or the
	// path's length in edges (-1: no path).
	n int
	// partial: a limit cut the result short (rdg: Outcome.Partial; SQL: a
	// LIMIT reached), so the two sides may legitimately differ.
	partial bool
	timeout bool
	visited int
	// list is the neighbour listing in order ("out watched title:t00000042"),
	// or the number of nodes reached at each depth for a traversal.
	list []string
}

// sides holds what the queries run against.
type sides struct {
	st      *store.Pebble
	api     rdgv1connect.GraphServiceClient
	pg      *pgx.Conn // nil with -pg ""
	s       spec
	lim     serve.Limits
	timeout time.Duration
}

func (sd *sides) limits() graph.Limits {
	return graph.Limits{MaxVisited: sd.lim.VisitedDefault, MaxResults: sd.lim.ResultsDefault, MaxFanout: sd.lim.FanoutDefault,
		Deadline: time.Now().Add(sd.timeout)}
}

func (sd *sides) apiLimits() *rdgv1.QueryLimits {
	return &rdgv1.QueryLimits{DeadlineMs: int32(sd.timeout.Milliseconds())}
}

func pref(r graph.NodeRef) *rdgv1.NodeRef { return &rdgv1.NodeRef{Type: r.Type, Id: r.ID} }

func edgeEntry(out bool, typ string, far graph.NodeRef) string {
	d := "in"
	if out {
		d = "out"
	}
	return d + " " + typ + " " + far.String()
}

// Neighbours: one page of a node's edges in both directions with their
// far nodes, at the API's default page size (100).

func (sd *sides) neighborsEngine(ctx context.Context, a, _ int) (answer, error) {
	ref := sd.s.ref(a)
	r, err := graph.ListNeighbors(ctx, sd.st, graph.NeighborsRequest{Node: ref, Direction: graph.Both,
		Limit: sd.lim.NeighborsDefault, Limits: sd.limits()})
	if err != nil {
		return answer{}, err
	}
	ans := answer{n: len(r.Edges), partial: r.Partial, visited: r.Visited, timeout: r.LimitHit == graph.LimitDeadline}
	for i := range r.Edges {
		e := &r.Edges[i]
		out := e.From == ref
		far := e.To
		if !out {
			far = e.From
		}
		ans.list = append(ans.list, edgeEntry(out, e.Type, far))
	}
	return ans, nil
}

func (sd *sides) neighborsAPI(ctx context.Context, a, _ int) (answer, error) {
	ref := sd.s.ref(a)
	r, err := sd.api.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{Node: pref(ref), Direction: rdgv1.Direction_DIRECTION_BOTH, Limits: sd.apiLimits()}))
	if err != nil {
		return answer{}, err
	}
	m := r.Msg
	ans := answer{n: len(m.GetNeighbors()), partial: m.GetPartial(), visited: int(m.GetVisited()), timeout: m.GetLimitHit() == rdgv1.Limit_LIMIT_DEADLINE}
	for _, nb := range m.GetNeighbors() {
		e := nb.GetEdge()
		out := e.GetFrom().GetType() == ref.Type && e.GetFrom().GetId() == ref.ID
		ans.list = append(ans.list, edgeEntry(out, e.GetType(), graph.NodeRef{Type: nb.GetNode().GetType(), ID: nb.GetNode().GetId()}))
	}
	return ans, nil
}

// sqlNeighbors is the page as a PostgreSQL user would write it: out-edges
// then in-edges, each in index order (which is rdg's order, see pg.go), one
// more than the page to know whether there are more, joined to the far
// nodes for their properties.
const sqlNeighbors = `
WITH s AS (SELECT id FROM ` + pgSchema + `.nodes WHERE type = $1 AND key = $2),
e AS (
  (SELECT true AS out, e.type, e.dst AS far, e.props, e.first_seen, e.last_seen, e.updated_at
     FROM ` + pgSchema + `.edges e JOIN s ON e.src = s.id ORDER BY e.type, e.dst LIMIT $3)
  UNION ALL
  (SELECT false, e.type, e.src, e.props, e.first_seen, e.last_seen, e.updated_at
     FROM ` + pgSchema + `.edges e JOIN s ON e.dst = s.id WHERE e.src <> e.dst ORDER BY e.type, e.src LIMIT $3)
  LIMIT $3
)
SELECT e.out, e.type, n.type, n.key, e.props, e.first_seen, e.last_seen, e.updated_at,
       n.props, n.first_seen, n.last_seen, n.updated_at
  FROM e JOIN ` + pgSchema + `.nodes n ON n.id = e.far
 ORDER BY e.out DESC, e.type, e.far`

type pgEdgeRow struct {
	out                bool
	typ                int16
	farType, farKey    string
	eProps, nProps     []byte
	ef, el, eu, nf, nl int64
	nu                 int64
}

func (sd *sides) neighborsPG(ctx context.Context, a, _ int) (answer, error) {
	ref := sd.s.ref(a)
	limit := sd.lim.NeighborsDefault
	rows, err := sd.pg.Query(ctx, sqlNeighbors, ref.Type, ref.ID, limit+1)
	if err != nil {
		return answer{}, err
	}
	var ans answer
	var r pgEdgeRow
	_, err = pgx.ForEachRow(rows, []any{&r.out, &r.typ, &r.farType, &r.farKey, &r.eProps, &r.ef, &r.el, &r.eu, &r.nProps, &r.nf, &r.nl, &r.nu}, func() error {
		if ans.n == limit {
			ans.partial = true
			return nil
		}
		ans.n++
		ans.list = append(ans.list, edgeEntry(r.out, edgeTypes[r.typ], graph.NodeRef{Type: r.farType, ID: r.farKey}))
		return nil
	})
	return ans, err
}

// Traversals: breadth first, both directions, depth 2 or 3, with the API's
// defaults (1,000 nodes, 10,000 edges, 10,000 edges examined per node).

func depthList(depths []int) []string {
	var counts []int
	for _, d := range depths {
		for len(counts) <= d {
			counts = append(counts, 0)
		}
		counts[d]++
	}
	out := make([]string, len(counts))
	for i, c := range counts {
		out[i] = fmt.Sprintf("depth %d: %d", i, c)
	}
	return out
}

func (sd *sides) traverseEngine(depth int) func(context.Context, int, int) (answer, error) {
	return func(ctx context.Context, a, _ int) (answer, error) {
		r, err := graph.Traverse(ctx, sd.st, graph.TraverseRequest{Start: []graph.NodeRef{sd.s.ref(a)}, Depth: depth,
			Steps: []graph.Step{{Direction: graph.Both}}, MaxNodes: sd.lim.TraverseNodesDefault, MaxEdges: sd.lim.TraverseEdgesDefault, Limits: sd.limits()})
		if err != nil {
			return answer{}, err
		}
		return answer{n: len(r.Nodes), partial: r.Partial, visited: r.Visited, timeout: r.LimitHit == graph.LimitDeadline, list: depthList(r.Depths)}, nil
	}
}

func (sd *sides) traverseAPI(depth int) func(context.Context, int, int) (answer, error) {
	return func(ctx context.Context, a, _ int) (answer, error) {
		r, err := sd.api.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{pref(sd.s.ref(a))},
			Depth: uint32(depth), Steps: []*rdgv1.Step{{Direction: rdgv1.Direction_DIRECTION_BOTH}}, Limits: sd.apiLimits()}))
		if err != nil {
			return answer{}, err
		}
		m := r.Msg
		depths := make([]int, len(m.GetDepths()))
		for i, d := range m.GetDepths() {
			depths[i] = int(d)
		}
		return answer{n: len(m.GetNodes()), partial: m.GetPartial(), visited: int(m.GetVisited()),
			timeout: m.GetLimitHit() == rdgv1.Limit_LIMIT_DEADLINE, list: depthList(depths)}, nil
	}
}

// sqlTraverse is the k-hop neighbourhood as a recursive CTE: breadth first
// (UNION removes repeats within a level), at most $4 edges followed from
// each node (rdg's fan-out limit, as a LATERAL ... LIMIT), each node at
// the depth it was first reached, at most $5 nodes, joined to the node
// records for their properties. rdg returns the edges it followed too; the
// SQL does not, which only makes its work lighter.
const sqlTraverse = `
WITH RECURSIVE walk(node, depth) AS (
    SELECT id, 0 FROM ` + pgSchema + `.nodes WHERE type = $1 AND key = $2
  UNION
    SELECT a.far, w.depth + 1
      FROM walk w CROSS JOIN LATERAL (SELECT far FROM ` + pgSchema + `.adj WHERE adj.node = w.node LIMIT $4) a
     WHERE w.depth < $3
),
reached AS (
  SELECT node, min(depth) AS depth FROM walk GROUP BY node ORDER BY min(depth) LIMIT $5
)
SELECT r.depth, n.type, n.key, n.props, n.first_seen, n.last_seen, n.updated_at
  FROM reached r JOIN ` + pgSchema + `.nodes n ON n.id = r.node`

func (sd *sides) traversePG(depth int) func(context.Context, int, int) (answer, error) {
	return func(ctx context.Context, a, _ int) (answer, error) {
		ref := sd.s.ref(a)
		maxNodes := sd.lim.TraverseNodesDefault
		rows, err := sd.pg.Query(ctx, sqlTraverse, ref.Type, ref.ID, depth, sd.lim.FanoutDefault, maxNodes+1)
		if err != nil {
			return answer{}, err
		}
		var (
			d        int
			typ, key string
			props    []byte
			f, l, u  int64
			depths   []int
			ans      answer
		)
		_, err = pgx.ForEachRow(rows, []any{&d, &typ, &key, &props, &f, &l, &u}, func() error {
			depths = append(depths, d)
			return nil
		})
		if err != nil {
			return answer{}, err
		}
		if len(depths) > maxNodes {
			ans.partial = true
			slices.Sort(depths)
			depths = depths[:maxNodes]
		}
		ans.n = len(depths)
		ans.list = depthList(depths)
		return ans, nil
	}
}

// Shortest path between two random nodes, both directions, at most six
// edges (the API's default).

func (sd *sides) pathEngine(ctx context.Context, a, b int) (answer, error) {
	r, err := graph.ShortestPath(ctx, sd.st, graph.PathRequest{From: sd.s.ref(a), To: sd.s.ref(b),
		Direction: graph.Both, MaxDepth: sd.lim.PathDepthDefault, Limits: sd.limits()})
	if err != nil {
		return answer{}, err
	}
	n := -1
	if r.Found {
		n = len(r.Path.Edges)
	}
	return answer{n: n, partial: r.Partial, visited: r.Visited, timeout: r.LimitHit == graph.LimitDeadline}, nil
}

func (sd *sides) pathAPI(ctx context.Context, a, b int) (answer, error) {
	r, err := sd.api.ShortestPath(ctx, connect.NewRequest(&rdgv1.ShortestPathRequest{From: pref(sd.s.ref(a)), To: pref(sd.s.ref(b)),
		Direction: rdgv1.Direction_DIRECTION_BOTH, Limits: sd.apiLimits()}))
	if err != nil {
		return answer{}, err
	}
	m := r.Msg
	n := -1
	if m.GetFound() {
		n = len(m.GetPath().GetEdges())
	}
	return answer{n: n, partial: m.GetPartial(), visited: int(m.GetVisited()), timeout: m.GetLimitHit() == rdgv1.Limit_LIMIT_DEADLINE}, nil
}

// sqlPath is breadth first search from one end as a recursive CTE: the
// recursive part is evaluated one level at a time and only as far as the
// outer query reads, so LIMIT 1 stops it at the first level that reaches
// the target, which is the shortest path's length. The same caps as rdg:
// depth $5, $6 edges followed per node. It returns the length only; rdg
// returns the path with its nodes and edges.
const sqlPath = `
WITH RECURSIVE bfs(node, depth) AS (
    SELECT id, 0 FROM ` + pgSchema + `.nodes WHERE type = $1 AND key = $2
  UNION
    SELECT a.far, b.depth + 1
      FROM bfs b CROSS JOIN LATERAL (SELECT far FROM ` + pgSchema + `.adj WHERE adj.node = b.node LIMIT $6) a
     WHERE b.depth < $5
)
SELECT depth FROM bfs WHERE node = (SELECT id FROM ` + pgSchema + `.nodes WHERE type = $3 AND key = $4) LIMIT 1`

// pathPGWith runs sqlPath with at most fanout edges followed per node; a
// fanout of 0 lifts the cap (LIMIT NULL is no limit).
func (sd *sides) pathPGWith(ctx context.Context, a, b, fanout int) (answer, error) {
	var limit any
	if fanout > 0 {
		limit = fanout
	}
	from, to := sd.s.ref(a), sd.s.ref(b)
	var d int
	err := sd.pg.QueryRow(ctx, sqlPath, from.Type, from.ID, to.Type, to.ID, sd.lim.PathDepthDefault, limit).Scan(&d)
	if err == pgx.ErrNoRows {
		return answer{n: -1}, nil
	}
	if err != nil {
		return answer{}, err
	}
	return answer{n: d}, nil
}

func (sd *sides) pathPG(ctx context.Context, a, b int) (answer, error) {
	return sd.pathPGWith(ctx, a, b, sd.lim.FanoutDefault)
}

// agree checks what two sides answered for the same sample where neither
// was cut short by a limit, and fails loudly if they differ.
func agree(kind, side string, rdg, other answer) error {
	if rdg.partial || other.partial || other.timeout || rdg.timeout {
		return nil
	}
	if rdg.n != other.n || !slices.Equal(rdg.list, other.list) {
		return fmt.Errorf("%s: rdg and %s disagree: rdg %d results %s, %s %d results %s", kind, side,
			rdg.n, strings.Join(rdg.list, ", "), side, other.n, strings.Join(other.list, ", "))
	}
	return nil
}
