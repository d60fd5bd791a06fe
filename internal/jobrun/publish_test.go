package jobrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/testkit"
)

const blobSchema = `{"type":"record","name":"Blob","namespace":"rdg.test","fields":[
	{"name":"member_id","type":"string"},
	{"name":"blob","type":"string"}]}`

type blobRec struct {
	MemberID string `avro:"member_id"`
	Blob     string `avro:"blob"`
}

// blobJob maps each record to an account carrying blob twice: a record
// under max_record_bytes can make an element over the producer's limit.
// It commits every 100ms, so that the tests' waits for a commit are short.
func blobJob(delivery string) string {
	return `name: blobs
source: {topic: member.blobs}
delivery: ` + delivery + `
tuning: {commit_interval: 100ms}
nodes:
  - {type: account, id: member_id, props: {a: blob, b: blob}}
`
}

// publishEnv is a broker and registry with the blobs source topic (one
// partition) and a function producing records to it.
type publishEnv struct {
	*testkit.Env
	seeds   []string
	adm     *kadm.Client
	cl      *kgo.Client
	id      int
	produce func(t *testing.T, recs ...blobRec)
}

const blobTopic = "member.blobs"

func newPublishEnv(t *testing.T) *publishEnv {
	e := &publishEnv{Env: testkit.NewEnv(t)}
	e.seeds = e.Cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.seeds...), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	e.cl, e.adm = cl, kadm.NewClient(cl)
	ten := "10485760"
	if _, err := e.adm.CreateTopic(testkit.Ctx(t), 1, 1, map[string]*string{"max.message.bytes": &ten}, blobTopic); err != nil {
		t.Fatal(err)
	}
	id, sch := e.Register(t, codec.Subject(blobTopic), blobSchema)
	e.id = id
	e.produce = func(t *testing.T, recs ...blobRec) {
		t.Helper()
		var krs []*kgo.Record
		for _, r := range recs {
			krs = append(krs, &kgo.Record{Topic: blobTopic, Value: testkit.Encode(t, id, sch, r)})
		}
		if err := cl.ProduceSync(testkit.Ctx(t), krs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// run runs j until the test ends; its error, if it stops, goes to the
// returned channel.
func (e *publishEnv) run(t *testing.T, j *engine.Job, reg prometheus.Registerer) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	errc, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		errc <- Run(ctx, j, RunConfig{Seeds: e.seeds, Registry: e.Reg, GraphPartitions: 1,
			Metrics: NewMetrics(reg), Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return errc
}

// committed is the group's committed offset of the source partition, 0 if
// none.
func (e *publishEnv) committed(t *testing.T, group string) int64 {
	t.Helper()
	offs, err := e.adm.FetchOffsets(testkit.Ctx(t), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0 // nothing committed yet
	}
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(blobTopic, 0); ok && o.Err == nil {
		return o.At
	}
	return 0
}

// awaitCommitted waits until the job has committed offset want, failing
// if it stops or a deadline passes.
func (e *publishEnv) awaitCommitted(t *testing.T, errc <-chan error, want int64) {
	t.Helper()
	testkit.Await(t, 30*time.Second, fmt.Sprintf("offset %d committed", want), func() (bool, string) {
		select {
		case err := <-errc:
			t.Fatalf("job stopped: %v", err)
		default:
		}
		got := e.committed(t, Group("blobs"))
		return got == want, fmt.Sprintf("committed %d", got)
	})
}

// readCommitted reads n records of topic as a read_committed consumer.
func readCommitted(t *testing.T, seeds []string, topic string, n int) []*kgo.Record {
	t.Helper()
	return readAll(t, seeds, []string{topic}, n, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
}

// endOffset is topic's end offset (partition 0 and any other summed).
func (e *publishEnv) endOffset(t *testing.T, topic string) int64 {
	ends, err := e.adm.ListEndOffsets(testkit.Ctx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += max(o.Offset, 0) })
	return n
}

// recordsContain is a fault's condition: a Produce request with a
// partition's records containing marker.
func recordsContain(marker string) func(kmsg.Request) bool {
	return func(req kmsg.Request) bool {
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range tp.Partitions {
				if bytes.Contains(p.Records, []byte(marker)) {
					return true
				}
			}
		}
		return false
	}
}

// headers are r's headers by key, the last of each.
func headers(r *kgo.Record) map[string]string {
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// An element larger than the producer's max record bytes (a 614 KB
// record mapped to two copies of a property, 1.23 MB) goes to the
// dead-letter topic without a round trip, with its bytes, stage publish
// and MESSAGE_TOO_LARGE; the job commits past it and maps the records
// after it, at least once and exactly once. It guards against a refusal
// that fails the job, which would restart into it for ever, committing
// nothing.
func TestOversizedElementDeadLettered(t *testing.T) {
	for _, delivery := range []string{job.DeliveryAtLeastOnce, job.DeliveryExactlyOnce} {
		t.Run(delivery, func(t *testing.T) {
			e := newPublishEnv(t)
			blob := strings.Repeat("x", 614<<10)
			e.produce(t, blobRec{"m-0", "small"}, blobRec{"m-big", blob}, blobRec{"m-2", "small"})
			reg := prometheus.NewRegistry()
			errc := e.run(t, compileJob(t, "inline.yaml", blobJob(delivery)), reg)
			e.awaitCommitted(t, errc, 3)

			dls := readCommitted(t, e.seeds, job.DeadLetterTopic("blobs"), 1)
			dl := dls[0]
			h := headers(dl)
			if h[codec.HeaderStage] != engine.StagePublish || h[codec.HeaderElementTopic] != codec.NodeTopic("account") || h[codec.HeaderTopic] != blobTopic ||
				!strings.Contains(h[codec.HeaderError], "MESSAGE_TOO_LARGE") || !strings.Contains(h[codec.HeaderError], "exceeds the producer's max record bytes") {
				t.Fatalf("dead letter headers %v", h)
			}
			n, err := codec.NewElements(e.Reg).DecodeNode(testkit.Ctx(t), dl.Value)
			if err != nil || n.ID != "m-big" || string(dl.Key) != "m-big" || n.Props["a"].Value != blob || n.Props["b"].Value != blob {
				t.Fatalf("dead letter value (%d bytes) is not the element: node %s, key %q, err %v", len(dl.Value), n.NodeRef, dl.Key, err)
			}
			nodes := readCommitted(t, e.seeds, codec.NodeTopic("account"), 2)
			for _, r := range nodes {
				if k := string(r.Key); k != "m-0" && k != "m-2" {
					t.Fatalf("graph topic holds node %q", k)
				}
			}
			if n := gathered(t, reg, "rdg_job_records_dead_lettered_total", "stage", engine.StagePublish); n != 1 {
				t.Fatalf("dead-lettered{stage=publish} = %v, want 1", n)
			}
		})
	}
}

// A record the broker refuses (INVALID_RECORD here, from kfake's fault
// injection: what a broker's record validation answers) is dead-lettered
// once it is refused alone. The broker refuses a whole batch, and the
// producer fails every record buffered for the partition with it: the
// other records of the poison one's batch are produced again, alone, and
// reach the graph topic.
func TestRefusedElementDeadLettered(t *testing.T) {
	for _, delivery := range []string{job.DeliveryAtLeastOnce, job.DeliveryExactlyOnce} {
		t.Run(delivery, func(t *testing.T) {
			e := newPublishEnv(t)
			var recs []blobRec
			for i := range 30 {
				recs = append(recs, blobRec{fmt.Sprintf("m-%02d", i), "v"})
			}
			recs[17].MemberID = "poison"
			e.produce(t, recs...)
			e.Cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: codec.NodeTopic("account"), Err: kerr.InvalidRecord, Count: -1,
				When: recordsContain("poison")})
			errc := e.run(t, compileJob(t, "inline.yaml", blobJob(delivery)), nil)
			e.awaitCommitted(t, errc, 30)
			dls := readCommitted(t, e.seeds, job.DeadLetterTopic("blobs"), 1)
			if h := headers(dls[0]); string(dls[0].Key) != "poison" || h[codec.HeaderStage] != engine.StagePublish || !strings.Contains(h[codec.HeaderError], "INVALID_RECORD") {
				t.Fatalf("dead letter %q with headers %v", dls[0].Key, h)
			}
			got := map[string]bool{}
			for _, r := range readCommitted(t, e.seeds, codec.NodeTopic("account"), 29) {
				got[string(r.Key)] = true
			}
			if len(got) != 29 || got["poison"] {
				t.Fatalf("graph topic holds %d distinct nodes (poison: %v), want the 29 good ones", len(got), got["poison"])
			}
			if n := e.endOffset(t, job.DeadLetterTopic("blobs")); delivery == job.DeliveryAtLeastOnce && n != 1 {
				t.Fatalf("%d dead letters, want 1", n)
			}
		})
	}
}

// A broker failing for its own reasons is not the record's fault: the job
// stops with the error (its supervisor restarts it) and dead-letters
// nothing and commits nothing.
func TestBrokerFailureIsNotDeadLettered(t *testing.T) {
	e := newPublishEnv(t)
	e.produce(t, blobRec{"m-0", "v"}, blobRec{"m-1", "v"})
	e.Cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: codec.NodeTopic("account"), Err: kerr.UnknownServerError, Count: -1})
	errc := e.run(t, compileJob(t, "inline.yaml", blobJob(job.DeliveryAtLeastOnce)), nil)
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "UNKNOWN_SERVER_ERROR") {
			t.Fatalf("Run = %v, want the broker's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not stop on a failing broker")
	}
	if n := e.endOffset(t, job.DeadLetterTopic("blobs")); n != 0 {
		t.Fatalf("%d dead letters for a broker failure", n)
	}
	if c := e.committed(t, Group("blobs")); c != 0 {
		t.Fatalf("offset %d committed with nothing published", c)
	}
}

