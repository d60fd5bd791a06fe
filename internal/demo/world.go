package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Device types in the order of deviceTypeWeights and gameAffinity.
var deviceTypes = [...]string{"phone", "tv", "tablet", "laptop", "console"}

var (
	deviceTypeWeights = [len(deviceTypes)]float64{30, 28, 14, 20, 8}
	// gameAffinity is the chance that an activity on a device type is a game
	// rather than playback: consoles mostly play games, TVs mostly stream.
	gameAffinity = [len(deviceTypes)]float64{0.25, 0.06, 0.20, 0.12, 0.85}
)

// countries is a small, deliberately skewed market mix so that per-country
// aggregates in the graph look like a real service's, not a uniform blur.
var countries = [...]struct {
	code   string
	weight float64
}{
	{"US", 28}, {"BR", 9}, {"GB", 8}, {"MX", 6}, {"DE", 6}, {"FR", 6},
	{"CA", 5}, {"IN", 5}, {"JP", 4}, {"ES", 4}, {"KR", 3}, {"AU", 3},
	{"IT", 3}, {"AR", 2}, {"NL", 2}, {"PL", 2}, {"TR", 2}, {"SE", 1},
}

// Popularity exponents: a few hits take most of the views, with a long tail,
// which is what makes title and game nodes high-degree hubs in the graph.
const (
	titleZipfS = 1.1
	gameZipfS  = 1.2
)

type member struct {
	id  string
	key []byte // id as bytes, shared by every record of this member
	// Profiles are a contiguous range of the world's profiles, devices a
	// contiguous range of its links (indices into devices, since a device
	// may be used by several members), so a member costs a few words, not
	// slices of its own.
	firstProfile int32
	firstLink    int32
	household    int32
	nProfiles    uint8
	nDevices     uint8
	nCountries   uint8
	countries    [3]uint8 // [0] is home; the rest are travel destinations
}

type device struct {
	id   string
	typ  uint8
	busy bool // a session is open on it; one session per device at a time
}

type title struct {
	id        string
	runtimeMs int64   // of the film, or of each episode of a show
	seasons   []uint8 // episodes per season; nil for films
	episodes  []string
}

func (t *title) show() bool { return t.seasons != nil }

// episodeID returns the id of episode e (1-based) of season s (1-based).
// The strings are built on first use per show and then shared, so playback
// events do not format a string each time.
func (t *title) episodeID(s, e int) string {
	if t.episodes == nil {
		for si, n := range t.seasons {
			for ei := range int(n) {
				t.episodes = append(t.episodes, fmt.Sprintf("%s-s%de%d", t.id, si+1, ei+1))
			}
		}
	}
	off := 0
	for _, n := range t.seasons[:s-1] {
		off += int(n)
	}
	return t.episodes[off+e-1]
}

// sampler draws indices with fixed weights by binary search over the
// cumulative weights: O(log n), no allocation.
type sampler struct {
	cdf []float64
	idx []int32
}

func newSampler(weights []float64, idx []int32) sampler {
	cdf := make([]float64, len(weights))
	var sum float64
	for i, w := range weights {
		sum += w
		cdf[i] = sum
	}
	return sampler{cdf: cdf, idx: idx}
}

// newZipf ranks n items in a random order (so popularity does not follow id
// order) with weight 1/rank^s.
func newZipf(r *rand.Rand, n int, s float64) sampler {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / math.Pow(float64(i+1), s)
	}
	idx := make([]int32, n)
	for i, p := range r.Perm(n) {
		idx[i] = int32(p)
	}
	return newSampler(w, idx)
}

func (s *sampler) sample(r *rand.Rand) int {
	u := r.Float64() * s.cdf[len(s.cdf)-1]
	i := sort.SearchFloat64s(s.cdf, u)
	if i == len(s.cdf) { // only reachable through rounding
		i--
	}
	if s.idx != nil {
		return int(s.idx[i])
	}
	return i
}

type world struct {
	members  []member
	profiles []string
	devices  []device
	links    []int32 // the devices of each member, member by member

	titles []title
	games  []string

	titlePop, gamePop, country, deviceType sampler
}

// deviceLinks returns the indices of the devices member m uses; the first
// is the member's main screen.
func (w *world) deviceLinks(m *member) []int32 {
	return w.links[m.firstLink : m.firstLink+int32(m.nDevices)]
}

// Catalog sizes grow with the member count so that small worlds still share
// titles between members and large ones still have a long tail; the caps
// keep the id formats ("t-00042", "g-007") valid.
func catalogSizes(members int) (titles, games int) {
	return min(max(members/2, 100), 99999), min(max(members/20, 20), 999)
}

