package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/dlq"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/stack"
)

// playbackTagged is the demo's Playback with fields added, each with a
// default (a compatible evolution the registry accepts under the same
// subject): the arrays, maps, strings and bytes Avro bombs hide in. A job
// whose reader schema is Playback skips them (hamba's skip path); a job
// without one decodes them.
const playbackTagged = `{"type":"record","name":"Playback","namespace":"rdg.demo","fields":[
	{"name":"event_id","type":"string"},
	{"name":"event_ts","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"member_id","type":"string"},
	{"name":"profile_id","type":"string"},
	{"name":"device_id","type":"string"},
	{"name":"title_id","type":"string"},
	{"name":"episode_id","type":["null","string"],"default":null},
	{"name":"position_ms","type":"long"},
	{"name":"event_type","type":{"type":"enum","name":"PlaybackEventType","symbols":["PLAY_START","PLAY_STOP"]}},
	{"name":"tags","type":{"type":"array","items":["null","long"]},"default":[]},
	{"name":"attrs","type":{"type":"map","values":"string"},"default":{}},
	{"name":"note","type":"string","default":""},
	{"name":"blob","type":"bytes","default":""},
	{"name":"nested","type":{"type":"array","items":{"type":"map","values":{"type":"array","items":"long"}}},"default":[]},
	{"name":"nulls","type":{"type":"array","items":"null"},"default":[]}]}`

// playField names the fields of playbackTagged, in order.
var playField = []string{"event_id", "event_ts", "member_id", "profile_id", "device_id", "title_id", "episode_id",
	"position_ms", "event_type", "tags", "attrs", "note", "blob", "nested", "nulls"}

// playBody is a body of Playback (tagged: of playbackTagged) for member,
// with the fields in set replaced by raw bytes (nil: left out, and the
// body ends before it).
func playBody(member string, tagged bool, set map[string][]byte) []byte {
	v := func(parts ...any) []byte { return varintValue(0, parts...)[codec.HeaderSize:] }
	fields := map[string][]byte{
		"event_id": v("e-" + member), "event_ts": v(time.Now().Add(-time.Hour).UnixMilli()), "member_id": v(member),
		"profile_id": v("p-1"), "device_id": v("d-" + member), "title_id": v("t-show"), "episode_id": v(1, "t-show-s1e1"),
		"position_ms": v(1000), "event_type": v(0), "tags": v(1, 1, 5, 0), "attrs": v(1, "k", "v", 0), "note": v("n"),
		"blob": v(0), "nested": v(0), "nulls": v(0),
	}
	n := 9
	if tagged {
		n = len(playField)
	}
	var b []byte
	for _, f := range playField[:n] {
		x, ok := set[f]
		if !ok {
			x = fields[f]
		}
		if x == nil && ok {
			break
		}
		b = append(b, x...)
	}
	return b
}

// hostile is one bad record and what the job must do with it: dead-letter
// it at stage with an error containing errHas, the schema id header set to
// schemaID.
type hostile struct {
	what     string
	value    []byte
	stage    string
	errHas   string
	schemaID int
}

