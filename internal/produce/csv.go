package produce

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/rdgraph/rdg/internal/spelling"
)

// A csvField is one field of a CSV record. Quoted tells an empty string
// written "" from an empty field, which is a missing value (as in
// PostgreSQL's CSV format).
type csvField struct {
	text   string
	quoted bool
}

// csvReader reads RFC 4180 records: comma-separated, fields optionally in
// double quotes with "" for a quote, quoted fields spanning lines. Empty
// lines are skipped.
type csvReader struct {
	lr     *lineReader
	rec    []byte
	fields []csvField
}

// A csvSyntaxError is a record that is not well-formed CSV; Column is the
// 1-based field where the problem is, 0 for the record as a whole.
type csvSyntaxError struct {
	Column int
	Msg    string
}

func (e *csvSyntaxError) Error() string { return e.Msg }

// next returns the next record and the line it starts on. Its fields are
// valid until the following call.
func (r *csvReader) next() ([]csvField, int, error) {
	for {
		line, err := r.lr.next()
		start := r.lr.line
		if err != nil {
			return nil, start, err
		}
		if len(line) == 0 {
			continue
		}
		r.rec = append(r.rec[:0], line...)
		// A line that ends inside a quoted field goes on to the next line.
		st := scanCSV(fieldStart, line)
		tooLong := false
		for st == inQuoted {
			more, err := r.lr.next()
			if errors.Is(err, io.EOF) {
				return nil, start, &csvSyntaxError{Msg: fmt.Sprintf("a quoted field opened on this line is not closed by the end of the input (line %d): lines %d to %d are this one row", r.lr.line, start, r.lr.line)}
			}
			var tl *LineTooLongError
			if errors.As(err, &tl) {
				// The line's bytes are gone, and with them where its quotes
				// were: the record ends here.
				return nil, start, err
			}
			if err != nil {
				return nil, start, err
			}
			// Past the maximum the record is only scanned for its end, so
			// that the next record is read from where it starts.
			if !tooLong && len(r.rec)+1+len(more) > r.lr.max {
				tooLong = true
				r.rec = r.rec[:0]
			}
			if !tooLong {
				r.rec = append(append(r.rec, '\n'), more...)
			}
			st = scanCSV(st, more)
		}
		if tooLong {
			return nil, start, &LineTooLongError{Max: r.lr.max}
		}
		f, err := splitCSV(r.rec, r.fields[:0])
		r.fields = f
		return f, start, err
	}
}

// States of scanning a CSV record for where it ends.
type csvState uint8

const (
	fieldStart csvState = iota
	inUnquoted
	inQuoted
	quoteInQuoted // a quote inside a quoted field: its end, or the first of ""
)

// scanCSV advances st over b, so that a record's end is found in one pass
// however many lines its quoted fields span. Malformed quoting is left
// for splitCSV to report.
func scanCSV(st csvState, b []byte) csvState {
	for _, c := range b {
		switch st {
		case fieldStart:
			switch c {
			case '"':
				st = inQuoted
			case ',':
			default:
				st = inUnquoted
			}
		case inUnquoted:
			if c == ',' {
				st = fieldStart
			}
		case inQuoted:
			if c == '"' {
				st = quoteInQuoted
			}
		case quoteInQuoted:
			switch c {
			case '"':
				st = inQuoted
			case ',':
				st = fieldStart
			default:
				st = inUnquoted
			}
		}
	}
	return st
}

