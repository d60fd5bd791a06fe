package engine

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/registry"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testEnv is a real broker (kfake over TCP) with rdg's own schema registry
// served over HTTP in front of it.
type testEnv struct {
	cluster *kfake.Cluster
	reg     *sr.Client
	http    *httptest.Server
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	srv, err := registry.New(testCtx(t), registry.Seeds(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	reg, err := sr.NewClient(sr.URLs(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{cluster: c, reg: reg, http: hs}
}

// register registers schema under subject and returns its id and parsed form.
func (e *testEnv) register(t testing.TB, subject, schema string) (int, avro.Schema) {
	t.Helper()
	id, err := codec.Register(testCtx(t), e.reg, subject, schema)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	return id, sch
}

// encode frames v, written with sch, as a Confluent record value.
func encode(t testing.TB, id int, sch avro.Schema, v any) []byte {
	t.Helper()
	body, err := avro.Marshal(sch, v)
	if err != nil {
		t.Fatal(err)
	}
	return append(codec.AppendHeader(nil, id), body...)
}

// compileJob parses and compiles a job given inline; file places it (and so
// resolves source.schema) without the file having to exist.
func compileJob(t testing.TB, file, src string) *Job {
	t.Helper()
	spec, err := job.Parse(file, []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	j, err := Compile(spec)
	if err != nil {
		t.Fatalf("compile:\n%v", err)
	}
	return j
}

// testBuffer drives a Buffer with graph.Batch values, the form the tests
// build and compare: Add converts Props maps to sorted properties, Due and
// DrainAll append the emitted elements to a graph.Batch with maps of their
// own (copies: the buffer's are valid only until its next Add).
type testBuffer struct {
	*Buffer
	in, out Elements
}

func newTestBuffer(window time.Duration, maxKeys int) *testBuffer {
	return &testBuffer{Buffer: NewBuffer(window, maxKeys)}
}

func (t *testBuffer) Add(b *graph.Batch, src SourcePos, now time.Time) {
	toElements(b, &t.in)
	t.Buffer.Add(&t.in, src, now)
}

func (t *testBuffer) Due(now time.Time, out *graph.Batch) int {
	t.out.reset()
	n := t.Buffer.Due(now, &t.out)
	t.out.appendTo(out)
	return n
}

func (t *testBuffer) DrainAll(out *graph.Batch) int {
	t.out.reset()
	n := t.Buffer.DrainAll(&t.out)
	t.out.appendTo(out)
	return n
}

// toElements replaces dst's content with b's elements, their properties
// sorted by name.
func toElements(b *graph.Batch, dst *Elements) {
	dst.reset()
	props := func(p graph.Props) []graph.NamedProp {
		if len(p) == 0 {
			return nil
		}
		a0 := len(dst.arena)
		for k, v := range p {
			dst.arena = append(dst.arena, graph.NamedProp{Name: k, Prop: v})
		}
		n := len(dst.arena)
		s := dst.arena[a0:n:n]
		slices.SortFunc(s, func(a, b graph.NamedProp) int { return strings.Compare(a.Name, b.Name) })
		return s
	}
	for _, n := range b.Nodes {
		p := props(n.Props)
		n.Props = nil
		dst.nodes = append(dst.nodes, node{Node: n, props: p})
	}
	for _, e := range b.Edges {
		p := props(e.Props)
		e.Props = nil
		dst.edges = append(dst.edges, edge{Edge: e, props: p})
	}
}