// hostileRecords produces good(0), bads[0], good(1), ..., bads[n-1],
// good(n) to topic (one partition, so offsets are the order of
// production); waits until every good record is in the graph (isIn); and
// checks that each bad one is in jobName's dead-letter topic, bytes intact,
// with its stage, error, source offset and schema id, and counted.
func hostileRecords(t *testing.T, st *testStack, topic, jobName string, bads []hostile, good func(i int) []byte, isIn func(i int) bool) {
	t.Helper()
	ctx := context.Background()
	cl := st.producer(t)
	var values [][]byte
	for i, b := range bads {
		values = append(values, good(i), b.value)
	}
	values = append(values, good(len(bads)))
	var offsets []int64
	for _, v := range values {
		r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: v}).First()
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, r.Offset)
	}
	// Every good record, before, between and after the bad ones, is in
	// the graph: the job kept running.
	await(t, 20*time.Second, func() (bool, string) {
		for i := 0; i <= len(bads); i++ {
			if !isIn(i) {
				return false, fmt.Sprintf("%s: good record %d not in the graph", jobName, i)
			}
		}
		return true, ""
	})
	var recs []dlq.Record
	var err error
	await(t, 10*time.Second, func() (bool, string) {
		recs, err = dlq.Read(ctx, dlq.Cluster{Seeds: st.Seeds()}, job.DeadLetterTopic(jobName), 0, 0)
		if err != nil {
			return false, err.Error()
		}
		return len(recs) >= len(bads), fmt.Sprintf("%d dead letters, want %d", len(recs), len(bads))
	})
	if len(recs) != len(bads) {
		t.Fatalf("%s: %d dead letters, want %d", jobName, len(recs), len(bads))
	}
	stages := map[string]float64{}
	for i, b := range bads {
		stages[b.stage]++
		r := recs[i]
		if r.Stage != b.stage || !strings.Contains(r.Error, b.errHas) {
			t.Errorf("%s, %s: dead letter stage %q error %q, want stage %q and an error containing %q", jobName, b.what, r.Stage, r.Error, b.stage, b.errHas)
		}
		if string(r.Value) != string(b.value) || string(r.Key) != "k" {
			t.Errorf("%s, %s: dead letter key or value differs from the original record", jobName, b.what)
		}
		if r.SourceTopic != topic || r.SourcePartition != 0 || r.SourceOffset != offsets[2*i+1] {
			t.Errorf("%s, %s: dead letter from %s[%d]@%d, want %s[0]@%d", jobName, b.what, r.SourceTopic, r.SourcePartition, r.SourceOffset, topic, offsets[2*i+1])
		}
		if r.SchemaID != b.schemaID {
			t.Errorf("%s, %s: dead letter schema id %d, want %d", jobName, b.what, r.SchemaID, b.schemaID)
		}
	}
	for stage, want := range stages {
		if got := metricValue(t, st, "rdg_job_records_dead_lettered_total", map[string]string{"job": jobName, "stage": stage}); got != want {
			t.Errorf("rdg_job_records_dead_lettered_total{job=%s,stage=%s} = %v, want %v", jobName, stage, got, want)
		}
	}
	if got := metricValue(t, st, "rdg_job_records_in_total", map[string]string{"job": jobName}); got != float64(len(values)) {
		t.Errorf("rdg_job_records_in_total{job=%s} = %v, want %d", jobName, got, len(values))
	}
	if c := strings.Count(st.logs.String(), `msg="job started" job=`+jobName+" "); c != 1 {
		t.Errorf("job %s started %d times, want once: bad input must not stop it", jobName, c)
	}
}

