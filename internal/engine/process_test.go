package engine

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/testkit"
)

const eventSchema = `{"type":"record","name":"Event","namespace":"rdg.test","fields":[
	{"name":"member_id","type":["null","string"],"default":null},
	{"name":"title_id","type":"string"},
	{"name":"kind","type":"string"},
	{"name":"num_id","type":"long"},
	{"name":"small_id","type":"int"},
	{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"ts_long","type":"long"},
	{"name":"score","type":"double"},
	{"name":"ratio","type":"float"},
	{"name":"ok","type":"boolean"},
	{"name":"note","type":["null","string"],"default":null},
	{"name":"tags","type":{"type":"array","items":"string"}}]}`

type event struct {
	MemberID *string   `avro:"member_id"`
	TitleID  string    `avro:"title_id"`
	Kind     string    `avro:"kind"`
	NumID    int64     `avro:"num_id"`
	SmallID  int32     `avro:"small_id"`
	TS       time.Time `avro:"ts"`
	TSLong   int64     `avro:"ts_long"`
	Score    float64   `avro:"score"`
	Ratio    float32   `avro:"ratio"`
	OK       bool      `avro:"ok"`
	Note     *string   `avro:"note"`
	Tags     []string  `avro:"tags"`
}

var (
	eventTS   = time.UnixMilli(1_700_000_000_123).UTC()
	recordTS  = time.UnixMilli(1_600_000_000_000).UTC()
	processTS = time.UnixMilli(1_800_000_000_000).UTC()
)

func strp(s string) *string { return &s }

func baseEvent() event {
	return event{
		MemberID: strp("m-1"), TitleID: "t-1", Kind: "PLAY", NumID: 12345678901, SmallID: 7,
		TS: eventTS, TSLong: 1_650_000_000_000, Score: 3, Ratio: 0.5, OK: true, Tags: []string{"a"},
	}
}

// procEnv is a registry holding eventSchema and a function that runs a job
// over one event through a Processor resolving schemas with codec.Schemas.
type procEnv struct {
	*testkit.Env
	id  int
	sch avro.Schema
}

func newProcEnv(t *testing.T) *procEnv {
	e := testkit.NewEnv(t)
	id, sch := e.Register(t, "events-value", eventSchema)
	return &procEnv{Env: e, id: id, sch: sch}
}

func (p *procEnv) processor(j *Job) *Processor {
	proc := NewProcessor(j, codec.NewSchemas(p.Reg))
	proc.Now = func() time.Time { return processTS }
	return proc
}

func (p *procEnv) run(t *testing.T, jobSrc string, ev event) (graph.Batch, bool, error) {
	t.Helper()
	j := compileJob(t, "inline.yaml", jobSrc)
	var out graph.Batch
	filtered, err := p.processor(j).Process(testkit.Ctx(t), testkit.Encode(t, p.id, p.sch, ev), recordTS, &out)
	return out, filtered, err
}

func wantStageError(t *testing.T, err error, stage string, schemaID int, contains string) *StageError {
	t.Helper()
	var se *StageError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want *StageError", err, err)
	}
	if se.Stage != stage || se.SchemaID != schemaID {
		t.Fatalf("StageError{Stage: %q, SchemaID: %d} (%v), want stage %q schema id %d", se.Stage, se.SchemaID, err, stage, schemaID)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not contain %q", err, contains)
	}
	return se
}

const header = "name: t\nsource: {topic: events}\n"

func TestProcessFilter(t *testing.T) {
	p := newProcEnv(t)
	job := header + "filter: kind == \"PLAY\" && member_id != nil\nnodes: [{type: account, id: member_id}]\n"

	out, filtered, err := p.run(t, job, baseEvent())
	if err != nil || filtered || len(out.Nodes) != 1 {
		t.Fatalf("kept record: filtered=%v err=%v nodes=%v", filtered, err, out.Nodes)
	}
	ev := baseEvent()
	ev.Kind = "PAUSE"
	out, filtered, err = p.run(t, job, ev)
	if err != nil || !filtered || out.Len() != 0 {
		t.Fatalf("dropped record: filtered=%v err=%v out=%+v", filtered, err, out)
	}
	ev = baseEvent()
	ev.MemberID = nil
	if _, filtered, err = p.run(t, job, ev); err != nil || !filtered {
		t.Fatalf("null member: filtered=%v err=%v", filtered, err)
	}
}

