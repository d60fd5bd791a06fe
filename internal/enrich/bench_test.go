package enrich

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
)

// A catalogue title: the kind of row side inputs hold.
var benchSchema = avro.MustParse(`{"type":"record","name":"Title","namespace":"rdg.bench","fields":[
	{"name":"title_id","type":"string"},
	{"name":"name","type":"string"},
	{"name":"genre","type":"string"},
	{"name":"kind","type":"string"}]}`)

func benchBody(i int) (string, []byte) {
	id := fmt.Sprintf("t-%05d", i)
	b, err := avro.Marshal(benchSchema, map[string]any{
		"title_id": id, "name": fmt.Sprintf("The Silent Harbor %d", i), "genre": "drama", "kind": "show",
	})
	if err != nil {
		panic(err)
	}
	return id, b
}

// BenchmarkRowMemory measures what a row costs held in a TopicTable: the
// decoded map with its boxed values, the key, and the table's map entry,
// decoded through the same path as the follower. Reported as B/row.
func BenchmarkRowMemory(b *testing.B) {
	const n = 100_000
	type rec struct {
		key  string
		body []byte
	}
	recs := make([]rec, n)
	for i := range recs {
		recs[i].key, recs[i].body = benchBody(i)
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t := &TopicTable{rows: make(map[string]map[string]any)}
		ops := make([]op, 0, 1)
		for _, r := range recs {
			var row map[string]any
			if err := codec.Unmarshal(benchSchema, r.body, &row); err != nil {
				b.Fatal(err)
			}
			// The key is a fresh string, as string(record.Key) makes it.
			ops = append(ops[:0], op{key: string([]byte(r.key)), row: row})
			t.apply(ops)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/row")
		runtime.KeepAlive(t)
	}
}

func benchTable(b *testing.B) (*TopicTable, []string) {
	t := &TopicTable{rows: make(map[string]map[string]any)}
	keys := make([]string, 10_000)
	for i := range keys {
		id, body := benchBody(i)
		var row map[string]any
		if err := codec.Unmarshal(benchSchema, body, &row); err != nil {
			b.Fatal(err)
		}
		t.apply([]op{{key: id, row: row}})
		keys[i] = id
	}
	return t, keys
}

func BenchmarkLookup(b *testing.B) {
	t, keys := benchTable(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t.Lookup(keys[i%len(keys)])
		i++
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	t, keys := benchTable(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			t.Lookup(keys[i%len(keys)])
			i++
		}
	})
}
