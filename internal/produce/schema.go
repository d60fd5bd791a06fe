package produce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
)

// Schema is the writer schema records are produced with.
type Schema struct {
	ID      int
	Subject string
	Avro    avro.Schema
	// Registered says that this run registered the schema (or found it
	// already registered) from a file, rather than fetching the subject's
	// latest version.
	Registered bool
}

// maxSchemaBytes bounds a schema file read whole.
const maxSchemaBytes = 16 << 20

// ResolveSchema is the schema to produce with. With file, the schema in it
// is checked and registered under subject (the registry returns the id of
// an identical schema it already has); without, subject's latest version
// is used.
func ResolveSchema(ctx context.Context, reg *sr.Client, subject, file string) (Schema, error) {
	if file != "" {
		st, err := os.Stat(file)
		if err != nil {
			return Schema{}, fmt.Errorf("--schema: %w", err)
		}
		if st.Size() > maxSchemaBytes {
			return Schema{}, fmt.Errorf("--schema %s: %d bytes is not a schema (at most %d)", file, st.Size(), maxSchemaBytes)
		}
		text, err := os.ReadFile(file)
		if err != nil {
			return Schema{}, fmt.Errorf("--schema: %w", err)
		}
		sch, err := avro.ParseWithCache(string(text), "", &avro.SchemaCache{})
		if err != nil {
			return Schema{}, fmt.Errorf("--schema %s is not a valid Avro schema: %w", file, err)
		}
		id, err := codec.Register(ctx, reg, subject, string(text))
		if err != nil {
			return Schema{}, registryHint(err)
		}
		return Schema{ID: id, Subject: subject, Avro: sch, Registered: true}, nil
	}
	ss, err := reg.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return Schema{}, fmt.Errorf("no schema is registered under subject %s: give --schema FILE.avsc to register one, or --subject to name another", subject)
		}
		return Schema{}, registryHint(fmt.Errorf("latest schema of subject %s: %w", subject, err))
	}
	if ss.Type != sr.TypeAvro {
		return Schema{}, fmt.Errorf("subject %s holds a %s schema; rdg produce writes Avro", subject, ss.Type)
	}
	if len(ss.References) > 0 {
		return Schema{}, fmt.Errorf("subject %s's schema references other schemas, which rdg produce does not resolve", subject)
	}
	sch, err := avro.ParseWithCache(ss.Schema.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return Schema{}, fmt.Errorf("subject %s version %d: %w", subject, ss.Version, err)
	}
	return Schema{ID: ss.ID, Subject: subject, Avro: sch}, nil
}

func registryHint(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
		return fmt.Errorf("%w (the registry found the schema incompatible with the subject's earlier versions)", err)
	}
	return err
}
