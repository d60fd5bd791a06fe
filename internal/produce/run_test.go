package produce

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/broker"
)

// startBroker is an embedded broker with topic created, and a client of it
// with the options Run counts on.
func startBroker(t *testing.T, topic string) *kgo.Client {
	t.Helper()
	b, err := broker.Start(broker.Addr("127.0.0.1:0"), broker.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, ClientOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if topic != "" {
		if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	return cl
}

// A record the client or broker refuses for its size is that row's fault:
// it is reported with its line like a row that does not fit, and the rows
// around it are produced and counted when acknowledged.
func TestRunRecordTooLarge(t *testing.T) {
	cl := startBroker(t, "events")
	in := `{"id": "a"}` + "\n" + `{"id": "` + strings.Repeat("x", 2<<20) + `"}` + "\n" + `{"id": "c"}` + "\n"
	var log bytes.Buffer
	st, err := Run(context.Background(), cl, strings.NewReader(in), Options{
		Topic: "events", Schema: parse(t, eventSchema), SchemaID: 3, Format: JSONLines,
		MaxLineBytes: 4 << 20, Name: "in.jsonl", Log: &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 3 || st.Produced != 2 || st.Rejected != 1 {
		t.Errorf("stats %+v: want 3 read, 2 produced, 1 rejected", st)
	}
	if !strings.HasPrefix(log.String(), "in.jsonl:2: the record (") || !strings.Contains(log.String(), "MESSAGE_TOO_LARGE") {
		t.Errorf("log %q: want line 2 reported too large", log.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	if n != 2 {
		t.Errorf("topic holds %d records, want 2", n)
	}
}

// A topic that does not exist is said before any row is read.
func TestRunNoTopic(t *testing.T) {
	cl := startBroker(t, "")
	st, err := Run(context.Background(), cl, strings.NewReader(`{"id": "a"}`+"\n"), Options{
		Topic: "nope", Schema: parse(t, eventSchema), SchemaID: 3, Format: JSONLines, Name: "in.jsonl",
	})
	want := "topic nope does not exist: create it with rdg topic create nope or let rdg up create it from your job files"
	if err == nil || err.Error() != want || st.Read != 0 {
		t.Errorf("err %v, stats %+v; want %q before reading", err, st, want)
	}
}
