package avrowire

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hamba/avro/v2"
)

// Bounded decoding
//
// An Avro body says how many items its arrays and maps hold and how long
// its strings are before it holds them, and hamba/avro believes it: it
// grows a slice to a block's claimed count before reading one item, and
// its skip path (writer fields a reader schema drops) loops the claimed
// count. Thirteen bytes claiming 2^40 items kill the process. Its Config
// limits help only in part: MaxSliceAllocSize bounds one array, not a
// record, and nothing bounds maps or the skip path.
//
// So every body that goes to hamba is first walked over its writer schema
// (check), without allocating: each claimed length or count is compared
// with the bytes actually left in the body (a block of n items whose type
// takes at least k >= 1 bytes each needs n·k bytes), and with Limits, the
// configured maximums, which alone bound items that take no bytes (null,
// an empty record). The walk also bounds nesting depth, which only
// recursive schemas can reach, so hamba's recursion stays shallow too.
// What the walk accepts, hamba then reads within those bounds; hamba's own
// limits are set from the same Limits as a second line.
//
// The walk follows the writer schema, whose layout the bytes have, even
// when hamba reads with a resolved reader schema. It is strict where hamba
// is lenient in ways that would let the two disagree about where a value
// ends: a block's byte size, when it has one, must be what its items take
// (hamba's skip path jumps by it), and a count of -2^63, whose negation
// overflows, is malformed.

// Limits bound what decoding one Avro body may allocate beyond the body.
type Limits struct {
	// MaxItems bounds the array items and map entries of one body, counted
	// over all of its arrays and maps. Items that take no bytes (null, an
	// empty record) are bounded by nothing else.
	MaxItems int
	// MaxBytes bounds one string or bytes value (hamba's
	// Config.MaxByteSliceSize).
	MaxBytes int
}

const (
	// DefaultMaxItems is Limits.MaxItems when unset.
	DefaultMaxItems = 100_000
	// DefaultMaxBytes is Limits.MaxBytes when unset: hamba's default,
	// which the hand-written decoders of rdg mirror.
	DefaultMaxBytes = 1 << 20
	// maxDepth bounds how deep records, arrays and maps nest in a body.
	// Only a recursive schema goes deeper than its own definition.
	maxDepth = 128
)

