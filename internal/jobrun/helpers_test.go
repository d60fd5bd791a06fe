package jobrun

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/testkit"
)

// testEnv is testkit's broker and registry under the names this
// package's tests use.
type testEnv struct {
	*testkit.Env
	cluster *kfake.Cluster
	reg     *sr.Client
	http    *httptest.Server
}

func newTestEnv(t testing.TB) *testEnv {
	e := testkit.NewEnv(t)
	return &testEnv{Env: e, cluster: e.Cluster, reg: e.Reg, http: e.HTTP}
}

func testCtx(t testing.TB) context.Context { return testkit.Ctx(t) }

// register registers schema under subject and returns its id and parsed form.
func (e *testEnv) register(t testing.TB, subject, schema string) (int, avro.Schema) {
	t.Helper()
	return e.Register(t, subject, schema)
}

// encode frames v, written with sch, as a Confluent record value.
func encode(t testing.TB, id int, sch avro.Schema, v any) []byte {
	t.Helper()
	return testkit.Encode(t, id, sch, v)
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
