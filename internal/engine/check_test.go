package engine

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/job"
)

var update = flag.Bool("update", false, "rewrite testdata/check/*.golden with what Load reports")

// knownBugs lists check cases whose golden file holds what Load should
// report but does not yet. They are skipped, not failed, and -update leaves
// their goldens alone.
var knownBugs = map[string]string{}

// TestCheckGolden loads every job file under testdata/check and compares
// the errors Load reports, one per line as file:line:col: message, with the
// sibling .golden file (empty for a valid job). Run with -update to rewrite
// the goldens after a deliberate change, then review the diff.
func TestCheckGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "check", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no job files: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			got := checkOutput(t, path)
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			bug, isBug := knownBugs[name]
			if *update && !isBug {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestCheckGolden -update)", err)
			}
			if got == string(want) {
				if isBug {
					t.Logf("known bug appears fixed, remove it from knownBugs: %s", bug)
				}
				return
			}
			if isBug {
				t.Skipf("BUG: %s\n--- got\n%s--- want\n%s", bug, got, want)
			}
			t.Errorf("Load(%s) errors differ from %s\n--- got\n%s--- want\n%s", path, golden, got, want)
		})
	}
}

// checkOutput is what `rdg job check` would print: every error on its own
// line, or nothing for a valid job.
func checkOutput(t *testing.T, path string) string {
	t.Helper()
	j, err := Load(path)
	if err == nil {
		if j == nil {
			t.Fatal("Load returned neither a job nor an error")
		}
		return ""
	}
	if j != nil {
		t.Errorf("Load returned a job and an error")
	}
	var es job.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Load error is %T, want Errors: %v", err, err)
	}
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintln(&b, e.Error())
	}
	return b.String()
}

func TestCheckFileTooBig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	src := []byte("name: big\nsource: {topic: t}\nnodes: [{type: a, id: x}]\n")
	src = append(src, bytes.Repeat([]byte("# padding\n"), job.MaxFileSize/10+1)...)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var es job.Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("Load(big) = %v, want one error", err)
	}
	want := fmt.Sprintf("%s: job file is %d bytes; the limit is %d", path, len(src), job.MaxFileSize)
	if es[0].Error() != want {
		t.Fatalf("got %q, want %q", es[0].Error(), want)
	}
	// Exactly at the limit is fine.
	if _, err := job.Parse("edge.yaml", append(src[:0:0], src[:job.MaxFileSize]...)); err != nil && strings.Contains(err.Error(), "limit") {
		t.Fatalf("a file of exactly job.MaxFileSize bytes was rejected: %v", err)
	}
}

// Job files that cannot live in testdata: each is refused with one error
// and without reading what it does not need to (a device never ends, a
// FIFO's open would block until a writer came).
func TestCheckHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"device", "/dev/zero", "/dev/zero: job file is a device, not a regular file"},
		{"fifo", fifo, fifo + ": job file is a named pipe, not a regular file"},
		{"directory", dir, dir + ": job file is a directory, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkOutput(t, tc.path); got != tc.want+"\n" {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckMissingFile(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "check", "does-not-exist.yaml"))
	var es job.Errors
	if !errors.As(err, &es) || len(es) != 1 || !strings.Contains(es[0].Error(), "does-not-exist.yaml") {
		t.Fatalf("Load(missing) = %v", err)
	}
}

// The example jobs shipped with rdg must always pass `rdg job check`.
func TestNetflixExamplesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "netflix", "jobs", "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("example jobs: %v %v", files, err)
	}
	for _, f := range files {
		j, err := Load(f)
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
			continue
		}
		if j.Reader == nil {
			t.Errorf("%s: no reader schema; the examples are checked against their .avsc", f)
		}
		if len(j.NodeTypes()) == 0 {
			t.Errorf("%s: no node types", f)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); j.Spec.Name != want {
			t.Errorf("%s: job name %q, want %q (one file per job, named after it)", f, j.Spec.Name, want)
		}
	}
}

func TestPlaybackExampleShape(t *testing.T) {
	j, err := Load(filepath.Join("..", "..", "examples", "netflix", "jobs", "playback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(j.NodeTypes(), ","); got != "account,device,title,episode" {
		t.Errorf("NodeTypes = %s", got)
	}
	if got := strings.Join(j.EdgeTypes(), ","); got != "uses,watched,episode_of" {
		t.Errorf("EdgeTypes = %s (each type once, in file order)", got)
	}
	if j.Spec.Source.Topic != "member.playback" || j.Spec.Source.Start != "earliest" {
		t.Errorf("source = %+v", j.Spec.Source)
	}
}

// The job file example in the README parses and compiles (its reader
// schema aside, which lives beside the examples), with the time bounds it
// shows and max_record_items at its default.
func TestREADMEJobExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Job files")
	if !ok {
		t.Fatal("README has no Job files section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	src, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README's Job files section has no yaml block")
	}
	spec, err := job.Parse("README.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); !spec.TimeBounds.NotBefore.Equal(want) || spec.TimeBounds.MaxAhead != time.Hour {
		t.Fatalf("time_bounds = %+v, want not before %v and 1h ahead", spec.TimeBounds, want)
	}
	if got, want := spec.Tuning.MaxRecordItems, (job.Tuning{}).Defaults().MaxRecordItems; got != want || got != codec.DefaultMaxItems {
		t.Fatalf("max_record_items %d, want the default %d (codec.DefaultMaxItems %d)", got, want, codec.DefaultMaxItems)
	}
	spec.Source.Schema = ""
	if _, err := Compile(spec); err != nil {
		t.Fatal(err)
	}
}
