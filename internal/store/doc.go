// Package store is rdg's embedded graph store: nodes and edges kept in a
// Pebble database in one data directory.
//
// store owns the on-disk layout — how node and edge identities become keys
// (keys.go) and how their times and properties become values (value.go) —
// and the merge of updates into what is stored (merge.go), which must give
// exactly the result of graph.Node.Merge and graph.Edge.Merge whatever order,
// grouping or number of times updates arrive in. It implements graph.Writer
// and graph.Reader and adds whole-type scans and counts.
//
// store must not know where updates come from or who reads them: nothing
// here about Kafka, Avro, schema registries, jobs, dedupe windows, protobuf
// or serving. Its only rdg dependency is package graph.
//
// Layout in brief: a node is one key ('n'), an edge two — the out-edge ('o',
// keyed from its source node, holding the value) and the in-edge ('i',
// keyed from its target node, holding nothing but the key). So a node read
// is one point lookup, the out-edges of a node (of one type, optionally) are
// one range read, and the in-edges one range read plus a point lookup per
// edge of the 'o' entry it names; edge properties are stored once.
//
// Writes are blind: Apply writes every element as a Pebble merge operand
// and the Merger named MergerName joins operands when reads or compactions
// meet them, so applying a batch costs no reads however large the graph.
package store
