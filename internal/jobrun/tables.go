package jobrun

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/enrich"
)

// StartTables loads the side inputs j declares that have does not hold:
// topic inputs are materialised and followed until the returned close
// function is called (ready before the job reads its first record), file
// inputs are read once. The job runner and dead-letter replay share it.
func StartTables(ctx context.Context, j *engine.Job, seeds []string, kopts []kgo.Opt, schemas *codec.Schemas,
	have map[string]engine.Lookup, log *slog.Logger) (map[string]engine.Lookup, func(), error) {
	tables := make(map[string]engine.Lookup, len(j.Spec.Enrich))
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for _, e := range j.Spec.Enrich {
		if t, ok := have[e.Name]; ok {
			tables[e.Name] = t
			continue
		}
		switch {
		case e.Topic != "":
			t, err := enrich.StartTopic(ctx, enrich.TopicConfig{Seeds: seeds, KafkaOpts: kopts,
				Topic: e.Topic, Schemas: schemas, Logger: log.With("side_input", e.Name)})
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("side input %s (topic %s): %w", e.Name, e.Topic, err)
			}
			closers = append(closers, t.Close)
			tables[e.Name] = t
			log.Info("side input ready", "input", e.Name, "topic", e.Topic, "rows", t.Len())
		default:
			t, err := enrich.LoadFile(j.EnrichFile(e), e.KeyField)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("side input %s: %w", e.Name, err)
			}
			tables[e.Name] = t
			log.Info("side input loaded", "input", e.Name, "file", j.EnrichFile(e), "rows", t.Len())
		}
	}
	return tables, closeAll, nil
}
