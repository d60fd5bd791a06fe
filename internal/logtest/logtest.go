// Package logtest is a log sink that a test reads while the code under
// test writes to it from other goroutines, which a bytes.Buffer does not
// allow: one definition instead of a copy in each package whose tests
// search logs.
//
// It is for tests only: no package of rdg's own code may import it, and
// it knows nothing of rdg, only of bytes written and read.
package logtest

import (
	"bytes"
	"log/slog"
	"sync"
)

// Buffer is an io.Writer whose contents can be read at any time. The zero
// value is an empty buffer ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Logger returns a text logger at the default level (info) that writes
// to a new Buffer, and the Buffer.
func Logger() (*slog.Logger, *Buffer) {
	b := &Buffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}
