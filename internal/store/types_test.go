package store

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rdgraph/rdg/internal/graph"
)

func typesOf(p *Pebble) (nodes, edges []string) {
	k := p.KnownTypes()
	return k.NodeTypes(), k.EdgeTypes()
}

func wantTypes(t *testing.T, what string, p *Pebble, nodes, edges []string) {
	t.Helper()
	gn, ge := typesOf(p)
	if !slices.Equal(gn, nodes) || !slices.Equal(ge, edges) {
		t.Errorf("%s: node types %q, edge types %q; want %q, %q", what, gn, ge, nodes, edges)
	}
}

// TestKnownTypes: the types of every element applied are known at once,
// the types of edge ends count as node types, a failed batch adds none,
// and the record survives a reopen.
func TestKnownTypes(t *testing.T) {
	dir := t.TempDir()
	p := openT(t, dir)
	wantTypes(t, "empty store", p, nil, nil)
	apply(t, p, &graph.Batch{
		Nodes: []graph.Node{{NodeRef: ref("account:a1"), LastSeen: 1}, {NodeRef: ref("account:a2"), LastSeen: 1}},
		Edges: []graph.Edge{
			{EdgeRef: graph.EdgeRef{Type: "used", From: ref("account:a1"), To: ref("device:d1")}, LastSeen: 1},
			{EdgeRef: graph.EdgeRef{Type: "watched", From: ref("profile:p1"), To: ref("title:t1")}, LastSeen: 1},
			{EdgeRef: graph.EdgeRef{Type: "used", From: ref("account:a2"), To: ref("device:d1")}, LastSeen: 1},
		},
	})
	wantTypes(t, "after a batch", p, []string{"account", "device", "profile", "title"}, []string{"used", "watched"})
	before := p.KnownTypes()
	apply(t, p, &graph.Batch{Nodes: []graph.Node{{NodeRef: ref("device:d2"), LastSeen: 2}}})
	if p.KnownTypes() != before {
		t.Error("a batch of known types replaced the set")
	}
	err := p.Apply(context.Background(), &graph.Batch{
		Nodes: []graph.Node{{NodeRef: ref("genre:g1"), LastSeen: 1}, {NodeRef: graph.NodeRef{Type: "Bad Type", ID: "x"}}},
	})
	if err == nil {
		t.Fatal("a batch with an invalid type was applied")
	}
	wantTypes(t, "after a failed batch", p, []string{"account", "device", "profile", "title"}, []string{"used", "watched"})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openT(t, dir)
	wantTypes(t, "reopened", p, []string{"account", "device", "profile", "title"}, []string{"used", "watched"})
}

// TestKnownTypesConcurrentApply: batches applied at once, each with types
// of its own, lose none of them.
func TestKnownTypesConcurrentApply(t *testing.T) {
	p := openT(t, t.TempDir())
	var wg sync.WaitGroup
	var nodes, edges []string
	for i := range 8 {
		nt, et := "n"+string(rune('a'+i)), "e"+string(rune('a'+i))
		nodes, edges = append(nodes, nt), append(edges, et)
		wg.Go(func() {
			b := &graph.Batch{Edges: []graph.Edge{{EdgeRef: graph.EdgeRef{Type: et,
				From: graph.NodeRef{Type: nt, ID: "1"}, To: graph.NodeRef{Type: nt, ID: "2"}}, LastSeen: 1}}}
			if err := p.Apply(context.Background(), b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	wantTypes(t, "after concurrent batches", p, nodes, edges)
}

// TestMigrateLayout2 opens a store of layout 2 (no type records; made here
// by deleting them and writing the old version) and checks that the types
// are found and recorded.
func TestMigrateLayout2(t *testing.T) {
	dir := t.TempDir()
	p := openT(t, dir)
	var b graph.Batch
	b.Nodes = append(b.Nodes, graph.Node{NodeRef: ref("account:a1"), LastSeen: 1}, graph.Node{NodeRef: ref("genre:g\x00"), LastSeen: 1})
	for i := range 500 {
		typ := []string{"used", "watched", "has_profile"}[i%3]
		b.Edges = append(b.Edges, graph.Edge{EdgeRef: graph.EdgeRef{Type: typ,
			From: graph.NodeRef{Type: "account", ID: string(rune('a' + i%26))},
			To:   graph.NodeRef{Type: []string{"device", "title", "profile"}[i%3], ID: string(rune('a' + i%20))}}, LastSeen: 1})
	}
	apply(t, p, &b)
	wantNodes, wantEdges := typesOf(p)
	if err := p.db.DeleteRange([]byte{kindType}, []byte{kindType + 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := p.db.Set(layoutKey, []byte("2"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p = openT(t, dir)
	wantTypes(t, "migrated", p, wantNodes, wantEdges)
	if len(wantNodes) != 5 || len(wantEdges) != 3 {
		t.Errorf("types before migrating: %q %q", wantNodes, wantEdges)
	}
	v, closer, err := p.db.Get(layoutKey)
	if err != nil {
		t.Fatal(err)
	}
	if string(v) != layoutVersion {
		t.Errorf("layout after migrating = %q, want %q", v, layoutVersion)
	}
	closer.Close()
}
