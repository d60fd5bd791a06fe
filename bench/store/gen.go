package main

import (
	"fmt"
	"math/bits"
	"strconv"

	"github.com/rdgraph/rdg/internal/graph"
)

// genConfig fixes the element stream: the same config gives the same
// records in the same order, in every process that generates them.
type genConfig struct {
	Nodes   int     `json:"nodes"`   // distinct nodes
	Edges   int     `json:"edges"`   // distinct edges
	Updates float64 `json:"updates"` // fraction of records that update an element already sent
	Seed    uint64  `json:"seed"`
}

// Node types and their share of the nodes; edge types, their ends and
// their share of the edges. Shaped like the demo's playback job: accounts
// that use devices and watch (and rate) titles.
var (
	nodeTypes = []struct {
		name, prefix string
		share        float64
	}{
		{"account", "m-", 0.50},
		{"device", "d-", 0.35},
		{"title", "t-", 0.15},
	}
	edgeTypes = []struct {
		name     string
		from, to int // indexes into nodeTypes
		share    float64
	}{
		{"watched", 0, 2, 0.60},
		{"uses", 0, 1, 0.30},
		{"rated", 0, 2, 0.10},
	}
)

func nodeTypeNames() []string {
	s := make([]string, len(nodeTypes))
	for i, t := range nodeTypes {
		s[i] = t.name
	}
	return s
}

func edgeTypeNames() []string {
	s := make([]string, len(edgeTypes))
	for i, t := range edgeTypes {
		s[i] = t.name
	}
	return s
}

// baseTS is the event time of the first record; record r happens r
// milliseconds later, so an update always carries a later time than the
// element's first record and wins its properties.
const baseTS = int64(1_750_000_000_000)

var (
	plans     = []string{"basic", "standard", "premium"}
	countries = []string{"US", "GB", "FR", "DE", "BR", "MX", "JP", "KR", "IN", "CA", "ES", "IT", "NL", "SE", "PL", "AU", "AR", "CO", "TR", "ZA"}
	platforms = []string{"tv", "phone", "tablet", "web", "console"}
	genres    = []string{"drama", "comedy", "thriller", "documentary", "kids", "anime", "romance", "horror", "scifi", "crime"}
	kinds     = []string{"film", "show"}
	events    = []string{"PLAY_START", "PLAY_STOP"}
)

// gen produces the record stream: every distinct node and edge once, in a
// seeded pseudo-random order, with updates of elements already produced
// spread evenly among them (after new element k come
// floor((k+1)q) - floor(kq) updates, q = u/(1-u), so a fraction u of all
// records are updates), each of a uniformly chosen earlier element.
//
// Generation allocates nothing per record beyond what the caller's
// elements need: ids and the few distinct strings are built once, and
// next fills the caller's node or edge, reusing its Props map.
type gen struct {
	c        genConfig
	distinct int64 // nodes + edges
	q        float64

	ids      [][]string // per node type
	nodeBase []int      // first global node index of each type
	edgeBase []int      // first edge index of each type
	edgeN    []int
	models   []string
	names    []string // title names, one per title

	nodePerm, edgePerm perm

	// position
	k       int64 // next new element
	pending int64 // updates still due before new element k
	r       int64 // records produced
	rng     uint64
}

func newGen(c genConfig) (*gen, error) {
	if c.Nodes < len(nodeTypes) || c.Edges < len(edgeTypes) {
		return nil, fmt.Errorf("need at least %d nodes and %d edges", len(nodeTypes), len(edgeTypes))
	}
	if c.Updates < 0 || c.Updates >= 0.9 {
		return nil, fmt.Errorf("updates %v: want a fraction in [0, 0.9)", c.Updates)
	}
	g := &gen{c: c, distinct: int64(c.Nodes) + int64(c.Edges), q: c.Updates / (1 - c.Updates), rng: c.Seed ^ 0x9e3779b97f4a7c15}
	left := c.Nodes
	for i, t := range nodeTypes {
		n := int(float64(c.Nodes) * t.share)
		if i == len(nodeTypes)-1 {
			n = left
		}
		left -= n
		g.nodeBase = append(g.nodeBase, c.Nodes-left-n)
		ids := make([]string, n)
		var buf []byte
		for j := range ids {
			buf = strconv.AppendInt(append(buf[:0], t.prefix...), int64(j), 10)
			ids[j] = string(buf)
		}
		g.ids = append(g.ids, ids)
	}
	left = c.Edges
	for i, t := range edgeTypes {
		n := int(float64(c.Edges) * t.share)
		if i == len(edgeTypes)-1 {
			n = left
		}
		left -= n
		if max := int64(len(g.ids[t.from])) * int64(len(g.ids[t.to])); int64(n) > max {
			return nil, fmt.Errorf("%d %s edges do not fit between %d and %d nodes: add nodes", n, t.name, len(g.ids[t.from]), len(g.ids[t.to]))
		}
		g.edgeBase = append(g.edgeBase, c.Edges-left-n)
		g.edgeN = append(g.edgeN, n)
	}
	for i := range 500 {
		g.models = append(g.models, "model-"+strconv.Itoa(i))
	}
	g.names = make([]string, len(g.ids[2]))
	for i := range g.names {
		g.names[i] = "Title " + strconv.Itoa(i)
	}
	g.nodePerm = newPerm(int64(c.Nodes), c.Seed)
	g.edgePerm = newPerm(int64(c.Edges), c.Seed+1)
	return g, nil
}

// Records is the length of the stream.
func (g *gen) Records() int64 {
	return g.distinct + int64(float64(g.distinct)*g.q)
}

