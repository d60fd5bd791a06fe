package graph

import "context"

// Exists reports whether the graph has ref: a stored record, or at least
// one edge that refers to it (a node that edges name but no record created
// is part of the graph too). It costs a point read and, when there is no
// record, up to two one-edge listings.
func Exists(ctx context.Context, r Reads, ref NodeRef) (bool, error) {
	if _, ok, err := r.Node(ctx, ref); err != nil || ok {
		return ok, err
	}
	found := false
	for _, d := range []Direction{Out, In} {
		err := r.Edges(ctx, ref, d, "", func(*Edge) bool {
			found = true
			return false
		})
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}
