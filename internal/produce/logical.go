package produce

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
)

// integer is v as an Avro int (bits 32) or long (bits 64) of the logical
// type lt: a JSON number or a CSV cell, or for the time types also text
// (an RFC 3339 timestamp, a date, a time of day).
func (c *Converter) integer(s avro.Schema, lt avro.LogicalType, bits int, v any) (int64, error) {
	var t string
	isText := false
	switch x := v.(type) {
	case json.Number:
		t = string(x)
	case cell:
		t = strings.TrimSpace(string(x))
	case string:
		t, isText = x, true
	default:
		return 0, want(s, v)
	}
	if lt == "" && isText {
		return 0, fmt.Errorf("want %s, got %s (write numbers without quotes)", typeName(s), describe(v))
	}
	// The time types take their text form first; a number is in the
	// type's own unit.
	if lt != "" && !looksNumeric(t) {
		switch lt {
		case avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros:
			ts, err := parseTimestamp(t, lt == avro.LocalTimestampMillis || lt == avro.LocalTimestampMicros)
			if err != nil {
				return 0, err
			}
			if lt == avro.TimestampMillis || lt == avro.LocalTimestampMillis {
				return ts.UnixMilli(), nil
			}
			return ts.UnixMicro(), nil
		case avro.Date:
			d, err := time.Parse(time.DateOnly, t)
			if err != nil {
				return 0, fmt.Errorf("want a date YYYY-MM-DD or a number of days since 1970-01-01, got %s", describe(v))
			}
			return d.Unix() / 86400, nil
		case avro.TimeMillis, avro.TimeMicros:
			d, err := time.Parse("15:04:05.999999999", t)
			if err != nil {
				return 0, fmt.Errorf("want a time of day HH:MM:SS[.ffffff] or a number of %s since midnight, got %s", unit(lt), describe(v))
			}
			since := d.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))
			if lt == avro.TimeMillis {
				return since.Milliseconds(), nil
			}
			return since.Microseconds(), nil
		}
	}
	n, err := parseInteger(t, bits)
	if err != nil {
		if lt != "" {
			return 0, fmt.Errorf("%w (a number for %s is in %s)", err, lt, unit(lt))
		}
		return 0, err
	}
	switch lt {
	case avro.TimeMillis:
		if n < 0 || n >= 86_400_000 {
			return 0, fmt.Errorf("%d milliseconds is not a time of day (0 to 86399999)", n)
		}
	case avro.TimeMicros:
		if n < 0 || n >= 86_400_000_000 {
			return 0, fmt.Errorf("%d microseconds is not a time of day (0 to 86399999999)", n)
		}
	}
	return n, nil
}

func unit(lt avro.LogicalType) string {
	switch lt {
	case avro.TimestampMillis, avro.LocalTimestampMillis, avro.TimeMillis:
		return "milliseconds"
	case avro.TimestampMicros, avro.LocalTimestampMicros, avro.TimeMicros:
		return "microseconds"
	case avro.Date:
		return "days since 1970-01-01"
	}
	return string(lt)
}

// looksNumeric says whether t is written as a number (not a date, a time
// of day or a timestamp, which have dashes or colons between digits).
func looksNumeric(t string) bool {
	if _, err := strconv.ParseFloat(t, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
		return false
	}
	// ParseFloat also takes Inf, NaN and hexadecimal, which are no time.
	return strings.Trim(t, "+-0123456789.eE") == ""
}

// parseInteger parses t as an integer of bits bits. An integral number
// written as a decimal (1.0, 1e3) is accepted as long as it is exact.
func parseInteger(t string, bits int) (int64, error) {
	n, err := strconv.ParseInt(t, 10, bits)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, rangeError(t, bits)
	}
	// An integral number written as a decimal (1.0, 1e3) is taken exactly,
	// digit by digit, not through a float.
	d, derr := parseDecimal(t, 20, 0)
	switch {
	case derr != nil && strings.Contains(derr.Error(), "after the point"):
		return 0, fmt.Errorf("want %s, got %s, which is not a whole number", intName(bits), short(t))
	case derr != nil && strings.Contains(derr.Error(), "precision"):
		return 0, rangeError(t, bits)
	case derr != nil:
		return 0, fmt.Errorf("want %s, got %s", intName(bits), strconv.Quote(short(t)))
	case !d.IsInt64():
		return 0, rangeError(t, bits)
	}
	n = d.Int64()
	if bits == 32 && (n < math.MinInt32 || n > math.MaxInt32) {
		return 0, rangeError(t, bits)
	}
	return n, nil
}

