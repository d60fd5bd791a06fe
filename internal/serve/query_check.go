package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/spelling"
)

// Queries that say when they are probably wrong. A type the graph has never
// stored is valid syntax and matches nothing, so the answer to a misspelt
// filter is an empty result that looks like a true "no"; and a traversal
// from a node that does not exist would return that node alone, as if it
// were there. The handlers answer such queries with warnings (Warning in
// graph.proto) naming the known types, closest spellings first, or with
// strict set refuse them: InvalidArgument for a type, NotFound for a node.
//
// The type checks cost a map lookup per type the request names, against
// the store's in-memory set (graph.TypeLister). Whether a node exists is
// asked only of answers that look like it might not: an empty listing, a
// start node without a record of its own, no path.

// maxKnownTypes bounds Warning.known_types, and maxNamedTypes the known
// types a warning's message names.
const (
	maxKnownTypes = 100
	maxNamedTypes = 8
)

// checker collects one request's warnings.
type checker struct {
	known    *graph.KnownTypes // nil: the store does not list its types
	strict   bool
	warnings []*rdgv1.Warning
}

func (s *service) checker(strict bool) checker {
	c := checker{strict: strict}
	if s.types != nil {
		c.known = s.types.KnownTypes()
	}
	return c
}

// nodeType checks that t, found at field, is a known node type.
func (c *checker) nodeType(field, t string) error {
	if c.known == nil || c.known.Node(t) {
		return nil
	}
	return c.unknown(rdgv1.WarningKind_WARNING_KIND_UNKNOWN_NODE_TYPE, field, "node", t, c.known.NodeTypes())
}

// edgeType checks that t, found at field, is a known edge type.
func (c *checker) edgeType(field, t string) error {
	if c.known == nil || c.known.Edge(t) {
		return nil
	}
	return c.unknown(rdgv1.WarningKind_WARNING_KIND_UNKNOWN_EDGE_TYPE, field, "edge", t, c.known.EdgeTypes())
}

// The lists below build a field's path only for a type that is unknown:
// a valid query allocates nothing here.

func (c *checker) nodeTypes(field string, ts []string) error {
	for i, t := range ts {
		if c.known != nil && !c.known.Node(t) {
			if err := c.nodeType(index(field, i), t); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) edgeTypes(field string, ts []string) error {
	for i, t := range ts {
		if c.known != nil && !c.known.Edge(t) {
			if err := c.edgeType(index(field, i), t); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) refs(field string, rs []*rdgv1.NodeRef) error {
	for i, r := range rs {
		if c.known != nil && !c.known.Node(r.GetType()) {
			if err := c.nodeType(index(field, i)+".type", r.GetType()); err != nil {
				return err
			}
		}
	}
	return nil
}

// steps checks the types of traversal steps: edge and node type filters,
// and "@type" predicates that compare with a string.
func (c *checker) steps(field string, steps []*rdgv1.Step) error {
	if c.known == nil {
		return nil
	}
	for i, st := range steps {
		if c.stepOK(st) {
			continue
		}
		f := index(field, i)
		if err := c.edgeTypes(f+".edge_types", st.GetEdgeTypes()); err != nil {
			return err
		}
		if err := c.nodeTypes(f+".node_types", st.GetNodeTypes()); err != nil {
			return err
		}
		for j, p := range st.GetNodePredicates() {
			if t, ok := typePredicate(p); ok && !c.known.Node(t) {
				if err := c.nodeType(index(f+".node_predicates", j)+".value", t); err != nil {
					return err
				}
			}
		}
		for j, p := range st.GetEdgePredicates() {
			if t, ok := typePredicate(p); ok && !c.known.Edge(t) {
				if err := c.edgeType(index(f+".edge_predicates", j)+".value", t); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// stepOK reports whether every type st names is known.
func (c *checker) stepOK(st *rdgv1.Step) bool {
	for _, t := range st.GetEdgeTypes() {
		if !c.known.Edge(t) {
			return false
		}
	}
	for _, t := range st.GetNodeTypes() {
		if !c.known.Node(t) {
			return false
		}
	}
	for _, p := range st.GetNodePredicates() {
		if t, ok := typePredicate(p); ok && !c.known.Node(t) {
			return false
		}
	}
	for _, p := range st.GetEdgePredicates() {
		if t, ok := typePredicate(p); ok && !c.known.Edge(t) {
			return false
		}
	}
	return true
}

// typePredicate returns the type an "@type" equality names. Other
// comparisons of @type (ordering, !=) are left alone: an unknown bound or
// exclusion is not a mistake.
func typePredicate(p *rdgv1.Predicate) (string, bool) {
	if p.GetField() != "@type" || p.GetOp() != rdgv1.Op_OP_EQ {
		return "", false
	}
	v, ok := p.GetValue().GetKind().(*rdgv1.Value_StringValue)
	if !ok {
		return "", false
	}
	return v.StringValue, true
}

func (c *checker) unknown(kind rdgv1.WarningKind, field, what, t string, known []string) error {
	known = spelling.ByCloseness(t, known)
	if len(known) > maxKnownTypes {
		known = known[:maxKnownTypes]
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "%s type %q has never been stored; ", what, t)
	switch {
	case len(known) == 0:
		fmt.Fprintf(&msg, "the graph has no %s types yet", what)
	default:
		fmt.Fprintf(&msg, "known %s types: %s", what, strings.Join(known[:min(len(known), maxNamedTypes)], ", "))
		if n := len(known) - maxNamedTypes; n > 0 {
			fmt.Fprintf(&msg, " and %d more", n)
		}
	}
	if c.strict {
		return invalidArg(field, "%s", msg.String())
	}
	c.warnings = append(c.warnings, &rdgv1.Warning{
		Kind: kind, Field: field, Message: field + ": " + msg.String(), Type: t, KnownTypes: known,
	})
	return nil
}

// node checks that ref, the request's field, exists (graph.Exists), unless
// its type is unknown. role names it in the message: "start node", "node",
// "from node".
func (c *checker) node(ctx context.Context, r graph.Reader, field, role string, ref graph.NodeRef) error {
	if c.known != nil && !c.known.Node(ref.Type) {
		return nil // its type has had its warning
	}
	ok, err := graph.Exists(ctx, r, ref)
	if err != nil || ok {
		return err
	}
	msg := fmt.Sprintf("%s %s does not exist: it has no record and no edge refers to it", role, ref)
	if c.strict {
		return connect.NewError(connect.CodeNotFound, errors.New(msg))
	}
	c.warnings = append(c.warnings, &rdgv1.Warning{
		Kind: rdgv1.WarningKind_WARNING_KIND_NODE_NOT_FOUND, Field: field, Message: msg, Node: nodeRefToProto(ref),
	})
	return nil
}

// bare reports whether n came back without a record of its own: a start
// node that may not exist.
func bare(n *graph.Node) bool {
	return n.FirstSeen == 0 && n.LastSeen == 0 && n.UpdatedAt == 0 && len(n.Props) == 0 && n.Raw == nil
}
