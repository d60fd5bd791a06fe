package graph

import (
	"strings"
	"time"
)

// Stats describes a stored graph: live (stored and not expired) nodes and
// edges per type, and the highest-degree nodes of each node type.
type Stats struct {
	Nodes map[string]int64
	Edges map[string]int64
	// TopDegree lists, per node type, the nodes with the most live edges
	// (in and out, every type), most first, ties by id. A node that edges
	// refer to without a record of its own counts too.
	TopDegree  map[string][]NodeDegree
	ComputedAt time.Time
}

// NodeDegree is a node and the number of its edges.
type NodeDegree struct {
	Node    NodeRef
	Out, In int64
}

// Degree is Out + In.
func (d NodeDegree) Degree() int64 { return d.Out + d.In }

// DegreeLess orders NodeDegrees most-edges first, ties by type and id: the
// order of Stats.TopDegree.
func DegreeLess(a, b NodeDegree) bool {
	if da, db := a.Degree(), b.Degree(); da != db {
		return da > db
	}
	if c := strings.Compare(a.Node.Type, b.Node.Type); c != 0 {
		return c < 0
	}
	return a.Node.ID < b.Node.ID
}

// TopK keeps the k largest NodeDegrees by DegreeLess in a bounded heap.
type TopK struct {
	k int
	h []NodeDegree // min-heap: h[0] is the one to evict first
}

// NewTopK returns a TopK that keeps k items.
func NewTopK(k int) *TopK { return &TopK{k: k} }

// Offer adds d if it is among the k largest so far.
func (t *TopK) Offer(d NodeDegree) {
	if t.k <= 0 {
		return
	}
	if len(t.h) < t.k {
		t.h = append(t.h, d)
		t.up(len(t.h) - 1)
		return
	}
	if !DegreeLess(d, t.h[0]) {
		return
	}
	t.h[0] = d
	t.down(0)
}

// Accepts reports whether an item of this degree might be kept: false
// only when it certainly would not, so that a caller can skip building it.
func (t *TopK) Accepts(degree int64) bool {
	return t.k > 0 && (len(t.h) < t.k || degree >= t.h[0].Degree())
}

// Sorted returns the kept items, most first.
func (t *TopK) Sorted() []NodeDegree {
	out := append([]NodeDegree(nil), t.h...)
	// Insertion sort: k is small.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && DegreeLess(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// worse reports whether h[i] should be evicted before h[j].
func (t *TopK) worse(i, j int) bool { return DegreeLess(t.h[j], t.h[i]) }

func (t *TopK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.worse(i, p) {
			return
		}
		t.h[i], t.h[p] = t.h[p], t.h[i]
		i = p
	}
}

func (t *TopK) down(i int) {
	for {
		l, m := 2*i+1, i
		if l < len(t.h) && t.worse(l, m) {
			m = l
		}
		if r := l + 1; r < len(t.h) && t.worse(r, m) {
			m = r
		}
		if m == i {
			return
		}
		t.h[i], t.h[m] = t.h[m], t.h[i]
		i = m
	}
}
