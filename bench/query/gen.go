package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/rdgraph/rdg/internal/graph"
)

// The generated graph (spec.edges explains the choices):
//
//	account ─watched→ title     per account 1+Zipf(2.2, 2) titles, by popularity
//	account ─uses→    device    per account 1+Zipf(2.5, 1) devices, 80% uniform, 20% by popularity
//	device  ─streamed→ title    per device 1+Zipf(2.5, 2) titles, by popularity
//
// Title popularity is Zipf(1.1, 20) over the titles (the most popular one
// has about 1% of all watches); device popularity Zipf(1.2, 5) over the
// devices (shared TVs). So out-degrees of accounts and devices and
// in-degrees of titles and devices all have power-law tails, and a title
// can have tens of thousands of edges while most nodes have a handful.
//
// Everything is a function of (seed, node index): node i's properties and
// out-edges come from a PCG seeded with (seed, i), so the same graph comes
// out whatever order it is generated in, in as many processes as need it.

// Node types, in the order of their names: node index order is then the
// order rdg's keys sort far nodes in (type name, then zero-padded id), and
// PostgreSQL's surrogate keys, which are the node indexes, sort the same way.
const (
	kindAccount = iota
	kindDevice
	kindTitle
)

var nodeTypes = [...]string{"account", "device", "title"}
var idPrefix = [...]byte{'a', 'd', 't'}

// Edge types, numbered in the order of their names for the same reason.
const (
	edgeStreamed = iota + 1
	edgeUses
	edgeWatched
)

var edgeTypes = [...]string{edgeStreamed: "streamed", edgeUses: "uses", edgeWatched: "watched"}

// Two properties per edge type: an integer and a bool.
var edgeProps = [...][2]string{edgeStreamed: {"count", "hd"}, edgeUses: {"sessions", "primary"}, edgeWatched: {"seconds", "completed"}}

// baseTS is the generated graph's "now" (2026-01-01 UTC): a fixed time, so
// that two runs store identical bytes.
const baseTS int64 = 1_767_225_600_000

const dayMs = 86_400_000

// spec is the graph's shape; it determines the graph completely.
type spec struct {
	Accounts int    `json:"accounts"`
	Devices  int    `json:"devices"`
	Titles   int    `json:"titles"`
	Seed     uint64 `json:"seed"`
}

func (s spec) validate() error {
	if s.Accounts < 1 || s.Devices < 1 || s.Titles < 1 {
		return fmt.Errorf("graph: want at least one node of each type, got %d accounts, %d devices, %d titles", s.Accounts, s.Devices, s.Titles)
	}
	if s.Accounts >= 1e8 || s.Devices >= 1e8 || s.Titles >= 1e8 {
		return fmt.Errorf("graph: at most 99,999,999 nodes per type (ids are 8 digits)")
	}
	return nil
}

func (s spec) nodes() int { return s.Accounts + s.Devices + s.Titles }

// kind returns the type and the index within its type of node i.
func (s spec) kind(i int) (kind, n int) {
	switch {
	case i < s.Accounts:
		return kindAccount, i
	case i < s.Accounts+s.Devices:
		return kindDevice, i - s.Accounts
	}
	return kindTitle, i - s.Accounts - s.Devices
}

// id is node i's id: a type letter and eight digits.
func (s spec) id(i int) string {
	k, n := s.kind(i)
	var b [16]byte
	out := append(b[:0], idPrefix[k])
	d := strconv.AppendInt(b[8:8], int64(n), 10)
	for range 8 - len(d) {
		out = append(out, '0')
	}
	return string(append(out, d...))
}

func (s spec) ref(i int) graph.NodeRef {
	k, _ := s.kind(i)
	return graph.NodeRef{Type: nodeTypes[k], ID: s.id(i)}
}

// genNode is a node's generated content: its index, times and three
// properties (two strings, one integer) whose names depend on its type.
type genNode struct {
	i                          int
	firstSeen, lastSeen        int64
	str1, str2                 string
	num                        int64
	name1, name2, numName, typ string
}

// genEdge is an edge's generated content: two node indexes, a type, times
// and its two properties.
type genEdge struct {
	typ                 int
	from, to            int
	firstSeen, lastSeen int64
	num                 int64
	flag                bool
}

var (
	countries = []string{"US", "BR", "GB", "DE", "FR", "NL", "IN", "JP", "KR", "MX", "CA", "ES"}
	plans     = []string{"basic", "standard", "premium"}
	platforms = []string{"tv", "ios", "android", "web", "console"}
	genres    = []string{"drama", "comedy", "documentary", "action", "kids", "thriller", "anime"}
	formats   = []string{"film", "series", "special"}
)

