package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/testkit"
)

// typeCase is one row of the README's table of Avro types in expressions:
// a field of that type holding value, and an expression over it giving
// result as a node property. testdata/types/types.json holds them.
type typeCase struct {
	Avro    string          `json:"avro"`  // the type as the README names it
	Type    json.RawMessage `json:"type"`  // the field's Avro schema
	Field   string          `json:"field"` // the field's name
	Value   json.RawMessage `json:"value"` // its value, JSON as avroValue reads it
	Example string          `json:"example"`
	Result  json.RawMessage `json:"result"` // the property the example gives
}

func loadTypeCases(t *testing.T) []typeCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "types", "types.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []typeCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestAvroTypesInExpressions encodes a real Avro record per row, runs it
// through a job whose only property is the row's example, and checks the
// property, the Go type the decoded field has, and that the type checker
// (source.schema) gives the field that same type. Each row runs with and
// without a reader schema, and through both record decoders: the fast
// path, and hamba's (which an array field in the record forces).
func TestAvroTypesInExpressions(t *testing.T) {
	e := testkit.NewEnv(t)
	ctx := testkit.Ctx(t)
	for i, tc := range loadTypeCases(t) {
		fieldSchema, err := avro.ParseBytesWithCache(tc.Type, "", &avro.SchemaCache{})
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		value, err := avroValue(fieldSchema, tc.Value)
		if err != nil {
			t.Fatalf("row %d: value: %v", i, err)
		}
		goType := job.ExprTypeName(fieldSchema)
		for _, decoder := range []string{"fast", "hamba"} {
			fields := fmt.Sprintf(`[{"name": %q, "type": %s}]`, tc.Field, tc.Type)
			rec := map[string]any{tc.Field: value}
			if decoder == "hamba" {
				fields = fmt.Sprintf(`[{"name": %q, "type": %s}, {"name": "pad", "type": {"type": "array", "items": "int"}}]`, tc.Field, tc.Type)
				rec["pad"] = []any{}
			}
			schemaText := fmt.Sprintf(`{"type": "record", "name": "Row%d", "fields": %s}`, i, fields)
			id, sch := e.Register(t, fmt.Sprintf("row%d-%s-value", i, decoder), schemaText)
			body := testkit.Encode(t, id, sch, rec)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "row.avsc"), []byte(schemaText), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, withSchema := range []bool{false, true} {
				name := fmt.Sprintf("%d_%s/%s/schema=%v", i, tc.Avro, decoder, withSchema)
				t.Run(name, func(t *testing.T) {
					source := "{topic: t}"
					if withSchema {
						source = "{topic: t, schema: row.avsc}"
					}
					j := compileJob(t, filepath.Join(dir, "job.yaml"), fmt.Sprintf("name: types\nsource: %s\nnodes: [{type: row, id: '\"r\"', props: {v: %s}}]\n",
						source, job.YAMLFlow(tc.Example)))
					if withSchema {
						// The checker's type for the field is the decoded one.
						want := job.ZeroOf(fieldSchema)
						if got := j.Reader.(*avro.RecordSchema).Fields()[0].Name(); got != tc.Field {
							t.Fatalf("reader's first field %s", got)
						}
						env := envOf(j.Reader)
						if want != nil && env[tc.Field] != nil && !sameType(env[tc.Field], want) {
							t.Fatalf("checker types %s as %v, want %T", tc.Field, env[tc.Field], want)
						}
					}
					p := NewProcessor(j, codec.NewSchemas(e.Reg))
					var out graph.Batch
					if _, err := p.Process(ctx, body, time.Now(), &out); err != nil {
						t.Fatalf("%s: %v", tc.Example, err)
					}
					decoded := p.vars()[tc.Field]
					wantType := strings.TrimPrefix(goType, "nil or ")
					if decoded == nil && string(tc.Value) == "null" {
						wantType = "nil"
					}
					if got := job.GoTypeName(decoded); got != wantType {
						t.Errorf("%s decodes to %s, the table says %s", tc.Field, got, goType)
					}
					got, err := json.Marshal(out.Nodes[0].Props["v"].Value)
					if err != nil {
						t.Fatal(err)
					}
					var want bytes.Buffer
					if err := json.Compact(&want, tc.Result); err != nil {
						t.Fatal(err)
					}
					if string(got) != want.String() {
						t.Errorf("%s = %s, the table says %s", tc.Example, got, want.String())
					}
				})
			}
		}
	}
}

func sameType(t interface{ String() string }, v any) bool {
	return t.String() == reflect.TypeOf(v).String()
}

