package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/demo"
)

// TestDemoAnswersAtOnce starts `rdg up --demo` as a new user does (default
// members, rate, seed and history) and measures how long after the start
// of the process the first query its banner prints answers with a device
// and a profile of the member: the history the demo writes first is what
// makes that seconds rather than the better part of a minute. It then asks
// the banner's other questions, which the story of the demo world answers
// for every seed: who shares the household TV, and the path between two
// members of different households through it.
func TestDemoAnswersAtOnce(t *testing.T) {
	rdgBinary(t) // built before the clock starts
	dir := t.TempDir()
	kafka, reg, api := freePort(t), freePort(t), freePort(t)
	start := time.Now()
	up := startProc(t, "up", api, "up", "--demo", "--data-dir", filepath.Join(dir, "data"),
		"--kafka-addr", kafka, "--registry-addr", reg, "--api-addr", api)

	// The banner's queries, one per line starting "rdg query".
	var queries [][]string
	await(t, 30*time.Second, func() (bool, string) {
		up.alive(t)
		queries = queries[:0]
		for _, line := range strings.Split(up.logs.String(), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == "rdg" && f[1] == "query" {
				queries = append(queries, f[1:])
			}
		}
		return len(queries) >= 4, "the banner has printed no queries yet"
	})
	first := queries[0]
	if !strings.Contains(strings.Join(first, " "), "account:"+demo.StoryMember) {
		t.Fatalf("the banner's first query %q is not about %s", first, demo.StoryMember)
	}

	// Poll the printed query as a person would retry it.
	const bound = 10 * time.Second
	var out string
	for {
		o, err := runRdg(t, 30*time.Second, first...)
		out = o
		if err == nil && strings.Contains(out, "device:") && strings.Contains(out, "profile:") {
			break
		}
		up.alive(t)
		if time.Since(start) > 3*bound {
			t.Fatalf("after %s the printed query `rdg %s` still has no device and profile (err %v):\n%s",
				time.Since(start).Round(time.Millisecond), strings.Join(first, " "), err, out)
		}
		time.Sleep(100 * time.Millisecond) // a person's retry, not synchronisation
	}
	took := time.Since(start)
	t.Logf("`rdg %s` answered with a device and a profile %s after the start of rdg up --demo:\n%s",
		strings.Join(first, " "), took.Round(time.Millisecond), out)
	if took > bound {
		t.Errorf("the printed query answered %s after start, want within %s", took.Round(time.Millisecond), bound)
	}

	ask := func(args []string, want ...string) string {
		t.Helper()
		var out string
		await(t, 60*time.Second, func() (bool, string) {
			up.alive(t)
			o, err := runRdg(t, 30*time.Second, args...)
			out = o
			if err != nil {
				return false, err.Error() + ": " + o
			}
			for _, w := range want {
				if !strings.Contains(o, w) {
					return false, "no " + w + " in:\n" + o
				}
			}
			return true, ""
		})
		return out
	}
	byVerb := map[string][]string{}
	for _, q := range queries {
		for _, w := range q {
			if w == "neighbors" || w == "path" || w == "stats" {
				if byVerb[w] == nil || w == "neighbors" && strings.Contains(strings.Join(q, " "), "device:") {
					byVerb[w] = q
				}
			}
		}
	}
	// Who shares this TV: the household and the account sharer.
	ask(byVerb["neighbors"], "account:"+demo.StoryMember, "account:"+demo.StoryMember2, "account:"+demo.StoryMember3, "account:"+demo.StorySharer)
	// Two households, one TV.
	path := ask(byVerb["path"], "device:"+demo.HouseholdTV)
	t.Logf("path: %s", strings.TrimSpace(path))
	// The fraud device tops the devices by degree.
	stats := ask(byVerb["stats"], "device:"+demo.FraudDevice)
	t.Logf("stats:\n%s", stats)
}