// TestBadInput3DeadLettersAndReplay is the hostile-record suite: every
// class of bad record an attacker or a broken producer would try, each
// between good ones, into live jobs: not Confluent-framed, a wrong magic
// byte, a header shorter than 5 bytes, an unknown schema id, a truncated
// body, trailing bytes, a bad union index, a negative string length, a
// string length past the end, a varint longer than 10 bytes, a bad enum
// index, an expression that fails on a type mismatch, a record that maps
// to an empty node id, a value over max_record_bytes, and the Avro bombs
// (array, map, string, bytes, nested array of maps, items that take no
// bytes), both through a job with a reader schema (hamba skips the bombs'
// fields) and one without (hamba decodes them). Each lands in
// rdg.dlq.<job> with the stage and the error its case states, its
// original bytes and where it came from; the jobs keep running and every
// good record is in the graph. Then the job file is fixed and `rdg dlq
// replay` ingests the fixed case while reporting every other as still
// failing, the bombs read back from the dead-letter topic included.
func TestBadInput3DeadLettersAndReplay(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "e2e", "testdata", "badinput")
	jobs, err := stack.LoadJobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := startStackJobs(t, jobs)
	ctx := context.Background()
	const topic, jobName = "e2e.bad.playback", "badinput"
	const rawTopic, rawJob = "e2e.bad.raw", "badinput_raw"
	cl := st.producer(t)
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, -1, nil, topic, rawTopic); err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	seq := 0
	play := func(member, device, title string, episode *string, profile string) []byte {
		seq++
		return p.encode(topic, demo.PlaybackSchema, &demo.Playback{EventID: fmt.Sprintf("e-%d", seq), EventTs: t0.Add(time.Duration(seq) * time.Second),
			MemberID: member, ProfileID: profile, DeviceID: device, TitleID: title, EpisodeID: episode, PositionMs: 1000, EventType: demo.PlayStart})
	}
	ep := "t-show-s1e1"
	good := func(i int) []byte {
		return play(fmt.Sprintf("m-good-%d", i), fmt.Sprintf("d-good-%d", i), "t-show", &ep, "p-1")
	}
	film := play("m-film", "d-film", "t-film", nil, "p-1")
	valid := play("m-trunc", "d-trunc", "t-show", &ep, "p-1")
	schemaID, _, err := codec.SplitHeader(valid)
	if err != nil {
		t.Fatal(err)
	}
	// The tagged schema is a second version of the topic's subject.
	taggedID, err := codec.Register(ctx, st.Registry(), codec.Subject(topic), playbackTagged)
	if err != nil {
		t.Fatalf("registry refused a compatible evolution: %v", err)
	}
	rawID, err := codec.Register(ctx, st.Registry(), codec.Subject(rawTopic), playbackTagged)
	if err != nil {
		t.Fatal(err)
	}
	v := func(parts ...any) []byte { return varintValue(0, parts...)[codec.HeaderSize:] }
	plain := func(set map[string][]byte) []byte {
		return append(codec.AppendHeader(nil, schemaID), playBody("m-bad", false, set)...)
	}
	const e40 = int64(1) << 40
	// bombs are the Avro bombs in the tagged schema's fields, for schema id.
	bombs := func(id int) []hostile {
		tagged := func(set map[string][]byte) []byte {
			return append(codec.AppendHeader(nil, id), playBody("m-bomb", true, set)...)
		}
		return []hostile{
			{"array of 2^40 items", tagged(map[string][]byte{"tags": v(e40, 1, 1)}), engine.StageDecode,
				"array block of 1099511627776 items in field tags exceeds the ", id},
			{"array of 50M items", tagged(map[string][]byte{"tags": v(50_000_000, 1, 1, 0)}), engine.StageDecode,
				"array block of 50000000 items in field tags exceeds the ", id},
			{"map of 2^40 entries", tagged(map[string][]byte{"attrs": v(e40, "k", "v", 0)}), engine.StageDecode,
				"map block of 1099511627776 entries in field attrs exceeds the ", id},
			{"string of 2^40 bytes", tagged(map[string][]byte{"note": v(e40)}), engine.StageDecode,
				"string of 1099511627776 bytes in field note exceeds the ", id},
			{"bytes of 2^40", tagged(map[string][]byte{"blob": v(e40)}), engine.StageDecode,
				"bytes value of 1099511627776 bytes in field blob exceeds the ", id},
			{"nested array of maps", tagged(map[string][]byte{"nested": v(1, 1, "k", e40, 0, 0)}), engine.StageDecode,
				"array block of 1099511627776 items in field nested[]{} exceeds the ", id},
			{"200k items of no bytes", tagged(map[string][]byte{"nulls": v(200_000, 0)}), engine.StageDecode,
				"in field nulls exceeds the limit of 100000 array items and map entries per record (tuning.max_record_items)", id},
		}
	}
	bads := []hostile{
		{"not Confluent-framed", []byte("\xde\xad\xbe\xef this is not Avro"), engine.StageDecode, "Confluent", 0},
		{"wrong magic byte", append([]byte{1}, valid[1:]...), engine.StageDecode, "magic byte 0", 0},
		{"header shorter than 5 bytes", []byte{0, 0, 0}, engine.StageDecode, "4-byte schema id", 0},
		{"unknown schema id", append(codec.AppendHeader(nil, 987654), valid[codec.HeaderSize:]...), engine.StageDecode, "987654", 987654},
		{"truncated body", plain(map[string][]byte{"profile_id": nil}), engine.StageDecode, "avro body is truncated in field profile_id", schemaID},
		{"trailing bytes", append(append([]byte(nil), valid...), 0), engine.StageDecode, "trailing bytes", schemaID},
		{"bad union index", plain(map[string][]byte{"episode_id": v(5, "x")}), engine.StageDecode,
			"union index 5 in field episode_id is out of range (2 branches)", schemaID},
		{"negative string length", plain(map[string][]byte{"member_id": v(-3)}), engine.StageDecode,
			"string with negative length -3 in field member_id", schemaID},
		{"string length past the end", plain(map[string][]byte{"member_id": v(1000, "m")}), engine.StageDecode,
			"string of 1000 bytes in field member_id exceeds the ", schemaID},
		{"varint longer than 10 bytes", plain(map[string][]byte{"event_ts": {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}}),
			engine.StageDecode, "long varint longer than 10 bytes in field event_ts", schemaID},
		{"bad enum index", plain(map[string][]byte{"event_type": v(7)}), engine.StageDecode,
			"enum index 7 in field event_type is out of range (2 symbols)", schemaID},
		{"expression type mismatch", film, engine.StageMap, "eplen", schemaID},
		{"empty node id", play("m-noid", "", "t-show", &ep, "p-1"), engine.StageMap, "empty node id", schemaID},
		{"over max_record_bytes", play("m-big", "d-big", "t-show", &ep, strings.Repeat("p", 3000)), engine.StageSize, "max_record_bytes", schemaID},
	}
	bads = append(bads, bombs(taggedID)...)

	watched := func(member, title string) bool {
		found := false
		err := st.Store().Edges(ctx, graph.NodeRef{Type: "account", ID: member}, graph.Out, "watched", func(e *graph.Edge) bool {
			found = e.To == graph.NodeRef{Type: "title", ID: title}
			return !found
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	hostileRecords(t, st, topic, jobName, bads, good, func(i int) bool { return watched(fmt.Sprintf("m-good-%d", i), "t-show") })
	for i := 0; i <= len(bads); i++ {
		ref := graph.NodeRef{Type: "device", ID: fmt.Sprintf("d-good-%d", i)}
		if _, ok, err := st.Store().Node(ctx, ref); err != nil || !ok {
			t.Errorf("node %s not stored (%v)", ref, err)
		}
	}
	if n, ok, err := st.Store().Node(ctx, graph.NodeRef{Type: "title", ID: "t-show"}); err != nil || !ok || n.Props["eplen"].Value != int64(len(ep)) {
		t.Errorf("title t-show = %+v, %v, %v; want eplen %d", n, ok, err, len(ep))
	}

	// The bombs again, into the job without a reader schema: hamba would
	// decode the fields they are in rather than skip them.
	rawGood := func(i int) []byte {
		return append(codec.AppendHeader(nil, rawID), playBody(fmt.Sprintf("m-raw-%d", i), true, nil)...)
	}
	hostileRecords(t, st, rawTopic, rawJob, bombs(rawID), rawGood, func(i int) bool { return watched(fmt.Sprintf("m-raw-%d", i), "t-show") })

	// Fix the expression for films, then replay: the film is ingested, the
	// others still fail and are reported with their stages.
	fixed := t.TempDir()
	spec, err := os.ReadFile(filepath.Join(dir, "playback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fix := strings.Replace(string(spec), "eplen: len(episode_id)", "eplen: 'episode_id == nil ? 0 : len(episode_id)'", 1)
	if fix == string(spec) {
		t.Fatal("playback.yaml has no eplen: len(episode_id) to fix")
	}
	schema, err := os.ReadFile(filepath.Join(dir, "playback.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"playback.yaml": fix, "playback.avsc": string(schema)} {
		if err := os.WriteFile(filepath.Join(fixed, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	replay := func() string {
		t.Helper()
		out, err := runRdg(t, time.Minute, "dlq", "replay", "--jobs", fixed, "--job", jobName,
			"--brokers", strings.Join(st.Seeds(), ","), "--registry", st.RegistryURL())
		if err != nil {
			t.Fatalf("rdg dlq replay: %v\n%s", err, out)
		}
		return out
	}
	out := replay()
	t.Logf("rdg dlq replay:\n%s", out)
	still := map[string]int{}
	for _, b := range bads {
		if b.what != "expression type mismatch" {
			still[b.stage]++
		}
	}
	if want := fmt.Sprintf("replayed 1, still failing %d", len(bads)-1); !strings.Contains(out, want) {
		t.Errorf("replay report does not say %s:\n%s", want, out)
	}
	for stage, want := range still {
		if got := strings.Count(out, "  "+stage+": "); got != want {
			t.Errorf("replay reports %d records still failing at stage %s, want %d:\n%s", got, stage, want, out)
		}
	}
	for _, want := range []string{"empty node id", "array block of 1099511627776 items in field tags"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay report does not say %q:\n%s", want, out)
		}
	}
	await(t, 10*time.Second, func() (bool, string) {
		if !watched("m-film", "t-film") {
			return false, "replayed film not in the graph"
		}
		n, ok, err := st.Store().Node(ctx, graph.NodeRef{Type: "title", ID: "t-film"})
		if err != nil || !ok {
			return false, fmt.Sprintf("title t-film not stored (%v)", err)
		}
		if n.Props["eplen"].Value != int64(0) {
			return false, fmt.Sprintf("title t-film eplen = %#v, want 0", n.Props["eplen"].Value)
		}
		return true, ""
	})
	if _, ok, err := st.Store().Node(ctx, graph.NodeRef{Type: "device", ID: "d-film"}); err != nil || !ok {
		t.Errorf("device d-film not stored after the replay (%v)", err)
	}
	// The replay position was saved: nothing is replayed twice.
	if out := replay(); !strings.Contains(out, "replayed 0, still failing 0") {
		t.Errorf("second replay:\n%s", out)
	}
}
