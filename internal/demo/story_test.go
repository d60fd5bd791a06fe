package demo

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"
)

// usage is who signed in on what, as the jobs' uses edges see it.
type usage struct {
	users       map[string]map[string]bool // device -> members
	first       []string                   // members in the order of their first login
	seen        map[string]bool
	withProfile map[string]bool // members with a login (so a device and a profile)
}

func collect(g *Generator, n int) *usage {
	u := &usage{users: map[string]map[string]bool{}, seen: map[string]bool{}, withProfile: map[string]bool{}}
	for range n {
		e := g.Next()
		l, ok := e.Value.(*Login)
		if !ok {
			continue
		}
		if u.users[l.DeviceID] == nil {
			u.users[l.DeviceID] = map[string]bool{}
		}
		u.users[l.DeviceID][l.MemberID] = true
		if !u.seen[l.MemberID] {
			u.seen[l.MemberID] = true
			u.first = append(u.first, l.MemberID)
		}
		if l.ProfileID != "" {
			u.withProfile[l.MemberID] = true
		}
	}
	return u
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The story the README and the banner tell holds for the history `rdg up
// --demo` writes (5 minutes at 200 events/s, 1,000 members), whatever the
// seed: the household's TV and tablet, the account sharer on the TV, the
// fraud device, and the roll call that brings every member in early.
func TestStoryInHistory(t *testing.T) {
	const members, history = 1000, 60_000
	for _, seed := range []int64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			g := New(Config{Seed: seed, Members: members, Start: testStart})
			u := collect(g, history)

			if got := keys(u.users[HouseholdTV]); fmt.Sprint(got) != fmt.Sprint([]string{StoryMember, StoryMember2, StoryMember3, StorySharer}) {
				t.Errorf("users of the household TV %s: %v", HouseholdTV, got)
			}
			if got := keys(u.users[HouseholdTablet]); fmt.Sprint(got) != fmt.Sprint([]string{StoryMember, StoryMember2, StoryMember3}) {
				t.Errorf("users of the household tablet %s: %v", HouseholdTablet, got)
			}
			if n := len(u.users[FraudDevice]); n < 10 {
				t.Errorf("fraud device %s: %d accounts, want 10 or more", FraudDevice, n)
			}
			// The roll call: m-000001 first, then everyone on their main
			// screen before most second devices.
			if len(u.first) != members {
				t.Fatalf("%d of %d members logged in", len(u.first), members)
			}
			if u.first[0] != StoryMember {
				t.Errorf("first login by %s, want %s", u.first[0], StoryMember)
			}
			early := collect(New(Config{Seed: seed, Members: members, Start: testStart}), 20_000)
			if len(early.withProfile) != members {
				t.Errorf("after 20,000 events only %d of %d members have a device and a profile", len(early.withProfile), members)
			}
		})
	}
}

// TestHouseholds checks the world's sharing through its events, against
// the households it was built with.
func TestHouseholds(t *testing.T) {
	const members = 2000
	g := New(Config{Seed: 11, Members: members, Start: testStart})
	w := g.w
	household := map[string]int32{}
	sizes := map[int32]int{}
	last := int32(-1)
	for i := range w.members {
		m := &w.members[i]
		household[m.id] = m.household
		sizes[m.household]++
		if m.household != last && m.household != last+1 {
			t.Fatalf("member %s in household %d after household %d: not consecutive", m.id, m.household, last)
		}
		last = m.household
	}
	for h, n := range sizes {
		if n < 1 || n > 5 {
			t.Errorf("household %d has %d members", h, n)
		}
	}
	if len(sizes) > members*2/3 || len(sizes) < members/5 {
		t.Errorf("%d households for %d members", len(sizes), members)
	}

	u := collect(g, 200_000)
	var inHousehold, crossHousehold, many int
	for d, users := range u.users {
		hs := map[int32]bool{}
		for m := range users {
			hs[household[m]] = true
		}
		switch {
		case len(users) >= 10:
			many++
			if len(hs) < len(users)*3/4 {
				t.Errorf("device %s with %d accounts from only %d households: fraud accounts are of unrelated households", d, len(users), len(hs))
			}
		case len(hs) > 1:
			crossHousehold++
		case len(users) > 1:
			inHousehold++
		}
	}
	t.Logf("%d devices: %d used by several members of one household, %d shared across households, %d by 10 or more accounts",
		len(u.users), inHousehold, crossHousehold, many)
	if inHousehold < members/20 {
		t.Errorf("only %d devices used by several members of one household", inHousehold)
	}
	if crossHousehold < 5 || crossHousehold > members/20 {
		t.Errorf("%d devices shared by accounts of different households (not many accounts): want a few", crossHousehold)
	}
	if wantFraud := members / membersPerFraudDevice; many != wantFraud {
		t.Errorf("%d devices with 10 or more accounts, want the %d fraud devices", many, wantFraud)
	}
}

