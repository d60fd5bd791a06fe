package engine

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/job"
)

// TestInitGolden makes a job from every schema under testdata/init and
// compares it with the sibling .golden file (-update rewrites them), then
// checks it as `rdg job check` does, beside its schema: every skeleton
// must compile against the schema it was made from.
func TestInitGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "init", "*.avsc"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".avsc")
		t.Run(name, func(t *testing.T) {
			got := initAndCheck(t, path)
			golden := strings.TrimSuffix(path, ".avsc") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestInitGolden -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("Init(%s) differs from %s\n--- got\n%s--- want\n%s", path, golden, got, want)
			}
		})
	}
}

// The demo's schemas give jobs that check as they are.
func TestInitNetflixSchemas(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "netflix", "schemas", "*.avsc"))
	if err != nil || len(files) < 3 {
		t.Fatalf("demo schemas: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { initAndCheck(t, f) })
	}
}

// initAndCheck makes a job from the schema file at path, writes it and
// the schema into a directory of their own, Loads it and returns its text.
func initAndCheck(t *testing.T, path string) []byte {
	t.Helper()
	sch, err := job.SchemaFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text, err := job.Init(sch, job.InitOptions{Topic: job.DefaultTopic("", sch), SchemaFile: filepath.Base(path), From: "schema file " + filepath.Base(path)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), src, 0o644); err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, text, 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := Load(job)
	if err != nil {
		t.Fatalf("rdg job check fails on the job init made:\n%v\n%s", err, text)
	}
	if j.Reader == nil || len(j.NodeTypes()) == 0 {
		t.Fatalf("job without reader schema or nodes:\n%s", text)
	}
	// The commented examples built from the schema's fields are valid too:
	// uncommented (all but placeholders), the job still checks.
	examples := uncommentExamples(string(text))
	if err := os.WriteFile(job, []byte(examples), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(job); err != nil {
		t.Fatalf("the job's commented examples do not check:\n%v\n%s", err, examples)
	}
	return text
}

func TestInitRefuses(t *testing.T) {
	for _, tc := range []struct{ name, schema, topic, job, want string }{
		{"not a record", `"string"`, "t", "", "want a record schema, got string"},
		{"no id field", `{"type":"record","name":"r","fields":[{"name":"x","type":"double"},{"name":"y","type":{"type":"array","items":"string"}}]}`, "t", "", "no string or integer field"},
		{"bad name", `{"type":"record","name":"r","fields":[{"name":"id","type":"string"}]}`, "t", "Bad Name", "job name"},
		{"no topic", `{"type":"record","name":"r","fields":[{"name":"id","type":"string"}]}`, "", "", "no topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sch, err := avro.ParseWithCache(tc.schema, "", &avro.SchemaCache{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = job.Init(sch, job.InitOptions{Topic: tc.topic, Name: tc.job})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Init = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

var commentedCodeRE = regexp.MustCompile(`^(\s*)# (.+)$`)

// uncommentExamples uncomments the commented keys after the job's name,
// except those that are placeholders for what the schema cannot say (a
// side input, another node's id field, a schema file).
func uncommentExamples(text string) string {
	lines := strings.Split(text, "\n")
	body, skipBlock := false, false
	for i, l := range lines {
		if strings.HasPrefix(l, "name: ") {
			body = true
		}
		m := commentedCodeRE.FindStringSubmatch(l)
		if !body || m == nil {
			skipBlock = false
			continue
		}
		nested := strings.HasPrefix(m[2], " ")
		if skipBlock && nested {
			continue
		}
		placeholder := false
		for _, p := range []string{"enrich", "schema:", "ts_field", "name: expression", "edges:"} {
			placeholder = placeholder || strings.Contains(m[2], p)
		}
		skipBlock = placeholder && !nested && m[1] == ""
		if !placeholder {
			lines[i] = m[1] + m[2]
		}
	}
	return strings.Join(lines, "\n")
}
