package produce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// A Converter encodes rows as Avro bodies of one schema. The values it
// takes are JSON values decoded with json.Decoder.UseNumber (nil, bool,
// json.Number, string, []any, map[string]any) or CSV cells, which are
// converted by the type they are written into. A Converter is not safe for
// concurrent use.
type Converter struct {
	schema        avro.Schema
	ignoreUnknown bool
	records       map[*avro.RecordSchema]*recordInfo
}

// NewConverter returns a converter to schema. With ignoreUnknown, object
// keys (and CSV columns) that name no field of their record are dropped;
// without, they make the row an error, since a misspelt field name would
// otherwise silently become its default.
func NewConverter(schema avro.Schema, ignoreUnknown bool) *Converter {
	return &Converter{schema: schema, ignoreUnknown: ignoreUnknown, records: map[*avro.RecordSchema]*recordInfo{}}
}

// cell is one CSV value: text that is converted by the Avro type it goes
// into (a number for a long, a symbol for an enum, JSON for a record, array
// or map).
type cell string

type recordInfo struct {
	schema *avro.RecordSchema
	fields []fieldInfo
	byName map[string]int
}

type fieldInfo struct {
	name    string
	typ     avro.Schema
	def     []byte // the encoded default; nil without one
	hasDef  bool
	nullIdx int // the union branch of null, -1 if the type cannot be null
}

func (c *Converter) info(rs *avro.RecordSchema) (*recordInfo, error) {
	if ri, ok := c.records[rs]; ok {
		return ri, nil
	}
	ri := &recordInfo{schema: rs, byName: map[string]int{}}
	for i, f := range rs.Fields() {
		fi := fieldInfo{name: f.Name(), typ: f.Type(), nullIdx: nullIndex(f.Type())}
		if f.HasDefault() {
			def, err := appendDefault(nil, f.Type(), f.Default())
			if err != nil {
				return nil, fmt.Errorf("schema %s: default of field %s: %w", rs.FullName(), f.Name(), err)
			}
			fi.def, fi.hasDef = def, true
		}
		ri.fields = append(ri.fields, fi)
		ri.byName[f.Name()] = i
	}
	c.records[rs] = ri
	return ri, nil
}

// missing encodes a field the row does not give: its default, else null
// if its type allows it.
func (f *fieldInfo) missing(dst []byte) ([]byte, error) {
	switch {
	case f.hasDef:
		return append(dst, f.def...), nil
	case f.nullIdx >= 0:
		return appendLong(dst, int64(f.nullIdx)), nil
	}
	return nil, fmt.Errorf("missing, and the schema gives it no default (type %s)", typeName(f.typ))
}

func nullIndex(s avro.Schema) int {
	if u, ok := s.(*avro.UnionSchema); ok {
		for i, t := range u.Types() {
			if t.Type() == avro.Null {
				return i
			}
		}
	}
	return -1
}

func deref(s avro.Schema) avro.Schema {
	for {
		r, ok := s.(*avro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
}

// typeName is how messages name a type: its full name if it has one,
// else the primitive or complex type with its logical type.
func typeName(s avro.Schema) string {
	s = deref(s)
	switch t := s.(type) {
	case *avro.RecordSchema:
		return "record " + t.FullName()
	case *avro.EnumSchema:
		return "enum " + t.FullName()
	case *avro.FixedSchema:
		if l := t.Logical(); l != nil {
			return fmt.Sprintf("fixed %s (%s)", t.FullName(), l.Type())
		}
		return fmt.Sprintf("fixed %s (%d bytes)", t.FullName(), t.Size())
	case *avro.ArraySchema:
		return "array of " + typeName(t.Items())
	case *avro.MapSchema:
		return "map of " + typeName(t.Values())
	case *avro.UnionSchema:
		names := make([]string, len(t.Types()))
		for i, b := range t.Types() {
			names[i] = typeName(b)
		}
		return "union [" + strings.Join(names, ", ") + "]"
	case *avro.PrimitiveSchema:
		if l := t.Logical(); l != nil {
			return fmt.Sprintf("%s (%s)", t.Type(), l.Type())
		}
	}
	return string(s.Type())
}

// branchNames are the names a union branch goes by in the Avro JSON
// encoding ({"string": "x"}, {"rdg.demo.Login": {...}}); a named type also
// answers to its short name.
func branchNames(s avro.Schema) []string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		if n.FullName() != n.Name() {
			return []string{n.FullName(), n.Name()}
		}
		return []string{n.Name()}
	}
	return []string{string(s.Type())}
}

