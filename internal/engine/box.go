package engine

import (
	"time"
	"unsafe"
)

// Boxing decoded values
//
// A decoded field goes into its slot as an interface value, and Go boxes a
// string, an int64 (beyond 0..255) or a time.Time by allocating a copy for
// the interface to point to: five to eight allocations per record of the
// demo, the largest share of the decoder's cost. A boxer instead copies
// values into a chunk and makes interfaces that point into it: one
// allocation per boxChunk values. That is what the runtime's own boxing
// builds, with one backing array for many values instead of one each: the
// interface's type word is T's, its data word points at a T that is written
// once, before the interface exists, and never again, and the garbage
// collector keeps a chunk alive while any interface points into it (so a
// long-lived value keeps its chunk's neighbours: at most boxChunk values).
// Only types that the runtime does not store in the data word itself
// (pointer-shaped types) can be boxed this way; boxers exist for string,
// int64 and time.Time alone.

// eface is the runtime's layout of an interface{} value.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

const boxChunk = 256

type boxer[T string | int64 | time.Time] struct {
	typ   unsafe.Pointer
	chunk []T
}

func newBoxer[T string | int64 | time.Time]() boxer[T] {
	var zero T
	var v any = zero
	return boxer[T]{typ: (*eface)(unsafe.Pointer(&v)).typ}
}

// box returns x as an interface value, like any(x).
func (b *boxer[T]) box(x T) any {
	if len(b.chunk) == cap(b.chunk) {
		b.chunk = make([]T, 0, boxChunk)
	}
	b.chunk = append(b.chunk, x)
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: b.typ, data: unsafe.Pointer(&b.chunk[len(b.chunk)-1])}
	return v
}

// boxes are a processor's boxers, one per boxed type.
type boxes struct {
	str  boxer[string]
	long boxer[int64]
	time boxer[time.Time]
}

func newBoxes() *boxes {
	return &boxes{str: newBoxer[string](), long: newBoxer[int64](), time: newBoxer[time.Time]()}
}
