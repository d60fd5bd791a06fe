package serve

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/graph"
)

// The relationship queries. Each handler validates its request (every
// error an InvalidArgument naming the field), turns it into a graph query
// with the server's limits applied (guards), runs it, and converts the
// result; a limit reached is a partial result, not an error.

func (s *service) Neighbors(ctx context.Context, req *connect.Request[rdgv1.NeighborsRequest]) (*connect.Response[rdgv1.NeighborsResponse], error) {
	m := req.Msg
	ref, err := nodeRefFromProto("node", m.GetNode())
	if err != nil {
		return nil, err
	}
	dir, err := directionFromProto("direction", m.GetDirection())
	if err != nil {
		return nil, err
	}
	types, err := typesFromProto("edge_types", m.GetEdgeTypes())
	if err != nil {
		return nil, err
	}
	nodeTypes, err := typesFromProto("node_types", m.GetNodeTypes())
	if err != nil {
		return nil, err
	}
	if err := timeRangeFromProto("", m.GetSinceMs(), m.GetUntilMs()); err != nil {
		return nil, err
	}
	check := s.checker(m.GetStrict())
	if err := check.nodeType("node.type", ref.Type); err != nil {
		return nil, err
	}
	if err := check.edgeTypes("edge_types", m.GetEdgeTypes()); err != nil {
		return nil, err
	}
	if err := check.nodeTypes("node_types", m.GetNodeTypes()); err != nil {
		return nil, err
	}
	var after *graph.Cursor
	if m.GetCursor() != "" {
		if after, err = decodeCursor("cursor", m.GetCursor(), ref, dir, types); err != nil {
			return nil, err
		}
	}
	lim, ctx, cancel, err := s.guards(ctx, "limits", m.GetLimits())
	if err != nil {
		return nil, err
	}
	defer cancel()
	limit := clamp(m.GetLimit(), s.lim.NeighborsDefault, s.lim.NeighborsMax)
	if r := m.GetLimits().GetMaxResults(); r > 0 {
		limit = min(limit, int(r))
	}
	if err := s.admit(ctx, s.neighborsCost(&limit), lim.Deadline); err != nil {
		return nil, err
	}

	res, err := graph.ListNeighbors(ctx, s.r, graph.NeighborsRequest{
		Node:      ref,
		Direction: dir,
		EdgeTypes: types,
		Filter:    graph.Filter{NodeTypes: nodeTypes, Since: m.GetSinceMs(), Until: m.GetUntilMs()},
		Limit:     limit,
		After:     after,
		Limits:    lim,
	})
	if err != nil {
		return nil, s.queryError(ctx, req.Spec(), err)
	}
	if len(res.Edges) == 0 && after == nil && !res.Partial {
		if err := check.node(ctx, s.r, "node", "node", ref); err != nil {
			return nil, s.checkError(ctx, req.Spec(), err)
		}
	}
	var pa protoAlloc
	out := &rdgv1.NeighborsResponse{
		Warnings:  check.warnings,
		Neighbors: make([]*rdgv1.Neighbor, len(res.Edges)),
		Truncated: res.Partial,
		Partial:   res.Partial,
		LimitHit:  limitToProto(res.LimitHit),
		Visited:   visitedCount(res.Visited),
	}
	for i := range res.Edges {
		out.Neighbors[i] = &rdgv1.Neighbor{Edge: pa.edge(&res.Edges[i]), Node: pa.node(&res.Nodes[i])}
	}
	if res.Next != nil {
		out.NextCursor = encodeCursor(*res.Next, ref, dir, types)
	}
	return connect.NewResponse(out), nil
}

