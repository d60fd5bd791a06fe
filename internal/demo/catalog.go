package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// TopicTitles is the title catalogue: a compacted topic keyed by title_id,
// one rdg.demo.Title per title, film, show or game. It is the side input of
// the example jobs (enrich: {topic: catalog.titles, key: title_id}), not a
// source topic: it holds the current state of each title, not events.
const TopicTitles = "catalog.titles"

// Title kinds.
const (
	KindShow = "show"
	KindFilm = "film"
	KindGame = "game"
)

// TitleSchema is the value schema of TopicTitles (record rdg.demo.Title).
const TitleSchema = `{
  "type": "record",
  "name": "Title",
  "namespace": "rdg.demo",
  "doc": "A title of the catalogue: a show, a film or a game. Keyed by title_id.",
  "fields": [
    {"name": "title_id", "type": "string", "doc": "t-00042 for shows and films, g-007 for games: the title_id and game_id of the events"},
    {"name": "name", "type": "string"},
    {"name": "genre", "type": "string"},
    {"name": "kind", "type": "string", "doc": "show, film or game; only shows have episodes"}
  ]
}`

// Title is the Go value of a TopicTitles record.
type Title struct {
	TitleID string `avro:"title_id"`
	Name    string `avro:"name"`
	Genre   string `avro:"genre"`
	Kind    string `avro:"kind"` // KindShow, KindFilm or KindGame
}

// Parsed with a private cache, like the event schemas, so that no other
// rdg.demo.Title can clash with it in hamba's global cache.
var titleSchema = func() avro.Schema {
	s, err := avro.ParseWithCache(TitleSchema, "", &avro.SchemaCache{})
	if err != nil {
		panic(err)
	}
	return s
}()

// Catalog returns every title the generator for cfg can emit: its shows and
// films (title_id "t-00042", a show exactly when the generator gives it
// seasons and episodes) and its games ("g-007"), in id order. Only Seed and
// Members matter, as for the events. It builds the generator's world to
// get the ids and kinds from the one place that decides them, so it costs
// what New costs. Names and genres come from a random stream of their own,
// so that they cannot perturb the world or the events.
func Catalog(cfg Config) []Title {
	cfg.Topics = nil // irrelevant to the world, and New panics on bad ones
	w := New(cfg).w
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x636174616c6f67)) // "catalog"
	n := newNamer(r)
	out := make([]Title, 0, len(w.titles)+len(w.games))
	for i := range w.titles {
		t := &w.titles[i]
		kind, genre := KindFilm, filmGenres.pick(r)
		if t.show() {
			kind, genre = KindShow, showGenres.pick(r)
		}
		out = append(out, Title{TitleID: t.id, Name: n.title(), Genre: genre, Kind: kind})
	}
	for _, id := range w.games {
		out = append(out, Title{TitleID: id, Name: n.game(), Genre: gameGenres.pick(r), Kind: KindGame})
	}
	return out
}

// ProduceCatalog creates TopicTitles if it does not exist (compacted, one
// partition: a small table whose order matters per key only), registers
// TitleSchema under "catalog.titles-value", and produces every title of
// Catalog(cfg), keyed by title_id, waiting for all acknowledgements. It
// returns the number of titles acknowledged. Running it again is harmless:
// compaction keeps one record per title.
func ProduceCatalog(ctx context.Context, cl *kgo.Client, reg *sr.Client, cfg Config) (int, error) {
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, TopicTitles)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("demo: create topic %s: %w", TopicTitles, err)
	}
	subject := TopicTitles + "-value"
	ss, err := reg.CreateSchema(ctx, subject, sr.Schema{Schema: TitleSchema, Type: sr.TypeAvro})
	if err != nil {
		return 0, fmt.Errorf("demo: register schema %s: %w", subject, err)
	}
	hdr := []byte{0, byte(ss.ID >> 24), byte(ss.ID >> 16), byte(ss.ID >> 8), byte(ss.ID)}

	titles := Catalog(cfg)
	recs := make([]*kgo.Record, len(titles))
	for i := range titles {
		body, err := avro.Marshal(titleSchema, &titles[i])
		if err != nil {
			return 0, fmt.Errorf("demo: encode title %s: %w", titles[i].TitleID, err)
		}
		recs[i] = &kgo.Record{
			Topic: TopicTitles,
			Key:   []byte(titles[i].TitleID),
			Value: append(hdr[:len(hdr):len(hdr)], body...),
		}
	}
	n := 0
	var first error
	for _, res := range cl.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			if first == nil {
				first = res.Err
			}
			continue
		}
		n++
	}
	if first != nil {
		return n, fmt.Errorf("demo: produce %s: %w", TopicTitles, first)
	}
	return n, nil
}

