package api

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// The committed code must be what the pinned plugins make of the committed
// .proto files; otherwise someone edited one without the other.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the protoc plugins")
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc not installed (Debian: protobuf-compiler)")
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "../../proto/generate.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate.sh: %v\n%s", err, b)
	}
	fresh := generatedFiles(t, filepath.Join(out, "internal", "api"))
	committed := generatedFiles(t, ".")
	for name, want := range fresh {
		got, ok := committed[name]
		switch {
		case !ok:
			t.Errorf("%s: not committed; run go generate ./internal/api", name)
		case !bytes.Equal(got, want):
			t.Errorf("%s: differs from a fresh generation; run go generate ./internal/api", name)
		}
	}
	for name := range committed {
		if _, ok := fresh[name]; !ok {
			t.Errorf("%s: generated from a .proto file that no longer exists", name)
		}
	}
}

// protocVersion matches the header line that records which protoc made the
// file; a different Debian release must not fail the comparison.
var protocVersion = regexp.MustCompile(`(?m)^// \tprotoc +v.*$`)

func generatedFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if m, _ := filepath.Match("*.pb.go", d.Name()); !m {
			if m, _ := filepath.Match("*.connect.go", d.Name()); !m {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = protocVersion.ReplaceAll(b, nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