func splitCSV(rec []byte, out []csvField) ([]csvField, error) {
	pos := 0
	for col := 1; ; col++ {
		if pos < len(rec) && rec[pos] == '"' {
			var b strings.Builder
			i := pos + 1
			for {
				j := bytes.IndexByte(rec[i:], '"')
				if j < 0 {
					return out, &csvSyntaxError{Column: col, Msg: "quoted field is not closed"}
				}
				b.Write(rec[i : i+j])
				i += j + 1
				if i < len(rec) && rec[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			out = append(out, csvField{text: b.String(), quoted: true})
			pos = i
			if pos < len(rec) && rec[pos] != ',' {
				return out, &csvSyntaxError{Column: col, Msg: `text after the closing quote of a quoted field (a quote inside one is written "")`}
			}
		} else {
			j := bytes.IndexByte(rec[pos:], ',')
			end := len(rec)
			if j >= 0 {
				end = pos + j
			}
			f := rec[pos:end]
			if bytes.IndexByte(f, '"') >= 0 {
				return out, &csvSyntaxError{Column: col, Msg: `a quote inside an unquoted field: quote the whole field and write the quote as ""`}
			}
			out = append(out, csvField{text: string(f)})
			pos = end
		}
		if pos >= len(rec) {
			return out, nil
		}
		pos++ // the comma
	}
}

// csvLayout maps a CSV header to the fields of the converter's record.
type csvLayout struct {
	rs     *recordInfo
	header []string
	col    []int // per field of rs: its column, -1 if the header has none
}

// layout checks a CSV header against the schema: every column a field
// (unless unknown columns are ignored), every field without a default or
// null a column. A mismatch here would fail every row, so it fails the
// file.
func (c *Converter) layout(header []csvField) (*csvLayout, error) {
	rs, ok := deref(c.schema).(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("CSV rows need a record schema, not %s", typeName(c.schema))
	}
	ri, err := c.info(rs)
	if err != nil {
		return nil, err
	}
	l := &csvLayout{rs: ri, col: make([]int, len(ri.fields))}
	for i := range l.col {
		l.col[i] = -1
	}
	seen := map[string]int{}
	for i, h := range header {
		name := strings.TrimSpace(h.text)
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("column %d of the header is not valid UTF-8", i+1)
		}
		l.header = append(l.header, name)
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("column %d of the header, %q, repeats column %d", i+1, name, j+1)
		}
		seen[name] = i
		f, ok := ri.byName[name]
		if !ok {
			if c.ignoreUnknown {
				continue
			}
			msg := fmt.Sprintf("column %d of the header, %q, is not a field of %s", i+1, name, rs.FullName())
			if s := similarField(ri, name); s != "" {
				msg += fmt.Sprintf(" (did you mean %s? the header names the schema's fields exactly)", s)
			}
			return nil, fmt.Errorf("%s; its fields: %s; --ignore-unknown skips such columns", msg, fieldNames(ri))
		}
		l.col[f] = i
	}
	for i, f := range ri.fields {
		if l.col[i] < 0 && !f.hasDef && f.nullIdx < 0 {
			return nil, fmt.Errorf("the header has no column for field %s (%s), which has no default", f.name, typeName(f.typ))
		}
	}
	return l, nil
}

func fieldNames(ri *recordInfo) string {
	names := make([]string, len(ri.fields))
	for i, f := range ri.fields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// similarField is the field name is most likely a misspelling of: one
// that differs only in case and underscores (userId for user_id), else the
// nearest by spelling, "" if none is near.
func similarField(ri *recordInfo, name string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	names := make([]string, len(ri.fields))
	for i, f := range ri.fields {
		if norm(f.name) == norm(name) {
			return f.name
		}
		names[i] = f.name
	}
	return spelling.Suggest(name, names)
}

// A cellError is a conversion error in a column of a CSV row.
type cellError struct {
	col int // 0-based
	err error
}

func (e *cellError) Error() string { return e.err.Error() }
func (e *cellError) Unwrap() error { return e.err }

// appendCSV appends the Avro encoding of a CSV row laid out by l. An
// unquoted empty field is a missing value: null if the field can be null,
// else its default, else an error.
func (c *Converter) appendCSV(dst []byte, l *csvLayout, fields []csvField) ([]byte, error) {
	if len(fields) != len(l.header) {
		return nil, fmt.Errorf("the row has %d columns, the header %d", len(fields), len(l.header))
	}
	for i := range l.rs.fields {
		f := &l.rs.fields[i]
		col := l.col[i]
		var err error
		switch {
		case col < 0:
			dst, err = f.missing(dst)
		case fields[col].text == "" && !fields[col].quoted:
			switch {
			case f.nullIdx >= 0:
				dst = appendLong(dst, int64(f.nullIdx))
			case f.hasDef:
				dst = append(dst, f.def...)
			default:
				err = fmt.Errorf("empty, and %s has no null and no default (an empty string is written \"\")", typeName(f.typ))
			}
		default:
			if !utf8.ValidString(fields[col].text) {
				err = errors.New("not valid UTF-8")
			} else {
				dst, err = c.value(dst, f.typ, cell(fields[col].text))
			}
		}
		if err != nil {
			return nil, &cellError{col: max(col, 0), err: err}
		}
	}
	return dst, nil
}