func TestProcessMapsEveryKind(t *testing.T) {
	p := newProcEnv(t)
	job := header + `time: ts
project:
  doubled: num_id * 2
  label: kind + "!"
  high: score > 1
nodes:
  - type: account
    id: member_id
    props: {s: kind, l: num_id, i: small_id, d: score, f: ratio, b: ok, n: note, t: ts, doubled: doubled, label: label}
  - type: title
    id: num_id
  - type: small
    id: small_id
  - type: skipped
    id: title_id
    when: kind == "never"
edges:
  - type: watched
    from: account(member_id)
    to: {type: title, id: title_id}
    props: {score: score}
    when: high
  - type: never
    from: account(member_id)
    to: title(title_id)
    when: "!high"
`
	out, filtered, err := p.run(t, job, baseEvent())
	if err != nil || filtered {
		t.Fatalf("Process: filtered=%v err=%v", filtered, err)
	}
	ts := eventTS.UnixMilli()
	if len(out.Nodes) != 3 || len(out.Edges) != 1 {
		t.Fatalf("got %d nodes %d edges, want 3 and 1: %+v", len(out.Nodes), len(out.Edges), out)
	}
	wantRefs := []graph.NodeRef{{Type: "account", ID: "m-1"}, {Type: "title", ID: "12345678901"}, {Type: "small", ID: "7"}}
	for i, n := range out.Nodes {
		if n.NodeRef != wantRefs[i] || n.FirstSeen != ts || n.LastSeen != ts || n.UpdatedAt != processTS.UnixMilli() {
			t.Errorf("node %d = %+v, want %v at %d updated %d", i, n, wantRefs[i], ts, processTS.UnixMilli())
		}
	}
	want := map[string]any{
		"s": "PLAY", "l": int64(12345678901), "i": int64(7), "d": 3.0, "f": 0.5, "b": true, "n": nil,
		"t":       ts, // time.Time props become unix milliseconds
		"doubled": int64(24691357802), "label": "PLAY!",
	}
	props := out.Nodes[0].Props
	if len(props) != len(want) {
		t.Fatalf("props %v, want %v", props, want)
	}
	for k, v := range want {
		got, ok := props[k]
		if !ok || got.TS != ts || got.Value != v {
			t.Errorf("prop %s = %#v (%T), want %#v (%T) at %d", k, got.Value, got.Value, v, v, ts)
		}
	}
	e := out.Edges[0]
	if e.EdgeRef != (graph.EdgeRef{Type: "watched", From: graph.NodeRef{Type: "account", ID: "m-1"}, To: graph.NodeRef{Type: "title", ID: "t-1"}}) ||
		e.Props["score"].Value != 3.0 || e.FirstSeen != ts {
		t.Errorf("edge = %+v", e)
	}
	for _, n := range out.Nodes {
		if err := n.Validate(); err != nil {
			t.Errorf("emitted invalid node: %v", err)
		}
	}
}

// A projected `when` false on this record flips which elements come out.
func TestProcessWhen(t *testing.T) {
	p := newProcEnv(t)
	job := header + `project: {is_episode: note != nil}
nodes:
  - {type: account, id: member_id}
  - {type: episode, id: note, when: is_episode}
edges:
  - {type: watched, from: account(member_id), to: episode(note), when: is_episode}
`
	out, _, err := p.run(t, job, baseEvent())
	if err != nil || len(out.Nodes) != 1 || len(out.Edges) != 0 {
		t.Fatalf("film: err=%v out=%+v", err, out)
	}
	ev := baseEvent()
	ev.Note = strp("e-9")
	out, _, err = p.run(t, job, ev)
	if err != nil || len(out.Nodes) != 2 || out.Nodes[1].ID != "e-9" || len(out.Edges) != 1 || out.Edges[0].To.ID != "e-9" {
		t.Fatalf("episode: err=%v out=%+v", err, out)
	}
}

