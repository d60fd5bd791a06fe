package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/dlq"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/stack"
)

// TestEnrichFromCatalogTopic runs the Netflix example jobs with the demo
// title catalogue (catalog.titles, published before the jobs start) as
// their side input: every title and game node carries the catalogue's
// name and genre, titles their kind too. Then a title is renamed in the
// catalogue while the jobs run, and the next events for that title carry
// the new name onto its node.
func TestEnrichFromCatalogTopic(t *testing.T) {
	jobs, err := stack.LoadJobs(filepath.Join(repoRoot(t), "examples", "netflix", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	st := startStackJobs(t, jobs)
	ctx := context.Background()
	// The catalogue startStack publishes (Seed 1, 200 members), and events
	// of the same world.
	catalog := map[string]demo.Title{}
	for _, c := range demo.Catalog(demo.Config{Seed: 1, Members: 200}) {
		catalog[c.TitleID] = c
	}
	gen := demo.New(demo.Config{Seed: 1, Members: 200, Rate: 1000, Start: time.Now().Add(-time.Hour).Truncate(time.Millisecond)})
	events := make([]demo.Event, 1500)
	for i := range events {
		events[i] = gen.Next()
	}
	produceDemoEvents(t, st, events)
	awaitSettled(t, st, 20*time.Second, jobs...)

	titles, games := 0, 0
	err = st.Store().EachNode(ctx, "", func(n *graph.Node) bool {
		if n.Type != "title" && n.Type != "game" {
			return true
		}
		c, ok := catalog[n.ID]
		if !ok {
			t.Errorf("%s is not in the catalogue", n.NodeRef)
			return true
		}
		want := map[string]any{"name": c.Name, "genre": c.Genre}
		if n.Type == "title" {
			want["kind"] = c.Kind
			titles++
		} else {
			games++
		}
		for k, v := range want {
			if got := n.Props[k].Value; got != v {
				t.Errorf("%s: %s = %#v, want %q from the catalogue", n.NodeRef, k, got, v)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if titles < 10 || games < 3 {
		t.Fatalf("only %d title and %d game nodes stored", titles, games)
	}
	t.Logf("%d title and %d game nodes carry their catalogue name and genre", titles, games)

	// Rename a title that has a node: the table follows the topic while
	// the job runs, so events after the update carry the new name. The
	// update reaches the table asynchronously, so events keep coming (as
	// they would) until one is enriched with it.
	var renamed demo.Title
	for _, ev := range events {
		if pb, ok := ev.Value.(*demo.Playback); ok {
			renamed = catalog[pb.TitleID]
			break
		}
	}
	oldName := renamed.Name
	renamed.Name = "Renamed: " + oldName
	cl := st.producer(t)
	p := newAvroProducer(t, cl, st.Registry())
	p.produce(demo.TopicTitles, demo.TitleSchema, renamed.TitleID, &renamed)
	updated := time.Now()
	sent := 0
	var last time.Time
	title := graph.NodeRef{Type: "title", ID: renamed.TitleID}
	await(t, 10*time.Second, func() (bool, string) {
		n, ok, err := st.Store().Node(ctx, title)
		if err != nil || !ok {
			t.Fatalf("%s not stored (%v)", title, err)
		}
		if n.Props["name"].Value == renamed.Name {
			return true, ""
		}
		if time.Since(last) > 250*time.Millisecond {
			last = time.Now()
			sent++
			p.produce(demo.TopicPlayback, demo.PlaybackSchema, "m-renamed", &demo.Playback{EventID: fmt.Sprintf("e-renamed-%d", sent),
				EventTs: last.Truncate(time.Millisecond), MemberID: "m-renamed", ProfileID: "p-renamed", DeviceID: "d-renamed",
				TitleID: renamed.TitleID, PositionMs: int64(sent), EventType: demo.PlayStart})
		}
		return false, fmt.Sprintf("%s name = %#v after %d later events, want %q", title, n.Props["name"].Value, sent, renamed.Name)
	})
	t.Logf("new name on %s %s after the catalogue update (%d later events sent)", title, time.Since(updated).Round(time.Millisecond), sent)
	n, _, err := st.Store().Node(ctx, title)
	if err != nil {
		t.Fatal(err)
	}
	if n.Props["genre"].Value != renamed.Genre || n.Props["kind"].Value != renamed.Kind {
		t.Errorf("%s after the rename: props %v, want genre %q kind %q", title, n.Props, renamed.Genre, renamed.Kind)
	}
}

// TestEnrichFromFile runs three jobs enriching logins from the static CSV
// e2e/testdata/enrich/devices.csv, keyed by device id, one per miss policy.
// Devices in the file get its model and vendor. A device missing from it:
// on_miss: null keeps the record with null fields; drop drops it, counted
// as filtered; dead-letter sends it to the dead-letter topic with stage
// enrich. Every miss is counted in rdg_job_enrich_misses_total.
func TestEnrichFromFile(t *testing.T) {
	jobs, err := stack.LoadJobs(filepath.Join(repoRoot(t), "e2e", "testdata", "enrich"))
	if err != nil {
		t.Fatal(err)
	}
	st := startStackJobs(t, jobs)
	ctx := context.Background()
	cl := st.producer(t)
	p := newAvroProducer(t, cl, st.Registry())
	devices := []string{"d-1", "d-9", "d-2", "d-3", "d-8"} // d-8 and d-9 are not in the file
	hits := map[string][2]string{"d-1": {"Bravia X90", "Sony"}, "d-2": {"Shield TV", "Nvidia"}, "d-3": {"iPad Air", "Apple"}}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	offsets := map[string]map[string]int64{} // policy -> device -> source offset
	for _, policy := range []string{"null", "drop", "dead-letter"} {
		topic := "e2e.enrich." + policy
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, topic); err != nil {
			t.Fatal(err)
		}
		offsets[policy] = map[string]int64{}
		for i, d := range devices {
			v := p.encode(topic, demo.LoginSchema, &demo.Login{EventID: fmt.Sprintf("e-%d", i), EventTs: t0.Add(time.Duration(i) * time.Second),
				MemberID: "m-" + d, ProfileID: "p-1", DeviceID: d, DeviceType: "tv", Country: "SE"})
			r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(d), Value: v}).First()
			if err != nil {
				t.Fatal(err)
			}
			offsets[policy][d] = r.Offset
		}
	}
	awaitSettled(t, st, 10*time.Second, jobs...)

	for _, policy := range []string{"null", "drop", "dead-letter"} {
		name := "enrich-" + policy
		typ := strings.SplitN(policy, "-", 2)[0] + "_device"
		labels := map[string]string{"job": name}
		if got := metricValue(t, st, "rdg_job_records_in_total", labels); got != float64(len(devices)) {
			t.Errorf("%s: records in = %v, want %d", name, got, len(devices))
		}
		if got := metricValue(t, st, "rdg_job_enrich_misses_total", map[string]string{"job": name, "input": "hw"}); got != 2 {
			t.Errorf("%s: rdg_job_enrich_misses_total{input=hw} = %v, want 2", name, got)
		}
		wantFiltered, wantDead := 0.0, 0.0
		switch policy {
		case "drop":
			wantFiltered = 2
		case "dead-letter":
			wantDead = 2
		}
		if got := metricValue(t, st, "rdg_job_records_filtered_total", labels); got != wantFiltered {
			t.Errorf("%s: filtered = %v, want %v", name, got, wantFiltered)
		}
		if got := metricSum(t, st, "rdg_job_records_dead_lettered_total", labels); got != wantDead {
			t.Errorf("%s: dead-lettered = %v, want %v", name, got, wantDead)
		}
		if wantDead > 0 {
			if got := metricValue(t, st, "rdg_job_records_dead_lettered_total", map[string]string{"job": name, "stage": engine.StageEnrich}); got != wantDead {
				t.Errorf("%s: dead-lettered at stage enrich = %v, want %v", name, got, wantDead)
			}
		}

		for _, d := range devices {
			ref := graph.NodeRef{Type: typ, ID: d}
			n, ok, err := st.Store().Node(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			hw, hit := hits[d]
			switch {
			case hit && !ok:
				t.Errorf("%s: %s not stored", name, ref)
			case hit && (n.Props["model"].Value != hw[0] || n.Props["vendor"].Value != hw[1]):
				t.Errorf("%s: %s props %v, want model %q vendor %q", name, ref, n.Props, hw[0], hw[1])
			case !hit && policy == "null" && !ok:
				t.Errorf("%s: %s not stored: a miss under on_miss: null keeps the record", name, ref)
			case !hit && policy == "null" && (n.Props["model"].Value != nil || n.Props["vendor"].Value != nil):
				t.Errorf("%s: %s props %v, want null model and vendor", name, ref, n.Props)
			case !hit && policy != "null" && ok:
				t.Errorf("%s: %s stored, but its record missed the side input", name, ref)
			}
		}
	}

	recs, err := dlq.Read(ctx, dlq.Cluster{Seeds: st.Seeds()}, job.DeadLetterTopic("enrich-dead-letter"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("enrich-dead-letter: %d dead letters, want 2", len(recs))
	}
	for i, d := range []string{"d-9", "d-8"} {
		r := recs[i]
		if r.Stage != engine.StageEnrich || !strings.Contains(r.Error, `"`+d+`"`) || string(r.Key) != d ||
			r.SourceTopic != "e2e.enrich.dead-letter" || r.SourceOffset != offsets["dead-letter"][d] {
			t.Errorf("dead letter %d: stage %q error %q key %q from %s@%d; want stage enrich, a miss of %s from offset %d",
				i, r.Stage, r.Error, r.Key, r.SourceTopic, r.SourceOffset, d, offsets["dead-letter"][d])
		}
	}
	for _, policy := range []string{"null", "drop"} {
		if recs, err := dlq.Read(ctx, dlq.Cluster{Seeds: st.Seeds()}, job.DeadLetterTopic("enrich-"+policy), 0, 0); err != nil || len(recs) != 0 {
			t.Errorf("enrich-%s: %d dead letters (%v), want none", policy, len(recs), err)
		}
	}
}
