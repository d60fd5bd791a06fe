package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/dlq"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/logtest"
	"github.com/rdgraph/rdg/internal/store"
)

// produceTo produces values to partition p of rdg.node.account and
// returns their offsets.
func (e *env) produceTo(t *testing.T, p int32, values ...[]byte) []int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i, v := range values {
		recs = append(recs, &kgo.Record{Topic: codec.NodeTopic("account"), Partition: p, Key: []byte(fmt.Sprintf("k%d", i)), Value: v})
	}
	res := cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, r := range res {
		offs = append(offs, r.Record.Offset)
	}
	return offs
}

// node encodes account node id with the env's schema.
func (e *env) node(t *testing.T, id string) []byte {
	t.Helper()
	r, err := e.el.NodeRecord(&graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: id}, FirstSeen: 1, LastSeen: 1, UpdatedAt: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r.Value
}

// runObserved runs a writer on a fresh store until the test ends,
// committing every 50ms, with its metrics and log for the test to read.
// Its fetches wait at most 100ms for records: a partition that resumes
// after a stall is read by the next fetch, and on partitions with nothing
// new to read the one in flight would wait kgo's default of 5s.
func (e *env) runObserved(t *testing.T) (*store.Pebble, *prometheus.Registry, *logtest.Buffer, <-chan error) {
	t.Helper()
	st := openStore(t)
	reg := prometheus.NewRegistry()
	log, logs := logtest.Logger()
	cfg := e.cfg()
	cfg.Metrics, cfg.Logger, cfg.CommitInterval = NewMetrics(reg), log, 50*time.Millisecond
	cfg.Cluster.Opts = []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)}
	return st, reg, logs, runWriter(t, &faulty{st: st}, cfg)
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var v float64
			for _, m := range mf.GetMetric() {
				v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
			return v
		}
	}
	return 0
}

