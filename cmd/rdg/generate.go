package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/demo"
)

type generateFlags struct {
	brokers    string
	registry   string
	partitions int32
	catalog    bool
	cfg        demo.Config
	access     accessFlags
}

func newGenerateCmd() *cobra.Command {
	f := &generateFlags{}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Produce realistic member events (logins, playback, games) as Avro to Kafka",
		Long: `Produce synthetic member events to three topics, Avro in the Confluent wire
format with schemas registered in the schema registry:

  member.logins    member, profile, device, device type, country
  member.playback  member, profile, device, title, episode, position,
                   event type PLAY_START / PLAY_STOP
  member.games     member, profile, device, game, event type GAME_LAUNCH / GAME_EXIT

and, unless --catalog=false, the title catalogue to the compacted topic
catalog.titles (title id, name, genre, kind show/film/game).

Members live in households of one to five: they have profiles and devices
of their own and share the household's TV and tablet; a few also sign in
on another household's screen (account sharing), and a handful of devices
are used by many accounts of unrelated households (the fraud-looking
pattern). Every member first signs in on each of their devices once, in
member order, then at random. Titles and games are shared across members
with a power-law popularity. The same --seed and --members give the same
sequence of events. Stops after --count events or --duration, or on
Ctrl-C; reports progress every few seconds.`,
		Example: `  rdg generate --count 20000 --rate 5000
  rdg generate --duration 10s --rate 500
  rdg generate --history 10m --count 5000 --rate 200
  # To a registry and broker that require credentials and TLS:
  #   rdg generate --count 1000 --registry https://127.0.0.1:8081 \
  #     --credentials-file rdg.credentials --kafka-ca-file cert.pem --registry-ca-file cert.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runGenerate(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	fl.StringVar(&f.registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	fl.Int32Var(&f.partitions, "partitions", 6, "partitions of the source topics if they are created")
	fl.BoolVar(&f.catalog, "catalog", true, "also publish the title catalogue (catalog.titles), the example jobs' side input")
	fl.Int64Var(&f.cfg.Seed, "seed", 1, "seed of the simulated world")
	fl.IntVar(&f.cfg.Members, "members", demo.DefaultMembers, "number of simulated members")
	fl.Int64Var(&f.cfg.Count, "count", 0, "stop after this many events (0: no limit)")
	fl.DurationVar(&f.cfg.Duration, "duration", 0, "stop after this long (0: no limit)")
	fl.DurationVar(&f.cfg.History, "history", 0, "first produce this much backdated history, as fast as the broker takes it (--rate events a second, at most 100,000; counts towards --count)")
	fl.Float64Var(&f.cfg.Rate, "rate", demo.DefaultRate, "events per second across all topics (-1: as fast as possible)")
	atLeast(fl, 1, "partitions", "members")
	atLeast(fl, 0, "count", "duration", "history")
	above(fl, 0, []float64{-1}, "rate")
	f.access.add(cmd, false, true, true)
	return cmd
}

func runGenerate(ctx context.Context, f *generateFlags) error {
	if f.cfg.Count == 0 && f.cfg.Duration == 0 {
		slog.Info("no --count or --duration: generating until interrupted")
	}
	k, err := f.access.kafka(splitList(f.brokers))
	if err != nil {
		return err
	}
	cl, err := k.NewClient(kgo.ProducerLinger(5 * time.Millisecond))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	reg, err := f.access.registryClient(f.registry)
	if err != nil {
		return err
	}
	if err := demo.EnsureTopics(ctx, kadm.NewClient(cl), f.partitions); err != nil {
		return err
	}
	if f.catalog {
		n, err := demo.ProduceCatalog(ctx, cl, reg, f.cfg)
		if err != nil {
			return err
		}
		slog.Info("title catalogue published", "topic", demo.TopicTitles, "titles", n)
	}
	stats, err := demo.Run(ctx, cl, reg, f.cfg, func(s demo.Stats) {
		rate := float64(s.Total()) / max(s.Elapsed.Seconds(), 1e-9)
		slog.Info("producing", "events", s.Total(), "per_second", int64(rate), "errors", s.Errors)
	})
	slog.Info("done", "events", stats.Total(), "by_topic", stats.Events, "elapsed", stats.Elapsed.Round(time.Millisecond))
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
