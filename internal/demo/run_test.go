package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// env is a real broker (kfake over TCP) and an in-memory registry. The
// registry is franz-go's srfake because rdg's own registry is being built
// in parallel; Run only needs the Confluent REST API, which both speak.
type env struct {
	cl    *kgo.Client
	adm   *kadm.Client
	reg   *sr.Client
	addrs []string
}

func newEnv(t *testing.T, opts ...kgo.Opt) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	fake := srfake.New()
	t.Cleanup(fake.Close)
	reg, err := sr.NewClient(sr.URLs(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cl: cl, adm: kadm.NewClient(cl), reg: reg, addrs: addrs}
	ctx := context.Background()
	if err := EnsureTopics(ctx, e.adm, 3); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(ctx, e.adm, 3); err != nil { // already exists: fine
		t.Fatalf("second EnsureTopics: %v", err)
	}
	return e
}

// consume reads n records from the three topics.
func (e *env) consume(t *testing.T, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(e.addrs...),
		kgo.ConsumeTopics(TopicLogins, TopicPlayback, TopicGames),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d of %d records: %v", len(recs), n, err)
		}
		recs = append(recs, fs.Records()...)
	}
	// Nothing beyond n: a short extra poll must come back empty.
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if extra := cl.PollFetches(short).Records(); len(extra)+len(recs) != n {
		t.Fatalf("consumed %d records, want %d", len(extra)+len(recs), n)
	}
	return recs
}

