package graph

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Limit names the guard that stopped (or, for LimitFanout, trimmed) a query.
type Limit int8

const (
	// LimitNone: no limit was reached; the result is complete.
	LimitNone Limit = iota
	// LimitResults: the result-size limit (nodes, neighbours, paths, group
	// members).
	LimitResults
	// LimitEdges: the traversal's edge-result limit.
	LimitEdges
	// LimitVisited: the number of elements examined.
	LimitVisited
	// LimitFanout: the edges examined from one node. It trims the
	// neighbourhood of that node rather than stopping the query.
	LimitFanout
	// LimitDeadline: the query's deadline.
	LimitDeadline
)

func (l Limit) String() string {
	switch l {
	case LimitNone:
		return "none"
	case LimitResults:
		return "max_results"
	case LimitEdges:
		return "max_edges"
	case LimitVisited:
		return "max_visited"
	case LimitFanout:
		return "max_fanout"
	case LimitDeadline:
		return "deadline"
	}
	return fmt.Sprintf("Limit(%d)", int8(l))
}

// Limits are the guards of one query. A zero field means no limit; the
// serving layer fills in its defaults and maxima before a query runs.
type Limits struct {
	// MaxVisited bounds the elements a query examines: every edge it reads
	// from the store and every node record it reads. It bounds the query's
	// memory as well as its time, since everything a query keeps was
	// visited first.
	MaxVisited int
	// MaxResults bounds the result; what a result item is depends on the
	// query (neighbours, paths, group members).
	MaxResults int
	// MaxFanout bounds the edges examined from any one node. Reaching it
	// skips the rest of that node's edges and marks the result partial,
	// but the query goes on.
	MaxFanout int
	// Deadline, if set, stops the query when it passes. Queries check it
	// every few dozen elements, so they stop within microseconds of it
	// (plus the time of one store read).
	Deadline time.Time
	// ReplyPerVisit moves Deadline earlier by this much for every element
	// visited, for a caller that must still encode and send what the
	// query keeps (everything it keeps, it visited) before the deadline:
	// the larger the result, the earlier the walk stops.
	ReplyPerVisit time.Duration
}

// Outcome is how a query ended.
type Outcome struct {
	// Partial is true when a limit cut the result short.
	Partial bool
	// LimitHit names that limit: the one that stopped the query, or
	// LimitFanout if the only limit reached was a node's fan-out.
	LimitHit Limit
	// Visited is the number of elements examined.
	Visited int
}

// clockEvery is how many visits pass between two looks at the clock and
// the context: often enough to stop within microseconds of a deadline,
// rarely enough that time.Now costs nothing measurable.
const clockEvery = 32

// budget counts what a query visits and decides when it must stop.
type budget struct {
	ctx     context.Context
	lim     Limits
	visited int
	hit     Limit
	fanout  bool
	err     error // cancellation: the query fails rather than stopping
	tick    int
}

func newBudget(ctx context.Context, lim Limits) *budget {
	// The first visit looks at the clock: a query may start already late.
	return &budget{ctx: ctx, lim: lim, tick: clockEvery - 1}
}

// visit accounts for one element about to be examined. It returns false,
// and records why, when the query must stop instead.
func (b *budget) visit() bool {
	if b.hit != LimitNone || b.err != nil {
		return false
	}
	if b.lim.MaxVisited > 0 && b.visited >= b.lim.MaxVisited {
		b.hit = LimitVisited
		return false
	}
	if b.tick++; b.tick >= clockEvery {
		b.tick = 0
		if !b.checkClock() {
			return false
		}
	}
	b.visited++
	return true
}

// checkClock checks the deadline and the context.
func (b *budget) checkClock() bool {
	if !b.lim.Deadline.IsZero() && !time.Now().Before(b.lim.Deadline.Add(-time.Duration(b.visited)*b.lim.ReplyPerVisit)) {
		b.hit = LimitDeadline
		return false
	}
	if err := b.ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			b.hit = LimitDeadline
		} else {
			b.err = err
		}
		return false
	}
	return true
}

// stop records a result limit.
func (b *budget) stop(l Limit) {
	if b.hit == LimitNone {
		b.hit = l
	}
}

