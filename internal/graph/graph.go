// Package graph is rdg's data model: nodes and edges identified by type and
// id, their merge rules, and the small interfaces that sit between the parts
// that produce graph elements (jobs, the graph writer) and the parts that
// store and serve them.
//
// graph owns the semantics every other package relies on: what identifies an
// element, how two updates of the same element combine, when an element
// expires (TTL), and how the relationship queries — neighbours with paging,
// traversals, shortest paths, connected groups — walk a store within their
// limits (Limits, Outcome). It must not know about Kafka, Avro, Pebble, protobuf or any
// other package of rdg; everything else depends on it, never the reverse.
package graph

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// NodeRef identifies a node: its type and its id within that type.
type NodeRef struct {
	Type string
	ID   string
}

func (r NodeRef) String() string { return r.Type + ":" + r.ID }

// ParseNodeRef parses "type:id", the form NodeRef.String prints. The id may
// itself contain colons; the type may not (see ValidTypeName).
func ParseNodeRef(s string) (NodeRef, error) {
	t, id, ok := strings.Cut(s, ":")
	if !ok {
		return NodeRef{}, fmt.Errorf("node %q: want type:id", s)
	}
	r := NodeRef{Type: t, ID: id}
	return r, r.Validate()
}

// Validate reports whether r can be stored: a valid type name and a non-empty id.
func (r NodeRef) Validate() error {
	if err := ValidTypeName(r.Type); err != nil {
		return err
	}
	if r.ID == "" {
		return fmt.Errorf("node of type %q: empty id", r.Type)
	}
	return nil
}

// EdgeRef identifies an edge: its type and the nodes it joins. An edge
// between the same two nodes with the same type is the same edge however
// many events produce it.
type EdgeRef struct {
	Type string
	From NodeRef
	To   NodeRef
}

func (r EdgeRef) String() string {
	return r.From.String() + " -" + r.Type + "-> " + r.To.String()
}

// Validate reports whether r can be stored.
func (r EdgeRef) Validate() error {
	if err := ValidTypeName(r.Type); err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	if err := r.From.Validate(); err != nil {
		return fmt.Errorf("edge %s from: %w", r.Type, err)
	}
	if err := r.To.Validate(); err != nil {
		return fmt.Errorf("edge %s to: %w", r.Type, err)
	}
	return nil
}

// MaxTypeName bounds type names so that they fit in topic names and keys.
const MaxTypeName = 100

// MaxIDLen bounds node ids: a longer id is a mapping mistake (a whole
// payload used as an id), not an identity. Jobs refuse to map one, so a
// query for one names no node.
const MaxIDLen = 4096

// ValidTypeName reports whether s may name a node or edge type. Types become
// part of topic names (rdg.node.<type>), so they are restricted to lower-case
// letters, digits and underscores, starting with a letter.
func ValidTypeName(s string) error {
	if s == "" {
		return errors.New("empty type name")
	}
	if len(s) > MaxTypeName {
		return fmt.Errorf("type name %q longer than %d bytes", s, MaxTypeName)
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return fmt.Errorf("type name %q: want lower-case letters, digits and _ , starting with a letter", s)
		}
	}
	return nil
}

// Prop is one property value together with the event time (unix
// milliseconds) of the update that wrote it. Value is one of string, int64,
// float64 or bool; nil means the property was written as null.
type Prop struct {
	Value any
	TS    int64
}

// Props maps property names to values.
type Props map[string]Prop

// NamedProp is a property with its name. A slice of them sorted by name,
// names unique, is the form of Props that hot paths keep: a mapped
// element's handful of properties, merged by walking two sorted lists
// instead of probing a map per name.
type NamedProp struct {
	Name string
	Prop
}

// MergeNamedProps folds src into dst with the rules of MergeProps; both are
// sorted by name with unique names, and so is the result, which reuses
// dst's memory when it can.
func MergeNamedProps(dst, src []NamedProp) []NamedProp {
	if len(src) == 0 {
		return dst
	}
	if len(dst) == len(src) {
		same := true
		for i := range src {
			if dst[i].Name != src[i].Name {
				same = false
				break
			}
		}
		if same {
			// The common case: updates of one element carry the same names.
			for i := range src {
				if PropWins(src[i].Prop, dst[i].Prop) {
					dst[i].Prop = src[i].Prop
				}
			}
			return dst
		}
	}
	// Merge backwards into dst grown to the size of the union, so that no
	// element is overwritten before it is read.
	n := len(dst)
	for i, j := 0, 0; j < len(src); {
		switch {
		case i == len(dst) || src[j].Name < dst[i].Name:
			n++
			j++
		case src[j].Name == dst[i].Name:
			i++
			j++
		default:
			i++
		}
	}
	i, j := len(dst)-1, len(src)-1
	dst = slices.Grow(dst, n-len(dst))[:n]
	for k := n - 1; j >= 0; k-- {
		switch {
		case i < 0 || src[j].Name > dst[i].Name:
			dst[k] = src[j]
			j--
		case src[j].Name == dst[i].Name:
			dst[k] = dst[i]
			if PropWins(src[j].Prop, dst[i].Prop) {
				dst[k].Prop = src[j].Prop
			}
			i--
			j--
		default:
			dst[k] = dst[i]
			i--
		}
	}
	return dst
}

