package produce

import (
	"encoding/binary"
	"math"
	"math/big"
)

// Avro binary encoding, appended to a buffer. The converter writes bodies
// itself rather than building Go values for an Avro library: it decides
// the branch of every union and the unit of every logical type from the
// input text, and a value that does not fit is reported where it is.

func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendFloat(dst []byte, v float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
}

func appendDouble(dst []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
}

func appendBytes(dst, b []byte) []byte {
	return append(appendLong(dst, int64(len(b))), b...)
}

func appendString(dst []byte, s string) []byte {
	return append(appendLong(dst, int64(len(s))), s...)
}

// twosComplement is x as the shortest big-endian two's-complement bytes,
// the encoding of an Avro decimal's unscaled value.
func twosComplement(x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -x-1 with every bit inverted is x in two's complement.
	y := new(big.Int).Neg(x)
	y.Sub(y, big.NewInt(1))
	b := y.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// signExtend widens two's-complement b to size bytes; ok is false if it
// does not fit.
func signExtend(b []byte, size int) ([]byte, bool) {
	if len(b) > size {
		return nil, false
	}
	out := make([]byte, size)
	if b[0]&0x80 != 0 {
		for i := range size - len(b) {
			out[i] = 0xff
		}
	}
	copy(out[size-len(b):], b)
	return out, true
}
