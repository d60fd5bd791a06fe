package serve

import (
	"context"
	"time"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/graph"
)

// Limits bound what one request may cost, so that one client cannot starve
// the others. A "Default" applies when the request leaves the field unset
// (0); a request asking for more than a "Max" gets the maximum, except for
// depths and top_k, which are refused above their maximum: a shallower walk
// than asked for would look like a complete answer.
//
// Besides its result size every query is bounded by the elements it may
// visit, its fan-out per node and its deadline (QueryLimits in the API);
// reaching one stops the query with a partial result that names the limit.
type Limits struct {
	// GetNodesMax is the most refs one GetNodes request may name.
	GetNodesMax int
	// NeighborsDefault and NeighborsMax bound NeighborsRequest.limit.
	NeighborsDefault, NeighborsMax int
	// TraverseStartMax is the most start nodes one Traverse may name.
	TraverseStartMax int
	// TraverseMaxDepth bounds TraverseRequest.depth and the number of steps.
	TraverseMaxDepth int
	// TraverseNodesDefault and TraverseNodesMax bound TraverseRequest.max_nodes.
	TraverseNodesDefault, TraverseNodesMax int
	// TraverseEdgesDefault and TraverseEdgesMax bound TraverseRequest.max_edges.
	TraverseEdgesDefault, TraverseEdgesMax int
	// VisitedDefault and VisitedMax bound QueryLimits.max_visited: the
	// elements (edges examined, node records read) a query may visit. The
	// maximum also bounds a query's memory.
	VisitedDefault, VisitedMax int
	// ResultsDefault and ResultsMax bound QueryLimits.max_results where no
	// older field does: paths of a PATHS traversal, ConnectedGroup's nodes.
	ResultsDefault, ResultsMax int
	// FanoutDefault and FanoutMax bound QueryLimits.max_fanout.
	FanoutDefault, FanoutMax int
	// PathDepthDefault and PathMaxDepth bound ShortestPathRequest.max_depth.
	PathDepthDefault, PathMaxDepth int
	// StatsTopKDefault and StatsTopKMax bound StatsRequest.top_k.
	StatsTopKDefault, StatsTopKMax int
	// StatsMaxAge is the longest a computed Stats result is served before
	// it is computed again; a result whose scan was quick is computed again
	// sooner (see statsCache). Stats scans the store, which takes about a
	// second per few million elements.
	StatsMaxAge time.Duration
	// StatsTimeout bounds one statistics scan. The scan runs apart from the
	// request that started it, so a large store's statistics become
	// available even if that request's deadline is shorter.
	StatsTimeout time.Duration
	// Timeout is the server-side deadline of every query, and the maximum
	// of QueryLimits.deadline_ms; a client may set a shorter one.
	Timeout time.Duration
	// MaxRequestBytes bounds the size of a request message, which keeps a
	// huge list of refs from being decoded at all.
	MaxRequestBytes int
}

// DefaultLimits returns the limits documented in proto/rdg/v1/graph.proto.
func DefaultLimits() Limits {
	return Limits{
		GetNodesMax:          1_000,
		NeighborsDefault:     100,
		NeighborsMax:         10_000,
		TraverseStartMax:     1_000,
		TraverseMaxDepth:     100,
		TraverseNodesDefault: 1_000,
		TraverseNodesMax:     100_000,
		TraverseEdgesDefault: 10_000,
		TraverseEdgesMax:     1_000_000,
		VisitedDefault:       100_000,
		VisitedMax:           1_000_000,
		ResultsDefault:       1_000,
		ResultsMax:           100_000,
		FanoutDefault:        10_000,
		FanoutMax:            100_000,
		PathDepthDefault:     6,
		PathMaxDepth:         20,
		StatsTopKDefault:     10,
		StatsTopKMax:         100,
		StatsMaxAge:          time.Minute,
		StatsTimeout:         5 * time.Minute,
		Timeout:              10 * time.Second,
		MaxRequestBytes:      4 << 20,
	}
}

// withDefaults fills zero fields from DefaultLimits, so that callers can
// override one limit without restating the rest.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fillD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&l.GetNodesMax, d.GetNodesMax)
	fill(&l.NeighborsMax, d.NeighborsMax)
	fill(&l.NeighborsDefault, d.NeighborsDefault)
	fill(&l.TraverseStartMax, d.TraverseStartMax)
	fill(&l.TraverseMaxDepth, d.TraverseMaxDepth)
	fill(&l.TraverseNodesMax, d.TraverseNodesMax)
	fill(&l.TraverseNodesDefault, d.TraverseNodesDefault)
	fill(&l.TraverseEdgesMax, d.TraverseEdgesMax)
	fill(&l.TraverseEdgesDefault, d.TraverseEdgesDefault)
	fill(&l.VisitedMax, d.VisitedMax)
	fill(&l.VisitedDefault, d.VisitedDefault)
	fill(&l.ResultsMax, d.ResultsMax)
	fill(&l.ResultsDefault, d.ResultsDefault)
	fill(&l.FanoutMax, d.FanoutMax)
	fill(&l.FanoutDefault, d.FanoutDefault)
	fill(&l.PathMaxDepth, d.PathMaxDepth)
	fill(&l.PathDepthDefault, d.PathDepthDefault)
	fill(&l.StatsTopKMax, d.StatsTopKMax)
	fill(&l.StatsTopKDefault, d.StatsTopKDefault)
	fill(&l.MaxRequestBytes, d.MaxRequestBytes)
	fillD(&l.StatsMaxAge, d.StatsMaxAge)
	fillD(&l.StatsTimeout, d.StatsTimeout)
	fillD(&l.Timeout, d.Timeout)
	// A default above the maximum would make every unset limit an error
	// of the configuration rather than of the request.
	l.NeighborsDefault = min(l.NeighborsDefault, l.NeighborsMax)
	l.TraverseNodesDefault = min(l.TraverseNodesDefault, l.TraverseNodesMax)
	l.TraverseEdgesDefault = min(l.TraverseEdgesDefault, l.TraverseEdgesMax)
	l.VisitedDefault = min(l.VisitedDefault, l.VisitedMax)
	l.ResultsDefault = min(l.ResultsDefault, l.ResultsMax)
	l.FanoutDefault = min(l.FanoutDefault, l.FanoutMax)
	l.PathDepthDefault = min(l.PathDepthDefault, l.PathMaxDepth)
	l.StatsTopKDefault = min(l.StatsTopKDefault, l.StatsTopKMax)
	return l
}

