package engine

import (
	"fmt"
	"reflect"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
)

// Expressions on the per-record path
//
// A job's expressions are compiled once by expr-lang into VM programs, and
// the programs stay the reference: their results and errors are what a job
// means. Running the VM for each of the twenty or thirty expressions of a
// typical job, over a map[string]any environment built per record, is
// however most of the per-record cost. So the variables a job's
// expressions use get numbered slots (layout), the record decoder fills
// them directly, and each program is also compiled from its typed AST into
// a tree of Go closures over the slots (fastExpr) when every node of it is
// one of the simple kinds that make up almost all mappings: variables,
// member access on maps, literals, comparisons, logic, `in`, `??`, the
// ternary and arithmetic. A closure mirrors the bytecode the VM would run
// for the same node, calling the same runtime helpers (runtime.Equal,
// runtime.Fetch, runtime.In, ...) for the same operations, so it computes
// the same value. Whenever a closure panics (the VM's errors are panics
// too: a type assertion, a fetch from nil) the program runs on the VM
// instead, whose error then reports the failure exactly as before. The
// equivalence is tested against the VM on generated environments
// (eval_test.go).

// layout numbers the variables that a job's expressions refer to: source
// fields, projected fields and side inputs.
type layout struct {
	names []string
	slot  map[string]int
}

func (l *layout) add(name string) int {
	if i, ok := l.slot[name]; ok {
		return i
	}
	l.slot[name] = len(l.names)
	l.names = append(l.names, name)
	return len(l.names) - 1
}

// identifiers adds every identifier of prog to l. It reports false if the
// program reads $env, the whole environment, which a slot layout cannot
// provide: such jobs keep decoding into a map.
func (l *layout) identifiers(prog *vm.Program) bool {
	if prog == nil {
		return true
	}
	ok := true
	ast.Find(prog.Node(), func(n ast.Node) bool {
		if id, isID := n.(*ast.IdentifierNode); isID {
			if id.Value == "$env" {
				ok = false
			}
			l.add(id.Value)
		}
		return false
	})
	return ok
}

// evaluator is one compiled expression. A nil prog is an absent
// expression (no filter, no when, ...).
type evaluator struct {
	prog   *vm.Program
	asBool bool
	// slot >= 0: the expression is a lone variable, read from its slot.
	slot int
	// fast, if set, computes the expression from the slots; a panic means
	// "ask the VM".
	fast func(s []any) any
}

// link gives e its fast form under layout l.
func (e *evaluator) link(l *layout) {
	e.slot, e.fast = -1, nil
	if e.prog == nil {
		return
	}
	node := e.prog.Node()
	if id, ok := node.(*ast.IdentifierNode); ok && !e.asBool {
		if i, ok := l.slot[id.Value]; ok && id.Value != "$env" {
			e.slot = i
			return
		}
	}
	f := fastExpr(node, l)
	if f != nil && e.asBool {
		// expr.AsBool makes the VM cast its result with runtime.ToBool.
		inner := f
		f = func(s []any) any { return runtime.ToBool(inner(s)) }
	}
	e.fast = f
}

// fastExpr compiles n into a closure, or returns nil if some node of n is
// not one the closures implement.
func fastExpr(n ast.Node, l *layout) func(s []any) any {
	switch n := n.(type) {
	case *ast.NilNode:
		return func([]any) any { return nil }
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			return nil
		}
		i, ok := l.slot[n.Value]
		if !ok {
			return nil
		}
		return func(s []any) any { return s[i] }
	case *ast.BoolNode:
		return constant(n.Value)
	case *ast.StringNode:
		return constant(n.Value)
	case *ast.IntegerNode:
		switch k := n.Type().Kind(); k {
		case reflect.Int, reflect.Interface:
			return constant(n.Value)
		case reflect.Int64:
			return constant(int64(n.Value))
		case reflect.Float64:
			return constant(float64(n.Value))
		}
		return nil
	case *ast.FloatNode:
		if n.Type().Kind() == reflect.Float32 {
			return constant(float32(n.Value))
		}
		return constant(n.Value)
	case *ast.ConstantNode:
		return constant(n.Value)
	case *ast.UnaryNode:
		x := operand(n.Node, l)
		if x == nil {
			return nil
		}
		switch n.Operator {
		case "!", "not":
			return func(s []any) any { return !x(s).(bool) }
		case "+":
			return x
		case "-":
			return func(s []any) any { return runtime.Negate(x(s)) }
		}
		return nil
	case *ast.BinaryNode:
		return fastBinary(n, l)
	case *ast.ConditionalNode:
		cond, a, b := operand(n.Cond, l), fastExpr(n.Exp1, l), fastExpr(n.Exp2, l)
		if cond == nil || a == nil || b == nil {
			return nil
		}
		return func(s []any) any {
			if cond(s).(bool) {
				return a(s)
			}
			return b(s)
		}
	case *ast.MemberNode:
		return fastMember(n, l)
	}
	return nil
}

