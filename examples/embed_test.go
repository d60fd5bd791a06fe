package examples

import (
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
)

// The example's .avsc files document the generator's schemas for job
// authors and `rdg job check`; they must not drift from what it produces.
func TestSchemasMatchGenerator(t *testing.T) {
	files := map[string]string{
		demo.TopicLogins:   "login.avsc",
		demo.TopicPlayback: "playback.avsc",
		demo.TopicGames:    "game.avsc",
	}
	for topic, want := range demo.Schemas() {
		b, err := Netflix().(interface{ ReadFile(string) ([]byte, error) }).ReadFile("schemas/" + files[topic])
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		got := avro.MustParse(string(b)).String()
		if w := avro.MustParse(want).String(); got != w {
			t.Errorf("%s: schemas/%s differs from the generator's schema:\n got %s\nwant %s", topic, files[topic], got, w)
		}
	}
}

func TestWrittenExampleCompiles(t *testing.T) {
	dir, err := WriteNetflix(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"logins.yaml", "playback.yaml", "games.yaml"} {
		j, err := engine.Load(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if j.Reader == nil {
			t.Errorf("%s: no source schema resolved", f)
		}
	}
}
