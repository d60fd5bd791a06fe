// Package codec owns the bytes rdg reads and writes on Kafka: the cache
// that resolves a schema id to a parsed writer schema through a schema
// registry, the record layout of the graph topics (rdg.node.<type> and
// rdg.edge.<type>: keys, Avro value schemas, encoding) and the dead-letter
// format (topic names and rdg.* headers, deadletter.go). The Confluent
// framing and the bounded decoding of Avro bodies are package avrowire's;
// codec re-exports their names (avrowire.go).
//
// codec knows the graph data model and the registry's client API. It must
// not know jobs, stores or serving: both the jobs that publish graph
// elements and the writer that stores them use it, so the wire formats
// they share have a single definition.
package codec

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// ErrRegistryUnavailable wraps failures to reach the registry. Unlike an
// unknown schema id it says nothing about the record, so callers retry
// rather than reject the record.
var ErrRegistryUnavailable = errors.New("schema registry unavailable")

// UnknownSchemaError reports a schema id the registry could not resolve.
type UnknownSchemaError struct {
	ID  int
	Err error
}

func (e *UnknownSchemaError) Error() string {
	return fmt.Sprintf("schema id %d: %v", e.ID, e.Err)
}

func (e *UnknownSchemaError) Unwrap() error { return e.Err }

// Schemas resolves schema ids to parsed Avro schemas through a registry and
// caches them for the life of the process: a schema id never changes
// meaning, so entries need no invalidation. Failed lookups are not cached,
// so a schema registered after a record referencing it arrived is picked up
// on the next record. Schemas is safe for concurrent use.
type Schemas struct {
	reg *sr.Client

	mu    sync.RWMutex
	byID  map[int]avro.Schema
	cache *avro.SchemaCache
}

// NewSchemas returns a cache backed by reg.
func NewSchemas(reg *sr.Client) *Schemas {
	return &Schemas{reg: reg, byID: make(map[int]avro.Schema), cache: &avro.SchemaCache{}}
}

// ByID returns the schema registered under id.
func (s *Schemas) ByID(ctx context.Context, id int) (avro.Schema, error) {
	s.mu.RLock()
	sch, ok := s.byID[id]
	s.mu.RUnlock()
	if ok {
		return sch, nil
	}
	if s.reg == nil {
		return nil, &UnknownSchemaError{ID: id, Err: errors.New("no schema registry to look it up in")}
	}
	got, err := s.reg.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, &UnknownSchemaError{ID: id, Err: errors.New("not found in the schema registry")}
		}
		return nil, fmt.Errorf("%w: schema id %d: %v", ErrRegistryUnavailable, id, err)
	}
	if got.Type != sr.TypeAvro {
		return nil, &UnknownSchemaError{ID: id, Err: fmt.Errorf("schema type %s is not Avro", got.Type)}
	}
	// A private cache per schema: named types of one registered schema must
	// not leak into the parse of an unrelated one.
	sch, err = avro.ParseWithCache(got.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, &UnknownSchemaError{ID: id, Err: fmt.Errorf("parse: %w", err)}
	}
	s.mu.Lock()
	s.byID[id] = sch
	s.mu.Unlock()
	return sch, nil
}

// Unmarshal decodes an Avro body, written with schema, into v, strictly and
// within the default Limits (DefaultDecoder): unlike avro.Unmarshal, which
// treats running out of data between fields as success, a body that is cut
// short or longer than its record is an error, and so is one that claims
// more than it holds.
func Unmarshal(schema avro.Schema, body []byte, v any) error {
	return DefaultDecoder.Unmarshal(schema, body, v)
}

// Register registers schema under subject and returns its id.
func Register(ctx context.Context, reg *sr.Client, subject, schema string) (int, error) {
	ss, err := reg.CreateSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	if err != nil {
		return 0, fmt.Errorf("register schema for subject %s: %w", subject, err)
	}
	return ss.ID, nil
}
