package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rdgraph/rdg/internal/job"
)

// checkRun runs `rdg job check args...` in dir and returns its stdout,
// stderr and exit status.
func checkRun(t *testing.T, dir string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	return execRdg(t, dir, "", append([]string{"job", "check"}, args...)...)
}

// TestJobCheckFiles runs the rdg binary's `job check` on every job file of
// internal/engine/testdata/check, the hostile ones (hostile_*.yaml: YAML that
// does not parse, an alias bomb, nesting beyond any parser's depth, wrong
// types, unknown keys, expressions that do not compile or would cost
// without bound, inverted time bounds, names that make illegal topics,
// duplicate element mappings, a schema that is a device, more errors than
// anyone reads) among them: each prints exactly its golden file, one
// file:line:column message per line, and exits 1; a valid job prints ok
// and exits 0. Then the files no repository should hold: one over the
// size limit, a device, a FIFO.
func TestJobCheckFiles(t *testing.T) {
	dir := filepath.Join("internal", "engine")
	files, err := filepath.Glob(filepath.Join(dir, "testdata", "check", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no job files: %v", err)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, status := checkRun(t, dir, rel)
			if len(want) == 0 {
				if status != 0 || !strings.HasPrefix(stdout, rel+": ok: job ") {
					t.Fatalf("valid job: exit %d, stdout %q, stderr %q", status, stdout, stderr)
				}
				return
			}
			if status != 1 || stdout != string(want) || stderr != "rdg: 1 of 1 job files have errors\n" {
				t.Fatalf("exit %d, stderr %q; stdout:\n%s--- want exit 1 and:\n%s", status, stderr, stdout, want)
			}
		})
	}

	tmp := t.TempDir()
	huge := filepath.Join(tmp, "huge.yaml")
	src := []byte("name: huge\nsource: {topic: t}\nnodes: [{type: a, id: x}]\n")
	src = append(src, bytes.Repeat([]byte("# padding\n"), job.MaxFileSize/10)...)
	if err := os.WriteFile(huge, src, 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(tmp, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"huge", huge, fmt.Sprintf("%s: job file is %d bytes; the limit is %d\n", huge, len(src), job.MaxFileSize)},
		{"device", "/dev/zero", "/dev/zero: job file is a device, not a regular file\n"},
		{"fifo", fifo, fifo + ": job file is a named pipe, not a regular file\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := checkRun(t, tmp, tc.path)
			if status != 1 || stdout != tc.want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and %q", status, stdout, stderr, tc.want)
			}
		})
	}
}