// A pathError places an error at a field, array index or map key; the
// path is built from the inside out as the error returns.
type pathError struct {
	rev []string // innermost segment first
	err error
}

func (e *pathError) Error() string { return e.Path() + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// Path is the location as written in a JSON document: a.b[3]["k"].
func (e *pathError) Path() string {
	var b strings.Builder
	for i := len(e.rev) - 1; i >= 0; i-- {
		s := e.rev[i]
		if b.Len() > 0 && s[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

func at(err error, seg string) error {
	if pe, ok := err.(*pathError); ok {
		pe.rev = append(pe.rev, seg)
		return pe
	}
	return &pathError{rev: []string{seg}, err: err}
}

// splitPath separates an error's location from its message.
func splitPath(err error) (path string, msg error) {
	if pe, ok := err.(*pathError); ok {
		return pe.Path(), pe.err
	}
	return "", err
}

// describe names a value for a message: its JSON kind and, for scalars,
// the value itself, cut short.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return "number " + short(string(x))
	case string:
		return "string " + strconv.Quote(short(x))
	case cell:
		return strconv.Quote(short(string(x)))
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func short(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	// Cut on a rune boundary so the quoted text stays valid.
	i := max
	for i > 0 && s[i]&0xc0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

func want(s avro.Schema, v any) error {
	return fmt.Errorf("want %s, got %s", typeName(s), describe(v))
}

// Append appends the Avro encoding of v, a JSON value, to dst.
func (c *Converter) Append(dst []byte, v any) ([]byte, error) {
	return c.value(dst, c.schema, v)
}

func (c *Converter) value(dst []byte, s avro.Schema, v any) ([]byte, error) {
	s = deref(s)
	// A CSV cell for a record, array or map holds JSON.
	if t, ok := v.(cell); ok {
		switch s.Type() {
		case avro.Record, avro.Array, avro.Map:
			j, err := decodeJSON([]byte(t))
			if err != nil {
				return nil, fmt.Errorf("a CSV cell for %s holds JSON: %w", typeName(s), err)
			}
			v = j
		}
	}
	switch s := s.(type) {
	case *avro.UnionSchema:
		return c.union(dst, s, v)
	case *avro.RecordSchema:
		return c.record(dst, s, v)
	case *avro.ArraySchema:
		items, ok := v.([]any)
		if !ok {
			return nil, want(s, v)
		}
		if len(items) > 0 {
			dst = appendLong(dst, int64(len(items)))
			for i, it := range items {
				var err error
				if dst, err = c.value(dst, s.Items(), it); err != nil {
					return nil, at(err, "["+strconv.Itoa(i)+"]")
				}
			}
		}
		return append(dst, 0), nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, want(s, v)
		}
		if len(m) > 0 {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			dst = appendLong(dst, int64(len(keys)))
			for _, k := range keys {
				dst = appendString(dst, k)
				var err error
				if dst, err = c.value(dst, s.Values(), m[k]); err != nil {
					return nil, at(err, "["+strconv.Quote(k)+"]")
				}
			}
		}
		return append(dst, 0), nil
	case *avro.EnumSchema:
		sym, ok := text(v)
		if !ok {
			return nil, want(s, v)
		}
		if i := slices.Index(s.Symbols(), sym); i >= 0 {
			return appendLong(dst, int64(i)), nil
		}
		return nil, fmt.Errorf("%q is not a symbol of enum %s: want one of %s", short(sym), s.FullName(), strings.Join(s.Symbols(), ", "))
	case *avro.FixedSchema:
		return c.fixed(dst, s, v)
	case *avro.PrimitiveSchema:
		return c.primitive(dst, s, v)
	}
	return nil, fmt.Errorf("unsupported schema type %s", s.Type())
}

// text is a string value: a JSON string or a CSV cell.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case cell:
		return string(x), true
	}
	return "", false
}

func (c *Converter) union(dst []byte, u *avro.UnionSchema, v any) ([]byte, error) {
	types := u.Types()
	if v == nil {
		if i := nullIndex(u); i >= 0 {
			return appendLong(dst, int64(i)), nil
		}
		return nil, want(u, v)
	}
	// The Avro JSON encoding names the branch: {"long": 5}.
	var wrapErr error
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, inner := range m {
			for i, t := range types {
				if slices.Contains(branchNames(t), k) {
					out, err := c.value(appendLong(dst, int64(i)), t, inner)
					if err == nil {
						return out, nil
					}
					wrapErr = at(err, k)
				}
			}
		}
	}
	// A bare value goes to the first branch it fits.
	var shapeErr error
	shapes := 0
	for i, t := range types {
		if t.Type() == avro.Null {
			continue
		}
		n := len(dst)
		out, err := c.value(appendLong(dst, int64(i)), t, v)
		if err == nil {
			return out, nil
		}
		dst = dst[:n]
		if sameShape(deref(t).Type(), v) {
			shapes++
			shapeErr = err
		}
	}
	if wrapErr != nil {
		return nil, wrapErr
	}
	// An object or array meant for the one record, map or array branch
	// gets that branch's error, which says which field is wrong.
	if shapes == 1 {
		return nil, shapeErr
	}
	return nil, want(u, v)
}

// sameShape says whether v, a JSON value or a CSV cell holding JSON, is an
// object for a record or map or an array for an array.
func sameShape(t avro.Type, v any) bool {
	var c byte
	switch x := v.(type) {
	case map[string]any:
		c = '{'
	case []any:
		c = '['
	case cell:
		if s := strings.TrimSpace(string(x)); s != "" {
			c = s[0]
		}
	}
	return c == '{' && (t == avro.Record || t == avro.Map) || c == '[' && t == avro.Array
}

func (c *Converter) record(dst []byte, rs *avro.RecordSchema, v any) ([]byte, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, want(rs, v)
	}
	ri, err := c.info(rs)
	if err != nil {
		return nil, err
	}
	given := 0
	for i := range ri.fields {
		f := &ri.fields[i]
		fv, present := obj[f.name]
		if present {
			given++
			dst, err = c.value(dst, f.typ, fv)
		} else {
			dst, err = f.missing(dst)
		}
		if err != nil {
			return nil, at(err, f.name)
		}
	}
	if given < len(obj) && !c.ignoreUnknown {
		var unknown []string
		for k := range obj {
			if _, ok := ri.byName[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		return nil, at(ri.unknownError(), unknown[0])
	}
	return dst, nil
}

// unknownError says that a name is not a field of the record, and what is.
func (ri *recordInfo) unknownError() error {
	names := make([]string, 0, len(ri.fields))
	for _, f := range ri.fields {
		names = append(names, f.name)
	}
	const show = 12
	list := strings.Join(names[:min(len(names), show)], ", ")
	if len(names) > show {
		list += fmt.Sprintf(", … (%d in all)", len(names))
	}
	return fmt.Errorf("not a field of %s (its fields: %s); --ignore-unknown drops fields the schema does not have", ri.schema.FullName(), list)
}

func (c *Converter) fixed(dst []byte, s *avro.FixedSchema, v any) ([]byte, error) {
	if l, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
		b, err := decimalBytes(v, l)
		if err != nil {
			return nil, err
		}
		out, ok := signExtend(b, s.Size())
		if !ok {
			return nil, fmt.Errorf("%s does not fit in the %d bytes of fixed %s", describe(v), s.Size(), s.FullName())
		}
		return append(dst, out...), nil
	}
	t, ok := text(v)
	if !ok {
		return nil, want(s, v)
	}
	if len(t) != s.Size() {
		return nil, fmt.Errorf("fixed %s holds %d bytes; %s has %d", s.FullName(), s.Size(), describe(v), len(t))
	}
	return append(dst, t...), nil
}

func (c *Converter) primitive(dst []byte, s *avro.PrimitiveSchema, v any) ([]byte, error) {
	var logical avro.LogicalType
	if l := s.Logical(); l != nil {
		logical = l.Type()
	}
	switch s.Type() {
	case avro.Null:
		if v != nil {
			return nil, want(s, v)
		}
		return dst, nil
	case avro.Boolean:
		switch x := v.(type) {
		case bool:
			return appendBool(dst, x), nil
		case cell:
			switch strings.ToLower(strings.TrimSpace(string(x))) {
			case "true", "1":
				return appendBool(dst, true), nil
			case "false", "0":
				return appendBool(dst, false), nil
			}
			return nil, fmt.Errorf("want boolean (true, false, 1 or 0), got %s", describe(v))
		}
		return nil, want(s, v)
	case avro.Int, avro.Long:
		bits := 64
		if s.Type() == avro.Int {
			bits = 32
		}
		n, err := c.integer(s, logical, bits, v)
		if err != nil {
			return nil, err
		}
		return appendLong(dst, n), nil
	case avro.Float, avro.Double:
		bits := 64
		if s.Type() == avro.Float {
			bits = 32
		}
		var t string
		switch x := v.(type) {
		case json.Number:
			t = string(x)
		case cell:
			t = strings.TrimSpace(string(x))
		default:
			return nil, want(s, v)
		}
		f, err := strconv.ParseFloat(t, bits)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			// NaN and infinities have no JSON form, and in a CSV file they
			// are more often a missing value than a measurement.
			return nil, fmt.Errorf("%s is not a finite number (a missing value is an empty cell, for a field that can be null)", short(t))
		}
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("%s is out of range for %s", short(t), s.Type())
			}
			return nil, want(s, v)
		}
		if bits == 32 {
			return appendFloat(dst, float32(f)), nil
		}
		return appendDouble(dst, f), nil
	case avro.String:
		t, ok := text(v)
		if !ok {
			if n, isNum := v.(json.Number); isNum {
				return nil, fmt.Errorf("want string, got number %s (write it in quotes, \"%s\", if it is an identifier)", short(string(n)), short(string(n)))
			}
			return nil, want(s, v)
		}
		if logical == avro.UUID && !isUUID(t) {
			return nil, fmt.Errorf("want a UUID such as 123e4567-e89b-12d3-a456-426614174000, got %s", describe(v))
		}
		return appendString(dst, t), nil
	case avro.Bytes:
		if l, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			b, err := decimalBytes(v, l)
			if err != nil {
				return nil, err
			}
			return appendBytes(dst, b), nil
		}
		t, ok := text(v)
		if !ok {
			return nil, want(s, v)
		}
		return appendString(dst, t), nil
	}
	return nil, fmt.Errorf("unsupported type %s", s.Type())
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// decodeJSON decodes one JSON value, keeping numbers as their text so that
// no digit is lost before the schema says what the number is.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(b, err)
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(b[off:])) > 0 {
		return nil, &syntaxError{col: int(off) + 1 + leadingSpace(b[off:]), msg: "text after the JSON value"}
	}
	return v, nil
}