func TestProcessEventTime(t *testing.T) {
	p := newProcEnv(t)
	for _, tc := range []struct {
		name, time string
		want       int64
		wantErr    string
	}{
		{"timestamp-millis", "time: ts\n", eventTS.UnixMilli(), ""},
		{"long", "time: ts_long\n", 1_650_000_000_000, ""},
		{"expression", "time: ts_long + 5\n", 1_650_000_000_005, ""},
		{"absent: record time", "", recordTS.UnixMilli(), ""},
		{"null", "time: note\n", 0, "event time is null"},
		{"string", "time: kind\n", 0, "event time of type string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := p.run(t, header+tc.time+"nodes: [{type: account, id: member_id, props: {k: kind}}]\n", baseEvent())
			if tc.wantErr != "" {
				wantStageError(t, err, StageTime, p.id, tc.wantErr)
				if out.Len() != 0 {
					t.Fatalf("elements appended on error: %+v", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := out.Nodes[0]
			if n.FirstSeen != tc.want || n.LastSeen != tc.want || n.Props["k"].TS != tc.want {
				t.Fatalf("node times %d/%d, prop ts %d; want %d", n.FirstSeen, n.LastSeen, n.Props["k"].TS, tc.want)
			}
		})
	}
}

func TestProcessIDs(t *testing.T) {
	p := newProcEnv(t)
	for _, tc := range []struct {
		name    string
		id      string
		ev      func(*event)
		want    string
		wantErr string
	}{
		{"string", "member_id", nil, "m-1", ""},
		{"long", "num_id", nil, "12345678901", ""},
		{"negative long", "num_id", func(e *event) { e.NumID = -3 }, "-3", ""},
		{"int", "small_id", nil, "7", ""},
		{"integral double", "score", nil, "3", ""},
		{"concatenation", `"m:" + member_id`, nil, "m:m-1", ""},
		{"null", "member_id", func(e *event) { e.MemberID = nil }, "", "empty node id"},
		{"empty", "member_id", func(e *event) { e.MemberID = strp("") }, "", "empty node id"},
		{"fractional double", "score", func(e *event) { e.Score = 2.5 }, "", "not an integer"},
		{"list", "tags", nil, "", "want a string or an integer"},
		{"too long", "member_id", func(e *event) { e.MemberID = strp(strings.Repeat("x", graph.MaxIDLen+1)) }, "", "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := baseEvent()
			if tc.ev != nil {
				tc.ev(&ev)
			}
			out, _, err := p.run(t, header+"nodes: [{type: account, id: '"+tc.id+"'}]\n", ev)
			if tc.wantErr != "" {
				wantStageError(t, err, StageMap, p.id, tc.wantErr)
				return
			}
			if err != nil || len(out.Nodes) != 1 || out.Nodes[0].ID != tc.want {
				t.Fatalf("err=%v nodes=%+v, want id %q", err, out.Nodes, tc.want)
			}
		})
	}
	// Edge end points go through the same rules.
	ev := baseEvent()
	ev.MemberID = nil
	_, _, err := p.run(t, header+"edges: [{type: watched, from: account(member_id), to: title(title_id)}]\n", ev)
	wantStageError(t, err, StageMap, p.id, "edges[0] (watched) from: empty node id")
	_, _, err = p.run(t, header+"edges: [{type: watched, from: account(title_id), to: title(member_id)}]\n", ev)
	wantStageError(t, err, StageMap, p.id, "edges[0] (watched) to: empty node id")
}

func TestProcessRuntimeErrors(t *testing.T) {
	p := newProcEnv(t)
	for _, tc := range []struct {
		name, job, stage, contains string
	}{
		{"filter not bool", "filter: kind\nnodes: [{type: a, id: member_id}]\n", StageFilter, "filter"},
		{"project type mismatch", "project: {x: kind + 1}\nnodes: [{type: a, id: member_id}]\n", StageProject, "project.x"},
		{"when not bool", "nodes: [{type: a, id: member_id, when: kind}]\n", StageMap, "nodes[0].when"},
		{"prop type mismatch", "nodes: [{type: a, id: member_id, props: {x: 'score - kind'}}]\n", StageMap, "props.x"},
		{"list prop", "nodes: [{type: a, id: member_id, props: {x: tags}}]\n", StageMap, "props.x"},
		{"map prop", "nodes: [{type: a, id: member_id, props: {x: '{\"a\": 1}'}}]\n", StageMap, "props.x"},
		{"edge prop", "edges: [{type: e, from: a(member_id), to: b(title_id), props: {x: tags}}]\n", StageMap, "edges[0] (e) props.x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, filtered, err := p.run(t, header+tc.job, baseEvent())
			wantStageError(t, err, tc.stage, p.id, tc.contains)
			if filtered || out.Len() != 0 {
				t.Fatalf("filtered=%v out=%+v on error", filtered, out)
			}
		})
	}
}

