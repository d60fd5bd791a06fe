package e2e

// Helpers for tests that run rdg as several real processes: one `rdg up
// --no-writer` for Kafka and the registry, and separate `rdg job run` and
// `rdg writer run` processes that the tests kill and restart. Every process
// has its own log, printed (its tail) when the test fails.

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/logtest"
	"github.com/rdgraph/rdg/internal/store"
)

// proc is one real rdg process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	logs   *logtest.Buffer
	apiURL string
	done   chan struct{}
	err    error // exit status, valid once done is closed
	killed bool  // by the test: exiting is expected
}

// logTail bounds how much of a process's log a failing test prints.
const logTail = 24 << 10

// startProc starts the rdg binary with args; apiAddr is where it serves
// /metrics and /readyz.
func startProc(t *testing.T, name, apiAddr string, args ...string) *proc {
	t.Helper()
	return startCmd(t, name, apiAddr, exec.Command(rdgBinary(t), args...))
}

// startCmd starts cmd, a command that runs rdg (through a shell that sets
// up its environment, say), as startProc starts rdg.
func startCmd(t *testing.T, name, apiAddr string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, logs: &logtest.Buffer{}, apiURL: "http://" + apiAddr, done: make(chan struct{}), cmd: cmd}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			if t.Failed() {
				// A goroutine dump shows where a stuck process was.
				_ = p.cmd.Process.Signal(syscall.SIGQUIT)
				select {
				case <-p.done:
				case <-time.After(5 * time.Second):
				}
			}
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			s := p.logs.String()
			saved := ""
			if dir, err := os.MkdirTemp("", "rdg-e2e-"+p.name+"-"); err == nil {
				f := filepath.Join(dir, "output.log")
				if os.WriteFile(f, []byte(s), 0o644) == nil {
					saved = " (all of it in " + f + ")"
				}
			}
			if len(s) > logTail {
				s = "...\n" + s[len(s)-logTail:]
			}
			line := strings.Join(append([]string{filepath.Base(cmd.Args[0])}, cmd.Args[1:]...), " ")
			t.Logf("==== %s (%s) output%s:\n%s", p.name, line, saved, s)
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// alive fails the test if the process exited without the test asking.
func (p *proc) alive(t *testing.T) {
	t.Helper()
	if !p.killed && p.exited() {
		t.Fatalf("%s exited unexpectedly: %v", p.name, p.err)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and waits for a clean exit.
func (p *proc) term(t *testing.T) {
	t.Helper()
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM", p.name, p.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

func (p *proc) awaitReady(t *testing.T) {
	t.Helper()
	await(t, 60*time.Second, func() (bool, string) {
		p.alive(t)
		resp, err := http.Get(p.apiURL + "/readyz")
		if err != nil {
			return false, p.name + ": " + err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, p.name + ": " + resp.Status
	})
}

// metric is the sum of a counter's or gauge's samples on the process's
// /metrics, 0 if it cannot be read.
func (p *proc) metric(name string) float64 {
	v, err := scrape(p.apiURL, name)
	if err != nil {
		return 0
	}
	return v
}

// cluster is a `rdg up --no-writer` process (the embedded Kafka broker and
// schema registry, no jobs) plus the test's clients of it.
type cluster struct {
	up     *proc
	kafka  string
	regURL string
	reg    *sr.Client
	cl     *kgo.Client // producer, admin
	adm    *kadm.Client
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	kafka, regAddr, api := freePort(t), freePort(t), freePort(t)
	up := startProc(t, "up", api, "up", "--no-writer", "--data-dir", t.TempDir(),
		"--kafka-addr", kafka, "--registry-addr", regAddr, "--api-addr", api, "--partitions", "6")
	up.awaitReady(t)
	return dialCluster(t, up, kafka, "http://"+regAddr)
}

// dialCluster is the test's clients of the broker at kafka and the
// registry at regURL that up serves; opts add to the producer's options.
func dialCluster(t *testing.T, up *proc, kafka, regURL string, opts ...kgo.Opt) *cluster {
	t.Helper()
	c := &cluster{up: up, kafka: kafka, regURL: regURL}
	var err error
	if c.reg, err = sr.NewClient(sr.URLs(regURL)); err != nil {
		t.Fatal(err)
	}
	c.cl, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(kafka), kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MaxBufferedRecords(20_000), kgo.ProducerBatchMaxBytes(1 << 20)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cl.Close)
	c.adm = kadm.NewClient(c.cl)
	return c
}

// startJob runs `rdg job run` on jobsDir (only jobName if not empty).
func (c *cluster) startJob(t *testing.T, name, jobsDir, jobName string) *proc {
	t.Helper()
	api := freePort(t)
	args := []string{"job", "run", "--jobs", jobsDir, "--brokers", c.kafka, "--registry", c.regURL, "--api-addr", api, "--partitions", "6"}
	if jobName != "" {
		args = append(args, "--job", jobName)
	}
	p := startProc(t, name, api, args...)
	p.awaitReady(t)
	return p
}

// startWriter runs `rdg writer run` with its store under dataDir/store.
func (c *cluster) startWriter(t *testing.T, name, dataDir string) *proc {
	t.Helper()
	api := freePort(t)
	p := startProc(t, name, api, "writer", "run", "--brokers", c.kafka, "--registry", c.regURL, "--data-dir", dataDir, "--api-addr", api)
	p.awaitReady(t)
	return p
}

// lag is how many records of topics group has not committed yet, with a
// per-topic summary. A partition the group has never committed counts in
// full, whether or not a member owns it.
func (c *cluster) lag(ctx context.Context, group string, topics []string) (int64, string, error) {
	ends, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, "", err
	}
	if err := ends.Error(); err != nil {
		return 0, "", err
	}
	lags, err := c.adm.Lag(ctx, group)
	if err != nil {
		return 0, "", err
	}
	gl := lags[group]
	if err := gl.Error(); err != nil {
		return 0, "", err
	}
	var total int64
	var parts []string
	for _, topic := range topics {
		var n int64
		for p, end := range ends[topic] {
			if end.Offset <= 0 {
				continue
			}
			l, ok := gl.Lag.Lookup(topic, p)
			switch {
			case !ok:
				n += end.Offset
			case l.Err != nil:
				return 0, "", fmt.Errorf("%s lag of %s/%d: %w", group, topic, p, l.Err)
			default:
				n += l.Lag
			}
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", topic, n))
		}
		total += n
	}
	return total, fmt.Sprintf("%s lag %d %v", group, total, parts), nil
}

// describeGroup says what state group is in and who owns what, for
// failure messages.
func (c *cluster) describeGroup(ctx context.Context, group string) string {
	gs, err := c.adm.DescribeGroups(ctx, group)
	if err != nil {
		return err.Error()
	}
	g := gs[group]
	if g.Err != nil {
		return g.Err.Error()
	}
	var ms []string
	for _, m := range g.Members {
		var ps []string
		if ca, ok := m.Assigned.AsConsumer(); ok {
			for _, at := range ca.Topics {
				ps = append(ps, fmt.Sprintf("%s%v", at.Topic, at.Partitions))
			}
		}
		ms = append(ms, fmt.Sprintf("%s:%s", m.ClientID, strings.Join(ps, ",")))
	}
	return fmt.Sprintf("(%s, members %v)", g.State, ms)
}

// graphTopics lists the rdg.node.* and rdg.edge.* topics.
func (c *cluster) graphTopics(ctx context.Context) ([]string, error) {
	td, err := c.adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range td.Names() {
		if strings.HasPrefix(name, codec.NodeTopicPrefix) || strings.HasPrefix(name, codec.EdgeTopicPrefix) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// totalLag sums the lag of groups (group -> its topics).
func (c *cluster) totalLag(groups map[string][]string) (int64, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var total int64
	var status []string
	for g, topics := range groups {
		n, s, err := c.lag(ctx, g, topics)
		if err != nil {
			return 0, "", err
		}
		total += n
		status = append(status, s)
	}
	sort.Strings(status)
	return total, strings.Join(status, "; "), nil
}

// awaitCaughtUp waits until every group in groups (group -> its topics; nil
// topics: the graph topics) has committed everything, failing fast if one
// of the running processes dies.
func (c *cluster) awaitCaughtUp(t *testing.T, timeout time.Duration, groups map[string][]string, running ...*proc) {
	t.Helper()
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	await(t, timeout, func() (bool, string) {
		for _, p := range running {
			p.alive(t)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var status []string
		done := true
		for _, g := range names {
			topics := groups[g]
			if topics == nil {
				var err error
				if topics, err = c.graphTopics(ctx); err != nil {
					return false, err.Error()
				}
			}
			n, s, err := c.lag(ctx, g, topics)
			if err != nil {
				return false, err.Error()
			}
			if n > 0 {
				s += " " + c.describeGroup(ctx, g)
			}
			status = append(status, s)
			done = done && n == 0
		}
		return done, strings.Join(status, "; ")
	})
}

// awaitJobsThenWriter waits for the job groups to commit everything
// produced, then (their output now complete) for the writer's group to
// commit every graph record.
func (c *cluster) awaitJobsThenWriter(t *testing.T, timeout time.Duration, jobGroups map[string][]string, running ...*proc) {
	t.Helper()
	start := time.Now()
	c.awaitCaughtUp(t, timeout, jobGroups, running...)
	c.awaitCaughtUp(t, max(timeout-time.Since(start), 10*time.Second), map[string][]string{"rdg-store-default": nil}, running...)
}

// staticTable is a side input held in memory: the reference computation's
// stand-in for the catalogue topic the jobs materialise.
type staticTable map[string]map[string]any

func (s staticTable) Lookup(key string) (map[string]any, bool) {
	row, ok := s[key]
	return row, ok
}

// catalogTable is demo.Catalog(cfg) as rows like the ones the jobs read
// from the catalogue topic.
func catalogTable(cfg demo.Config) staticTable {
	tab := staticTable{}
	for _, ti := range demo.Catalog(cfg) {
		tab[ti.TitleID] = map[string]any{"title_id": ti.TitleID, "name": ti.Name, "genre": ti.Genre, "kind": ti.Kind}
	}
	return tab
}

// refGraph is the graph a set of jobs must produce from some records,
// computed directly: each record through its job's Processor once, the
// elements folded with graph's Merge.
type refGraph struct {
	procs map[string]*engine.Processor // by source topic
	nodes map[graph.NodeRef]*graph.Node
	edges map[graph.EdgeRef]*graph.Edge
	batch graph.Batch
	dead  int
}

// newRefGraph loads the job files and gives every side input, which must be
// the demo catalogue topic, the catalogue as a static table.
func newRefGraph(t *testing.T, reg *sr.Client, files []string, catalog staticTable) *refGraph {
	t.Helper()
	r := &refGraph{procs: map[string]*engine.Processor{}, nodes: map[graph.NodeRef]*graph.Node{}, edges: map[graph.EdgeRef]*graph.Edge{}}
	schemas := codec.NewSchemas(reg)
	for _, f := range files {
		j, err := engine.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		p := engine.NewProcessor(j, schemas)
		p.Tables = map[string]engine.Lookup{}
		for _, e := range j.Spec.Enrich {
			if e.Topic != demo.TopicTitles {
				t.Fatalf("%s: side input %s: the reference only knows the catalogue", f, e.Name)
			}
			p.Tables[e.Name] = catalog
		}
		r.procs[j.Spec.Source.Topic] = p
	}
	return r
}

// add runs one source record through its job.
func (r *refGraph) add(topic string, value []byte, ts time.Time) {
	p := r.procs[topic]
	if p == nil {
		return
	}
	r.batch.Reset()
	filtered, err := p.Process(context.Background(), value, ts, &r.batch)
	if err != nil {
		r.dead++
		return
	}
	if filtered {
		return
	}
	for i := range r.batch.Nodes {
		n := r.batch.Nodes[i]
		if cur := r.nodes[n.NodeRef]; cur != nil {
			cur.Merge(&n)
		} else {
			n.Props = graph.MergeProps(nil, n.Props)
			r.nodes[n.NodeRef] = &n
		}
	}
	for i := range r.batch.Edges {
		e := r.batch.Edges[i]
		if cur := r.edges[e.EdgeRef]; cur != nil {
			cur.Merge(&e)
		} else {
			e.Props = graph.MergeProps(nil, e.Props)
			r.edges[e.EdgeRef] = &e
		}
	}
}

// sourceRecord is a produced record, kept for the reference graph.
type sourceRecord struct {
	topic string
	value []byte
	ts    time.Time
}

// compareStore opens the Pebble store in dir (its writer stopped) and
// reports every difference from the reference graph: missing or extra
// elements, first_seen, last_seen and property values (updated_at is
// processing time and is ignored).
func (r *refGraph) compareStore(t *testing.T, dir string) (nodes, edges int) {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var diffs []string
	diff := func(format string, args ...any) {
		if len(diffs) < 20 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	seenN := map[graph.NodeRef]bool{}
	err = st.EachNode(ctx, "", func(n *graph.Node) bool {
		nodes++
		want := r.nodes[n.NodeRef]
		if want == nil {
			diff("extra node %s", n.NodeRef)
			return true
		}
		seenN[n.NodeRef] = true
		if d := elementDiff(want.FirstSeen, want.LastSeen, want.Props, n.FirstSeen, n.LastSeen, n.Props); d != "" {
			diff("node %s: %s", n.NodeRef, d)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	seenE := map[graph.EdgeRef]bool{}
	err = st.EachEdge(ctx, "", func(e *graph.Edge) bool {
		edges++
		want := r.edges[e.EdgeRef]
		if want == nil {
			diff("extra edge %s", e.EdgeRef)
			return true
		}
		seenE[e.EdgeRef] = true
		if d := elementDiff(want.FirstSeen, want.LastSeen, want.Props, e.FirstSeen, e.LastSeen, e.Props); d != "" {
			diff("edge %s: %s", e.EdgeRef, d)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	missN, missE := 0, 0
	for ref := range r.nodes {
		if !seenN[ref] {
			missN++
			diff("missing node %s", ref)
		}
	}
	for ref := range r.edges {
		if !seenE[ref] {
			missE++
			diff("missing edge %s", ref)
		}
	}
	if len(diffs) > 0 {
		t.Errorf("stored graph (%d nodes, %d edges) differs from the reference (%d nodes, %d edges; %d nodes and %d edges missing); first differences:\n  %s",
			nodes, edges, len(r.nodes), len(r.edges), missN, missE, strings.Join(diffs, "\n  "))
	}
	return nodes, edges
}

func elementDiff(wantFirst, wantLast int64, wantProps graph.Props, first, last int64, props graph.Props) string {
	var ds []string
	if first != wantFirst {
		ds = append(ds, fmt.Sprintf("first_seen %d, want %d", first, wantFirst))
	}
	if last != wantLast {
		ds = append(ds, fmt.Sprintf("last_seen %d, want %d", last, wantLast))
	}
	for k, w := range wantProps {
		g, ok := props[k]
		if !ok {
			ds = append(ds, fmt.Sprintf("prop %s missing, want %#v", k, w.Value))
		} else if graph.CompareValues(g.Value, w.Value) != 0 {
			ds = append(ds, fmt.Sprintf("prop %s = %#v (ts %d), want %#v (ts %d)", k, g.Value, g.TS, w.Value, w.TS))
		}
	}
	for k, g := range props {
		if _, ok := wantProps[k]; !ok {
			ds = append(ds, fmt.Sprintf("extra prop %s = %#v", k, g.Value))
		}
	}
	return strings.Join(ds, ", ")
}

// eventProducer produces generated demo events asynchronously and keeps
// them for the reference graph.
type eventProducer struct {
	t    *testing.T
	ap   *avroProducer
	cl   *kgo.Client
	gen  *demo.Generator
	sent []sourceRecord

	mu   sync.Mutex
	err  error
	acks int
}

func newEventProducer(t *testing.T, c *cluster, cfg demo.Config, n int) *eventProducer {
	return &eventProducer{t: t, ap: newAvroProducer(t, c.cl, c.reg), cl: c.cl, gen: demo.New(cfg), sent: make([]sourceRecord, 0, n)}
}

// produce generates and produces n more events (not waiting for acks).
func (p *eventProducer) produce(n int) {
	p.t.Helper()
	schemas := demo.Schemas()
	for range n {
		ev := p.gen.Next()
		v := p.ap.encode(ev.Topic, schemas[ev.Topic], ev.Value)
		p.sent = append(p.sent, sourceRecord{topic: ev.Topic, value: v, ts: ev.Time})
		p.cl.Produce(context.Background(), &kgo.Record{Topic: ev.Topic, Key: ev.Key, Value: v, Timestamp: ev.Time}, p.promise)
	}
}

func (p *eventProducer) promise(_ *kgo.Record, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil && p.err == nil {
		p.err = err
	}
	p.acks++
}

// flush waits until everything produced is acknowledged.
func (p *eventProducer) flush() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		p.t.Fatalf("produce: %v", p.err)
	}
}

// reference runs every produced record through the jobs.
func (p *eventProducer) reference(r *refGraph) {
	for _, s := range p.sent {
		r.add(s.topic, s.value, s.ts)
	}
}

// exampleJobFiles are the Netflix example job files.
func exampleJobFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "netflix", "jobs", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("example jobs: %v (%d files)", err, len(files))
	}
	return files
}

// copyJob writes the job file src into dir, with its source.schema made
// absolute and then edited by edit, and returns the new file's path.
func copyJob(t *testing.T, src, dir string, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	j, err := engine.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if s := j.Spec.Source.Schema; s != "" && !filepath.IsAbs(s) {
		text = strings.Replace(text, "schema: "+s, "schema: "+filepath.Join(filepath.Dir(src), s), 1)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, []byte(edit(text)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Load(dst); err != nil {
		t.Fatalf("copied job: %v", err)
	}
	return dst
}

// runRdg runs the rdg binary with args to its exit and returns its output
// and exit error, failing the test if it is still running after timeout.
func runRdg(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, rdgBinary(t), args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("rdg %s still running after %s:\n%s", strings.Join(args, " "), timeout, out)
	}
	return string(out), err
}

// vmHWM is a process's peak resident set size (VmHWM) in bytes; it skips
// the test where there is no /proc to read it from.
func vmHWM(tb testing.TB, pid int) int64 {
	tb.Helper()
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		tb.Skipf("no /proc to read peak memory from: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				tb.Fatalf("VmHWM line %q: %v", sc.Text(), err)
			}
			return kb << 10
		}
	}
	tb.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