func leadingSpace(b []byte) int {
	return len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
}

// A syntaxError is malformed JSON at a byte column (1-based) of its line.
type syntaxError struct {
	col int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at column %d: %s", e.col, e.msg)
}

func jsonError(b []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &syntaxError{col: max(int(se.Offset), 1), msg: se.Error()}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &syntaxError{col: len(b) + 1, msg: "unexpected end of input"}
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// appendDefault encodes a field default as hamba/avro parsed it from the
// schema: a union's default is of its first branch.
func appendDefault(dst []byte, s avro.Schema, v any) ([]byte, error) {
	s = deref(s)
	switch s := s.(type) {
	case *avro.UnionSchema:
		return appendDefault(appendLong(dst, 0), s.Types()[0], v)
	case *avro.RecordSchema:
		m, _ := v.(map[string]any)
		for _, f := range s.Fields() {
			fv, ok := m[f.Name()]
			if !ok {
				fv = f.Default()
			}
			var err error
			if dst, err = appendDefault(dst, f.Type(), fv); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case *avro.ArraySchema:
		items, _ := v.([]any)
		if len(items) > 0 {
			dst = appendLong(dst, int64(len(items)))
			for _, it := range items {
				var err error
				if dst, err = appendDefault(dst, s.Items(), it); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case *avro.MapSchema:
		m, _ := v.(map[string]any)
		if len(m) > 0 {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			dst = appendLong(dst, int64(len(keys)))
			for _, k := range keys {
				var err error
				if dst, err = appendDefault(appendString(dst, k), s.Values(), m[k]); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case *avro.EnumSchema:
		sym, _ := v.(string)
		i := slices.Index(s.Symbols(), sym)
		if i < 0 {
			return nil, fmt.Errorf("%q is not a symbol of enum %s", sym, s.FullName())
		}
		return appendLong(dst, int64(i)), nil
	case *avro.FixedSchema:
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Array || rv.Len() != s.Size() {
			return nil, fmt.Errorf("default %v is not %d bytes", v, s.Size())
		}
		for i := range rv.Len() {
			dst = append(dst, byte(rv.Index(i).Uint()))
		}
		return dst, nil
	}
	switch x := v.(type) {
	case nil:
		return dst, nil
	case bool:
		return appendBool(dst, x), nil
	case int:
		return appendLong(dst, int64(x)), nil
	case int64:
		return appendLong(dst, x), nil
	case float32:
		if s.Type() == avro.Double {
			return appendDouble(dst, float64(x)), nil
		}
		return appendFloat(dst, x), nil
	case float64:
		if s.Type() == avro.Float {
			return appendFloat(dst, float32(x)), nil
		}
		return appendDouble(dst, x), nil
	case string:
		return appendString(dst, x), nil
	case []byte:
		return appendBytes(dst, x), nil
	}
	return nil, fmt.Errorf("default %v (%T) for %s", v, v, s.Type())
}
