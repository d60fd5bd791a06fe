package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
)

// runRdg runs the rdg binary to completion with args (plus the cluster's
// addresses), returning its stdout, stderr and exit code.
func (c *cluster) runRdg(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return execRdg(t, "", stdin, append(args, "--brokers", c.kafka, "--registry", c.regURL)...)
}

func (c *cluster) createTopic(t *testing.T, name string, partitions int32) {
	t.Helper()
	resp, err := c.adm.CreateTopic(context.Background(), partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// produced is one record read back from a topic.
type produced struct {
	key   string // "<nil>" for no key
	value map[string]any
}

// readTopic reads every record of topic, expecting n, and decodes each
// value with the writer schema its Confluent header names, fetched from
// the registry as any consumer would.
func (c *cluster) readTopic(t *testing.T, topic string, n int) []produced {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	schemas := codec.NewSchemas(c.reg)
	var out []produced
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", len(out), n, topic)
		}
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			id, body, err := codec.SplitHeader(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			sch, err := schemas.ByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := codec.Unmarshal(sch, body, &v); err != nil {
				t.Fatalf("record at offset %d: %v", r.Offset, err)
			}
			key := "<nil>"
			if r.Key != nil {
				key = string(r.Key)
			}
			out = append(out, produced{key: key, value: v})
		}
	}
	// Nothing beyond the n expected: the end offsets say what the topic holds.
	ends, err := c.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != int64(n) || len(out) != n {
		t.Fatalf("topic %s holds %d records (read %d), want %d", topic, total, len(out), n)
	}
	return out
}

var summaryRE = regexp.MustCompile(`-> (\S+): ([\d,]+) rows read, ([\d,]+) produced, ([\d,]+) rejected in (\S+) \(([\d,]+) rows/s\)`)

// summary is the counts of rdg produce's summary line in stderr.
func summary(t *testing.T, stderr string) (read, produced, rejected, perSecond int) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", stderr)
	}
	num := func(s string) int {
		n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return num(m[2]), num(m[3]), num(m[4]), num(m[6])
}

const e2eEventSchema = `{"type": "record", "name": "Watch", "namespace": "e2e", "fields": [
  {"name": "member_id", "type": "string"},
  {"name": "title_id", "type": "string"},
  {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["SHOW", "FILM"]}},
  {"name": "position_s", "type": ["null", "long"], "default": null},
  {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}, "default": "\u0000"}
]}`

