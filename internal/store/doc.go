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
// keyed from its source node) and the in-edge ('i', keyed from its target
// node), both holding the edge's value. So a node read is one point lookup
// and the out-edges or in-edges of a node (of one type, optionally) one
// range read each. Edge values are stored twice: the price of traversals
// that follow in-edges without a point lookup per edge, which is what
// made them cost twice an out-edge listing.
//
// Writes are blind: Apply writes every element as a Pebble merge operand
// and the Merger named MergerName joins operands when reads or compactions
// meet them, so applying a batch costs no reads however large the graph.
//
// Paging: EdgesAfter resumes an edge listing strictly after a given edge's
// key, whether or not that edge still exists — a key-position cursor, so
// pages never repeat an edge and never skip one that existed across both,
// whatever is written in between (graph.Reader's EdgesAfter).
//
// Time to live (ttl.go): with the TTL option, reads hide elements whose
// last_seen is older than their type's TTL (graph.TTL has the rules), and
// a background sweep deletes them a bounded number of keys per pass. A
// sweep's delete and Apply's merges are ordered by a lock so that a delete
// never erases an update it has not seen.
//
// The disk (disk.go): write-ahead logs grow as written and a clean Close
// flushes and removes them, so the directory holds the tables and little
// else; writes ask a Gate first (rdg's guard of the data directory's free
// space) and a failed write to the log stops writes with an error instead
// of taking the process down.
//
// Statistics (stats.go): counts per type and the highest-degree nodes per
// node type come from one pass over each keyspace, not from counters kept
// on write (a blind write does not know whether its element is new); the
// serving layer caches them.
package store