// The story: members, devices and relations that are the same for every
// seed (given at least StoryMembers members), so that documentation and
// examples can name them.
const (
	// Members m-000001, m-000002 and m-000003 are one household. They all
	// use its TV (HouseholdTV) and tablet (HouseholdTablet); each also has
	// screens of their own.
	StoryMember     = "m-000001"
	StoryMember2    = "m-000002"
	StoryMember3    = "m-000003"
	HouseholdTV     = "d-0000001"
	HouseholdTablet = "d-0000002"
	// StorySharer (m-000004) belongs to the next household but also signs
	// in on HouseholdTV: account sharing between two households.
	StorySharer = "m-000004"
	// FraudDevice is the first of the handful of devices that many
	// accounts of unrelated households sign in on.
	FraudDevice = "d-0000007"
	// StoryMembers is the smallest world that holds the whole story.
	StoryMembers = 100
)

// Shapes of the world beyond the story.
var (
	// Members of one household share its screens: 1 to 5 members, most
	// households one or two.
	householdSizes = [...]float64{34, 30, 16, 13, 7}
	// Devices a member would have alone (1 to 5); the household's shared
	// screens count towards them.
	devicesPer = [...]float64{20, 30, 25, 15, 10}
	// Profiles of an account (1 to 5): most are one or two people.
	profilesPer = [...]float64{30, 25, 20, 15, 10}
)

const (
	// Chances that a household of two or more has a TV, and a tablet,
	// that all its members use.
	sharedTVChance     = 0.85
	sharedTabletChance = 0.35
	// borrowChance is the chance that a member also signs in on a shared
	// screen of another household (account sharing).
	borrowChance = 0.02
	// One fraud-looking device per membersPerFraudDevice members (at least
	// one), each used by fraudAccountsMin to fraudAccountsMax accounts of
	// unrelated households, and by at most a quarter of those there are.
	membersPerFraudDevice              = 250
	fraudAccountsMin, fraudAccountsMax = 15, 40
	// mainScreenChance is the chance that a login is on the member's first
	// device: the household TV, or the screen an account sharer borrows.
	mainScreenChance = 0.5
)

// Device type indices into deviceTypes.
const (
	typePhone uint8 = iota
	typeTV
	typeTablet
	typeLaptop
	typeConsole
)

// worldBuilder holds what building a world needs and the world does not.
type worldBuilder struct {
	w *world
	r *rand.Rand
	// Shared screens of each household built so far (for borrowers).
	sharedFirst []int32
	sharedN     []uint8
	devicesPer  sampler
	profilesPer sampler
}

func (b *worldBuilder) newDevice(typ uint8) int32 {
	w := b.w
	w.devices = append(w.devices, device{id: fmt.Sprintf("d-%07d", len(w.devices)+1), typ: typ})
	return int32(len(w.devices) - 1)
}

// newWorld builds the households, their members, devices and profiles, and
// the shared catalog, from r alone.
func newWorld(r *rand.Rand, members int) *world {
	w := &world{
		members: make([]member, members),
	}
	b := &worldBuilder{w: w, r: r,
		devicesPer:  newSampler(devicesPer[:], nil),
		profilesPer: newSampler(profilesPer[:], nil),
	}
	cw := make([]float64, len(countries))
	for i, c := range countries {
		cw[i] = c.weight
	}
	w.country = newSampler(cw, nil)
	w.deviceType = newSampler(deviceTypeWeights[:], nil)

	// Household boundaries first, so that fraud accounts can be drawn
	// from households not yet built.
	sizes := newSampler(householdSizes[:], nil)
	starts := []int32{0}
	for i := min(3, members); i < members; {
		starts = append(starts, int32(i))
		i += sizes.sample(r) + 1
	}
	starts = append(starts, int32(members))
	nh := len(starts) - 1

	// Household 0 is the story's; its devices are d-0000001..d-0000006
	// and the fraud devices come next, so that all of them have fixed ids.
	b.household(0, starts[0], starts[1], nil)
	nFraud := max(members/membersPerFraudDevice, 1)
	fraudOf := make([]int32, members) // device index + 1; 0: none
	// Accounts on fraud devices come from households 2 on: the story's
	// household and its account sharer keep their neighbourhoods small.
	var base, eligible int32
	if nh > 2 {
		base, eligible = starts[2], int32(members)-starts[2]
	}
	for range nFraud {
		d := b.newDevice(uint8(w.deviceType.sample(r)))
		k := min(fraudAccountsMin+r.IntN(fraudAccountsMax-fraudAccountsMin+1), int(eligible/4))
		for j := 0; j < k; {
			mi := base + r.Int32N(eligible)
			if fraudOf[mi] == 0 {
				fraudOf[mi] = d + 1
				j++
			}
		}
	}
	for h := 1; h < nh; h++ {
		b.household(h, starts[h], starts[h+1], fraudOf)
	}

	nt, ng := catalogSizes(members)
	w.titles = make([]title, nt)
	for i := range w.titles {
		t := &w.titles[i]
		t.id = fmt.Sprintf("t-%05d", i+1)
		if r.Float64() < 0.4 {
			// Most shows are short-lived; the minimum of two draws skews
			// the season count towards 1.
			ns := 1 + min(r.IntN(8), r.IntN(8))
			t.seasons = make([]uint8, ns)
			for s := range t.seasons {
				t.seasons[s] = uint8(6 + r.IntN(8))
			}
			t.runtimeMs = int64(20+r.IntN(41)) * 60_000
		} else {
			t.runtimeMs = int64(80+r.IntN(81)) * 60_000
		}
	}
	w.games = make([]string, ng)
	for i := range w.games {
		w.games[i] = fmt.Sprintf("g-%03d", i+1)
	}
	w.titlePop = newZipf(r, nt, titleZipfS)
	w.gamePop = newZipf(r, ng, gameZipfS)
	return w
}

