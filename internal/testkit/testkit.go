// Package testkit is the fixture rdg's package tests share: a real Kafka
// broker (kfake over TCP) with rdg's own schema registry served over HTTP
// in front of it, Confluent-framed Avro values for it, and waiting for a
// condition instead of sleeping. Only tests import it; it must not be
// linked by any program, which is why it may import the embedded broker's
// library and the registry freely.
package testkit

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/registry"
)

// Ctx is a context that ends after 30 s or with the test, whichever is
// first: no fixture call can hang a test run.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Env is a real broker with the registry in front of it, both closed when
// the test ends.
type Env struct {
	Cluster *kfake.Cluster
	Reg     *sr.Client
	// HTTP serves the registry; closing it is a registry outage.
	HTTP *httptest.Server
}

// NewEnv starts a one-broker kfake cluster on a free port and rdg's
// registry over it.
func NewEnv(t testing.TB) *Env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	srv, err := registry.New(Ctx(t), registry.Seeds(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	reg, err := sr.NewClient(sr.URLs(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Cluster: c, Reg: reg, HTTP: hs}
}

// Seeds are the broker's addresses.
func (e *Env) Seeds() []string { return e.Cluster.ListenAddrs() }

// Register registers schema under subject and returns its id and parsed
// form.
func (e *Env) Register(t testing.TB, subject, schema string) (int, avro.Schema) {
	t.Helper()
	id, err := codec.Register(Ctx(t), e.Reg, subject, schema)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	return id, sch
}

// Encode frames v, written with sch, as a Confluent record value of
// schema id.
func Encode(t testing.TB, id int, sch avro.Schema, v any) []byte {
	t.Helper()
	body, err := avro.Marshal(sch, v)
	if err != nil {
		t.Fatal(err)
	}
	return append(codec.AppendHeader(nil, id), body...)
}

// Await polls cond every 10 ms until it reports done, failing the test
// with what and cond's last status if timeout passes first.
func Await(t testing.TB, timeout time.Duration, what string, cond func() (done bool, status string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, status := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, timeout, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