func (s *service) Traverse(ctx context.Context, req *connect.Request[rdgv1.TraverseRequest]) (*connect.Response[rdgv1.TraverseResponse], error) {
	m := req.Msg
	if len(m.GetStart()) == 0 {
		return nil, invalidArg("start", "at least one start node is required")
	}
	if n := len(m.GetStart()); n > s.lim.TraverseStartMax {
		return nil, invalidArg("start", "%d start nodes, more than the server's maximum of %d", n, s.lim.TraverseStartMax)
	}
	start, err := nodeRefsFromProto("start", m.GetStart())
	if err != nil {
		return nil, err
	}
	maxDepth := s.lim.TraverseMaxDepth
	if n := len(m.GetSteps()); n > maxDepth {
		return nil, invalidArg("steps", "%d steps, more than the server's maximum depth of %d", n, maxDepth)
	}
	steps, err := stepsFromProto("steps", m.GetSteps())
	if err != nil {
		return nil, err
	}
	if d := m.GetDepth(); uint64(d) > uint64(maxDepth) {
		return nil, invalidArg("depth", "%d is more than the server's maximum of %d", d, maxDepth)
	}
	check := s.checker(m.GetStrict())
	if err := check.refs("start", m.GetStart()); err != nil {
		return nil, err
	}
	if err := check.steps("steps", m.GetSteps()); err != nil {
		return nil, err
	}
	var mode graph.TraverseMode
	switch m.GetMode() {
	case rdgv1.TraverseMode_TRAVERSE_MODE_UNSPECIFIED, rdgv1.TraverseMode_TRAVERSE_MODE_SUBGRAPH:
		mode = graph.ModeSubgraph
	case rdgv1.TraverseMode_TRAVERSE_MODE_PATHS:
		mode = graph.ModePaths
	default:
		return nil, invalidArg("mode", "unknown mode %d", int32(m.GetMode()))
	}
	lim, ctx, cancel, err := s.guards(ctx, "limits", m.GetLimits())
	if err != nil {
		return nil, err
	}
	defer cancel()
	maxNodes := m.GetMaxNodes()
	if maxNodes == 0 && m.GetLimits().GetMaxResults() > 0 {
		maxNodes = uint32(m.GetLimits().GetMaxResults())
	}

	lim.ReplyPerVisit = replyPerVisit
	binary := binaryAnswer(req.Header(), req.HTTPMethod())
	treq := graph.TraverseRequest{
		Start:    start,
		Steps:    steps,
		Depth:    int(m.GetDepth()),
		MaxNodes: clamp(maxNodes, s.lim.TraverseNodesDefault, s.lim.TraverseNodesMax),
		MaxEdges: clamp(m.GetMaxEdges(), s.lim.TraverseEdgesDefault, s.lim.TraverseEdgesMax),
		Mode:     mode,
		Limits:   lim,
		// The binary answer re-encodes properties from the store's
		// encoding, without maps in between.
		RawProps: binary,
	}
	if err := s.admit(ctx, s.traverseCost(&treq, treq.Hops()), lim.Deadline); err != nil {
		return nil, err
	}
	sub, err := graph.Traverse(ctx, s.r, treq)
	if err != nil {
		return nil, s.queryError(ctx, req.Spec(), err)
	}
	if err := s.checkStarts(ctx, &check, start, mode, sub); err != nil {
		return nil, s.checkError(ctx, req.Spec(), err)
	}
	var pa protoAlloc
	out := &rdgv1.TraverseResponse{
		Warnings:  check.warnings,
		Depths:    make([]uint32, len(sub.Depths)),
		Truncated: sub.Partial,
		Partial:   sub.Partial,
		LimitHit:  limitToProto(sub.LimitHit),
		Visited:   visitedCount(sub.Visited),
	}
	if binary {
		// Fields nodes and edges.
		if err := setRawGraph(out, 1, sub.Nodes, 3, sub.Edges, sub.DecodeProps); err != nil {
			return nil, s.queryError(ctx, req.Spec(), err)
		}
	} else {
		out.Nodes, out.Edges = pa.nodeList(sub.Nodes), pa.edgeList(sub.Edges)
	}
	for i, d := range sub.Depths {
		out.Depths[i] = uint32(d)
	}
	for i := range sub.Paths {
		out.Paths = append(out.Paths, pa.path(&sub.Paths[i]))
	}
	return connect.NewResponse(out), nil
}

