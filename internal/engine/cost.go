package engine

import (
	"fmt"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm"

	"github.com/rdgraph/rdg/internal/job"
)

// What an expression may cost
//
// expr-lang bounds what one evaluation may allocate for collections: every
// range, loop and builtin result is charged to the VM's memory budget
// (conf.DefaultMemoryBudget elements), and an evaluation that exceeds it
// fails, which dead-letters the record. Two things escape that budget and
// are refused when a job is compiled, where the file can say where:
//
//   - reduce: its accumulator is not charged, so `reduce(1..64, #acc +
//     #acc, "x")` doubles a string 64 times; no mapping needs it (sum,
//     count, map, filter and join are charged).
//   - a call of a name that is no function: with no source schema every
//     name compiles as a variable, and `uper(title)` would fail every
//     record at run time instead of failing the check.
//
// A constant range larger than the budget is refused too: it can never
// run, so it is a mistake the check can point at.

// costErrors reports the constructs above in prog, compiled from e.
func (c *compiler) costErrors(prog *vm.Program, e job.Expr, what string) {
	if prog == nil {
		return
	}
	node := prog.Node()
	ast.Walk(&node, &costVisitor{c: c, e: e, what: what})
}

type costVisitor struct {
	c    *compiler
	e    job.Expr
	what string
}

func (v *costVisitor) errAt(n ast.Node, format string, args ...any) {
	line, col := v.e.At(n.Location().From)
	v.c.errs = append(v.c.errs, job.Error{File: v.c.file, Line: line, Col: col, Msg: v.what + ": " + fmt.Sprintf(format, args...)})
}

func (v *costVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if n.Name == "reduce" {
			v.errAt(n, "reduce is not allowed in job expressions: its accumulator is not bounded and can grow with every step; use sum, count, map, filter or join")
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			v.errAt(n, "unknown function %s", job.Clip(id.Value))
		}
	case *ast.BinaryNode:
		if n.Operator != ".." {
			return
		}
		from, ok1 := n.Left.(*ast.IntegerNode)
		to, ok2 := n.Right.(*ast.IntegerNode)
		// The VM fails an evaluation once it holds the budget or more.
		if ok1 && ok2 && int64(to.Value)-int64(from.Value)+1 >= int64(conf.DefaultMemoryBudget) {
			v.errAt(n, "range %d..%d has %d elements; an evaluation may hold at most %d", from.Value, to.Value,
				int64(to.Value)-int64(from.Value)+1, conf.DefaultMemoryBudget-1)
		}
	}
}
