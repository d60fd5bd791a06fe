package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/rdgraph/rdg", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}}}
	for _, tc := range []struct {
		name, ld string
		bi       *debug.BuildInfo
		ok       bool
		want     []string
	}{
		{"ldflags win", "v1.2.3", bi, true, []string{"rdg v1.2.3\n", "commit 0123abcd (dirty: uncommitted changes), 2026-12-01T10:00:00Z\n", "go1.26.8 "}},
		{"module version", "", bi, true, []string{"rdg v0.3.0\n"}},
		{"source build", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true, []string{"rdg devel\n", "commit unknown\n"}},
		{"no build info", "", nil, false, []string{"rdg devel\n", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"}},
	} {
		var out bytes.Buffer
		if err := readBuildInfo(tc.ld, tc.bi, tc.ok).write(&out); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: %q lacks %q", tc.name, out.String(), w)
			}
		}
	}
}

// TestVersionBinary builds rdg with the README's release -ldflags and runs
// `rdg version`: the -X version and the Go version must show. (The
// release build's CGO_ENABLED=0 and -trimpath are left out: they change
// every package's compilation, which would cost minutes here, and not
// how the version is read.)
func TestVersionBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "rdg")
	build := exec.Command("go", "build", "-ldflags", "-s -w -X main.version=v9.8.7", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("rdg version: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || lines[0] != "rdg v9.8.7" || !strings.HasPrefix(lines[1], "commit ") ||
		lines[2] != runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("rdg version printed:\n%s", out)
	}
}
