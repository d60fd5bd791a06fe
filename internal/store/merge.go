package store

import (
	"fmt"
	"io"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// MergerName is the name of the Pebble merge operator the store is created
// with. Pebble records it on disk and refuses to open a store with another
// name, so a change to the value encoding or merge rules that old data
// cannot take needs a new name (and a migration), not an edit.
const MergerName = "rdg.merge.v1"

// merger makes Apply a blind write: every node and edge update is a Pebble
// Merge of its encoded value, and the join happens when a read meets several
// operands or a compaction folds them. Because the join is commutative,
// associative and idempotent, Pebble may combine any subset of operands in
// either direction (MergeNewer and MergeOlder are the same operation) and
// the outcome is the same bytes.
var merger = &pebble.Merger{
	Name: MergerName,
	Merge: func(key, value []byte) (pebble.ValueMerger, error) {
		if len(key) == 0 || (key[0] != kindNode && key[0] != kindOut && key[0] != kindIn) {
			// A merge operand on a metadata (or unknown) key is a bug or
			// corruption, and failing here keeps it from being folded into
			// data.
			return nil, fmt.Errorf("store: merge operand on %s", prettyKey(key))
		}
		// The caller keeps ownership of value, so keep a copy.
		m := mergerPool.Get().(*valueMerger)
		m.acc = append(m.acc[:0], value...)
		return m, nil
	},
}

// Compactions create a merger for every key that has operands, so mergers
// and their buffers are recycled: Finish hands Pebble the merger itself as
// the Closer of the result, and Close returns it to the pool once Pebble is
// done with the bytes.
var mergerPool = sync.Pool{New: func() any { return new(valueMerger) }}

// valueMerger folds operands into acc, swapping two buffers so that a long
// run of operands allocates only while the value grows.
type valueMerger struct {
	acc, spare []byte
	// lent is set while Pebble holds the result of Finish; it makes a
	// second Close harmless instead of pooling m twice.
	lent bool
}

func (m *valueMerger) MergeNewer(value []byte) error { return m.merge(value) }
func (m *valueMerger) MergeOlder(value []byte) error { return m.merge(value) }

func (m *valueMerger) merge(value []byte) error {
	out, err := mergeValues(m.spare[:0], m.acc, value)
	if err != nil {
		return err
	}
	m.acc, m.spare = out, m.acc
	return nil
}

// Finish ignores includesBase: a partial join (in a compaction that has not
// reached the oldest operand) is still a valid operand for the rest.
func (m *valueMerger) Finish(includesBase bool) ([]byte, io.Closer, error) {
	m.lent = true
	return m.acc, m, nil
}

// Close recycles m after Pebble has released the result of Finish.
func (m *valueMerger) Close() error {
	if !m.lent {
		return nil
	}
	m.lent = false
	// Oversized buffers would pin memory in the pool for rare huge values.
	if cap(m.acc)+cap(m.spare) > 64<<10 {
		return nil
	}
	mergerPool.Put(m)
	return nil
}