func TestRunProducesCount(t *testing.T) {
	e := newEnv(t)
	cfg := Config{Seed: 5, Members: 200, Count: 5000, Rate: -1, Start: testStart}
	st, err := Run(context.Background(), e.cl, e.reg, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total() != cfg.Count || st.Errors != 0 || len(st.Events) != 3 {
		t.Fatalf("stats %+v", st)
	}

	want := map[string]Event{}
	g := New(cfg)
	for range cfg.Count {
		ev := g.Next()
		want[eventIDOf(ev.Value)] = ev
	}

	schemas := map[int]avro.Schema{}
	for _, r := range e.consume(t, int(cfg.Count)) {
		if len(r.Value) < 5 || r.Value[0] != 0 {
			t.Fatalf("no Confluent header: %x", r.Value)
		}
		id := int(binary.BigEndian.Uint32(r.Value[1:5]))
		sch, ok := schemas[id]
		if !ok {
			s, err := e.reg.SchemaByID(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if sch, err = avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{}); err != nil {
				t.Fatal(err)
			}
			schemas[id] = sch
			ss, err := e.reg.SchemaByVersion(context.Background(), r.Topic+"-value", -1)
			if err != nil || ss.ID != id {
				t.Fatalf("subject %s-value: id %d, err %v; record has %d", r.Topic, ss.ID, err, id)
			}
		}
		var got any
		switch r.Topic {
		case TopicLogins:
			got = new(Login)
		case TopicPlayback:
			got = new(Playback)
		case TopicGames:
			got = new(Game)
		}
		if err := avro.Unmarshal(sch, r.Value[5:], got); err != nil {
			t.Fatalf("%s: %v", r.Topic, err)
		}
		w, ok := want[eventIDOf(got)]
		if !ok {
			t.Fatalf("unexpected event %+v", got)
		}
		delete(want, eventIDOf(got))
		if !reflect.DeepEqual(got, w.Value) {
			t.Fatalf("decoded %+v, generated %+v", got, w.Value)
		}
		if r.Topic != w.Topic || string(r.Key) != string(w.Key) || !r.Timestamp.Equal(w.Time) {
			t.Fatalf("record %s/%s/%v, event %s/%s/%v", r.Topic, r.Key, r.Timestamp, w.Topic, w.Key, w.Time)
		}
	}
	if len(schemas) != 3 {
		t.Fatalf("%d schema ids, want 3", len(schemas))
	}
}

func eventIDOf(v any) string {
	switch v := v.(type) {
	case *Login:
		return v.EventID
	case *Playback:
		return v.EventID
	case *Game:
		return v.EventID
	}
	return ""
}

// Cancelling stops the run without an error and loses nothing that was
// counted.
func TestRunCancel(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	st, err := Run(ctx, e.cl, e.reg, Config{Seed: 1, Members: 100, Rate: 2000, Topics: []string{TopicLogins, TopicGames}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total() == 0 || st.Events[TopicPlayback] != 0 {
		t.Fatalf("stats %+v", st)
	}
	recs := e.consume(t, int(st.Total()))
	for _, r := range recs {
		if r.Topic == TopicPlayback {
			t.Fatal("record on a topic that was not asked for")
		}
	}
}

// Duration stops the run, and progress reports along the way.
func TestRunDurationProgress(t *testing.T) {
	e := newEnv(t)
	var reports []Stats
	st, err := Run(context.Background(), e.cl, e.reg, Config{Seed: 1, Members: 100, Rate: 500, Duration: 1100 * time.Millisecond},
		func(s Stats) { reports = append(reports, s) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Total() == 0 || st.Elapsed < 1100*time.Millisecond {
		t.Fatalf("stats %+v", st)
	}
	if len(reports) == 0 || reports[0].Total() > st.Total() {
		t.Fatalf("progress reports %+v, final %+v", reports, st)
	}
}

func TestRunProduceError(t *testing.T) {
	// Every record is larger than the client may buffer, so each fails at
	// once with MessageTooLarge.
	e := newEnv(t, kgo.MaxBufferedBytes(50))
	st, err := Run(context.Background(), e.cl, e.reg, Config{Seed: 1, Members: 100, Count: 100_000, Rate: -1}, nil)
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("err = %v, want MessageTooLarge", err)
	}
	if st.Errors == 0 || st.Total() != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRunBadTopic(t *testing.T) {
	e := newEnv(t)
	if _, err := Run(context.Background(), e.cl, e.reg, Config{Topics: []string{"nope"}}, nil); err == nil {
		t.Fatal("unknown topic accepted")
	}
}

// Tap sees every event before it is produced, and what it changes is what
// is produced.
func TestRunTap(t *testing.T) {
	e := newEnv(t)
	tapped := 0
	cfg := Config{Seed: 3, Members: 100, Count: 200, Rate: -1, Topics: []string{TopicPlayback}, Tap: func(ev *Event) {
		tapped++
		if tapped%10 == 0 {
			p := ev.Value.(*Playback)
			p.MemberID = "probe"
			ev.Key = []byte("probe")
		}
	}}
	st, err := Run(context.Background(), e.cl, e.reg, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tapped != 200 || st.Total() != 200 {
		t.Fatalf("tapped %d, stats %+v", tapped, st)
	}
	sch := parsedSchemas[kindPlayback]
	probes := 0
	for _, r := range e.consume(t, 200) {
		var p Playback
		if err := avro.Unmarshal(sch, r.Value[5:], &p); err != nil {
			t.Fatal(err)
		}
		if p.MemberID == "probe" {
			if string(r.Key) != "probe" {
				t.Fatalf("probe with key %q", r.Key)
			}
			probes++
		}
	}
	if probes != 20 {
		t.Fatalf("%d probes produced, want 20", probes)
	}
}

// The history goes out unpaced and backdated, then the rate applies; a
// second run on the same topics can tell that they hold events.
func TestRunHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if had, err := HasEvents(ctx, e.adm); err != nil || had {
		t.Fatalf("HasEvents on empty topics: %v, %v", had, err)
	}
	// 3,000 history events, then 50 live ones at 50/s: about a second,
	// where pacing the history too would take a minute.
	cfg := Config{Seed: 2, Members: 100, Rate: 50, History: time.Minute, Count: 3050}
	began := time.Now()
	st, err := Run(ctx, e.cl, e.reg, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); st.Total() != 3050 || took > 20*time.Second {
		t.Fatalf("%d events in %s", st.Total(), took)
	}
	recs := e.consume(t, 3050)
	var old, live int
	for _, r := range recs {
		switch {
		case r.Timestamp.Before(began.Add(-time.Minute - time.Second)):
			t.Fatalf("record at %v, more than the history before the run's start %v", r.Timestamp, began)
		case r.Timestamp.Before(began.Add(-time.Second)):
			old++
		case !r.Timestamp.Before(began.Truncate(time.Millisecond)):
			live++
		}
	}
	// The last second of the history and the start of the live events
	// are both about the start of the run.
	if old < 2900 || live < 40 {
		t.Fatalf("%d records backdated by more than a second, %d at or after the start: want about 3000 and 50", old, live)
	}
	if had, err := HasEvents(ctx, e.adm); err != nil || !had {
		t.Fatalf("HasEvents after a run: %v, %v", had, err)
	}
}
