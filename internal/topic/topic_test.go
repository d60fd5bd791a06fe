package topic

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/broker"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cluster starts an embedded broker on a free port and returns its
// address and an Admin of it over TCP.
func cluster(t *testing.T) (string, *Admin) {
	t.Helper()
	b, err := broker.Start(broker.Addr("127.0.0.1:0"), broker.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr(), New(kadm.NewClient(client(t, b.Addr())))
}

// client is a client of the broker at addr. Its default MetadataMinAge
// (5s) would make an Admin answer from a stale cache if it did not ask
// the cluster every time, which these tests check by using one Admin
// throughout.
func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestCreateListDescribeDelete(t *testing.T) {
	ctx := testCtx(t)
	addr, a := cluster(t)

	c, err := a.Create(ctx, Spec{Name: "my.events", Partitions: 3, Configs: map[string]string{"retention.ms": "604800000"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Partitions != 3 || c.ReplicationFactor != 1 {
		t.Fatalf("created %+v, want 3 partitions, replication 1", c)
	}
	if _, err := a.Create(ctx, Spec{Name: "compacted", Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}

	// A second create fails, naming the topic and the broker's code.
	_, err = a.Create(ctx, Spec{Name: "my.events", Partitions: 1})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"my.events"`) || !strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
		t.Fatalf("create twice: %v", err)
	}

	list, err := a.List(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Summary{}
	for _, s := range list {
		got[s.Name] = s
	}
	if s := got["my.events"]; s.Partitions != 3 || s.ReplicationFactor != 1 || s.RetentionMs != "604800000" || s.CleanupPolicy != "delete" {
		t.Errorf("list my.events = %+v", s)
	}
	if s := got["compacted"]; s.Partitions < 1 || s.CleanupPolicy != "compact" {
		t.Errorf("list compacted = %+v (want the broker's default partitions, compact)", s)
	}

	// Records in two partitions, and a group that has read part of them.
	prod := client(t, addr, kgo.DefaultProduceTopic("my.events"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := range 10 {
		r := kgo.StringRecord(strings.Repeat("x", 100))
		r.Partition = int32(i % 2)
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commits := kadm.Offsets{}
	commits.Add(kadm.Offset{Topic: "my.events", Partition: 0, At: 2, LeaderEpoch: -1})
	commits.Add(kadm.Offset{Topic: "my.events", Partition: 1, At: 5, LeaderEpoch: -1})
	if err := kadm.NewClient(client(t, addr)).CommitAllOffsets(ctx, "readers", commits); err != nil {
		t.Fatal(err)
	}

	ds, err := a.Describe(ctx, "my.events")
	if err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	if len(d.Partitions) != 3 || d.Records != 10 || d.ReplicationFactor != 1 {
		t.Fatalf("describe: %d partitions, %d records, replication %d; want 3, 10, 1", len(d.Partitions), d.Records, d.ReplicationFactor)
	}
	wantEnds := []int64{5, 5, 0}
	for i, p := range d.Partitions {
		if p.Partition != int32(i) || p.Start != 0 || p.End != wantEnds[i] || p.Leader != 0 || len(p.Replicas) != 1 {
			t.Errorf("partition %d: %+v, want start 0, end %d, leader 0", i, p, wantEnds[i])
		}
	}
	// kfake answers DescribeLogDirs with the bytes it holds per partition.
	if d.Bytes == nil || d.SizeNote != "" {
		t.Fatalf("describe: no size (%s)", d.SizeNote)
	}
	if *d.Bytes < 1000 || d.Partitions[0].Bytes == nil || *d.Partitions[0].Bytes < 500 || *d.Partitions[2].Bytes != 0 {
		t.Errorf("sizes: topic %d bytes, partitions %+v", *d.Bytes, d.Partitions)
	}
	if len(d.Groups) != 1 {
		t.Fatalf("groups: %+v, want readers", d.Groups)
	}
	g := d.Groups[0]
	// An empty group's lag covers every partition of the topic.
	if g.Group != "readers" || g.Lag != 3+0+0 || len(g.Partitions) != 3 {
		t.Errorf("group %+v: want readers with lag 3 over partitions 0, 1 and 2", g)
	}
	if p := g.Partitions[0]; p.Committed != 2 || p.End != 5 || p.Lag != 3 {
		t.Errorf("group partition 0: %+v", p)
	}
	if p := g.Partitions[2]; p.Committed != -1 || p.End != 0 || p.Lag != 0 {
		t.Errorf("group partition 2, nothing committed: %+v", p)
	}
	var retention Config
	for _, c := range d.Configs {
		if c.Name == "retention.ms" {
			retention = c
		}
	}
	if retention.Value != "604800000" || retention.Source != "topic" || d.Configs[0].Name != "retention.ms" {
		t.Errorf("configs: %+v (the topic's own first)", d.Configs)
	}

	// Describing a missing topic with an existing one describes the one
	// and names the other.
	ds, err = a.Describe(ctx, "compacted", "no.such.topic")
	if len(ds) != 1 || ds[0].Name != "compacted" || !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), `"no.such.topic"`) {
		t.Fatalf("describe with a missing topic: %d descriptions, %v", len(ds), err)
	}

	deleted, err := a.Delete(ctx, "compacted", "no.such.topic")
	if len(deleted) != 1 || deleted[0] != "compacted" || !errors.Is(err, ErrUnknown) {
		t.Fatalf("delete: %v, %v", deleted, err)
	}
	list, err = a.List(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "my.events" {
		t.Errorf("after delete: %+v", list)
	}
}

func TestAlter(t *testing.T) {
	ctx := testCtx(t)
	_, a := cluster(t)
	if _, err := a.Create(ctx, Spec{Name: "t", Partitions: 2, Configs: map[string]string{"retention.ms": "1000"}}); err != nil {
		t.Fatal(err)
	}
	err := a.Alter(ctx, "t", Alteration{Partitions: 4, Set: map[string]string{"cleanup.policy": "compact"}, Delete: []string{"retention.ms"}})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := a.Describe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds[0].Partitions) != 4 {
		t.Errorf("partitions after alter: %d, want 4", len(ds[0].Partitions))
	}
	for _, c := range ds[0].Configs {
		switch {
		case c.Name == "cleanup.policy" && (c.Value != "compact" || c.Source != "topic"):
			t.Errorf("cleanup.policy: %+v", c)
		case c.Name == "retention.ms" && c.Source == "topic":
			t.Errorf("retention.ms still set on the topic: %+v", c)
		}
	}

	err = a.Alter(ctx, "t", Alteration{Partitions: 2})
	if !errors.Is(err, ErrPartitions) || !strings.Contains(err.Error(), "cannot remove partitions") {
		t.Errorf("fewer partitions: %v", err)
	}
	err = a.Alter(ctx, "missing", Alteration{Set: map[string]string{"retention.ms": "1"}})
	if !errors.Is(err, ErrUnknown) {
		t.Errorf("alter a missing topic: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := testCtx(t)
	_, a := cluster(t)
	if _, err := a.Create(ctx, Spec{Name: "existing"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		configs map[string]string
		want    []string
	}{
		// kfake would store any name: the cluster's own list catches it.
		{map[string]string{"retension.ms": "1000"}, []string{`no topic config "retension.ms"`, `did you mean "retention.ms"?`, "cleanup.policy"}},
		{map[string]string{"no.such.thing": "1"}, []string{`no topic config "no.such.thing"`, "Its topic configs:"}},
		{map[string]string{"retention.ms": "a week"}, []string{"retention.ms=a week: want an integer (milliseconds)"}},
		{map[string]string{"cleanup.policy": "compacted"}, []string{"want delete, compact or compact,delete"}},
	} {
		_, err := a.Create(ctx, Spec{Name: "new", Configs: tc.configs})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("create with %v: %v, want a config error", tc.configs, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("create with %v: %q lacks %q", tc.configs, err, w)
			}
		}
		err = a.Alter(ctx, "existing", Alteration{Set: tc.configs})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("alter with %v: %v, want a config error", tc.configs, err)
		}
	}
	list, err := a.List(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("a create with a bad config made a topic: %+v", list)
	}

	_, err = a.Create(ctx, Spec{Name: "replicated", ReplicationFactor: 3})
	if !errors.Is(err, ErrReplication) || !strings.Contains(err.Error(), "the cluster has 1 broker(s)") {
		t.Errorf("replication 3 on one broker: %v", err)
	}
}

func TestCreateMissing(t *testing.T) {
	ctx := testCtx(t)
	_, a := cluster(t)
	if _, err := a.Create(ctx, Spec{Name: "a", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	created, err := a.CreateMissing(ctx, Spec{Name: "a", Partitions: 6}, Spec{Name: "b", Partitions: 6})
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 1 || created[0] != "b" {
		t.Fatalf("created %v, want [b]", created)
	}
	ds, err := a.Describe(ctx, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds[0].Partitions) != 1 || len(ds[1].Partitions) != 6 {
		t.Errorf("partitions a=%d (left as it was: 1), b=%d (6)", len(ds[0].Partitions), len(ds[1].Partitions))
	}
}

func TestParseConfigs(t *testing.T) {
	m, err := ParseConfigs([]string{"retention.ms=1", "cleanup.policy=compact,delete", "x="})
	if err != nil || m["retention.ms"] != "1" || m["cleanup.policy"] != "compact,delete" || len(m) != 3 {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range [][]string{{"retention.ms"}, {"=1"}, {"a=1", "a=2"}} {
		if _, err := ParseConfigs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
