package demo

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 42, Members: 300, Start: testStart}
	a, b := New(cfg), New(cfg)
	for i := range 20000 {
		ea, eb := a.Next(), b.Next()
		if !reflect.DeepEqual(ea, eb) {
			t.Fatalf("event %d differs:\n%+v\n%+v", i, ea.Value, eb.Value)
		}
	}

	// With the wall clock only the times may differ.
	cfg.Start = time.Time{}
	a, b = New(cfg), New(cfg)
	for i := range 2000 {
		ea, eb := a.Next(), b.Next()
		ea.Time, eb.Time = time.Time{}, time.Time{}
		clearTs(ea.Value)
		clearTs(eb.Value)
		if !reflect.DeepEqual(ea, eb) {
			t.Fatalf("wall clock: event %d differs:\n%+v\n%+v", i, ea.Value, eb.Value)
		}
	}

	c := New(Config{Seed: 43, Members: 300, Start: testStart})
	a = New(Config{Seed: 42, Members: 300, Start: testStart})
	same := 0
	for range 100 {
		if reflect.DeepEqual(a.Next(), c.Next()) {
			same++
		}
	}
	if same > 0 {
		t.Fatalf("seeds 42 and 43 share %d of 100 events", same)
	}
}

func clearTs(v any) {
	switch v := v.(type) {
	case *Login:
		v.EventTs = time.Time{}
	case *Playback:
		v.EventTs = time.Time{}
	case *Game:
		v.EventTs = time.Time{}
	}
}

// A topic subset is the full stream with the other topics taken out.
func TestTopicsSubsequence(t *testing.T) {
	full := New(Config{Seed: 7, Members: 100, Start: testStart})
	games := New(Config{Seed: 7, Members: 100, Start: testStart, Topics: []string{TopicGames}})
	for n := 0; n < 500; {
		e := full.Next()
		if e.Topic != TopicGames {
			continue
		}
		g := games.Next()
		if g.Topic != TopicGames || g.Value.(*Game).EventID != e.Value.(*Game).EventID {
			t.Fatalf("game %d: got %+v want %+v", n, g.Value, e.Value)
		}
		n++
	}
	if _, err := (&Config{Topics: []string{"member.nope"}}).enabled(); err == nil {
		t.Fatal("unknown topic accepted")
	}
}

func TestVirtualTime(t *testing.T) {
	g := New(Config{Seed: 1, Members: 50, Start: testStart, Rate: 100})
	for i := range 1000 {
		e := g.Next()
		want := testStart.Add(time.Duration(i) * 10 * time.Millisecond)
		if !e.Time.Equal(want) {
			t.Fatalf("event %d at %v, want %v", i, e.Time, want)
		}
	}
}

type openPlay struct {
	title, episode string
	pos            int64
}

