package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Strict requests. connect-go's JSON codec discards fields it does not
// know, so a misspelt filter ({"edgeType": ...}) is ignored and the
// answer is unfiltered; binary protobuf keeps unknown fields aside just as
// silently. The server refuses both with InvalidArgument naming the
// field: the field may be a filter or a limit, and ignoring it answers
// another question than the one asked. (Clients still ignore unknown
// fields of answers: a newer server may add some.) An enum name the
// server does not know is refused by the same JSON decoding.

// strictJSON is connect-go's protojson codec with unknown fields refused.
type strictJSON struct{ name string }

func (c strictJSON) Name() string { return c.name }
func (strictJSON) IsBinary() bool { return false }

func (c strictJSON) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

func (strictJSON) MarshalAppend(b []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return protojson.MarshalOptions{}.MarshalAppend(b, pm)
}

func (c strictJSON) MarshalStable(m any) ([]byte, error) {
	b, err := c.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (strictJSON) Unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if len(b) == 0 {
		return errors.New("empty body: a JSON request is an object, {} at least")
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, pm); err != nil {
		// protojson's errors name the field and the position; its
		// "proto:" prefix (followed by a space or, at random, a
		// non-breaking one) says nothing to an API client.
		msg := strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
		return fmt.Errorf("JSON %s: %s", pm.ProtoReflect().Descriptor().Name(), msg)
	}
	return nil
}

// refuseUnknownFields refuses a request message that carries fields the
// server does not know, which only binary protobuf can (JSON is refused
// while decoding).
func refuseUnknownFields() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if pm, ok := req.Any().(proto.Message); ok {
				if field, num, found := unknownField(pm.ProtoReflect(), ""); found {
					where := "request"
					if field != "" {
						where = field
					}
					return nil, invalidArg(where, "unknown field number %d: this server does not know it (a field of a newer API version?), and ignoring it could answer another question", num)
				}
			}
			return next(ctx, req)
		}
	}
}

// unknownField finds the first unknown field in m and its sub-messages,
// returning the path of the message that holds it (proto names, e.g.
// "steps[1]") and its field number.
func unknownField(m protoreflect.Message, path string) (string, protowire.Number, bool) {
	if u := m.GetUnknown(); len(u) > 0 {
		num, _, _ := protowire.ConsumeTag(u)
		return path, num, true
	}
	var (
		foundPath string
		foundNum  protowire.Number
		found     bool
	)
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := range l.Len() {
				if foundPath, foundNum, found = unknownField(l.Get(i).Message(), index(join(string(fd.Name())), i)); found {
					return false
				}
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				foundPath, foundNum, found = unknownField(mv.Message(), join(string(fd.Name()))+"["+k.String()+"]")
				return !found
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			foundPath, foundNum, found = unknownField(v.Message(), join(string(fd.Name())))
		}
		return !found
	})
	return foundPath, foundNum, found
}