func (l Limits) withDefaults() Limits {
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// Errors a body's check wraps, to tell what is wrong with it.
var (
	// ErrTooManyItems: the arrays and maps of a body hold more than
	// Limits.MaxItems.
	ErrTooManyItems = errors.New("avro body has too many array items and map entries")
	// ErrTooLarge: a string or bytes value longer than Limits.MaxBytes,
	// or nesting deeper than rdg reads.
	ErrTooLarge = errors.New("avro value too large")
	// ErrMalformed: a body that no writer of its schema could have
	// written (a union or enum index out of range, a negative length, a
	// varint longer than 10 bytes, ...).
	ErrMalformed = errors.New("malformed avro body")
)

// BodyError is a body that does not fit its writer schema or Limits. Its
// message says what was wrong and in which field, such as "array block of
// 1099511627776 items in field tags exceeds the 12 bytes left in the
// record".
type BodyError struct {
	// What was found, e.g. "string of 12 bytes".
	What string
	// Path is the field the value is in, innermost last: record field
	// names, "[]" for an array's items, "{}" for a map's values.
	Path []string
	// Why it is refused, e.g. "exceeds the 3 bytes left in the record";
	// may be empty.
	Why string
	// Err is ErrTruncated, ErrTooManyItems, ErrTooLarge or ErrMalformed.
	Err error
}

func (e *BodyError) Error() string {
	var b strings.Builder
	b.WriteString(e.What)
	if f := e.Field(); f != "" {
		b.WriteString(" in field ")
		b.WriteString(f)
	}
	if e.Why != "" {
		b.WriteByte(' ')
		b.WriteString(e.Why)
	}
	return b.String()
}

// Field is Path as one name, e.g. "attrs{}.tags[]".
func (e *BodyError) Field() string {
	var b strings.Builder
	for i, p := range e.Path {
		if i > 0 && p != "[]" && p != "{}" {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func (e *BodyError) Unwrap() error { return e.Err }

func bodyErr(kind error, why, format string, args ...any) *BodyError {
	return &BodyError{What: fmt.Sprintf(format, args...), Why: why, Err: kind}
}

// within prepends name to err's path, as the walk unwinds out of a field.
func within(err error, name string) error {
	if be, ok := err.(*BodyError); ok {
		be.Path = append(be.Path, "")
		copy(be.Path[1:], be.Path)
		be.Path[0] = name
	}
	return err
}

// shape is a writer schema compiled for the walk.
type shape struct {
	kind avro.Type
	n    int // enum: symbols; fixed: size
	// min is the fewest bytes a value takes (inf for a type no finite
	// value has): what bounds a block's count by the bytes left.
	min int64
	// elems are a record's fields, a union's branches, or an array's
	// items or a map's values (elems[0]).
	elems []*shape
	names []string // a record's field names
}

// inf stands for "no finite value": large, and far from overflowing when
// added up.
const inf = int64(1) << 40

// compileShape compiles s. Named records are compiled once, so recursive
// schemas become cyclic shapes.
func compileShape(s avro.Schema) *shape {
	c := shapeCompiler{records: map[*avro.RecordSchema]*shape{}}
	root := c.compile(s)
	// min of each shape from its parts', to a fixed point: a recursive
	// type's finite values do not go through its cycle, so starting every
	// min at inf and lowering each from its parts' converges to the true
	// minimum.
	for changed := true; changed; {
		changed = false
		for _, sh := range c.all {
			if m := sh.localMin(); m < sh.min {
				sh.min, changed = m, true
			}
		}
	}
	return root
}

type shapeCompiler struct {
	records map[*avro.RecordSchema]*shape
	all     []*shape
}

func (c *shapeCompiler) compile(s avro.Schema) *shape {
	if r, ok := s.(*avro.RefSchema); ok {
		return c.compile(r.Schema())
	}
	sh := &shape{kind: s.Type(), min: inf}
	switch x := s.(type) {
	case *avro.RecordSchema:
		if done, ok := c.records[x]; ok {
			return done
		}
		c.records[x] = sh
		for _, f := range x.Fields() {
			sh.elems = append(sh.elems, c.compile(f.Type()))
			sh.names = append(sh.names, f.Name())
		}
	case *avro.EnumSchema:
		sh.n = len(x.Symbols())
	case *avro.FixedSchema:
		sh.n = x.Size()
	case *avro.ArraySchema:
		sh.elems = []*shape{c.compile(x.Items())}
	case *avro.MapSchema:
		sh.elems = []*shape{c.compile(x.Values())}
	case *avro.UnionSchema:
		for _, t := range x.Types() {
			sh.elems = append(sh.elems, c.compile(t))
		}
	}
	c.all = append(c.all, sh)
	return sh
}

// localMin is s's minimum size from its parts' current minimums.
func (s *shape) localMin() int64 {
	switch s.kind {
	case avro.Null:
		return 0
	case avro.Boolean, avro.Int, avro.Long, avro.String, avro.Bytes, avro.Enum:
		return 1
	case avro.Float:
		return 4
	case avro.Double:
		return 8
	case avro.Fixed:
		return int64(s.n)
	case avro.Array, avro.Map:
		return 1 // an empty one is its 0 count
	case avro.Union:
		m := inf
		for _, b := range s.elems {
			m = min(m, b.min)
		}
		return min(1+m, inf)
	case avro.Record:
		var sum int64
		for _, f := range s.elems {
			sum = min(sum+f.min, inf)
		}
		return sum
	}
	return inf
}

// shapes caches compiled shapes by schema: a schema is immutable, and the
// registry cache (Schemas) keeps one per id, so the cache holds a few
// entries. It stops growing at maxShapes, past which shapes are compiled
// for each body.
var (
	shapes     sync.Map // avro.Schema -> *shape
	shapeCount atomic.Int64
)

const maxShapes = 4096

func shapeOf(s avro.Schema) *shape {
	if sh, ok := shapes.Load(s); ok {
		return sh.(*shape)
	}
	sh := compileShape(s)
	if shapeCount.Load() < maxShapes {
		if prev, loaded := shapes.LoadOrStore(s, sh); loaded {
			return prev.(*shape)
		}
		shapeCount.Add(1)
	}
	return sh
}

// walker checks one body.
type walker struct {
	b     []byte
	pos   int
	items int // array items and map entries so far
	depth int
	lim   Limits
}

func (w *walker) left() int64 { return int64(len(w.b) - w.pos) }

// leftWhy is the reason a claim is refused by the bytes left.
func (w *walker) leftWhy() string {
	return fmt.Sprintf("exceeds the %d bytes left in the record", w.left())
}

var errTruncatedBody = &BodyError{What: "avro body is truncated", Err: ErrTruncated}

func truncated() error {
	e := *errTruncatedBody
	return &e
}

// long reads a zig-zag varint as hamba's ReadLong does: at most 10 bytes,
// bits past the 64th dropped.
func (w *walker) long() (int64, error) {
	var v uint64
	var s uint
	for i := 0; i < 10; i++ {
		if w.pos >= len(w.b) {
			return 0, truncated()
		}
		c := w.b[w.pos]
		w.pos++
		v |= uint64(c&0x7f) << s
		if c&0x80 == 0 {
			return int64(v>>1) ^ -int64(v&1), nil
		}
		s += 7
	}
	return 0, bodyErr(ErrMalformed, "", "long varint longer than 10 bytes")
}

// int reads a zig-zag varint as hamba's ReadInt does: at most 5 bytes,
// bits past the 32nd dropped.
func (w *walker) int() (int32, error) {
	var v uint32
	var s uint
	for i := 0; i < 5; i++ {
		if w.pos >= len(w.b) {
			return 0, truncated()
		}
		c := w.b[w.pos]
		w.pos++
		v |= uint32(c&0x7f) << s
		if c&0x80 == 0 {
			return int32(v>>1) ^ -int32(v&1), nil
		}
		s += 7
	}
	return 0, bodyErr(ErrMalformed, "", "int varint longer than 5 bytes")
}

func (w *walker) need(n int64) error {
	if w.left() < n {
		return truncated()
	}
	w.pos += int(n)
	return nil
}

func (w *walker) walk(s *shape) error {
	switch s.kind {
	case avro.Null:
		return nil
	case avro.Boolean:
		if w.pos >= len(w.b) {
			return truncated()
		}
		if c := w.b[w.pos]; c > 1 {
			return bodyErr(ErrMalformed, "", "boolean byte %#x", c)
		}
		w.pos++
		return nil
	case avro.Int:
		_, err := w.int()
		return err
	case avro.Long:
		_, err := w.long()
		return err
	case avro.Float:
		return w.need(4)
	case avro.Double:
		return w.need(8)
	case avro.Fixed:
		return w.need(int64(s.n))
	case avro.String, avro.Bytes:
		return w.span(s.kind)
	case avro.Enum:
		i, err := w.int()
		if err != nil {
			return err
		}
		if i < 0 || int(i) >= s.n {
			return bodyErr(ErrMalformed, fmt.Sprintf("is out of range (%d symbols)", s.n), "enum index %d", i)
		}
		return nil
	case avro.Union:
		i, err := w.int()
		if err != nil {
			return err
		}
		if i < 0 || int(i) >= len(s.elems) {
			return bodyErr(ErrMalformed, fmt.Sprintf("is out of range (%d branches)", len(s.elems)), "union index %d", i)
		}
		return w.walk(s.elems[i])
	case avro.Record:
		if w.depth++; w.depth > maxDepth {
			return bodyErr(ErrTooLarge, "", "records, arrays and maps nested more than %d deep", maxDepth)
		}
		for i, f := range s.elems {
			if err := w.walk(f); err != nil {
				return within(err, s.names[i])
			}
		}
		w.depth--
		return nil
	case avro.Array, avro.Map:
		if w.depth++; w.depth > maxDepth {
			return bodyErr(ErrTooLarge, "", "records, arrays and maps nested more than %d deep", maxDepth)
		}
		if err := w.blocks(s); err != nil {
			return err
		}
		w.depth--
		return nil
	}
	return bodyErr(ErrMalformed, "", "value of unsupported schema type %s", s.kind)
}

// span checks a string or bytes value and moves past it.
func (w *walker) span(kind avro.Type) error {
	n, err := w.long()
	if err != nil {
		return err
	}
	what := "string"
	if kind == avro.Bytes {
		what = "bytes value"
	}
	switch {
	case n < 0:
		return bodyErr(ErrMalformed, "", "%s with negative length %d", what, n)
	case n > w.left():
		return bodyErr(ErrTruncated, w.leftWhy(), "%s of %d bytes", what, n)
	case n > int64(w.lim.MaxBytes):
		return bodyErr(ErrTooLarge, fmt.Sprintf("exceeds the limit of %d bytes", w.lim.MaxBytes), "%s of %d bytes", what, n)
	}
	w.pos += int(n)
	return nil
}

// blocks checks an array's or map's blocks: a count, a byte size if the
// count is negative, the items; until a 0 count.
func (w *walker) blocks(s *shape) error {
	item := s.elems[0]
	what, inner, itemMin := "array", "[]", item.min
	if s.kind == avro.Map {
		what, inner = "map", "{}"
		itemMin = min(itemMin+1, inf) // and its key, a string
	}
	for {
		count, err := w.long()
		if err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		size := int64(-1)
		if count < 0 {
			if count == math.MinInt64 {
				return bodyErr(ErrMalformed, "", "%s block count %d", what, count)
			}
			count = -count
			if size, err = w.long(); err != nil {
				return err
			}
		}
		if itemMin > 0 && count > w.left()/itemMin {
			return bodyErr(ErrTruncated, w.leftWhy(), "%s block of %d %s", what, count, itemsWord(s.kind))
		}
		if count > int64(w.lim.MaxItems-w.items) {
			return bodyErr(ErrTooManyItems,
				fmt.Sprintf("exceeds the limit of %d array items and map entries per record", w.lim.MaxItems),
				"%s block of %d %s (after %d before it)", what, count, itemsWord(s.kind), w.items)
		}
		w.items += int(count)
		start := w.pos
		if s.kind == avro.Map || itemMin > 0 {
			for range count {
				if s.kind == avro.Map {
					if err := w.span(avro.String); err != nil {
						return within(err, inner)
					}
				}
				if err := w.walk(item); err != nil {
					return within(err, inner)
				}
			}
		}
		// Items that take no bytes read none: nothing to walk.
		if size > 0 && int64(w.pos-start) != size {
			return bodyErr(ErrMalformed, fmt.Sprintf("says it takes %d bytes, its %s take %d", size, itemsWord(s.kind), w.pos-start),
				"%s block of %d %s", what, count, itemsWord(s.kind))
		}
	}
}

func itemsWord(k avro.Type) string {
	if k == avro.Map {
		return "entries"
	}
	return "items"
}

// check walks body over writer's shape: nil if hamba can decode it within
// lim, else a *BodyError (or ErrTrailing).
func check(sh *shape, body []byte, lim Limits) error {
	w := walker{b: body, lim: lim}
	if err := w.walk(sh); err != nil {
		return err
	}
	if w.pos != len(body) {
		return ErrTrailing
	}
	return nil
}

// Decoder decodes Avro bodies with hamba within Limits: each body is
// checked over its writer schema first, and hamba's configuration carries
// the same limits. A Decoder is safe for concurrent use.
type Decoder struct {
	lim     Limits
	api     avro.API
	readers sync.Pool
}

// NewDecoder returns a Decoder with lim; zero fields take the defaults.
func NewDecoder(lim Limits) *Decoder {
	lim = lim.withDefaults()
	d := &Decoder{lim: lim, api: avro.Config{
		MaxByteSliceSize:  lim.MaxBytes,
		MaxSliceAllocSize: lim.MaxItems,
	}.Freeze()}
	d.readers.New = func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(d.api)) }
	return d
}

// DefaultDecoder has the default Limits.
var DefaultDecoder = NewDecoder(Limits{})

// Check reports whether body, written with writer, fits writer exactly and
// d's limits: nil, or the reason, a *BodyError or ErrTrailing.
func (d *Decoder) Check(writer avro.Schema, body []byte) error {
	return check(shapeOf(writer), body, d.lim)
}

// Unmarshal decodes body, written with writer, into v.
func (d *Decoder) Unmarshal(writer avro.Schema, body []byte, v any) error {
	return d.UnmarshalResolved(writer, writer, body, v)
}

// UnmarshalResolved decodes body, written with writer, into v with read:
// writer itself, or writer resolved to a reader schema (hamba's
// SchemaCompatibility.Resolve). The body is checked over writer, whose
// layout it has.
func (d *Decoder) UnmarshalResolved(writer, read avro.Schema, body []byte, v any) error {
	if err := d.Check(writer, body); err != nil {
		return err
	}
	r := d.readers.Get().(*avro.Reader)
	defer d.readers.Put(r)
	r.Reset(body)
	r.Error = nil // Reset keeps the error of the reader's last use
	r.ReadVal(read, v)
	if r.Error != nil {
		if errors.Is(r.Error, io.EOF) || errors.Is(r.Error, io.ErrUnexpectedEOF) {
			return ErrTruncated
		}
		return r.Error
	}
	// Peek past the end: only an exhausted reader reports EOF.
	r.Peek()
	if r.Error == nil {
		return ErrTrailing
	}
	return nil
}