// TestInvariants checks the world through its events only, the way a job
// would see it.
func TestInvariants(t *testing.T) {
	const members, n = 400, 200_000
	g := New(Config{Seed: 9, Members: members})
	var (
		deviceType    = map[string]string{}
		profileOwner  = map[string]string{}
		loggedIn      = map[string]string{} // device -> member of the last login
		memberDevices = map[string]map[string]bool{}
		memberProfs   = map[string]map[string]bool{}
		memberCountry = map[string]map[string]bool{}
		plays         = map[string]*openPlay{}
		gamesOpen     = map[string]string{}
		isShow        = map[string]bool{}
		titleViewers  = map[string]map[string]bool{}
		gamePlayers   = map[string]map[string]bool{}
		titleStarts   = map[string]int{}
		perTopic      = map[string]int{}
		ids           = map[string]bool{}
		last          time.Time
	)
	add := func(m map[string]map[string]bool, k, v string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}
	owns := func(i int, member, profile, device string) {
		t.Helper()
		if o := loggedIn[device]; o != member {
			t.Fatalf("event %d: device %s (logged in: %q) used by %s", i, device, o, member)
		}
		if profileOwner[profile] != member {
			t.Fatalf("event %d: profile %s not of %s", i, profile, member)
		}
	}
	for i := range n {
		e := g.Next()
		perTopic[e.Topic]++
		if e.Time.Before(last) {
			t.Fatalf("event %d: time went back", i)
		}
		last = e.Time
		var id, member string
		switch v := e.Value.(type) {
		case *Login:
			id, member = v.EventID, v.MemberID
			if ty, ok := deviceType[v.DeviceID]; ok && ty != v.DeviceType {
				t.Fatalf("device %s changed type %s -> %s", v.DeviceID, ty, v.DeviceType)
			}
			if o, ok := profileOwner[v.ProfileID]; ok && o != v.MemberID {
				t.Fatalf("profile %s of %s and %s", v.ProfileID, o, v.MemberID)
			}
			switch v.DeviceType {
			case "phone", "tv", "tablet", "laptop", "console":
			default:
				t.Fatalf("device type %q", v.DeviceType)
			}
			if len(v.Country) != 2 || strings.ToUpper(v.Country) != v.Country {
				t.Fatalf("country %q", v.Country)
			}
			if plays[v.DeviceID] != nil || gamesOpen[v.DeviceID] != "" {
				t.Fatalf("event %d: login on %s with an activity still open", i, v.DeviceID)
			}
			deviceType[v.DeviceID] = v.DeviceType
			profileOwner[v.ProfileID] = v.MemberID
			loggedIn[v.DeviceID] = v.MemberID
			add(memberDevices, v.MemberID, v.DeviceID)
			add(memberProfs, v.MemberID, v.ProfileID)
			add(memberCountry, v.MemberID, v.Country)
		case *Playback:
			id, member = v.EventID, v.MemberID
			owns(i, v.MemberID, v.ProfileID, v.DeviceID)
			ep := ""
			if v.EpisodeID != nil {
				ep = *v.EpisodeID
				if !strings.HasPrefix(ep, v.TitleID+"-s") || !strings.Contains(ep[len(v.TitleID):], "e") {
					t.Fatalf("episode %q of %s", ep, v.TitleID)
				}
			}
			if s, ok := isShow[v.TitleID]; ok && s != (v.EpisodeID != nil) {
				t.Fatalf("title %s both film and show", v.TitleID)
			}
			isShow[v.TitleID] = v.EpisodeID != nil
			add(titleViewers, v.TitleID, v.MemberID)
			switch v.EventType {
			case PlayStart:
				if plays[v.DeviceID] != nil || gamesOpen[v.DeviceID] != "" {
					t.Fatalf("event %d: PLAY_START on busy device %s", i, v.DeviceID)
				}
				plays[v.DeviceID] = &openPlay{v.TitleID, ep, v.PositionMs}
				titleStarts[v.TitleID]++
			case PlayStop:
				p := plays[v.DeviceID]
				if p == nil || p.title != v.TitleID || p.episode != ep {
					t.Fatalf("event %d: PLAY_STOP %s/%s without start (%+v)", i, v.TitleID, ep, p)
				}
				if v.PositionMs <= p.pos {
					t.Fatalf("event %d: stop at %d <= start %d", i, v.PositionMs, p.pos)
				}
				delete(plays, v.DeviceID)
			default:
				t.Fatalf("event type %q", v.EventType)
			}
		case *Game:
			id, member = v.EventID, v.MemberID
			owns(i, v.MemberID, v.ProfileID, v.DeviceID)
			add(gamePlayers, v.GameID, v.MemberID)
			switch v.EventType {
			case GameLaunch:
				if plays[v.DeviceID] != nil || gamesOpen[v.DeviceID] != "" {
					t.Fatalf("event %d: GAME_LAUNCH on busy device", i)
				}
				gamesOpen[v.DeviceID] = v.GameID
			case GameExit:
				if gamesOpen[v.DeviceID] != v.GameID {
					t.Fatalf("event %d: GAME_EXIT without launch", i)
				}
				delete(gamesOpen, v.DeviceID)
			default:
				t.Fatalf("event type %q", v.EventType)
			}
		default:
			t.Fatalf("value %T", e.Value)
		}
		if string(e.Key) != member {
			t.Fatalf("key %q for member %s", e.Key, member)
		}
		if ids[id] {
			t.Fatalf("duplicate event id %s", id)
		}
		ids[id] = true
	}

	for _, topic := range []string{TopicLogins, TopicPlayback, TopicGames} {
		if perTopic[topic] < n/20 {
			t.Errorf("only %d events on %s", perTopic[topic], topic)
		}
	}
	if len(memberDevices) < members*9/10 {
		t.Errorf("only %d of %d members logged in", len(memberDevices), members)
	}
	for m, ds := range memberDevices {
		// Up to 5 of their own or their household's, one borrowed, one
		// fraud device.
		if len(ds) > 7 || len(memberProfs[m]) > 5 || len(memberCountry[m]) > 3 {
			t.Errorf("member %s: %d devices, %d profiles, %d countries", m, len(ds), len(memberProfs[m]), len(memberCountry[m]))
		}
	}
	shared := 0
	for _, v := range titleViewers {
		if len(v) > 1 {
			shared++
		}
	}
	if shared < len(titleViewers)/2 {
		t.Errorf("only %d of %d titles watched by more than one member", shared, len(titleViewers))
	}
	sharedGames := 0
	for _, v := range gamePlayers {
		if len(v) > 1 {
			sharedGames++
		}
	}
	if sharedGames < 5 {
		t.Errorf("only %d games played by more than one member", sharedGames)
	}
	shows := 0
	for _, s := range isShow {
		if s {
			shows++
		}
	}
	if shows == 0 || shows == len(isShow) {
		t.Errorf("%d shows among %d titles", shows, len(isShow))
	}
	// Power law: the top title gets far more starts than the median one.
	counts := make([]int, 0, len(titleStarts))
	for _, c := range titleStarts {
		counts = append(counts, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	if top, median := counts[0], counts[len(counts)/2]; top < 20*median {
		t.Errorf("top title %d starts vs median %d: not power-law", top, median)
	}
}

func TestPacer(t *testing.T) {
	start := testStart
	p := pacer{start: start, rate: 1000}
	if got := p.allowance(start); got != 1 {
		t.Fatalf("allowance at start = %d, want 1", got)
	}
	// Sending late does not shift the schedule: at 2.5s, 2501 events are
	// due however they were spread before.
	p.sent = 100
	if got := p.allowance(start.Add(2500 * time.Millisecond)); got != 2401 {
		t.Fatalf("allowance = %d, want 2401", got)
	}
	p.sent = 5000
	if got := p.allowance(start.Add(time.Second)); got != 0 {
		t.Fatalf("ahead of schedule: allowance = %d", got)
	}
	// Wake when 10 events (10ms at 1000/s) are due: event 5009 at 5.009s.
	if got, want := p.wakeAt(), start.Add(5009*time.Millisecond); !got.Equal(want) {
		t.Fatalf("wakeAt = %v, want %v", got, want)
	}
	slow := pacer{start: start, rate: 0.5, sent: 1}
	if got, want := slow.wakeAt(), start.Add(2*time.Second); !got.Equal(want) {
		t.Fatalf("slow wakeAt = %v, want %v", got, want)
	}
	if (&pacer{rate: -1}).allowance(start) <= maxBatch {
		t.Fatal("unlimited rate is limited")
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Config{Seed: 1, Members: 10000, Start: testStart})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = g.Next()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}