// Node is a vertex of the graph. Times are unix milliseconds: FirstSeen and
// LastSeen are event times, UpdatedAt is the processing time of the last
// update that reached the store or topic.
type Node struct {
	NodeRef
	Props Props
	// Raw, in the answer of a traversal that asked for it
	// (TraverseRequest.RawProps), holds the properties in the store's
	// encoding instead of Props; Subgraph.DecodeProps reads them.
	Raw       []byte
	FirstSeen int64
	LastSeen  int64
	UpdatedAt int64
}

// Edge is a typed relationship from one node to another.
type Edge struct {
	EdgeRef
	Props Props
	// Raw is as Node's.
	Raw       []byte
	FirstSeen int64
	LastSeen  int64
	UpdatedAt int64
}

// PropsDecoder calls fn with each property encoded in raw (a Node's or
// Edge's Raw), in name order, until fn returns false. The strings it
// passes may share raw's memory.
type PropsDecoder func(raw []byte, fn func(name string, p Prop) bool) error

// Merge folds o into n. Merge is the join of a semilattice — commutative,
// associative and idempotent — so duplicates, replays and any delivery order
// converge to the same node: FirstSeen is the minimum, LastSeen and
// UpdatedAt the maximum, and each property the value with the latest event
// time (ties broken by CompareValues). Merging nodes of different identity
// is a programming error; the identity of n is kept.
func (n *Node) Merge(o *Node) {
	n.FirstSeen, n.LastSeen, n.UpdatedAt = mergeTimes(n.FirstSeen, n.LastSeen, n.UpdatedAt, o.FirstSeen, o.LastSeen, o.UpdatedAt)
	n.Props = MergeProps(n.Props, o.Props)
}

// Merge folds o into e with the same rules as Node.Merge.
func (e *Edge) Merge(o *Edge) {
	e.FirstSeen, e.LastSeen, e.UpdatedAt = mergeTimes(e.FirstSeen, e.LastSeen, e.UpdatedAt, o.FirstSeen, o.LastSeen, o.UpdatedAt)
	e.Props = MergeProps(e.Props, o.Props)
}

func mergeTimes(f1, l1, u1, f2, l2, u2 int64) (f, l, u int64) {
	return min(f1, f2), max(l1, l2), max(u1, u2)
}

// MergeProps folds src into dst (allocating dst if needed) and returns it.
func MergeProps(dst, src Props) Props {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(Props, len(src))
	}
	for k, p := range src {
		if cur, ok := dst[k]; !ok || PropWins(p, cur) {
			dst[k] = p
		}
	}
	return dst
}

// PropWins reports whether a should replace b under last-writer-wins: a later
// event time wins; on equal times the greater value by CompareValues wins, so
// every replica picks the same value whatever order it saw them in.
func PropWins(a, b Prop) bool {
	if a.TS != b.TS {
		return a.TS > b.TS
	}
	return CompareValues(a.Value, b.Value) > 0
}

// CompareValues orders property values totally: nil < bool < int64 <
// float64 < string, then by value within a kind (floats in IEEE 754
// totalOrder). It exists to break ties deterministically, not to compare
// numbers across kinds.
func CompareValues(a, b any) int {
	ka, kb := kindRank(a), kindRank(b)
	if ka != kb {
		return cmpInt(ka, kb)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case y:
			return -1
		default:
			return 1
		}
	case int64:
		return cmpInt(x, b.(int64))
	case float64:
		return cmpInt(floatOrder(x), floatOrder(b.(float64)))
	case string:
		return strings.Compare(x, b.(string))
	}
	return 0
}

// floatOrder maps a float to an integer in IEEE 754 totalOrder: -0 sorts
// below +0 and every NaN has its own place, so no two distinct values tie
// and every replica breaks ties the same way.
func floatOrder(f float64) int64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return -int64(b&^(1<<63)) - 1
	}
	return int64(b)
}

func kindRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64:
		return 2
	case float64:
		return 3
	case string:
		return 4
	}
	return 5
}

func cmpInt[T int | int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// NormalizeValue converts v to one of the property kinds (nil, string,
// int64, float64, bool). Integers of any width become int64, float32
// becomes float64; anything else is an error naming its Go type, so that a
// job's expression that yields a list or a map fails loudly.
func NormalizeValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, int64, float64, bool:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("integer %d overflows int64", x)
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("integer %d overflows int64", x)
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	}
	return nil, fmt.Errorf("property value of type %T: want string, integer, float, bool or null", v)
}
