package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
)

// ownEventsSection is the README section TestREADMEOwnEvents walks on a
// stack of its own; every other section's examples run on the demo.
const ownEventsSection = "Your own events"

// helpExamples reads the Examples: section of `rdg --help` and of every
// command's --help below it (what users see), with the command that shows
// it.
func helpExamples(t *testing.T, env *docEnv) []docCommand {
	t.Helper()
	var out []docCommand
	var walk func(path []string)
	walk = func(path []string) {
		args := append(append([]string{}, path...), "--help")
		stdout, stderr, err := env.run("rdg "+strings.Join(args, " "), 30*time.Second)
		if err != nil {
			t.Fatalf("rdg %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		where := "`rdg " + strings.Join(args, " ") + "`"
		section := ""
		var example []string
		var subs []string
		for _, line := range strings.Split(stdout, "\n") {
			if line != "" && !strings.HasPrefix(line, " ") {
				section = strings.TrimSuffix(line, ":")
				continue
			}
			switch section {
			case "Examples":
				example = append(example, strings.TrimPrefix(line, "  "))
			case "Available Commands":
				if f := strings.Fields(line); len(f) > 0 && f[0] != "help" && f[0] != "completion" {
					subs = append(subs, f[0])
				}
			}
		}
		for _, c := range splitCommands(strings.Join(example, "\n"), 0, where) {
			c.where = where
			if strings.HasPrefix(strings.TrimSpace(c.text), "rdg ") {
				out = append(out, c)
			}
		}
		for _, s := range subs {
			walk(append(append([]string{}, path...), s))
		}
	}
	walk(nil)
	if len(out) < 10 {
		t.Fatalf("found only %d examples in the --help texts: %v", len(out), out)
	}
	return out
}

// TestREADMEAndHelpExamples runs every ```sh example of the README (but the
// "Your own events" walk-through, which TestREADMEOwnEvents runs) and every
// example line of every --help text against `rdg up --demo` as a real
// process on the default addresses, once its history burst is in the
// graph. Each command must exit 0 with a non-empty answer and no warning.
// The working directory is a fresh directory holding a copy of the
// repository's examples/, as the root of a clone does, so examples name
// files as a user at the root of a clone would (examples/netflix/jobs), and
// what they create stays out of the repository. The README's blocks run
// first, in order, then the --help examples, so an example may rely on
// what an earlier README block did (the Stages block makes the dead letter
// that `rdg dlq` examples show). Conventions: readme_test.go.
func TestREADMEAndHelpExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the documentation's examples against a demo stack")
	}
	requireDefaultPorts(t)
	dir := t.TempDir()
	copyTree(t, filepath.Join(repoRoot(t), "examples"), filepath.Join(dir, "examples"))
	env := newDocEnv(t, dir)
	start := time.Now()

	var blocks []docBlock
	for _, b := range readmeBlocks(t) {
		if b.section == ownEventsSection {
			continue
		}
		if b.lang == "sh" && b.skip != "" {
			t.Logf("README.md:%d: not run: %s", b.line, b.skip)
		}
		blocks = append(blocks, b)
	}
	cmds := blockCommands(blocks)
	var deferred []docCommand
	for _, c := range helpExamples(t, env) {
		if why := helpSkip(c.text); why != "" {
			t.Logf("%s: not run: %s: %s", c.where, why, c.text)
			continue
		}
		cmds = append(cmds, c)
	}

	demo := env.start(t, "rdg up --demo", "rdg up --demo")
	awaitHistory(t, demo)
	t.Logf("demo stack ready with its history after %s", time.Since(start).Round(time.Millisecond))

	for _, c := range cmds {
		text := normalise(c.text)
		f := strings.Fields(text)
		switch {
		case f[0] == "go" && len(f) > 1 && f[1] == "test":
			t.Logf("%s: not run: the test suite itself: %s", c.where, c.text)
		case text == "go install ./cmd/rdg":
			t.Run(strings.Trim(c.where, "`"), func(t *testing.T) { runGoInstall(t) })
		case f[0] == "grpcurl" && !onPath("grpcurl"):
			t.Logf("%s: not run: grpcurl not on PATH (go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4): %s", c.where, c.text)
		case longRunning(text) && f[1] == "up":
			deferred = append(deferred, c) // the demo holds the default addresses
		case longRunning(text):
			t.Run(strings.Trim(c.where, "`"), func(t *testing.T) { runLong(t, env, c) })
		default:
			t.Run(strings.Trim(c.where, "`"), func(t *testing.T) { runExample(t, env, c) })
		}
	}

	// The `rdg up` examples, each alone on the default addresses.
	stopGroup(t, demo)
	for _, c := range deferred {
		t.Run(strings.Trim(c.where, "`"), func(t *testing.T) { runLong(t, env, c) })
	}
	t.Logf("all examples run in %s", time.Since(start).Round(time.Millisecond))
}

