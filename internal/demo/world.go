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
	// Profiles and devices are contiguous ranges of the world's tables so a
	// member costs a few words, not three slices.
	firstProfile int32
	firstDevice  int32
	nProfiles    uint8
	nDevices     uint8
	nCountries   uint8
	countries    [3]uint8 // [0] is home; the rest are travel destinations
}

type device struct {
	id     string
	member int32
	typ    uint8
	busy   bool // a session is open on it; one session per device at a time
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
	titles   []title
	games    []string

	titlePop, gamePop, country, deviceType sampler
}

// Catalog sizes grow with the member count so that small worlds still share
// titles between members and large ones still have a long tail; the caps
// keep the id formats ("t-00042", "g-007") valid.
func catalogSizes(members int) (titles, games int) {
	return min(max(members/2, 100), 99999), min(max(members/20, 20), 999)
}

// newWorld builds the members, their devices and profiles, and the shared
// catalog, from r alone.
func newWorld(r *rand.Rand, members int) *world {
	w := &world{
		members: make([]member, members),
	}
	cw := make([]float64, len(countries))
	for i, c := range countries {
		cw[i] = c.weight
	}
	w.country = newSampler(cw, nil)
	w.deviceType = newSampler(deviceTypeWeights[:], nil)
	// Most accounts are one or two people on a couple of screens.
	profilesPer := newSampler([]float64{30, 25, 20, 15, 10}, nil)
	devicesPer := newSampler([]float64{20, 30, 25, 15, 10}, nil)

	for i := range w.members {
		m := &w.members[i]
		m.id = fmt.Sprintf("m-%06d", i+1)
		m.key = []byte(m.id)
		m.firstProfile = int32(len(w.profiles))
		m.nProfiles = uint8(profilesPer.sample(r) + 1)
		for range m.nProfiles {
			w.profiles = append(w.profiles, fmt.Sprintf("p-%07d", len(w.profiles)+1))
		}
		m.firstDevice = int32(len(w.devices))
		m.nDevices = uint8(devicesPer.sample(r) + 1)
		for range m.nDevices {
			w.devices = append(w.devices, device{
				id:     fmt.Sprintf("d-%07d", len(w.devices)+1),
				member: int32(i),
				typ:    uint8(w.deviceType.sample(r)),
			})
		}
		m.countries[0] = uint8(w.country.sample(r))
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
