package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/expr-lang/expr/types"

	"github.com/rdgraph/rdg/internal/job"
)

// The fast forms of expressions (eval.go) must compute what the VM
// computes. Each expression is compiled as a job compiles it, with a typed
// environment (a source schema) and without one, then evaluated both ways
// over random records: whenever the fast form returns a value, the VM must
// return the same value and no error. (When the fast form gives up, the
// processor runs the VM, so giving up is always correct; the test also
// checks that the fast forms do not give up on the expressions they are
// for, when their value is not cast to bool.)

// evalTypes is a source schema's environment: field types as envOf makes
// them.
var evalTypes = types.Map{
	"s":   types.String,
	"t":   types.String,
	"i":   types.Int,
	"l":   types.TypeOf(int64(0)),
	"d":   types.TypeOf(float64(0)),
	"b":   types.Bool,
	"ts":  types.TypeOf(time.Time{}),
	"u":   types.Any, // a union such as ["null", "string"]
	"v":   types.Any,
	"row": types.TypeOf(map[string]any{}), // a side input row
}

// evalRandValue is a value for field name: of its type in a typed record,
// of any type otherwise.
func evalRandValue(r *rand.Rand, name string, typed bool) any {
	strs := []string{"", "a", "b", "PLAY_START", "PLAY_STOP", "m-1"}
	if typed {
		switch name {
		case "s", "t":
			return strs[r.IntN(len(strs))]
		case "i":
			return r.IntN(5) - 2
		case "l":
			return int64(r.IntN(5) - 2)
		case "d":
			return []float64{0, 1.5, -2, math.Inf(1), math.NaN()}[r.IntN(5)]
		case "b":
			return r.IntN(2) == 0
		case "ts":
			return time.UnixMilli(int64(r.IntN(3))).UTC()
		case "row":
			if r.IntN(4) == 0 {
				return map[string]any{}
			}
			return map[string]any{"name": strs[r.IntN(len(strs))], "kind": []any{nil, "show", "film"}[r.IntN(3)], "n": int64(r.IntN(3))}
		}
	}
	switch r.IntN(11) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return r.IntN(5) - 2
	case 3:
		return int64(r.IntN(5) - 2)
	case 4:
		return []float64{0, 1.5, -2}[r.IntN(3)]
	case 5:
		return time.UnixMilli(int64(r.IntN(3))).UTC()
	case 6:
		return map[string]any{"name": strs[r.IntN(len(strs))], "kind": nil}
	case 7:
		return []byte("a")
	case 8:
		return map[string]any(nil) // a typed nil: nil to ?? but not to ==
	}
	return strs[r.IntN(len(strs))]
}

// fastExprs are expressions of the kinds the fast forms implement; each
// must get one in both environments.
var fastExprs = []string{
	`s`, `row.name`, `row.kind`, `row.missing`, `nil`, `true`, `"x"`, `1`, `2.5`,
	`s == "a"`, `s != ""`, `s == t`, `i == 1`, `l == 1`, `d == 1.5`, `u == nil`, `u != nil && u != ""`,
	`ts == ts`, `l == i`, `b == true`, `row == nil`,
	`s in ["PLAY_START", "PLAY_STOP"]`, `u in ["a", "b"]`, `i in [1, 2]`,
	`s in ["PLAY_START", "PLAY_STOP"] && s != ""`, `b || s == "a"`, `!b`, `not b`,
	`row.kind ?? "film"`, `u ?? s`, `row.kind ?? (b ? "show" : "film")`, `b ? s : t`, `b ? 1 : 2.5`,
	`i < 1`, `l >= 0`, `d > 1`, `s < t`, `i <= l`, `d >= i`,
	`i + 1`, `l - 1`, `i * 2`, `l / 2`, `i % 2`, `s + t`, `-i`, `-d`, `+l`,
	`(i + l) * 2 == 4`, `ts > ts`,
}

// vmOnlyExprs are not implemented by fast forms (they must give up at
// compile time or at run time, never compute something else).
var vmOnlyExprs = []string{
	`len(s)`, `upper(s)`, `row?.name`, `s matches "a+"`, `s contains "a"`, `[s, t]`, `{"a": s}`,
	`$env.s`, `let x = s; x + t`, `filter([1, 2], # > i)`, `ts.Unix()`, `s[0:1]`, `i ** 2`,
}

func TestFastExprMatchesVM(t *testing.T) {
	for _, typed := range []bool{true, false} {
		for _, src := range append(append([]string{}, fastExprs...), vmOnlyExprs...) {
			for _, asBool := range []bool{false, true} {
				name := fmt.Sprintf("typed=%v/bool=%v/%s", typed, asBool, src)
				c := &compiler{}
				if typed {
					c.env = types.Map{}
					for k, v := range evalTypes {
						c.env[k] = v
					}
				}
				ev := c.eval(job.Expr{Src: src}, "test", asBool)
				if len(c.errs) > 0 {
					continue // not a valid expression here (types, or not a bool)
				}
				l := &layout{slot: map[string]int{}}
				if !l.identifiers(ev.prog) {
					if ev.slot >= 0 || ev.fast != nil {
						t.Fatalf("%s: linked although it reads $env", name)
					}
					continue
				}
				for k := range evalTypes {
					l.add(k)
				}
				ev.link(l)
				checkAgainstVM(t, name, !asBool && slices.Contains(fastExprs, src), &ev, l, typed)
			}
		}
	}
}

func checkAgainstVM(t *testing.T, name string, isFast bool, ev *evaluator, l *layout, typed bool) {
	t.Helper()
	p := &Processor{job: &Job{layout: l}, slots: make([]any, len(l.names)), env: map[string]any{}}
	r := rand.New(rand.NewPCG(11, uint64(len(name))))
	fastOK := 0
	for range 300 {
		for i, n := range l.names {
			p.slots[i] = evalRandValue(r, n, typed)
		}
		p.envFresh = false
		want, wantErr := p.vm.Run(ev.prog, p.vars())
		var got any
		var ok bool
		switch {
		case ev.slot >= 0:
			got, ok = p.slots[ev.slot], true
		case ev.fast != nil:
			got, ok = runFast(ev.fast, p.slots)
		}
		if !ok {
			continue
		}
		fastOK++
		if wantErr != nil {
			t.Fatalf("%s: fast form gave %#v where the VM fails: %v (record %v)", name, got, wantErr, p.env)
		}
		if !sameResult(got, want) {
			t.Fatalf("%s: fast form gave %#v (%T), the VM %#v (%T) (record %v)", name, got, got, want, want, p.env)
		}
	}
	if isFast && fastOK == 0 {
		t.Errorf("%s: the fast form never computed a value", name)
	}
}

func sameResult(a, b any) bool {
	if fa, ok := a.(float64); ok {
		if fb, ok := b.(float64); ok && math.IsNaN(fa) && math.IsNaN(fb) {
			return true
		}
	}
	return reflect.DeepEqual(a, b)
}
