package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/broker"
	"github.com/rdgraph/rdg/internal/demo"
	rdgkafka "github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/registry"
	"github.com/rdgraph/rdg/internal/stack"
)

// TestExternalKafkaAndRegistry runs the stack with --brokers and --registry
// semantics: Kafka and the registry are started by the test, outside the
// stack, and the stack embeds neither.
func TestExternalKafkaAndRegistry(t *testing.T) {
	ctx := context.Background()
	ext, err := broker.Start(broker.Addr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	reg, err := registry.New(ctx, registry.Seeds(ext.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	regHTTP := httptest.NewServer(reg)
	defer regHTTP.Close()

	jobs, err := stack.LoadJobs(filepath.Join(repoRoot(t), "examples", "netflix", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Start(ctx, stack.Config{BeforeJobs: produceCatalog, DataDir: t.TempDir(), Kafka: rdgkafka.Cluster{Seeds: []string{ext.Addr()}}, RegistryURL: regHTTP.URL,
		APIAddr: "127.0.0.1:0", Jobs: jobs, GraphPartitions: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Embedded() != nil || st.RegistryURL() != regHTTP.URL {
		t.Fatalf("stack embedded a broker (%v) or registry (%s) despite external ones", st.Embedded() != nil, st.RegistryURL())
	}
	ts := &testStack{Stack: st}
	cl := ts.producer(t)
	if err := demo.EnsureTopics(ctx, kadm.NewClient(cl), 2); err != nil {
		t.Fatal(err)
	}
	newAvroProducer(t, cl, st.Registry()).produce(demo.TopicGames, demo.GameSchema, "m-ext", &demo.Game{EventID: "e1",
		EventTs: time.Now().Truncate(time.Millisecond), MemberID: "m-ext", ProfileID: "p", DeviceID: "d-ext", GameID: "g-ext", EventType: demo.GameLaunch})
	api := rdgv1connect.NewGraphServiceClient(http.DefaultClient, st.APIURL())
	await(t, 10*time.Second, func() (bool, string) {
		r, err := api.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{
			Node: &rdgv1.NodeRef{Type: "account", Id: "m-ext"}, EdgeTypes: []string{"played"}}))
		if err != nil {
			return false, err.Error()
		}
		return len(r.Msg.Neighbors) == 1 && r.Msg.Neighbors[0].Node.Id == "g-ext", "no played edge to g-ext yet"
	})
}