func (b *budget) stopped() bool { return b.hit != LimitNone || b.err != nil }

// readError decides what a store error means: a read cut off by the
// deadline ends the query as partial (nil), anything else fails it.
func (b *budget) readError(err error) error {
	if err == nil {
		return b.err
	}
	if b.err != nil {
		return b.err
	}
	deadline := errors.Is(err, context.DeadlineExceeded) || errors.Is(b.ctx.Err(), context.DeadlineExceeded) ||
		!b.lim.Deadline.IsZero() && !time.Now().Before(b.lim.Deadline)
	if deadline && !errors.Is(b.ctx.Err(), context.Canceled) {
		b.stop(LimitDeadline)
		return nil
	}
	return err
}

func (b *budget) outcome() Outcome {
	o := Outcome{Visited: b.visited, LimitHit: b.hit}
	if o.LimitHit == LimitNone && b.fanout {
		o.LimitHit = LimitFanout
	}
	o.Partial = o.LimitHit != LimitNone
	return o
}

// readNode reads a node's record, counting the read as a visit. A node
// without a record (or, in a store with TTLs, an expired one) is returned
// with only its identity. ok is false when the budget ran out first.
func (b *budget) readNode(r Reads, ref NodeRef) (n Node, ok bool, err error) {
	if !b.visit() {
		return Node{}, false, nil
	}
	return b.readCounted(r, ref)
}

// readNodeOfEdge reads the far node of an edge that has been visited: it
// counts as a visit but does not stop, so that every edge a query admits
// is finished and paging always makes progress.
func (b *budget) readNodeOfEdge(r Reads, ref NodeRef) (n Node, ok bool, err error) {
	if b.err != nil {
		return Node{}, false, nil
	}
	b.visited++
	return b.readCounted(r, ref)
}

func (b *budget) readCounted(r Reads, ref NodeRef) (n Node, ok bool, err error) {
	n, found, err := r.Node(b.ctx, ref)
	if err != nil {
		return Node{}, false, b.readError(err)
	}
	if !found {
		n = Node{NodeRef: ref}
	}
	return n, true, nil
}

// Op is a predicate's comparison.
type Op int8

const (
	OpEq Op = iota + 1
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
)

func (o Op) String() string {
	switch o {
	case OpEq:
		return "="
	case OpNe:
		return "!="
	case OpLt:
		return "<"
	case OpLe:
		return "<="
	case OpGt:
		return ">"
	case OpGe:
		return ">="
	}
	return fmt.Sprintf("Op(%d)", int8(o))
}

// ParseOp parses "=", "==", "!=", "<", "<=", ">" or ">=".
func ParseOp(s string) (Op, error) {
	switch s {
	case "=", "==":
		return OpEq, nil
	case "!=":
		return OpNe, nil
	case "<":
		return OpLt, nil
	case "<=":
		return OpLe, nil
	case ">":
		return OpGt, nil
	case ">=":
		return OpGe, nil
	}
	return 0, fmt.Errorf("operator %q: want =, !=, <, <=, > or >=", s)
}

// Element fields a predicate can name besides properties.
const (
	FieldID        = "@id"
	FieldType      = "@type"
	FieldFirstSeen = "@first_seen"
	FieldLastSeen  = "@last_seen"
)

// Predicate compares one field of a node or edge with a value: a property
// by name, or one of FieldID, FieldType, FieldFirstSeen, FieldLastSeen.
//
// Integers and floats compare as numbers, strings bytewise, booleans with
// false < true. Values of different kinds are never equal (OpNe holds) and
// never ordered (the ordered ops fail). A missing property fails every op,
// OpNe included; null equals only null.
type Predicate struct {
	Field string
	Op    Op
	Value any
}

func (p Predicate) String() string { return fmt.Sprintf("%s%s%v", p.Field, p.Op, p.Value) }

