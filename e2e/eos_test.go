package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// eosEvent is a record of e2e/testdata/eos/event.avsc.
type eosEvent struct {
	EventID string    `avro:"event_id"`
	Seq     int64     `avro:"seq"`
	Ts      time.Time `avro:"ts"`
}

// TestEOSCrash runs a job with `delivery: exactly-once`
// (e2e/testdata/eos/eos.yaml) as a real process and kills it with SIGKILL
// halfway through the events, then restarts it. Each event i (event time
// base + i ms, on a one-partition source topic) maps to a node of its own,
// eos_event:e-i, and updates the shared node eos_tally:all, which the
// dedupe buffer folds into one update per transaction.
//
// A read_committed consumer of the graph topics must then see:
//
//   - every eos_event node exactly once, although the crash made the job
//     read part of the stream twice;
//   - the eos_tally updates tiling the event sequence: sorted by
//     first_seen, the first starts at event 0, each next one starts at the
//     event right after the previous one's last_seen, and the last ends at
//     event n-1. This is the sound form of "at most once per committed
//     transaction": a transaction covers a contiguous run of source offsets
//     (one partition, read in order, committed with the output), event
//     times grow with offsets, and the tally update of a transaction spans
//     exactly its run. A window published twice (a replay after the crash
//     whose first attempt was also committed) would show as overlapping
//     updates, a lost one as a gap. Counting transactions instead through
//     rdg_job_commits_total cannot be exact for the killed process: a
//     scrape before SIGKILL is only a lower bound, and the metric also
//     counts empty transactions.
//
// A read_uncommitted consumer may see more eos_event records: those of the
// transaction the kill aborted. Whether the kill hit a transaction with
// output in flight is chance, so it is logged, not asserted.
func TestEOSCrash(t *testing.T) {
	const (
		n     = 20_000
		topic = "eos.events"
	)
	start := time.Now()
	c := startCluster(t)
	ctx := context.Background()
	resp, err := c.adm.CreateTopic(ctx, 1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatal(err)
	}
	jobsDir := filepath.Join(repoRoot(t), "e2e", "testdata", "eos")
	j, err := engine.Load(filepath.Join(jobsDir, "eos.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if j.Spec.Delivery != job.DeliveryExactlyOnce || j.Spec.Source.Topic != topic {
		t.Fatalf("eos.yaml: delivery %s, topic %s", j.Spec.Delivery, j.Spec.Source.Topic)
	}
	schema, err := os.ReadFile(filepath.Join(jobsDir, "event.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ap := newAvroProducer(t, c.cl, c.reg)
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("e-%06d", i)
			v := ap.encode(topic, string(schema), &eosEvent{EventID: id, Seq: int64(i), Ts: base.Add(time.Duration(i) * time.Millisecond)})
			c.cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(id), Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		if err := c.cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	topics := []string{codec.NodeTopic("eos_event"), codec.NodeTopic("eos_tally")}
	first := c.startJob(t, "eos#1", jobsDir, "")
	produce(0, n/2)
	await(t, 60*time.Second, func() (bool, string) {
		first.alive(t)
		read := first.metric("rdg_job_records_in_total")
		return read > 0, fmt.Sprintf("%s read %v records", first.name, read)
	})
	// Kill while a transaction has output in flight if we can catch one:
	// polled back to back, a graph partition's high watermark read before
	// its last stable offset and above it means a transaction that was
	// still open when the second was read.
	read1, commits1 := first.metric("rdg_job_records_in_total"), first.metric("rdg_job_commits_total")
	inFlight := false
	for catch := time.Now().Add(20 * time.Second); !inFlight && time.Now().Before(catch); {
		first.alive(t)
		hw, err := c.adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			t.Fatal(err)
		}
		lso, err := c.adm.ListCommittedOffsets(ctx, topics...)
		if err != nil {
			t.Fatal(err)
		}
		hw.Each(func(o kadm.ListedOffset) {
			if l, ok := lso.Lookup(o.Topic, o.Partition); ok && o.Err == nil && l.Err == nil && o.Offset > l.Offset {
				inFlight = true
			}
		})
	}
	first.kill(t)
	t.Logf("%s: SIGKILL %s (before the hunt for an open transaction: %v records read, %v transactions committed; output of an open transaction seen just before the kill: %v)",
		time.Since(start).Round(time.Millisecond), first.name, read1, commits1, inFlight)
	second := c.startJob(t, "eos#2", jobsDir, "")
	produce(n/2, n)
	c.awaitCaughtUp(t, 90*time.Second, map[string][]string{jobrun.Group("eos"): {topic}}, second)
	read2, commits2 := second.metric("rdg_job_records_in_total"), second.metric("rdg_job_commits_total")
	second.term(t)
	t.Logf("%s: %s read %v records in %v committed transactions and stopped",
		time.Since(start).Round(time.Millisecond), second.name, read2, commits2)

	sentinels := c.produceSentinels(t, topics)
	readStart := time.Now()
	committed := c.readNodes(t, topics, sentinels, kgo.ReadCommitted())
	t.Logf("read_committed consumer reached the end after %s (an open transaction of the killed process holds it back until the transaction times out)",
		time.Since(readStart).Round(time.Millisecond))
	uncommitted := c.readNodes(t, topics, sentinels, kgo.ReadUncommitted())

	// Every event's node exactly once.
	seen := make([]int, n)
	for _, nd := range committed[topics[0]] {
		var i int
		if _, err := fmt.Sscanf(nd.ID, "e-%d", &i); err != nil || i < 0 || i >= n || nd.ID != fmt.Sprintf("e-%06d", i) {
			t.Errorf("unexpected node %s", nd.NodeRef)
			continue
		}
		seen[i]++
		ts := base.Add(time.Duration(i) * time.Millisecond).UnixMilli()
		if nd.FirstSeen != ts || nd.LastSeen != ts || nd.Props["seq"].Value != int64(i) {
			t.Errorf("node %s: first_seen %d, last_seen %d, seq %v; want %d, %d, %d", nd.NodeRef, nd.FirstSeen, nd.LastSeen, nd.Props["seq"].Value, ts, ts, i)
		}
	}
	var missing, dup []int
	for i, k := range seen {
		switch {
		case k == 0:
			missing = append(missing, i)
		case k > 1:
			dup = append(dup, i)
		}
	}
	if len(missing) > 0 || len(dup) > 0 {
		t.Errorf("read_committed: %d of %d events have no node (first %v), %d have more than one (first %v)",
			len(missing), n, head(missing), len(dup), head(dup))
	}

	// The tally's updates tile the events.
	tally := committed[topics[1]]
	sort.Slice(tally, func(a, b int) bool { return tally[a].FirstSeen < tally[b].FirstSeen })
	next := base.UnixMilli()
	for k, nd := range tally {
		if nd.ID != "all" || nd.FirstSeen != next || nd.LastSeen < nd.FirstSeen {
			t.Errorf("tally update %d of %d: %s [%d, %d], want one starting at %d (event %d)",
				k, len(tally), nd.NodeRef, nd.FirstSeen, nd.LastSeen, next, next-base.UnixMilli())
			break
		}
		last := nd.LastSeen - base.UnixMilli()
		if want := fmt.Sprintf("e-%06d", last); nd.Props["last_event"].Value != want {
			t.Errorf("tally update %d: last_event %v, want %s", k, nd.Props["last_event"].Value, want)
		}
		next = nd.LastSeen + 1
	}
	if end := base.UnixMilli() + n; next != end && !t.Failed() {
		t.Errorf("tally updates end at event %d, want %d", next-base.UnixMilli()-1, n-1)
	}
	t.Logf("read_committed: %d event nodes, %d tally updates (committed transactions with output; %v+%v commits counted by the two processes, the first before its kill)",
		len(committed[topics[0]]), len(tally), commits1, commits2)

	if extra := len(uncommitted[topics[0]]) - len(committed[topics[0]]); extra > 0 {
		t.Logf("read_uncommitted: %d event nodes, %d tally updates: %d event records of aborted transactions, so the kill hit a transaction in flight",
			len(uncommitted[topics[0]]), len(uncommitted[topics[1]]), extra)
	} else {
		t.Logf("read_uncommitted: %d event nodes, no more than read_committed: the kill did not hit a transaction with output in flight this time",
			len(uncommitted[topics[0]]))
	}
	t.Logf("total %s", time.Since(start).Round(time.Millisecond))
}

func head(xs []int) []int { return xs[:min(len(xs), 10)] }

// sentinelKey marks the records produceSentinels writes.
const sentinelKey = "e2e-sentinel"

// produceSentinels appends a non-transactional record to every partition of
// topics and returns their offsets: a consumer that has read them has read
// everything before them that its isolation level shows.
func (c *cluster) produceSentinels(t *testing.T, topics []string) map[string]map[int32]int64 {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := c.adm.ListTopics(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for _, topic := range topics {
		for _, p := range td[topic].Partitions.Numbers() {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(sentinelKey), Value: []byte(sentinelKey)})
		}
	}
	out := map[string]map[int32]int64{}
	for _, r := range cl.ProduceSync(ctx, recs...) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if out[r.Record.Topic] == nil {
			out[r.Record.Topic] = map[int32]int64{}
		}
		out[r.Record.Topic][r.Record.Partition] = r.Record.Offset
	}
	return out
}

// readNodes reads topics from the start with isolation level iso up to the
// sentinels and decodes every node record, by topic.
func (c *cluster) readNodes(t *testing.T, topics []string, sentinels map[string]map[int32]int64, iso kgo.IsolationLevel) map[string][]graph.Node {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	elems := codec.NewElements(c.reg)
	left := 0
	for _, ps := range sentinels {
		left += len(ps)
	}
	out := map[string][]graph.Node{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d partitions not read to their sentinel after 90s", left)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == sentinelKey {
				if r.Offset == sentinels[r.Topic][r.Partition] {
					left--
				}
				return
			}
			nd, err := elems.DecodeNode(ctx, r.Value)
			if err != nil {
				t.Fatalf("%s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			out[r.Topic] = append(out[r.Topic], nd)
		})
	}
	return out
}
