package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
)

// TestREADMEOwnEvents walks the README's "Your own events" section as a new
// user would: its commands, read from the README's blocks, run in order in
// an empty directory with a freshly built rdg on PATH and rdg's default
// addresses. An `rdg up` line runs in the background, awaited ready; a
// later `rdg up` line first stops the one running (the README's Ctrl-C).
// Every other command must exit 0, and one followed by an expected-output
// block must show it (retried for a while: the graph fills as the jobs
// run). The one substitution: the MovieLens download is not run, and
// ml-latest-small is a link to ../shared/data/movielens-latest-small. The
// test then checks the graph the section promises through the API: the
// shop's customers, products and stores, and exactly the 610 users, 9,724
// movies and 100,836 ratings of MovieLens, and that the bad-rows file
// produced its good rows.
func TestREADMEOwnEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("walks the README with real processes and the MovieLens ratings")
	}
	ratings := sharedData(t, "movielens-latest-small")
	requireDefaultPorts(t)
	dir := t.TempDir()
	if err := os.Symlink(ratings, filepath.Join(dir, "ml-latest-small")); err != nil {
		t.Fatal(err)
	}
	env := newDocEnv(t, dir)

	var blocks []docBlock
	for _, b := range readmeBlocks(t) {
		if b.section == ownEventsSection {
			blocks = append(blocks, b)
		}
	}
	for _, b := range blocks {
		if b.lang == "sh" && b.skip != "" {
			t.Logf("README.md:%d: not run: %s", b.line, b.skip)
		}
	}
	cmds := blockCommands(blocks)
	if len(cmds) < 10 {
		t.Fatalf("found %d commands in the README's %q section", len(cmds), ownEventsSection)
	}

	start := time.Now()
	var up *proc
	firstTraversal := time.Duration(0)
	for _, c := range cmds {
		text := normalise(c.text)
		if longRunning(text) {
			if up != nil {
				stopGroup(t, up)
			}
			up = env.start(t, "rdg up", c.text)
			awaitUp(t, up, 60*time.Second)
			t.Logf("%s: %s: ready after %s", c.where, c.text, time.Since(start).Round(time.Millisecond))
			continue
		}
		stdout, stderr := walkStep(t, env, c)
		if firstTraversal == 0 && strings.Contains(text, "rdg query") {
			firstTraversal = time.Since(start)
			t.Logf("%s: first answer about the user's own data %s after the first command", c.where, firstTraversal.Round(time.Millisecond))
		}
		if testing.Verbose() {
			t.Logf("%s: %s\n%s%s", c.where, c.text, stdout, stderr)
		}
	}
	if up == nil {
		t.Fatal("the section starts no rdg up")
	}

	// The graph the section promises.
	api := rdgv1connect.NewGraphServiceClient(http.DefaultClient, "http://127.0.0.1:8080")
	want := map[string]int64{
		"node customer": 4, "node product": 3, "node store": 2, "edge bought": 5, "edge shops_at": 4,
		"node user": 610, "node movie": 9724, "edge rated": 100836,
	}
	await(t, 60*time.Second, func() (bool, string) {
		up.alive(t)
		res, err := api.Stats(context.Background(), connect.NewRequest(&rdgv1.StatsRequest{TopK: 1}))
		if err != nil {
			return false, err.Error()
		}
		got := map[string]int64{}
		for _, c := range res.Msg.NodeTypes {
			got["node "+c.Type] = c.Count
		}
		for _, c := range res.Msg.EdgeTypes {
			got["edge "+c.Type] = c.Count
		}
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("counts %v, want %v", got, want)
	})

	// The bad-rows file's two good rows were produced: the ratings topic
	// holds every row of ratings.csv and those two. (They repeat ratings of
	// the file, so the graph's counts above are unchanged.)
	cl, err := kgo.NewClient(kgo.SeedBrokers(defaultAddrs[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "movielens.ratings")
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	var records int64
	ends.Each(func(o kadm.ListedOffset) { records += o.Offset })
	if records != 100836+2 {
		t.Errorf("movielens.ratings holds %d records, want the 100,836 ratings and the 2 good rows of bad-ratings.csv", records)
	}
	stopGroup(t, up)
	t.Logf("walked the section in %s", time.Since(start).Round(time.Millisecond))
}

// walkStep runs one command of the walk-through: it must exit 0 and show
// the expected output that follows it in the README, if any, within a
// minute (the graph fills as the jobs run; a user would look again).
func walkStep(t *testing.T, env *docEnv, c docCommand) (stdout, stderr string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var err error
		stdout, stderr, err = env.run(c.text, 2*time.Minute)
		if err != nil {
			t.Fatalf("%s\n%s: %v\nstdout:\n%s\nstderr:\n%s", c.where, c.text, err, logTailOf(stdout), logTailOf(stderr))
		}
		if c.want == "" {
			return stdout, stderr
		}
		err = matchOutput(stdout+stderr, c.want)
		if err == nil {
			return stdout, stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s\n%s: %v\nexpected (README):\n%s\noutput:\n%s%s", c.where, c.text, err, c.want, stdout, stderr)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
