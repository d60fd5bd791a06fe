package avrowire

import (
	"encoding/binary"
	"errors"
)

// HeaderSize is the length of the Confluent wire-format header.
const HeaderSize = 5

// ErrBadHeader reports a record whose value is not Confluent-framed.
var ErrBadHeader = errors.New("not Confluent wire format: want magic byte 0 and a 4-byte schema id")

// SplitHeader returns the schema id and Avro body of a Confluent-framed value.
func SplitHeader(b []byte) (id int, body []byte, err error) {
	if len(b) < HeaderSize || b[0] != 0 {
		return 0, nil, ErrBadHeader
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:], nil
}

// AppendHeader appends the Confluent header for schema id to dst.
func AppendHeader(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, 0), uint32(id))
}

// ErrTruncated reports an Avro body that ends before its record does.
var ErrTruncated = errors.New("avro body is truncated")

// ErrTrailing reports bytes left over after an Avro record: the body is not
// what its schema id says.
var ErrTrailing = errors.New("avro body has trailing bytes after the record")
