package registry

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

const defaultLevel = "BACKWARD"

var levels = map[string]bool{
	"NONE":                true,
	"BACKWARD":            true,
	"BACKWARD_TRANSITIVE": true,
	"FORWARD":             true,
	"FORWARD_TRANSITIVE":  true,
	"FULL":                true,
	"FULL_TRANSITIVE":     true,
}

// parseAvro parses a schema and returns it with its normalized form, the
// identity under which ids are reused.
//
// The normalized form is hamba's full JSON (names fully qualified, keys in a
// fixed order, no whitespace), not Schema.String(): String() is the Parsing
// Canonical Form, which drops defaults, docs and aliases. Defaults decide
// compatibility, so two schemas that differ only in a default must be two
// versions, as they are in Confluent's registry.
func parseAvro(text string) (avro.Schema, string, error) {
	// A fresh cache per parse: hamba's default cache is global, and a named
	// type from one subject must not resolve a reference in another.
	s, err := avro.ParseBytesWithCache([]byte(text), "", &avro.SchemaCache{})
	if err != nil {
		return nil, "", err
	}
	norm, err := json.Marshal(s)
	if err != nil {
		return nil, "", err
	}
	return s, string(norm), nil
}

// compatible reports why candidate may not be registered after existing
// (ascending versions, soft-deleted excluded) under level; no messages
// means compatible.
func compatible(level string, candidate avro.Schema, existing []*version, schemas map[int]*schemaEntry) []string {
	if level == "NONE" || len(existing) == 0 {
		return nil
	}
	if !strings.HasSuffix(level, "_TRANSITIVE") {
		existing = existing[len(existing)-1:]
	}
	backward := strings.HasPrefix(level, "BACKWARD") || strings.HasPrefix(level, "FULL")
	forward := strings.HasPrefix(level, "FORWARD") || strings.HasPrefix(level, "FULL")

	var msgs []string
	for i := len(existing) - 1; i >= 0; i-- {
		v := existing[i]
		old := schemas[v.id]
		if old == nil || old.parsed == nil {
			msgs = append(msgs, fmt.Sprintf("{oldSchemaVersion: %d, compatibility: '%s', error: 'the stored schema cannot be parsed as Avro'}", v.version, level))
			continue
		}
		if backward {
			if err := check(candidate, old.parsed); err != nil {
				msgs = append(msgs, fmt.Sprintf("{oldSchemaVersion: %d, compatibility: '%s', direction: 'new schema reading data written with version %d', error: '%v'}", v.version, level, v.version, err))
			}
		}
		if forward {
			if err := check(old.parsed, candidate); err != nil {
				msgs = append(msgs, fmt.Sprintf("{oldSchemaVersion: %d, compatibility: '%s', direction: 'version %d reading data written with new schema', error: '%v'}", v.version, level, v.version, err))
			}
		}
	}
	return msgs
}

// check uses a fresh SchemaCompatibility each time: hamba caches results by
// Parsing Canonical Form fingerprint, which ignores defaults, so a shared
// cache would return the verdict for a schema that differs only in a
// default.
func check(reader, writer avro.Schema) error {
	return avro.NewSchemaCompatibility().Compatible(reader, writer)
}
