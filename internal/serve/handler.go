// Package serve owns the wire form of rdg's API and serving it over HTTP:
// the connect-go handler for rdg.v1.GraphService (gRPC, gRPC-Web and
// Connect/JSON on one handler), request validation and limits, the
// conversion between protobuf and graph types, and an HTTP server that
// speaks HTTP/1.1 and cleartext HTTP/2 on one port.
//
// serve knows the graph only as a graph.Reader. It must not know Kafka,
// Pebble, PostgreSQL or jobs: every store backend is served the same way,
// and the API cannot grow a dependency on how the graph was built.
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/graph"
)

// Limits bound what one request may cost, so that one client cannot starve
// the others. A "Default" applies when the request leaves the field unset
// (0); a request asking for more than a "Max" gets the maximum and a
// truncated result, except for depth, which is refused: a shallower walk
// than asked for would look like a complete answer.
type Limits struct {
	// GetNodesMax is the most refs one GetNodes request may name.
	GetNodesMax int
	// NeighborsDefault and NeighborsMax bound NeighborsRequest.limit.
	NeighborsDefault, NeighborsMax int
	// TraverseMaxDepth bounds TraverseRequest.depth and the number of steps.
	TraverseMaxDepth int
	// TraverseNodesDefault and TraverseNodesMax bound TraverseRequest.max_nodes.
	TraverseNodesDefault, TraverseNodesMax int
	// TraverseEdgesDefault and TraverseEdgesMax bound TraverseRequest.max_edges.
	TraverseEdgesDefault, TraverseEdgesMax int
	// Timeout is the server-side deadline of every query; a client may
	// set a shorter one.
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
		TraverseMaxDepth:     10,
		TraverseNodesDefault: 1_000,
		TraverseNodesMax:     100_000,
		TraverseEdgesDefault: 10_000,
		TraverseEdgesMax:     1_000_000,
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
	fill(&l.GetNodesMax, d.GetNodesMax)
	fill(&l.NeighborsMax, d.NeighborsMax)
	fill(&l.NeighborsDefault, d.NeighborsDefault)
	fill(&l.TraverseMaxDepth, d.TraverseMaxDepth)
	fill(&l.TraverseNodesMax, d.TraverseNodesMax)
	fill(&l.TraverseNodesDefault, d.TraverseNodesDefault)
	fill(&l.TraverseEdgesMax, d.TraverseEdgesMax)
	fill(&l.TraverseEdgesDefault, d.TraverseEdgesDefault)
	fill(&l.MaxRequestBytes, d.MaxRequestBytes)
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	// A default above the maximum would make every unset limit an error
	// of the configuration rather than of the request.
	l.NeighborsDefault = min(l.NeighborsDefault, l.NeighborsMax)
	l.TraverseNodesDefault = min(l.TraverseNodesDefault, l.TraverseNodesMax)
	l.TraverseEdgesDefault = min(l.TraverseEdgesDefault, l.TraverseEdgesMax)
	return l
}

// clamp applies a default and a maximum to a request's limit field.
func clamp(v uint32, def, maximum int) int {
	switch {
	case v == 0:
		return def
	case uint64(v) > uint64(maximum):
		return maximum
	}
	return int(v)
}

// Opt configures NewHandler.
type Opt func(*config)

type config struct {
	limits      Limits
	log         *slog.Logger
	routes      []route
	handlerOpts []connect.HandlerOption
}

type route struct {
	pattern string
	h       http.Handler
}

// WithLimits replaces DefaultLimits; zero fields keep their default.
func WithLimits(l Limits) Opt { return func(c *config) { c.limits = l } }

// WithLogger sets the logger for access logs (debug level) and for store
// errors, whose details are logged rather than sent to clients. The default
// is slog.Default().
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.log = l } }

// WithHandle mounts h at pattern (http.ServeMux syntax) next to the API,
// e.g. /metrics, /healthz or the web explorer, so that everything is served
// on one port. A pattern that conflicts with the API's makes NewHandler
// panic, as http.ServeMux does.
func WithHandle(pattern string, h http.Handler) Opt {
	return func(c *config) { c.routes = append(c.routes, route{pattern, h}) }
}

// WithHandlerOptions passes options to the connect handler, e.g. an
// interceptor that records metrics. They run inside the access log.
func WithHandlerOptions(opts ...connect.HandlerOption) Opt {
	return func(c *config) { c.handlerOpts = append(c.handlerOpts, opts...) }
}

// NewHandler serves rdg.v1.GraphService from r at /rdg.v1.GraphService/
// over gRPC, gRPC-Web and the Connect protocol (binary and JSON), plus the
// routes added with WithHandle. gRPC needs HTTP/2; Serve provides it
// without TLS.
func NewHandler(r graph.Reader, opts ...Opt) http.Handler {
	if r == nil {
		panic("serve.NewHandler: nil graph.Reader")
	}
	c := config{limits: DefaultLimits(), log: slog.Default()}
	for _, o := range opts {
		o(&c)
	}
	c.limits = c.limits.withDefaults()
	svc := &service{r: r, lim: c.limits, log: c.log}

	hopts := []connect.HandlerOption{
		// Outermost, so that the log shows the code a panic turned into.
		connect.WithInterceptors(accessLog(c.log)),
		connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
			c.log.ErrorContext(ctx, "panic serving request", "procedure", spec.Procedure, "panic", p)
			return connect.NewError(connect.CodeInternal, errors.New("internal error"))
		}),
		connect.WithReadMaxBytes(c.limits.MaxRequestBytes),
	}
	hopts = append(hopts, c.handlerOpts...)

	mux := http.NewServeMux()
	mux.Handle(rdgv1connect.NewGraphServiceHandler(svc, hopts...))
	for _, rt := range c.routes {
		mux.Handle(rt.pattern, rt.h)
	}
	return mux
}

