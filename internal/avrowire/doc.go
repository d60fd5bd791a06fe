// Package avrowire owns Avro bodies as rdg receives them, whatever carried
// them: the Confluent framing (magic byte 0, a 4-byte big-endian schema id,
// the Avro body) and decoding a body within limits, so that nothing a body
// claims is allocated before its bytes are known to hold it (bounds.go).
//
// avrowire knows Avro and nothing else of rdg's: it must not know Kafka
// clients, schema registries or the graph model, so that the engine, which
// runs over records from any source, can use it without linking them.
package avrowire
