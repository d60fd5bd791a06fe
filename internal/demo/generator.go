package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults applied by Config.withDefaults.
const (
	DefaultMembers = 1000
	DefaultRate    = 1000.0
	// MaxHistoryEvents bounds Config.History's events, so that a long
	// history at a high rate cannot hold up the live events for minutes.
	MaxHistoryEvents = 100_000
)

// Config says what world to simulate and how much of it to produce.
//
// Only Seed, Members and Topics shape the event sequence; Start and Rate
// shape only event times; Count and Duration only matter to Run.
type Config struct {
	// Seed makes the world and its events reproducible: the same Seed and
	// Members give byte-identical events (event_ts aside when Start is zero).
	Seed int64
	// Members is the number of member accounts; <= 0 means DefaultMembers.
	Members int
	// Count stops Run after this many records across all topics; 0 means
	// unlimited.
	Count int64
	// Duration stops Run after this much wall time; 0 means unlimited.
	Duration time.Duration
	// Rate is the target of events per second across all topics. 0 means
	// DefaultRate, so that a zero Config cannot flood an embedded broker;
	// a negative value or +Inf means as fast as possible.
	Rate float64
	// Start, when non-zero, makes event times virtual and deterministic:
	// the n-th event emitted (0-based) is at Start + n/Rate, or Start + n ms
	// when Rate is unlimited. When zero, each event is stamped with the wall
	// clock at the moment Next builds it.
	Start time.Time
	// History, when positive, backdates the first events: History×Rate of
	// them (DefaultRate's worth when Rate is unlimited, at most
	// MaxHistoryEvents), with event times spread evenly over the History
	// that ends at Start, or at the wall clock when New is called. A job
	// that starts with the generator then finds minutes of activity at
	// once. Run produces them as fast as the broker takes them and only
	// then starts pacing at Rate.
	History time.Duration
	// Topics restricts output to a subset of TopicLogins, TopicPlayback and
	// TopicGames; empty means all three. The simulated world keeps running
	// in full, so a subset is a subsequence of the full stream (same event
	// ids), only the virtual times differ.
	Topics []string
	// Tap, if set, is called by Run, on Run's goroutine, with each event
	// just before it is encoded and produced. It may replace the event's
	// Key or change its Value (a benchmark turns some events into probes
	// it can recognise downstream); the generator keeps no reference to
	// an event once it is emitted. New ignores it.
	Tap func(*Event)
}

func (c *Config) withDefaults() {
	if c.Members <= 0 {
		c.Members = DefaultMembers
	}
	if c.Rate == 0 || math.IsNaN(c.Rate) {
		c.Rate = DefaultRate
	}
	if math.IsInf(c.Rate, 1) {
		c.Rate = -1
	}
	if c.Count < 0 {
		c.Count = 0
	}
	if c.Duration < 0 {
		c.Duration = 0
	}
	if c.History < 0 {
		c.History = 0
	}
}

// historyEvents is the number of backdated events c asks for.
func (c *Config) historyEvents() int64 {
	rate := c.Rate
	if rate <= 0 {
		rate = DefaultRate
	}
	return min(int64(c.History.Seconds()*rate), MaxHistoryEvents)
}

// enabled validates Topics.
func (c *Config) enabled() ([numKinds]bool, error) {
	var on [numKinds]bool
	if len(c.Topics) == 0 {
		return [numKinds]bool{true, true, true}, nil
	}
	for _, t := range c.Topics {
		found := false
		for k, name := range topicNames {
			if t == name {
				on[k], found = true, true
			}
		}
		if !found {
			return on, fmt.Errorf("demo: unknown topic %q (want %s, %s or %s)", t, TopicLogins, TopicPlayback, TopicGames)
		}
	}
	return on, nil
}

// Event is one generated record.
type Event struct {
	Topic string
	// Key is the member id. It is shared by all events of the member and
	// must not be modified.
	Key []byte
	// Time is the event time, UTC with millisecond precision, equal to the
	// value's EventTs; use it as the record timestamp.
	Time time.Time
	// Value is a *Login, *Playback or *Game, freshly allocated per event.
	Value any

	kind kind
}

// Session steps.
const (
	stepChoose uint8 = iota // next: start an activity
	stepStop                // next: PLAY_STOP of the open playback
	stepExit                // next: GAME_EXIT of the open game
)

