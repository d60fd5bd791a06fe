package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/kafka"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var quiet = Logger(slog.New(slog.DiscardHandler))

func start(t *testing.T, opts ...Opt) *Embedded {
	t.Helper()
	b, err := Start(append([]Opt{quiet, Addr("127.0.0.1:0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: clients made after this are closed
	// before the broker, which then has no connections to wait for.
	t.Cleanup(b.Close)
	return b
}

func client(t *testing.T, addr string, opts ...kgo.Opt) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// freePort finds a port nothing listens on, for tests that must restart a
// broker on the same address.
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

// consume reads n records of topic from the start.
func consume(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, _ := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read %d of %d records", topic, len(recs), n)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func TestStartProduceConsume(t *testing.T) {
	b := start(t)
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q: want 127.0.0.1 and the port picked", b.Addr())
	}
	ctx := testCtx(t)
	cl, adm := client(t, b.Addr())
	if err := kafka.WaitReachable(ctx, adm, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, adm, kafka.Topic{Name: "events", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: "events", Key: []byte(fmt.Sprint(i % 5)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := consume(t, b.Addr(), "events", 20)
	seen := map[string]bool{}
	for _, r := range got {
		seen[string(r.Value)] = true
	}
	if len(got) != 20 || len(seen) != 20 {
		t.Fatalf("consumed %d records, %d distinct; want 20", len(got), len(seen))
	}
}

func TestDataDirPersistence(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	ctx := testCtx(t)

	b, err := Start(quiet, Addr(addr), DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if b.Addr() != addr {
		t.Fatalf("Addr() = %s, want %s", b.Addr(), addr)
	}
	cl, adm := client(t, addr)
	if err := kafka.EnsureTopics(ctx, adm, kafka.Topic{Name: "kept", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 6 {
		recs = append(recs, &kgo.Record{Topic: "kept", Partition: int32(i % 2), Value: []byte(fmt.Sprintf("r%d", i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	commit := kadm.Offsets{}
	commit.Add(kadm.Offset{Topic: "kept", Partition: 0, At: 2, LeaderEpoch: -1})
	commit.Add(kadm.Offset{Topic: "kept", Partition: 1, At: 1, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctx, "persisted-group", commit); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	cl.Close()
	b.Close()

	// Nothing listens while the broker is down.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}

	b, err = Start(quiet, Addr(addr), DataDir(dir))
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	t.Cleanup(b.Close)
	got := consume(t, addr, "kept", 6)
	values := map[string]bool{}
	for _, r := range got {
		values[string(r.Value)] = true
	}
	for i := range 6 {
		if !values[fmt.Sprintf("r%d", i)] {
			t.Fatalf("record r%d lost across restart: got %d records", i, len(got))
		}
	}
	if len(got) != 6 {
		t.Fatalf("got %d records after restart, want 6", len(got))
	}
	_, adm = client(t, addr)
	offs, err := adm.FetchOffsets(ctx, "persisted-group")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 2, 1: 1} {
		o, ok := offs.Lookup("kept", p)
		if !ok || o.Err != nil || o.At != want {
			t.Fatalf("committed offset of kept/%d after restart = %+v (found %v), want %d", p, o, ok, want)
		}
	}
}

func TestStartBusyPort(t *testing.T) {
	b := start(t)
	_, err := Start(quiet, Addr(b.Addr()))
	if err == nil {
		t.Fatalf("second Start on %s succeeded", b.Addr())
	}
	if !strings.Contains(err.Error(), b.Addr()) || !strings.Contains(err.Error(), "another broker") {
		t.Fatalf("error %q does not mention %s and the likely cause", err, b.Addr())
	}
	// The first broker is unharmed.
	_, adm := client(t, b.Addr())
	if err := kafka.WaitReachable(testCtx(t), adm, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestStartBadAddress(t *testing.T) {
	for _, addr := range []string{"localhost", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:-1"} {
		if b, err := Start(quiet, Addr(addr)); err == nil {
			b.Close()
			t.Errorf("Start(Addr(%q)) succeeded", addr)
		} else if !strings.Contains(err.Error(), addr) {
			t.Errorf("Start(Addr(%q)) error %q does not name the address", addr, err)
		}
	}
}
