package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/broker"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/registry"
	"github.com/rdgraph/rdg/internal/store"
)

// env is an embedded broker and registry holding n node records, spread
// over three partitions of rdg.node.account: node i has id "n-<i>".
type env struct {
	seeds []string
	reg   *sr.Client
	el    *codec.Elements
	adm   *kadm.Client // the test's admin client of the broker
	n     int
	// registry serves the schema registry; its stop and start simulate an
	// outage.
	registry *registryServer
}

func newEnv(t *testing.T, n int) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	b, err := broker.Start(broker.Addr("127.0.0.1:0"), broker.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	seeds := []string{b.Addr()}
	rsrv := &registryServer{seeds: seeds}
	rsrv.start(t, "127.0.0.1:0")
	t.Cleanup(rsrv.stop)
	reg, err := sr.NewClient(sr.URLs("http://" + rsrv.addr))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if err := kafka.EnsureTopics(ctx, adm, kafka.Topic{Name: codec.NodeTopic("account"), Partitions: 3, Compact: true}); err != nil {
		t.Fatal(err)
	}
	el, err := codec.RegisterElements(ctx, reg, []string{"account"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{seeds: seeds, reg: reg, el: el, adm: adm, registry: rsrv}
	e.produce(t, n)
	return e
}

// produce adds n node records, ids following the env's last.
func (e *env) produce(t *testing.T, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := e.n; i < e.n+n; i++ {
		r, err := e.el.NodeRecord(&graph.Node{NodeRef: graph.NodeRef{Type: "account", ID: fmt.Sprintf("n-%d", i)},
			Props: graph.Props{"i": {Value: int64(i), TS: 1}}, FirstSeen: 1, LastSeen: 1, UpdatedAt: 1})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.n += n
}

// faulty applies to the store and counts batches, fails the batch number
// failAt (from 1; 0 never) and cancels stop after stopAt batches.
type faulty struct {
	st      *store.Pebble
	batches atomic.Int64
	applied atomic.Int64
	failAt  int64
	stopAt  int64
	stop    context.CancelFunc
	want    int64
	done    chan struct{}
}

var errInjected = errors.New("injected store failure")

func (f *faulty) Apply(ctx context.Context, b *graph.Batch) error {
	k := f.batches.Add(1)
	if k == f.failAt {
		return errInjected
	}
	if err := f.st.Apply(ctx, b); err != nil {
		return err
	}
	n := f.applied.Add(int64(b.Len()))
	if k == f.stopAt {
		f.stop()
	}
	if f.done != nil && n >= f.want && n-int64(b.Len()) < f.want {
		close(f.done)
	}
	return nil
}

// checkCommitted fails unless every record below the group's committed
// offsets is in the store: offsets are committed only after their batch
// is applied. It returns the number of committed records.
func (e *env) checkCommitted(t *testing.T, st *store.Pebble) int64 {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.seeds...), kgo.ConsumeTopics(codec.NodeTopic("account")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, Group("test"))
	if err != nil {
		t.Fatal(err)
	}
	dec := codec.NewElements(e.reg)
	var seen, below int64
	for seen < int64(e.n) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			c, ok := committed.Lookup(r.Topic, r.Partition)
			if !ok || r.Offset >= c.At {
				return
			}
			below++
			n, err := dec.DecodeNode(ctx, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, err := st.Node(ctx, n.NodeRef); err != nil || !ok {
				t.Fatalf("%s/%d@%d (node %s) is below the committed offset %d but not in the store (%v)", r.Topic, r.Partition, r.Offset, n.NodeRef, c.At, err)
			}
		})
	}
	return below
}

