package enrich_test

import (
	"context"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/enrich"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/logtest"
)

// A side-input record whose array, map or string claims more than it
// holds is counted, logged with what was too large, and skipped; it
// allocates nothing like what it claims, and the rows around it load.
func TestTopicAvroBombs(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	const topic = "bombs"
	e.createTopic(t, topic, 1, nil)
	id, err := codec.Register(ctx, e.reg, "bombs-value", `{"type":"record","name":"Row","namespace":"rdg.test","fields":[
		{"name":"name","type":"string"},
		{"name":"tags","type":{"type":"array","items":["null","long"]}},
		{"name":"attrs","type":{"type":"map","values":"string"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	v := func(vs ...any) []byte {
		b := codec.AppendHeader(nil, id)
		for _, x := range vs {
			switch x := x.(type) {
			case int64:
				b = binary.AppendVarint(b, x)
			case string:
				b = append(binary.AppendVarint(b, int64(len(x))), x...)
			}
		}
		return b
	}
	const e40 = int64(1) << 40
	e.produce(t,
		rec(topic, 0, "a", v("A", int64(1), int64(1), int64(2), int64(0), int64(0))), // tags [2]
		rec(topic, 0, "b", v("B", e40, int64(0), int64(0))),                          // array of 2^40
		rec(topic, 0, "c", v("C", int64(0), e40, "k", "v", int64(0))),                // map of 2^40
		rec(topic, 0, "d", append(v(), binary.AppendVarint(nil, e40)...)),
		rec(topic, 0, "z", v("Z", int64(0), int64(1), "k", "v", int64(0))),
	)
	log, logs := logtest.Logger()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tab, err := enrich.StartTopic(tctx, enrich.TopicConfig{Cluster: kafka.Cluster{Seeds: e.addrs}, Topic: topic, Schemas: codec.NewSchemas(e.reg), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tab.Close)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("loading five small rows allocated %d bytes", n)
	}
	if tab.Errors() != 3 || tab.Len() != 2 {
		t.Fatalf("Errors = %d, Len = %d; want 3 bad records and rows a and z", tab.Errors(), tab.Len())
	}
	wantName(t, tab, "a", "A")
	wantName(t, tab, "z", "Z")
	for _, want := range []string{
		"array block of 1099511627776 items in field tags exceeds the 2 bytes left in the record",
		"map block of 1099511627776 entries in field attrs exceeds the 5 bytes left in the record",
		"string of 1099511627776 bytes in field name exceeds the 0 bytes left in the record",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no log line says %q; logs:\n%s", want, logs.String())
		}
	}
	// The table follows on after them.
	e.produce(t, rec(topic, 0, "b", v("B2", int64(0), int64(0))))
	eventually(t, "row after the bombs", func() bool { _, ok := tab.Lookup("b"); return ok })
	wantName(t, tab, "b", "B2")
}