func hasNode(t *testing.T, st *store.Pebble, id string) bool {
	t.Helper()
	_, ok, err := st.Node(context.Background(), graph.NodeRef{Type: "account", ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// A graph record that cannot be decoded (not Avro, a truncated body, an
// invalid node) is dead-lettered to rdg.dlq.writer-<store> with its bytes
// and a job's dead-letter headers, counted, and committed past; the records
// around it are stored. rdg dlq lists and reads the writer's topic.
func TestWriterDeadLettersUndecodable(t *testing.T) {
	e := newEnv(t, 300)
	good := e.node(t, "after-the-bad-ones")
	bad := [][]byte{[]byte("\xde\xad not avro"), e.node(t, "truncated")[:12], e.node(t, "")}
	offs := e.produceTo(t, 1, append(bad, good)...)
	st, reg, _, errc := e.runObserved(t)
	await(t, errc, func() (bool, string) {
		c, ends := e.committed(t), e.ends(t)
		return fmt.Sprint(c) == fmt.Sprint(ends), fmt.Sprintf("committed %v, ends %v", c, ends)
	})
	if !hasNode(t, st, "after-the-bad-ones") || !hasNode(t, st, "n-299") {
		t.Fatal("the good records around the bad ones are not in the store")
	}
	if n := gauge(t, reg, "rdg_store_records_rejected_total"); n != 3 {
		t.Fatalf("rdg_store_records_rejected_total = %v, want 3", n)
	}
	c := dlq.Cluster{Seeds: e.seeds}
	topics, err := dlq.Topics(context.Background(), c)
	if err != nil || fmt.Sprint(topics) != "[rdg.dlq.writer-test]" {
		t.Fatalf("dlq.Topics = %v (%v), want the writer's", topics, err)
	}
	recs, err := dlq.Read(context.Background(), c, DeadLetterTopic("test"), 0, 10)
	if err != nil || len(recs) != 3 {
		t.Fatalf("dlq.Read = %d records (%v), want 3", len(recs), err)
	}
	for i, r := range recs {
		if !bytes.Equal(r.Value, bad[i]) || r.Stage != codec.StageDecode || r.Error == "" || r.SourceTopic != codec.NodeTopic("account") ||
			r.SourcePartition != 1 || r.SourceOffset != offs[i] || string(r.Key) != fmt.Sprintf("k%d", i) {
			t.Errorf("dead letter %d: %+v", i, r)
		}
	}
	if recs[1].SchemaID != 1 || recs[0].SchemaID != 0 {
		t.Errorf("schema ids %d, %d: want the framed record's id and 0", recs[1].SchemaID, recs[0].SchemaID)
	}
}

// nextSchemaID is the id the registry gives the next new schema: one past
// the highest it has.
func (e *env) nextSchemaID(t *testing.T) int {
	t.Helper()
	for id := 1; ; id++ {
		if _, err := e.reg.SchemaByID(context.Background(), id); err != nil {
			var re *sr.ResponseError
			if !errors.As(err, &re) || re.StatusCode != 404 {
				t.Fatal(err)
			}
			return id
		}
	}
}

// nodeV2 is the node schema with a field more: a schema the registry does
// not have until the test registers it, and the writer resolves to its own.
var nodeV2 = strings.Replace(codec.NodeSchema, `{"name":"type","type":"string"},`,
	`{"name":"type","type":"string"},{"name":"note","type":"string","default":""},`, 1)

func nodeV2Value(t *testing.T, id int, nodeID string) []byte {
	t.Helper()
	sch, err := avro.Parse(nodeV2)
	if err != nil {
		t.Fatal(err)
	}
	body, err := avro.Marshal(sch, map[string]any{"type": "account", "note": "v2", "id": nodeID, "props": map[string]any{},
		"first_seen": time.UnixMilli(1), "last_seen": time.UnixMilli(1), "updated_at": time.UnixMilli(1)})
	if err != nil {
		t.Fatal(err)
	}
	return append(codec.AppendHeader(nil, id), body...)
}

// A record whose schema the registry does not have (deleted, or here not
// yet registered: the registry answers 404 either way) stalls its
// partition: nothing from it on is applied or committed, other partitions
// go on, the stall is logged at ERROR and counted in
// rdg_store_partitions_stalled; once the schema is registered the
// partition resumes by itself and the record and those after it are
// stored. It guards against skipping such records as undecodable and
// committing past them, which loses them from the store silently.
func TestWriterStallsOnMissingSchema(t *testing.T) {
	e := newEnv(t, 300)
	future := e.nextSchemaID(t)
	e.produceTo(t, 0, e.node(t, "p0-before"))
	stuck := e.produceTo(t, 0, nodeV2Value(t, future, "p0-v2"), e.node(t, "p0-after"))
	e.produceTo(t, 2, e.node(t, "p2-after"))
	st, reg, logs, errc := e.runObserved(t)
	await(t, errc, func() (bool, string) {
		c, ends := e.committed(t), e.ends(t)
		stalled := gauge(t, reg, "rdg_store_partitions_stalled")
		return stalled == 1 && c[0] == stuck[0] && c[1] == ends[1] && c[2] == ends[2],
			fmt.Sprintf("stalled %v, committed %v, ends %v, want partition 0 at %d", stalled, c, ends, stuck[0])
	})
	if !hasNode(t, st, "p0-before") || !hasNode(t, st, "p2-after") || hasNode(t, st, "p0-after") {
		t.Fatal("the store does not hold what was before the stall and on other partitions, or holds what is after it")
	}
	want := fmt.Sprintf("partition=0 offset=%d schema_id=%d", stuck[0], future)
	if l := logs.String(); !strings.Contains(l, "level=ERROR msg=\"graph partition stalled") || !strings.Contains(l, want) {
		t.Fatalf("no ERROR line naming %q:\n%s", want, l)
	}
	// The stall holds: more time, more records, still nothing past it.
	e.produceTo(t, 0, e.node(t, "p0-later"))
	e.produceTo(t, 2, e.node(t, "p2-later"))
	await(t, errc, func() (bool, string) {
		return hasNode(t, st, "p2-later"), "p2-later not stored"
	})
	if c := e.committed(t); c[0] != stuck[0] || hasNode(t, st, "p0-later") {
		t.Fatalf("partition 0 moved past its stall: committed %d, want %d", c[0], stuck[0])
	}

	id, err := codec.Register(context.Background(), e.reg, codec.Subject(codec.NodeTopic("account")), nodeV2)
	if err != nil || id != future {
		t.Fatalf("registered as id %d (%v), want %d", id, err, future)
	}
	await(t, errc, func() (bool, string) {
		c, ends := e.committed(t), e.ends(t)
		stalled := gauge(t, reg, "rdg_store_partitions_stalled")
		return stalled == 0 && fmt.Sprint(c) == fmt.Sprint(ends), fmt.Sprintf("stalled %v, committed %v, ends %v", stalled, c, ends)
	})
	for _, id := range []string{"p0-v2", "p0-after", "p0-later"} {
		if !hasNode(t, st, id) {
			t.Fatalf("%s not stored after the partition resumed", id)
		}
	}
	if !strings.Contains(logs.String(), "graph partition resumed") {
		t.Fatal("no log line saying the partition resumed")
	}
}

// With the registry stopped, a writer rebuilding a store (every schema
// still to be fetched) stalls every partition and commits nothing; it
// does not skip the records and leave an empty store behind. Once the
// registry is back, on its address, it resumes by itself and stores
// everything.
func TestWriterStallsWhileRegistryDown(t *testing.T) {
	e := newEnv(t, 300)
	addr := e.registry.addr
	e.registry.stop()
	st, reg, _, errc := e.runObserved(t)
	await(t, errc, func() (bool, string) {
		stalled := gauge(t, reg, "rdg_store_partitions_stalled")
		return stalled == 3, fmt.Sprintf("%v partitions stalled, want 3", stalled)
	})
	if c := e.committed(t); len(c) != 0 {
		t.Fatalf("committed %v with the registry down", c)
	}
	if n := gauge(t, reg, "rdg_store_records_rejected_total"); n != 0 {
		t.Fatalf("%v records rejected with the registry down", n)
	}
	e.registry.start(t, addr)
	await(t, errc, func() (bool, string) {
		c, ends := e.committed(t), e.ends(t)
		stalled := gauge(t, reg, "rdg_store_partitions_stalled")
		return stalled == 0 && fmt.Sprint(c) == fmt.Sprint(ends), fmt.Sprintf("stalled %v, committed %v, ends %v", stalled, c, ends)
	})
	if got := e.checkCommitted(t, st); got != int64(e.n) {
		t.Fatalf("%d records committed, want %d", got, e.n)
	}
}

// A subject deleted for good from the registry (here one
// no graph topic is named after, which the registry lets go) while graph
// records still carry its schema id. A writer rebuilding a store stalls on
// the first of them, saying the schema is not in the registry, instead of
// skipping every such record and committing past them.
func TestWriterStallsOnDeletedSubject(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	id, err := codec.Register(ctx, e.reg, "elsewhere-value", nodeV2)
	if err != nil {
		t.Fatal(err)
	}
	stuck := e.produceTo(t, 0, e.node(t, "first"), nodeV2Value(t, id, "v2"), e.node(t, "last"))
	for _, q := range []string{"", "?permanent=true"} {
		req, err := http.NewRequest(http.MethodDelete, "http://"+e.registry.addr+"/subjects/elsewhere-value"+q, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE subject%s: %v %v", q, resp.Status, err)
		}
		resp.Body.Close()
	}
	st, reg, logs, errc := e.runObserved(t)
	await(t, errc, func() (bool, string) {
		c := e.committed(t)
		stalled := gauge(t, reg, "rdg_store_partitions_stalled")
		return stalled == 1 && c[0] == stuck[1], fmt.Sprintf("stalled %v, committed %v, want partition 0 at %d", stalled, c, stuck[1])
	})
	if !hasNode(t, st, "first") || hasNode(t, st, "last") {
		t.Fatal("the store does not hold the record before the stall, or holds the one after it")
	}
	if want := fmt.Sprintf("schema id %d is not in the schema registry (was its subject deleted?)", id); !strings.Contains(logs.String(), want) {
		t.Fatalf("log does not say %q:\n%s", want, logs.String())
	}
}
