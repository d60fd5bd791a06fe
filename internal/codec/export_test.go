package codec

// NewElementsWithIDs returns an Elements whose node and edge schemas have
// the given registry ids, without a registry: for tests and benchmarks of
// the encoding alone.
func NewElementsWithIDs(nodeID, edgeID int) *Elements {
	return &Elements{nodeID: nodeID, edgeID: edgeID}
}
