package jobrun

import (
	"context"
	"fmt"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/engine"
)

// ProducerCompression is the producer option for a job's graph records:
// its tuning.compression codec, or no compression from brokers too old
// for that codec (zstd needs Kafka 2.1), as with franz-go's default
// preference. Everything that writes a job's graph records uses it.
func ProducerCompression(j *engine.Job) kgo.Opt {
	return kgo.ProducerBatchCompression(CompressionCodec(j.Spec.Tuning.Defaults().Compression), kgo.NoCompression())
}

// CompressionCodec is the franz-go codec of name (one of Compressions).
func CompressionCodec(name string) kgo.CompressionCodec {
	switch name {
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "none":
		return kgo.NoCompression()
	}
	return kgo.SnappyCompression()
}

// SubjectSchema is the latest Avro schema registered under subject.
func SubjectSchema(ctx context.Context, reg *sr.Client, subject string) (avro.Schema, error) {
	got, err := reg.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		return nil, fmt.Errorf("subject %s: %w", subject, err)
	}
	if got.Type != sr.TypeAvro {
		return nil, fmt.Errorf("subject %s: schema type %s is not Avro", subject, got.Type)
	}
	if len(got.References) > 0 {
		return nil, fmt.Errorf("subject %s: schemas with references are not supported", subject)
	}
	sch, err := avro.ParseWithCache(got.Schema.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("subject %s: %w", subject, err)
	}
	return sch, nil
}