// accessLog logs each call at debug level. Access logs at a higher level
// would cost every query a log line in production, where the metrics
// already count calls.
func accessLog(log *slog.Logger) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if !log.Enabled(ctx, slog.LevelDebug) {
				return next(ctx, req)
			}
			start := time.Now()
			resp, err := next(ctx, req)
			attrs := []slog.Attr{
				slog.String("procedure", req.Spec().Procedure),
				slog.String("protocol", req.Peer().Protocol),
				slog.String("peer", req.Peer().Addr),
				slog.Duration("duration", time.Since(start)),
				slog.String("code", codeString(err)),
			}
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
			log.LogAttrs(ctx, slog.LevelDebug, "rpc", attrs...)
			return resp, err
		}
	}
}

func codeString(err error) string {
	if err == nil {
		return "ok"
	}
	return connect.CodeOf(err).String()
}

// service implements rdgv1connect.GraphServiceHandler.
type service struct {
	r   graph.Reader
	lim Limits
	log *slog.Logger
}

var _ rdgv1connect.GraphServiceHandler = (*service)(nil)

func (s *service) GetNodes(ctx context.Context, req *connect.Request[rdgv1.GetNodesRequest]) (*connect.Response[rdgv1.GetNodesResponse], error) {
	m := req.Msg
	if n := len(m.GetRefs()); n > s.lim.GetNodesMax {
		return nil, invalidArg("refs", "%d refs, more than the server's maximum of %d", n, s.lim.GetNodesMax)
	}
	refs, err := nodeRefsFromProto("refs", m.GetRefs())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.lim.Timeout)
	defer cancel()

	out := &rdgv1.GetNodesResponse{}
	seen := make(map[graph.NodeRef]struct{}, len(refs))
	for _, ref := range refs {
		if _, ok := seen[ref]; ok {
			continue
		}
		seen[ref] = struct{}{}
		n, ok, err := s.r.Node(ctx, ref)
		if err != nil {
			return nil, s.queryError(ctx, req.Spec(), err)
		}
		if ok {
			out.Nodes = append(out.Nodes, nodeToProto(&n))
		} else {
			out.Missing = append(out.Missing, nodeRefToProto(ref))
		}
	}
	return connect.NewResponse(out), nil
}

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
	types, err := edgeTypesFromProto("edge_types", m.GetEdgeTypes())
	if err != nil {
		return nil, err
	}
	limit := clamp(m.GetLimit(), s.lim.NeighborsDefault, s.lim.NeighborsMax)
	ctx, cancel := context.WithTimeout(ctx, s.lim.Timeout)
	defer cancel()

	edges, nodes, truncated, err := graph.Neighbors(ctx, s.r, ref, dir, types, limit)
	if err == nil && len(nodes) != len(edges) {
		// graph.Neighbors loses the error of a failed node read and returns
		// one node fewer than edges; this keeps that from becoming a panic.
		err = errors.New("graph.Neighbors: fewer nodes than edges (a node read failed)")
	}
	if err != nil {
		return nil, s.queryError(ctx, req.Spec(), err)
	}
	out := &rdgv1.NeighborsResponse{
		Neighbors: make([]*rdgv1.Neighbor, len(edges)),
		Truncated: truncated,
	}
	for i := range edges {
		out.Neighbors[i] = &rdgv1.Neighbor{Edge: edgeToProto(&edges[i]), Node: nodeToProto(&nodes[i])}
	}
	return connect.NewResponse(out), nil
}

func (s *service) Traverse(ctx context.Context, req *connect.Request[rdgv1.TraverseRequest]) (*connect.Response[rdgv1.TraverseResponse], error) {
	m := req.Msg
	if len(m.GetStart()) == 0 {
		return nil, invalidArg("start", "at least one start node is required")
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
	ctx, cancel := context.WithTimeout(ctx, s.lim.Timeout)
	defer cancel()

	sub, err := graph.Traverse(ctx, s.r, graph.TraverseRequest{
		Start:    start,
		Steps:    steps,
		Depth:    int(m.GetDepth()),
		MaxNodes: clamp(m.GetMaxNodes(), s.lim.TraverseNodesDefault, s.lim.TraverseNodesMax),
		MaxEdges: clamp(m.GetMaxEdges(), s.lim.TraverseEdgesDefault, s.lim.TraverseEdgesMax),
	})
	if err != nil {
		return nil, s.queryError(ctx, req.Spec(), err)
	}
	out := &rdgv1.TraverseResponse{
		Nodes:     nodesToProto(sub.Nodes),
		Depths:    make([]uint32, len(sub.Depths)),
		Edges:     edgesToProto(sub.Edges),
		Truncated: sub.Truncated,
	}
	for i, d := range sub.Depths {
		out.Depths[i] = uint32(d)
	}
	return connect.NewResponse(out), nil
}

// queryError turns an error from reading the graph into what the client
// sees. Store errors can carry file paths and keys, so the client gets only
// the code; the details go to the log.
func (s *service) queryError(ctx context.Context, spec connect.Spec, err error) error {
	// ctx.Err() too, because a store may wrap the context's error in one
	// that errors.Is does not see through.
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("query took longer than its deadline"))
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}
	s.log.ErrorContext(ctx, "graph query failed", "procedure", spec.Procedure, "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("reading the graph failed"))
}
