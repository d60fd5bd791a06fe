package jobrun

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/registry"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testEnv is a real broker (kfake over TCP) with rdg's own schema registry
// served over HTTP in front of it.
type testEnv struct {
	cluster *kfake.Cluster
	reg     *sr.Client
	http    *httptest.Server
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	srv, err := registry.New(testCtx(t), registry.Seeds(c.ListenAddrs()...))
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
	return &testEnv{cluster: c, reg: reg, http: hs}
}

// register registers schema under subject and returns its id and parsed form.
func (e *testEnv) register(t testing.TB, subject, schema string) (int, avro.Schema) {
	t.Helper()
	id, err := codec.Register(testCtx(t), e.reg, subject, schema)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	return id, sch
}

// encode frames v, written with sch, as a Confluent record value.
func encode(t testing.TB, id int, sch avro.Schema, v any) []byte {
	t.Helper()
	body, err := avro.Marshal(sch, v)
	if err != nil {
		t.Fatal(err)
	}
	return append(codec.AppendHeader(nil, id), body...)
}

// compileJob parses and compiles a job given inline; file places it (and so
// resolves source.schema) without the file having to exist.
func compileJob(t testing.TB, file, src string) *engine.Job {
	t.Helper()
	spec, err := job.Parse(file, []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	j, err := engine.Compile(spec)
	if err != nil {
		t.Fatalf("compile:\n%v", err)
	}
	return j
}

const (
	visitV1 = `{"type":"record","name":"Visit","namespace":"rdg.test","fields":[
		{"name":"member_id","type":"string"},
		{"name":"title_id","type":"string"}]}`
)

type visitV1Rec struct {
	MemberID string `avro:"member_id"`
	TitleID  string `avro:"title_id"`
}
