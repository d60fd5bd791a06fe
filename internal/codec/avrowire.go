package codec

import "github.com/rdgraph/rdg/internal/avrowire"

// The framing and bounded decoding of Avro bodies are avrowire's; these
// names keep codec's callers, which mostly need the registry and the
// graph topics' formats too, to one import.

const (
	HeaderSize      = avrowire.HeaderSize
	DefaultMaxItems = avrowire.DefaultMaxItems
	DefaultMaxBytes = avrowire.DefaultMaxBytes
)

var (
	ErrBadHeader    = avrowire.ErrBadHeader
	ErrTooManyItems = avrowire.ErrTooManyItems
	ErrTooLarge     = avrowire.ErrTooLarge
	ErrMalformed    = avrowire.ErrMalformed
	ErrTruncated    = avrowire.ErrTruncated
	ErrTrailing     = avrowire.ErrTrailing
	DefaultDecoder  = avrowire.DefaultDecoder
	NewDecoder      = avrowire.NewDecoder
	SplitHeader     = avrowire.SplitHeader
	AppendHeader    = avrowire.AppendHeader
)

type (
	Limits    = avrowire.Limits
	BodyError = avrowire.BodyError
	Decoder   = avrowire.Decoder
)
