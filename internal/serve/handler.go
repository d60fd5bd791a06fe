// Package serve owns the wire form of rdg's API and serving it over HTTP:
// the connect-go handler for rdg.v1.GraphService (gRPC, gRPC-Web and
// Connect/JSON on one handler), request validation and limits, admission
// control (how much query work runs at once), the conversion between
// protobuf and graph types, the bearer token and the explorer's sessions,
// and an HTTP server that speaks HTTP/1.1 and cleartext HTTP/2 on one port.
//
// serve knows the graph only as a graph.Reader. It must not know Kafka,
// Pebble, PostgreSQL or jobs: every store backend is served the same way,
// and the API cannot grow a dependency on how the graph was built.
package serve

import (
	"compress/gzip"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/api/wire"
	"github.com/rdgraph/rdg/internal/graph"
)

// Opt configures NewHandler.
type Opt func(*config)

type config struct {
	limits      Limits
	admission   Admission
	metrics     prometheus.Registerer
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

// WithAdmission sets admission control: how many queries run at once,
// how much memory they may hold, how many wait (admission.go). Without it
// the handler admits every query at once, as Admission{} does.
func WithAdmission(a Admission) Opt { return func(c *config) { c.admission = a } }

// WithMetrics registers the handler's metrics (admission control's
// running, queued and rejected queries, and their reserved memory) with
// reg.
func WithMetrics(reg prometheus.Registerer) Opt { return func(c *config) { c.metrics = reg } }

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
//
// Time to live is the store's business: r must hide expired elements
// itself.
func NewHandler(r graph.Reader, opts ...Opt) http.Handler {
	if r == nil {
		panic("serve.NewHandler: nil graph.Reader")
	}
	c := config{limits: DefaultLimits(), log: slog.Default()}
	for _, o := range opts {
		o(&c)
	}
	c.limits = c.limits.withDefaults()
	svc := &service{r: r, lim: c.limits, log: c.log, adm: newAdmission(c.admission)}
	if c.metrics != nil {
		for _, m := range svc.adm.m.collectors() {
			c.metrics.MustRegister(m)
		}
	}
	svc.stats = newStatsCache(r, c.limits.StatsTopKMax, c.limits.StatsTimeout, c.log)
	svc.types, _ = r.(graph.TypeLister)

	hopts := []connect.HandlerOption{
		// Outermost, so that the log shows the code a panic turned into.
		connect.WithInterceptors(accessLog(c.log)),
		connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
			c.log.ErrorContext(ctx, "panic serving request", "procedure", spec.Procedure, "panic", p)
			return connect.NewError(connect.CodeInternal, errors.New("internal error"))
		}),
		// Requests with fields this server does not know are refused: the
		// field may be a filter or a limit, and ignoring it would answer
		// another question than the one asked.
		connect.WithInterceptors(refuseUnknownFields()),
		connect.WithReadMaxBytes(c.limits.MaxRequestBytes),
		connect.WithCodec(wire.Codec()),
		connect.WithCodec(strictJSON{name: "json"}),
		connect.WithCodec(strictJSON{name: "json; charset=utf-8"}),
		connect.WithCompression("gzip",
			func() connect.Decompressor { return &gzip.Reader{} },
			func() connect.Compressor { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }),
		connect.WithCompressMinBytes(compressMinBytes),
	}
	hopts = append(hopts, c.handlerOpts...)

	mux := http.NewServeMux()
	path, api := rdgv1connect.NewGraphServiceHandler(svc, hopts...)
	mux.Handle(path, svc.adm.tickets(api))
	for _, rt := range c.routes {
		mux.Handle(rt.pattern, rt.h)
	}
	return mux
}

// compressMinBytes: responses are gzip-compressed, for clients that accept
// it (connect-go clients do by default), only above this size and at gzip's
// fastest level. Graph APIs mostly run on fast networks, where compressing
// costs more time than it saves: gzip's fastest level takes longer to
// compress a 2-hop traversal's answer (about 150 KiB, 1,000 nodes and their
// edges) than a gigabit link takes to send it uncompressed, and it costs a
// noticeable share of serving the traversal (BENCHMARKS.md). Above a
// mebibyte, answers are rare and more likely to cross slower links.
const compressMinBytes = 1 << 20

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

// service implements rdgv1connect.GraphServiceHandler. The queries
// themselves are in query.go, their warnings in query_check.go.
type service struct {
	r     graph.Reader
	lim   Limits
	log   *slog.Logger
	stats *statsCache
	types graph.TypeLister // nil if r does not list its types
	adm   *admission
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
	check := s.checker(m.GetStrict())
	if err := check.refs("refs", m.GetRefs()); err != nil {
		return nil, err
	}
	deadline := arrival(ctx).Add(s.lim.Timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if err := s.admit(ctx, getNodesCost(len(refs)), deadline); err != nil {
		return nil, err
	}

	var pa protoAlloc
	out := &rdgv1.GetNodesResponse{Warnings: check.warnings}
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
			out.Nodes = append(out.Nodes, pa.node(&n))
		} else {
			out.Missing = append(out.Missing, nodeRefToProto(ref))
		}
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
