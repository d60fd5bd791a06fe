package serve_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rdgraph/rdg/internal/serve"
)

// reflectionClient opens a reflection stream (gRPC over h2c) with the
// given request headers (name, value pairs).
func reflectionClient(c *http.Client, url string, hdr ...string) *grpcreflect.ClientStream {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return grpcreflect.NewClient(c, url, connect.WithGRPC()).NewStream(context.Background(), grpcreflect.WithRequestHeaders(h))
}

func TestReflection(t *testing.T) {
	url := secServe(t, secHandler(t, ""), nil)
	rc := reflectionClient(secH2C(t), url)
	defer func() { _, _ = rc.Close() }()
	names, err := rc.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []protoreflect.FullName{"rdg.v1.GraphService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("ListServices = %v, missing %s", names, want)
		}
	}
	// grpcurl describes a service from the file that defines it.
	files, err := rc.FileContainingSymbol("rdg.v1.GraphService")
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, f := range files {
		for _, s := range f.GetService() {
			if s.GetName() == "GraphService" {
				for _, m := range s.GetMethod() {
					methods = append(methods, m.GetName())
				}
			}
		}
	}
	for _, want := range []string{"GetNodes", "Neighbors", "Traverse"} {
		if !slices.Contains(methods, want) {
			t.Errorf("GraphService methods by reflection = %v, missing %s", methods, want)
		}
	}
	if _, err := rc.FileContainingSymbol("grpc.health.v1.Health"); err != nil {
		t.Errorf("health service descriptor: %v", err)
	}
}

func TestHealthService(t *testing.T) {
	health := serve.NewHealth()
	url := secServe(t, serve.NewHandler(emptyStore(t), serve.WithHealth(health)), nil)
	for _, proto := range []struct {
		name string
		c    *grpchealth.Client
	}{
		{"grpc", grpchealth.NewClient(secH2C(t), url, connect.WithGRPC())},
		{"connect", grpchealth.NewClient(secH1(t), url)},
	} {
		check := func(service string) (grpchealth.Status, error) {
			r, err := proto.c.Check(context.Background(), &grpchealth.CheckRequest{Service: service})
			if err != nil {
				return 0, err
			}
			return r.Status, nil
		}
		health.SetServing(false)
		for _, svc := range []string{"", "rdg.v1.GraphService"} {
			if st, err := check(svc); err != nil || st != grpchealth.StatusNotServing {
				t.Errorf("%s: %q before start: %v %v, want not serving", proto.name, svc, st, err)
			}
		}
		health.SetServing(true)
		for _, svc := range []string{"", "rdg.v1.GraphService"} {
			if st, err := check(svc); err != nil || st != grpchealth.StatusServing {
				t.Errorf("%s: %q once started: %v %v, want serving", proto.name, svc, st, err)
			}
		}
		if _, err := check("no.such.Service"); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("%s: unknown service: %v, want not found", proto.name, err)
		}
	}
}
