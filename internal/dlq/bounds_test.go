package dlq

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// A dead letter that is an Avro bomb (the job dead-lettered it at stage
// decode) is read back by a replay through the job's decoder: it is
// reported as still failing with the size it claims, and allocates
// nothing like that size; the good record next to it is replayed.
func TestReplayAvroBomb(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	const tagged = `{"type":"record","name":"Tagged","namespace":"rdg.test","fields":[
		{"name":"member_id","type":"string"},
		{"name":"title_id","type":"string"},
		{"name":"device","type":"string"},
		{"name":"tags","type":{"type":"array","items":["null","long"]}}]}`
	id, err := codec.Register(ctx, e.reg, "tagged-value", tagged)
	if err != nil {
		t.Fatal(err)
	}
	value := func(tail ...int64) []byte {
		b := codec.AppendHeader(nil, id)
		for _, s := range []string{"m-1", "t-1", "tv"} {
			b = append(binary.AppendVarint(b, int64(len(s))), s...)
		}
		for _, v := range tail {
			b = binary.AppendVarint(b, v)
		}
		return b
	}
	bomb := value(1<<40, 1, 1) // tags: 2^40 claimed, one union branch and long held
	// The deployed job failed the good record at stage map (its id field
	// is misspelt) and the bomb at decode; the fixed job reads the good
	// one.
	buggy := writeJob(t, t.TempDir(), buggyJob)
	if err := jobrun.Prepare(ctx, buggy, e.cluster.Seeds, nil, 1); err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(1_750_000_000_000).UTC()
	e.deadLetter(t, ctx, buggy, sourceRec{offset: 1, value: value(1, 1, 5, 0), ts: t0}) // tags: [5]
	e.deadLetter(t, ctx, buggy, sourceRec{offset: 2, value: bomb, ts: t0})

	fixed := writeJob(t, t.TempDir(), fixedJob)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st, err := Replay(ctx, ReplayConfig{Cluster: e.cluster, Registry: e.reg, Job: fixed, GraphPartitions: 1, Logger: quiet})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if st.Replayed != 1 || st.Failed != 1 || len(st.Failures) != 1 {
		t.Fatalf("replay stats %+v, want 1 replayed and the bomb still failing", st)
	}
	f := st.Failures[0]
	if f.Stage != engine.StageDecode || !strings.Contains(f.Error, "array block of 1099511627776 items in field tags exceeds the 2 bytes left in the record") {
		t.Fatalf("bomb still failing at %s: %s", f.Stage, f.Error)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
		t.Errorf("a replay of two small dead letters allocated %d bytes", n)
	}
}

// FuzzParseRecord: any headers and value a dead-letter topic holds parse,
// print in every format without panicking, and print a bounded preview.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte("k"), []byte{0, 0, 0, 0, 1, 2, 'x'}, codec.HeaderStage, "decode", codec.HeaderPartition, "3", codec.HeaderOffset, "-1", codec.HeaderSchemaID, "99999999999999999999")
	f.Add([]byte{0xff}, []byte(nil), codec.HeaderError, "line 1\nline 2\n\xff", codec.HeaderStage, "", "trace", "abc", codec.HeaderTopic, "t")
	f.Add([]byte(nil), bytes.Repeat([]byte{0xc3}, 300), codec.HeaderStage, "map", codec.HeaderStage, "size", codec.HeaderOffset, "18446744073709551616", codec.HeaderPartition, "-2147483649")
	f.Fuzz(func(t *testing.T, key, value []byte, k1, v1, k2, v2, k3, v3, k4, v4 string) {
		r := &kgo.Record{Partition: 1, Offset: 2, Timestamp: time.UnixMilli(0), Key: key, Value: value,
			Headers: []kgo.RecordHeader{{Key: k1, Value: []byte(v1)}, {Key: k2, Value: []byte(v2)}, {Key: k3, Value: []byte(v3)}, {Key: k4, Value: []byte(v4)}}}
		rec := ParseRecord(r)
		// The last rdg.stage header is the job's; earlier ones are kept.
		last := ""
		for _, h := range r.Headers {
			if h.Key == codec.HeaderStage {
				last = string(h.Value)
			}
		}
		if rec.Stage != last {
			t.Fatalf("stage %q, want the last rdg.stage header %q", rec.Stage, last)
		}
		if len(rec.Headers) > len(r.Headers) {
			t.Fatalf("%d headers kept of %d", len(rec.Headers), len(r.Headers))
		}
		var out, cut bytes.Buffer
		if err := WriteRecord(&out, &rec, false); err != nil {
			t.Fatal(err)
		}
		// The preview shows PreviewBytes of the value at most: it prints
		// what the value cut to that prints, give or take the length line.
		short := rec
		short.Value = value[:min(len(value), PreviewBytes)]
		if err := WriteRecord(&cut, &short, false); err != nil {
			t.Fatal(err)
		}
		if out.Len() > cut.Len()+64 {
			t.Fatalf("WriteRecord printed %d bytes for a %d-byte value, %d for its first %d", out.Len(), len(value), cut.Len(), PreviewBytes)
		}
		lw := NewLineWriter(&out)
		if err := lw.Write(&rec); err != nil {
			t.Fatal(err)
		}
		j := ToJSON(&rec, PreviewBytes)
		if len(j.Value) > PreviewBytes || j.ValueLen != len(value) {
			t.Fatalf("ToJSON value %d bytes (len %d), want at most %d of %d", len(j.Value), j.ValueLen, PreviewBytes, len(value))
		}
		if _, err := json.Marshal(j); err != nil {
			t.Fatal(err)
		}
	})
}
