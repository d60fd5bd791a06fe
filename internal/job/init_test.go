package job

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// Init lists every field of the schema, with the type the checker gives
// it. (The jobs Init writes are checked in package engine, which compiles
// them.)
func TestInitListsEveryField(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "engine", "testdata", "init", "*.avsc"))
	if err != nil || len(files) == 0 {
		t.Fatalf("init schemas: %v %v", files, err)
	}
	netflix, _ := filepath.Glob(filepath.Join("..", "..", "examples", "netflix", "schemas", "*.avsc"))
	for _, path := range append(files, netflix...) {
		sch, err := SchemaFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text, err := Init(sch, InitOptions{Topic: DefaultTopic("", sch), SchemaFile: filepath.Base(path), From: "schema file " + filepath.Base(path)})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, f := range flatten(sch.(*avro.RecordSchema)) {
			if !strings.Contains(string(text), "#   "+strings.Repeat("  ", f.depth)+f.path+" ") {
				t.Errorf("%s: field %s not listed:\n%s", path, f.path, text)
			}
		}
	}
}

func TestInitNames(t *testing.T) {
	for in, want := range map[string]string{
		"member_id": "member", "movieId": "movie", "storeID": "store", "titleRatingId": "title_rating",
		"HTTPRequestId": "http_request", "x-y_id": "x_y", "9lives_id": "n_9lives",
	} {
		if got, ok := idName(in, "rec"); !ok || got != want {
			t.Errorf("idName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"valid", "paid", "android", "_id"} {
		if got, ok := idName(in, "rec"); ok {
			t.Errorf("idName(%q) = %q: not an id", in, got)
		}
	}
	for in, want := range map[string]string{"member.playback": "member.playback", "Orders V2": "orders-v2", "__x": "x", "!!!": "job"} {
		if got := jobNameOf(in); got != want {
			t.Errorf("jobNameOf(%q) = %q, want %q", in, got, want)
		}
	}
	var errs Errors
	if _, err := Parse("x", []byte("name: "+jobNameOf("Orders V2")+"\nsource: {topic: t}\nnodes: [{type: a, id: x}]\n")); errors.As(err, &errs) {
		t.Fatal(err)
	}
}
