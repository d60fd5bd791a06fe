package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/store"
	"github.com/rdgraph/rdg/internal/writer"
)

// phase is what a child reports about its timed part, measured from inside
// the child: CPU time and the peak RSS so far, before any untimed work
// (compaction, verification) that follows.
type phase struct {
	Elements int64   `json:"elements"`
	Seconds  float64 `json:"seconds"`
	CPUSecs  float64 `json:"cpu_seconds"`
	PeakRSS  int64   `json:"peak_rss_bytes"`
}

func (p phase) rate() float64 { return float64(p.Elements) / p.Seconds }

// timed runs fn as the child's timed phase, with a CPU profile in
// profile if it is not empty.
func timed(profile string, fn func() (int64, error)) (phase, error) {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return phase{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return phase{}, err
		}
		defer pprof.StopCPUProfile()
	}
	u0 := report.SelfUsage()
	start := time.Now()
	n, err := fn()
	wall := time.Since(start)
	u1 := report.SelfUsage()
	return phase{Elements: n, Seconds: wall.Seconds(), CPUSecs: (u1.CPU() - u0.CPU()).Seconds(), PeakRSS: u1.PeakRSS}, err
}

func warnLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// progress prints n's growth to stderr every few seconds until stop is
// closed.
func progress(what string, n *atomic.Int64, total int64, stop <-chan struct{}) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			v := n.Load()
			fmt.Fprintf(os.Stderr, "  %s: %d of %d (%.0f%%), %.0f/s\n", what, v, total, 100*float64(v)/float64(total), float64(v)/time.Since(start).Seconds())
		}
	}
}

// Produce: the records, encoded exactly as a job's publisher encodes them,
// onto the graph topics.

type produceIn struct {
	Gen        genConfig   `json:"gen"`
	Addrs      brokerAddrs `json:"addrs"`
	Partitions int32       `json:"partitions"`
	Profile    string      `json:"profile"`
}

type produceOut struct {
	phase
	Nodes int64 `json:"nodes"`
	Edges int64 `json:"edges"`
	Bytes int64 `json:"bytes"` // keys and values
}

func runProduce(in produceIn) (any, error) {
	ctx := context.Background()
	g, err := newGen(in.Gen)
	if err != nil {
		return nil, err
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(in.Addrs.Kafka))
	if err != nil {
		return nil, err
	}
	// The topics as a job's Prepare creates them: compacted, keyed by
	// element identity.
	var topics []kafka.Topic
	for _, t := range nodeTypeNames() {
		topics = append(topics, kafka.Topic{Name: codec.NodeTopic(t), Partitions: in.Partitions, Compact: true})
	}
	for _, t := range edgeTypeNames() {
		topics = append(topics, kafka.Topic{Name: codec.EdgeTopic(t), Partitions: in.Partitions, Compact: true})
	}
	err = kafka.EnsureTopics(ctx, kadm.NewClient(adm), topics...)
	adm.Close()
	if err != nil {
		return nil, err
	}
	reg, err := sr.NewClient(sr.URLs(in.Addrs.Registry))
	if err != nil {
		return nil, err
	}
	elems, err := codec.RegisterElements(ctx, reg, nodeTypeNames(), edgeTypeNames())
	if err != nil {
		return nil, err
	}
	// A job's producer settings (job tuning defaults: linger 5ms, at most
	// 20,000 records in flight).
	cl, err := kgo.NewClient(kgo.SeedBrokers(in.Addrs.Kafka), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(20_000),
		kgo.WithLogger(kafka.KgoLogger(warnLogger())))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out produceOut
	var failed atomic.Pointer[error]
	var sent atomic.Int64
	stop := make(chan struct{})
	go progress("produced", &sent, g.Records(), stop)
	defer close(stop)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	out.phase, err = timed(in.Profile, func() (int64, error) {
		var n graph.Node
		var e graph.Edge
		for {
			isNode, ok := g.next(&n, &e)
			if !ok {
				break
			}
			var r *kgo.Record
			var err error
			if isNode {
				r, err = elems.NodeRecord(&n)
				out.Nodes++
			} else {
				r, err = elems.EdgeRecord(&e)
				out.Edges++
			}
			if err != nil {
				return 0, err
			}
			out.Bytes += int64(len(r.Key) + len(r.Value))
			cl.Produce(ctx, r, promise)
			sent.Add(1)
		}
		if err := cl.Flush(ctx); err != nil {
			return 0, err
		}
		if p := failed.Load(); p != nil {
			return 0, fmt.Errorf("produce: %w", *p)
		}
		return out.Nodes + out.Edges, nil
	})
	return out, err
}

// Writer: the graph writer, as `rdg up` runs it, into a Pebble store with
// `rdg up`'s options.

