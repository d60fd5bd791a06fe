package enrich_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/enrich"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/testkit"
)

const titleSchema = `{"type":"record","name":"Title","namespace":"rdg.test","fields":[
	{"name":"title_id","type":"string"},
	{"name":"name","type":"string"},
	{"name":"genre","type":["null","string"],"default":null},
	{"name":"rank","type":"long"}]}`

var parsedTitle = avro.MustParse(titleSchema)

// env is a real broker (kfake over TCP) and rdg's real registry over HTTP.
type env struct {
	cluster  *kfake.Cluster
	addrs    []string
	cl       *kgo.Client
	adm      *kadm.Client
	reg      *sr.Client
	regHTTP  *httptest.Server
	schemaID int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := testCtx(t)
	kit := testkit.NewEnv(t)
	c, reg, hs := kit.Cluster, kit.Reg, kit.HTTP
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	e := &env{cluster: c, addrs: c.ListenAddrs(), cl: cl, adm: kadm.NewClient(cl), reg: reg, regHTTP: hs}
	if e.schemaID, err = codec.Register(ctx, reg, "titles-value", titleSchema); err != nil {
		t.Fatal(err)
	}
	return e
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) createTopic(t *testing.T, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	if configs == nil {
		configs = map[string]*string{}
	}
	configs["cleanup.policy"] = kadm.StringPtr("compact")
	resp, err := e.adm.CreateTopic(testCtx(t), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) value(t *testing.T, id, name string, rank int64) []byte {
	t.Helper()
	body, err := avro.Marshal(parsedTitle, map[string]any{"title_id": id, "name": name, "genre": "drama", "rank": rank})
	if err != nil {
		t.Fatal(err)
	}
	return append(codec.AppendHeader(nil, e.schemaID), body...)
}

func rec(topic string, partition int32, key string, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Key: []byte(key), Value: value}
}

func (e *env) produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	if err := e.cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) start(t *testing.T, topic string, timeout time.Duration) (*enrich.TopicTable, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tab, err := enrich.StartTopic(ctx, enrich.TopicConfig{
		Cluster:      kafka.Cluster{Seeds: e.addrs},
		Topic:        topic,
		Schemas:      codec.NewSchemas(e.reg),
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		ReadyTimeout: timeout,
	})
	if tab != nil {
		t.Cleanup(tab.Close)
	}
	return tab, err
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or 10s pass: the table follows the
// topic asynchronously, and there is no event to wait on from outside.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func wantName(t *testing.T, tab enrich.Table, key, name string) {
	t.Helper()
	row, ok := tab.Lookup(key)
	if !ok || row["name"] != name {
		t.Fatalf("Lookup(%q) = %v, %v; want name %q", key, row, ok, name)
	}
}

