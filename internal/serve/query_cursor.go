package serve

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/fnv"

	"github.com/rdgraph/rdg/internal/graph"
)

// Paging cursors. A cursor is a graph.Cursor — a position in the store's
// key order, not an offset — together with a fingerprint of the listing it
// belongs to (node, direction, edge types), so that a cursor passed with
// another request is refused instead of silently listing something else.
// Filters (node types, time range) are not in the fingerprint: changing them
// between pages is allowed and applies from the cursor on.
//
//	cursor := base64url(version fingerprint phase uvarint(typeIdx) str*5)
//	str    := uvarint(len) bytes   (edge type, from type, from id, to type, to id)
//
// A cursor whose edge type is empty is the start of its phase and type.

const cursorVersion byte = 1

func listingFingerprint(ref graph.NodeRef, dir graph.Direction, types []string) uint64 {
	h := fnv.New64a()
	write := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	write(ref.Type)
	write(ref.ID)
	h.Write([]byte{byte(dir)})
	for _, t := range types {
		write(t)
	}
	return h.Sum64()
}

func encodeCursor(c graph.Cursor, ref graph.NodeRef, dir graph.Direction, types []string) string {
	b := []byte{cursorVersion}
	b = binary.BigEndian.AppendUint64(b, listingFingerprint(ref, dir, types))
	b = append(b, byte(c.Phase))
	b = binary.AppendUvarint(b, uint64(c.TypeIdx))
	for _, s := range []string{c.After.Type, c.After.From.Type, c.After.From.ID, c.After.To.Type, c.After.To.ID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadCursor = errors.New("malformed cursor: pass next_cursor from the previous page unchanged")

func decodeCursor(field, s string, ref graph.NodeRef, dir graph.Direction, types []string) (*graph.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+8+1 || b[0] != cursorVersion {
		return nil, invalidArg(field, "%v", errBadCursor)
	}
	if binary.BigEndian.Uint64(b[1:9]) != listingFingerprint(ref, dir, types) {
		return nil, invalidArg(field, "belongs to another listing: node, direction and edge_types must stay the same from page to page")
	}
	c := &graph.Cursor{Phase: graph.Direction(b[9])}
	b = b[10:]
	idx, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, invalidArg(field, "%v", errBadCursor)
	}
	b = b[n:]
	var strs [5]string
	for i := range strs {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, invalidArg(field, "%v", errBadCursor)
		}
		strs[i], b = string(b[n:n+int(l)]), b[n+int(l):]
	}
	if len(b) != 0 {
		return nil, invalidArg(field, "%v", errBadCursor)
	}
	c.After = graph.EdgeRef{Type: strs[0], From: graph.NodeRef{Type: strs[1], ID: strs[2]}, To: graph.NodeRef{Type: strs[3], ID: strs[4]}}
	// The fingerprint makes a forged cursor unlikely, not impossible: check
	// that the position is one of this listing's.
	ntypes := max(len(types), 1)
	switch {
	case idx >= uint64(ntypes):
		return nil, invalidArg(field, "%v", errBadCursor)
	case c.Phase != graph.Out && c.Phase != graph.In, dir != graph.Both && c.Phase != dir:
		return nil, invalidArg(field, "%v", errBadCursor)
	}
	c.TypeIdx = int(idx)
	if c.After.Type == "" {
		c.After = graph.EdgeRef{}
		return c, nil
	}
	if c.After.Validate() != nil ||
		c.Phase == graph.Out && c.After.From != ref || c.Phase == graph.In && c.After.To != ref ||
		len(types) > 0 && c.After.Type != types[c.TypeIdx] {
		return nil, invalidArg(field, "%v", errBadCursor)
	}
	return c, nil
}