// When mapping fails part-way, the elements of that record already
// appended are taken back; earlier records' elements stay.
func TestProcessErrorAppendsNothing(t *testing.T) {
	p := newProcEnv(t)
	j := compileJob(t, "inline.yaml", header+"nodes:\n  - {type: account, id: member_id}\n  - {type: episode, id: note}\n")
	proc := p.processor(j)
	out := graph.Batch{Nodes: []graph.Node{{NodeRef: graph.NodeRef{Type: "earlier", ID: "1"}}}}
	ev := baseEvent()
	ev.Note = strp("e-1")
	if _, err := proc.Process(testkit.Ctx(t), testkit.Encode(t, p.id, p.sch, ev), recordTS, &out); err != nil || len(out.Nodes) != 3 {
		t.Fatalf("good record: %v, %d nodes", err, len(out.Nodes))
	}
	_, err := proc.Process(testkit.Ctx(t), testkit.Encode(t, p.id, p.sch, baseEvent()), recordTS, &out)
	wantStageError(t, err, StageMap, p.id, "nodes[1] (episode) id: empty node id")
	if len(out.Nodes) != 3 || out.Nodes[0].Type != "earlier" || out.Nodes[2].ID != "e-1" {
		t.Fatalf("after a failed record out.Nodes = %+v", out.Nodes)
	}
}

func TestProcessDecodeErrors(t *testing.T) {
	p := newProcEnv(t)
	j := compileJob(t, "inline.yaml", header+"nodes: [{type: account, id: member_id}]\n")
	proc := p.processor(j)
	ctx := testkit.Ctx(t)
	var out graph.Batch

	for _, garbage := range [][]byte{nil, []byte("hello"), []byte(`{"member_id":"m-1"}`), {1, 0, 0, 0, 1, 2}} {
		_, err := proc.Process(ctx, garbage, recordTS, &out)
		wantStageError(t, err, StageDecode, 0, "")
		if !errors.Is(err, codec.ErrBadHeader) {
			t.Fatalf("garbage %q: %v does not wrap ErrBadHeader", garbage, err)
		}
	}

	_, body, _ := codec.SplitHeader(testkit.Encode(t, p.id, p.sch, baseEvent()))
	_, err := proc.Process(ctx, append(codec.AppendHeader(nil, 9999), body...), recordTS, &out)
	wantStageError(t, err, StageDecode, 9999, "9999")
	var use *codec.UnknownSchemaError
	if !errors.As(err, &use) || use.ID != 9999 {
		t.Fatalf("unknown id: %v, want *codec.UnknownSchemaError", err)
	}

	// A known id with a body that is not that schema's: the union index of
	// member_id is out of range.
	_, err = proc.Process(ctx, append(codec.AppendHeader(nil, p.id), 0x7f, 0x01), recordTS, &out)
	wantStageError(t, err, StageDecode, p.id, "avro body")

	// A schema that is not a record cannot feed a job.
	strID, _ := p.Register(t, "strings-value", `"string"`)
	_, err = proc.Process(ctx, append(codec.AppendHeader(nil, strID), 2, 'x'), recordTS, &out)
	wantStageError(t, err, StageDecode, strID, "want a record")
	if out.Len() != 0 {
		t.Fatalf("elements appended on decode errors: %+v", out)
	}
}

// A registry outage is reported as such, so the runner waits instead of
// dead-lettering good records.
func TestProcessRegistryDown(t *testing.T) {
	p := newProcEnv(t)
	j := compileJob(t, "inline.yaml", header+"nodes: [{type: account, id: member_id}]\n")
	proc := p.processor(j)
	value := testkit.Encode(t, p.id, p.sch, baseEvent())
	p.HTTP.Close()
	var out graph.Batch
	_, err := proc.Process(testkit.Ctx(t), value, recordTS, &out)
	wantStageError(t, err, StageDecode, p.id, "")
	if !errors.Is(err, codec.ErrRegistryUnavailable) {
		t.Fatalf("registry down: %v, want ErrRegistryUnavailable", err)
	}
}

