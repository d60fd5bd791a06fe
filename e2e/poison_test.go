package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kgo"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/dlq"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// Avro bombs against real processes: a record of a dozen bytes whose
// array claims 2^40 (or 50 million) items, which hamba, left to itself,
// grows a slice for until the Go runtime dies of "out of memory"; the
// record is then never committed, so every restart would die on it again.

const (
	// poisonEvent is what well-behaved producers write to the poison jobs'
	// topics.
	poisonEvent = `{"type":"record","name":"Event","namespace":"rdg.e2e","fields":[
		{"name":"id","type":"string"},
		{"name":"tags","type":{"type":"array","items":["null","long"]}}]}`
	// poisonBomb is the smallest writer schema for a bomb: one array of
	// null or long.
	poisonBomb = `{"type":"record","name":"Bomb","namespace":"rdg.e2e","fields":[
		{"name":"tags","type":{"type":"array","items":["null","long"]}}]}`
	// maxPoisonRSS bounds the peak resident memory of `rdg up` while it
	// dead-letters the bombs: what a small stack takes, nothing like the
	// gigabytes the bombs claim.
	maxPoisonRSS = 300 << 20
)

// varintValue frames a body made of zig-zag varints and strings.
func varintValue(id int, parts ...any) []byte {
	b := codec.AppendHeader(nil, id)
	for _, p := range parts {
		switch p := p.(type) {
		case int64:
			b = binary.AppendVarint(b, p)
		case int:
			b = binary.AppendVarint(b, int64(p))
		case string:
			b = append(binary.AppendVarint(b, int64(len(p))), p...)
		}
	}
	return b
}

