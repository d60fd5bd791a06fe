package jobrun

import (
	"testing"

	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
)

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