// Validate checks the field name, the op and the kind of the value.
func (p Predicate) Validate() error {
	if p.Field == "" {
		return errors.New("empty field")
	}
	if strings.HasPrefix(p.Field, "@") {
		switch p.Field {
		case FieldID, FieldType, FieldFirstSeen, FieldLastSeen:
		default:
			return fmt.Errorf("field %q: the element fields are %s, %s, %s and %s", p.Field, FieldID, FieldType, FieldFirstSeen, FieldLastSeen)
		}
	}
	if p.Op < OpEq || p.Op > OpGe {
		return fmt.Errorf("unknown operator %d", int8(p.Op))
	}
	if _, err := NormalizeValue(p.Value); err != nil {
		return err
	}
	return nil
}

// MatchNode reports whether n satisfies p.
func (p *Predicate) MatchNode(n *Node) bool {
	var v any
	switch p.Field {
	case FieldID:
		v = n.ID
	case FieldType:
		v = n.Type
	case FieldFirstSeen:
		v = n.FirstSeen
	case FieldLastSeen:
		v = n.LastSeen
	default:
		pr, ok := n.Props[p.Field]
		if !ok {
			return false
		}
		v = pr.Value
	}
	return p.match(v)
}

// MatchEdge reports whether e satisfies p. FieldID is the edge's
// "from->to" rendering.
func (p *Predicate) MatchEdge(e *Edge) bool {
	var v any
	switch p.Field {
	case FieldID:
		v = e.From.String() + "->" + e.To.String()
	case FieldType:
		v = e.Type
	case FieldFirstSeen:
		v = e.FirstSeen
	case FieldLastSeen:
		v = e.LastSeen
	default:
		pr, ok := e.Props[p.Field]
		if !ok {
			return false
		}
		v = pr.Value
	}
	return p.match(v)
}

func (p *Predicate) match(v any) bool {
	c, ok := compareForPredicate(v, p.Value)
	if !ok {
		return p.Op == OpNe
	}
	switch p.Op {
	case OpEq:
		return c == 0
	case OpNe:
		return c != 0
	case OpLt:
		return c < 0
	case OpLe:
		return c <= 0
	case OpGt:
		return c > 0
	case OpGe:
		return c >= 0
	}
	return false
}

// compareForPredicate compares a and b when they are comparable: numbers
// with numbers, strings with strings, bools with bools, null with null. A
// NaN is comparable with nothing.
func compareForPredicate(a, b any) (int, bool) {
	switch x := a.(type) {
	case nil:
		return 0, b == nil
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case x == y:
			return 0, true
		case y:
			return -1, true
		}
		return 1, true
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpInt(x, y), true
		case float64:
			return cmpFloat(float64(x), y)
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmpFloat(x, float64(y))
		case float64:
			return cmpFloat(x, y)
		}
	}
	return 0, false
}

func cmpFloat(a, b float64) (int, bool) {
	if math.IsNaN(a) || math.IsNaN(b) {
		return 0, false
	}
	return cmpInt(a, b), true
}

// Filter selects the edges a hop follows, beyond its direction and edge
// types: the far node's type, the edge's last_seen range, and predicates on
// the edge and on the far node.
type Filter struct {
	// NodeTypes restricts the far node's type; empty means any.
	NodeTypes []string
	// Since and Until bound the edge's LastSeen (unix ms, inclusive);
	// 0 means unbounded.
	Since, Until int64
	// EdgePredicates must all hold for the edge.
	EdgePredicates []Predicate
	// NodePredicates must all hold for the far node's record.
	NodePredicates []Predicate
}

// edgeOK applies everything that needs no node read.
func (f *Filter) edgeOK(e *Edge, far NodeRef) bool {
	if f.Since != 0 && e.LastSeen < f.Since || f.Until != 0 && e.LastSeen > f.Until {
		return false
	}
	if len(f.NodeTypes) > 0 && !containsString(f.NodeTypes, far.Type) {
		return false
	}
	for i := range f.EdgePredicates {
		if !f.EdgePredicates[i].MatchEdge(e) {
			return false
		}
	}
	return true
}

func (f *Filter) nodeOK(n *Node) bool {
	for i := range f.NodePredicates {
		if !f.NodePredicates[i].MatchNode(n) {
			return false
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Path is a walk: Edges[i] joins Nodes[i] and Nodes[i+1], in whichever
// orientation it is stored.
type Path struct {
	Nodes []Node
	Edges []Edge
}