// Lag counts, for a partition the group has not committed, from where the
// job began: the log start (earliest) or the end when it started (latest),
// whether or not the group has members. kadm's group lag, summed over
// members, says 0 for a job restarting in a loop before its first commit.
func TestLagWithoutCommit(t *testing.T) {
	e := newPublishEnv(t)
	e.produce(t, blobRec{"m-0", "v"}, blobRec{"m-1", "v"}, blobRec{"m-2", "v"})
	j := compileJob(t, "inline.yaml", blobJob(job.DeliveryAtLeastOnce))
	base := map[int32]int64{0: 0}
	if lag, err := Lag(testkit.Ctx(t), e.adm, j, base); err != nil || lag != 3 {
		t.Fatalf("lag with no commit = %d (%v), want 3", lag, err)
	}
	latest := compileJob(t, "inline.yaml", strings.Replace(blobJob(job.DeliveryAtLeastOnce), "{topic: member.blobs}", "{topic: member.blobs, start: latest}", 1))
	e.produce(t, blobRec{"m-3", "v"}, blobRec{"m-4", "v"})
	if lag, err := Lag(testkit.Ctx(t), e.adm, latest, map[int32]int64{0: 3}); err != nil || lag != 2 {
		t.Fatalf("lag of a job started at the end (3) = %d (%v), want 2", lag, err)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: blobTopic, Partition: 0, At: 4, LeaderEpoch: -1})
	if err := e.adm.CommitAllOffsets(testkit.Ctx(t), Group("blobs"), offs); err != nil {
		t.Fatal(err)
	}
	if lag, err := Lag(testkit.Ctx(t), e.adm, j, base); err != nil || lag != 1 {
		t.Fatalf("lag after a commit at 4 of 5 = %d (%v), want 1", lag, err)
	}
}

