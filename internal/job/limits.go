package job

import (
	"fmt"
	"io"
	"os"
)

// Bounds on what a job file can make `rdg job check` (and a job's start)
// read, keep and print. A job file is configuration written by people, but
// the checker is also what an operator runs on a file of unknown origin,
// so nothing in one may make it read without end, block or print without
// end.

// MaxSchemaSize bounds a source schema file (source.schema).
const MaxSchemaSize = 1 << 20

// maxErrors bounds the errors reported for one file; a file with more is
// not a job with mistakes but something else, and a thousand more lines
// would not help.
const maxErrors = 50

// readBounded reads the regular file at path, failing if it holds more
// than limit bytes. Anything else (a FIFO, a device such as /dev/zero, a
// directory) is refused before it is opened: a FIFO would block the open,
// a device never end.
func readBounded(path string, limit int64, what string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", what, fileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes; the limit is %d", what, fi.Size(), limit)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The file may have grown since the Stat.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is more than %d bytes, the limit", what, limit)
	}
	return b, nil
}

// Capped keeps the first maxErrors of es and says how many more there
// were.
func (es Errors) Capped() Errors {
	if len(es) <= maxErrors {
		return es
	}
	more := len(es) - maxErrors
	es = es[:maxErrors:maxErrors]
	return append(es, Error{File: es[0].File, Msg: fmt.Sprintf("too many errors: %d more not shown", more)})
}

// Clip shortens a value quoted in an error message to what a reader can
// use.
func Clip(s string) string {
	const max = 64
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + fmt.Sprintf("... (%d bytes)", len(s))
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