// session is one login on one device: a run of playbacks and games.
type session struct {
	member, profile, device int32
	title, game             int32
	step                    uint8
	left                    uint8 // activities still to do after the current one
	binge                   bool  // next playback continues the show
	season, episode         uint8
	pos, watch              int64
}

// Generator simulates members who log in on their devices and then watch
// titles or play games. It is not safe for concurrent use.
type Generator struct {
	w       *world
	r       *rand.Rand
	on      [numKinds]bool
	active  []session
	target  int // concurrently open sessions in steady state
	salt    uint64
	seq     uint64 // simulated events, including those of filtered topics
	emitted int64

	// The roll call (see rollCall) is at device rollPass of member
	// rollMember.
	rollPass   int
	rollMember int32
	pending    []pendingLogin

	// The first histN events are backdated: event n at histStartMs +
	// n*histMsPerEvent.
	histN          int64
	histStartMs    int64
	histMsPerEvent float64
	virtual        bool
	startMs        int64
	msPerEvent     float64
	lastMs         int64
}

// New builds the world for cfg (defaults applied) and returns a generator
// positioned at its first event. It panics if cfg.Topics names an unknown
// topic, which Run reports as an error instead.
func New(cfg Config) *Generator {
	cfg.withDefaults()
	on, err := cfg.enabled()
	if err != nil {
		panic(err)
	}
	// Separate streams for the world and the events, so that extending
	// the world generation never reshuffles the event sequence of others.
	seed := uint64(cfg.Seed)
	g := &Generator{
		w:      newWorld(rand.New(rand.NewPCG(seed, 0x6d656d626572)), cfg.Members),
		r:      rand.New(rand.NewPCG(seed, 0x6576656e7473)),
		on:     on,
		target: min(max(cfg.Members/20, 1), 10000),
		salt:   mix64(seed ^ 0x5deece66d),
	}
	g.active = make([]session, 0, g.target)
	if !cfg.Start.IsZero() {
		g.virtual = true
		g.startMs = cfg.Start.UnixMilli()
		g.msPerEvent = 1
		if cfg.Rate > 0 {
			g.msPerEvent = 1000 / cfg.Rate
		}
	}
	if g.histN = cfg.historyEvents(); g.histN > 0 {
		end := cfg.Start
		if end.IsZero() {
			end = time.Now()
		}
		g.histMsPerEvent = float64(cfg.History.Milliseconds()) / float64(g.histN)
		g.histStartMs = end.UnixMilli() - cfg.History.Milliseconds()
	}
	return g
}

// raw is a simulated event before it is materialised, so that filtered-out
// topics cost no allocation.
type raw struct {
	kind    kind
	s       *session
	country uint8
	typ     string
	pos     int64
	show    bool
}

// Next returns the next event. It never ends; callers decide when to stop.
func (g *Generator) Next() Event {
	for {
		ev, done := g.simulate()
		g.seq++
		if g.on[ev.kind] {
			e := g.materialise(&ev)
			g.finish(done)
			return e
		}
		g.finish(done)
	}
}

// finish closes session i (if >= 0) after its last event was built.
func (g *Generator) finish(i int) {
	if i < 0 {
		return
	}
	g.w.devices[g.active[i].device].busy = false
	last := len(g.active) - 1
	g.active[i] = g.active[last]
	g.active = g.active[:last]
}

