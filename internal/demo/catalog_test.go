package demo

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/enrich"
	"github.com/rdgraph/rdg/internal/kafka"
)

// Every title_id and game_id an event can carry is in the catalogue, with
// the kind the events imply: episodes for shows only.
func TestCatalogMatchesGenerator(t *testing.T) {
	cfg := Config{Seed: 11, Members: 400, Start: testStart}
	cat := Catalog(cfg)
	byID := make(map[string]Title, len(cat))
	for _, ti := range cat {
		if _, dup := byID[ti.TitleID]; dup {
			t.Fatalf("title %s twice", ti.TitleID)
		}
		byID[ti.TitleID] = ti
		if ti.Name == "" || ti.Genre == "" {
			t.Fatalf("title %+v lacks a name or genre", ti)
		}
	}
	nt, ng := catalogSizes(cfg.Members)
	if len(cat) != nt+ng {
		t.Fatalf("%d titles, want %d titles and %d games", len(cat), nt, ng)
	}

	seen := map[string]bool{}
	g := New(cfg)
	for range 100_000 {
		switch v := g.Next().Value.(type) {
		case *Playback:
			ti, ok := byID[v.TitleID]
			switch {
			case !ok:
				t.Fatalf("playback of %s, not in the catalogue", v.TitleID)
			case v.EpisodeID != nil && ti.Kind != KindShow:
				t.Fatalf("episode %s of %s, which the catalogue says is a %s", *v.EpisodeID, v.TitleID, ti.Kind)
			case v.EpisodeID == nil && ti.Kind != KindFilm:
				t.Fatalf("playback of %s without an episode, which the catalogue says is a %s", v.TitleID, ti.Kind)
			}
			seen[ti.Kind] = true
		case *Game:
			if ti, ok := byID[v.GameID]; !ok || ti.Kind != KindGame {
				t.Fatalf("game %s: catalogue has %+v, %v", v.GameID, ti, ok)
			}
			seen[KindGame] = true
		}
	}
	if len(seen) != 3 {
		t.Fatalf("events covered kinds %v; the test needs all three", seen)
	}

	// Beyond the ids the events happened to use: the catalogue is the
	// generator's world, title for title.
	w := New(cfg).w
	for i, tt := range w.titles {
		if want := map[bool]string{true: KindShow, false: KindFilm}[tt.show()]; cat[i].TitleID != tt.id || cat[i].Kind != want {
			t.Fatalf("catalogue[%d] = %+v, world has %s (%s)", i, cat[i], tt.id, want)
		}
	}
	for i, id := range w.games {
		if c := cat[len(w.titles)+i]; c.TitleID != id || c.Kind != KindGame {
			t.Fatalf("catalogue[%d] = %+v, world has game %s", len(w.titles)+i, c, id)
		}
	}
}

func TestCatalogDeterministic(t *testing.T) {
	a := Catalog(Config{Seed: 3, Members: 200})
	// Topics, Rate and Start shape events only, not the world.
	b := Catalog(Config{Seed: 3, Members: 200, Topics: []string{TopicGames}, Rate: 5, Start: testStart})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed and members, different catalogues")
	}
	c := Catalog(Config{Seed: 4, Members: 200})
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > len(a)/10 {
		t.Fatalf("seeds 3 and 4 share %d of %d titles", same, len(a))
	}
	names := map[string]bool{}
	for _, ti := range Catalog(Config{Seed: 1}) { // default members: 500 titles, 50 games
		if names[ti.Name] {
			t.Fatalf("name %q twice", ti.Name)
		}
		names[ti.Name] = true
	}
	if d := Catalog(Config{Seed: 1}); d[len(d)-1].TitleID != "g-050" || d[6].TitleID != "t-00007" {
		t.Fatalf("ids %s .. %s", d[6].TitleID, d[len(d)-1].TitleID)
	}
}

// ProduceCatalog makes a compacted one-partition topic that a side input
// materialises to exactly the catalogue.
func TestProduceCatalog(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{Seed: 9, Members: 300}
	n, err := ProduceCatalog(ctx, e.cl, e.reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cat := Catalog(cfg)
	if n != len(cat) {
		t.Fatalf("produced %d, catalogue has %d", n, len(cat))
	}
	// Again: the topic exists and the schema is already registered.
	if n2, err := ProduceCatalog(ctx, e.cl, e.reg, cfg); err != nil || n2 != n {
		t.Fatalf("second run: %d, %v", n2, err)
	}

	topics, err := e.adm.ListTopics(ctx, TopicTitles)
	if err != nil || len(topics[TopicTitles].Partitions) != 1 {
		t.Fatalf("topic %s: %+v, %v; want 1 partition", TopicTitles, topics[TopicTitles], err)
	}
	rcs, err := e.adm.DescribeTopicConfigs(ctx, TopicTitles)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(TopicTitles, nil)
	if err != nil {
		t.Fatal(err)
	}
	if policy := configValue(rc, "cleanup.policy"); policy != "compact" {
		t.Fatalf("cleanup.policy = %q, want compact", policy)
	}

	tab, err := enrich.StartTopic(ctx, enrich.TopicConfig{
		Cluster: kafka.Cluster{Seeds: e.addrs},
		Topic:   TopicTitles,
		Schemas: codec.NewSchemas(e.reg),
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if tab.Len() != len(cat) || tab.Errors() != 0 || tab.Records() != int64(2*n) {
		t.Fatalf("table: %d rows, %d errors, %d records; want %d rows from %d records", tab.Len(), tab.Errors(), tab.Records(), len(cat), 2*n)
	}
	for _, ti := range cat {
		row, ok := tab.Lookup(ti.TitleID)
		want := map[string]any{"title_id": ti.TitleID, "name": ti.Name, "genre": ti.Genre, "kind": ti.Kind}
		if !ok || !reflect.DeepEqual(row, want) {
			t.Fatalf("row %s = %v, want %v", ti.TitleID, row, want)
		}
	}
}

func configValue(rc kadm.ResourceConfig, key string) string {
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}
