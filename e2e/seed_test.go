package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/demo"
)

// TestSeedScenario plays the seed's story through the three example jobs:
// member M logs in on a phone and starts an episode; logs in on a smart TV
// and continues the same episode; logs in on a tablet and launches a game.
// A traversal from M's account must find the three devices, the title, the
// episode and the game within 5 seconds of the last event.
func TestSeedScenario(t *testing.T) {
	st := startStack(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs"))
	cl := st.producer(t)
	if err := demo.EnsureTopics(context.Background(), kadm.NewClient(cl), 3); err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())

	const m, prof = "m-seed", "p-seed"
	ep := "t-seed-s1e1"
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	login := func(s int, dev, typ string) {
		p.produce(demo.TopicLogins, demo.LoginSchema, m, &demo.Login{EventID: "e-login-" + dev, EventTs: at(s),
			MemberID: m, ProfileID: prof, DeviceID: dev, DeviceType: typ, Country: "NL"})
	}
	play := func(s int, dev string, pos int64) {
		p.produce(demo.TopicPlayback, demo.PlaybackSchema, m, &demo.Playback{EventID: "e-play-" + dev, EventTs: at(s),
			MemberID: m, ProfileID: prof, DeviceID: dev, TitleID: "t-seed", EpisodeID: &ep, PositionMs: pos, EventType: demo.PlayStart})
	}
	login(0, "d-phone", "phone")
	play(1, "d-phone", 0)
	login(60, "d-tv", "tv")
	play(61, "d-tv", 754_000) // continues where the phone stopped
	login(120, "d-tablet", "tablet")
	p.produce(demo.TopicGames, demo.GameSchema, m, &demo.Game{EventID: "e-game", EventTs: at(121),
		MemberID: m, ProfileID: prof, DeviceID: "d-tablet", GameID: "g-seed", EventType: demo.GameLaunch})
	produced := time.Now()

	want := []string{"device:d-phone", "device:d-tv", "device:d-tablet", "title:t-seed", "episode:t-seed-s1e1", "game:g-seed"}
	var resp *rdgv1.TraverseResponse
	await(t, 5*time.Second, func() (bool, string) {
		r, err := st.api.Traverse(context.Background(), connect.NewRequest(&rdgv1.TraverseRequest{
			Start: []*rdgv1.NodeRef{{Type: "account", Id: m}},
			Steps: []*rdgv1.Step{{Direction: rdgv1.Direction_DIRECTION_OUT}},
		}))
		if err != nil {
			return false, err.Error()
		}
		resp = r.Msg
		var got []string
		for _, n := range r.Msg.Nodes {
			got = append(got, n.Type+":"+n.Id)
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				return false, "traversal from account " + m + " reached " + refsString(got) + ", missing " + w
			}
		}
		// Each job's updates land on their own schedule: a device node can
		// be reached (from the playback job's edge) before the logins job's
		// properties for it are merged.
		for _, n := range r.Msg.Nodes {
			if n.Type == "device" && n.Id == "d-tv" && n.Props["device_type"].GetStringValue() != "tv" {
				return false, "device d-tv has no device_type tv yet"
			}
		}
		return true, ""
	})
	t.Logf("graph complete %s after the last event was produced", time.Since(produced).Round(time.Millisecond))

	// The merged episode edge remembers the TV position: the later event won.
	for _, e := range resp.Edges {
		if e.Type == "watched" && e.To.Type == "episode" {
			if pos := e.Props["position_ms"].GetIntValue(); pos != 754_000 {
				t.Errorf("watched episode position_ms = %d, want 754000 (last writer by event time)", pos)
			}
			if e.FirstSeenMs != at(1).UnixMilli() || e.LastSeenMs != at(61).UnixMilli() {
				t.Errorf("watched episode seen %d..%d, want %d..%d", e.FirstSeenMs, e.LastSeenMs, at(1).UnixMilli(), at(61).UnixMilli())
			}
		}
	}
	// The device types come from the logins job.
	for _, n := range resp.Nodes {
		if n.Type == "device" && n.Id == "d-tv" && n.Props["device_type"].GetStringValue() != "tv" {
			t.Errorf("device d-tv props = %v, want device_type tv", n.Props)
		}
	}
}
