package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rdgraph/rdg/internal/access"
)

// The tests run kfake over real TCP directly: internal/broker imports
// this package, so its test fixture cannot be used here.

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func client(t *testing.T, addr string, opts ...kgo.Opt) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := Cluster{Seeds: []string{addr}}.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// freePort finds a port nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestEnsureTopics(t *testing.T) {
	c := start(t)
	ctx := testCtx(t)
	_, adm := client(t, c.ListenAddrs()[0])
	topics := []Topic{
		{Name: "rdg.node.account", Partitions: 3, Compact: true},
		{Name: "source", Partitions: 2},
		{Name: "default-partitions"},
	}
	for range 2 { // idempotent
		if err := EnsureTopics(ctx, adm, topics...); err != nil {
			t.Fatal(err)
		}
	}
	// An existing topic is left as it is, whatever is asked now.
	if err := EnsureTopics(ctx, adm, Topic{Name: "source", Partitions: 5, Compact: true}); err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"rdg.node.account": 3, "source": 2, "default-partitions": 1} {
		if got := len(td[name].Partitions); got != want {
			t.Errorf("%s has %d partitions, want %d", name, got, want)
		}
	}
	if got := topicConfig(t, adm, "rdg.node.account", "cleanup.policy"); got != "compact" {
		t.Errorf("rdg.node.account cleanup.policy = %q, want compact", got)
	}
	if got := topicConfig(t, adm, "source", "cleanup.policy"); got == "compact" {
		t.Errorf("source cleanup.policy = compact; it was not asked for")
	}
}

func TestWaitReachableTimeout(t *testing.T) {
	addr := freePort(t)
	_, adm := client(t, addr)
	startT := time.Now()
	err := WaitReachable(testCtx(t), adm, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not reachable after 300ms") {
		t.Fatalf("WaitReachable(nothing listening) = %v", err)
	}
	if d := time.Since(startT); d > 5*time.Second {
		t.Fatalf("WaitReachable took %s for a 300ms timeout", d)
	}
}

func TestCommitError(t *testing.T) {
	if err := CommitError(nil, nil); err != nil {
		t.Fatalf("nothing to commit: %v", err)
	}
	sent := errors.New("connection reset")
	if err := CommitError(nil, sent); !errors.Is(err, sent) {
		t.Fatalf("request error: got %v", err)
	}
	resp := kmsg.NewPtrOffsetCommitResponse()
	topic := kmsg.NewOffsetCommitResponseTopic()
	topic.Topic = "t"
	for i, code := range []int16{0, kerr.IllegalGeneration.Code} {
		p := kmsg.NewOffsetCommitResponseTopicPartition()
		p.Partition, p.ErrorCode = int32(i), code
		topic.Partitions = append(topic.Partitions, p)
	}
	resp.Topics = append(resp.Topics, topic)
	if err := CommitError(resp, nil); !errors.Is(err, kerr.IllegalGeneration) {
		t.Fatalf("partition error: got %v, want %v", err, kerr.IllegalGeneration)
	}
	resp.Topics[0].Partitions[1].ErrorCode = 0
	if err := CommitError(resp, nil); err != nil {
		t.Fatalf("all partitions committed: %v", err)
	}
}

// RaiseMaxMessageBytes raises a topic's limit where the cluster lets it,
// and otherwise gives the topic's own limit, never more than asked for,
// with the reason.
func TestRaiseMaxMessageBytes(t *testing.T) {
	c := start(t)
	_, adm := client(t, c.ListenAddrs()[0])
	ctx := testCtx(t)
	small := "2000"
	for _, topic := range []string{"allowed", "refused"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": &small}, topic); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := RaiseMaxMessageBytes(ctx, adm, "allowed", 16<<20); err != nil || got != 16<<20 {
		t.Fatalf("allowed: %d, %v; want %d", got, err, 16<<20)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "allowed")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("allowed", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" {
			got = c.MaybeValue()
		}
	}
	if got != fmt.Sprint(16<<20) {
		t.Errorf("allowed: max.message.bytes is %q after the raise, want %d", got, 16<<20)
	}

	// A cluster that does not let rdg alter topics.
	c.ControlKey(int16(kmsg.IncrementalAlterConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.IncrementalAlterConfigsRequest)
		resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		for _, rr := range r.Resources {
			x := kmsg.NewIncrementalAlterConfigsResponseResource()
			x.ResourceType, x.ResourceName, x.ErrorCode = rr.ResourceType, rr.ResourceName, kerr.TopicAuthorizationFailed.Code
			resp.Resources = append(resp.Resources, x)
		}
		return resp, nil, true
	})
	for _, c := range []struct {
		topic string
		ask   int32 // the limit asked for
		want  int32 // the limit the topic has
	}{
		{"refused", 16 << 20, 2000},
		{"refused", 1000, 1000},
		{"no-such-topic", 16 << 20, DefaultMaxRecordBytes},
	} {
		got, err := RaiseMaxMessageBytes(ctx, adm, c.topic, c.ask)
		if got != c.want || err == nil {
			t.Errorf("%s, asking %d: %d, %v; want %d and the reason", c.topic, c.ask, got, err, c.want)
		}
	}
}

func topicConfig(t *testing.T, adm *kadm.Client, topic, key string) string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c.MaybeValue()
		}
	}
	return ""
}

func TestMechanism(t *testing.T) {
	c := access.Credentials{User: "u", Password: "p"}
	for in, want := range map[string]string{"": access.ScramSHA512, "plain": access.Plain, "SCRAM-SHA-256": access.ScramSHA256, "scram-sha-512": access.ScramSHA512} {
		m, err := mechanism(in, c)
		if err != nil || m.Name() != want {
			t.Errorf("%q: %v, %v; want %s", in, m, err, want)
		}
	}
	if _, err := mechanism("GSSAPI", c); err == nil {
		t.Error("GSSAPI: no error")
	}
	if _, err := (Cluster{SASL: &c, Mechanism: "GSSAPI"}).ClientOpts(); err == nil {
		t.Error("Cluster with GSSAPI: no error")
	}
	if opts, err := (Cluster{}).ClientOpts(); err != nil || len(opts) != 0 {
		t.Errorf("plaintext without SASL or seeds: %d options, %v", len(opts), err)
	}
}

// TestClientOptsOrder: the cluster's own options come after the client's,
// so that they win where both set the same thing.
func TestClientOptsOrder(t *testing.T) {
	c := Cluster{Seeds: []string{"127.0.0.1:1"}, Opts: []kgo.Opt{kgo.ClientID("cluster")}}
	cl, err := c.NewClient(kgo.ClientID("own"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := cl.OptValue(kgo.ClientID); got != "cluster" {
		t.Errorf("client id %v, want the cluster's", got)
	}
	if got := cl.OptValue(kgo.SeedBrokers); fmt.Sprint(got) != "[127.0.0.1:1]" {
		t.Errorf("seeds %v", got)
	}
}