type writerIn struct {
	Addrs    brokerAddrs `json:"addrs"`
	Dir      string      `json:"dir"`
	Records  int64       `json:"records"`
	Nodes    int64       `json:"nodes"` // distinct, to verify the store
	Edges    int64       `json:"edges"`
	Batch    int         `json:"batch"`
	Fetch    int32       `json:"fetch_max_bytes"`
	Profile  string      `json:"profile"`
	MemProf  string      `json:"memprofile"`
	SkipSize bool        `json:"skip_size"`
}

type writerOut struct {
	phase
	FirstApplySecs float64          `json:"first_apply_seconds"` // start to the first applied batch: group join, first fetch
	Store          store.WriteStats `json:"store"`               // at the end of the timed part
	Batches        int64            `json:"batches"`
	CompactSecs    float64          `json:"compact_seconds"`
	DirBytes       int64            `json:"dir_bytes"`  // after flush and full compaction
	Files          map[string]int64 `json:"file_bytes"` // of DirBytes, by kind: tables, wal, other
	Usage          store.DiskUsage  `json:"disk_usage"`
	Stored         map[string]int64 `json:"stored"` // elements per type, read back
}

// counting passes batches to the store and closes done once it has
// applied want elements.
type counting struct {
	w       graph.Writer
	n       atomic.Int64
	batches atomic.Int64
	first   atomic.Int64 // unix nanoseconds of the first applied batch
	want    int64
	done    chan struct{}
}

func (c *counting) Apply(ctx context.Context, b *graph.Batch) error {
	if err := c.w.Apply(ctx, b); err != nil {
		return err
	}
	c.first.CompareAndSwap(0, time.Now().UnixNano())
	c.batches.Add(1)
	if n := c.n.Add(int64(b.Len())); n >= c.want && n-int64(b.Len()) < c.want {
		close(c.done)
	}
	return nil
}

func runWriter(in writerIn) (any, error) {
	log := warnLogger()
	st, err := store.Open(in.Dir, store.Logger(log))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := st.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			log.Error("closing the store", "err", err)
		}
	}()
	reg, err := sr.NewClient(sr.URLs(in.Addrs.Registry))
	if err != nil {
		return nil, err
	}
	c := &counting{w: st, want: in.Records, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	go progress("written", &c.n, in.Records, stop)
	var out writerOut
	var start time.Time
	errc := make(chan error, 1)
	out.phase, err = timed(in.Profile, func() (int64, error) {
		start = time.Now()
		go func() {
			errc <- writer.Run(ctx, c, writer.Config{Cluster: kafka.Cluster{Seeds: []string{in.Addrs.Kafka}}, Registry: reg, Store: "bench",
				Logger: log, MaxPollRecords: in.Batch, FetchMaxBytes: in.Fetch})
		}()
		select {
		case <-c.done:
			return c.n.Load(), nil
		case err := <-errc:
			if err == nil {
				err = errors.New("writer stopped before storing every record")
			}
			return 0, err
		}
	})
	close(stop)
	if err != nil {
		return nil, err
	}
	out.Store = st.WriteStats()
	out.FirstApplySecs = time.Unix(0, c.first.Load()).Sub(start).Seconds()
	out.Batches = c.batches.Load()
	// The writer commits the batch it applied last before it returns.
	cancel()
	if err := <-errc; err != nil {
		return nil, err
	}
	if err := checkCommitted(in.Addrs.Kafka, writer.Group("bench")); err != nil {
		return nil, err
	}
	if in.MemProf != "" {
		if err := writeHeapProfile(in.MemProf); err != nil {
			return nil, err
		}
	}
	bg := context.Background()
	t0 := time.Now()
	if err := st.Compact(bg); err != nil {
		return nil, err
	}
	out.CompactSecs = time.Since(t0).Seconds()
	if out.Usage, err = st.DiskUsage(); err != nil {
		return nil, err
	}
	nodes, edges, err := st.Counts(bg)
	if err != nil {
		return nil, err
	}
	// Pebble deletes obsolete files in the background: only a closed
	// store's directory holds still.
	if err := st.Close(); err != nil {
		return nil, err
	}
	if out.DirBytes, err = report.DirSize(in.Dir); err != nil {
		return nil, err
	}
	if out.Files, err = filesByKind(in.Dir); err != nil {
		return nil, err
	}
	out.Stored = map[string]int64{}
	var sn, se int64
	for t, n := range nodes {
		out.Stored[t], sn = n, sn+n
	}
	for t, n := range edges {
		out.Stored[t], se = n, se+n
	}
	if sn != in.Nodes || se != in.Edges {
		return nil, fmt.Errorf("store holds %d nodes and %d edges, want %d and %d", sn, se, in.Nodes, in.Edges)
	}
	return out, nil
}

