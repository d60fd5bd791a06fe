package main

import (
	"reflect"
	"testing"

	"github.com/rdgraph/rdg/internal/graph"
)

// The stream holds every distinct element, the asked fraction of updates,
// and is the same in every process: the writer, the ceilings and the
// producer must all see the same elements.
func TestGen(t *testing.T) {
	c := genConfig{Nodes: 1000, Edges: 5000, Updates: 0.25, Seed: 3}
	g, err := newGen(c)
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := newGen(c)
	var n, n2 graph.Node
	var e, e2 graph.Edge
	nodes := map[graph.NodeRef]int{}
	edges := map[graph.EdgeRef]int{}
	var records int64
	lastTS := int64(0)
	for {
		isNode, ok := g.next(&n, &e)
		isNode2, ok2 := g2.next(&n2, &e2)
		if ok != ok2 || isNode != isNode2 {
			t.Fatalf("record %d: two generators disagree", records)
		}
		if !ok {
			break
		}
		records++
		if isNode {
			if !reflect.DeepEqual(n, n2) {
				t.Fatalf("record %d: %+v != %+v", records, n, n2)
			}
			if err := n.NodeRef.Validate(); err != nil {
				t.Fatal(err)
			}
			if n.LastSeen <= lastTS {
				t.Fatalf("event time does not advance: %d after %d", n.LastSeen, lastTS)
			}
			lastTS = n.LastSeen
			nodes[n.NodeRef]++
			continue
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("record %d: %+v != %+v", records, e, e2)
		}
		if err := e.EdgeRef.Validate(); err != nil {
			t.Fatal(err)
		}
		lastTS = e.LastSeen
		edges[e.EdgeRef]++
	}
	if records != g.Records() {
		t.Fatalf("%d records, Records() says %d", records, g.Records())
	}
	if len(nodes) != c.Nodes || len(edges) != c.Edges {
		t.Fatalf("%d distinct nodes and %d edges, want %d and %d", len(nodes), len(edges), c.Nodes, c.Edges)
	}
	updates := float64(records-int64(c.Nodes+c.Edges)) / float64(records)
	if updates < 0.24 || updates > 0.26 {
		t.Fatalf("update fraction %.3f, want 0.25", updates)
	}
	types := map[string]int{}
	for r := range nodes {
		types[r.Type]++
	}
	for r := range edges {
		types[r.Type]++
	}
	want := map[string]int{"account": 500, "device": 350, "title": 150, "watched": 3000, "uses": 1500, "rated": 500}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("types %v, want %v", types, want)
	}
	for r := range edges {
		if _, ok := nodes[r.From]; !ok {
			t.Fatalf("edge %s: no node %s", r, r.From)
		}
		if _, ok := nodes[r.To]; !ok {
			t.Fatalf("edge %s: no node %s", r, r.To)
		}
	}
}

func TestGenTooManyEdges(t *testing.T) {
	if _, err := newGen(genConfig{Nodes: 10, Edges: 1000}); err == nil {
		t.Fatal("1000 edges between 10 nodes accepted")
	}
}

func TestPerm(t *testing.T) {
	for _, n := range []int64{1, 2, 7, 64, 1000, 1 << 20} {
		p := newPerm(n, 5)
		seen := make(map[int64]bool, n)
		for i := range n {
			v := p.at(i)
			if v < 0 || v >= n || seen[v] {
				t.Fatalf("n=%d: at(%d) = %d repeats or is out of range", n, i, v)
			}
			seen[v] = true
		}
	}
}
