package graph

import (
	"fmt"
	"time"
)

// TTL is a time to live per type name, from the design's data model: an
// element not seen for its TTL disappears from queries and is eventually
// deleted from storage. A name may be a node type or an edge type (or
// both); types not in the map never expire.
//
// A node is expired when its LastSeen is older than now minus its type's
// TTL. An edge is expired when its LastSeen is older than now minus the
// smallest TTL among its own type and the types of the nodes it joins: a
// relationship does not outlive the TTL of what it relates, measured on
// its own last sighting. So every element's fate follows from its own key
// and value, with no reads of its neighbours: an edge seen recently keeps
// pointing at a node whose own record expired, and that node then shows
// as identity only, like any node without a record.
type TTL map[string]time.Duration

// Validate checks every name and duration.
func (t TTL) Validate() error {
	for name, d := range t {
		if err := ValidTypeName(name); err != nil {
			return fmt.Errorf("ttl: %w", err)
		}
		if d <= 0 {
			return fmt.Errorf("ttl %s=%s: want a positive duration", name, d)
		}
	}
	return nil
}

// NoExpiry is the cutoff of an element that never expires.
const NoExpiry int64 = -1 << 63

// Cutoffs turns t into unix-ms cutoffs at time now: an element of a type
// with a cutoff is expired when its LastSeen is below it.
func (t TTL) Cutoffs(now time.Time) Cutoffs {
	if len(t) == 0 {
		return Cutoffs{}
	}
	c := Cutoffs{m: make(map[string]int64, len(t))}
	ms := now.UnixMilli()
	for name, d := range t {
		c.m[name] = ms - d.Milliseconds()
	}
	return c
}

// Cutoffs are a TTL fixed at one moment; the zero value expires nothing.
type Cutoffs struct{ m map[string]int64 }

// Empty reports whether nothing can expire.
func (c Cutoffs) Empty() bool { return len(c.m) == 0 }

// Has reports whether typ has a TTL.
func (c Cutoffs) Has(typ string) bool {
	_, ok := c.m[typ]
	return ok
}

// Node returns the cutoff of nodes of type typ, NoExpiry if none.
func (c Cutoffs) Node(typ string) int64 {
	if v, ok := c.m[typ]; ok {
		return v
	}
	return NoExpiry
}

// Edge returns the cutoff of edges of type typ between nodes of types
// from and to: the latest (that is, the smallest TTL's) of the three.
func (c Cutoffs) Edge(typ, from, to string) int64 {
	if len(c.m) == 0 {
		return NoExpiry
	}
	return max(c.Node(typ), c.Node(from), c.Node(to))
}
