package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
)

// TestBadRecordsDoNotStopJob sends garbage and a record with an unknown
// schema id between good records: the job counts and logs each bad one
// with its topic, partition and offset, dead-letters it, and goes on.
func TestBadRecordsDoNotStopJob(t *testing.T) {
	st := startStack(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs"))
	cl := st.producer(t)
	ctx := context.Background()
	if err := demo.EnsureTopics(ctx, kadm.NewClient(cl), 1); err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())
	login := func(member string) []byte {
		return p.encode(demo.TopicLogins, demo.LoginSchema, &demo.Login{EventID: "e-" + member, EventTs: time.Now().Truncate(time.Millisecond),
			MemberID: member, ProfileID: "p-" + member, DeviceID: "d-" + member, DeviceType: "tv", Country: "FR"})
	}
	good := login("m-before")
	unknownID := append(codec.AppendHeader(nil, 987654), good[codec.HeaderSize:]...)
	values := [][]byte{good, []byte("\xde\xad garbage, not Avro"), unknownID, login("m-after")}
	var offsets []int64
	for _, v := range values {
		r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: demo.TopicLogins, Key: []byte("k"), Value: v}).First()
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, r.Offset)
	}

	hasDevice := func(member string) bool {
		found := false
		_ = st.Store().Edges(ctx, graph.NodeRef{Type: "account", ID: member}, graph.Out, "uses", func(*graph.Edge) bool {
			found = true
			return false
		})
		return found
	}
	await(t, 10*time.Second, func() (bool, string) {
		return hasDevice("m-before") && hasDevice("m-after"), "good records around the bad ones not in the graph yet"
	})
	if got := metricValue(t, st, "rdg_job_records_dead_lettered_total", map[string]string{"job": "logins", "stage": engine.StageDecode}); got != 2 {
		t.Errorf("dead-lettered (decode) count = %v, want 2", got)
	}
	for _, off := range offsets[1:3] {
		want := fmt.Sprintf("topic=%s partition=0 offset=%d", demo.TopicLogins, off)
		if !strings.Contains(st.logs.String(), want) {
			t.Errorf("no log line with %q; logs:\n%s", want, st.logs.String())
		}
	}

	// Both bad records are in the dead-letter topic, bytes intact, with
	// headers saying where they came from and why.
	dlq, err := kgo.NewClient(kgo.SeedBrokers(st.Seeds()...), kgo.ConsumeTopics(job.DeadLetterTopic("logins")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close()
	var got []*kgo.Record
	pollCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for len(got) < 2 {
		fs := dlq.PollFetches(pollCtx)
		if pollCtx.Err() != nil {
			t.Fatalf("dead-letter topic has %d records, want 2", len(got))
		}
		got = append(got, fs.Records()...)
	}
	for i, r := range got {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		if string(r.Value) != string(values[i+1]) {
			t.Errorf("dead letter %d: value differs from the original record", i)
		}
		if h[codec.HeaderStage] != engine.StageDecode || h[codec.HeaderTopic] != demo.TopicLogins ||
			h[codec.HeaderOffset] != fmt.Sprint(offsets[i+1]) || h[codec.HeaderError] == "" {
			t.Errorf("dead letter %d headers = %v", i, h)
		}
	}
	if h := got[1].Headers; !hasHeader(h, codec.HeaderSchemaID, "987654") {
		t.Errorf("unknown-schema dead letter lacks its schema id header: %v", h)
	}
}

func hasHeader(hs []kgo.RecordHeader, k, v string) bool {
	for _, h := range hs {
		if h.Key == k && string(h.Value) == v {
			return true
		}
	}
	return false
}

// metricValue reads one counter or gauge from the stack's registry.
func metricValue(t *testing.T, st *testStack, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := st.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
