package graph

import (
	"slices"
)

// TypeLister is implemented by a Reader that knows every node and edge type
// it has stored, so that a query naming a type the graph has never seen can
// be told so instead of quietly matching nothing.
type TypeLister interface {
	// KnownTypes returns the types stored so far. It is called on every
	// query, so it must cost no more than reading a pointer; the result is
	// shared and must not be modified.
	KnownTypes() *KnownTypes
}

// KnownTypes is an immutable set of node types and edge types. The node
// types include the types of nodes that edges refer to without a record of
// their own. A type stays known after its last element expires or is
// deleted: it is a type the graph has seen, not one it holds now.
type KnownTypes struct {
	nodes, edges       map[string]struct{}
	nodeList, edgeList []string // sorted
}

// NewKnownTypes returns the set of the given types; repeats are dropped.
func NewKnownTypes(nodeTypes, edgeTypes []string) *KnownTypes {
	return (&KnownTypes{}).With(nodeTypes, edgeTypes)
}

// With returns a set of k's types and the given ones: k itself when it
// already has them all, otherwise a new set (k is not changed). k may be
// nil.
func (k *KnownTypes) With(nodeTypes, edgeTypes []string) *KnownTypes {
	if k == nil {
		k = &KnownTypes{}
	}
	newNode := slices.ContainsFunc(nodeTypes, func(t string) bool { return !k.Node(t) })
	newEdge := slices.ContainsFunc(edgeTypes, func(t string) bool { return !k.Edge(t) })
	if !newNode && !newEdge && k.nodes != nil {
		return k
	}
	out := &KnownTypes{nodes: k.nodes, edges: k.edges, nodeList: k.nodeList, edgeList: k.edgeList}
	if newNode || out.nodes == nil {
		out.nodes, out.nodeList = union(k.nodes, nodeTypes)
	}
	if newEdge || out.edges == nil {
		out.edges, out.edgeList = union(k.edges, edgeTypes)
	}
	return out
}

func union(set map[string]struct{}, add []string) (map[string]struct{}, []string) {
	out := make(map[string]struct{}, len(set)+len(add))
	for t := range set {
		out[t] = struct{}{}
	}
	for _, t := range add {
		out[t] = struct{}{}
	}
	list := make([]string, 0, len(out))
	for t := range out {
		list = append(list, t)
	}
	slices.Sort(list)
	return out, list
}

// Node reports whether t is a known node type.
func (k *KnownTypes) Node(t string) bool {
	if k == nil {
		return false
	}
	_, ok := k.nodes[t]
	return ok
}

// Edge reports whether t is a known edge type.
func (k *KnownTypes) Edge(t string) bool {
	if k == nil {
		return false
	}
	_, ok := k.edges[t]
	return ok
}

// NodeTypes returns the known node types, sorted. The slice is shared.
func (k *KnownTypes) NodeTypes() []string {
	if k == nil {
		return nil
	}
	return k.nodeList
}

// EdgeTypes returns the known edge types, sorted. The slice is shared.
func (k *KnownTypes) EdgeTypes() []string {
	if k == nil {
		return nil
	}
	return k.edgeList
}
