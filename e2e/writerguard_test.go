package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/store"
)

func httpBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(b)
}

// nodeV2Schema is the graph node schema with a field more: one the
// registry does not have until the test registers it.
var nodeV2Schema = strings.Replace(codec.NodeSchema, `{"name":"type","type":"string"},`,
	`{"name":"type","type":"string"},{"name":"note","type":"string","default":""},`, 1)

// TestWriterStallsAndDeadLettersAcrossProcesses runs the graph writer as
// its own process (`rdg writer run`) against `rdg up --no-writer`'s broker
// and registry. A graph record that is not Avro goes to the writer's
// dead-letter topic, which `rdg dlq list` shows; a record whose schema the
// registry does not have (as after a subject was deleted) stalls its
// partition: the writer process logs it at ERROR, /metrics shows
// rdg_store_partitions_stalled 1 and /readyz says why, nothing past it is
// committed, and once the schema is registered the writer resumes by
// itself and stores the record and those after it.
func TestWriterStallsAndDeadLettersAcrossProcesses(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	topic := codec.NodeTopic("account")
	compact := "compact"
	if _, err := c.adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, topic); err != nil {
		t.Fatal(err)
	}
	el, err := codec.RegisterElements(ctx, c.reg, []string{"account"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	node := func(id string) []byte {
		r, err := el.NodeRecord(&graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: id}, FirstSeen: 1, LastSeen: 1, UpdatedAt: 1})
		if err != nil {
			t.Fatal(err)
		}
		return r.Value
	}
	// The id the registry gives the next schema it registers.
	future := 1
	for {
		if _, err := c.reg.SchemaByID(ctx, future); err != nil {
			break
		}
		future++
	}
	sch, err := avro.Parse(nodeV2Schema)
	if err != nil {
		t.Fatal(err)
	}
	body, err := avro.Marshal(sch, map[string]any{"type": "account", "note": "v2", "id": "v2", "props": map[string]any{},
		"first_seen": time.UnixMilli(1), "last_seen": time.UnixMilli(1), "updated_at": time.UnixMilli(1)})
	if err != nil {
		t.Fatal(err)
	}
	values := [][]byte{node("before"), []byte("\xde\xad not avro"), append(codec.AppendHeader(nil, future), body...), node("after")}
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("k"), Value: v})
	}
	if err := c.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	dataDir := t.TempDir()
	w := c.startWriter(t, "writer", dataDir)
	committed := func() int64 {
		offs, err := c.adm.FetchOffsets(ctx, "rdg-store-default")
		if err != nil {
			return -1
		}
		o, _ := offs.Lookup(topic, 0)
		return o.At
	}
	await(t, 30*time.Second, func() (bool, string) {
		w.alive(t)
		stalled, rejected := w.metric("rdg_store_partitions_stalled"), w.metric("rdg_store_records_rejected_total")
		return stalled == 1 && rejected == 1 && committed() == 2,
			fmt.Sprintf("stalled %v, rejected %v, committed %d (want 1, 1, 2)", stalled, rejected, committed())
	})
	if want := fmt.Sprintf("topic=%s partition=0 offset=2 schema_id=%d", topic, future); !strings.Contains(w.logs.String(), want) ||
		!strings.Contains(w.logs.String(), "level=ERROR msg=\"graph partition stalled") {
		t.Fatalf("the writer's log has no ERROR line naming %s", want)
	}
	if body := httpBody(t, w.apiURL+"/readyz"); !strings.HasPrefix(body, "200 OK ready\ngraph writer: 1 partition(s) stalled") {
		t.Fatalf("/readyz = %q", body)
	}
	out, err := runRdg(t, time.Minute, "dlq", "list", "--brokers", c.kafka, "--job", "writer-default")
	if err != nil || !strings.Contains(out, topic+"[0]@1") || !strings.Contains(out, "decode") {
		t.Fatalf("rdg dlq list --job writer-default: %v\n%s", err, out)
	}

	if id, err := codec.Register(ctx, c.reg, codec.Subject(topic), nodeV2Schema); err != nil || id != future {
		t.Fatalf("registered as %d (%v), want %d", id, err, future)
	}
	await(t, 30*time.Second, func() (bool, string) {
		w.alive(t)
		stalled := w.metric("rdg_store_partitions_stalled")
		return stalled == 0 && committed() == 4, fmt.Sprintf("stalled %v, committed %d (want 0, 4)", stalled, committed())
	})
	w.term(t)
	st, err := store.Open(filepath.Join(dataDir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"before", "v2", "after"} {
		if _, ok, err := st.Node(ctx, graph.NodeRef{Type: "account", ID: id}); err != nil || !ok {
			t.Errorf("node %s not in the store (%v)", id, err)
		}
	}
}
