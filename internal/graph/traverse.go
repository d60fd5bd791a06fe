package graph

import (
	"context"
	"errors"
)

// Step is one hop of a traversal.
type Step struct {
	Direction Direction
	// EdgeTypes restricts the hop to these edge types; empty means all.
	EdgeTypes []string
	// Filter narrows the hop further: far node types, the edge's time
	// range, predicates on the edge and on the far node.
	Filter
}

// TraverseMode says what a traversal returns.
type TraverseMode int8

const (
	// ModeSubgraph returns every node reached and every edge followed.
	ModeSubgraph TraverseMode = iota
	// ModePaths returns one path per node first reached by the last hop.
	ModePaths
)

// TraverseRequest describes a breadth-first traversal.
type TraverseRequest struct {
	Start []NodeRef
	// Steps gives the hop i its direction, edge types and filters. A
	// traversal deeper than len(Steps) repeats the last step; no steps
	// means every edge in both directions.
	Steps []Step
	// Depth is the number of hops; 0 means len(Steps) (at least 1).
	Depth int
	// MaxNodes and MaxEdges bound a ModeSubgraph result; 0 means
	// Limits.MaxResults for nodes and no bound for edges. Reaching either
	// stops the traversal and marks the result partial (LimitResults,
	// LimitEdges). ModePaths ignores them: Limits.MaxResults bounds its
	// paths.
	MaxNodes int
	MaxEdges int
	Mode     TraverseMode
	Limits   Limits
	// RawProps asks for properties left in the store's encoding, for a
	// caller that only passes them on: in ModeSubgraph, with no property
	// predicates in Steps and a Reader session that offers it
	// (RawPropsReader), the answer's nodes and edges carry Raw instead of
	// Props and Subgraph.DecodeProps is set. Otherwise it changes nothing.
	RawProps bool
}

// Subgraph is the result of a traversal. In ModeSubgraph: every node
// reached (each once, in breadth-first order, with the hop at which it was
// first reached) and every edge followed (each once). In ModePaths: Paths.
type Subgraph struct {
	Nodes  []Node
	Depths []int
	Edges  []Edge
	Paths  []Path
	// DecodeProps reads the nodes' and edges' Raw when the request asked
	// for RawProps and got them; nil otherwise (Props are set).
	DecodeProps PropsDecoder
	// Truncated is Outcome.Partial, kept for older callers.
	Truncated bool
	Outcome
}

// ErrNoStart is returned by Traverse when the request names no start node.
var ErrNoStart = errors.New("traverse: no start node")

// Hops is the number of hops req takes: Depth, or when it is 0,
// len(Steps) (at least 1).
func (req *TraverseRequest) Hops() int {
	if req.Depth <= 0 {
		return max(len(req.Steps), 1)
	}
	return req.Depth
}

