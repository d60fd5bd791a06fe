// Package engine runs a job over records from any source: it compiles the
// job file's expressions (Load, Compile) and runs each record through the
// per-record path (size, decode, filter, project, enrich, time bounds, map:
// Processor), the dedupe buffer (Buffer), and emits graph elements and
// failed records to a Sink (Engine). A record is a key, a value, headers,
// a timestamp and an opaque position in its source.
//
// engine knows the job file (package job), Avro bodies (package avrowire)
// and the graph model. It must not know Kafka, the schema registry's
// client, commits or where output goes: a test holds it to linking no
// Kafka client, so that a backfill from a table runs the same operators
// as a live job.
package engine