// TestPoisonRecordRestart runs `rdg up` with two jobs, one reading records
// with their writer schema and one with a reader schema that makes hamba
// skip the array, and produces to each: a good record, the 13-byte record
// claiming 2^40 items, the 12-byte one claiming 50 million, and more good
// records. The process stays up and its peak memory small; both bombs of
// each job are in its dead-letter topic at stage decode with a reason that
// names the array and its size; the good records after them are in the
// graph. Then the process is killed (SIGKILL) and started again on the same
// data directory: it comes back, and a bomb and a good record produced
// after the restart are dealt with the same way.
func TestPoisonRecordRestart(t *testing.T) {
	jobsDir := filepath.Join(repoRoot(t), "e2e", "testdata", "poison")
	dataDir := t.TempDir()
	kafka, regAddr, apiAddr := freePort(t), freePort(t), freePort(t)
	args := []string{"up", "--jobs", jobsDir, "--data-dir", dataDir, "--kafka-addr", kafka,
		"--registry-addr", regAddr, "--api-addr", apiAddr, "--partitions", "1"}
	ctx := context.Background()

	up := startProc(t, "up", apiAddr, args...)
	up.awaitReady(t)
	c := dialCluster(t, up, kafka, "http://"+regAddr)
	cl, reg := c.cl, c.reg
	const topic, rtopic = "e2e.poison", "e2e.poison.r"
	if _, err := c.adm.CreateTopics(ctx, 1, -1, nil, topic, rtopic); err != nil {
		t.Fatal(err)
	}
	eventID, err := codec.Register(ctx, reg, codec.Subject(topic), poisonEvent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Register(ctx, reg, codec.Subject(rtopic), poisonEvent); err != nil {
		t.Fatal(err)
	}
	bombID, err := codec.Register(ctx, reg, "e2e.poison.bomb-value", poisonBomb)
	if err != nil {
		t.Fatal(err)
	}

	const e40 = int64(1) << 40
	good := func(id string, tag int64) []byte { return varintValue(eventID, id, 1, 1, tag, 0) }
	type bomb struct {
		value []byte
		why   string
	}
	// The writer-schema job gets bombs of 13 and 12 bytes. The
	// reader-schema job gets bombs in an Event, whose id it reads and
	// whose tags hamba skips.
	bombs := map[string][]bomb{
		topic: {
			{varintValue(bombID, e40, 1, 1), "array block of 1099511627776 items in field tags exceeds the 2 bytes left in the record"},
			{varintValue(bombID, 50_000_000, 1, 1, 0), "array block of 50000000 items in field tags exceeds the 3 bytes left in the record"},
		},
		rtopic: {
			{varintValue(eventID, "r-bomb", e40, 1, 1), "array block of 1099511627776 items in field tags exceeds the 2 bytes left in the record"},
			{varintValue(eventID, "r-bomb", 50_000_000, 1, 1, 0), "array block of 50000000 items in field tags exceeds the 3 bytes left in the record"},
		},
	}
	prefix := map[string]string{topic: "g", rtopic: "r"}
	nodeType := map[string]string{topic: "item", rtopic: "ritem"}
	jobOf := map[string]string{topic: "poison", rtopic: "poison_reader"}
	// bombOffsets are the source offsets of each topic's bombs; whys the
	// reasons their dead letters must give, by offset.
	bombOffsets := map[string][]int64{}
	whys := map[string]map[int64]string{topic: {}, rtopic: {}}
	produce := func(tp string, v []byte) int64 {
		t.Helper()
		r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: tp, Key: []byte("k"), Value: v}).First()
		if err != nil {
			t.Fatal(err)
		}
		return r.Offset
	}
	for _, tp := range []string{topic, rtopic} {
		produce(tp, good(prefix[tp]+"-0", 0))
		for _, b := range bombs[tp] {
			off := produce(tp, b.value)
			bombOffsets[tp] = append(bombOffsets[tp], off)
			whys[tp][off] = b.why
		}
		for i := 1; i <= 3; i++ {
			produce(tp, good(fmt.Sprintf("%s-%d", prefix[tp], i), int64(i)))
		}
	}

	api := rdgv1connect.NewGraphServiceClient(http.DefaultClient, "http://"+apiAddr)
	awaitNodes := func(p *proc, upTo int) {
		t.Helper()
		var refs []*rdgv1.NodeRef
		for _, tp := range []string{topic, rtopic} {
			for i := 0; i <= upTo; i++ {
				refs = append(refs, &rdgv1.NodeRef{Type: nodeType[tp], Id: fmt.Sprintf("%s-%d", prefix[tp], i)})
			}
		}
		await(t, 60*time.Second, func() (bool, string) {
			p.alive(t)
			r, err := api.GetNodes(ctx, connect.NewRequest(&rdgv1.GetNodesRequest{Refs: refs}))
			if err != nil {
				return false, err.Error()
			}
			if m := r.Msg.GetMissing(); len(m) > 0 {
				return false, fmt.Sprintf("%d of %d good records not in the graph yet, e.g. %s:%s", len(m), len(refs), m[0].GetType(), m[0].GetId())
			}
			return true, ""
		})
	}
	checkDeadLetters := func() {
		t.Helper()
		for _, tp := range []string{topic, rtopic} {
			dt := job.DeadLetterTopic(jobOf[tp])
			var recs []dlq.Record
			await(t, 30*time.Second, func() (bool, string) {
				var err error
				if recs, err = dlq.Read(ctx, dlq.Cluster{Seeds: []string{kafka}}, dt, 0, 0); err != nil {
					return false, err.Error()
				}
				return len(recs) >= len(bombOffsets[tp]), fmt.Sprintf("%s has %d dead letters, want %d", dt, len(recs), len(bombOffsets[tp]))
			})
			var offs []int64
			for _, r := range recs {
				why, ok := whys[tp][r.SourceOffset]
				if !ok {
					t.Errorf("%s: dead letter from %s offset %d, which is not a bomb: %s", dt, r.SourceTopic, r.SourceOffset, r.Error)
					continue
				}
				if r.Stage != engine.StageDecode || !strings.Contains(r.Error, why) {
					t.Errorf("%s offset %d: dead letter at stage %q with %q, want stage decode and %q", dt, r.SourceOffset, r.Stage, r.Error, why)
				}
				if r.SourceTopic != tp || len(r.Value) > 64 {
					t.Errorf("%s offset %d: dead letter from %s, %d bytes", dt, r.SourceOffset, r.SourceTopic, len(r.Value))
				}
				offs = append(offs, r.SourceOffset)
			}
			slices.Sort(offs)
			if offs = slices.Compact(offs); !slices.Equal(offs, bombOffsets[tp]) {
				t.Errorf("%s holds dead letters of source offsets %v, want the bombs' %v", dt, offs, bombOffsets[tp])
			}
		}
	}
	checkRSS := func(p *proc) {
		t.Helper()
		if rss := vmHWM(t, p.cmd.Process.Pid); rss > maxPoisonRSS {
			t.Errorf("%s: peak RSS %d MiB, want under %d MiB", p.name, rss>>20, maxPoisonRSS>>20)
		} else {
			t.Logf("%s: peak RSS %d MiB", p.name, rss>>20)
		}
	}
	// committed waits for both jobs to commit everything produced, so that
	// the kill below loses nothing in flight.
	committed := func(p *proc) {
		t.Helper()
		c.awaitCaughtUp(t, 30*time.Second, map[string][]string{
			jobrun.Group("poison"): {topic}, jobrun.Group("poison_reader"): {rtopic}}, p)
	}

	awaitNodes(up, 3)
	checkDeadLetters()
	up.alive(t)
	checkRSS(up)
	committed(up)

	// A crash, and a start on the same data directory.
	up.kill(t)
	again := startProc(t, "up-again", apiAddr, args...)
	again.awaitReady(t)
	for _, tp := range []string{topic, rtopic} {
		b := bombs[tp][0]
		off := produce(tp, b.value)
		bombOffsets[tp] = append(bombOffsets[tp], off)
		whys[tp][off] = b.why
		produce(tp, good(prefix[tp]+"-4", 4))
	}
	awaitNodes(again, 4)
	checkDeadLetters()
	checkRSS(again)
	again.term(t)
}
