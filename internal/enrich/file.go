package enrich

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileTable is a table loaded once from a static file. It never changes
// after LoadFile returns, so lookups need no lock.
type FileTable struct {
	path string
	rows map[string]map[string]any
}

// FileOption configures LoadFile.
type FileOption func(*fileConfig)

type fileConfig struct {
	inferNumbers bool
}

// InferNumbers makes CSV cells that read as numbers int64 (an integer) or
// float64 (a finite decimal) instead of strings. It is off by default
// because CSV has no types and a column of ids such as "00042" must not
// silently become 42; even with it, a cell with a leading zero ("007")
// stays a string for that reason. JSON
// files carry their own types and ignore this option.
func InferNumbers() FileOption {
	return func(c *fileConfig) { c.inferNumbers = true }
}

// LoadFile loads a static side input. The format follows the extension:
// .csv is CSV; .json, .jsonl and .ndjson are JSON; any other is JSON if its
// first non-blank character is '{' or '[', else CSV.
//
// CSV: the first row is the header and names the fields; every row must
// have as many cells as the header; cells are strings (see InferNumbers).
// JSON: an array of objects, or a sequence of objects (JSON lines, or
// objects simply one after another). Numbers become int64 when integral and
// within range, else float64; nested objects and arrays stay
// map[string]any and []any; null is nil.
//
// Every row is keyed by its keyField, which must be present and non-empty
// (in JSON a string or a number; a number's key is its decimal text). The
// key field stays in the row. A key that appears more than once keeps its
// last row, as a compacted topic would. Errors name the file and the line.
func LoadFile(path, keyField string, opts ...FileOption) (*FileTable, error) {
	var cfg fileConfig
	for _, o := range opts {
		o(&cfg)
	}
	if keyField == "" {
		return nil, fmt.Errorf("enrich: %s: no key field", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	t := &FileTable{path: path, rows: make(map[string]map[string]any)}
	if isJSON(path, data) {
		err = t.loadJSON(data, keyField)
	} else {
		err = t.loadCSV(data, keyField, cfg)
	}
	if err != nil {
		var le *lineErr
		if errors.As(err, &le) {
			return nil, fmt.Errorf("enrich: %s:%d: %s", path, le.line, le.msg)
		}
		return nil, fmt.Errorf("enrich: %s: %w", path, err)
	}
	return t, nil
}

func isJSON(path string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return false
	case ".json", ".jsonl", ".ndjson":
		return true
	}
	data = bytes.TrimLeft(bytes.TrimPrefix(data, utf8BOM), " \t\r\n")
	return len(data) > 0 && (data[0] == '{' || data[0] == '[')
}

// Spreadsheets write a byte-order mark at the start of UTF-8 CSV; left in,
// it would become part of the first column's name.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// lineErr is an error at a line of the file, which LoadFile reports the
// way compilers do ("path:line: message") so editors can jump to it.
type lineErr struct {
	line int
	msg  string
}

func (e *lineErr) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func lineError(line int, format string, args ...any) error {
	return &lineErr{line: line, msg: fmt.Sprintf(format, args...)}
}

func (t *FileTable) loadCSV(data []byte, keyField string, cfg fileConfig) error {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	r.ReuseRecord = true // the cells are copied into rows, not the slice
	header, err := r.Read()
	if err == io.EOF {
		return lineError(1, "empty file: want a header row naming the fields")
	}
	if err != nil {
		return csvError(err)
	}
	// The header strings are the keys of every row's map, shared rather
	// than copied per row.
	fields := append([]string(nil), header...)
	keyCol := -1
	seen := make(map[string]bool, len(fields))
	for i, f := range fields {
		if seen[f] {
			return lineError(1, "column %q appears twice in the header", f)
		}
		seen[f] = true
		if f == keyField {
			keyCol = i
		}
	}
	if keyCol < 0 {
		return lineError(1, "no key column %q in the header (columns: %s)", keyField, strings.Join(fields, ", "))
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(err)
		}
		line, _ := r.FieldPos(0)
		key := rec[keyCol]
		if key == "" {
			return lineError(line, "empty key column %q", keyField)
		}
		row := make(map[string]any, len(fields))
		for i, f := range fields {
			if cfg.inferNumbers {
				row[f] = inferNumber(rec[i])
			} else {
				row[f] = rec[i]
			}
		}
		t.rows[key] = row
	}
}

