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

// Limits on a schema's shape. hamba's parser and compatibility check take
// time that grows faster than the schema: quadratic in a record's fields,
// an enum's symbols and a union's branches, about cubic in nesting depth,
// so that a body of a few hundred KB could hold the registry's write lock
// for minutes while every registration waited. Within these limits the
// costliest schema a 1 MiB body can carry is parsed and checked in
// seconds.
const (
	maxNesting  = 256  // JSON objects and arrays inside each other
	maxFields   = 1000 // per record
	maxSymbols  = 1000 // per enum
	maxBranches = 100  // per union
)

// parseRequested is parseAvro for a schema a request brings, within the
// limits; stored schemas are parsed without them, so that a schema already
// in the topic (written by another registry, or under other limits) stays
// usable.
func parseRequested(text string) (avro.Schema, string, error) {
	if err := checkNesting(text); err != nil {
		return nil, "", err
	}
	s, norm, err := parseAvro(text)
	if err != nil {
		return nil, "", err
	}
	if err := checkSize(s); err != nil {
		return nil, "", err
	}
	return s, norm, nil
}

// errTooComplex is a schema beyond the limits above.
type errTooComplex struct{ msg string }

func (e errTooComplex) Error() string { return e.msg }

// checkNesting refuses JSON nested deeper than maxNesting before it is
// parsed, since parsing alone is superlinear in the depth.
func checkNesting(text string) error {
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxNesting {
				return errTooComplex{fmt.Sprintf("schema nested more than %d levels deep", maxNesting)}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// checkSize refuses records, enums and unions beyond the limits. Named
// types are visited once, so a recursive schema ends.
func checkSize(s avro.Schema) error {
	seen := map[avro.Schema]bool{}
	var walk func(avro.Schema) error
	walk = func(s avro.Schema) error {
		if seen[s] {
			return nil
		}
		seen[s] = true
		switch t := s.(type) {
		case *avro.RecordSchema:
			if n := len(t.Fields()); n > maxFields {
				return errTooComplex{fmt.Sprintf("record %s has %d fields; at most %d are accepted", t.FullName(), n, maxFields)}
			}
			for _, f := range t.Fields() {
				if err := walk(f.Type()); err != nil {
					return err
				}
			}
		case *avro.EnumSchema:
			if n := len(t.Symbols()); n > maxSymbols {
				return errTooComplex{fmt.Sprintf("enum %s has %d symbols; at most %d are accepted", t.FullName(), n, maxSymbols)}
			}
		case *avro.UnionSchema:
			if n := len(t.Types()); n > maxBranches {
				return errTooComplex{fmt.Sprintf("a union has %d branches; at most %d are accepted", n, maxBranches)}
			}
			for _, b := range t.Types() {
				if err := walk(b); err != nil {
					return err
				}
			}
		case *avro.ArraySchema:
			return walk(t.Items())
		case *avro.MapSchema:
			return walk(t.Values())
		}
		return nil
	}
	return walk(s)
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