const (
	visitV1 = `{"type":"record","name":"Visit","namespace":"rdg.test","fields":[
		{"name":"member_id","type":"string"},
		{"name":"title_id","type":"string"}]}`
	// visitV2 adds a field with a default: a backward-compatible change the
	// registry accepts under the same subject.
	visitV2 = `{"type":"record","name":"Visit","namespace":"rdg.test","fields":[
		{"name":"member_id","type":"string"},
		{"name":"title_id","type":"string"},
		{"name":"device_id","type":"string","default":""}]}`
	// visitBroken changes a field's type: not readable as v1.
	visitBroken = `{"type":"record","name":"Visit","namespace":"rdg.test","fields":[
		{"name":"member_id","type":"long"},
		{"name":"title_id","type":"string"}]}`
)

type visitV2Rec struct {
	MemberID string `avro:"member_id"`
	TitleID  string `avro:"title_id"`
	DeviceID string `avro:"device_id"`
}

type visitV1Rec struct {
	MemberID string `avro:"member_id"`
	TitleID  string `avro:"title_id"`
}

func TestProcessSchemaEvolution(t *testing.T) {
	e := testkit.NewEnv(t)
	v1ID, v1 := e.Register(t, "visits-value", visitV1)
	v2ID, v2 := e.Register(t, "visits-value", visitV2)
	if v1ID == v2ID {
		t.Fatal("v2 got v1's id")
	}
	schemas := codec.NewSchemas(e.Reg)
	file := filepath.Join("testdata", "process", "job.yaml")

	// The job reads with v1 (its source.schema); producers moved to v2.
	j := compileJob(t, file, "name: visits\nsource: {topic: visits, schema: reader_v1.avsc}\n"+
		"edges: [{type: watched, from: account(member_id), to: title(title_id)}]\n")
	if j.Reader == nil {
		t.Fatal("no reader schema")
	}
	proc := NewProcessor(j, schemas)
	ctx := testkit.Ctx(t)
	for _, value := range [][]byte{
		testkit.Encode(t, v1ID, v1, visitV1Rec{MemberID: "m-1", TitleID: "t-1"}),
		testkit.Encode(t, v2ID, v2, visitV2Rec{MemberID: "m-1", TitleID: "t-1", DeviceID: "d-1"}),
	} {
		var out graph.Batch
		if _, err := proc.Process(ctx, value, recordTS, &out); err != nil {
			t.Fatalf("Process: %v", err)
		}
		if len(out.Edges) != 1 || out.Edges[0].From.ID != "m-1" || out.Edges[0].To.ID != "t-1" {
			t.Fatalf("edges = %+v", out.Edges)
		}
	}

	// A reader field the writer lacks takes its default.
	j = compileJob(t, file, "name: visits\nsource: {topic: visits, schema: reader_country.avsc}\n"+
		"nodes: [{type: account, id: member_id, props: {country: country}}]\n")
	var out graph.Batch
	if _, err := NewProcessor(j, schemas).Process(ctx, testkit.Encode(t, v1ID, v1, visitV1Rec{MemberID: "m-2", TitleID: "t"}), recordTS, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Nodes) != 1 || out.Nodes[0].Props["country"].Value != "ZZ" {
		t.Fatalf("nodes = %+v, want country ZZ from the reader's default", out.Nodes)
	}

	// A writer that cannot be read with the reader is a decode error that
	// names the writer's id.
	brokenID, broken := e.Register(t, "broken-value", visitBroken)
	_, err := proc.Process(ctx, testkit.Encode(t, brokenID, broken, map[string]any{"member_id": int64(1), "title_id": "t"}), recordTS, &out)
	wantStageError(t, err, StageDecode, brokenID, "cannot be read with the job's reader schema")
}

func TestProcessFloatPropsKeepBits(t *testing.T) {
	p := newProcEnv(t)
	ev := baseEvent()
	ev.Score = math.Copysign(0, -1)
	out, _, err := p.run(t, header+"nodes: [{type: a, id: member_id, props: {d: score}}]\n", ev)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := out.Nodes[0].Props["d"].Value.(float64); !ok || !math.Signbit(v) || v != 0 {
		t.Fatalf("prop d = %#v, want -0", out.Nodes[0].Props["d"].Value)
	}
}

