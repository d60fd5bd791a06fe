package enrich_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rdgraph/rdg/internal/enrich"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantRow(t *testing.T, tab enrich.Table, key string, want map[string]any) {
	t.Helper()
	got, ok := tab.Lookup(key)
	if !ok {
		t.Fatalf("Lookup(%q): missing", key)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup(%q) = %#v, want %#v", key, got, want)
	}
}

func TestCSV(t *testing.T) {
	// A byte-order mark, quoting, an embedded newline, and CRLF endings, as
	// spreadsheets write them; t-2 appears twice and its last row wins.
	p := writeFile(t, "titles.csv", "\ufefftitle_id,name,year,rating\r\n"+
		"t-1,\"Dark, Part 1\",2017,8.7\r\n"+
		"t-2,Old Name,2019,7\r\n"+
		"007,\"Two\nLines\",0042,-0.5\r\n"+
		"t-2,New Name,2020,\r\n")
	tab, err := enrich.LoadFile(p, "title_id")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 3 {
		t.Fatalf("Len = %d, want 3", tab.Len())
	}
	wantRow(t, tab, "t-1", map[string]any{"title_id": "t-1", "name": "Dark, Part 1", "year": "2017", "rating": "8.7"})
	wantRow(t, tab, "t-2", map[string]any{"title_id": "t-2", "name": "New Name", "year": "2020", "rating": ""})
	wantRow(t, tab, "007", map[string]any{"title_id": "007", "name": "Two\nLines", "year": "0042", "rating": "-0.5"})
	if _, ok := tab.Lookup("t-3"); ok {
		t.Fatal("Lookup of a missing key succeeded")
	}

	inf, err := enrich.LoadFile(p, "title_id", enrich.InferNumbers())
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, inf, "t-1", map[string]any{"title_id": "t-1", "name": "Dark, Part 1", "year": int64(2017), "rating": 8.7})
	// Leading zeros and empty cells stay strings; the key is always the text.
	wantRow(t, inf, "007", map[string]any{"title_id": "007", "name": "Two\nLines", "year": "0042", "rating": -0.5})
	wantRow(t, inf, "t-2", map[string]any{"title_id": "t-2", "name": "New Name", "year": int64(2020), "rating": ""})
}

func TestInferNumbersKeepsNonNumbers(t *testing.T) {
	p := writeFile(t, "x.csv", "id,v\n"+
		"a,NaN\nb,Inf\nc,0x1F\nd,1_000\ne,1e400\nf,0\ng,-0\nh,1e3\ni,9223372036854775808\nj,.5\nk,00\n")
	tab, err := enrich.LoadFile(p, "id", enrich.InferNumbers())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a": "NaN", "b": "Inf", "c": "0x1F", "d": "1_000", "e": "1e400", "f": int64(0), "g": int64(0),
		"h": 1000.0, "i": 9223372036854775808.0, "j": 0.5, "k": "00",
	}
	for k, v := range want {
		row, _ := tab.Lookup(k)
		if row["v"] != v {
			t.Errorf("%s: v = %#v, want %#v", k, row["v"], v)
		}
	}
}

func TestJSON(t *testing.T) {
	array := `[
  {"id": "g-1", "name": "Puzzle", "players": 2, "score": 4.5, "whole": 3.0, "tags": ["a", 1], "meta": {"n": 1}, "none": null},
  {"id": 7, "name": "Numeric key"},
  {"id": "g-1", "name": "Last wins", "players": 4}
]`
	lines := `{"id": "g-1", "name": "Puzzle", "players": 2, "score": 4.5, "whole": 3.0, "tags": ["a", 1], "meta": {"n": 1}, "none": null}
{"id": 7, "name": "Numeric key"}

{"id": "g-1", "name": "Last wins", "players": 4}
`
	for name, content := range map[string]string{"array.json": array, "lines.jsonl": lines, "lines.json": lines, "sniffed.txt": array} {
		t.Run(name, func(t *testing.T) {
			tab, err := enrich.LoadFile(writeFile(t, name, content), "id")
			if err != nil {
				t.Fatal(err)
			}
			if tab.Len() != 2 {
				t.Fatalf("Len = %d, want 2", tab.Len())
			}
			wantRow(t, tab, "g-1", map[string]any{"id": "g-1", "name": "Last wins", "players": int64(4)})
			wantRow(t, tab, "7", map[string]any{"id": int64(7), "name": "Numeric key"})
		})
	}
	tab, err := enrich.LoadFile(writeFile(t, "one.json", `[{"id": "g-1", "n": 2, "f": 4.5, "w": 3.0, "big": 1e300, "tags": ["a", 1], "meta": {"n": 1}, "none": null, "ok": true}]`), "id")
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, tab, "g-1", map[string]any{"id": "g-1", "n": int64(2), "f": 4.5, "w": int64(3), "big": 1e300,
		"tags": []any{"a", int64(1)}, "meta": map[string]any{"n": int64(1)}, "none": nil, "ok": true})

	empty, err := enrich.LoadFile(writeFile(t, "empty.json", "[]"), "id")
	if err != nil || empty.Len() != 0 {
		t.Fatalf("empty array: %v, %v", empty, err)
	}
}

// Every error names the file and, where there is one, the line, the way a
// compiler does.
func TestFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"nokey.csv", "title_id,name\nt-1,A\n", ":1: no key column \"id\" in the header (columns: title_id, name)"},
		{"dupcol.csv", "id,name,name\n", ":1: column \"name\" appears twice"},
		{"empty.csv", "", ":1: empty file"},
		{"ragged.csv", "id,name\na,A\nb,B,extra\n", ":3: wrong number of fields"},
		{"quote.csv", "id,name\na,A\nb,\"unterminated\n", ":3: extraneous or missing \" in quoted-field"},
		{"emptykey.csv", "id,name\na,A\n,B\n", ":3: empty key column \"id\""},
		{"nokey.json", "[\n {\"id\": \"a\"},\n {\"name\": \"b\"}\n]", ":3: no key field \"id\""},
		{"nokey.jsonl", "{\"id\": \"a\"}\n{\"name\": \"b\"}\n", ":2: no key field \"id\""},
		{"boolkey.jsonl", "{\"id\": true}\n", ":1: key field \"id\" is a boolean"},
		{"syntax.json", "[\n {\"id\": \"a\"},\n {\"id\": \"b\",}\n]", ":3: invalid JSON"},
		{"syntax.jsonl", "{\"id\": \"a\"}\n{\"id\": \"b\"\n", ":2: invalid JSON: unexpected end of file"},
		{"garbage.jsonl", "{\"id\": \"a\"}\nnot json\n", ":2: invalid JSON"},
		{"unterminated.json", "[\n {\"id\": \"a\"}\n", ":3: invalid JSON"},
		{"notobject.json", "[\n {\"id\": \"a\"},\n 5\n]", ":3: want a JSON object, got a number"},
		{"trailing.json", "[{\"id\": \"a\"}]\n{\"id\": \"b\"}\n", ":2: unexpected content after the JSON array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.name, tc.content)
			_, err := enrich.LoadFile(p, "id")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), p+tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, p+tc.want)
			}
		})
	}

	if _, err := enrich.LoadFile(filepath.Join(t.TempDir(), "missing.csv"), "id"); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestFileLookupDoesNotAllocate(t *testing.T) {
	tab, err := enrich.LoadFile(writeFile(t, "a.csv", "id,name\na,A\n"), "id")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("a", 1) // not a constant, like a decoded field
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(key) }); n != 0 {
		t.Fatalf("Lookup allocates %v times", n)
	}
}
