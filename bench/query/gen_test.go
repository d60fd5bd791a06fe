package main

import (
	"strings"
	"testing"
)

// TestGenerator: the graph is a function of its spec alone, node indexes
// sort as rdg sorts nodes (type name, then id), and no edge is generated
// twice (a repeat would merge into one edge in rdg and violate the primary
// key in PostgreSQL).
func TestGenerator(t *testing.T) {
	s := spec{Accounts: 2000, Devices: 1400, Titles: 100, Seed: 7}
	collect := func() ([]genNode, []genEdge) {
		g := newGenerator(s)
		var ns []genNode
		var es []genEdge
		// Out of order on purpose: each node's content depends on its index only.
		for i := s.nodes() - 1; i >= 0; i-- {
			ns = append(ns, g.node(i))
			g.edges(i, func(e *genEdge) { es = append(es, *e) })
		}
		return ns, es
	}
	n1, e1 := collect()
	n2, e2 := collect()
	if len(e1) == 0 || len(n1) != s.nodes() {
		t.Fatalf("%d nodes, %d edges", len(n1), len(e1))
	}
	for i := range n1 {
		if n1[i] != n2[i] {
			t.Fatalf("node %d differs between runs: %+v, %+v", i, n1[i], n2[i])
		}
	}
	for i := range e1 {
		if e1[i] != e2[i] {
			t.Fatalf("edge %d differs between runs", i)
		}
	}
	for i := 1; i < s.nodes(); i++ {
		a, b := s.ref(i-1), s.ref(i)
		if c := strings.Compare(a.Type, b.Type); c > 0 || c == 0 && a.ID >= b.ID {
			t.Fatalf("node %d (%s) sorts after node %d (%s)", i-1, a, i, b)
		}
	}
	type key struct{ typ, from, to int }
	seen := map[key]bool{}
	deg := make([]int, s.nodes())
	for _, e := range e1 {
		k := key{e.typ, e.from, e.to}
		if seen[k] {
			t.Fatalf("edge %s %s->%s twice", edgeTypes[e.typ], s.ref(e.from), s.ref(e.to))
		}
		seen[k] = true
		if e.from == e.to {
			t.Fatalf("self-loop at %s", s.ref(e.from))
		}
		deg[e.from]++
		deg[e.to]++
	}
	// Power law: the busiest title has far more edges than the average node.
	top := 0
	for i := s.Accounts + s.Devices; i < s.nodes(); i++ {
		top = max(top, deg[i])
	}
	if mean := 2 * len(e1) / s.nodes(); top < 20*mean {
		t.Errorf("busiest title has %d edges, mean degree %d: no hubs", top, mean)
	}
}