func (s *service) ShortestPath(ctx context.Context, req *connect.Request[rdgv1.ShortestPathRequest]) (*connect.Response[rdgv1.ShortestPathResponse], error) {
	m := req.Msg
	from, err := nodeRefFromProto("from", m.GetFrom())
	if err != nil {
		return nil, err
	}
	to, err := nodeRefFromProto("to", m.GetTo())
	if err != nil {
		return nil, err
	}
	dir, err := directionFromProto("direction", m.GetDirection())
	if err != nil {
		return nil, err
	}
	types, err := typesFromProto("edge_types", m.GetEdgeTypes())
	if err != nil {
		return nil, err
	}
	check := s.checker(m.GetStrict())
	if err := check.nodeType("from.type", from.Type); err != nil {
		return nil, err
	}
	if err := check.nodeType("to.type", to.Type); err != nil {
		return nil, err
	}
	if err := check.edgeTypes("edge_types", m.GetEdgeTypes()); err != nil {
		return nil, err
	}
	depth := s.lim.PathDepthDefault
	if d := m.GetMaxDepth(); d > 0 {
		if uint64(d) > uint64(s.lim.PathMaxDepth) {
			return nil, invalidArg("max_depth", "%d is more than the server's maximum of %d", d, s.lim.PathMaxDepth)
		}
		depth = int(d)
	}
	lim, ctx, cancel, err := s.guards(ctx, "limits", m.GetLimits())
	if err != nil {
		return nil, err
	}
	defer cancel()
	if err := s.admit(ctx, s.pathCost(&lim, depth), lim.Deadline); err != nil {
		return nil, err
	}

	res, err := graph.ShortestPath(ctx, s.r, graph.PathRequest{
		From: from, To: to, Direction: dir, EdgeTypes: types, MaxDepth: depth, Limits: lim,
	})
	if err != nil {
		return nil, s.queryError(ctx, req.Spec(), err)
	}
	if !res.Found && !res.Partial {
		if err := check.node(ctx, s.r, "from", "from node", from); err != nil {
			return nil, s.checkError(ctx, req.Spec(), err)
		}
		if err := check.node(ctx, s.r, "to", "to node", to); err != nil {
			return nil, s.checkError(ctx, req.Spec(), err)
		}
	}
	out := &rdgv1.ShortestPathResponse{
		Warnings: check.warnings,
		Found:    res.Found,
		Partial:  res.Partial,
		LimitHit: limitToProto(res.LimitHit),
		Visited:  visitedCount(res.Visited),
	}
	if res.Found {
		var pa protoAlloc
		out.Path = pa.path(&res.Path)
	}
	return connect.NewResponse(out), nil
}

func (s *service) ConnectedGroup(ctx context.Context, req *connect.Request[rdgv1.ConnectedGroupRequest]) (*connect.Response[rdgv1.ConnectedGroupResponse], error) {
	m := req.Msg
	ref, err := nodeRefFromProto("node", m.GetNode())
	if err != nil {
		return nil, err
	}
	types, err := typesFromProto("edge_types", m.GetEdgeTypes())
	if err != nil {
		return nil, err
	}
	check := s.checker(m.GetStrict())
	if err := check.nodeType("node.type", ref.Type); err != nil {
		return nil, err
	}
	if err := check.edgeTypes("edge_types", m.GetEdgeTypes()); err != nil {
		return nil, err
	}
	lim, ctx, cancel, err := s.guards(ctx, "limits", m.GetLimits())
	if err != nil {
		return nil, err
	}
	defer cancel()
	if l := m.GetLimit(); l > 0 {
		lim.MaxResults = clamp(l, s.lim.ResultsDefault, s.lim.ResultsMax)
	}
	lim.ReplyPerVisit = replyPerVisit
	if err := s.admit(ctx, s.groupCost(&lim), lim.Deadline); err != nil {
		return nil, err
	}

	res, err := graph.ConnectedGroup(ctx, s.r, graph.GroupRequest{Node: ref, EdgeTypes: types, Limits: lim})
	if err != nil {
		return nil, s.queryError(ctx, req.Spec(), err)
	}
	if len(res.Nodes) == 1 && bare(&res.Nodes[0]) {
		if err := check.node(ctx, s.r, "node", "node", ref); err != nil {
			return nil, s.checkError(ctx, req.Spec(), err)
		}
	}
	out := &rdgv1.ConnectedGroupResponse{
		Warnings: check.warnings,
		Size:     uint32(len(res.Nodes)),
		Partial:  res.Partial,
		LimitHit: limitToProto(res.LimitHit),
		Visited:  visitedCount(res.Visited),
	}
	if binaryAnswer(req.Header(), req.HTTPMethod()) {
		// Fields nodes and edges; the group's properties are decoded.
		if err := setRawGraph(out, 1, res.Nodes, 2, res.Edges, nil); err != nil {
			return nil, s.queryError(ctx, req.Spec(), err)
		}
	} else {
		var pa protoAlloc
		out.Nodes, out.Edges = pa.nodeList(res.Nodes), pa.edgeList(res.Edges)
	}
	return connect.NewResponse(out), nil
}

