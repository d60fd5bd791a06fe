package codec

// FixedElements returns an Elements that encodes with the given schema ids
// without a registry: for benchmarks and tools that measure or print graph
// records offline. It decodes only records written with exactly those ids.
func FixedElements(nodeID, edgeID int) *Elements {
	return &Elements{nodeID: nodeID, edgeID: edgeID, schemas: NewSchemas(nil)}
}
