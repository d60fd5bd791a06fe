package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	rdgkafka "github.com/rdgraph/rdg/internal/kafka"
)

// `rdg up --kafka-sync` (README, Durability) runs the embedded broker with
// fsync before each acknowledgement, and records produced to it are
// acknowledged; with --brokers there is no embedded broker to set, and rdg
// says so instead of ignoring the flag.
func TestKafkaSyncFlag(t *testing.T) {
	kafka, api := freePort(t), freePort(t)
	up := startProc(t, "up", api, "up", "--kafka-sync", "--data-dir", t.TempDir(), "--kafka-addr", kafka,
		"--registry-addr", freePort(t), "--api-addr", api)
	up.awaitReady(t)
	if logs := up.logs.String(); !strings.Contains(logs, "embedded Kafka listening") || !strings.Contains(logs, "sync_writes=true") {
		t.Errorf("rdg up --kafka-sync did not start its broker with synced writes:\n%s", logs)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rdgkafka.EnsureTopics(ctx, kadm.NewClient(cl), rdgkafka.Topic{Name: "synced", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "synced", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d to a synced broker: %v", i, err)
		}
	}
	up.term(t)

	out, err := runRdg(t, 20*time.Second, "up", "--kafka-sync", "--brokers", kafka, "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "--kafka-sync is for the embedded broker") {
		t.Errorf("rdg up --kafka-sync --brokers: %v, want a refusal saying the flag needs the embedded broker:\n%s", err, out)
	}
}