func (s *service) Stats(ctx context.Context, req *connect.Request[rdgv1.StatsRequest]) (*connect.Response[rdgv1.StatsResponse], error) {
	m := req.Msg
	k := s.lim.StatsTopKDefault
	if v := m.GetTopK(); v > 0 {
		if uint64(v) > uint64(s.lim.StatsTopKMax) {
			return nil, invalidArg("top_k", "%d is more than the server's maximum of %d", v, s.lim.StatsTopKMax)
		}
		k = int(v)
	}
	nodeTypes, err := typesFromProto("node_types", m.GetNodeTypes())
	if err != nil {
		return nil, err
	}
	check := s.checker(m.GetStrict())
	if err := check.nodeTypes("node_types", m.GetNodeTypes()); err != nil {
		return nil, err
	}
	lim, ctx, cancel, err := s.guards(ctx, "limits", nil)
	if err != nil {
		return nil, err
	}
	defer cancel()
	// Wait for a scan until the query's deadline, not the read context's
	// later one: the answer must leave in time.
	wctx, wcancel := context.WithDeadline(ctx, lim.Deadline)
	defer wcancel()
	st, err := s.stats.get(wctx, s.lim.StatsMaxAge)
	if err != nil {
		return nil, s.queryError(ctx, req.Spec(), err)
	}
	if st == nil {
		return connect.NewResponse(&rdgv1.StatsResponse{Partial: true, LimitHit: rdgv1.Limit_LIMIT_DEADLINE, Warnings: check.warnings}), nil
	}
	out := statsToProto(st, k, nodeTypes)
	out.Warnings = check.warnings
	return connect.NewResponse(out), nil
}

// checkStarts warns about (or with strict, refuses) the start nodes of a
// traversal that do not exist. Only a start node returned without a record
// can be one; in PATHS mode, where start nodes are returned only as the
// beginnings of paths, one that no path begins with.
func (s *service) checkStarts(ctx context.Context, check *checker, start []graph.NodeRef, mode graph.TraverseMode, sub *graph.Subgraph) error {
	var begins map[graph.NodeRef]struct{}
	if mode == graph.ModePaths {
		begins = make(map[graph.NodeRef]struct{}, len(start))
		for i := range sub.Paths {
			if ns := sub.Paths[i].Nodes; len(ns) > 0 {
				begins[ns[0].NodeRef] = struct{}{}
			}
		}
	}
	at := 0 // SUBGRAPH: start nodes come first, each once, in order
	for i, ref := range start {
		if mode == graph.ModePaths {
			if _, ok := begins[ref]; ok {
				continue
			}
		} else {
			if at >= len(sub.Nodes) || sub.Depths[at] != 0 || sub.Nodes[at].NodeRef != ref {
				continue // a repeat, or cut off by a limit
			}
			at++
			if !bare(&sub.Nodes[at-1]) {
				continue
			}
		}
		if err := check.node(ctx, s.r, index("start", i), "start node", ref); err != nil {
			return err
		}
	}
	return nil
}

// checkError is the client's error for a failed check: the check's own
// (NotFound), or what queryError makes of a read error.
func (s *service) checkError(ctx context.Context, spec connect.Spec, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	return s.queryError(ctx, spec, err)
}
