package engine

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
)

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