// clamp applies a default and a maximum to a request's limit field.
func clamp[T uint32 | int32](v T, def, maximum int) int {
	switch {
	case v <= 0:
		return def
	case int64(v) > int64(maximum):
		return maximum
	}
	return int(v)
}

// Deadline handling. A query's budget runs from the request's arrival to
// the earliest of the server's Timeout, limits.deadline_ms and the
// transport's deadline (grpc-timeout, Connect-Timeout-Ms). The engine
// stops before the budget ends, with a partial result, leaving a margin
// to encode and send the answer in: a tenth of the budget, at most
// maxReplyMargin before the server's or the client's own deadline and at
// most maxTransportMargin before the transport's. The context it reads
// with ends hardGrace later, so that a store read already under way when
// the engine's time is up is cut off rather than left to run.
//
// Traversals and groups, whose answers can hold a million elements, stop
// earlier still by replyPerVisit for every element they visit
// (graph.Limits.ReplyPerVisit): a large answer takes longer to build,
// encode and send than the fixed margin allows, the more so on a server
// busy with other queries.
const (
	hardGrace          = 250 * time.Millisecond
	maxReplyMargin     = time.Second
	maxTransportMargin = 50 * time.Millisecond
	replyPerVisit      = 2 * time.Microsecond
)

// guards validates a request's QueryLimits and turns them into the
// engine's, with server defaults and maxima applied. The returned context
// carries the hard deadline; call cancel when the query is done.
func (s *service) guards(ctx context.Context, field string, pl *rdgv1.QueryLimits) (graph.Limits, context.Context, context.CancelFunc, error) {
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"max_visited", pl.GetMaxVisited()},
		{"max_results", pl.GetMaxResults()},
		{"max_fanout", pl.GetMaxFanout()},
		{"deadline_ms", pl.GetDeadlineMs()},
	} {
		if f.v < 0 {
			return graph.Limits{}, nil, nil, invalidArg(field+"."+f.name, "%d is negative", f.v)
		}
	}
	lim := graph.Limits{
		MaxVisited: clamp(pl.GetMaxVisited(), s.lim.VisitedDefault, s.lim.VisitedMax),
		MaxResults: clamp(pl.GetMaxResults(), s.lim.ResultsDefault, s.lim.ResultsMax),
		MaxFanout:  clamp(pl.GetMaxFanout(), s.lim.FanoutDefault, s.lim.FanoutMax),
	}
	budget := s.lim.Timeout
	if d := pl.GetDeadlineMs(); d > 0 {
		budget = min(budget, time.Duration(d)*time.Millisecond)
	}
	// The budget starts when the request arrived: time spent waiting for
	// admission counts.
	now := arrival(ctx)
	soft := now.Add(budget - min(budget/10, maxReplyMargin))
	if dl, ok := ctx.Deadline(); ok {
		margin := min(dl.Sub(now)/10, maxTransportMargin)
		if t := dl.Add(-margin); t.Before(soft) {
			soft = t
		}
	}
	lim.Deadline = soft
	hctx, cancel := context.WithDeadline(ctx, soft.Add(hardGrace))
	return lim, hctx, cancel, nil
}

// startBy is when a query whose budget runs from arrived to deadline must
// have started, or be refused. Half the budget: a query admitted later
// would have little time left for its work, so its answer would be
// mostly cut short and its client's wait mostly wasted, and under
// overload an early refusal with a retry hint serves a client better
// than a long wait ending in one.
func startBy(arrived, deadline time.Time) time.Time {
	return deadline.Add(-deadline.Sub(arrived) / 2)
}

func limitToProto(l graph.Limit) rdgv1.Limit {
	switch l {
	case graph.LimitResults:
		return rdgv1.Limit_LIMIT_MAX_RESULTS
	case graph.LimitEdges:
		return rdgv1.Limit_LIMIT_MAX_EDGES
	case graph.LimitVisited:
		return rdgv1.Limit_LIMIT_MAX_VISITED
	case graph.LimitFanout:
		return rdgv1.Limit_LIMIT_MAX_FANOUT
	case graph.LimitDeadline:
		return rdgv1.Limit_LIMIT_DEADLINE
	}
	return rdgv1.Limit_LIMIT_UNSPECIFIED
}

// visitedCount fits a visit count into the API's uint32.
func visitedCount(n int) uint32 {
	if n > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(n)
}
