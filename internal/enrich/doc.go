// Package enrich owns side inputs: the tables a job looks records up in
// while it processes them (a title's name and genre by title_id, say).
// A table is materialised from a compacted Kafka topic (StartTopic), which
// it keeps following so that updates reach lookups within a fetch, or
// loaded once from a static CSV or JSON file (LoadFile).
//
// enrich knows Kafka, the Confluent framing and Avro (through package
// codec) and nothing else: it must not know jobs, the graph or stores. A job
// sees a table only through Lookup.
//
// Rows are map[string]any holding the field values as decoded: for Avro the
// types hamba/avro gives (string, int64, int, float64, float32, bool,
// []byte, time.Time for timestamps, nil for a null union), for files those
// documented at LoadFile. A row is shared by every lookup of its key and is
// never modified after it is stored, which is what makes lookups free of
// copies and locks on the row itself; callers must not modify it either.
//
// Memory: most of a row's cost is its own map, whose first group holds 8
// fields; a ninth field grows it into a full table, which costs nearly
// twice as much. A catalogue title (four short string fields) costs about
// half a kilobyte with its key and table entry, so a million titles is
// about half a gigabyte, and wide rows are worth projecting before they
// are published to a side-input topic. BenchmarkRowMemory measures it
// (BENCHMARKS.md has the figures).
package enrich

// Table is a keyed side input. Lookup returns the row's fields (a map the
// caller must not modify) and whether the key exists. Safe for concurrent
// use while the table updates.
type Table interface {
	Lookup(key string) (map[string]any, bool)
	Len() int
}
