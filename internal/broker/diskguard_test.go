package broker

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/rdgraph/rdg/internal/kafka"
)

// While the gate refuses, a Produce is answered KAFKA_STORAGE_ERROR saying
// why and nothing is written; a producer retries and
// delivers its record, once, when the gate opens.
func TestWriteGateRefusesProduce(t *testing.T) {
	ctx := testCtx(t)
	var refuse atomic.Bool
	var refusals atomic.Int64 // produce requests the gate refused
	const reason = "data directory /d is full: 42 bytes free"
	b := start(t, DataDir(t.TempDir()), WriteGate(func() error {
		if refuse.Load() {
			refusals.Add(1)
			return errors.New(reason)
		}
		return nil
	}))
	// A short metadata age: the client refreshes metadata before it retries.
	cl, adm := client(t, b.Addr(), kgo.ProducerLinger(0), kgo.MetadataMinAge(50*time.Millisecond))
	if err := kafka.EnsureTopics(ctx, adm, kafka.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	refuse.Store(true)
	// A producer that does not retry sees the refusal.
	once, _ := client(t, b.Addr(), kgo.ProducerLinger(0), kgo.RecordRetries(0))
	err := once.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("refused")}).FirstErr()
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Errorf("produce while refused: %v, want KAFKA_STORAGE_ERROR", err)
	}
	// The answer says why (clients show only the code).
	raw, _ := client(t, b.Addr(), kgo.MaxVersions(kversion.V3_0_0())) // Produce v9: topics by name
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = []byte("refused before it is read")
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("answer to a refused produce: %+v", resp)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.KafkaStorageError.Code || p.ErrorMessage == nil || *p.ErrorMessage != storageFull.Message {
		t.Errorf("refused produce answered code %d message %v, want %d %q", p.ErrorCode, p.ErrorMessage, kerr.KafkaStorageError.Code, storageFull.Message)
	}

	// A producer holds its record while refused, retrying, and delivers
	// it after.
	done := make(chan error, 1)
	before := refusals.Load()
	cl.Produce(ctx, &kgo.Record{Topic: "t", Value: []byte("held")}, func(_ *kgo.Record, err error) { done <- err })
	for deadline := time.Now().Add(10 * time.Second); refusals.Load() < before+2; {
		select {
		case err := <-done:
			t.Fatalf("produce finished (%v) while the gate refused", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d produce requests refused in 10s, want the held record's and a retry", refusals.Load()-before)
		}
		time.Sleep(5 * time.Millisecond) // polling the count
	}
	select {
	case err := <-done:
		t.Fatalf("produce finished (%v) after two refusals", err)
	default:
	}
	refuse.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("held produce after the gate opened: %v", err)
	}
	ends, err := adm.ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("t", 0); o.Offset != 2 {
		t.Errorf("topic holds %d records, want 2 (before, held): the refused one must not be written", o.Offset)
	}
}