// Event times outside the job's time_bounds fail the record at stage time
// with a reason giving the time and the bound; the defaults accept any
// live feed and nothing from before 2000 or more than an hour ahead.
func TestProcessTimeBounds(t *testing.T) {
	p := newProcEnv(t)
	now := processTS.UnixMilli()
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	year9999 := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixMilli()
	const custom = "time_bounds: {not_before: 1990-01-01, max_ahead: 24h}\n"
	for _, tc := range []struct {
		name, bounds, time string
		ts                 int64
		recordTS           time.Time
		wantErr            string
	}{
		{"int64 min", "", "ts_long", math.MinInt64, recordTS, "event time -9223372036854775808 ms (year -292275055) is before time_bounds.not_before 2000-01-01T00:00:00Z"},
		{"int64 max", "", "ts_long", math.MaxInt64, recordTS, "event time 9223372036854775807 ms (year 292278994) is more than time_bounds.max_ahead 1h0m0s ahead of the processing clock 2027-01-15T08:00:00Z"},
		{"negative", "", "ts_long", -1, recordTS, "event time 1969-12-31T23:59:59.999Z is before time_bounds.not_before 2000-01-01T00:00:00Z"},
		{"zero", "", "ts_long", 0, recordTS, "event time 1970-01-01T00:00:00Z is before"},
		{"year 9999", "", "ts_long", year9999, recordTS, "event time 9999-12-31T23:59:59Z is more than time_bounds.max_ahead 1h0m0s ahead"},
		{"a millisecond before 2000", "", "ts_long", y2k - 1, recordTS, "1999-12-31T23:59:59.999Z is before"},
		{"2000-01-01", "", "ts_long", y2k, recordTS, ""},
		{"an hour ahead", "", "ts_long", now + time.Hour.Milliseconds(), recordTS, ""},
		{"an hour and a millisecond ahead", "", "ts_long", now + time.Hour.Milliseconds() + 1, recordTS, "2027-01-15T09:00:00.001Z is more than time_bounds.max_ahead 1h0m0s ahead"},
		{"beyond int64 as a float", "", "ts_long * 1e300", 1, recordTS, "is not a number of milliseconds"},
		{"custom: 1995", custom, "ts_long", time.Date(1995, 6, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), recordTS, ""},
		{"custom: before 1990", custom, "ts_long", time.Date(1989, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli(), recordTS, "before time_bounds.not_before 1990-01-01T00:00:00Z"},
		{"custom: 23h ahead", custom, "ts_long", now + 23*time.Hour.Milliseconds(), recordTS, ""},
		{"custom: 25h ahead", custom, "ts_long", now + 25*time.Hour.Milliseconds(), recordTS, "more than time_bounds.max_ahead 24h0m0s ahead"},
		{"record timestamp: zero", "", "", 0, time.Time{}, "event time 0001-01-01T00:00:00Z is before"},
		{"record timestamp: future", "", "", 0, processTS.Add(2 * time.Hour), "event time 2027-01-15T10:00:00Z is more than"},
		{"record timestamp: now", "", "", 0, processTS, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := header + tc.bounds
			if tc.time != "" {
				src += "time: " + tc.time + "\n"
			}
			j := compileJob(t, "inline.yaml", src+"nodes: [{type: account, id: member_id}]\n")
			ev := baseEvent()
			ev.TSLong = tc.ts
			var out graph.Batch
			_, err := p.processor(j).Process(testkit.Ctx(t), testkit.Encode(t, p.id, p.sch, ev), tc.recordTS, &out)
			if tc.wantErr != "" {
				wantStageError(t, err, StageTime, p.id, tc.wantErr)
				if out.Len() != 0 {
					t.Fatalf("elements appended on error: %+v", out)
				}
				return
			}
			if err != nil || len(out.Nodes) != 1 {
				t.Fatalf("err=%v out=%+v", err, out)
			}
		})
	}
}

// Loops the check lets through are bounded at run time by the VM's memory
// budget: a record whose evaluation exceeds it fails at its stage, to the
// dead-letter topic, instead of taking the process's memory.
func TestProcessExpressionBudget(t *testing.T) {
	p := newProcEnv(t)
	job := header + "nodes: [{type: account, id: member_id, props: {n: 'count(1..600000, true) + count(1..600000, true)'}}]\n"
	_, _, err := p.run(t, job, baseEvent())
	wantStageError(t, err, StageMap, p.id, "memory budget exceeded")
}
