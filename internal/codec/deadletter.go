package codec

import (
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead letters
//
// A record rdg cannot process goes to a dead-letter topic with its own
// key, value and headers, plus rdg.* headers that say where it came from
// and which stage failed why. Jobs write them (rdg.dlq.<job>), and so do
// graph writers for graph records they cannot decode
// (rdg.dlq.writer-<store>); `rdg dlq` reads both (ParseDeadLetter). The
// format is defined here, once, because jobs and the writer must not
// depend on each other. (The job file and the engine, which link no Kafka,
// spell the topic prefix and StageDecode again; a test of jobrun holds
// them equal.)

// Dead-letter topic names.
const (
	// DeadLetterPrefix begins the name of every dead-letter topic.
	DeadLetterPrefix = "rdg.dlq."
	// WriterDeadLetterPrefix follows DeadLetterPrefix in the names of the
	// graph writers' dead-letter topics, so no job may have a name that
	// begins with it.
	WriterDeadLetterPrefix = "writer-"
)

// Dead-letter headers, added after the record's own.
const (
	HeaderStage     = "rdg.stage"
	HeaderError     = "rdg.error"
	HeaderTopic     = "rdg.source.topic"
	HeaderPartition = "rdg.source.partition"
	HeaderOffset    = "rdg.source.offset"
	HeaderSchemaID  = "rdg.source.schema_id"
	// HeaderElementTopic is the graph topic a dead-lettered element (stage
	// publish) was for.
	HeaderElementTopic = "rdg.element.topic"
)

// StageDecode is the stage of a record whose bytes cannot be decoded: not
// Confluent-framed, an unknown schema, a body its schema cannot read.
const StageDecode = "decode"

// DeadLetterMaxBytes is the max.message.bytes rdg gives dead-letter
// topics, and the largest dead letter it produces with its value: an
// element too large for its graph topic still fits, with its bytes.
const DeadLetterMaxBytes = 16 << 20

// DeadLetter is the dead letter in topic of rec, which failed at stage
// with err: rec's key, value, timestamp and headers, then the rdg.*
// headers (schemaID 0 if unknown). One larger than maxBytes (0: no limit)
// goes without its value (StripDeadLetter), so that the producer does not
// refuse it.
func DeadLetter(topic string, maxBytes int, rec *kgo.Record, stage string, schemaID int, err error) *kgo.Record {
	headers := append(append(make([]kgo.RecordHeader, 0, len(rec.Headers)+6), rec.Headers...),
		kgo.RecordHeader{Key: HeaderStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		kgo.RecordHeader{Key: HeaderOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		kgo.RecordHeader{Key: HeaderSchemaID, Value: []byte(strconv.Itoa(schemaID))},
	)
	dl := &kgo.Record{Topic: topic, Key: rec.Key, Value: rec.Value, Headers: headers, Timestamp: rec.Timestamp}
	if size := RecordSize(dl); maxBytes > 0 && size > maxBytes {
		dl = StripDeadLetter(dl, fmt.Errorf("dead letter of %d bytes exceeds the producer's max record bytes %d for %s", size, maxBytes, topic))
	}
	return dl
}

// maxStrippedError bounds rdg.error, and the key, of a dead letter sent
// without its value.
const maxStrippedError = 1024

// StripDeadLetter is dead letter r without its value and the source
// record's own headers, which may be what made it too large: only the
// rdg.* headers (the last of each), rdg.error saying why the value is
// missing.
func StripDeadLetter(r *kgo.Record, why error) *kgo.Record {
	out := &kgo.Record{Topic: r.Topic, Key: r.Key, Timestamp: r.Timestamp}
	if len(out.Key) > maxStrippedError {
		out.Key = nil
	}
	// A source record may carry rdg.* headers of its own (a replayed
	// dead letter): the dead letter's come after them.
	last := map[string]int{}
	for i, h := range r.Headers {
		last[h.Key] = i
	}
	for i, h := range r.Headers {
		if last[h.Key] != i {
			continue
		}
		switch h.Key {
		case HeaderError:
			msg := fmt.Sprintf("%s; the value (%d bytes) is left out: %v", h.Value, len(r.Value), why)
			if len(msg) > maxStrippedError {
				msg = msg[:maxStrippedError]
			}
			out.Headers = append(out.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(msg)})
		case HeaderStage, HeaderTopic, HeaderPartition, HeaderOffset, HeaderSchemaID, HeaderElementTopic:
			out.Headers = append(out.Headers, h)
		}
	}
	return out
}

// RecordSize is about what r takes in a record batch of its own, as a
// producer measures it against its max record bytes: the batch header and
// the record with its length fields, a few bytes more than exact.
func RecordSize(r *kgo.Record) int {
	const batchHeader = 61
	n := batchHeader + 1 + 3*binaryVarintMax + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += 2*binaryVarintMax + len(h.Key) + len(h.Value)
	}
	return n + 2*binaryVarintMax // record length and header count
}

// binaryVarintMax is the longest varint a record field length takes in a
// batch under 2 GiB.
const binaryVarintMax = 5

// DeadLetterRecord is one dead letter with its headers parsed.
type DeadLetterRecord struct {
	// Partition and Offset locate the record in the dead-letter topic.
	Partition int32
	Offset    int64
	// Timestamp is the dead letter's timestamp, which the job copies from
	// the source record.
	Timestamp time.Time
	// Key and Value are the source record's, byte for byte.
	Key, Value []byte
	// Headers are the source record's own headers, without the rdg.* ones
	// the job added.
	Headers []kgo.RecordHeader

	Stage string // rdg.stage: size, decode, filter, project, enrich, time or map
	Error string // rdg.error
	// Source* say where the record was read from; -1 when the header is
	// missing or unreadable.
	SourceTopic     string
	SourcePartition int32
	SourceOffset    int64
	// SchemaID is the writer schema id of the value, 0 if it had no
	// readable Confluent header.
	SchemaID int
}

// ParseDeadLetter parses a dead-letter record. The job appends its headers
// after the source record's own, so the last occurrence of each rdg.*
// header is the job's; an earlier one belongs to the source record (which
// may itself have been copied from a dead-letter topic) and is kept in
// Headers.
func ParseDeadLetter(r *kgo.Record) DeadLetterRecord {
	rec := DeadLetterRecord{
		Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
		Key: r.Key, Value: r.Value,
		SourcePartition: -1, SourceOffset: -1,
	}
	last := map[string]int{}
	for i, h := range r.Headers {
		switch h.Key {
		case HeaderStage, HeaderError, HeaderTopic, HeaderPartition, HeaderOffset, HeaderSchemaID:
			last[h.Key] = i
		}
	}
	for i, h := range r.Headers {
		if j, ok := last[h.Key]; !ok || j != i {
			rec.Headers = append(rec.Headers, h)
			continue
		}
		v := string(h.Value)
		switch h.Key {
		case HeaderStage:
			rec.Stage = v
		case HeaderError:
			rec.Error = v
		case HeaderTopic:
			rec.SourceTopic = v
		case HeaderPartition:
			if p, err := strconv.ParseInt(v, 10, 32); err == nil {
				rec.SourcePartition = int32(p)
			}
		case HeaderOffset:
			if o, err := strconv.ParseInt(v, 10, 64); err == nil {
				rec.SourceOffset = o
			}
		case HeaderSchemaID:
			if id, err := strconv.Atoi(v); err == nil {
				rec.SchemaID = id
			}
		}
	}
	return rec
}

// DeadLetterStage is the stage of dead letter r: its last rdg.stage
// header, the one rdg added (see ParseDeadLetter).
func DeadLetterStage(r *kgo.Record) string {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == HeaderStage {
			return string(r.Headers[i].Value)
		}
	}
	return ""
}
