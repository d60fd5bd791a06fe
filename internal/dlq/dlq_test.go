package dlq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/broker"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/jobrun"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/registry"
)

var quiet = slog.New(slog.DiscardHandler)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// env is the embedded broker over TCP with rdg's registry over HTTP in
// front of it: the parts `rdg up` runs.
type env struct {
	cluster Cluster
	reg     *sr.Client
	cl      *kgo.Client
	adm     *kadm.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	b, err := broker.Start(broker.Addr("127.0.0.1:0"), broker.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	srv, err := registry.New(testCtx(t), registry.Seeds(b.Addr()), registry.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	reg, err := sr.NewClient(sr.URLs(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &env{cluster: Cluster{Seeds: []string{b.Addr()}}, reg: reg, cl: cl, adm: kadm.NewClient(cl)}
}

const visitSchema = `{"type":"record","name":"Visit","namespace":"rdg.test","fields":[
	{"name":"member_id","type":"string"},
	{"name":"title_id","type":"string"},
	{"name":"device","type":"string"}]}`

type visit struct {
	MemberID string `avro:"member_id"`
	TitleID  string `avro:"title_id"`
	Device   string `avro:"device"`
}

// The job as deployed has a bug: the account id reads "memberid", a field
// the records lack, so every id is empty and every record fails at map.
const buggyJob = `name: visits
source: {topic: member.visits}
nodes:
  - {type: account, id: memberid}
  - {type: title, id: title_id}
edges:
  - {type: watched, from: account(member_id), to: title(title_id), props: {device: device}}
`

// The fix names the field right, and also filters out test traffic.
const fixedJob = `name: visits
source: {topic: member.visits}
filter: title_id != "test"
nodes:
  - {type: account, id: member_id}
  - {type: title, id: title_id}
edges:
  - {type: watched, from: account(member_id), to: title(title_id), props: {device: device}}
`

func writeJob(t *testing.T, dir, src string) *engine.Job {
	t.Helper()
	path := filepath.Join(dir, "visits.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := engine.Load(path)
	if err != nil {
		t.Fatalf("load job:\n%v", err)
	}
	return j
}

// sourceRec is a record as the job read it from its source topic.
type sourceRec struct {
	partition int32
	offset    int64
	key       []byte
	value     []byte
	headers   []kgo.RecordHeader
	ts        time.Time
}

// deadLetter writes rec to the job's dead-letter topic with the headers the
// job runner writes (codec.DeadLetter), after running it through the
// real Processor to get the failure the runner would have recorded.
func (e *env) deadLetter(t *testing.T, ctx context.Context, j *engine.Job, rec sourceRec) {
	t.Helper()
	var out graph.Batch
	_, err := engine.NewProcessor(j, codec.NewSchemas(e.reg)).Process(ctx, rec.value, rec.ts, &out)
	if err == nil {
		t.Fatalf("record at offset %d does not fail under the buggy job", rec.offset)
	}
	stage, schemaID := engine.StageDecode, 0
	var se *engine.StageError
	if errors.As(err, &se) {
		stage, schemaID = se.Stage, se.SchemaID
	}
	headers := append(append([]kgo.RecordHeader(nil), rec.headers...),
		kgo.RecordHeader{Key: codec.HeaderStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: codec.HeaderError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: codec.HeaderTopic, Value: []byte(j.Spec.Source.Topic)},
		kgo.RecordHeader{Key: codec.HeaderPartition, Value: []byte(strconv.Itoa(int(rec.partition)))},
		kgo.RecordHeader{Key: codec.HeaderOffset, Value: []byte(strconv.FormatInt(rec.offset, 10))},
		kgo.RecordHeader{Key: codec.HeaderSchemaID, Value: []byte(strconv.Itoa(schemaID))},
	)
	r := &kgo.Record{Topic: job.DeadLetterTopic(j.Spec.Name), Key: rec.key, Value: rec.value, Headers: headers, Timestamp: rec.ts}
	if err := e.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// endOffsets sums the end offsets of topics: how many records they hold.
func (e *env) endOffsets(t *testing.T, ctx context.Context, topics ...string) int64 {
	t.Helper()
	ends, err := e.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s[%d]: %v", o.Topic, o.Partition, o.Err)
		}
		n += o.Offset
	})
	return n
}

// graphRecords reads every record of the graph topics of the visits job and
// decodes it, as any consumer of the graph topics would.
func (e *env) graphRecords(t *testing.T, ctx context.Context) (nodes []string, edges []string) {
	t.Helper()
	topics := []string{codec.NodeTopic("account"), codec.NodeTopic("title"), codec.EdgeTopic("watched")}
	want := e.endOffsets(t, ctx, topics...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.Seeds...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	elems := codec.NewElements(e.reg)
	for got := int64(0); got < want; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume graph topics: %v", err)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			got++
			if strings.HasPrefix(r.Topic, codec.NodeTopicPrefix) {
				n, err := elems.DecodeNode(ctx, r.Value)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(r.Key, codec.NodeKey(n.NodeRef)) {
					t.Errorf("node %s has key %q", n.NodeRef, r.Key)
				}
				if r.Topic != codec.NodeTopic(n.Type) {
					t.Errorf("node %s on topic %s", n.NodeRef, r.Topic)
				}
				nodes = append(nodes, fmt.Sprintf("%s first_seen=%d", n.NodeRef, n.FirstSeen))
				continue
			}
			ed, err := elems.DecodeEdge(ctx, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Key, codec.EdgeKey(ed.EdgeRef)) {
				t.Errorf("edge %s has key %q", ed.EdgeRef, r.Key)
			}
			edges = append(edges, fmt.Sprintf("%s device=%v first_seen=%d", ed.EdgeRef, ed.Props["device"].Value, ed.FirstSeen))
		}
	}
	slices.Sort(nodes)
	slices.Sort(edges)
	return nodes, edges
}

func (e *env) committed(t *testing.T, ctx context.Context, group, topic string) (int64, bool) {
	t.Helper()
	offs, err := e.adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok || o.Err != nil {
		return 0, false
	}
	return o.At, true
}

// TestReplay is the operator's story: a job with a mapping bug
// dead-letters good records next to a garbage one; the operator lists and
// inspects the dead letters, fixes the job file, dry-runs, and replays; the
// graph topics receive the nodes and edges, the garbage stays behind, and
// replays neither repeat themselves nor loop.
func TestReplay(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	buggy := writeJob(t, dir, buggyJob)
	// The topics a running job would have created.
	if err := jobrun.Prepare(ctx, buggy, e.cluster.Seeds, nil, 1); err != nil {
		t.Fatal(err)
	}
	topic := job.DeadLetterTopic("visits")

	id, err := codec.Register(ctx, e.reg, codec.Subject("member.visits"), visitSchema)
	if err != nil {
		t.Fatal(err)
	}
	sch := avro.MustParse(visitSchema)
	encode := func(v visit) []byte {
		body, err := avro.Marshal(sch, v)
		if err != nil {
			t.Fatal(err)
		}
		return append(codec.AppendHeader(nil, id), body...)
	}
	t0 := time.UnixMilli(1_750_000_000_000).UTC()
	recs := []sourceRec{
		{partition: 2, offset: 40, key: []byte("m-1"), value: encode(visit{"m-1", "t-1", "tv"}),
			headers: []kgo.RecordHeader{{Key: "trace-id", Value: []byte("abc")}}, ts: t0},
		{partition: 0, offset: 7, key: []byte{0xff, 0x00}, value: []byte("not avro, just some bytes that a broken producer sent"), ts: t0.Add(time.Second)},
		{partition: 1, offset: 12, value: encode(visit{"m-2", "test", "phone"}), ts: t0.Add(2 * time.Second)},
	}
	for _, r := range recs {
		e.deadLetter(t, ctx, buggy, r)
	}

	// list: counts by stage and the time range.
	topics, err := Topics(ctx, e.cluster)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(topics, []string{topic}) {
		t.Fatalf("Topics = %v, want [%s]", topics, topic)
	}
	sums, err := Summarize(ctx, e.cluster)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 {
		t.Fatalf("Summarize = %+v", sums)
	}
	s := sums[0]
	if s.Job != "visits" || s.Count != 3 || s.ByStage[engine.StageMap] != 2 || s.ByStage[engine.StageDecode] != 1 || len(s.ByStage) != 2 {
		t.Errorf("summary = %+v, want job visits, 3 records, map=2 decode=1", s)
	}
	if !s.Oldest.Equal(t0) || !s.Newest.Equal(t0.Add(2*time.Second)) {
		t.Errorf("summary time range %s..%s, want %s..%s", s.Oldest, s.Newest, t0, t0.Add(2*time.Second))
	}
	var table bytes.Buffer
	if err := WriteSummaries(&table, sums); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "decode=1 map=2") || !strings.Contains(table.String(), "visits  3") {
		t.Errorf("summary table:\n%s", table.String())
	}

	// show: headers parsed, original headers kept apart.
	got, err := Read(ctx, e.cluster, topic, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Read returned %d records, want 3", len(got))
	}
	r0, r1 := got[0], got[1]
	if r0.Offset != 0 || r0.Stage != engine.StageMap || r0.SourceTopic != "member.visits" || r0.SourcePartition != 2 ||
		r0.SourceOffset != 40 || r0.SchemaID != id || string(r0.Key) != "m-1" || !r0.Timestamp.Equal(t0) {
		t.Errorf("record 0 = %+v", r0)
	}
	if !strings.Contains(r0.Error, "empty node id") {
		t.Errorf("record 0 error %q, want the empty id", r0.Error)
	}
	if len(r0.Headers) != 1 || r0.Headers[0].Key != "trace-id" || string(r0.Headers[0].Value) != "abc" {
		t.Errorf("record 0 original headers = %v, want only trace-id", r0.Headers)
	}
	if r1.Offset != 1 || r1.Stage != engine.StageDecode || r1.SchemaID != 0 || r1.SourcePartition != 0 || r1.SourceOffset != 7 ||
		!strings.Contains(r1.Error, "not Confluent wire format") || len(r1.Headers) != 0 {
		t.Errorf("record 1 = %+v", r1)
	}
	if page, err := Read(ctx, e.cluster, topic, 1, 1); err != nil || len(page) != 1 || page[0].Offset != 1 {
		t.Errorf("Read(from 1, limit 1) = %+v, %v; want offset 1 only", page, err)
	}
	var dump bytes.Buffer
	if err := WriteRecord(&dump, &r1, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"source     member.visits partition 0 offset 7", "stage      decode",
		"key        0xff00", "|not avro, just s|", "53 bytes"} {
		if !strings.Contains(dump.String(), want) {
			t.Errorf("show output lacks %q:\n%s", want, dump.String())
		}
	}

	// The fix, then a dry run: outcomes reported, nothing written.
	fixed := writeJob(t, dir, fixedJob)
	graphTopics := []string{codec.NodeTopic("account"), codec.NodeTopic("title"), codec.EdgeTopic("watched")}
	now := func() time.Time { return t0.Add(time.Hour) }
	var outcomes []string
	dry, err := Replay(ctx, ReplayConfig{Cluster: e.cluster, Registry: e.reg, Job: fixed, DryRun: true, Now: now,
		Each: func(o *Outcome) {
			var b bytes.Buffer
			if err := WriteOutcome(&b, o); err != nil {
				t.Error(err)
			}
			outcomes = append(outcomes, b.String())
		}})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Replayed != 1 || dry.Failed != 1 || dry.Filtered != 1 || dry.Nodes != 2 || dry.Edges != 1 {
		t.Errorf("dry run stats = %+v, want replayed 1, still failing 1, filtered 1, 2 nodes, 1 edge", dry)
	}
	if len(outcomes) != 3 || !strings.Contains(outcomes[0], "edge account:m-1 -watched-> title:t-1 {device: \"tv\"}") ||
		!strings.Contains(outcomes[1], "still failing at decode") || !strings.Contains(outcomes[2], "filtered") {
		t.Errorf("dry-run outcomes:\n%s", strings.Join(outcomes, ""))
	}
	if n := e.endOffsets(t, ctx, graphTopics...); n != 0 {
		t.Errorf("dry run wrote %d graph records", n)
	}
	if _, ok := e.committed(t, ctx, Group("visits"), topic); ok {
		t.Error("dry run committed a replay position")
	}

	// The replay proper.
	st, err := Replay(ctx, ReplayConfig{Cluster: e.cluster, Registry: e.reg, Job: fixed, Now: now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 3 || st.Replayed != 1 || st.Failed != 1 || st.Filtered != 1 {
		t.Errorf("replay stats = %+v, want read 3, replayed 1, still failing 1, filtered 1", st)
	}
	if len(st.Failures) != 1 || st.Failures[0].Offset != 1 || st.Failures[0].Stage != engine.StageDecode || st.Failures[0].SourceOffset != 7 {
		t.Errorf("failures = %+v, want the garbage record at dlq offset 1", st.Failures)
	}
	nodes, edges := e.graphRecords(t, ctx)
	ts := t0.UnixMilli()
	wantNodes := []string{fmt.Sprintf("account:m-1 first_seen=%d", ts), fmt.Sprintf("title:t-1 first_seen=%d", ts)}
	wantEdges := []string{fmt.Sprintf("account:m-1 -watched-> title:t-1 device=tv first_seen=%d", ts)}
	if !slices.Equal(nodes, wantNodes) || !slices.Equal(edges, wantEdges) {
		t.Errorf("graph topics hold nodes %q edges %q, want %q %q", nodes, edges, wantNodes, wantEdges)
	}
	if at, ok := e.committed(t, ctx, Group("visits"), topic); !ok || at != 3 {
		t.Errorf("replay position = %d (committed %v), want 3", at, ok)
	}
	var report bytes.Buffer
	if err := WriteReport(&report, &st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"replayed 1, still failing 1, filtered 1", "decode: not Confluent wire format", "--from 1"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	// Still-failing records are not dead-lettered again.
	if n := e.endOffsets(t, ctx, topic); n != 3 {
		t.Errorf("dead-letter topic has %d records after the replay, want 3", n)
	}

	// Again: nothing new.
	again, err := Replay(ctx, ReplayConfig{Cluster: e.cluster, Registry: e.reg, Job: fixed, Now: now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if again.Read != 0 || again.Replayed != 0 {
		t.Errorf("second replay = %+v, want nothing read", again)
	}
	if n := e.endOffsets(t, ctx, graphTopics...); n != 3 {
		t.Errorf("graph topics hold %d records after the second replay, want 3", n)
	}

	// A new dead letter arrives: only it is replayed next time.
	e.deadLetter(t, ctx, buggy, sourceRec{partition: 0, offset: 8, value: encode(visit{"m-3", "t-1", "tablet"}), ts: t0.Add(3 * time.Second)})
	more, err := Replay(ctx, ReplayConfig{Cluster: e.cluster, Registry: e.reg, Job: fixed, Now: now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if more.Read != 1 || more.Replayed != 1 || len(more.Ranges) != 1 || more.Ranges[0] != (Range{0, 3, 4}) {
		t.Errorf("replay after a new dead letter = %+v, want offset 3 only", more)
	}

	// --from 0 replays everything again.
	from := int64(0)
	all, err := Replay(ctx, ReplayConfig{Cluster: e.cluster, Registry: e.reg, Job: fixed, From: &from, Now: now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if all.Read != 4 || all.Replayed != 2 || all.Failed != 1 || all.Filtered != 1 {
		t.Errorf("replay --from 0 = %+v, want read 4, replayed 2", all)
	}
	if n := e.endOffsets(t, ctx, graphTopics...); n != 3+3+6 {
		t.Errorf("graph topics hold %d records after --from 0, want 12", n)
	}
	if at, ok := e.committed(t, ctx, Group("visits"), topic); !ok || at != 4 {
		t.Errorf("replay position = %d (committed %v), want 4", at, ok)
	}
}

func TestReplayMissingTopic(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	j := writeJob(t, t.TempDir(), fixedJob)
	_, err := Replay(ctx, ReplayConfig{Cluster: e.cluster, Registry: e.reg, Job: j})
	if !errors.Is(err, ErrNoTopic) {
		t.Errorf("replay of a job without a dead-letter topic: %v, want ErrNoTopic", err)
	}
	if _, err := Read(ctx, e.cluster, job.DeadLetterTopic("nope"), 0, 0); !errors.Is(err, ErrNoTopic) {
		t.Errorf("Read of a missing topic: %v, want ErrNoTopic", err)
	}
	sums, err := Summarize(ctx, e.cluster)
	if err != nil || len(sums) != 0 {
		t.Errorf("Summarize with no dead-letter topics = %v, %v", sums, err)
	}
}

func TestParseRecordKeepsEarlierRDGHeaders(t *testing.T) {
	// A source record that was itself copied from a dead-letter topic: its
	// rdg headers are its own; the job's are the last ones.
	r := ParseRecord(&kgo.Record{Headers: []kgo.RecordHeader{
		{Key: codec.HeaderStage, Value: []byte("decode")},
		{Key: "x", Value: []byte("1")},
		{Key: codec.HeaderStage, Value: []byte("map")},
		{Key: codec.HeaderOffset, Value: []byte("oops")},
	}})
	if r.Stage != "map" || r.SourceOffset != -1 || r.SourcePartition != -1 || len(r.Headers) != 2 || string(r.Headers[0].Value) != "decode" {
		t.Errorf("ParseRecord = %+v", r)
	}
}

func TestFormats(t *testing.T) {
	r := &Record{Offset: 5, Timestamp: time.UnixMilli(0), Stage: engine.StageMap, Error: "map: boom\n | memberid\n | ^",
		SourceTopic: "s", SourcePartition: 1, SourceOffset: 2, Value: bytes.Repeat([]byte{'a'}, 100)}
	var b bytes.Buffer
	lw := NewLineWriter(&b)
	if err := lw.Write(r); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[1], "s[1]@2") || !strings.HasSuffix(lines[1], "map: boom | memberid | ^") {
		t.Errorf("list line:\n%s", b.String())
	}
	b.Reset()
	if err := WriteRecord(&b, r, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "first 64 shown") || strings.Contains(b.String(), "00000040") {
		t.Errorf("preview not cut at %d bytes:\n%s", PreviewBytes, b.String())
	}
	b.Reset()
	if err := WriteRecord(&b, r, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "00000060") {
		t.Errorf("--full did not dump everything:\n%s", b.String())
	}
	j := ToJSON(r, PreviewBytes)
	if len(j.Value) != PreviewBytes || !j.ValueTruncated || j.ValueLen != 100 || j.Key != nil {
		t.Errorf("ToJSON = %+v", j)
	}
	b.Reset()
	a := NewJSONArray(&b)
	if err := a.Close(); err != nil || b.String() != "[]\n" {
		t.Errorf("empty array = %q, %v", b.String(), err)
	}
}

// TestTransactionalDeadLetters: an exactly-once job writes dead letters in
// transactions. Aborted ones were never dead-lettered and must not be read;
// an open transaction must not make a read wait; markers must not stop a
// read from ending.
func TestTransactionalDeadLetters(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	topic := job.DeadLetterTopic("txn")
	if err := kafka.EnsureTopics(ctx, e.adm, kafka.Topic{Name: topic, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	txn := func(id string, commit bool, values ...string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.Seeds...), kgo.TransactionalID(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			r := &kgo.Record{Topic: topic, Value: []byte(v), Headers: []kgo.RecordHeader{{Key: codec.HeaderStage, Value: []byte(engine.StageDecode)}}}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		} else if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	txn("a", true, "one", "two")
	txn("b", false, "aborted")
	txn("c", true, "three")
	// Left open: its record is beyond the last stable offset.
	open, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.Seeds...), kgo.TransactionalID("d"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("pending")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	recs, err := Read(ctx, e.cluster, topic, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, r := range recs {
		values = append(values, string(r.Value))
	}
	if !slices.Equal(values, []string{"one", "two", "three"}) {
		t.Errorf("Read = %q, want the committed dead letters only", values)
	}
	sums, err := Summarize(ctx, e.cluster, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].ByStage[engine.StageDecode] != 3 {
		t.Errorf("Summarize = %+v, want 3 committed decode failures", sums)
	}
}