// csvError rewrites encoding/csv's "record on line 3: wrong number of
// fields" into the "line: message" form of the other errors.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return lineError(pe.Line, "%v", pe.Err)
	}
	return err
}

func inferNumber(s string) any {
	if s == "" || len(s) > 1 && s[0] == '0' && s[1] != '.' ||
		len(s) > 2 && s[0] == '-' && s[1] == '0' && s[2] != '.' {
		return s
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	// ParseFloat also accepts "NaN", "Inf", hex floats and underscores;
	// only plain decimals count as numbers here.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return s
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
		return f
	}
	return s
}

func (t *FileTable) loadJSON(data []byte, keyField string) error {
	data = bytes.TrimPrefix(data, utf8BOM)
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte{'\n'}) }
	// start returns the offset of the next value after off, skipping blanks
	// and the commas between array elements, to report where it begins.
	start := func(off int64) int64 {
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
			off++
		}
		return off
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	jsonErr := func(err error, at int64) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			at = se.Offset
		}
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			// Reported where the unfinished value starts, which is where
			// the missing bracket or quote belongs, not at the last line.
			err = errors.New("unexpected end of file")
		}
		return lineError(lineAt(at), "invalid JSON: %v", err)
	}

	array := bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("["))
	if array {
		if _, err := dec.Token(); err != nil { // the opening '['
			return jsonErr(err, 0)
		}
	}
	for {
		if array && !dec.More() {
			if _, err := dec.Token(); err != nil { // the closing ']'
				return jsonErr(err, start(dec.InputOffset()))
			}
			// Anything after the array is a mistake, not more rows.
			if at := start(dec.InputOffset()); at < int64(len(data)) {
				return lineError(lineAt(at), "unexpected content after the JSON array")
			}
			return nil
		}
		at := start(dec.InputOffset())
		var v any
		if err := dec.Decode(&v); err == io.EOF && !array {
			return nil
		} else if err != nil {
			return jsonErr(err, at)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return lineError(lineAt(at), "want a JSON object, got %s", jsonKind(v))
		}
		line := lineAt(at)
		key, err := jsonKey(obj[keyField], keyField)
		if err != nil {
			return lineError(line, "%v", err)
		}
		convertNumbers(obj)
		t.rows[key] = obj
	}
}

func jsonKey(v any, keyField string) (string, error) {
	switch k := v.(type) {
	case nil:
		return "", fmt.Errorf("no key field %q (or it is null)", keyField)
	case string:
		if k == "" {
			return "", fmt.Errorf("empty key field %q", keyField)
		}
		return k, nil
	case json.Number:
		// The number's text, as written: 42 is "42", and an id written
		// 1e3 is not silently the same key as 1000.
		return k.String(), nil
	}
	return "", fmt.Errorf("key field %q is %s, want a string or a number", keyField, jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// convertNumbers replaces the json.Numbers in v, in place, with int64 for
// integral values that fit and float64 otherwise.
func convertNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = convertNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = convertNumbers(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, err := x.Float64()
		if err != nil {
			// Out of float64 range; encoding/json only produces valid
			// number syntax, so keep the text rather than lose the row.
			return x.String()
		}
		// 2.0 or 1e3 are integers written another way; -2^63 <= f < 2^63
		// is what converts to int64 exactly.
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return int64(f)
		}
		return f
	}
	return v
}

// Lookup returns the row stored under key. The row must not be modified.
func (t *FileTable) Lookup(key string) (map[string]any, bool) {
	row, ok := t.rows[key]
	return row, ok
}

// Len is the number of keys in the table.
func (t *FileTable) Len() int { return len(t.rows) }

// Path is the file the table was loaded from.
func (t *FileTable) Path() string { return t.path }

var _ Table = (*FileTable)(nil)
