// Package produce owns turning rows of JSON lines or CSV into Avro records
// of a given schema and producing them to Kafka with Confluent framing:
// the conversion rules from JSON and CSV values to Avro types (unions,
// logical types, defaults, enums), the reading of rows within a bound on
// line length, the reporting of every row that does not fit with its line
// and column, and the producing with acknowledgement counting, progress and
// a summary.
//
// produce knows Avro schemas, the registry's client API and Kafka. It must
// not know jobs, graphs or stores: what a record means downstream is not
// its concern, only that it is a faithful encoding of its row.
package produce
