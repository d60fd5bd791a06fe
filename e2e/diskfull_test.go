package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// mountTmpfs mounts a tmpfs of sizeMiB for the test, skipping the test
// where it cannot (mounting needs root).
func mountTmpfs(t *testing.T, sizeMiB int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", sizeMiB), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a full disk needs a small file system, and this test cannot mount a tmpfs (it needs root): %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		// After the processes on it are gone (cleanups run last first).
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// freeBytes is what statfs says an unprivileged writer may still write
// on dir's file system.
func freeBytes(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Bsize)
}

// fillTo writes a file into dir that leaves free bytes on its file system.
func fillTo(t *testing.T, dir string, free uint64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	have := freeBytes(t, dir)
	if have <= free {
		t.Fatalf("only %d bytes free, cannot leave %d", have, free)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, int64(have-free)); err != nil {
		t.Fatalf("fill %s: %v", dir, err)
	}
	return path
}

// A full disk (issue 16, item 5), with real processes: `rdg up` (broker,
// registry, graph writer, store) on a small tmpfs and the Netflix example
// jobs in a `rdg job run` process. Once the file system has less free
// space than --disk-reserve-mib, produce requests are refused with
// KAFKA_STORAGE_ERROR and /readyz and the log say which directory is full
// and how many bytes are free, while queries are still answered; SIGTERM
// stops the process cleanly and promptly; a start on the still-full disk
// fails at once saying why; and once space is freed a restart catches up
// and the store holds the graph of every event produced. It guards against
// what an unguarded full disk does: the producer sees UNKNOWN_SERVER_ERROR,
// the writer panics inside Pebble and takes the process down, and a
// restart retries Pebble's flush for ever, deaf to SIGTERM.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a file system through real processes")
	}
	const reserveMiB = 16
	mnt := mountTmpfs(t, 160)
	dir := filepath.Join(mnt, "data")
	kafka, reg, api := freePort(t), freePort(t), freePort(t)
	args := []string{"up", "--data-dir", dir, "--kafka-addr", kafka, "--registry-addr", reg, "--api-addr", api,
		"--partitions", "6", "--disk-reserve-mib", fmt.Sprint(reserveMiB)}
	up := startProc(t, "up#1", api, args...)
	up.awaitReady(t)

	ctx := context.Background()
	// A short metadata age: after a refusal or a broker restart the
	// producer refreshes its metadata before it retries.
	c := dialCluster(t, up, kafka, "http://"+reg, kgo.MetadataMinAge(250*time.Millisecond))
	cfg := demo.Config{Seed: 7, Members: 500, Start: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Rate: -1}
	if err := demo.EnsureTopics(ctx, c.adm, 6); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.ProduceCatalog(ctx, c.cl, c.reg, cfg); err != nil {
		t.Fatal(err)
	}
	jobs := c.startJob(t, "jobs", filepath.Join(repoRoot(t), "examples", "netflix", "jobs"), "")
	groups := map[string][]string{}
	for _, f := range exampleJobFiles(t) {
		j, err := engine.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		groups[jobrun.Group(j.Spec.Name)] = []string{j.Spec.Source.Topic}
	}
	prod := newEventProducer(t, c, cfg, 50_000)
	prod.produce(5_000)
	prod.flush()
	c.awaitJobsThenWriter(t, 120*time.Second, groups, jobs, up)
	ref := newRefGraph(t, c.reg, exampleJobFiles(t), catalogTable(cfg))
	prod.reference(ref)
	var someone graph.NodeRef
	for r := range ref.nodes {
		if r.Type == "account" {
			someone = r
			break
		}
	}

	// Leave a little more than the reserve, and produce until it is gone.
	filler := fillTo(t, mnt, (reserveMiB+4)<<20)
	await(t, 120*time.Second, func() (bool, string) {
		up.alive(t)
		if full, err := scrape(up.apiURL, "rdg_data_dir_full"); err == nil && full == 1 {
			return true, ""
		}
		prod.mu.Lock()
		pending := len(prod.sent) - prod.acks
		prod.mu.Unlock()
		if pending < 1_000 {
			prod.produce(2_000)
		}
		return false, fmt.Sprintf("%d bytes free, %d events produced, %d not acknowledged", freeBytes(t, mnt), len(prod.sent), pending)
	})
	t.Logf("writes refused with %d bytes free after %d events", freeBytes(t, mnt), len(prod.sent))

	// The refusal is clear: the broker's answer, /readyz, the log.
	probe, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.RecordRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	err = probe.ProduceSync(ctx, &kgo.Record{Topic: demo.TopicPlayback, Value: []byte("probe")}).FirstErr()
	probe.Close()
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Errorf("produce on a full disk: %v, want KAFKA_STORAGE_ERROR", err)
	}
	resp, err := http.Get(up.apiURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "writes refused: data directory "+dir+" is full") ||
		!strings.Contains(string(body), "bytes free") {
		t.Errorf("/readyz on a full disk: %s %q, want 200 naming the directory and its free bytes", resp.Status, body)
	}
	if logs := up.logs.String(); !strings.Contains(logs, "data directory full") || !strings.Contains(logs, "dir="+dir) {
		t.Errorf("the log does not say that %s is full", dir)
	}
	if free, err := scrape(up.apiURL, "rdg_data_dir_free_bytes"); err != nil || free <= 0 || free >= reserveMiB<<20 {
		t.Errorf("rdg_data_dir_free_bytes = %v (%v), want the free bytes, below the reserve", free, err)
	}

	// Queries are still answered.
	q, err := http.Post(up.apiURL+"/rdg.v1.GraphService/GetNodes", "application/json",
		strings.NewReader(fmt.Sprintf(`{"refs":[{"type":%q,"id":%q}]}`, someone.Type, someone.ID)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(q.Body)
	q.Body.Close()
	if q.StatusCode != http.StatusOK || !strings.Contains(string(body), someone.ID) {
		t.Errorf("query on a full disk: %s %s, want %s", q.Status, body, someone)
	}

	began := time.Now()
	up.term(t)
	if d := time.Since(began); d > 15*time.Second {
		t.Errorf("SIGTERM on a full disk took %s to stop rdg, want at most 15s", d.Round(time.Millisecond))
	}
	t.Logf("stopped %s after SIGTERM", time.Since(began).Round(time.Millisecond))

	// A start on the still-full disk fails at once, saying why.
	out, err := runRdg(t, 30*time.Second, args...)
	if err == nil || !strings.Contains(out, "data directory "+dir+" is full") || !strings.Contains(out, "bytes free") {
		t.Errorf("start on a full disk: %v, want a failure naming the directory and its free bytes:\n%s", err, out)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	up = startProc(t, "up#2", api, args...)
	up.awaitReady(t)
	prod.flush()
	c.awaitJobsThenWriter(t, 180*time.Second, groups, jobs, up)
	// The reference reads the schemas from the registry: before it stops.
	ref = newRefGraph(t, c.reg, exampleJobFiles(t), catalogTable(cfg))
	prod.reference(ref)
	if ref.dead > 0 {
		t.Fatalf("the reference dead-lettered %d generated records", ref.dead)
	}
	jobs.term(t)
	up.term(t)
	nodes, edges := ref.compareStore(t, filepath.Join(dir, "store"))
	t.Logf("%d events; stored graph: %d nodes, %d edges", len(prod.sent), nodes, edges)
}
