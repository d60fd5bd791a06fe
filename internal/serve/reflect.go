package serve

import (
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
)

// WithReflection mounts gRPC server reflection (grpc.reflection.v1 and the
// v1alpha that older clients still ask for) next to the API, so that
// grpcurl and similar tools can list and describe the services and call
// them without the .proto files:
//
//	grpcurl -plaintext 127.0.0.1:8080 list
//	grpcurl -plaintext -d '{"start":[{"type":"account","id":"m-000001"}]}' \
//	  127.0.0.1:8080 rdg.v1.GraphService/Traverse
//
// Reflection lists rdg.v1.GraphService, the health service (whether or not
// WithHealth is used: it costs nothing to describe) and reflection itself.
// Descriptors come from the protobuf global registry, where the generated
// code registers them.
func WithReflection() Opt {
	r := grpcreflect.NewStaticReflector(
		rdgv1connect.GraphServiceName,
		grpchealth.HealthV1ServiceName,
		grpcreflect.ReflectV1ServiceName,
		grpcreflect.ReflectV1AlphaServiceName,
	)
	return func(c *config) {
		WithHandle(grpcreflect.NewHandlerV1(r))(c)
		WithHandle(grpcreflect.NewHandlerV1Alpha(r))(c)
	}
}

// Health is the state behind the gRPC health checking service
// (grpc.health.v1.Health, Check and Watch). It reports two names: "" (the
// whole server) and rdg.v1.GraphService. Both start NOT_SERVING; the
// process that assembles the server calls SetServing once every part has
// started, and SetServing(false) when it begins to shut down, so that load
// balancers drain it before connections close.
type Health struct {
	c *grpchealth.StaticChecker
}

// NewHealth returns a Health that reports NOT_SERVING until SetServing.
func NewHealth() *Health {
	h := &Health{c: grpchealth.NewStaticChecker()}
	h.SetServing(false)
	return h
}

// SetServing sets the status of the server and of rdg.v1.GraphService.
func (h *Health) SetServing(ok bool) {
	st := grpchealth.StatusNotServing
	if ok {
		st = grpchealth.StatusServing
	}
	h.c.SetStatus("", st)
	h.c.SetStatus(rdgv1connect.GraphServiceName, st)
}

// WithHealth mounts the gRPC health checking service, reporting h.
func WithHealth(h *Health) Opt {
	return WithHandle(grpchealth.NewHandler(h.c))
}