// filesByKind splits a closed Pebble directory's size into tables
// (.sst), write-ahead log (.log, including the files Pebble keeps to
// recycle) and the rest (manifest, options).
func filesByKind(dir string) (map[string]int64, error) {
	out := map[string]int64{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		kind := "other"
		switch filepath.Ext(e.Name()) {
		case ".sst":
			kind = "tables"
		case ".log":
			kind = "wal"
		}
		out[kind] += info.Size()
	}
	return out, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// checkCommitted fails unless group has committed every partition of the
// graph topics to its end.
func checkCommitted(kafka, group string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	var topics []string
	for _, t := range nodeTypeNames() {
		topics = append(topics, codec.NodeTopic(t))
	}
	for _, t := range edgeTypeNames() {
		topics = append(topics, codec.EdgeTopic(t))
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return err
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return err
	}
	var bad error
	ends.Each(func(o kadm.ListedOffset) {
		if c, ok := committed.Lookup(o.Topic, o.Partition); (!ok || c.At != o.Offset) && bad == nil {
			bad = fmt.Errorf("group %s: %s/%d committed at %d, end %d", group, o.Topic, o.Partition, c.At, o.Offset)
		}
	})
	return bad
}

// Apply ceiling: store.Apply of the same elements, already decoded, in
// batches of the writer's size: no broker, no decode.

type applyIn struct {
	Gen     genConfig `json:"gen"`
	Dir     string    `json:"dir"`
	Batch   int       `json:"batch"`
	Profile string    `json:"profile"`
}

type applyOut struct {
	phase
	GenSecs float64          `json:"generate_seconds"` // spent generating the batches, alongside Apply
	Store   store.WriteStats `json:"store"`
}

func runApply(in applyIn) (any, error) {
	g, err := newGen(in.Gen)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(in.Dir, store.Logger(warnLogger()))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ctx := context.Background()
	var out applyOut
	var done atomic.Int64
	stop := make(chan struct{})
	go progress("applied", &done, g.Records(), stop)
	defer close(stop)
	// Batches are generated on a goroutine of their own, ahead of Apply,
	// as the writer decodes its next batch while the store applies one:
	// Apply never waits for its input. Their elements are reused (Apply
	// keeps nothing of them), which keeps generating cheap next to what is
	// measured.
	free, ready := make(chan *graph.Batch, 3), make(chan *graph.Batch, 2)
	for range 3 {
		free <- &graph.Batch{Nodes: make([]graph.Node, 0, in.Batch), Edges: make([]graph.Edge, 0, in.Batch)}
	}
	var genTime time.Duration
	genDone := make(chan struct{})
	go func() {
		defer close(genDone)
		defer close(ready)
		for b := range free {
			t0 := time.Now()
			nodes, edges := b.Nodes[:cap(b.Nodes)], b.Edges[:cap(b.Edges)]
			b.Reset()
			for b.Len() < in.Batch {
				isNode, ok := g.next(&nodes[len(b.Nodes)], &edges[len(b.Edges)])
				if !ok {
					break
				}
				if isNode {
					b.Nodes = b.Nodes[:len(b.Nodes)+1]
				} else {
					b.Edges = b.Edges[:len(b.Edges)+1]
				}
			}
			genTime += time.Since(t0)
			if b.Len() == 0 {
				return
			}
			ready <- b
		}
	}()
	out.phase, err = timed(in.Profile, func() (int64, error) {
		var total int64
		for b := range ready {
			if err := st.Apply(ctx, b); err != nil {
				return total, err
			}
			total += int64(b.Len())
			done.Store(total)
			free <- b
		}
		return total, nil
	})
	close(free)
	for range ready {
	}
	<-genDone
	out.GenSecs = genTime.Seconds()
	out.Store = st.WriteStats()
	return out, err
}

// Consume ceiling: plain franz-go reading the same records from the same
// broker, with no decoding and no store.

type consumeIn struct {
	Addrs   brokerAddrs `json:"addrs"`
	Records int64       `json:"records"`
	Batch   int         `json:"batch"`
}

type consumeOut struct {
	phase
	Bytes int64 `json:"bytes"`
}

func runConsume(in consumeIn) (any, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(in.Addrs.Kafka), kgo.ConsumeRegex(), kgo.ConsumeTopics(codec.GraphTopicRegex),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithLogger(kafka.KgoLogger(warnLogger())))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx := context.Background()
	var out consumeOut
	var n atomic.Int64
	stop := make(chan struct{})
	go progress("consumed", &n, in.Records, stop)
	defer close(stop)
	out.phase, err = timed("", func() (int64, error) {
		for n.Load() < in.Records {
			fs := cl.PollRecords(ctx, in.Batch)
			if err := fs.Err0(); err != nil {
				return n.Load(), err
			}
			fs.EachRecord(func(r *kgo.Record) { out.Bytes += int64(len(r.Key) + len(r.Value)) })
			n.Add(int64(fs.NumRecords()))
		}
		return n.Load(), nil
	})
	return out, err
}

func profilePath(dir, run string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, run+".pprof")
}