// Traverse walks r breadth first from req.Start. Start nodes are part of
// the result at depth 0 whether or not they are stored; a node that is
// referenced by an edge but has no stored record of its own is returned with
// only its identity.
//
// Every node is visited once (the visited set is shared by all start nodes
// and hops): a node already reached is not expanded again, though an edge
// leading back to it is still part of a ModeSubgraph result.
//
// Traverse honours req.Limits: it stops at the first limit reached and
// returns what it has with Outcome.Partial set. It fails only if the store
// fails or ctx is canceled; a ctx deadline is a limit like the others.
func Traverse(ctx context.Context, src Reader, req TraverseRequest) (*Subgraph, error) {
	if len(req.Start) == 0 {
		return nil, ErrNoStart
	}
	depth := req.Hops()
	r, err := src.ReadSession(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var decode PropsDecoder
	if rr, ok := r.(RawPropsReader); ok && req.RawProps && req.Mode == ModeSubgraph && !readsProps(req.Steps) {
		decode = rr.ReadRawProps()
	}
	w := &walker{
		r:     r,
		b:     newBudget(ctx, req.Limits),
		req:   &req,
		paths: req.Mode == ModePaths,
		idx:   make(map[NodeRef]int32, sizeHint(req.MaxNodes, req.Limits.MaxResults)),
	}
	w.maxNodes = req.MaxNodes
	if w.maxNodes == 0 {
		w.maxNodes = req.Limits.MaxResults
	}
	if !w.paths {
		w.seenEdge = make(map[edgeKey]struct{}, sizeHint(req.MaxEdges, w.maxNodes))
	}
	err = w.run(depth)
	if err == nil {
		err = w.b.err
	}
	if err != nil {
		return nil, err
	}
	out := &Subgraph{Outcome: w.b.outcome(), DecodeProps: decode}
	out.Truncated = out.Partial
	if w.paths {
		out.Paths = w.buildPaths(depth)
	} else {
		out.Nodes, out.Depths, out.Edges = w.nodes, w.depths, w.edges
	}
	return out, nil
}

// readsProps reports whether a traversal over steps looks at properties.
func readsProps(steps []Step) bool {
	for i := range steps {
		if len(steps[i].EdgePredicates) > 0 || len(steps[i].NodePredicates) > 0 {
			return true
		}
	}
	return false
}

// sizeHint is the initial size of a traversal's visited sets: large
// traversals are the common case and grow them several times from empty,
// small ones pay for a few kilobytes.
func sizeHint(limits ...int) int {
	for _, l := range limits {
		if l > 0 {
			return min(l, 128)
		}
	}
	return 128
}

// edgeKey identifies an edge of a traversal by the visited-set indexes of
// its ends: cheaper to hash and store than its EdgeRef's five strings.
type edgeKey struct {
	typ      string
	from, to int32
}

type walker struct {
	r        Reads
	b        *budget
	req      *TraverseRequest
	paths    bool
	maxNodes int

	idx    map[NodeRef]int32 // visited set: index in nodes
	nodes  []Node
	depths []int

	// ModeSubgraph
	edges    []Edge
	seenEdge map[edgeKey]struct{}

	// ModePaths: how each node was first reached, and how many nodes the
	// last hop reached.
	parent  []int32
	via     []Edge
	reached int
}

func (w *walker) run(depth int) error {
	b := w.b
	var frontier []int32
	for _, s := range w.req.Start {
		if _, ok := w.idx[s]; ok {
			continue
		}
		if !w.paths && w.maxNodes > 0 && len(w.nodes) >= w.maxNodes {
			b.stop(LimitResults)
			return nil
		}
		n, ok, err := b.readNode(w.r, s)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		frontier = append(frontier, w.add(n, 0, -1, nil))
	}
	for hop := 0; hop < depth && len(frontier) > 0; hop++ {
		step := Step{Direction: Both}
		if len(w.req.Steps) > 0 {
			step = w.req.Steps[min(hop, len(w.req.Steps)-1)]
		}
		last := hop == depth-1
		var next []int32
		for _, fi := range frontier {
			from := w.nodes[fi].NodeRef
			var (
				fan     int
				walkErr error
			)
			visit := func(e *Edge, far NodeRef) bool {
				if w.req.Limits.MaxFanout > 0 && fan >= w.req.Limits.MaxFanout {
					b.fanout = true
					return false
				}
				fan++
				if !b.visit() || !step.edgeOK(e, far) {
					return !b.stopped()
				}
				ti, seen := w.idx[far]
				var farNode Node
				if seen {
					farNode = w.nodes[ti]
				} else {
					// Capacity first: a result that cannot take the node
					// must not read it.
					if !w.paths && w.maxNodes > 0 && len(w.nodes) >= w.maxNodes {
						b.stop(LimitResults)
						return false
					}
					if w.paths && last && w.req.Limits.MaxResults > 0 && w.reached >= w.req.Limits.MaxResults {
						b.stop(LimitResults)
						return false
					}
					var ok bool
					if farNode, ok, walkErr = b.readNode(w.r, far); !ok || walkErr != nil {
						return false
					}
				}
				if !step.nodeOK(&farNode) {
					return true
				}
				if !w.paths {
					if !seen {
						ti = int32(len(w.nodes)) // the index add gives it
					}
					k := edgeKey{typ: e.Type, from: fi, to: ti}
					if e.From != from {
						k.from, k.to = ti, fi
					}
					if _, dup := w.seenEdge[k]; !dup {
						if w.req.MaxEdges > 0 && len(w.edges) >= w.req.MaxEdges {
							b.stop(LimitEdges)
							return false
						}
						w.seenEdge[k] = struct{}{}
						w.edges = append(w.edges, keep(e))
					}
				}
				if !seen {
					i := w.add(farNode, hop+1, fi, e)
					if last {
						w.reached++
					} else {
						next = append(next, i)
					}
				}
				return true
			}
			err := EachEdge(b.ctx, w.r, from, step.Direction, step.EdgeTypes, visit)
			if err == nil {
				err = walkErr
			}
			if err = b.readError(err); err != nil {
				return err
			}
			if b.stopped() {
				return nil
			}
		}
		frontier = next
	}
	return nil
}

// add puts n in the visited set at depth d, reached from node index parent
// over edge e (both unset for start nodes), and returns its index.
func (w *walker) add(n Node, d int, parent int32, e *Edge) int32 {
	i := int32(len(w.nodes))
	w.idx[n.NodeRef] = i
	w.nodes = append(w.nodes, n)
	w.depths = append(w.depths, d)
	if w.paths {
		w.parent = append(w.parent, parent)
		if e != nil {
			w.via = append(w.via, keep(e))
		} else {
			w.via = append(w.via, Edge{})
		}
	}
	return i
}

// buildPaths returns the path to every node reached at depth, in the order
// they were reached.
func (w *walker) buildPaths(depth int) []Path {
	var out []Path
	for i := range w.nodes {
		if w.depths[i] != depth {
			continue
		}
		p := Path{Nodes: make([]Node, depth+1), Edges: make([]Edge, depth)}
		j := int32(i)
		for k := depth; k >= 0; k-- {
			p.Nodes[k] = w.nodes[j]
			if k > 0 {
				p.Edges[k-1] = w.via[j]
			}
			j = w.parent[j]
		}
		out = append(out, p)
	}
	return out
}

// EachEdge calls fn with every edge of ref in direction dir whose type is in
// types (all types if types is empty), together with the node at its other
// end, until fn returns false. With Both, out-edges come first. A self-loop
// followed in Both directions is reported once.
func EachEdge(ctx context.Context, r Reads, ref NodeRef, dir Direction, types []string, fn func(e *Edge, far NodeRef) bool) error {
	return eachListing(dir, types, func(d Direction, t string, stopped *bool) error {
		return r.Edges(ctx, ref, d, t, func(e *Edge) bool {
			far, ok := farEnd(&e.EdgeRef, dir, d)
			if ok && !fn(e, far) {
				*stopped = true
				return false
			}
			return true
		})
	})
}

// eachListing calls list for every (direction, edge type) listing that
// makes up the edges of a node in direction dir over types, out-edges
// first, until one fails or sets *stopped.
func eachListing(dir Direction, types []string, list func(d Direction, t string, stopped *bool) error) error {
	if dir == 0 {
		dir = Out
	}
	stopped := false
	walk := func(d Direction) error {
		if len(types) == 0 {
			return list(d, "", &stopped)
		}
		for _, t := range types {
			if err := list(d, t, &stopped); err != nil || stopped {
				return err
			}
		}
		return nil
	}
	if dir == Out || dir == Both {
		if err := walk(Out); err != nil || stopped {
			return err
		}
	}
	if dir == In || dir == Both {
		return walk(In)
	}
	return nil
}

// farEnd is the node at the other end of e, listed in direction d as part
// of a listing in direction dir; ok is false for a self-loop already
// reported as an out-edge of a Both listing.
func farEnd(e *EdgeRef, dir, d Direction) (far NodeRef, ok bool) {
	if d != In {
		return e.To, true
	}
	if dir == Both && e.From == e.To {
		return NodeRef{}, false
	}
	return e.From, true
}

// cloneEdge copies e so that a Reader may reuse the memory it passes to
// callbacks.
func cloneEdge(e *Edge) Edge {
	c := *e
	if e.Props != nil {
		c.Props = make(Props, len(e.Props))
		for k, v := range e.Props {
			c.Props[k] = v
		}
	}
	return c
}
