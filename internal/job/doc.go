// Package job owns stream jobs: the job file (parsing it, reporting every
// problem with its line and column for `rdg job check`, and writing a
// skeleton from a source schema for `rdg job init`), compiling
// its expressions, the per-record path (size, decode, filter, project,
// enrich, time bounds, map), the dedupe buffer, and the Kafka runtime that
// reads a source topic in the job's consumer group, publishes graph
// elements and dead letters, and commits source offsets only once what
// they produced is acknowledged.
//
// job knows Kafka, the schema registry's client, Avro, the wire formats of
// graph topics and dead letters (package codec) and the graph model. It
// must not know stores, serving or the graph writer: the dead-letter
// format and topic names it shares with the writer are codec's.
package job