// A dead letter the dead-letter topic refuses goes again alone, then
// without its value (rdg.error says why), so that not even a record too
// large for the dead-letter topic stalls the job; one larger than the
// producer would send goes without its value at once.
func TestDeadLetterWithoutValue(t *testing.T) {
	e := newPublishEnv(t)
	if err := e.cl.ProduceSync(testkit.Ctx(t),
		&kgo.Record{Topic: blobTopic, Key: []byte("k1"), Value: []byte("not avro: POISONVALUE")},
		&kgo.Record{Topic: blobTopic, Key: []byte("k2"), Value: []byte("not avro either")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.produce(t, blobRec{"m-2", "v"})
	e.Cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: job.DeadLetterTopic("blobs"), Err: kerr.InvalidRecord, Count: -1,
		When: recordsContain("POISONVALUE")})
	errc := e.run(t, compileJob(t, "inline.yaml", blobJob(job.DeliveryAtLeastOnce)), nil)
	e.awaitCommitted(t, errc, 3)
	got := map[string]*kgo.Record{}
	for _, r := range readCommitted(t, e.seeds, job.DeadLetterTopic("blobs"), 2) {
		got[string(r.Key)] = r
	}
	if r := got["k1"]; r == nil || len(r.Value) != 0 || headers(r)[codec.HeaderStage] != engine.StageDecode ||
		!strings.Contains(headers(r)[codec.HeaderError], "the value (21 bytes) is left out: INVALID_RECORD") {
		t.Fatalf("refused dead letter: %+v", r)
	}
	if r := got["k2"]; r == nil || string(r.Value) != "not avro either" {
		t.Fatalf("the other dead letter: %+v", r)
	}

	// Too large for the producer: left out without a round trip.
	j := compileJob(t, "inline.yaml", blobJob(job.DeliveryAtLeastOnce))
	prod := &heldProducer{}
	c := NewChain(j, ChainConfig{Schemas: codec.NewSchemas(e.Reg), Elements: codec.NewElements(e.Reg), Producer: prod, MaxDeadLetterBytes: 1000})
	big := &kgo.Record{Topic: blobTopic, Partition: 0, Offset: 9, Key: []byte("k"), Value: bytes.Repeat([]byte{1}, 5000),
		Headers: []kgo.RecordHeader{{Key: "trace", Value: bytes.Repeat([]byte{2}, 5000)}}}
	if err := c.Ingest(testkit.Ctx(t), big, time.Now()); err != nil {
		t.Fatal(err)
	}
	dl := prod.recs[0]
	h := headers(dl)
	if dl.Value != nil || h["trace"] != "" || h[codec.HeaderOffset] != "9" || codec.RecordSize(dl) > 1000 ||
		!strings.Contains(h[codec.HeaderError], "the value (5000 bytes) is left out: dead letter of") {
		t.Fatalf("dead letter of %d bytes, value %d bytes, headers %v", codec.RecordSize(dl), len(dl.Value), h)
	}
}
