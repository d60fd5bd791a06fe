package e2e

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// kfakeStall bounds how long the embedded broker may keep a group in a
// rebalance after a member's process is killed at the wrong moment: its
// 60s rebalance and sync timeouts, the 10s session timeout, and margin.
// A run without such a kill waits seconds, not this.
const kfakeStall = 150 * time.Second

// TestCrashNoLoss is the "no loss under crashes" check of issue 3, with
// real processes: 200,000 generated events are produced while the process
// running the three Netflix example jobs is killed with SIGKILL three times
// and restarted at once, and the graph writer's process once. Kill moments
// are chosen by a seeded random number of produced events (RDG_CRASH_SEED
// replays a run); at each, the test waits until the victim has made
// progress (the job process has read records, the writer has stored
// elements) so that the kill lands in the middle of its work, with records
// read but not committed and elements in the dedupe buffers.
//
// Once every job group and the writer's group have committed everything,
// the writer is stopped and its Pebble store must equal a reference graph
// computed from the produced records directly: each record through its
// job's Processor once, folded with graph's Merge.
func TestCrashNoLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 events through real processes")
	}
	const total = 200_000
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RDG_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RDG_CRASH_SEED: %v", err)
		}
		seed = v
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	type kill struct {
		at     int
		writer bool
		// commits is how many offset commits (summed over the three
		// jobs) the job process must have made before it is killed: 0
		// kills it as soon as it reads, before anything is committed.
		commits int
	}
	var kills []kill
	for len(kills) < 3 {
		at := total/20 + rng.IntN(total*18/20)
		if !slices.ContainsFunc(kills, func(k kill) bool { return k.at == at }) {
			kills = append(kills, kill{at: at, commits: rng.IntN(7)})
		}
	}
	// The writer dies in the first half, while there is still much to write.
	kills = append(kills, kill{at: total/10 + rng.IntN(total*4/10) + 1, writer: true})
	slices.SortFunc(kills, func(a, b kill) int { return a.at - b.at })
	t.Logf("RDG_CRASH_SEED=%d: kills at %v", seed, kills)

	start := time.Now()
	c := startCluster(t)
	ctx := context.Background()
	cfg := demo.Config{Seed: 3, Members: 2000, Start: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Rate: -1}
	if err := demo.EnsureTopics(ctx, c.adm, 6); err != nil {
		t.Fatal(err)
	}
	titles, err := demo.ProduceCatalog(ctx, c.cl, c.reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	jobsDir := filepath.Join(repoRoot(t), "examples", "netflix", "jobs")
	writerDir := t.TempDir()
	writer := c.startWriter(t, "writer#1", writerDir)
	jobs := c.startJob(t, "jobs#1", jobsDir, "")
	t.Logf("stack up in %s; catalogue of %d titles", time.Since(start).Round(time.Millisecond), titles)

	groups := map[string][]string{}
	consumers := map[string]int{} // per process: tuning.concurrency
	for _, f := range exampleJobFiles(t) {
		j, err := engine.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		groups[jobrun.Group(j.Spec.Name)] = []string{j.Spec.Source.Topic}
		consumers[jobrun.Group(j.Spec.Name)] = j.Spec.Tuning.Defaults().Concurrency
	}
	prod := newEventProducer(t, c, cfg, total)
	produced, jobRuns, writerRuns := 0, 1, 1
	for _, k := range kills {
		prod.produce(k.at - produced)
		produced = k.at
		prod.flush()
		if k.writer {
			await(t, 60*time.Second, func() (bool, string) {
				writer.alive(t)
				n := writer.metric("rdg_store_elements_written_total")
				return n > 0, fmt.Sprintf("%s stored %v elements", writer.name, n)
			})
			stored := writer.metric("rdg_store_elements_written_total")
			writer.kill(t)
			writerRuns++
			t.Logf("%s: SIGKILL %s after it stored %v elements", time.Since(start).Round(time.Millisecond), writer.name, stored)
			writer = c.startWriter(t, fmt.Sprintf("writer#%d", writerRuns), writerDir)
			continue
		}
		// Kill once the process's consumers own every source partition (a
		// restarted one first waits for its groups to drop the killed
		// members: the session timeout), is reading, and has committed
		// k.commits times (or everything). Killing a process while one of
		// its consumers still waits in a rebalance leaves the embedded
		// broker with a member it arms no session timer for (see
		// settleJobGroups): waiting for a settled group first makes that
		// rare, and settleJobGroups deals with it when it happens anyway.
		jobs = c.settleJobGroups(t, groups, consumers, jobs, jobsDir, &jobRuns, writer)
		await(t, 60*time.Second, func() (bool, string) {
			jobs.alive(t)
			n, commits := jobs.metric("rdg_job_records_in_total"), jobs.metric("rdg_job_commits_total")
			status := fmt.Sprintf("%s read %v records, committed %v times (killing at %d)", jobs.name, n, commits, k.commits)
			if n == 0 {
				return false, status
			}
			if commits >= float64(k.commits) {
				return true, status
			}
			lag, s, err := c.totalLag(groups)
			if err != nil {
				return false, err.Error()
			}
			return lag == 0, status + "; " + s
		})
		read, commits := jobs.metric("rdg_job_records_in_total"), jobs.metric("rdg_job_commits_total")
		jobs.kill(t)
		jobRuns++
		t.Logf("%s: SIGKILL %s at %d produced, after it read %v records and committed %v times",
			time.Since(start).Round(time.Millisecond), jobs.name, produced, read, commits)
		jobs = c.startJob(t, fmt.Sprintf("jobs#%d", jobRuns), jobsDir, "")
	}
	prod.produce(total - produced)
	prod.flush()
	produceDone := time.Now()
	t.Logf("%s: all %d events produced", produceDone.Sub(start).Round(time.Millisecond), total)

	jobs = c.settleJobGroups(t, groups, consumers, jobs, jobsDir, &jobRuns, writer)
	c.awaitJobsThenWriter(t, kfakeStall+120*time.Second, groups, jobs, writer)
	t.Logf("%s: every group caught up (%s after the last event was produced)",
		time.Since(start).Round(time.Millisecond), time.Since(produceDone).Round(time.Millisecond))
	writer.term(t)
	jobs.term(t)

	refStart := time.Now()
	ref := newRefGraph(t, c.reg, exampleJobFiles(t), catalogTable(cfg))
	prod.reference(ref)
	if ref.dead > 0 {
		t.Fatalf("the reference dead-lettered %d generated records", ref.dead)
	}
	nodes, edges := ref.compareStore(t, filepath.Join(writerDir, "store"))
	t.Logf("stored graph: %d nodes, %d edges; reference: %d nodes, %d edges (computed in %s); %d events, %d job and %d writer processes; total %s",
		nodes, edges, len(ref.nodes), len(ref.edges), time.Since(refStart).Round(time.Millisecond), total, jobRuns, writerRuns,
		time.Since(start).Round(time.Millisecond))
}