func constant(v any) func([]any) any { return func([]any) any { return v } }

// operand compiles an operand the way the VM's compiler does: values of
// interface or pointer type are dereferenced (derefInNeeded).
func operand(n ast.Node, l *layout) func(s []any) any {
	f := fastExpr(n, l)
	if f == nil || n.Nature().Nil {
		return f
	}
	switch n.Type().Kind() {
	case reflect.Ptr, reflect.Interface:
		return func(s []any) any { return deref(f(s)) }
	}
	return f
}

func fastBinary(n *ast.BinaryNode, l *layout) func(s []any) any {
	a, b := operand(n.Left, l), operand(n.Right, l)
	if a == nil || b == nil {
		return nil
	}
	switch n.Operator {
	case "==", "!=":
		eq := equality(n, a, b)
		if n.Operator == "!=" {
			return func(s []any) any { return !eq(s) }
		}
		return func(s []any) any { return eq(s) }
	case "and", "&&":
		return func(s []any) any {
			if x := a(s); !x.(bool) {
				return x
			}
			return b(s)
		}
	case "or", "||":
		return func(s []any) any {
			if x := a(s); x.(bool) {
				return x
			}
			return b(s)
		}
	case "??":
		return func(s []any) any {
			if x := a(s); !runtime.IsNil(x) {
				return x
			}
			return b(s)
		}
	case "in":
		return func(s []any) any { return runtime.In(a(s), b(s)) }
	case "<":
		return func(s []any) any { return runtime.Less(a(s), b(s)) }
	case ">":
		return func(s []any) any { return runtime.More(a(s), b(s)) }
	case "<=":
		return func(s []any) any { return runtime.LessOrEqual(a(s), b(s)) }
	case ">=":
		return func(s []any) any { return runtime.MoreOrEqual(a(s), b(s)) }
	case "+":
		return func(s []any) any { return runtime.Add(a(s), b(s)) }
	case "-":
		return func(s []any) any { return runtime.Subtract(a(s), b(s)) }
	case "*":
		return func(s []any) any { return runtime.Multiply(a(s), b(s)) }
	case "/":
		return func(s []any) any { return runtime.Divide(a(s), b(s)) }
	case "%":
		return func(s []any) any { return runtime.Modulo(a(s), b(s)) }
	}
	return nil
}

// equality mirrors the compiler's equalBinaryNode: typed comparisons of two
// ints or two strings when both sides are statically simple types of that
// kind, runtime.Equal otherwise.
func equality(n *ast.BinaryNode, a, b func([]any) any) func([]any) bool {
	lk, rk := kindOf(n.Left), kindOf(n.Right)
	simple := simpleType(n.Left) && simpleType(n.Right)
	switch {
	case lk == rk && lk == reflect.Int && simple:
		return func(s []any) bool { return a(s).(int) == b(s).(int) }
	case lk == rk && lk == reflect.String && simple:
		return func(s []any) bool { return a(s).(string) == b(s).(string) }
	}
	return func(s []any) bool { return runtime.Equal(a(s), b(s)) }
}

func kindOf(n ast.Node) reflect.Kind {
	if t := n.Type(); t != nil {
		return t.Kind()
	}
	return reflect.Invalid
}

func simpleType(n ast.Node) bool {
	t := n.Type()
	return t != nil && t.PkgPath() == ""
}

// fastMember handles base.name on maps (side input rows, nested records):
// the VM's OpFetch. Optional chaining and method calls go to the VM.
func fastMember(n *ast.MemberNode, l *layout) func(s []any) any {
	if n.Optional || n.Method {
		return nil
	}
	prop, ok := n.Property.(*ast.StringNode)
	if !ok {
		return nil
	}
	base := fastExpr(n.Node, l)
	if base == nil {
		return nil
	}
	key := prop.Value
	return func(s []any) any {
		from := base(s)
		if m, ok := from.(map[string]any); ok {
			return m[key] // what runtime.Fetch returns for a map, missing keys included
		}
		return runtime.Fetch(from, key)
	}
}

// deref is the VM's OpDeref (expr's internal deref.Interface): values
// behind pointers and interfaces are used by value. The types the record
// decoder produces are not pointers and pass through without reflection.
func deref(v any) any {
	switch v.(type) {
	case nil, string, bool, int, int32, int64, float32, float64, time.Time, time.Duration, []byte, map[string]any, []any:
		return v
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Ptr || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.IsValid() {
		return rv.Interface()
	}
	panic(fmt.Sprintf("cannot dereference %v", v))
}
