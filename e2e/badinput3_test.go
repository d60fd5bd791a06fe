package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/dlq"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/stack"
)

// TestBadInput3DeadLettersAndReplay sends six kinds of bad record into a
// live job, each between good ones: garbage bytes, an unknown schema id, a
// truncated Avro body, a record whose expression fails on a type mismatch
// (len of a null episode_id), one with an empty node id and one over the
// job's max_record_bytes. Each lands in rdg.dlq.<job> with the stage that
// failed (decode, decode, decode, map, map, size), its original bytes and
// where it came from; the job keeps running and every good record is in
// the graph. Then the job file is fixed and `rdg dlq replay` ingests the
// fixed case while reporting the other five as still failing.
func TestBadInput3DeadLettersAndReplay(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "e2e", "testdata", "badinput")
	jobs, err := stack.LoadJobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := startStackJobs(t, jobs)
	ctx := context.Background()
	const topic, jobName = "e2e.bad.playback", "badinput"
	cl := st.producer(t)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, topic); err != nil {
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
	type bad struct {
		what     string
		value    []byte
		stage    string
		errHas   string
		schemaID int
	}
	bads := []bad{
		{"garbage bytes", []byte("\xde\xad\xbe\xef this is not Avro"), job.StageDecode, "Confluent", 0},
		{"unknown schema id", append(codec.AppendHeader(nil, 987654), valid[codec.HeaderSize:]...), job.StageDecode, "987654", 987654},
		{"truncated Avro body", valid[:codec.HeaderSize+(len(valid)-codec.HeaderSize)/2], job.StageDecode, "truncated", schemaID},
		{"expression type mismatch", film, job.StageMap, "eplen", schemaID},
		{"empty node id", play("m-noid", "", "t-show", &ep, "p-1"), job.StageMap, "empty node id", schemaID},
		{"over max_record_bytes", play("m-big", "d-big", "t-show", &ep, strings.Repeat("p", 3000)), job.StageSize, "max_record_bytes", schemaID},
	}
	// good 0, bad 0, good 1, bad 1, ..., bad 5, good 6: one partition, so
	// offsets are the order of production.
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
	await(t, 10*time.Second, func() (bool, string) {
		for i := 0; i <= len(bads); i++ {
			if m := fmt.Sprintf("m-good-%d", i); !watched(m, "t-show") {
				return false, "good record of " + m + " not in the graph"
			}
		}
		return true, ""
	})
	for i := 0; i <= len(bads); i++ {
		ref := graph.NodeRef{Type: "device", ID: fmt.Sprintf("d-good-%d", i)}
		if _, ok, err := st.Store().Node(ctx, ref); err != nil || !ok {
			t.Errorf("node %s not stored (%v)", ref, err)
		}
	}
	if n, ok, err := st.Store().Node(ctx, graph.NodeRef{Type: "title", ID: "t-show"}); err != nil || !ok || n.Props["eplen"].Value != int64(len(ep)) {
		t.Errorf("title t-show = %+v, %v, %v; want eplen %d", n, ok, err, len(ep))
	}

	// Each bad record is in the dead-letter topic, bytes intact, with the
	// stage that failed and where it came from.
	dl := dlq.Cluster{Seeds: st.Seeds()}
	var recs []dlq.Record
	await(t, 10*time.Second, func() (bool, string) {
		recs, err = dlq.Read(ctx, dl, job.DeadLetterTopic(jobName), 0, 0)
		if err != nil {
			return false, err.Error()
		}
		return len(recs) >= len(bads), fmt.Sprintf("%d dead letters, want %d", len(recs), len(bads))
	})
	if len(recs) != len(bads) {
		t.Fatalf("%d dead letters, want %d", len(recs), len(bads))
	}
	for i, b := range bads {
		r := recs[i]
		if r.Stage != b.stage || !strings.Contains(r.Error, b.errHas) {
			t.Errorf("%s: dead letter stage %q error %q, want stage %q and an error mentioning %q", b.what, r.Stage, r.Error, b.stage, b.errHas)
		}
		if string(r.Value) != string(b.value) || string(r.Key) != "k" {
			t.Errorf("%s: dead letter key or value differs from the original record", b.what)
		}
		if r.SourceTopic != topic || r.SourcePartition != 0 || r.SourceOffset != offsets[2*i+1] {
			t.Errorf("%s: dead letter from %s[%d]@%d, want %s[0]@%d", b.what, r.SourceTopic, r.SourcePartition, r.SourceOffset, topic, offsets[2*i+1])
		}
		if r.SchemaID != b.schemaID {
			t.Errorf("%s: dead letter schema id %d, want %d", b.what, r.SchemaID, b.schemaID)
		}
	}
	for stage, want := range map[string]float64{job.StageDecode: 3, job.StageMap: 2, job.StageSize: 1} {
		if got := metricValue(t, st, "rdg_job_records_dead_lettered_total", map[string]string{"job": jobName, "stage": stage}); got != want {
			t.Errorf("rdg_job_records_dead_lettered_total{stage=%s} = %v, want %v", stage, got, want)
		}
	}
	if got := metricValue(t, st, "rdg_job_records_in_total", map[string]string{"job": jobName}); got != float64(len(values)) {
		t.Errorf("rdg_job_records_in_total = %v, want %d", got, len(values))
	}
	if c := strings.Count(st.logs.String(), `msg="job started" job=`+jobName); c != 1 {
		t.Errorf("job started %d times, want once: bad input must not stop it", c)
	}

	// Fix the expression for films, then replay: the film is ingested, the
	// other five still fail and are reported with their stages.
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
		out, err := exec.Command(rdgBinary(t), "dlq", "replay", "--jobs", fixed, "--job", jobName,
			"--brokers", strings.Join(st.Seeds(), ","), "--registry", st.RegistryURL()).CombinedOutput()
		if err != nil {
			t.Fatalf("rdg dlq replay: %v\n%s", err, out)
		}
		return string(out)
	}
	out := replay()
	t.Logf("rdg dlq replay:\n%s", out)
	if !strings.Contains(out, "replayed 1, still failing 5") {
		t.Errorf("replay report does not say replayed 1, still failing 5:\n%s", out)
	}
	for stage, want := range map[string]int{job.StageDecode: 3, job.StageMap: 1, job.StageSize: 1} {
		if got := strings.Count(out, "  "+stage+": "); got != want {
			t.Errorf("replay reports %d records still failing at stage %s, want %d:\n%s", got, stage, want, out)
		}
	}
	if !strings.Contains(out, "empty node id") {
		t.Errorf("replay report does not name the empty node id:\n%s", out)
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
