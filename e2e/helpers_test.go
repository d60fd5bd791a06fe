// Package e2e holds rdg's end-to-end tests: real TCP to the embedded Kafka
// broker and schema registry, real Pebble on disk, real processes where a
// test says so. Each test starts its own stack on free ports.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	rdgkafka "github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/logtest"
	"github.com/rdgraph/rdg/internal/stack"
)

// repoRoot is the repository's top directory, found from this file.
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate repository root")
	}
	return filepath.Dir(filepath.Dir(file))
}

// sharedData is ../shared/data beside the repository (see README).
func sharedData(t testing.TB, rel string) string {
	p := filepath.Join(repoRoot(t), "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data not available (%v): it lives in ../shared/data beside the repository", err)
	}
	return p
}

type testStack struct {
	*stack.Stack
	logs *logtest.Buffer
	api  rdgv1connect.GraphServiceClient
}

// startStack runs a whole rdg in-process on free ports with the jobs of
// jobsDir and a fresh data directory.
func startStack(t *testing.T, jobsDir string) *testStack {
	t.Helper()
	jobs, err := stack.LoadJobs(jobsDir)
	if err != nil {
		t.Fatal(err)
	}
	return startStackJobs(t, jobs)
}

func startStackJobs(t *testing.T, jobs []*engine.Job) *testStack {
	t.Helper()
	logs := &logtest.Buffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Config{
		BeforeJobs:      produceCatalog,
		DataDir:         t.TempDir(),
		KafkaAddr:       "127.0.0.1:0",
		RegistryAddr:    "127.0.0.1:0",
		APIAddr:         "127.0.0.1:0",
		Jobs:            jobs,
		GraphPartitions: 3,
		Logger:          slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("stack close: %v", err)
		}
	})
	return &testStack{Stack: st, logs: logs, api: rdgv1connect.NewGraphServiceClient(http.DefaultClient, st.APIURL())}
}

// produceCatalog publishes the demo title catalogue, the Netflix example
// jobs' side input, before the jobs start.
func produceCatalog(ctx context.Context, k rdgkafka.Cluster, reg *sr.Client) error {
	cl, err := k.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = demo.ProduceCatalog(ctx, cl, reg, demo.Config{Seed: 1, Members: 200})
	return err
}

// producer returns a franz-go client producing to the stack's broker.
func (s *testStack) producer(t *testing.T) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Seeds()...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// avroProducer encodes values with a schema registered in the registry and
// produces them in the Confluent wire format.
type avroProducer struct {
	t      *testing.T
	cl     *kgo.Client
	reg    *sr.Client
	ids    map[string]int
	parsed map[string]avro.Schema
}

func newAvroProducer(t *testing.T, cl *kgo.Client, reg *sr.Client) *avroProducer {
	return &avroProducer{t: t, cl: cl, reg: reg, ids: map[string]int{}, parsed: map[string]avro.Schema{}}
}

// encode registers schema under topic's subject (once) and encodes v.
func (p *avroProducer) encode(topic, schema string, v any) []byte {
	p.t.Helper()
	id, ok := p.ids[topic+schema]
	if !ok {
		var err error
		id, err = codec.Register(context.Background(), p.reg, codec.Subject(topic), schema)
		if err != nil {
			p.t.Fatal(err)
		}
		p.ids[topic+schema] = id
		p.parsed[topic+schema] = mustParse(p.t, schema)
	}
	body, err := avro.Marshal(p.parsed[topic+schema], v)
	if err != nil {
		p.t.Fatalf("encode %T for %s: %v", v, topic, err)
	}
	return append(codec.AppendHeader(nil, id), body...)
}

func (p *avroProducer) produce(topic, schema, key string, v any) {
	p.t.Helper()
	rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: p.encode(topic, schema, v)}
	if err := p.cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		p.t.Fatalf("produce to %s: %v", topic, err)
	}
}

func mustParse(t testing.TB, schema string) avro.Schema {
	s, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// await polls cond until it reports done or timeout passes; the last
// status cond gave is the failure message. Polling a condition is how these
// tests wait: never a fixed sleep.
func await(t *testing.T, timeout time.Duration, cond func() (done bool, status string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var status string
	for {
		var done bool
		done, status = cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after %s: %s", timeout, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func refsString(refs []string) string { return "[" + strings.Join(refs, " ") + "]" }

var _ = fmt.Sprintf