func openStore(t *testing.T) *store.Pebble {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Sync(false), store.CacheSize(8<<20), store.MemTableSize(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func (e *env) cfg() Config {
	return Config{Cluster: kafka.Cluster{Seeds: e.seeds}, Registry: e.reg, Store: "test", MaxPollRecords: 50, Logger: slog.New(slog.DiscardHandler)}
}

// The pipelined writer stores a backlog of many batches and commits all
// of it.
func TestWriterStoresBacklog(t *testing.T) {
	e := newEnv(t, 2000)
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	f := &faulty{st: st, want: int64(e.n), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, f, e.cfg()) }()
	select {
	case <-f.done:
	case err := <-errc:
		t.Fatalf("writer stopped early: %v", err)
	case <-time.After(time.Minute):
		t.Fatalf("writer applied %d of %d elements in a minute", f.applied.Load(), e.n)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if f.batches.Load() < 10 {
		t.Fatalf("only %d batches: the backlog did not exercise the pipeline", f.batches.Load())
	}
	if got := e.checkCommitted(t, st); got != int64(e.n) {
		t.Fatalf("%d records committed, want all %d", got, e.n)
	}
	nodes, _, err := st.Counts(context.Background())
	if err != nil || nodes["account"] != int64(e.n) {
		t.Fatalf("store holds %v nodes (%v), want %d", nodes, err, e.n)
	}
}

// A store failure stops the writer with the error, and the failed batch's
// offsets (and any later batch's) are not committed.
func TestWriterStoreFailureCommitsNothingUnapplied(t *testing.T) {
	e := newEnv(t, 2000)
	st := openStore(t)
	f := &faulty{st: st, failAt: 5}
	err := Run(context.Background(), f, e.cfg())
	if !errors.Is(err, errInjected) {
		t.Fatalf("Run = %v, want the store's error", err)
	}
	if got := e.checkCommitted(t, st); got == 0 || got >= int64(e.n) {
		t.Fatalf("%d records committed after 4 good batches of at most 50", got)
	}
	// A restarted writer resumes from the commits and completes the store.
	f2 := &faulty{st: st, want: int64(e.n) - f.applied.Load(), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, f2, e.cfg()) }()
	select {
	case <-f2.done:
	case err := <-errc:
		t.Fatalf("restarted writer stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("restarted writer did not finish in a minute")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	nodes, _, err := st.Counts(context.Background())
	if err != nil || nodes["account"] != int64(e.n) {
		t.Fatalf("store holds %v nodes (%v), want %d", nodes, err, e.n)
	}
}

// Stopping mid-backlog finishes the batch in flight and commits only what
// was applied.
func TestWriterStopCommitsOnlyApplied(t *testing.T) {
	e := newEnv(t, 2000)
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &faulty{st: st, stopAt: 6, stop: cancel}
	if err := Run(ctx, f, e.cfg()); err != nil {
		t.Fatal(err)
	}
	got := e.checkCommitted(t, st)
	if got == 0 || got > f.applied.Load() {
		t.Fatalf("%d records committed, %d applied", got, f.applied.Load())
	}
}

// committed is the group's committed offset per partition of
// rdg.node.account (absent: none).
func (e *env) committed(t *testing.T) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	offs, err := e.adm.FetchOffsets(context.Background(), Group("test"))
	if errors.Is(err, kerr.GroupIDNotFound) {
		return out // nothing committed yet
	}
	if err != nil {
		t.Fatal(err)
	}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

// committedCount is how many of the env's records lie below the group's
// committed offsets.
func (e *env) committedCount(t *testing.T) int64 {
	t.Helper()
	var n int64
	for _, at := range e.committed(t) {
		n += at
	}
	return n
}

// ends is the end offset per partition of rdg.node.account.
func (e *env) ends(t *testing.T) map[int32]int64 {
	t.Helper()
	ends, err := e.adm.ListEndOffsets(context.Background(), codec.NodeTopic("account"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// awaitCommitted waits until all the env's records are committed, failing
// after a minute, or as soon as the writer whose errors errc carries stops.
func (e *env) awaitCommitted(t *testing.T, errc <-chan error) {
	t.Helper()
	await(t, errc, func() (bool, string) {
		n := e.committedCount(t)
		return n == int64(e.n), fmt.Sprintf("%d of %d records committed", n, e.n)
	})
}

// await polls cond every 10ms until it holds, failing after a minute with
// cond's last status, or as soon as errc (if not nil) carries a writer's
// error.
func await(t *testing.T, errc <-chan error, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, status := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", status)
		}
		select {
		case err := <-errc:
			t.Fatalf("writer stopped: %v (%s)", err, status)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// runWriter runs a writer until the test ends and returns its error channel.
func runWriter(t *testing.T, f *faulty, cfg Config) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	errc, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		errc <- Run(ctx, f, cfg)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return errc
}

// Offsets of applied batches wait for the commit interval, however many
// batches are applied meanwhile, and a stop commits them.
func TestWriterCommitsAtMostEveryInterval(t *testing.T) {
	e := newEnv(t, 2000)
	st := openStore(t)
	f := &faulty{st: st, want: int64(e.n), done: make(chan struct{})}
	cfg := e.cfg()
	cfg.CommitInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, f, cfg) }()
	select {
	case <-f.done:
	case err := <-errc:
		t.Fatalf("writer stopped early: %v", err)
	}
	if got := e.committedCount(t); got != 0 {
		t.Fatalf("%d records committed within the first hour", got)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := e.checkCommitted(t, st); got != int64(e.n) {
		t.Fatalf("%d records committed after the stop, want all %d", got, e.n)
	}
}

// A writer with nothing left to read commits what it owes once the interval
// has passed, without stopping.
func TestWriterCommitsWhenIdle(t *testing.T) {
	e := newEnv(t, 2000)
	st := openStore(t)
	cfg := e.cfg()
	cfg.CommitInterval = 50 * time.Millisecond
	errc := runWriter(t, &faulty{st: st}, cfg)
	e.awaitCommitted(t, errc)
	e.checkCommitted(t, st)
}

// A rebalance commits everything applied before partitions move, however
// long the interval: a second writer joining the group makes the first
// commit, and takes its partitions from there.
func TestWriterCommitsBeforeRebalance(t *testing.T) {
	e := newEnv(t, 2000)
	st := openStore(t)
	cfg := e.cfg()
	cfg.CommitInterval = time.Hour
	first := &faulty{st: st, want: int64(e.n), done: make(chan struct{})}
	errc := runWriter(t, first, cfg)
	select {
	case <-first.done:
	case err := <-errc:
		t.Fatalf("writer stopped early: %v", err)
	}
	second := &faulty{st: st}
	errc2 := runWriter(t, second, cfg)
	e.awaitCommitted(t, errc)
	select {
	case err := <-errc2:
		t.Fatalf("second writer stopped: %v", err)
	default:
	}
	e.checkCommitted(t, st)
	// New records on every partition: once both writers have applied
	// them, the second has read its partitions from where it began, so
	// had it begun before the first writer's commit, it would have applied
	// old records again (in offset order, before the new ones).
	const more = 300
	e.produce(t, more)
	await(t, nil, func() (bool, string) {
		a, b := first.applied.Load(), second.applied.Load()
		return a+b >= int64(e.n), fmt.Sprintf("%d + %d records applied, want %d", a, b, e.n)
	})
	if got := first.applied.Load() + second.applied.Load(); got != int64(e.n) || second.applied.Load() == 0 {
		t.Fatalf("the writers applied %d + %d records of %d: the second re-read what the first had applied, or read nothing",
			first.applied.Load(), second.applied.Load(), e.n)
	}
}

// registryServer is rdg's schema registry served over HTTP on a fixed
// address, so that it can be stopped (an outage: connections refused) and
// started again, reading its schemas back from Kafka as a restarted
// registry does.
type registryServer struct {
	seeds []string
	addr  string
	rs    *registry.Server
	hs    *http.Server
}

func (r *registryServer) start(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := registry.New(ctx, registry.Seeds(r.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for deadline := time.Now().Add(10 * time.Second); ; {
		// The port of a registry just stopped may take a moment to free.
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	if err != nil {
		rs.Close()
		t.Fatal(err)
	}
	r.addr, r.rs, r.hs = ln.Addr().String(), rs, &http.Server{Handler: rs}
	go func() { _ = r.hs.Serve(ln) }()
}

func (r *registryServer) stop() {
	if r.hs != nil {
		_ = r.hs.Close()
		r.rs.Close()
		r.hs, r.rs = nil, nil
	}
}