func intName(bits int) string {
	if bits == 32 {
		return "int"
	}
	return "long"
}

func rangeError(t string, bits int) error {
	if bits == 32 {
		return fmt.Errorf("%s is out of range for int (%d to %d)", short(t), math.MinInt32, math.MaxInt32)
	}
	return fmt.Errorf("%s is out of range for long (%d to %d)", short(t), int64(math.MinInt64), int64(math.MaxInt64))
}

// parseTimestamp parses RFC 3339 text (a space may stand for the T). A
// local timestamp may omit the zone; any other needs one, since without
// it the instant is a guess.
func parseTimestamp(t string, local bool) (time.Time, error) {
	if len(t) > 10 && t[10] == ' ' {
		t = t[:10] + "T" + t[11:]
	}
	if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
		return ts, nil
	}
	if ts, err := time.Parse("2006-01-02T15:04:05.999999999", t); err == nil {
		if local {
			return ts, nil
		}
		return time.Time{}, fmt.Errorf("timestamp %q has no time zone: add Z (UTC) or an offset such as +02:00", short(t))
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 timestamp such as 2024-05-01T20:15:00Z or a number, got %q", short(t))
}

// decimalBytes is v, a number or its text, as the two's-complement
// unscaled value of a decimal of the schema's precision and scale.
func decimalBytes(v any, l *avro.DecimalLogicalSchema) ([]byte, error) {
	var t string
	switch x := v.(type) {
	case json.Number:
		t = string(x)
	case string:
		t = strings.TrimSpace(x)
	case cell:
		t = strings.TrimSpace(string(x))
	default:
		return nil, fmt.Errorf("want a decimal(%d, %d) as a number or a string, got %s", l.Precision(), l.Scale(), describe(v))
	}
	n, err := parseDecimal(t, l.Precision(), l.Scale())
	if err != nil {
		return nil, err
	}
	return twosComplement(n), nil
}

// parseDecimal parses decimal text exactly into its unscaled value at
// scale, refusing digits the scale would drop and values beyond the
// precision. The work is bounded by the text, never by an exponent it
// claims.
func parseDecimal(t string, precision, scale int) (*big.Int, error) {
	bad := func() error {
		return fmt.Errorf("want a decimal number such as 12.34, got %q", short(t))
	}
	s := t
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e := s[i+1:]
		if len(e) > 0 && (e[0] == '-' || e[0] == '+') {
			e = e[1:]
		}
		if e == "" || strings.Trim(e, "0123456789") != "" {
			return nil, bad()
		}
		// An exponent beyond ±2^20 is clamped: any nonzero mantissa is then
		// out of every precision or scale, and the digits built are bounded.
		x, err := strconv.Atoi(s[i+1:])
		if err != nil || x > 1<<20 || x < -(1<<20) {
			x = 1 << 20
			if strings.HasPrefix(s[i+1:], "-") {
				x = -x
			}
		}
		exp = x
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, bad()
	}
	exp -= len(frac)
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return new(big.Int), nil
	}
	shift := exp + scale
	if shift < 0 {
		drop := -shift
		if drop > len(digits) || strings.Trim(digits[len(digits)-drop:], "0") != "" {
			return nil, fmt.Errorf("%s has more digits after the point than the schema's scale %d", short(t), scale)
		}
		digits = digits[:len(digits)-drop]
		shift = 0
	}
	if len(digits)+shift > precision {
		return nil, fmt.Errorf("%s has more digits than the schema's precision %d (scale %d)", short(t), precision, scale)
	}
	digits += strings.Repeat("0", shift)
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, bad()
	}
	if neg {
		n.Neg(n)
	}
	return n, nil
}
