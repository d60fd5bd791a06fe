package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// TestScaleOut runs the playback job as three real processes sharing the
// 6 partitions of its source topic through its consumer group. One is
// killed with SIGKILL halfway through the events; the other two must own
// all 6 partitions within the session timeout (6s, set in the job file)
// plus slack, and the graph the writer process stores in the end must be
// complete: equal to the reference graph computed from the produced events.
func TestScaleOut(t *testing.T) {
	const (
		total          = 40_000
		sessionTimeout = 6 * time.Second
		slack          = 10 * time.Second
	)
	start := time.Now()
	c := startCluster(t)
	ctx := context.Background()
	cfg := demo.Config{Seed: 11, Members: 1000, Start: time.Date(2025, 6, 1, 20, 0, 0, 0, time.UTC), Rate: -1,
		Topics: []string{demo.TopicPlayback}}
	if err := demo.EnsureTopics(ctx, c.adm, 6); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.ProduceCatalog(ctx, c.cl, c.reg, cfg); err != nil {
		t.Fatal(err)
	}
	jobsDir := t.TempDir()
	// One consumer per process, since the test counts partitions per
	// process, and a short session timeout.
	jobFile := copyJob(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs", "playback.yaml"), jobsDir,
		func(text string) string {
			const from = "tuning:\n  concurrency: 2\n"
			if !strings.Contains(text, from) {
				t.Fatalf("playback.yaml has no %q to replace", from)
			}
			return strings.Replace(text, from, fmt.Sprintf("tuning:\n  concurrency: 1\n  session_timeout: %s\n", sessionTimeout), 1)
		})
	writerDir := t.TempDir()
	writer := c.startWriter(t, "writer", writerDir)
	var procs []*proc
	for i := range 3 {
		procs = append(procs, c.startJob(t, fmt.Sprintf("playback#%d", i+1), jobsDir, "playback"))
	}
	group := jobrun.Group("playback")
	c.awaitAssignment(t, 60*time.Second, group, demo.TopicPlayback, 3, 2, append(procs, writer)...)
	t.Logf("%s: 3 processes own 2 partitions each", time.Since(start).Round(time.Millisecond))

	prod := newEventProducer(t, c, cfg, total)
	prod.produce(total / 2)
	prod.flush()
	victim := procs[1]
	await(t, 30*time.Second, func() (bool, string) {
		victim.alive(t)
		n := victim.metric("rdg_job_records_in_total")
		return n > 0, fmt.Sprintf("%s read %v records", victim.name, n)
	})
	read := victim.metric("rdg_job_records_in_total")
	victim.kill(t)
	killed := time.Now()
	c.awaitAssignment(t, sessionTimeout+slack, group, demo.TopicPlayback, 2, 0, procs[0], procs[2], writer)
	took := time.Since(killed)
	t.Logf("%s: SIGKILL %s after it read %v records; the other two owned all 6 partitions %s later (session timeout %s)",
		killed.Sub(start).Round(time.Millisecond), victim.name, read, took.Round(time.Millisecond), sessionTimeout)
	if took > sessionTimeout+slack {
		t.Errorf("took %s to reassign the partitions, want < %s", took, sessionTimeout+slack)
	}

	prod.produce(total - total/2)
	prod.flush()
	c.awaitJobsThenWriter(t, 60*time.Second, map[string][]string{group: {demo.TopicPlayback}}, procs[0], procs[2], writer)
	writer.term(t)
	procs[0].term(t)
	procs[2].term(t)

	ref := newRefGraph(t, c.reg, []string{jobFile}, catalogTable(cfg))
	prod.reference(ref)
	nodes, edges := ref.compareStore(t, filepath.Join(writerDir, "store"))
	t.Logf("stored graph: %d nodes, %d edges from %d playback events, as the reference; total %s",
		nodes, edges, total, time.Since(start).Round(time.Millisecond))
}

// awaitAssignment waits until group is stable with exactly members members
// that between them own every partition of topic once, each owning each
// partitions if each > 0.
func (c *cluster) awaitAssignment(t *testing.T, timeout time.Duration, group, topic string, members, each int, running ...*proc) {
	t.Helper()
	await(t, timeout, func() (bool, string) {
		for _, p := range running {
			p.alive(t)
		}
		return c.assigned(t, group, topic, members, each)
	})
}

// assigned reports whether group is Stable with exactly members members
// that own every partition of topic once, each member each partitions
// (any number if each is 0), and says how the group stands.
func (c *cluster) assigned(t *testing.T, group, topic string, members, each int) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	td, err := c.adm.ListTopics(ctx, topic)
	if err != nil || td.Error() != nil {
		t.Fatalf("list %s: %v %v", topic, err, td.Error())
	}
	parts := len(td[topic].Partitions)
	gs, err := c.adm.DescribeGroups(ctx, group)
	if err != nil {
		return false, err.Error()
	}
	g := gs[group]
	if g.Err != nil {
		return false, g.Err.Error()
	}
	owned := map[int32]int{}
	var sizes []int
	var desc []string
	for _, m := range g.Members {
		ca, ok := m.Assigned.AsConsumer()
		n := 0
		var ps []int32
		if ok {
			for _, at := range ca.Topics {
				if at.Topic == topic {
					n += len(at.Partitions)
					ps = append(ps, at.Partitions...)
					for _, p := range at.Partitions {
						owned[p]++
					}
				}
			}
		}
		sizes = append(sizes, n)
		desc = append(desc, fmt.Sprintf("%s:%v", m.ClientHost+"/"+m.MemberID[max(0, len(m.MemberID)-8):], ps))
	}
	status := fmt.Sprintf("group %s %s, members %s", group, g.State, strings.Join(desc, " "))
	if g.State != "Stable" || len(g.Members) != members || len(owned) != parts {
		return false, status
	}
	for _, n := range sizes {
		if each > 0 && n != each {
			return false, status
		}
	}
	for _, n := range owned {
		if n != 1 {
			return false, status
		}
	}
	return true, status
}
