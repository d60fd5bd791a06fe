// Package spelling answers "which of these names did you mean?" for the
// errors and warnings that name a misspelt type, field or config. It owns
// the distance between two names and the order of suggestions; it knows
// nothing of what the names are.
package spelling

import (
	"slices"
	"strings"
)

// ByCloseness returns known ordered for someone who misspelt name: by
// Distance to name, closest first, then a name that starts with name or
// that name starts with, then alphabetically. known is not changed.
func ByCloseness(name string, known []string) []string {
	type cand struct {
		s      string
		d      int
		prefix bool
	}
	cs := make([]cand, len(known))
	for i, s := range known {
		cs[i] = cand{s, Distance(name, s), strings.HasPrefix(s, name) || strings.HasPrefix(name, s)}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		if a.prefix != b.prefix {
			if a.prefix {
				return -1
			}
			return 1
		}
		return strings.Compare(a.s, b.s)
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.s
	}
	return out
}

// Suggest returns the name in known that name is most likely a typo of,
// or "" when none is near enough: within a third of name's length (plus
// one) edits, so "retension.ms" finds "retention.ms" but "x" finds nothing
// in a list of long names.
func Suggest(name string, known []string) string {
	if len(known) == 0 {
		return ""
	}
	best := ByCloseness(name, known)[0]
	if Distance(name, best) > len(name)/3+1 {
		return ""
	}
	return best
}

// Distance is the optimal string alignment distance between a and b: the
// fewest single-byte insertions, deletions, substitutions and swaps of two
// adjacent bytes that turn one into the other. The names it is used for
// are ASCII, so bytes are characters.
func Distance(a, b string) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	// Three rows: the one before the previous is for swaps.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