// awaitHistory waits until the demo's printed query has an answer, a
// device and a profile of m-000001, and the jobs have caught up with the
// history burst.
func awaitHistory(t *testing.T, demo *proc) {
	t.Helper()
	demo.awaitReady(t)
	api := rdgv1connect.NewGraphServiceClient(http.DefaultClient, demo.apiURL)
	await(t, 60*time.Second, func() (bool, string) {
		demo.alive(t)
		res, err := api.Neighbors(context.Background(), connect.NewRequest(&rdgv1.NeighborsRequest{
			Node: &rdgv1.NodeRef{Type: "account", Id: "m-000001"}, Direction: rdgv1.Direction_DIRECTION_OUT}))
		if err != nil {
			return false, err.Error()
		}
		types := map[string]bool{}
		for _, n := range res.Msg.Neighbors {
			types[n.Node.Type] = true
		}
		lag := demo.metric("rdg_job_consumer_lag")
		return types["device"] && types["profile"] && lag < 1000, fmt.Sprintf("m-000001's neighbour types %v, job lag %.0f", types, lag)
	})
}

// runExample runs a command that ends by itself. An empty answer is
// retried for a while: the graph is live, and an example may show what an
// example before it produced.
func runExample(t *testing.T, env *docEnv, c docCommand) {
	var stdout, stderr, why string
	var err error
	deadline := time.Now().Add(15 * time.Second)
	for {
		stdout, stderr, err = env.run(c.text, 60*time.Second)
		switch {
		case err != nil:
			why = fmt.Sprintf("exit: %v", err)
		case warned.MatchString(stderr):
			why = "a warning on standard error"
		default:
			why = emptyAnswer(normalise(c.text), stdout)
			if strings.TrimSpace(stdout) == "" {
				why = emptyAnswer(normalise(c.text), stderr)
			}
		}
		if why == "" || err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if why != "" {
		t.Fatalf("%s\n%s: %s\nstdout:\n%s\nstderr:\n%s", c.where, c.text, why, logTailOf(stdout), logTailOf(stderr))
	}
	if c.want != "" {
		if err := matchOutput(stdout+stderr, c.want); err != nil {
			t.Fatalf("%s\n%s: %v\noutput:\n%s%s", c.where, c.text, err, stdout, stderr)
		}
	}
}

// runLong starts a command that runs until stopped, awaits it ready and
// stops it.
func runLong(t *testing.T, env *docEnv, c docCommand) {
	p := env.start(t, "example", c.text)
	awaitUp(t, p, 60*time.Second)
	stopGroup(t, p)
}

func onPath(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// runGoInstall runs the README's `go install ./cmd/rdg` where a user
// would, at the root of the clone, but into a GOBIN of the test's own so
// that it leaves the machine's PATH alone; the commands after it run the
// test's rdg, built from the same source.
func runGoInstall(t *testing.T) {
	bin := t.TempDir()
	cmd := exec.Command("go", "install", "./cmd/rdg")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/rdg: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(bin, "rdg")); err != nil {
		t.Fatalf("go install ./cmd/rdg installed no rdg in GOBIN: %v", err)
	}
}
