package jobrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/testkit"
)

// heldProducer keeps every record's promise until answer calls it: a
// broker that has not acknowledged yet.
type heldProducer struct {
	mu   sync.Mutex
	held []func(*kgo.Record, error)
	recs []*kgo.Record
}

func (h *heldProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, promise)
	h.recs = append(h.recs, r)
}

// answer calls the first n held promises with err.
func (h *heldProducer) answer(n int, err error) {
	h.mu.Lock()
	held, recs := h.held[:n], h.recs[:n]
	h.held, h.recs = h.held[n:], h.recs[n:]
	h.mu.Unlock()
	for i, p := range held {
		p(recs[i], err)
	}
}

func (h *heldProducer) waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

// TestCommitPointsWaitForOutput drives the at-least-once worker's commit
// points (seal, ready) with a producer that answers when told: a point's
// offsets are released only once everything published before it, in its
// epoch and every earlier one, is acknowledged; points are released in
// order with the latest offsets winning; a failure releases nothing.
func TestCommitPointsWaitForOutput(t *testing.T) {
	e := testkit.NewEnv(t)
	ctx := testkit.Ctx(t)
	id, sch := e.Register(t, codec.Subject("member.visits"), visitV1)
	j := compileJob(t, "inline.yaml", runJob)
	prod := &heldProducer{}
	w := &worker{job: j, log: slog.New(slog.DiscardHandler), processed: map[int32]int64{}, issued: map[int32]int64{}}
	w.chain = NewChain(j, ChainConfig{Schemas: codec.NewSchemas(e.Reg), Elements: codec.NewElements(e.Reg), Producer: prod})
	w.commits = NewMetrics(nil).Commits.WithLabelValues(j.Spec.Name)

	next := int64(0)
	ingest := func(n int) {
		t.Helper()
		for range n {
			rec := &kgo.Record{Topic: "member.visits", Partition: 0, Offset: next, Timestamp: time.Now(),
				Value: testkit.Encode(t, id, sch, visitV1Rec{MemberID: fmt.Sprintf("m-%d", next), TitleID: "t-1"})}
			if err := w.chain.Ingest(ctx, rec, time.Now()); err != nil {
				t.Fatal(err)
			}
			next++
			w.processed[0] = next
		}
		w.chain.Emit(ctx, time.Now(), false)
	}
	ready := func() map[int32]kgo.EpochOffset {
		t.Helper()
		r, err := w.ready()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	ingest(2) // 2 records, 3 engine.Elements each
	w.seal()
	if r := ready(); r != nil {
		t.Fatalf("point released before its output was acknowledged: %v", r)
	}
	ingest(3)
	w.seal()
	if got := prod.waiting(); got != 15 {
		t.Fatalf("producer holds %d records, want 15", got)
	}
	// All of the first point's output and some of the second's.
	prod.answer(8, nil)
	if r := ready(); len(r) != 1 || r[0].Offset != 2 {
		t.Fatalf("after the first point's output: ready %v, want partition 0 at 2", r)
	}
	if r := ready(); r != nil {
		t.Fatalf("second point released with output outstanding: %v", r)
	}
	prod.answer(7, nil)
	if r := ready(); len(r) != 1 || r[0].Offset != 5 {
		t.Fatalf("after all output: ready %v, want partition 0 at 5", r)
	}

	// Two points ready at once: the later offsets win. A point with
	// nothing new holds no partition.
	ingest(1)
	w.seal()
	ingest(1)
	w.seal()
	w.seal()
	if n := len(w.sealed[len(w.sealed)-1].offsets); n != 0 {
		t.Fatalf("a point with nothing new holds %d partitions", n)
	}
	prod.answer(6, nil)
	if r := ready(); len(r) != 1 || r[0].Offset != 7 {
		t.Fatalf("two points at once: ready %v, want partition 0 at 7", r)
	}
	if len(w.sealed) != 0 {
		t.Fatalf("%d points left after all were acknowledged", len(w.sealed))
	}

	// A failed record holds back its point and every later one.
	ingest(1)
	w.seal()
	ingest(1)
	w.seal()
	prod.answer(1, errors.New("broker said no"))
	prod.answer(5, nil)
	if r, err := w.ready(); err == nil || r != nil {
		t.Fatalf("point with a failed record: ready %v, err %v; want an error and nothing to commit", r, err)
	}
}