// storyDevices are the own screens of the story household's members.
var storyDevices = [3][]uint8{{typePhone}, {typePhone, typeLaptop}, {typeConsole}}

// household builds household h, members [first, end): its shared screens,
// then each member with their profiles and devices. fraudOf[i] is the
// fraud device (index + 1) member i also uses, if not 0.
func (b *worldBuilder) household(h int, first, end int32, fraudOf []int32) {
	w, r := b.w, b.r
	size := int(end - first)
	sharedFirst := int32(len(w.devices))
	switch {
	case h == 0:
		b.newDevice(typeTV)
		b.newDevice(typeTablet)
	case size >= 2:
		if r.Float64() < sharedTVChance {
			b.newDevice(typeTV)
		}
		if r.Float64() < sharedTabletChance {
			b.newDevice(typeTablet)
		}
	}
	nShared := uint8(int32(len(w.devices)) - sharedFirst)
	b.sharedFirst = append(b.sharedFirst, sharedFirst)
	b.sharedN = append(b.sharedN, nShared)
	home := uint8(w.country.sample(r))

	for i := first; i < end; i++ {
		m := &w.members[i]
		m.id = fmt.Sprintf("m-%06d", i+1)
		m.key = []byte(m.id)
		m.household = int32(h)
		m.firstProfile = int32(len(w.profiles))
		m.nProfiles = uint8(b.profilesPer.sample(r) + 1)
		for range m.nProfiles {
			w.profiles = append(w.profiles, fmt.Sprintf("p-%07d", len(w.profiles)+1))
		}

		m.firstLink = int32(len(w.links))
		// A borrowed screen goes first: it is why the sharer signs in.
		switch {
		case h == 1 && i == first:
			w.links = append(w.links, 0) // the story's sharer on HouseholdTV
		case h >= 2 && r.Float64() < borrowChance:
			if d, ok := b.borrow(h); ok {
				w.links = append(w.links, d)
			}
		}
		for d := range int32(nShared) {
			w.links = append(w.links, sharedFirst+d)
		}
		if h == 0 {
			for _, typ := range storyDevices[i-first] {
				w.links = append(w.links, b.newDevice(typ))
			}
		} else {
			own := max(b.devicesPer.sample(r)+1-int(nShared), 1)
			for range own {
				w.links = append(w.links, b.newDevice(uint8(w.deviceType.sample(r))))
			}
		}
		if fraudOf != nil && fraudOf[i] != 0 {
			w.links = append(w.links, fraudOf[i]-1)
		}
		m.nDevices = uint8(int32(len(w.links)) - m.firstLink)

		m.countries[0] = home
		m.nCountries = 1
		// Some members travel: a second and rarely a third country.
		for _, p := range [...]float64{0.3, 0.25} {
			if r.Float64() >= p {
				break
			}
			c := uint8(w.country.sample(r))
			if c != m.countries[m.nCountries-1] && c != m.countries[0] {
				m.countries[m.nCountries] = c
				m.nCountries++
			}
		}
	}
}

// borrow picks a shared screen of a household before h other than the
// story's (whose screens' users the story fixes).
func (b *worldBuilder) borrow(h int) (int32, bool) {
	for range 8 {
		o := 1 + b.r.IntN(h-1)
		if n := b.sharedN[o]; n > 0 {
			return b.sharedFirst[o] + int32(b.r.IntN(int(n))), true
		}
	}
	return 0, false
}
