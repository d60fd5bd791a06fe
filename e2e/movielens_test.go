package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
)

type rating struct {
	UserID    int64   `avro:"user_id"`
	MovieID   int64   `avro:"movie_id"`
	Rating    float64 `avro:"rating"`
	Timestamp int64   `avro:"timestamp"`
}

func readRatings(t *testing.T) []rating {
	f, err := os.Open(sharedData(t, "movielens-latest-small/ratings.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]rating, 0, len(rows)-1)
	for i, r := range rows[1:] { // header: userId,movieId,rating,timestamp
		u, err1 := strconv.ParseInt(r[0], 10, 64)
		m, err2 := strconv.ParseInt(r[1], 10, 64)
		v, err3 := strconv.ParseFloat(r[2], 64)
		ts, err4 := strconv.ParseInt(r[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			t.Fatalf("ratings.csv row %d: %v", i+2, r)
		}
		out = append(out, rating{u, m, v, ts})
	}
	return out
}

// registerOverHTTP registers a schema the way any non-Go client would: a
// JSON POST to the Confluent REST API.
func registerOverHTTP(t *testing.T, registryURL, subject, schema string) int {
	body, _ := json.Marshal(map[string]string{"schema": schema})
	resp, err := http.Post(registryURL+"/subjects/"+subject+"/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register %s: HTTP %d: %s", subject, resp.StatusCode, b)
	}
	var got struct{ ID int }
	if err := json.Unmarshal(b, &got); err != nil || got.ID <= 0 {
		t.Fatalf("register %s: response %s", subject, b)
	}
	return got.ID
}

// TestMovieLensRatings produces the real MovieLens ratings with
// segmentio/kafka-go (not rdg's Kafka client) through a job written for
// them, and checks the stored graph against the CSV.
func TestMovieLensRatings(t *testing.T) {
	ratings := readRatings(t)
	dir := filepath.Join(repoRoot(t), "e2e", "testdata", "movielens")
	st := startStack(t, dir)
	ctx := context.Background()
	const topic = "movielens.ratings"

	schemaText, err := os.ReadFile(filepath.Join(dir, "ratings.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	id := registerOverHTTP(t, st.RegistryURL(), codec.Subject(topic), string(schemaText))
	schema := mustParse(t, string(schemaText))

	conn, err := kafka.Dial("tcp", st.Seeds()[0])
	if err != nil {
		t.Fatal(err)
	}
	err = conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 3, ReplicationFactor: 1})
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(st.Seeds()...), Topic: topic, Balancer: &kafka.Hash{},
		BatchSize: 5000, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	start := time.Now()
	const chunk = 5000
	for i := 0; i < len(ratings); i += chunk {
		msgs := make([]kafka.Message, 0, chunk)
		for _, r := range ratings[i:min(i+chunk, len(ratings))] {
			body, err := avro.Marshal(schema, r)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, kafka.Message{Key: []byte(strconv.FormatInt(r.UserID, 10)), Value: append(codec.AppendHeader(nil, id), body...)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("kafka-go write: %v", err)
		}
	}
	t.Logf("produced %d ratings with kafka-go in %s", len(ratings), time.Since(start).Round(time.Millisecond))

	users, movies := map[int64]bool{}, map[int64]bool{}
	for _, r := range ratings {
		users[r.UserID], movies[r.MovieID] = true, true
	}
	if len(users) != 610 || len(movies) != 9724 || len(ratings) != 100836 {
		t.Fatalf("ratings.csv has %d users, %d movies, %d ratings; the test expects the 2018 latest-small release", len(users), len(movies), len(ratings))
	}
	await(t, 2*time.Minute, func() (bool, string) {
		nodes, edges, err := st.Store().Counts(ctx)
		if err != nil {
			return false, err.Error()
		}
		status := fmt.Sprintf("store holds %d users, %d movies, %d rated edges", nodes["user"], nodes["movie"], edges["rated"])
		return nodes["user"] == 610 && nodes["movie"] == 9724 && edges["rated"] == 100836, status
	})
	t.Logf("graph complete %s after production started", time.Since(start).Round(time.Millisecond))

	// User 1's outgoing edges are exactly user 1's rows.
	var want, got []string
	for _, r := range ratings {
		if r.UserID == 1 {
			want = append(want, fmt.Sprintf("movie:%d rating=%.1f timestamp=%d seen=%d", r.MovieID, r.Rating, r.Timestamp, r.Timestamp*1000))
		}
	}
	err = st.Store().Edges(ctx, graph.NodeRef{Type: "user", ID: "1"}, graph.Out, "", func(e *graph.Edge) bool {
		got = append(got, fmt.Sprintf("%s rating=%.1f timestamp=%d seen=%d", e.To, e.Props["rating"].Value, e.Props["timestamp"].Value, e.LastSeen))
		if e.Type != "rated" || e.FirstSeen != e.LastSeen {
			t.Errorf("edge %s: type %q first_seen %d last_seen %d", e.EdgeRef, e.Type, e.FirstSeen, e.LastSeen)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)
	sort.Strings(got)
	if len(want) != 232 {
		t.Fatalf("user 1 has %d rows in ratings.csv, want 232", len(want))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("user 1's edges differ from ratings.csv:\n got %d: %v\nwant %d: %v", len(got), got, len(want), want)
	}
}
