package serve

import (
	"github.com/rdgraph/rdg/internal/graph"
)

// Memory estimates, for admission control. What a query holds until its
// answer is written is the nodes and edges of its result (the engine's
// copies with their properties, the protobuf messages, the encoded
// answer) and the entries of its visited sets. Everything it keeps it
// visited first, so its visit limit bounds its memory whatever the graph;
// its result limits (page size, max_nodes and max_edges, paths) bound it
// more tightly where they are lower. An estimate is worst-case for the
// limits, not a prediction of the answer: a query pays for what it may
// hold.
//
// Where the memory bound of admission control is lower than one query's
// estimate, the query's limits are lowered until it fits, as a request
// above a server maximum is; its answer is then partial and names the
// limit it reached.
//
// The per-element figures are what the serving path allocates per
// element (answers in JSON, the costlier encoding; nodes and edges with a
// few properties each), rounded up: until the garbage collector runs,
// what a query allocated is what it holds. bench/load checks the sum
// against the server's peak RSS.
const (
	// costBase is what any query holds: its request, a read session with
	// its iterators, the response's buffers.
	costBase = 256 << 10
	// costResult is one node or edge of an answer, with the visited-set
	// entries that found it.
	costResult = 3 << 10
	// costVisit is one entry of a shortest path search, which keeps every
	// node it reaches and the edge it came by.
	costVisit = 768
)

// fit returns cost() of a query's limits as they are if it is within the
// memory bound; above it, it first lowers them with shrink(f), where f is
// the factor by which the variable part of the cost must shrink to fit
// (0 where the bound leaves nothing beyond costBase).
func (s *service) fit(cost func() int64, shrink func(f float64)) int64 {
	c := cost()
	avail := s.adm.cfg.MaxMemory
	if avail <= 0 || c <= avail {
		return c
	}
	f := 0.0
	if avail > costBase {
		f = float64(avail-costBase) / float64(c-costBase)
	}
	shrink(f)
	return cost()
}

// scaled is v×f, at least 1: a limit of 0 would mean the default.
func scaled(v int, f float64) int {
	return max(1, int(float64(v)*f))
}

func getNodesCost(refs int) int64 { return costBase + int64(refs)*costResult }

// neighborsCost is the cost of a page of limit neighbours (an edge and a
// node each); it lowers *limit to fit.
func (s *service) neighborsCost(limit *int) int64 {
	return s.fit(
		func() int64 { return costBase + 2*int64(*limit)*costResult },
		func(f float64) { *limit = scaled(*limit, f) })
}

// traverseCost lowers the limits of req to fit.
func (s *service) traverseCost(req *graph.TraverseRequest, depth int) int64 {
	lim := &req.Limits
	if req.Mode == graph.ModePaths {
		// The walk keeps each node it reaches and the edge it came by;
		// every path of the answer is depth+1 nodes and depth edges.
		return s.fit(
			func() int64 {
				paths := min(lim.MaxResults, lim.MaxVisited)
				return costBase + int64(lim.MaxVisited)*costResult + int64(paths)*int64(2*depth+1)*costResult
			},
			func(f float64) {
				lim.MaxResults = scaled(min(lim.MaxResults, lim.MaxVisited), f)
				lim.MaxVisited = scaled(lim.MaxVisited, f)
			})
	}
	kept := func() int { return min(req.MaxNodes+req.MaxEdges, lim.MaxVisited) }
	return s.fit(
		func() int64 { return costBase + int64(kept())*costResult },
		func(f float64) { lim.MaxVisited = scaled(kept(), f) })
}

// pathCost: a shortest path search keeps an entry per node it reaches;
// the path itself is short.
func (s *service) pathCost(lim *graph.Limits, depth int) int64 {
	return s.fit(
		func() int64 { return costBase + int64(lim.MaxVisited)*costVisit + int64(2*depth+1)*costResult },
		func(f float64) { lim.MaxVisited = scaled(lim.MaxVisited, f) })
}

// groupCost: a group keeps the nodes and edges it visits, up to its
// result limit for nodes.
func (s *service) groupCost(lim *graph.Limits) int64 {
	return s.fit(
		func() int64 { return costBase + int64(lim.MaxVisited)*costResult },
		func(f float64) { lim.MaxVisited = scaled(lim.MaxVisited, f) })
}
