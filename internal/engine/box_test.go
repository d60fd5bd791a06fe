package engine

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// Boxed values are indistinguishable from any(x): same dynamic type, same
// value, equal to any(x), usable in type switches and reflection, and they
// survive garbage collections while the boxer moves on to new chunks.
func TestBoxer(t *testing.T) {
	bx := newBoxes()
	var got, want []any
	for i := range 3 * boxChunk {
		s := fmt.Sprint("id-", i)
		got = append(got, bx.str.box(s), bx.long.box(int64(i)<<20), bx.time.box(time.UnixMilli(int64(i)).UTC()))
		want = append(want, any(s), any(int64(i)<<20), any(time.UnixMilli(int64(i)).UTC()))
		if i%100 == 0 {
			runtime.GC()
		}
	}
	runtime.GC()
	for i := range got {
		if got[i] != want[i] || !reflect.DeepEqual(got[i], want[i]) || reflect.TypeOf(got[i]) != reflect.TypeOf(want[i]) {
			t.Fatalf("value %d: boxed %#v, want %#v", i, got[i], want[i])
		}
		switch v := got[i].(type) {
		case string:
			if v != want[i].(string) {
				t.Fatalf("value %d: type switch gave %q", i, v)
			}
		case int64, time.Time:
		default:
			t.Fatalf("value %d: type switch saw %T", i, v)
		}
	}
	if a := testing.AllocsPerRun(1000, func() { bx.str.box("x") }); a > 1.0/boxChunk*2 {
		t.Fatalf("%v allocations per boxed value", a)
	}
}