// settleJobGroups waits for every job group to settle on the running job
// process's consumers and returns the job process. The embedded broker
// arms no session timer for a member whose JoinGroup answer it could not
// deliver (kfake's group.reply starts the timer only after a delivered
// answer): such a member of a killed process, or one a live client gave
// up on, can be left Stable in the group, owning partitions that nobody
// reads, until the group next rebalances. When a group still has such a
// member after kfakeStall, the job process is restarted (what an operator
// would do), which makes the group rebalance and drop it; nothing
// committed is at stake either way.
func (c *cluster) settleJobGroups(t *testing.T, groups map[string][]string, consumers map[string]int, jobs *proc, jobsDir string, runs *int, others ...*proc) *proc {
	t.Helper()
	settled := func() (bool, string) {
		var status []string
		ok := true
		for _, g := range slices.Sorted(maps.Keys(groups)) {
			done, s := c.assigned(t, g, groups[g][0], consumers[g], 6/consumers[g])
			ok = ok && done
			status = append(status, s)
		}
		return ok, strings.Join(status, "; ")
	}
	deadline := time.Now().Add(kfakeStall)
	for {
		jobs.alive(t)
		for _, p := range others {
			p.alive(t)
		}
		done, status := settled()
		if done {
			return jobs
		}
		if time.Now().After(deadline) {
			t.Logf("job groups not settled after %s (%s): restarting %s to make them rebalance", kfakeStall, status, jobs.name)
			jobs.term(t)
			*runs++
			jobs = c.startJob(t, fmt.Sprintf("jobs#%d", *runs), jobsDir, "")
			c.awaitAssignmentAll(t, groups, consumers, append([]*proc{jobs}, others...)...)
			return jobs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitAssignmentAll waits, failing the test after kfakeStall, for every
// job group to settle.
func (c *cluster) awaitAssignmentAll(t *testing.T, groups map[string][]string, consumers map[string]int, running ...*proc) {
	t.Helper()
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		c.awaitAssignment(t, kfakeStall, g, groups[g][0], consumers[g], 6/consumers[g], running...)
	}
}