// updatesAfter is how many updates follow new element k.
func (g *gen) updatesAfter(k int64) int64 {
	return int64(float64(k+1)*g.q) - int64(float64(k)*g.q)
}

// nodesBefore is the number of nodes among the first k new elements:
// nodes and edges are interleaved evenly.
func (g *gen) nodesBefore(k int64) int64 {
	return k * int64(g.c.Nodes) / g.distinct
}

// next fills n (and returns true) or e (false) with the next record; ok is
// false at the end of the stream.
func (g *gen) next(n *graph.Node, e *graph.Edge) (isNode, ok bool) {
	if g.pending == 0 && g.k >= g.distinct {
		return false, false
	}
	var el int64
	if g.pending > 0 {
		g.pending--
		el = int64(g.rand() % uint64(g.k)) // an element already produced
	} else {
		el = g.k
		g.pending = g.updatesAfter(g.k)
		g.k++
	}
	ts := baseTS + g.r
	g.r++
	nb := g.nodesBefore(el)
	if g.nodesBefore(el+1) > nb {
		g.fillNode(n, g.nodePerm.at(nb), ts)
		return true, true
	}
	g.fillEdge(e, g.edgePerm.at(el-nb), ts)
	return false, true
}

func (g *gen) rand() uint64 {
	g.rng += 0x9e3779b97f4a7c15
	return mix(g.rng)
}

// mix is splitmix64's finalizer.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func props(p graph.Props) graph.Props {
	if p == nil {
		return make(graph.Props, 4)
	}
	clear(p)
	return p
}

// fillNode makes n global node i as of event time ts.
func (g *gen) fillNode(n *graph.Node, i int64, ts int64) {
	t := len(g.nodeBase) - 1
	for t > 0 && int(i) < g.nodeBase[t] {
		t--
	}
	j := int(i) - g.nodeBase[t]
	h := g.rand()
	n.NodeRef = graph.NodeRef{Type: nodeTypes[t].name, ID: g.ids[t][j]}
	n.FirstSeen, n.LastSeen, n.UpdatedAt = ts, ts, ts+int64(h%50)
	n.Props = props(n.Props)
	switch t {
	case 0:
		n.Props["plan"] = graph.Prop{Value: plans[h>>8%uint64(len(plans))], TS: ts}
		n.Props["country"] = graph.Prop{Value: countries[uint64(j)%uint64(len(countries))], TS: ts}
	case 1:
		n.Props["platform"] = graph.Prop{Value: platforms[uint64(j)%uint64(len(platforms))], TS: ts}
		n.Props["model"] = graph.Prop{Value: g.models[uint64(j)%uint64(len(g.models))], TS: ts}
	case 2:
		n.Props["name"] = graph.Prop{Value: g.names[j], TS: ts}
		n.Props["genre"] = graph.Prop{Value: genres[uint64(j)%uint64(len(genres))], TS: ts}
		n.Props["kind"] = graph.Prop{Value: kinds[uint64(j)%uint64(len(kinds))], TS: ts}
		n.Props["year"] = graph.Prop{Value: int64(1950 + j%76), TS: ts}
	}
}

// fillEdge makes edge i as of event time ts. Edge j of a type joins
// from-node j mod F to to-node (j div F + off) mod T, off a hash of the
// from-node, which is injective for j < F*T: no two edges of a type share
// their ends, so every edge index is a distinct stored edge.
func (g *gen) fillEdge(e *graph.Edge, i int64, ts int64) {
	t := len(g.edgeBase) - 1
	for t > 0 && int(i) < g.edgeBase[t] {
		t--
	}
	et := edgeTypes[t]
	j := i - int64(g.edgeBase[t])
	from, to := g.ids[et.from], g.ids[et.to]
	f := j % int64(len(from))
	off := int64(mix(uint64(f)+g.c.Seed) % uint64(len(to)))
	tt := (j/int64(len(from)) + off) % int64(len(to))
	h := g.rand()
	e.EdgeRef = graph.EdgeRef{Type: et.name,
		From: graph.NodeRef{Type: nodeTypes[et.from].name, ID: from[f]},
		To:   graph.NodeRef{Type: nodeTypes[et.to].name, ID: to[tt]}}
	e.FirstSeen, e.LastSeen, e.UpdatedAt = ts, ts, ts+int64(h%50)
	e.Props = props(e.Props)
	switch t {
	case 0:
		devs := g.ids[1]
		e.Props["last_event"] = graph.Prop{Value: events[h>>8&1], TS: ts}
		e.Props["device"] = graph.Prop{Value: devs[(h>>9)%uint64(len(devs))], TS: ts}
		e.Props["position_ms"] = graph.Prop{Value: int64(h >> 20 % 7_200_000), TS: ts}
	case 2:
		e.Props["stars"] = graph.Prop{Value: int64(1 + h>>8%5), TS: ts}
		e.Props["score"] = graph.Prop{Value: float64(h>>12%1000) / 10, TS: ts}
	}
}

// perm is a bijection of [0, n): i -> (i*p + a) mod n with p coprime to n,
// which scatters consecutive indexes across the whole range.
type perm struct{ n, p, a int64 }

func newPerm(n int64, seed uint64) perm {
	p := int64(mix(seed+7)%uint64(n)) | 1
	for gcd(p, n) != 1 {
		p += 2
	}
	return perm{n: n, p: p % n, a: int64(mix(seed+11) % uint64(n))}
}

func (q perm) at(i int64) int64 {
	// A 128-bit product: i*p overflows 64 bits for large n.
	hi, lo := bits.Mul64(uint64(i), uint64(q.p))
	return int64((bits.Rem64(hi, lo, uint64(q.n)) + uint64(q.a)) % uint64(q.n))
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
