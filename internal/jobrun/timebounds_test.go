package jobrun

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/testkit"
)

// A record whose event time is out of bounds goes to the dead-letter topic
// at stage time, with its bytes and a reason naming the time and the
// bound, and is counted; it contributes no element, so it cannot win a
// later update's properties; the records around it are mapped as usual.
func TestTimeBoundsDeadLetter(t *testing.T) {
	e := testkit.NewEnv(t)
	ctx := testkit.Ctx(t)
	id, sch := e.Register(t, codec.Subject("member.visits"), visitV1)
	j := compileJob(t, "inline.yaml", runJob)
	prod := &heldProducer{}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	c := NewChain(j, ChainConfig{Schemas: codec.NewSchemas(e.Reg), Elements: codec.NewElements(e.Reg), Producer: prod, Metrics: m})

	now := time.Now()
	future := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	value := testkit.Encode(t, id, sch, visitV1Rec{MemberID: "m-1", TitleID: "t-1"})
	for i, ts := range []time.Time{future, now} {
		rec := &kgo.Record{Topic: "member.visits", Partition: 2, Offset: int64(40 + i), Key: []byte("k"), Value: value, Timestamp: ts}
		if err := c.Ingest(ctx, rec, now); err != nil {
			t.Fatal(err)
		}
	}
	c.Emit(ctx, now, true)
	if len(prod.recs) != 4 {
		t.Fatalf("%d records produced, want a dead letter and the second record's 3 elements", len(prod.recs))
	}
	dl := prod.recs[0]
	h := headers(dl)
	if dl.Topic != job.DeadLetterTopic("visits") || string(dl.Value) != string(value) || string(dl.Key) != "k" ||
		h[codec.HeaderStage] != engine.StageTime || h[codec.HeaderTopic] != "member.visits" || h[codec.HeaderPartition] != "2" || h[codec.HeaderOffset] != "40" {
		t.Fatalf("dead letter on %s key %q headers %v", dl.Topic, dl.Key, h)
	}
	if want := "event time 9999-01-01T00:00:00Z is more than time_bounds.max_ahead 1h0m0s ahead of the processing clock"; !strings.Contains(h[codec.HeaderError], want) {
		t.Fatalf("reason %q, want it to contain %q", h[codec.HeaderError], want)
	}
	for _, r := range prod.recs[1:] {
		if !r.Timestamp.Equal(now.Truncate(time.Millisecond)) {
			t.Fatalf("element on %s at %v, want the second record's time %v", r.Topic, r.Timestamp, now)
		}
	}
	if n := gathered(t, reg, "rdg_job_records_dead_lettered_total", "stage", engine.StageTime); n != 1 {
		t.Fatalf("dead-lettered{stage=time} = %v, want 1", n)
	}
}

// gathered is the value of reg's counter or gauge name in the series
// whose label has value; 0 if none.
func gathered(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}
