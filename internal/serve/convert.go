package serve

import (
	"fmt"
	"slices"
	"strconv"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/graph"
)

// This file is the only place that knows both the wire types and the graph
// types, so a change of either side is one edit here.

// invalidArg makes an InvalidArgument error whose message starts with the
// request field path (proto names, e.g. "steps[0].edge_types[2]"), because
// that path is what a client needs to find its mistake.
func invalidArg(field, format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %w", field, fmt.Errorf(format, args...)))
}

func index(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

func nodeRefFromProto(field string, r *rdgv1.NodeRef) (graph.NodeRef, error) {
	if r == nil {
		return graph.NodeRef{}, invalidArg(field, "required")
	}
	ref := graph.NodeRef{Type: r.GetType(), ID: r.GetId()}
	// Checked part by part so the error names type or id; Validate stays the
	// last word in case graph adds rules.
	if err := graph.ValidTypeName(ref.Type); err != nil {
		return graph.NodeRef{}, invalidArg(field+".type", "%v", err)
	}
	if ref.ID == "" {
		return graph.NodeRef{}, invalidArg(field+".id", "empty id")
	}
	if len(ref.ID) > graph.MaxIDLen {
		return graph.NodeRef{}, invalidArg(field+".id", "%d bytes, longer than any node id (at most %d)", len(ref.ID), graph.MaxIDLen)
	}
	if err := ref.Validate(); err != nil {
		return graph.NodeRef{}, invalidArg(field, "%v", err)
	}
	return ref, nil
}

func nodeRefsFromProto(field string, rs []*rdgv1.NodeRef) ([]graph.NodeRef, error) {
	refs := make([]graph.NodeRef, len(rs))
	for i, r := range rs {
		ref, err := nodeRefFromProto(index(field, i), r)
		if err != nil {
			return nil, err
		}
		refs[i] = ref
	}
	return refs, nil
}

func directionFromProto(field string, d rdgv1.Direction) (graph.Direction, error) {
	switch d {
	case rdgv1.Direction_DIRECTION_UNSPECIFIED, rdgv1.Direction_DIRECTION_OUT:
		return graph.Out, nil
	case rdgv1.Direction_DIRECTION_IN:
		return graph.In, nil
	case rdgv1.Direction_DIRECTION_BOTH:
		return graph.Both, nil
	}
	// Proto3 enums are open: a newer client may send a value this server
	// does not know, and guessing a direction would return a wrong answer.
	return 0, invalidArg(field, "unknown direction %d", int32(d))
}

// typesFromProto validates node or edge type names (syntax only: types
// are data, and a type nothing was written with simply matches nothing)
// and drops repeats, which would otherwise make graph.EachEdge read (and
// return) the same edges twice.
func typesFromProto(field string, types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(types))
	seen := make(map[string]struct{}, len(types))
	for i, t := range types {
		if err := graph.ValidTypeName(t); err != nil {
			return nil, invalidArg(index(field, i), "%v", err)
		}
		if _, ok := seen[t]; ok {
			continue
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	return out, nil
}

// timeRangeFromProto checks a since_ms/until_ms pair; prefix is the path
// of the message that holds them ("" or "steps[1].").
func timeRangeFromProto(prefix string, since, until int64) error {
	if since < 0 {
		return invalidArg(prefix+"since_ms", "%d is negative", since)
	}
	if until < 0 {
		return invalidArg(prefix+"until_ms", "%d is negative", until)
	}
	if since != 0 && until != 0 && since > until {
		return invalidArg(prefix+"since_ms", "%d is after until_ms %d", since, until)
	}
	return nil
}

func stepsFromProto(field string, steps []*rdgv1.Step) ([]graph.Step, error) {
	out := make([]graph.Step, len(steps))
	for i, s := range steps {
		f := index(field, i)
		if s == nil {
			return nil, invalidArg(f, "required")
		}
		dir, err := directionFromProto(f+".direction", s.GetDirection())
		if err != nil {
			return nil, err
		}
		types, err := typesFromProto(f+".edge_types", s.GetEdgeTypes())
		if err != nil {
			return nil, err
		}
		nodeTypes, err := typesFromProto(f+".node_types", s.GetNodeTypes())
		if err != nil {
			return nil, err
		}
		if err := timeRangeFromProto(f+".", s.GetSinceMs(), s.GetUntilMs()); err != nil {
			return nil, err
		}
		np, err := predicatesFromProto(f+".node_predicates", s.GetNodePredicates())
		if err != nil {
			return nil, err
		}
		ep, err := predicatesFromProto(f+".edge_predicates", s.GetEdgePredicates())
		if err != nil {
			return nil, err
		}
		out[i] = graph.Step{Direction: dir, EdgeTypes: types, Filter: graph.Filter{
			NodeTypes: nodeTypes, Since: s.GetSinceMs(), Until: s.GetUntilMs(),
			NodePredicates: np, EdgePredicates: ep,
		}}
	}
	return out, nil
}

// maxPredicates bounds the predicates of one step: each is evaluated for
// every edge the step examines.
const maxPredicates = 32

func predicatesFromProto(field string, ps []*rdgv1.Predicate) ([]graph.Predicate, error) {
	if len(ps) > maxPredicates {
		return nil, invalidArg(field, "%d predicates, more than %d", len(ps), maxPredicates)
	}
	var out []graph.Predicate
	for i, p := range ps {
		f := index(field, i)
		if p == nil {
			return nil, invalidArg(f, "required")
		}
		if p.GetField() == "" {
			return nil, invalidArg(f+".field", "required")
		}
		var op graph.Op
		switch p.GetOp() {
		case rdgv1.Op_OP_EQ:
			op = graph.OpEq
		case rdgv1.Op_OP_NE:
			op = graph.OpNe
		case rdgv1.Op_OP_LT:
			op = graph.OpLt
		case rdgv1.Op_OP_LE:
			op = graph.OpLe
		case rdgv1.Op_OP_GT:
			op = graph.OpGt
		case rdgv1.Op_OP_GE:
			op = graph.OpGe
		case rdgv1.Op_OP_UNSPECIFIED:
			// A predicate's comparison is the whole of its meaning: a
			// client that left it out (or misspelt its name) has not said
			// which one it means.
			return nil, invalidArg(f+".op", "required: OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT or OP_GE")
		default:
			return nil, invalidArg(f+".op", "unknown operator %d", int32(p.GetOp()))
		}
		pr := graph.Predicate{Field: p.GetField(), Op: op, Value: valueFromProto(p.GetValue())}
		if err := pr.Validate(); err != nil {
			return nil, invalidArg(f+".field", "%v", err)
		}
		out = append(out, pr)
	}
	return out, nil
}

func valueFromProto(v *rdgv1.Value) any {
	switch k := v.GetKind().(type) {
	case *rdgv1.Value_StringValue:
		return k.StringValue
	case *rdgv1.Value_IntValue:
		return k.IntValue
	case *rdgv1.Value_DoubleValue:
		return k.DoubleValue
	case *rdgv1.Value_BoolValue:
		return k.BoolValue
	}
	return nil
}

func nodeRefToProto(r graph.NodeRef) *rdgv1.NodeRef {
	return &rdgv1.NodeRef{Type: r.Type, Id: r.ID}
}

// protoAlloc allocates the messages of one response in chunks: a
// traversal's answer holds thousands of nodes and edges, and allocating
// every message, value and oneof wrapper on its own cost about as much as
// the engine's work. Messages from a chunk live as long as the response.
// The zero value is ready to use.
type protoAlloc struct {
	nodes  chunks[rdgv1.Node]
	edges  chunks[rdgv1.Edge]
	refs   chunks[rdgv1.NodeRef]
	values chunks[rdgv1.Value]
	strs   chunks[rdgv1.Value_StringValue]
	ints   chunks[rdgv1.Value_IntValue]
	floats chunks[rdgv1.Value_DoubleValue]
	bools  chunks[rdgv1.Value_BoolValue]
}

// chunks hands out pointers to zero values from slices it never grows in
// place, so the pointers stay valid.
type chunks[T any] struct{ buf []T }

func (c *chunks[T]) new() *T {
	if len(c.buf) == cap(c.buf) {
		c.buf = make([]T, 0, min(max(2*cap(c.buf), 16), 1024))
	}
	c.buf = c.buf[:len(c.buf)+1]
	return &c.buf[len(c.buf)-1]
}

func (a *protoAlloc) nodeRef(r graph.NodeRef) *rdgv1.NodeRef {
	m := a.refs.new()
	m.Type, m.Id = r.Type, r.ID
	return m
}

func (a *protoAlloc) node(n *graph.Node) *rdgv1.Node {
	m := a.nodes.new()
	m.Type, m.Id = n.Type, n.ID
	m.Props = a.props(n.Props)
	m.FirstSeenMs, m.LastSeenMs, m.UpdatedAtMs = n.FirstSeen, n.LastSeen, n.UpdatedAt
	return m
}

func (a *protoAlloc) path(p *graph.Path) *rdgv1.Path {
	return &rdgv1.Path{Nodes: a.nodeList(p.Nodes), Edges: a.edgeList(p.Edges)}
}

func (a *protoAlloc) nodeList(ns []graph.Node) []*rdgv1.Node {
	out := make([]*rdgv1.Node, len(ns))
	for i := range ns {
		out[i] = a.node(&ns[i])
	}
	return out
}

func (a *protoAlloc) edge(e *graph.Edge) *rdgv1.Edge {
	m := a.edges.new()
	m.Type = e.Type
	m.From, m.To = a.nodeRef(e.From), a.nodeRef(e.To)
	m.Props = a.props(e.Props)
	m.FirstSeenMs, m.LastSeenMs, m.UpdatedAtMs = e.FirstSeen, e.LastSeen, e.UpdatedAt
	return m
}

func (a *protoAlloc) edgeList(es []graph.Edge) []*rdgv1.Edge {
	out := make([]*rdgv1.Edge, len(es))
	for i := range es {
		out[i] = a.edge(&es[i])
	}
	return out
}

// props drops the per-property event times: they exist for merging, and
// the API promises only the winning value.
func (a *protoAlloc) props(ps graph.Props) map[string]*rdgv1.Value {
	if len(ps) == 0 {
		return nil
	}
	out := make(map[string]*rdgv1.Value, len(ps))
	for k, p := range ps {
		out[k] = a.value(p.Value)
	}
	return out
}

func (a *protoAlloc) value(v any) *rdgv1.Value {
	m := a.values.new()
	switch x := v.(type) {
	case nil:
	case string:
		k := a.strs.new()
		k.StringValue = x
		m.Kind = k
	case int64:
		k := a.ints.new()
		k.IntValue = x
		m.Kind = k
	case float64:
		k := a.floats.new()
		k.DoubleValue = x
		m.Kind = k
	case bool:
		k := a.bools.new()
		k.BoolValue = x
		m.Kind = k
	default:
		// graph.NormalizeValue keeps other kinds out of the store; if one
		// gets through anyway, showing it as text beats failing the whole
		// query.
		if n, err := graph.NormalizeValue(v); err == nil {
			return a.value(n)
		}
		k := a.strs.new()
		k.StringValue = fmt.Sprint(v)
		m.Kind = k
	}
	return m
}

// statsToProto renders st sorted by type name, keeping k top nodes for each
// node type in nodeTypes (every node type if empty).
func statsToProto(st *graph.Stats, k int, nodeTypes []string) *rdgv1.StatsResponse {
	out := &rdgv1.StatsResponse{ComputedAtMs: st.ComputedAt.UnixMilli()}
	for _, t := range sortedKeys(st.Nodes) {
		out.NodeTypes = append(out.NodeTypes, &rdgv1.TypeCount{Type: t, Count: st.Nodes[t]})
	}
	for _, t := range sortedKeys(st.Edges) {
		out.EdgeTypes = append(out.EdgeTypes, &rdgv1.TypeCount{Type: t, Count: st.Edges[t]})
	}
	for _, t := range sortedKeys(st.TopDegree) {
		if len(nodeTypes) > 0 && !slices.Contains(nodeTypes, t) {
			continue
		}
		td := &rdgv1.TopDegree{NodeType: t}
		for _, d := range st.TopDegree[t][:min(k, len(st.TopDegree[t]))] {
			td.Nodes = append(td.Nodes, &rdgv1.NodeDegree{
				Node: nodeRefToProto(d.Node), Degree: d.Degree(), OutDegree: d.Out, InDegree: d.In,
			})
		}
		out.TopDegree = append(out.TopDegree, td)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