// generator produces the content of node i and its out-edges. It is not
// safe for concurrent use; make one per goroutine.
type generator struct {
	s       spec
	src     *rand.PCG
	rng     *rand.Rand
	titles  *rand.Zipf // title popularity
	devices *rand.Zipf // device popularity
	watched *rand.Zipf // titles per account, minus one
	uses    *rand.Zipf // devices per account, minus one
	streams *rand.Zipf // titles per device, minus one
	picked  []int
}

func newGenerator(s spec) *generator {
	src := rand.NewPCG(0, 0)
	rng := rand.New(src)
	return &generator{
		s: s, src: src, rng: rng,
		titles:  rand.NewZipf(rng, 1.1, 20, uint64(s.Titles-1)),
		devices: rand.NewZipf(rng, 1.2, 5, uint64(s.Devices-1)),
		watched: rand.NewZipf(rng, 2.2, 2, uint64(min(2000, s.Titles-1))),
		uses:    rand.NewZipf(rng, 2.5, 1, uint64(min(50, s.Devices-1))),
		streams: rand.NewZipf(rng, 2.5, 2, uint64(min(500, s.Titles-1))),
	}
}

// seed makes the following draws a function of (spec seed, i, stream).
func (g *generator) seed(i int, stream uint64) {
	g.src.Seed(g.s.Seed, uint64(i)<<2|stream)
}

// node returns node i's content.
func (g *generator) node(i int) genNode {
	g.seed(i, 0)
	r := g.rng
	last := baseTS - r.Int64N(90*dayMs)
	n := genNode{i: i, lastSeen: last, firstSeen: last - r.Int64N(365*dayMs)}
	k, _ := g.s.kind(i)
	n.typ = nodeTypes[k]
	switch k {
	case kindAccount:
		n.name1, n.str1 = "country", countries[r.IntN(len(countries))]
		n.name2, n.str2 = "plan", plans[r.IntN(len(plans))]
		n.numName, n.num = "profiles", 1+r.Int64N(5)
	case kindDevice:
		n.name1, n.str1 = "platform", platforms[r.IntN(len(platforms))]
		n.name2, n.str2 = "country", countries[r.IntN(len(countries))]
		n.numName, n.num = "app_version", 1000+r.Int64N(200)
	default:
		n.name1, n.str1 = "genre", genres[r.IntN(len(genres))]
		n.name2, n.str2 = "format", formats[r.IntN(len(formats))]
		n.numName, n.num = "year", 1950+r.Int64N(76)
	}
	return n
}

// edges calls fn with each out-edge of node i, in a fixed order; e is
// reused between calls.
func (g *generator) edges(i int, fn func(e *genEdge)) {
	k, _ := g.s.kind(i)
	if k == kindTitle {
		return // titles have no out-edges
	}
	g.seed(i, 1)
	r := g.rng
	var e genEdge
	e.from = i
	emit := func(typ, to int) {
		e.typ, e.to = typ, to
		e.lastSeen = baseTS - r.Int64N(90*dayMs)
		e.firstSeen = e.lastSeen - r.Int64N(365*dayMs)
		e.num = r.Int64N(10_000)
		e.flag = r.IntN(2) == 0
		fn(&e)
	}
	firstDevice := g.s.Accounts
	firstTitle := g.s.Accounts + g.s.Devices
	if k == kindAccount {
		for _, t := range g.pick(int(1+g.watched.Uint64()), func() int { return int(g.titles.Uint64()) }) {
			emit(edgeWatched, firstTitle+t)
		}
		for _, d := range g.pick(int(1+g.uses.Uint64()), func() int {
			if r.IntN(5) == 0 {
				return int(g.devices.Uint64())
			}
			return r.IntN(g.s.Devices)
		}) {
			emit(edgeUses, firstDevice+d)
		}
		return
	}
	for _, t := range g.pick(int(1+g.streams.Uint64()), func() int { return int(g.titles.Uint64()) }) {
		emit(edgeStreamed, firstTitle+t)
	}
}

// pick draws n distinct values (a repeat would merge into the same edge),
// giving up on a value after a few repeats so that n near the population
// size cannot loop for long.
func (g *generator) pick(n int, draw func() int) []int {
	g.picked = g.picked[:0]
	seen := map[int]bool(nil)
	if n > 32 {
		seen = make(map[int]bool, n)
	}
	for added, tries := 0, 0; added < n && tries < 4*n; tries++ {
		v := draw()
		dup := false
		if seen != nil {
			dup = seen[v]
			seen[v] = true
		} else {
			for _, p := range g.picked {
				if p == v {
					dup = true
					break
				}
			}
		}
		if !dup {
			g.picked = append(g.picked, v)
			added++
		}
	}
	return g.picked
}