// TestProduceFiles runs rdg produce as a process on a JSON-lines file and
// a CSV file with bad rows: the good rows arrive, decodable with the
// registered schema; every bad row is reported with its line; the summary
// counts them.
func TestProduceFiles(t *testing.T) {
	c := startCluster(t)
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "watch.avsc")
	must(t, os.WriteFile(schemaFile, []byte(e2eEventSchema), 0o644))

	t.Run("json", func(t *testing.T) {
		c.createTopic(t, "e2e.watch.json", 3)
		file := filepath.Join(dir, "watch.jsonl")
		must(t, os.WriteFile(file, []byte(strings.Join([]string{
			`{"member_id": "m1", "title_id": "t1", "ts": "2025-03-01T19:02:11.5Z", "kind": "SHOW", "position_s": 60}`,
			`{"member_id": "m2", "title_id": "t2", "ts": 1740855731000, "kind": "FILM", "price": "3.99"}`,
			`{"member_id": "m3", "title_id": "t3", "ts": 1740855731000, "kind": "MOVIE"}`,
			``,
			`{"member_id": "m4", "title_id": "t4", "ts": "not a time", "kind": "SHOW"}`,
			`{"member_id": "m5", "title_id": "t5", "ts": 1740855731000, "kind": "SHOW", "position_s": {"long": 5}}`,
			`{"member_id": "m6", "title_id": "t6"`,
			`{"member_id": "m7", "title_id": "t7", "ts": 1740855731000, "kind": "FILM", "extra": true}`,
		}, "\r\n")+"\r\n"), 0o644))
		_, stderr, code := c.runRdg(t, "", "produce", "--topic", "e2e.watch.json", "--schema", schemaFile, "--key", "member_id", file)
		if code != 0 {
			t.Fatalf("exit %d with --on-error skip:\n%s", code, stderr)
		}
		for _, want := range []string{
			file + `:3: field kind: "MOVIE" is not a symbol of enum e2e.Kind: want one of SHOW, FILM`,
			file + `:5: field ts: want an RFC 3339 timestamp`,
			file + `:7:37: invalid JSON: unexpected end of input`,
			file + `:8: field extra: not a field of e2e.Watch`,
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if read, prod, rej, _ := summary(t, stderr); read != 7 || prod != 3 || rej != 4 {
			t.Errorf("summary: %d read, %d produced, %d rejected; want 7, 3, 4", read, prod, rej)
		}
		got := c.readTopic(t, "e2e.watch.json", 3)
		sort.Slice(got, func(i, j int) bool { return got[i].key < got[j].key })
		want := []string{
			`m1 map[kind:SHOW member_id:m1 position_s:60 price:0/1 title_id:t1 ts:2025-03-01 19:02:11.5 +0000 UTC]`,
			`m2 map[kind:FILM member_id:m2 position_s:<nil> price:399/100 title_id:t2 ts:2025-03-01 19:02:11 +0000 UTC]`,
			`m5 map[kind:SHOW member_id:m5 position_s:5 price:0/1 title_id:t5 ts:2025-03-01 19:02:11 +0000 UTC]`,
		}
		for i, g := range got {
			if s := g.key + " " + fmt.Sprint(g.value); s != want[i] {
				t.Errorf("record %d:\n got %s\nwant %s", i, s, want[i])
			}
		}
	})

	t.Run("csv", func(t *testing.T) {
		c.createTopic(t, "e2e.watch.csv", 3)
		file := filepath.Join(dir, "watch.csv")
		must(t, os.WriteFile(file, []byte("\xef\xbb\xbfmember_id,title_id,ts,kind,position_s,price\r\n"+
			"m1,t1,2025-03-01T19:02:11Z,SHOW,,\r\n"+
			"m2,\"t2, the sequel\",1740855731000,FILM,120,1.50\r\n"+
			"m3,t3,1740855731000,SHOW,ten,\r\n"+
			"m4,t4,,SHOW,,\r\n"+
			"m5,t5,1740855731000,FILM,7,12.345\r\n"+
			"m6,t6,1740855731000,FILM,8,2\r\n"), 0o644))
		// The subject exists now (the json test registered it under
		// another topic's name): register under this topic's.
		_, stderr, code := c.runRdg(t, "", "produce", "--topic", "e2e.watch.csv", "--schema", schemaFile, file)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		for _, want := range []string{
			file + `:4: column 5 (position_s): want union [null, long], got "ten"`,
			file + `:5: column 3 (ts): empty, and long (timestamp-millis) has no null and no default`,
			file + `:6: column 6 (price): 12.345 has more digits after the point than the schema's scale 2`,
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if read, prod, rej, _ := summary(t, stderr); read != 6 || prod != 3 || rej != 3 {
			t.Errorf("summary: %d read, %d produced, %d rejected; want 6, 3, 3", read, prod, rej)
		}
		got := c.readTopic(t, "e2e.watch.csv", 3)
		titles := []string{}
		for _, g := range got {
			if g.key != "<nil>" {
				t.Errorf("record with key %q: no --key, no key", g.key)
			}
			titles = append(titles, fmt.Sprint(g.value["title_id"]))
		}
		sort.Strings(titles)
		if s := strings.Join(titles, "|"); s != "t1|t2, the sequel|t6" {
			t.Errorf("titles %s", s)
		}

		// --on-error stop: the run ends at the first bad row, non-zero,
		// with the rows before it produced and counted.
		c.createTopic(t, "e2e.watch.stop", 1)
		_, stderr, code = c.runRdg(t, "", "produce", "--topic", "e2e.watch.stop", "--subject", "e2e.watch.csv-value", "--on-error", "stop", file)
		if code == 0 || !strings.Contains(stderr, "row rejected (--on-error stop): "+file+":4: column 5 (position_s)") {
			t.Errorf("exit %d with --on-error stop:\n%s", code, stderr)
		}
		if read, prod, rej, _ := summary(t, stderr); read != 3 || prod != 2 || rej != 1 {
			t.Errorf("summary: %d read, %d produced, %d rejected; want 3, 2, 1", read, prod, rej)
		}
		c.readTopic(t, "e2e.watch.stop", 2)
	})

	t.Run("stdin and errors before any row", func(t *testing.T) {
		_, stderr, code := c.runRdg(t, `{"member_id": "m1"}`+"\n", "produce", "--topic", "e2e.missing", "--subject", "e2e.watch.csv-value", "-")
		if code == 0 || !strings.Contains(stderr, "topic e2e.missing does not exist: create it with rdg topic create e2e.missing or let rdg up create it from your job files") {
			t.Errorf("unknown topic: exit %d:\n%s", code, stderr)
		}
		_, stderr, code = c.runRdg(t, "", "produce", "--topic", "e2e.watch.json", "--subject", "no.such-value", "-")
		if code == 0 || !strings.Contains(stderr, "no schema is registered under subject no.such-value") {
			t.Errorf("unknown subject: exit %d:\n%s", code, stderr)
		}
		_, stderr, code = c.runRdg(t, `{"member_id": "m9", "title_id": "t9", "ts": 1, "kind": "FILM"}`+"\n",
			"produce", "--topic", "e2e.watch.json", "--subject", "e2e.watch.json-value", "--key", "title_id")
		if read, prod, rej, _ := summary(t, stderr); code != 0 || read != 1 || prod != 1 || rej != 0 {
			t.Errorf("stdin: exit %d, %d read, %d produced, %d rejected:\n%s", code, read, prod, rej, stderr)
		}
	})
}

// TestProduceHelpExamples runs the Example lines of rdg produce --help
// against a cluster holding what rdg up --demo has: the member.logins
// topic and its schema.
func TestProduceHelpExamples(t *testing.T) {
	c := startCluster(t)
	c.createTopic(t, "member.logins", 3)
	login, err := os.ReadFile("examples/netflix/schemas/login.avsc")
	must(t, err)
	if _, err := codec.Register(context.Background(), c.reg, "member.logins-value", string(login)); err != nil {
		t.Fatal(err)
	}
	help, _, code := c.runRdg(t, "", "produce", "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	_, ex, _ := strings.Cut(help, "Examples:\n")
	ex, _, _ = strings.Cut(ex, "\n\n")
	var cmds []string
	for _, line := range strings.Split(strings.ReplaceAll(ex, "\\\n", ""), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "rdg ") {
			cmds = append(cmds, line)
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("examples: %q", cmds)
	}
	rows := 0
	for _, cmdline := range cmds {
		sh := exec.Command("sh", "-c", cmdline+" --brokers "+c.kafka+" --registry "+c.regURL)
		sh.Env = append(os.Environ(), "PATH="+filepath.Dir(rdgBinary(t))+":"+os.Getenv("PATH"))
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", cmdline, err, out)
			continue
		}
		read, prod, rej, _ := summary(t, string(out))
		if read == 0 || prod != read || rej != 0 {
			t.Errorf("%s: %d read, %d produced, %d rejected\n%s", cmdline, read, prod, rej, out)
		}
		rows += prod
	}
	c.readTopic(t, "member.logins", rows)
}

// TestProduceMovieLens produces the 100,836 MovieLens ratings from their
// CSV file, as a user would with a schema whose fields are the header's
// columns, and reads every one back.
func TestProduceMovieLens(t *testing.T) {
	csvFile := sharedData(t, "movielens-latest-small/ratings.csv")
	c := startCluster(t)
	c.createTopic(t, "movielens.ratings", 6)
	schemaFile := filepath.Join(t.TempDir(), "ratings.avsc")
	must(t, os.WriteFile(schemaFile, []byte(`{"type": "record", "name": "Rating", "namespace": "movielens", "fields": [
  {"name": "userId", "type": "long"},
  {"name": "movieId", "type": "long"},
  {"name": "rating", "type": "double"},
  {"name": "timestamp", "type": "long", "doc": "seconds since the Unix epoch"}
]}`), 0o644))
	_, stderr, code := c.runRdg(t, "", "produce", "--topic", "movielens.ratings", "--schema", schemaFile, "--key", "userId", csvFile)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	want := readRatings(t)
	read, prod, rej, perSecond := summary(t, stderr)
	if read != len(want) || prod != len(want) || rej != 0 {
		t.Fatalf("summary: %d read, %d produced, %d rejected; want %d, %d, 0", read, prod, rej, len(want), len(want))
	}
	t.Logf("rdg produce: %d ratings at %d rows/s (%s)", prod, perSecond, strings.TrimSpace(stderr))

	got := c.readTopic(t, "movielens.ratings", len(want))
	count := map[rating]int{}
	for _, r := range want {
		count[r]++
	}
	for _, g := range got {
		r := rating{UserID: g.value["userId"].(int64), MovieID: g.value["movieId"].(int64),
			Rating: g.value["rating"].(float64), Timestamp: g.value["timestamp"].(int64)}
		if g.key != strconv.FormatInt(r.UserID, 10) {
			t.Fatalf("record %+v has key %q", r, g.key)
		}
		count[r]--
	}
	for r, n := range count {
		if n != 0 {
			t.Fatalf("rating %+v: %d more in the file than in the topic", r, n)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