// simulate advances the world by one event. It returns the index of a
// session that ended with this event, or -1.
func (g *Generator) simulate() (raw, int) {
	// Below the target, open sessions only half the time so that a fresh
	// generator does not start with a burst of nothing but logins.
	if len(g.active) == 0 || len(g.active) < g.target && g.r.Float64() < 0.5 {
		if s, ok := g.login(); ok {
			g.active = append(g.active, s)
			s := &g.active[len(g.active)-1]
			m := &g.w.members[s.member]
			c := m.countries[0]
			// Members are mostly at home; travel countries get the rest.
			if m.nCountries > 1 && g.r.Float64() < 0.15 {
				c = m.countries[1+g.r.IntN(int(m.nCountries)-1)]
			}
			return raw{kind: kindLogin, s: s, country: c}, -1
		}
	}
	i := g.r.IntN(len(g.active))
	s := &g.active[i]
	switch s.step {
	case stepStop:
		s.step = stepChoose
		t := &g.w.titles[s.title]
		ev := raw{kind: kindPlayback, s: s, typ: PlayStop, pos: s.pos + s.watch, show: t.show()}
		// Finishing an episode often rolls into the next one.
		if t.show() && s.pos+s.watch >= t.runtimeMs && g.r.Float64() < 0.6 && hasNextEpisode(t, s) {
			s.binge = true
			return ev, -1
		}
		return ev, g.endActivity(i)
	case stepExit:
		s.step = stepChoose
		return raw{kind: kindGame, s: s, typ: GameExit}, g.endActivity(i)
	}

	if !s.binge && g.r.Float64() < gameAffinity[g.w.devices[s.device].typ] {
		s.game = int32(g.w.gamePop.sample(g.r))
		s.step = stepExit
		return raw{kind: kindGame, s: s, typ: GameLaunch}, -1
	}
	t := &g.w.titles[s.title]
	if s.binge {
		s.binge = false
		nextEpisode(t, s)
		s.pos = 0
	} else {
		s.title = int32(g.w.titlePop.sample(g.r))
		t = &g.w.titles[s.title]
		s.season, s.episode = 0, 0
		if t.show() {
			// Viewers are spread over a show, with early seasons busier.
			ns := len(t.seasons)
			s.season = uint8(1 + min(g.r.IntN(ns), g.r.IntN(ns)))
			s.episode = uint8(1 + g.r.IntN(int(t.seasons[s.season-1])))
		}
		s.pos = 0
		if g.r.Float64() < 0.3 { // resume somewhere in the middle
			s.pos = int64((0.1+0.8*g.r.Float64())*float64(t.runtimeMs)/1000) * 1000
		}
	}
	left := t.runtimeMs - s.pos
	if g.r.Float64() < 0.45 {
		s.watch = left // watched to the end
	} else {
		s.watch = 1000 + g.r.Int64N(left-1000)
	}
	s.step = stepStop
	return raw{kind: kindPlayback, s: s, typ: PlayStart, pos: s.pos, show: t.show()}, -1
}

func hasNextEpisode(t *title, s *session) bool {
	return int(s.episode) < int(t.seasons[s.season-1]) || int(s.season) < len(t.seasons)
}

// nextEpisode moves s to the episode after the current one, which must
// exist.
func nextEpisode(t *title, s *session) {
	if int(s.episode) < int(t.seasons[s.season-1]) {
		s.episode++
		return
	}
	s.season++
	s.episode = 1
}

// endActivity counts down the session's activities and returns i when the
// session is over.
func (g *Generator) endActivity(i int) int {
	s := &g.active[i]
	if s.left == 0 {
		return i
	}
	s.left--
	return -1
}

// login opens a session on an idle device of a member: the roll call's
// next, then random ones.
func (g *Generator) login() (session, bool) {
	if g.rollPass < maxLinks || len(g.pending) > 0 {
		if s, ok := g.rollCall(); ok || g.rollPass < maxLinks {
			return s, ok
		}
	}
	w := g.w
	// A member whose devices are all in use is rare (at most 5% of members
	// are active), so a few retries suffice; failing just advances an open
	// session instead.
	for range 8 {
		mi := int32(g.r.IntN(len(w.members)))
		links := w.deviceLinks(&w.members[mi])
		n := len(links)
		// Half the logins are on the member's main screen; the others are
		// spread over all their devices. A busy device passes the login to
		// the next one.
		off := 0
		if n > 1 && g.r.Float64() >= mainScreenChance {
			off = g.r.IntN(n)
		}
		for j := range n {
			if di := links[(off+j)%n]; !w.devices[di].busy {
				return g.open(mi, di), true
			}
		}
	}
	return session{}, false
}

// maxLinks bounds a member's devices: five of their own or their
// household's, a borrowed one and a fraud device.
const maxLinks = 7

// pendingLogin is a login of the roll call whose device was busy.
type pendingLogin struct{ member, device int32 }

