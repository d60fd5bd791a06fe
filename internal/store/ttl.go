package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rdgraph/rdg/internal/graph"
)

// TTL cleanup
//
// Reads hide expired elements at once (Node, Edges, EachNode, EachEdge,
// Counts, Stats compare last_seen with the TTL's cutoff); Sweep deletes
// them from storage, a bounded amount per pass. A pass walks the node and
// out-edge keyspaces ('n' then 'o', whose values hold last_seen) from
// where the previous pass stopped, examines at most maxKeys keys, and
// deletes what it found expired: a node's key, or an edge's 'o' and 'i'
// keys together. Node types without a TTL are skipped with one seek each.
//
// A delete must not land after an update it has not seen: writes are blind
// merges, so a tombstone written after a fresh merge operand would erase
// the fresh sighting. Apply therefore holds Pebble.mu shared, and a pass
// rechecks each candidate and deletes it while holding mu exclusively, in
// chunks of sweepChunk so that writers wait at most one chunk. Updates that
// arrive later merge onto the tombstone and start a new element, as they
// should.

// sweepChunk is how many candidates one exclusive section rechecks and
// deletes.
const sweepChunk = 1000

// SweepResult reports one Sweep pass.
type SweepResult struct {
	// Examined is the number of keys the pass looked at.
	Examined int
	// Deleted is the number of expired elements it deleted (an edge counts
	// once).
	Deleted int
	// Wrapped is true when the pass reached the end of the keyspace, so the
	// next one starts from the beginning.
	Wrapped bool
}

// Sweep runs one pass of TTL cleanup, examining at most maxKeys keys (0
// means the store's SweepKeys), and continuing where the previous pass
// stopped. Without TTLs it does nothing. The background sweep calls it
// every SweepInterval; tests and tools may call it directly.
func (p *Pebble) Sweep(ctx context.Context, maxKeys int) (SweepResult, error) {
	var res SweepResult
	if len(p.ttl) == 0 {
		return res, nil
	}
	if maxKeys <= 0 {
		maxKeys = p.sweepKeys
	}
	// A pass the gate refuses is skipped whole: its scan and its rechecks
	// under the write lock would be wasted, and it would move the next
	// pass past the keys it could not delete.
	if p.gate != nil {
		if err := p.gate.Check(0); err != nil {
			return res, fmt.Errorf("store: sweep: %w", err)
		}
	}
	p.sweepMu.Lock()
	defer p.sweepMu.Unlock()
	cut := p.cutoffs()
	lower := p.sweepPos
	if lower == nil {
		lower = []byte{kindNode}
	}
	it, err := p.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: []byte{kindOut + 1}})
	if err != nil {
		return res, fmt.Errorf("store: sweep: %w", err)
	}
	var (
		cands [][]byte
		names typeNames
	)
	valid := it.First()
	for valid && res.Examined < maxKeys {
		if res.Examined++; res.Examined%ctxCheckEvery == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		k := it.Key()
		var cutoff int64
		cutoff, err = names.keyCutoff(cut, k)
		if err != nil {
			err = fmt.Errorf("%s: %w", prettyKey(k), err)
			break
		}
		if cutoff == graph.NoExpiry {
			if k[0] == kindNode {
				// No TTL for this node type: skip all its nodes.
				raw, _, _ := splitComponent(k[1:])
				valid = it.SeekGE(prefixEnd(k[:1+len(raw)]))
				continue
			}
			valid = it.Next()
			continue
		}
		var v []byte
		if v, err = it.ValueAndErr(); err != nil {
			break
		}
		r := valueReader{v}
		_, last, _, herr := r.header()
		if herr != nil {
			err = fmt.Errorf("%s: %w", prettyKey(k), herr)
			break
		}
		if last < cutoff {
			cands = append(cands, bytes.Clone(k))
		}
		valid = it.Next()
	}
	if err == nil {
		err = it.Error()
	}
	if err == nil {
		if valid {
			p.sweepPos = bytes.Clone(it.Key())
		} else {
			p.sweepPos, res.Wrapped = nil, true
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("store: sweep: %w", err)
	}
	for len(cands) > 0 {
		n := min(len(cands), sweepChunk)
		d, err := p.deleteExpired(cands[:n])
		res.Deleted += d
		if err != nil {
			return res, err
		}
		cands = cands[n:]
	}
	return res, nil
}

// typeNames decodes the type components of keys, remembering the last of
// each so that a run of keys of the same types allocates nothing.
type typeNames struct{ node, from, edge, to interner }

// keyCutoff returns the TTL cutoff of the element an 'n' or 'o' key names.
func (tn *typeNames) keyCutoff(cut graph.Cutoffs, k []byte) (int64, error) {
	switch k[0] {
	case kindNode:
		raw, _, err := splitComponent(k[1:])
		if err != nil {
			return 0, err
		}
		return cut.Node(tn.node.get(raw)), nil
	case kindOut:
		var c [4][]byte
		rest := k[1:]
		for i := range c {
			var err error
			if c[i], rest, err = splitComponent(rest); err != nil {
				return 0, err
			}
		}
		// fromType fromID edgeType toType
		return cut.Edge(tn.edge.get(c[2]), tn.from.get(c[0]), tn.to.get(c[3])), nil
	}
	return graph.NoExpiry, nil
}

// deleteExpired rechecks keys under the write lock and deletes those still
// expired.
func (p *Pebble) deleteExpired(keys [][]byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cut := p.cutoffs()
	b := p.db.NewBatch()
	defer b.Close()
	n := 0
	var (
		ik    []byte
		names typeNames
	)
	for _, k := range keys {
		v, closer, err := p.db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("store: sweep: %w", err)
		}
		r := valueReader{v}
		_, last, _, herr := r.header()
		closer.Close()
		if herr != nil {
			return n, fmt.Errorf("store: sweep: %s: %w", prettyKey(k), herr)
		}
		cutoff, err := names.keyCutoff(cut, k)
		if err != nil {
			return n, fmt.Errorf("store: sweep: %s: %w", prettyKey(k), err)
		}
		if last >= cutoff {
			continue // seen again since the scan
		}
		if err := b.Delete(k, nil); err != nil {
			return n, err
		}
		if k[0] == kindOut {
			if ik, err = inKeyFromOut(ik[:0], k); err != nil {
				return n, err
			}
			if err := b.Delete(ik, nil); err != nil {
				return n, err
			}
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if p.gate != nil { // again: the disk may have filled during the scan
		if err := p.gate.Check(0); err != nil {
			return 0, fmt.Errorf("store: sweep: %w", err)
		}
	}
	if err := p.write(b); err != nil {
		return 0, fmt.Errorf("store: sweep: %w", err)
	}
	return n, nil
}

// sweepLoop runs Sweep every interval until Close.
func (p *Pebble) sweepLoop(every time.Duration) {
	defer p.swept.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.stop
		cancel()
	}()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		res, err := p.Sweep(ctx, 0)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Warn("store: ttl sweep failed", "err", err)
		case res.Deleted > 0:
			p.log.Info("store: ttl sweep", "deleted", res.Deleted, "examined", res.Examined,
				"wrapped", res.Wrapped, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}