func TestTopicReadyThenFollows(t *testing.T) {
	e := newEnv(t)
	const topic = "titles"
	e.createTopic(t, topic, 3, nil)
	// Many keys over three partitions, some updated, one deleted, in
	// several produce batches.
	var recs []*kgo.Record
	for i := range 300 {
		k := fmt.Sprintf("t-%03d", i)
		recs = append(recs, rec(topic, int32(i%3), k, e.value(t, k, "v1 "+k, int64(i))))
	}
	e.produce(t, recs...)
	for i := range 50 {
		k := fmt.Sprintf("t-%03d", i)
		e.produce(t, rec(topic, int32(i%3), k, e.value(t, k, "v2 "+k, int64(i))))
	}
	e.produce(t, rec(topic, 299%3, "t-299", nil))

	tab, err := e.start(t, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Complete as soon as StartTopic returns: no waiting here.
	if tab.Len() != 299 {
		t.Fatalf("Len = %d after start, want 299", tab.Len())
	}
	wantName(t, tab, "t-000", "v2 t-000")
	wantName(t, tab, "t-049", "v2 t-049")
	wantName(t, tab, "t-050", "v1 t-050")
	row, _ := tab.Lookup("t-007")
	want := map[string]any{"title_id": "t-007", "name": "v2 t-007", "genre": "drama", "rank": int64(7)}
	if fmt.Sprint(row) != fmt.Sprint(want) {
		t.Fatalf("row %v, want %v", row, want)
	}
	if _, ok := tab.Lookup("t-299"); ok {
		t.Fatal("tombstoned key present")
	}
	if tab.Errors() != 0 || tab.Records() != 351 {
		t.Fatalf("Errors = %d, Records = %d; want 0, 351", tab.Errors(), tab.Records())
	}

	// Updates, deletes and new keys after start reach lookups.
	e.produce(t, rec(topic, 1, "t-001", e.value(t, "t-001", "v3", 1)))
	eventually(t, "update of t-001", func() bool {
		row, _ := tab.Lookup("t-001")
		return row["name"] == "v3"
	})
	e.produce(t, rec(topic, 2, "t-002", nil))
	eventually(t, "tombstone of t-002", func() bool {
		_, ok := tab.Lookup("t-002")
		return !ok
	})
	e.produce(t, rec(topic, 0, "new", e.value(t, "new", "brand new", 1)))
	eventually(t, "new key", func() bool { _, ok := tab.Lookup("new"); return ok })
	if tab.Len() != 299 || tab.Errors() != 0 {
		t.Fatalf("Len = %d, Errors = %d; want 299, 0", tab.Len(), tab.Errors())
	}
}

func TestTopicEmpty(t *testing.T) {
	e := newEnv(t)
	e.createTopic(t, "empty", 2, nil)
	tab, err := e.start(t, "empty", 0)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 0 {
		t.Fatalf("Len = %d", tab.Len())
	}
	e.produce(t, rec("empty", 1, "a", e.value(t, "a", "A", 1)))
	eventually(t, "first key", func() bool { return tab.Len() == 1 })
}

func TestTopicBadRecords(t *testing.T) {
	e := newEnv(t)
	const topic = "titles"
	e.createTopic(t, topic, 1, nil)
	good := e.value(t, "x", "good", 1)
	e.produce(t,
		rec(topic, 0, "a", e.value(t, "a", "A", 1)),
		rec(topic, 0, "keep", e.value(t, "keep", "old", 1)),
		rec(topic, 0, "keep", []byte(`{"json": "not avro"}`)),                            // no Confluent header
		rec(topic, 0, "b", append(codec.AppendHeader(nil, 99999), good[5:]...)),          // unknown schema id
		rec(topic, 0, "c", good[:len(good)-2]),                                           // truncated body
		rec(topic, 0, "d", append(append([]byte(nil), good...), 1, 2, 3)),                // trailing bytes
		rec(topic, 0, "e", []byte{}),                                                     // empty, not a tombstone
		&kgo.Record{Topic: topic, Partition: 0, Value: e.value(t, "nokey", "no key", 1)}, // no key
		rec(topic, 0, "z", e.value(t, "z", "Z", 1)),
	)
	tab, err := e.start(t, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Errors() != 6 {
		t.Fatalf("Errors = %d, want 6", tab.Errors())
	}
	if tab.Len() != 3 {
		t.Fatalf("Len = %d, want 3 (a, keep, z)", tab.Len())
	}
	wantName(t, tab, "a", "A")
	wantName(t, tab, "z", "Z")
	// A bad update leaves the key's last good row.
	wantName(t, tab, "keep", "old")

	// After start too; one partition, so once "after" is visible the bad
	// record before it has been dealt with.
	e.produce(t, rec(topic, 0, "a", []byte{0, 0}), rec(topic, 0, "after", e.value(t, "after", "after", 1)))
	eventually(t, "record after a bad one", func() bool { _, ok := tab.Lookup("after"); return ok })
	if tab.Errors() != 7 {
		t.Fatalf("Errors = %d, want 7", tab.Errors())
	}
	wantName(t, tab, "a", "A")
}

func TestTopicMissing(t *testing.T) {
	e := newEnv(t)
	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := e.start(t, "no.such.topic", timeout)
	if err == nil {
		t.Fatal("no error for a missing topic")
	}
	if !strings.Contains(err.Error(), "topic no.such.topic does not exist") {
		t.Fatalf("error %q does not say the topic is missing", err)
	}
	if el := time.Since(start); el < timeout || el > timeout+5*time.Second {
		t.Fatalf("gave up after %s, want about %s", el, timeout)
	}
}

// A topic created while StartTopic waits, as when a catalogue producer and
// a job start together, is picked up.
func TestTopicCreatedLater(t *testing.T) {
	e := newEnv(t)
	type result struct {
		tab *enrich.TopicTable
		err error
	}
	ch := make(chan result, 1)
	go func() {
		tab, err := e.start(t, "later", 0)
		ch <- result{tab, err}
	}()
	e.createTopic(t, "later", 1, nil)
	e.produce(t, rec("later", 0, "a", e.value(t, "a", "A", 1)))
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	eventually(t, "key a", func() bool { _, ok := r.tab.Lookup("a"); return ok })
}

// A registry that is down is not the record's fault: the record is not
// skipped, so the table cannot get ready, and the error says why.
func TestTopicRegistryDown(t *testing.T) {
	e := newEnv(t)
	e.createTopic(t, "titles", 1, nil)
	e.produce(t, rec("titles", 0, "a", e.value(t, "a", "A", 1)))
	e.regHTTP.Close()
	_, err := e.start(t, "titles", time.Second)
	if err == nil {
		t.Fatal("ready without a registry")
	}
	for _, want := range []string{"not caught up within 1s", "partition 0 read nothing, needs offset 0", "schema registry unavailable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// Aborted transactional writes stay out of the table, and the transaction
// markers that end the partitions do not keep StartTopic waiting for data
// at offsets that hold none.
func TestTopicTransactions(t *testing.T) {
	e := newEnv(t)
	const topic = "titles"
	e.createTopic(t, topic, 2, nil)
	tx, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.TransactionalID("catalog-writer"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	ctx := testCtx(t)
	write := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := tx.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	write(true, rec(topic, 0, "a", e.value(t, "a", "A", 1)), rec(topic, 1, "b", e.value(t, "b", "B", 1)))
	write(false, rec(topic, 0, "a", e.value(t, "a", "aborted", 1)), rec(topic, 1, "c", e.value(t, "c", "aborted", 1)))

	tab, err := e.start(t, topic, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 2 {
		t.Fatalf("Len = %d, want 2", tab.Len())
	}
	wantName(t, tab, "a", "A")
	wantName(t, tab, "b", "B")

	write(true, rec(topic, 1, "c", e.value(t, "c", "C", 1)))
	eventually(t, "committed c", func() bool { _, ok := tab.Lookup("c"); return ok })
	if tab.Errors() != 0 {
		t.Fatalf("Errors = %d", tab.Errors())
	}
}

// After compaction, when superseded records and tombstones are gone, the
// table is the same.
func TestTopicCompacted(t *testing.T) {
	e := newEnv(t)
	const topic = "titles"
	e.createTopic(t, topic, 1, map[string]*string{"delete.retention.ms": kadm.StringPtr("0")})
	for i := range 5 { // one batch each, so compaction has whole batches to drop
		e.produce(t, rec(topic, 0, "a", e.value(t, "a", fmt.Sprint("A", i), 1)))
		e.produce(t, rec(topic, 0, "gone", e.value(t, "gone", "x", 1)))
	}
	e.produce(t, rec(topic, 0, "gone", nil))
	e.produce(t, rec(topic, 0, "b", e.value(t, "b", "B", 1)))
	e.cluster.Compact()

	tab, err := e.start(t, topic, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 2 || tab.Records() >= 12 {
		t.Fatalf("Len = %d, Records = %d; want 2 keys from a compacted log", tab.Len(), tab.Records())
	}
	wantName(t, tab, "a", "A4")
	wantName(t, tab, "b", "B")
}

// Cancelling the context stops following; what was read stays readable.
func TestTopicStopsWithContext(t *testing.T) {
	e := newEnv(t)
	e.createTopic(t, "titles", 1, nil)
	e.produce(t, rec("titles", 0, "a", e.value(t, "a", "A", 1)))
	ctx, cancel := context.WithCancel(context.Background())
	tab, err := enrich.StartTopic(ctx, enrich.TopicConfig{Cluster: kafka.Cluster{Seeds: e.addrs}, Topic: "titles", Schemas: codec.NewSchemas(e.reg)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	tab.Close() // waits for the follower, which ctx already stopped
	tab.Close() // idempotent
	wantName(t, tab, "a", "A")
}

func TestTopicConfigErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := enrich.StartTopic(ctx, enrich.TopicConfig{Schemas: codec.NewSchemas(nil)}); err == nil {
		t.Error("no topic accepted")
	}
	if _, err := enrich.StartTopic(ctx, enrich.TopicConfig{Topic: "x"}); err == nil {
		t.Error("no schemas accepted")
	}
}

// Lookups run while the table is updated; run with -race.
func TestTopicConcurrentLookups(t *testing.T) {
	e := newEnv(t)
	e.createTopic(t, "titles", 1, nil)
	e.produce(t, rec("titles", 0, "k", e.value(t, "k", "0", 0)))
	tab, err := e.start(t, "titles", 0)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if row, ok := tab.Lookup("k"); ok && row["title_id"] != "k" {
					t.Error("torn row")
					return
				}
				_ = tab.Len()
			}
		}()
	}
	for i := 1; i <= 200; i++ {
		v := e.value(t, "k", fmt.Sprint(i), int64(i))
		if i%7 == 0 {
			v = nil
		}
		e.produce(t, rec("titles", 0, "k", v), rec("titles", 0, fmt.Sprint("other", i), e.value(t, "o", "o", 1)))
	}
	eventually(t, "last update", func() bool { row, _ := tab.Lookup("k"); return row["name"] == "200" })
	close(stop)
	wg.Wait()
	if n := testing.AllocsPerRun(100, func() { tab.Lookup("k") }); n != 0 {
		t.Fatalf("Lookup allocates %v times", n)
	}
}
