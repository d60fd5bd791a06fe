// Package jobrun runs a job on Kafka: it creates the job's graph and
// dead-letter topics, reads the source topic in the job's consumer group
// (Tuning.Concurrency consumers), runs the records through the engine,
// publishes graph elements and dead letters, and commits source offsets
// only once what they produced is acknowledged (at least once), or in
// transactions holding a dedupe window's output and offsets (exactly
// once). It also loads a job's side inputs (StartTables).
//
// jobrun knows Kafka, the schema registry's client, the wire formats of
// graph topics and dead letters (package codec) and the engine. It must
// not know stores, serving or the graph writer.
package jobrun
