// Package datadir owns an rdg data directory as a whole: that one process
// at a time writes it, that what is written there is private to the user
// running rdg, and how much room is left on the file system that holds it
// (guard.go).
//
// Its parts — the embedded broker's log (kafka/), the store (store/) — are
// written by libraries that each assume they are the only writer and that
// create their files 0644; two processes on one directory silently
// overwrite each other's acknowledged records. Acquire gives the directory
// one owner and makes the files that follow 0600.
//
// datadir knows file systems and processes, nothing of Kafka, Pebble or
// graphs: what the directory holds is its parts' business.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file in a data directory whose flock says who owns it.
// It holds the owner's pid, for the error a second process reports; the
// kernel releases the lock when the owner exits, however it exits, so a
// pid left behind by a killed process means nothing.
const LockFile = "rdg.lock"

// Lock is the exclusive ownership of a data directory by this process.
type Lock struct {
	dir string
	f   *os.File
}

// HeldError is returned by Acquire when another process owns the
// directory.
type HeldError struct {
	Dir string
	// PID is the owner's process id, 0 if it could not be read.
	PID int
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("another process (pid %d)", e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s: one rdg process per data directory (stop it, or give this one another --data-dir)", e.Dir, who)
}

// Acquire makes this process the owner of dir, creating it (0700) if
// needed, or returns a *HeldError at once if another process owns it. Call
// it before anything writes to dir.
//
// It also makes the process's umask at least 077, for the rest of the
// process's life: the broker and the store create their files and
// directories with 0644 and 0755 and leave the rest to the umask, so this is
// what makes everything they write into dir 0600 and 0700 whatever umask
// rdg was started with. A process that owns a data directory writes
// nothing else that others should read.
func Acquire(dir string) (*Lock, error) {
	privateUmask()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Dir: abs, PID: holder(path)}
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	return &Lock{dir: abs, f: f}, nil
}

// Dir is the locked directory, absolute.
func (l *Lock) Dir() string { return l.dir }

// Release gives up ownership. The lock file stays: removing it could let
// two processes each lock a file of that name, one of them unlinked.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// holder reads the owner's pid from the lock file. An owner writes it
// just after taking the lock, so an empty file is read again for a moment
// before giving up on it.
func holder(path string) int {
	for range 20 {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			pid, err := strconv.Atoi(s)
			if err != nil || pid <= 0 {
				return 0
			}
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

// privateUmask adds 077 to the process's umask. Umask can only be read by
// setting it, so there is an instant in which it is exactly 077: also
// private, so a file created by another goroutine meanwhile is no less
// protected than intended.
func privateUmask() {
	old := syscall.Umask(0o077)
	syscall.Umask(old | 0o077)
}

// CheckPrivate reports, for a warning, if dir can be read or entered by
// users other than its owner: Acquire makes private only what it creates,
// and a data directory created otherwise (by hand, say) keeps its mode.
func CheckPrivate(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("data directory %s has mode %#o: other users can read what rdg stores there (chmod 700 %s)", dir, m, dir)
	}
	return nil
}
