package produce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLineBytes bounds a line (a JSON row, or a CSV record with the
// lines its quoted fields span): memory is bounded by it, not by what a
// file holds.
const DefaultMaxLineBytes = 1 << 20

// A LineTooLongError is a line over the maximum; its bytes were skipped,
// not kept.
type LineTooLongError struct {
	Max int
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("longer than %d bytes (--max-line-bytes); the row is skipped unread", e.Max)
}

var bom = []byte("\xef\xbb\xbf")

// lineReader reads lines of at most max bytes. A line ends at \n, and a \r
// before it is dropped; a UTF-8 byte-order mark at the start of the input
// is not part of the first line.
type lineReader struct {
	r    *bufio.Reader
	max  int
	buf  []byte
	line int // number of the last line returned
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line, valid until the following call, or io.EOF.
// A line over the maximum gives a *LineTooLongError and the reader moves
// past it.
func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	tooLong := false
	got := false
	for {
		frag, err := l.r.ReadSlice('\n')
		got = got || len(frag) > 0
		if !tooLong {
			// +2 leaves room for the \r\n that is trimmed below.
			if len(l.buf)+len(frag) > l.max+2 {
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, frag...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if errors.Is(err, io.EOF) && !got {
			return nil, io.EOF
		}
		break
	}
	l.line++
	b := bytes.TrimSuffix(l.buf, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if l.line == 1 {
		b = bytes.TrimPrefix(b, bom)
	}
	if tooLong || len(b) > l.max {
		return nil, &LineTooLongError{Max: l.max}
	}
	return b, nil
}