// Small worlds keep what of the story fits and do not fail.
func TestSmallWorlds(t *testing.T) {
	for _, members := range []int{1, 2, 3, 4, 5, 9, 20} {
		g := New(Config{Seed: 3, Members: members, Start: testStart})
		u := collect(g, 2000)
		if len(u.seen) != members {
			t.Errorf("%d members: %d logged in", members, len(u.seen))
		}
	}
}

// The history is spread over the History before Start, then events go on
// from Start at the rate, and the sequence is the same as without it.
func TestHistory(t *testing.T) {
	cfg := Config{Seed: 5, Members: 200, Start: testStart, Rate: 100, History: time.Minute}
	g := New(cfg)
	if g.histN != 6000 {
		t.Fatalf("history of %d events, want 6000 (1m at 100/s)", g.histN)
	}
	plain := New(Config{Seed: 5, Members: 200, Start: testStart, Rate: 100})
	for i := range 6100 {
		e, p := g.Next(), plain.Next()
		var want time.Time
		if i < 6000 {
			want = testStart.Add(-time.Minute + time.Duration(i)*10*time.Millisecond)
		} else {
			want = testStart.Add(time.Duration(i-6000) * 10 * time.Millisecond)
		}
		if !e.Time.Equal(want) {
			t.Fatalf("event %d at %v, want %v", i, e.Time, want)
		}
		if eventIDOf(e.Value) != eventIDOf(p.Value) {
			t.Fatalf("event %d: history changed the sequence", i)
		}
	}
	// With the wall clock the history ends where New was called.
	before := time.Now()
	g = New(Config{Seed: 5, Members: 200, History: 10 * time.Second, Rate: 100})
	first := g.Next().Time
	if lo, hi := before.Add(-10*time.Second-time.Millisecond), time.Now().Add(-10*time.Second); first.Before(lo) || first.After(hi) {
		t.Fatalf("first history event at %v, want within [%v, %v]", first, lo, hi)
	}
	if n := (&Config{History: time.Hour, Rate: 1e6}).historyEvents(); n != MaxHistoryEvents {
		t.Fatalf("history of an hour at 1e6/s: %d events, want the cap %d", n, MaxHistoryEvents)
	}
	if n := (&Config{History: time.Second, Rate: -1}).historyEvents(); n != int64(DefaultRate) {
		t.Fatalf("history of a second, unlimited rate: %d events, want %v", n, DefaultRate)
	}
}

// Building the world draws from its random stream in a fixed order: the
// same seed gives the same households and links.
func TestWorldDeterministic(t *testing.T) {
	a := newWorld(rand.New(rand.NewPCG(9, 1)), 3000)
	b := newWorld(rand.New(rand.NewPCG(9, 1)), 3000)
	if fmt.Sprint(a.links) != fmt.Sprint(b.links) || len(a.devices) != len(b.devices) {
		t.Fatal("same seed, different worlds")
	}
	for i := range a.members {
		if x, y := a.members[i], b.members[i]; !reflect.DeepEqual(x, y) {
			t.Fatalf("member %d: %+v vs %+v", i, x, y)
		}
	}
}
