package jobrun

import (
	"testing"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
)

// The job file and the engine name dead letters without linking codec;
// their names must be codec's, which the writer and rdg dlq read.
func TestDeadLetterNamesAreCodecs(t *testing.T) {
	if got, want := job.DeadLetterTopic("x"), codec.DeadLetterPrefix+"x"; got != want {
		t.Errorf("job.DeadLetterTopic(x) = %q, want %q", got, want)
	}
	if engine.StageDecode != codec.StageDecode {
		t.Errorf("engine.StageDecode = %q, codec.StageDecode = %q", engine.StageDecode, codec.StageDecode)
	}
	// A job named like the writer's dead letters is refused.
	if _, err := job.Parse("x.yaml", []byte("name: "+codec.WriterDeadLetterPrefix+"main\nsource: {topic: t}\nnodes: [{type: a, id: x}]\n")); err == nil {
		t.Errorf("job named %smain accepted", codec.WriterDeadLetterPrefix)
	}
}
