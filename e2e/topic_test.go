package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/topic"
)

const orderSchema = `{"type": "record", "name": "Order", "namespace": "rdg.e2e", "fields": [
  {"name": "event_ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "customer_id", "type": "string"},
  {"name": "product_id", "type": "string"}]}`

type order struct {
	EventTs    time.Time `avro:"event_ts"`
	CustomerID string    `avro:"customer_id"`
	ProductID  string    `avro:"product_id"`
}

// TestUpCreatesSourceTopicsAndTopicCommands: `rdg up --jobs DIR` with a
// job whose source and side-input topics do not exist creates them with
// --partitions (the side input compacted) before the job starts, so a plain producer (no auto-creation) has its
// first record accepted and the record reaches the graph. Then `rdg topic`
// runs as a process against that rdg: list, describe (partitions and the
// job's consumer group), create, alter, delete, and the errors a person
// makes (a topic that exists, a misspelt config, an unknown topic).
func TestUpCreatesSourceTopicsAndTopicCommands(t *testing.T) {
	jobs := t.TempDir()
	job := `name: orders
source: {topic: shop.orders}
time: event_ts
enrich:
  - {name: product, topic: shop.products, key: product_id}
nodes:
  - {type: customer, id: customer_id}
  - {type: product, id: product_id, props: {name: product.name}}
edges:
  - {type: bought, from: customer(customer_id), to: product(product_id)}
`
	if err := os.WriteFile(filepath.Join(jobs, "orders.yaml"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	kafka, reg, api := freePort(t), freePort(t), freePort(t)
	up := startProc(t, "up", api, "up", "--jobs", jobs, "--data-dir", t.TempDir(), "--kafka-addr", kafka,
		"--registry-addr", reg, "--api-addr", api, "--partitions", "3")
	up.awaitReady(t)
	if !strings.Contains(up.logs.String(), `msg="created source topic" topic=shop.orders partitions=3`) {
		t.Errorf("rdg up did not log the source topic it created")
	}
	if !strings.Contains(up.logs.String(), "created side-input topic, compacted and empty") {
		t.Errorf("rdg up did not log the side-input topic it created")
	}

	rdg := func(wantOK bool, args ...string) string {
		t.Helper()
		out, err := exec.Command(rdgBinary(t), append(args, "--brokers", kafka)...).CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("rdg %s: %v (want success %v)\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
	describe := func(name string) topic.Description {
		t.Helper()
		var ds []topic.Description
		out := rdg(true, "topic", "describe", name, "--json")
		if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) != 1 {
			t.Fatalf("describe --json: %v\n%s", err, out)
		}
		return ds[0]
	}
	if d := describe("shop.orders"); len(d.Partitions) != 3 {
		t.Fatalf("shop.orders has %d partitions, want --partitions 3", len(d.Partitions))
	}
	side := describe("shop.products")
	if len(side.Partitions) != 3 || len(side.Configs) == 0 || side.Configs[0] != (topic.Config{Name: "cleanup.policy", Value: "compact", Source: "topic"}) {
		t.Errorf("side input shop.products: %d partitions, configs %+v; want 3, compacted", len(side.Partitions), side.Configs)
	}

	// A producer that would not create a topic: its first record is taken.
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	rc, err := sr.NewClient(sr.URLs("http://" + reg))
	if err != nil {
		t.Fatal(err)
	}
	newAvroProducer(t, cl, rc).produce("shop.orders", orderSchema, "c-1",
		&order{EventTs: time.Now().Add(-time.Minute).Truncate(time.Millisecond), CustomerID: "c-1", ProductID: "p-1"})
	graphAPI := rdgv1connect.NewGraphServiceClient(http.DefaultClient, "http://"+api)
	await(t, 30*time.Second, func() (bool, string) {
		up.alive(t)
		r, err := graphAPI.Neighbors(context.Background(), connect.NewRequest(&rdgv1.NeighborsRequest{Node: &rdgv1.NodeRef{Type: "customer", Id: "c-1"}}))
		if err != nil {
			return false, err.Error()
		}
		for _, n := range r.Msg.GetNeighbors() {
			if n.GetNode().GetId() == "p-1" {
				return true, ""
			}
		}
		return false, "customer c-1 has no bought edge to p-1 yet"
	})

	// describe shows the record and, once the job has committed, its
	// consumer group with no lag.
	await(t, 30*time.Second, func() (bool, string) {
		d := describe("shop.orders")
		if d.Records != 1 || d.Bytes == nil || *d.Bytes == 0 {
			return false, "records/bytes not reported"
		}
		for _, g := range d.Groups {
			if g.Group == "rdg-job-orders" && g.Lag == 0 && len(g.Partitions) == 3 {
				return true, ""
			}
		}
		return false, "no rdg-job-orders group with lag 0 on shop.orders"
	})
	table := rdg(true, "topic", "describe", "shop.orders")
	for _, w := range []string{"Topic shop.orders: 3 partitions, replication factor 1, 1 records", "PARTITION  LEADER", "CONSUMER GROUP", "rdg-job-orders", "retention.ms"} {
		if !strings.Contains(table, w) {
			t.Errorf("describe table lacks %q:\n%s", w, table)
		}
	}

	out := rdg(true, "topic", "create", "my.events", "--partitions", "3", "--config", "retention.ms=604800000")
	if !strings.Contains(out, "created topic my.events: 3 partitions, replication factor 1, retention.ms=604800000") {
		t.Errorf("create said %q", out)
	}
	if out = rdg(true, "topic", "list"); !strings.Contains(out, "my.events") || !strings.Contains(out, "shop.orders") {
		t.Errorf("list:\n%s", out)
	}
	out = rdg(false, "topic", "create", "my.events")
	if !strings.Contains(out, `topic "my.events" already exists`) || !strings.Contains(out, "rdg topic alter my.events") {
		t.Errorf("create twice said %q", out)
	}
	out = rdg(false, "topic", "alter", "my.events", "--config", "retension.ms=1")
	if !strings.Contains(out, `did you mean "retention.ms"?`) {
		t.Errorf("misspelt config: %q", out)
	}
	rdg(true, "topic", "alter", "my.events", "--partitions", "6", "--config", "cleanup.policy=compact", "--delete-config", "retention.ms")
	d := describe("my.events")
	if len(d.Partitions) != 6 {
		t.Errorf("after alter: %d partitions, want 6", len(d.Partitions))
	}
	for _, c := range d.Configs {
		if (c.Name == "cleanup.policy" && (c.Value != "compact" || c.Source != "topic")) || (c.Name == "retention.ms" && c.Source == "topic") {
			t.Errorf("after alter: %+v", c)
		}
	}
	if out = rdg(true, "topic", "delete", "my.events"); out != "deleted topic my.events\n" {
		t.Errorf("delete said %q", out)
	}
	out = rdg(false, "topic", "describe", "my.events")
	if !strings.Contains(out, `topic "my.events" does not exist`) || !strings.Contains(out, "rdg topic list") {
		t.Errorf("describe a deleted topic said %q", out)
	}
}
