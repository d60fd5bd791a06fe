package dlq

import (
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// A replayed element's graph record carries the element's last_seen as its
// timestamp, as a live job's does (consumers and retention read it as the
// event time), not the time the replay produced it.
func TestReplayRecordTimestampIsLastSeen(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	buggy := writeJob(t, dir, buggyJob)
	if err := jobrun.Prepare(ctx, buggy, e.cluster.Seeds, nil, 1); err != nil {
		t.Fatal(err)
	}
	id, err := codec.Register(ctx, e.reg, codec.Subject("member.visits"), visitSchema)
	if err != nil {
		t.Fatal(err)
	}
	body, err := avro.Marshal(avro.MustParse(visitSchema), visit{"m-1", "t-1", "tv"})
	if err != nil {
		t.Fatal(err)
	}
	// Event time a day before the replay's clock: a record stamped with
	// the produce time could not pass for it.
	t0 := time.Now().Add(-24 * time.Hour).Truncate(time.Millisecond)
	e.deadLetter(t, ctx, buggy, sourceRec{partition: 0, offset: 3, key: []byte("m-1"),
		value: append(codec.AppendHeader(nil, id), body...), ts: t0})

	fixed := writeJob(t, dir, fixedJob)
	st, err := Replay(ctx, ReplayConfig{Cluster: e.cluster, Registry: e.reg, Job: fixed})
	if err != nil {
		t.Fatal(err)
	}
	if st.Replayed != 1 || st.Nodes != 2 || st.Edges != 1 {
		t.Fatalf("replay = %+v, want 1 record replayed into 2 nodes and 1 edge", st)
	}

	topics := []string{codec.NodeTopic("account"), codec.NodeTopic("title"), codec.EdgeTopic("watched")}
	want := e.endOffsets(t, ctx, topics...)
	if want != 3 {
		t.Fatalf("graph topics hold %d records, want 3", want)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.Seeds...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	elems := codec.NewElements(e.reg)
	for got := int64(0); got < want; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume graph topics: %v", err)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			got++
			var lastSeen int64
			if strings.HasPrefix(r.Topic, codec.NodeTopicPrefix) {
				n, err := elems.DecodeNode(ctx, r.Value)
				if err != nil {
					t.Fatal(err)
				}
				lastSeen = n.LastSeen
			} else {
				ed, err := elems.DecodeEdge(ctx, r.Value)
				if err != nil {
					t.Fatal(err)
				}
				lastSeen = ed.LastSeen
			}
			if lastSeen != t0.UnixMilli() {
				t.Errorf("%s: last_seen %d, want the record's event time %d", r.Topic, lastSeen, t0.UnixMilli())
			}
			if r.Timestamp.UnixMilli() != lastSeen {
				t.Errorf("%s: record timestamp %s, want its last_seen %s", r.Topic,
					r.Timestamp.UTC().Format(time.RFC3339Nano), time.UnixMilli(lastSeen).UTC().Format(time.RFC3339Nano))
			}
		}
	}
}
