package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// One process per data directory (issue 16, item 2): while `rdg up` owns
// a data directory, a second `rdg up` (any mode) or `rdg writer run` on it
// exits at once, naming the owner's pid and the directory, before writing
// anything: two owners' embedded brokers would overwrite each other's
// acknowledged records in kafka/. A SIGKILLed owner does not
// block a restart: the kernel drops its lock, and the pid it left in the
// lock file means nothing.
func TestOneProcessPerDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	kafka, reg, api := freePort(t), freePort(t), freePort(t)
	args := []string{"up", "--data-dir", dir, "--kafka-addr", kafka, "--registry-addr", reg, "--api-addr", api}
	owner := startProc(t, "up#1", api, args...)
	owner.awaitReady(t)
	pid := strconv.Itoa(owner.cmd.Process.Pid)

	for _, second := range [][]string{
		{"up", "--no-writer", "--data-dir", dir, "--kafka-addr", freePort(t), "--registry-addr", freePort(t), "--api-addr", freePort(t)},
		{"up", "--demo", "--data-dir", dir, "--kafka-addr", freePort(t), "--registry-addr", freePort(t), "--api-addr", freePort(t)},
		{"writer", "run", "--data-dir", dir, "--brokers", kafka, "--registry", "http://" + reg, "--api-addr", freePort(t)},
	} {
		began := time.Now()
		out, err := runRdg(t, 20*time.Second, second...)
		t.Logf("rdg %s refused in %s", second[0], time.Since(began).Round(time.Millisecond))
		if err == nil {
			t.Errorf("rdg %s exited 0 on a data directory in use:\n%s", strings.Join(second, " "), out)
		}
		for _, want := range []string{"pid " + pid, dir, "in use"} {
			if !strings.Contains(out, want) {
				t.Errorf("rdg %s: output does not say %q:\n%s", strings.Join(second, " "), want, out)
			}
		}
	}
	owner.alive(t)
	if b, err := os.ReadFile(filepath.Join(dir, "rdg.lock")); err != nil || strings.TrimSpace(string(b)) != pid {
		t.Errorf("lock file holds %q (%v), want the owner's pid %s", b, err, pid)
	}

	owner.kill(t)
	began := time.Now()
	restarted := startProc(t, "up#2", api, args...)
	restarted.awaitReady(t)
	t.Logf("restarted after SIGKILL, ready in %s", time.Since(began).Round(time.Millisecond))
	if b, err := os.ReadFile(filepath.Join(dir, "rdg.lock")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(restarted.cmd.Process.Pid) {
		t.Errorf("lock file holds %q (%v) after the restart, want the new owner's pid %d", b, err, restarted.cmd.Process.Pid)
	}
	restarted.term(t)
}

// Data files follow no umask (issue 16, item 9): started with umask 000,
// `rdg up --demo` writes its data directory, the broker's log, the store
// and the demo's job files 0700 and 0600, although kfake and Pebble create
// theirs 0755 and 0644 and leave the rest to the umask.
func TestDataFilesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	api := freePort(t)
	up := startCmd(t, "up", api, exec.Command("sh", "-c", `umask 000 && exec "$0" "$@"`, rdgBinary(t), "up", "--demo", "--demo-rate", "2000",
		"--data-dir", dir, "--kafka-addr", freePort(t), "--registry-addr", freePort(t), "--api-addr", api))
	// Running until the writer has stored elements: the store has tables
	// or a log, the broker segments of every topic.
	await(t, 60*time.Second, func() (bool, string) {
		up.alive(t)
		n := up.metric("rdg_store_elements_written_total")
		return n > 0, fmt.Sprintf("stored elements: %v", n)
	})
	up.term(t)

	var files, dirs int
	var wrong []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
			dirs++
		} else {
			files++
		}
		if fi.Mode().Perm() != want && len(wrong) < 20 {
			wrong = append(wrong, fmt.Sprintf("%s %#o", strings.TrimPrefix(path, dir), fi.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"kafka", "store", "demo"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("the run wrote no %s/: %v", sub, err)
		}
	}
	t.Logf("%d directories, %d files", dirs, files)
	if len(wrong) > 0 {
		t.Errorf("started with umask 000, rdg wrote files not 0600 or directories not 0700 (first %d):\n  %s", len(wrong), strings.Join(wrong, "\n  "))
	}
}
