package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A second Acquire of a directory fails at once, naming the holder's pid
// and the directory. flock locks belong to an open file, so a second
// Acquire in the same process meets the first as another process's
// would (e2e/datadir_test.go does it with two processes).
func TestAcquireRefusesSecondOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want a *HeldError", err)
	}
	if held.PID != os.Getpid() {
		t.Errorf("HeldError.PID = %d, want %d", held.PID, os.Getpid())
	}
	for _, want := range []string{dir, "pid " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

// A lock file left by a process that is gone, whatever it holds, does not
// stop the next owner, which writes its own pid into it.
func TestAcquireIgnoresStalePID(t *testing.T) {
	for _, stale := range []string{"999999\n", "", "not a pid", strings.Repeat("9", 40)} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, LockFile), []byte(stale), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Acquire(dir)
		if err != nil {
			t.Fatalf("lock file holding %q: %v", stale, err)
		}
		b, err := os.ReadFile(filepath.Join(dir, LockFile))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != strconv.Itoa(os.Getpid()) {
			t.Errorf("lock file holds %q after Acquire, want this pid %d", got, os.Getpid())
		}
		l.Release()
	}
}

// After Acquire, what the process creates with the modes libraries use
// (0644, 0755) is private, and the directory itself is 0700.
func TestAcquireMakesFilesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	sub := filepath.Join(dir, "kafka")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(sub, "0.dat")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, sub: 0o700, f: 0o600, filepath.Join(dir, LockFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %#o, want %#o", path, got, want)
		}
	}
	if err := CheckPrivate(dir); err != nil {
		t.Errorf("CheckPrivate of a new data directory: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivate(dir); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("CheckPrivate of a 0755 directory: %v, want advice to chmod 700", err)
	}
}