// rollCall opens the roll call's next session. The roll call signs every
// member in on each of their devices once: first everyone on their main
// screen, in member order, then everyone on their second device, and so
// on. So m-000001 comes first, every member has a device and a profile
// after about one login per member, and every relation of the world
// (shared screens, account sharing, fraud devices) has appeared once by
// its end. A login whose device is busy waits in pending and goes first
// once the device is free.
func (g *Generator) rollCall() (session, bool) {
	w := g.w
	for i, p := range g.pending {
		if !w.devices[p.device].busy {
			g.pending = append(g.pending[:i], g.pending[i+1:]...)
			return g.open(p.member, p.device), true
		}
	}
	for g.rollPass < maxLinks {
		mi, pass := g.rollMember, g.rollPass
		if g.rollMember++; int(g.rollMember) == len(w.members) {
			g.rollMember = 0
			g.rollPass++
		}
		m := &w.members[mi]
		if int(m.nDevices) <= pass {
			continue
		}
		di := w.links[m.firstLink+int32(pass)]
		if w.devices[di].busy {
			g.pending = append(g.pending, pendingLogin{mi, di})
			continue
		}
		return g.open(mi, di), true
	}
	return session{}, false
}

// open starts a session of member mi on idle device di.
func (g *Generator) open(mi, di int32) session {
	w := g.w
	m := &w.members[mi]
	w.devices[di].busy = true
	p := m.firstProfile
	// The account owner's profile is the busiest.
	if m.nProfiles > 1 && g.r.Float64() >= 0.5 {
		p += int32(1 + g.r.IntN(int(m.nProfiles)-1))
	}
	// 1 + geometric activities per session, mostly one to three.
	left := uint8(0)
	for left < 7 && g.r.Float64() < 0.55 {
		left++
	}
	return session{member: mi, profile: p, device: di, left: left}
}

func (g *Generator) eventTime() time.Time {
	var ms int64
	switch {
	case g.emitted < g.histN:
		ms = g.histStartMs + int64(float64(g.emitted)*g.histMsPerEvent)
	case g.virtual:
		ms = g.startMs + int64(float64(g.emitted-g.histN)*g.msPerEvent)
	default:
		ms = time.Now().UnixMilli()
	}
	// The wall clock may step back; event time within one generator must
	// not, or a login could appear to follow its own session.
	ms = max(ms, g.lastMs)
	g.lastMs = ms
	return time.UnixMilli(ms).UTC()
}

// playbackAlloc places a playback and its episode id in one allocation.
type playbackAlloc struct {
	p  Playback
	ep string
}

func (g *Generator) materialise(ev *raw) Event {
	w := g.w
	s := ev.s
	m := &w.members[s.member]
	ts := g.eventTime()
	g.emitted++
	id := eventID(g.salt, g.seq)
	e := Event{Topic: topicNames[ev.kind], Key: m.key, Time: ts, kind: ev.kind}
	switch ev.kind {
	case kindLogin:
		d := &w.devices[s.device]
		e.Value = &Login{
			EventID: id, EventTs: ts, MemberID: m.id,
			ProfileID: w.profiles[s.profile], DeviceID: d.id,
			DeviceType: deviceTypes[d.typ], Country: countries[ev.country].code,
		}
	case kindPlayback:
		t := &w.titles[s.title]
		a := &playbackAlloc{p: Playback{
			EventID: id, EventTs: ts, MemberID: m.id,
			ProfileID: w.profiles[s.profile], DeviceID: w.devices[s.device].id,
			TitleID: t.id, PositionMs: ev.pos, EventType: ev.typ,
		}}
		if ev.show {
			a.ep = t.episodeID(int(s.season), int(s.episode))
			a.p.EpisodeID = &a.ep
		}
		e.Value = &a.p
	case kindGame:
		e.Value = &Game{
			EventID: id, EventTs: ts, MemberID: m.id,
			ProfileID: w.profiles[s.profile], DeviceID: w.devices[s.device].id,
			GameID: w.games[s.game], EventType: ev.typ,
		}
	}
	return e
}

// mix64 is the splitmix64 finaliser, a bijection on uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// eventID derives a UUID-shaped id from the seed and the simulation step.
// Hashing instead of drawing from the event stream keeps ids independent of
// topic filtering; the first half is a bijection of seq, so ids never repeat
// within one generator.
func eventID(salt, seq uint64) string {
	const hex = "0123456789abcdef"
	hi := mix64(salt + seq*0x9e3779b97f4a7c15)
	lo := mix64(hi ^ salt)
	var b [36]byte
	j := 0
	for i := range 16 {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		v := hi
		if i >= 8 {
			v = lo
		}
		x := byte(v >> (56 - 8*(i%8)))
		b[j], b[j+1] = hex[x>>4], hex[x&15]
		j += 2
	}
	return string(b[:])
}