// avroValue converts a JSON value into what hamba encodes for schema s:
// the JSON numbers of logical types are their Avro encodings (days,
// milliseconds, microseconds), decimals are strings, bytes and fixed are
// strings of their bytes.
func avroValue(s avro.Schema, raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if t, ok := nullableOf(s); ok {
		return avroValue(t, raw)
	}
	num := func() (json.Number, error) {
		var n json.Number
		err := json.Unmarshal(raw, &n)
		return n, err
	}
	str := func() (string, error) {
		var v string
		err := json.Unmarshal(raw, &v)
		return v, err
	}
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch ls.Logical().Type() {
		case avro.Decimal:
			v, err := str()
			if err != nil {
				return nil, err
			}
			r, ok := new(big.Rat).SetString(v)
			if !ok {
				return nil, fmt.Errorf("decimal %q", v)
			}
			return r, nil
		case avro.UUID:
			return str()
		}
		n, err := num()
		if err != nil {
			return nil, err
		}
		v, err := n.Int64()
		if err != nil {
			return nil, err
		}
		switch ls.Logical().Type() {
		case avro.Date:
			return time.Unix(v*86400, 0).UTC(), nil
		case avro.TimeMillis:
			return time.Duration(v) * time.Millisecond, nil
		case avro.TimeMicros:
			return time.Duration(v) * time.Microsecond, nil
		case avro.TimestampMillis, avro.LocalTimestampMillis:
			return time.UnixMilli(v).UTC(), nil
		case avro.TimestampMicros, avro.LocalTimestampMicros:
			return time.UnixMicro(v).UTC(), nil
		}
		return nil, fmt.Errorf("logical type %s", ls.Logical().Type())
	}
	switch s.Type() {
	case avro.Boolean:
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	case avro.Int, avro.Long, avro.Float, avro.Double:
		n, err := num()
		if err != nil {
			return nil, err
		}
		f, err := n.Float64()
		switch s.Type() {
		case avro.Int:
			return int(f), err
		case avro.Long:
			v, err := n.Int64()
			return v, err
		case avro.Float:
			return float32(f), err
		}
		return f, err
	case avro.String, avro.Enum:
		return str()
	case avro.Bytes:
		v, err := str()
		return []byte(v), err
	case avro.Fixed:
		v, err := str()
		if err != nil {
			return nil, err
		}
		arr := reflect.New(reflect.ArrayOf(s.(*avro.FixedSchema).Size(), reflect.TypeFor[byte]())).Elem()
		reflect.Copy(arr, reflect.ValueOf([]byte(v)))
		return arr.Interface(), nil
	case avro.Array:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, it := range items {
			v, err := avroValue(s.(*avro.ArraySchema).Items(), it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case avro.Map, avro.Record:
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, r := range m {
			var fs avro.Schema
			if ms, ok := s.(*avro.MapSchema); ok {
				fs = ms.Values()
			} else {
				for _, f := range s.(*avro.RecordSchema).Fields() {
					if f.Name() == k {
						fs = f.Type()
					}
				}
			}
			if fs == nil {
				return nil, fmt.Errorf("no field %s", k)
			}
			v, err := avroValue(fs, r)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("type %s", s.Type())
}

// typesTable renders the cases as the README's table.
func typesTable(t *testing.T, cases []typeCase) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("| Avro type | in expressions | field = value | example | gives |\n|---|---|---|---|---|\n")
	for _, tc := range cases {
		sch, err := avro.ParseBytesWithCache(tc.Type, "", &avro.SchemaCache{})
		if err != nil {
			t.Fatal(err)
		}
		var value, result bytes.Buffer
		if err := json.Compact(&value, tc.Value); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&result, tc.Result); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s = %s` | `%s` | `%s` |\n", tc.Avro, job.ExprTypeName(sch), tc.Field, value.String(), tc.Example, result.String())
	}
	return b.String()
}

// The README's table of Avro types in expressions is the one the rows of
// TestAvroTypesInExpressions make, so it says what a job does.
func TestREADMEAvroTypesTable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := typesTable(t, loadTypeCases(t))
	if !strings.Contains(string(readme), "\n"+want+"\n") {
		t.Fatalf("README.md does not hold the table of Avro types that testdata/types/types.json defines and TestAvroTypesInExpressions checks; it should read:\n%s", want)
	}
}

// The README's examples of edge keys are what the graph topics hold.
func TestREADMEEdgeKeys(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref  graph.EdgeRef
		text string // how the README says it
	}{
		{graph.EdgeRef{Type: "watched", From: graph.NodeRef{Type: "account", ID: "m/1"}, To: graph.NodeRef{Type: "title", ID: "t-9"}},
			"`watched` from `account(m/1)` to `title(t-9)` has the\nkey `account/m%2F1/title/t-9`"},
		{graph.EdgeRef{Type: "watched", From: graph.NodeRef{Type: "account", ID: "café"}, To: graph.NodeRef{Type: "title", ID: "t-9"}},
			"a UTF-8 id such as `café` becomes\n`caf%C3%A9`"},
	} {
		if !strings.Contains(string(readme), tc.text) {
			t.Errorf("README does not say %q", tc.text)
		}
		key := string(codec.EdgeKey(tc.ref))
		if want := tc.text[strings.LastIndex(tc.text[:len(tc.text)-1], "`")+1 : len(tc.text)-1]; !strings.Contains(key, want) {
			t.Errorf("EdgeKey(%v) = %s, the README says it holds %s", tc.ref, key, want)
		}
	}
}

// nullableOf returns T for a union ["null", T] (either order).
func nullableOf(s avro.Schema) (avro.Schema, bool) {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	u, ok := s.(*avro.UnionSchema)
	if !ok || len(u.Types()) != 2 {
		return nil, false
	}
	switch ts := u.Types(); {
	case ts[0].Type() == avro.Null:
		return ts[1], true
	case ts[1].Type() == avro.Null:
		return ts[0], true
	}
	return nil, false
}
