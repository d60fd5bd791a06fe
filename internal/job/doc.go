// Package job owns the job file: its YAML format (Spec), parsing it and
// reporting every problem with its line and column for `rdg job check`,
// the names a job gives its topics, and writing a skeleton from a source
// schema for `rdg job init`.
//
// job knows YAML, Avro schemas and the graph model's names. It must not
// know how records are read, processed or published: it links nothing of
// Kafka, the schema registry or the engine, so that every tool that reads
// a job file can.
package job