// weighted is a fixed list of choices with weights, so that a catalogue
// has more dramas than westerns, as a real one does.
type weighted struct {
	names []string
	s     sampler
}

func newWeighted(pairs ...any) weighted {
	var w weighted
	var ws []float64
	for i := 0; i < len(pairs); i += 2 {
		w.names = append(w.names, pairs[i].(string))
		ws = append(ws, float64(pairs[i+1].(int)))
	}
	w.s = newSampler(ws, nil)
	return w
}

func (w *weighted) pick(r *rand.Rand) string { return w.names[w.s.sample(r)] }

var (
	filmGenres = newWeighted("drama", 22, "comedy", 18, "thriller", 12, "action", 12, "romance", 8,
		"horror", 7, "documentary", 7, "sci-fi", 6, "animation", 5, "crime", 3)
	showGenres = newWeighted("drama", 20, "comedy", 16, "crime", 14, "reality", 10, "documentary", 9,
		"sci-fi", 8, "anime", 8, "kids", 8, "thriller", 7)
	gameGenres = newWeighted("puzzle", 20, "casual", 18, "action", 15, "arcade", 12, "strategy", 10,
		"trivia", 9, "adventure", 9, "racing", 7)
)

var (
	adjectives = [...]string{
		"Silent", "Broken", "Hidden", "Golden", "Last", "Crimson", "Midnight", "Frozen", "Wild", "Lost",
		"Burning", "Quiet", "Electric", "Hollow", "Endless", "Savage", "Bright", "Northern", "Fallen", "Secret",
		"Velvet", "Iron", "Paper", "Glass", "Little", "Distant", "Restless", "Sunday", "Lucky", "Dark",
	}
	nouns = [...]string{
		"Harbor", "Kingdom", "Signal", "Orchard", "Frontier", "Empire", "Garden", "River", "Protocol", "Island",
		"Station", "Crown", "Season", "Horizon", "Witness", "Archive", "Circus", "Machine", "Summer", "Border",
		"Lighthouse", "Verdict", "Dynasty", "Estate", "Academy", "Diner", "Reckoning", "Tide", "Mirror", "Highway",
	}
	places = [...]string{
		"Berlin", "Lagos", "Kyoto", "the North", "São Paulo", "the Valley", "Mars", "Havana", "Seoul", "the Deep",
		"Marseille", "Oaxaca", "Mumbai", "Glasgow", "Tomorrow", "the Delta",
	}
	gamePrefixes = [...]string{
		"Pixel", "Neon", "Star", "Crystal", "Dungeon", "Turbo", "Word", "Block", "Sky", "Galaxy",
		"Jungle", "Rocket", "Shadow", "Candy", "Monster", "Tiny",
	}
	gameSuffixes = [...]string{
		"Quest", "Rush", "Blitz", "Tactics", "Legends", "Run", "Match", "Builder", "Saga", "Arena",
		"Drift", "Heroes", "Mania", "Escape",
	}
)

// namer makes plausible names from word lists. A name drawn again becomes
// a sequel ("Neon Rush 2"), so that names are unique within a catalogue
// and a name search finds one title.
type namer struct {
	r    *rand.Rand
	seen map[string]int
}

func newNamer(r *rand.Rand) *namer { return &namer{r: r, seen: make(map[string]int)} }

func (n *namer) title() string {
	a, b := adjectives[n.r.IntN(len(adjectives))], nouns[n.r.IntN(len(nouns))]
	var s string
	switch n.r.IntN(4) {
	case 0:
		s = "The " + a + " " + b
	case 1:
		s = a + " " + b
	case 2:
		s = b + " of " + places[n.r.IntN(len(places))]
	default:
		s = "The " + b
	}
	return n.unique(s)
}

func (n *namer) game() string {
	return n.unique(gamePrefixes[n.r.IntN(len(gamePrefixes))] + " " + gameSuffixes[n.r.IntN(len(gameSuffixes))])
}

func (n *namer) unique(s string) string {
	n.seen[s]++
	if k := n.seen[s]; k > 1 {
		return fmt.Sprintf("%s %d", s, k)
	}
	return s
}
