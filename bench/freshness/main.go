// Command freshness measures how soon an event's edge can be read through
// the query API after the event was produced, at fixed offered rates, with
// the playback job's dedupe window at 0 and at 1s.
//
// Each run (rate x window; by default 10,000 and 50,000 events/s, windows 0
// and 1s: four runs) is a child process of its own holding the whole stack
// as `rdg up` runs it (package stack: the embedded broker with its log on
// disk, the registry, the demo playback job, the graph writer, Pebble and
// the query API on loopback) plus a paced producer of demo playback events
// (demo.Run, as `rdg up --demo` produces them: its pacer releases events
// against a schedule fixed at start). Every (rate / -probe-rate)-th event is
// turned into a probe before it is produced: a fresh member id and device
// id, so that its `uses` edge (account -> device) is new to the graph. A
// prober polls the API every -poll with one Traverse call (Connect
// protocol, binary protobuf, over HTTP on loopback, as any client would)
// from the outstanding probe accounts, one hop out over `uses` (probes
// younger than the dedupe window less 50ms only every 20th poll: their
// edges cannot be visible yet, and asking costs the server lookups). A
// probe's latency is from just before its event was handed to the
// producer until the response of the first poll that returned its edge.
// The resolution is therefore the poll cycle (poll interval plus the
// call's duration), which the table reports.
//
// The run waits until a first probe is visible (the stack is up: side input
// loaded, job and writer in their groups), then produces at the offered
// rate for -warmup plus -duration; probes of the warm-up are not counted.
// It reports whether the offered rate was achieved (events acknowledged by
// the broker per second over the measured period), the backlog of the job
// (source records produced but not yet read) and of the writer (graph
// records published but not yet merged into Pebble), sampled every 250ms,
// and, with -cpuprofile, a CPU profile of the whole process in which every
// part carries the pprof label rdg=<part> (broker, registry, job:playback,
// writer, store, api; producer and probe for this program's own), so that
//
//	go tool pprof -tagroot=rdg -top -cum bench/out/prof/freshness-50000-0s.pprof
//
// says where the time went. Target: p99 <= window + 250ms at 50,000 events/s.
//
//	go run ./bench/freshness
//	go run ./bench/freshness -rates 50000 -windows 0 -duration 30s -cpuprofile bench/out/prof
//	go run ./bench/freshness -kafka-sync      # the broker fsyncs each batch
//
// The table goes to stdout, progress to stderr, JSON to bench/out/freshness.json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/bench/internal/rig"
	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/api/wire"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/jobrun"
	"github.com/rdgraph/rdg/internal/stack"
	"github.com/rdgraph/rdg/internal/store"
)

type config struct {
	Rates     []float64       `json:"rates"`
	Windows   []time.Duration `json:"windows_ns"`
	Duration  time.Duration   `json:"duration_ns"`
	Warmup    time.Duration   `json:"warmup_ns"`
	Drain     time.Duration   `json:"drain_ns"`
	ProbeRate float64         `json:"probe_rate"`
	Poll      time.Duration   `json:"poll_ns"`
	Members   int             `json:"members"`
	Seed      int64           `json:"seed"`
	Parts     int32           `json:"partitions"`
	JSON      string          `json:"-"`
	Profile   string          `json:"-"`
	Trace     time.Duration   `json:"trace_ns,omitempty"`
	MemTable  int             `json:"memtable_mib,omitempty"`
	Conc      int             `json:"job_concurrency,omitempty"`
	// KafkaSync: the broker fsyncs each produced batch before it
	// acknowledges it (rdg up --kafka-sync).
	KafkaSync bool `json:"kafka_sync"`
}

// runIn is one run, handed to its child process.
type runIn struct {
	Cfg        config        `json:"config"`
	Rate       float64       `json:"rate"`
	Window     time.Duration `json:"window_ns"`
	CPUProfile string        `json:"cpu_profile,omitempty"`
	Trace      string        `json:"trace,omitempty"`
}

// runOut is what a run measured.
type runOut struct {
	Rate   float64      `json:"offered_rate"`
	Window rig.Duration `json:"window"`
	// Latency is production to visibility of the counted probes; Missed
	// probes were not visible by the end of the drain and are in Latency
	// with the time they had waited (a lower bound).
	Latency report.Latency `json:"latency"`
	Probes  int            `json:"probes_counted"`
	Missed  int            `json:"probes_missed"`
	// ToJob and AfterJob split the latency of the visible counted probes
	// at the job's ingest time, which the edge carries as updated_at
	// (millisecond resolution): producer, broker and the job's consumer
	// before it; the window, publishing, the writer, the store and the
	// poll after it.
	ToJob    report.Latency `json:"to_job"`
	AfterJob report.Latency `json:"after_job"`
	// Achieved is events acknowledged per second over the measured period;
	// MinSecond the lowest one-second rate within it.
	Achieved  float64 `json:"achieved_rate"`
	MinSecond float64 `json:"min_1s_rate"`
	Produced  int64   `json:"events_produced"`
	// Backlogs, sampled every 250ms over the measured period: source
	// records not yet read by the job, graph records not yet merged by the
	// writer. End is the last sample before production stopped.
	JobBacklogMax    int64 `json:"job_backlog_max"`
	JobBacklogEnd    int64 `json:"job_backlog_end"`
	WriterBacklogMax int64 `json:"writer_backlog_max"`
	WriterBacklogEnd int64 `json:"writer_backlog_end"`
	// JobLagMax is the largest committed-offset lag of the job's group
	// (kadm.Lag, every second): it includes up to a commit interval.
	JobLagMax int64 `json:"job_committed_lag_max"`
	// PollRTT is the duration of the prober's Traverse calls, PollCycle the
	// time between the starts of consecutive polls: the resolution.
	PollRTT   report.Latency `json:"poll_rtt"`
	PollCycle report.Latency `json:"poll_cycle"`
	Counts    rig.JobCounts  `json:"job"`
	Written   int64          `json:"writer_elements_written"`
	Ready     time.Duration  `json:"ready_ns"`
	// WriteStalls counts the store's write stalls (Pebble stopping writes
	// until a flush or compaction catches up), by reason.
	WriteStalls map[string]int64 `json:"write_stalls,omitempty"`
}

type result struct {
	Env    report.Env `json:"env"`
	Config config     `json:"config"`
	Runs   []measured `json:"runs"`
}

// measured is a run as the parent saw it.
type measured struct {
	runOut
	Usage report.Usage `json:"process"`
	Load  float64      `json:"load_avg"`
	// CPU is the run's CPU profile summed by part (rig.CPUByPart).
	CPU map[string]time.Duration `json:"cpu_by_part_ns,omitempty"`
}

func main() {
	var c config
	var rates, windows string
	flag.StringVar(&rates, "rates", "10000,50000", "comma-separated offered rates, events/s")
	flag.StringVar(&windows, "windows", "0,1s", "comma-separated dedupe windows")
	flag.DurationVar(&c.Duration, "duration", 20*time.Second, "measured production time per run")
	flag.IntVar(&c.Conc, "concurrency", 0, "consumers of the playback job (0: the job file's tuning)")
	flag.DurationVar(&c.Warmup, "warmup", 5*time.Second, "production before the measured period (its probes are not counted)")
	flag.DurationVar(&c.Drain, "drain", 20*time.Second, "after production, how long to wait for outstanding probes")
	flag.Float64Var(&c.ProbeRate, "probe-rate", 20, "probe events per second (taken out of the offered rate)")
	flag.DurationVar(&c.Poll, "poll", 5*time.Millisecond, "interval between the prober's API calls")
	flag.IntVar(&c.Members, "members", 50_000, "members of the simulated world")
	flag.Int64Var(&c.Seed, "seed", 1, "seed of the simulated world")
	parts := flag.Int("partitions", 6, "partitions of the source and graph topics")
	flag.StringVar(&c.JSON, "json", "bench/out/freshness.json", "write the results here as JSON (empty: don't)")
	flag.StringVar(&c.Profile, "cpuprofile", "bench/out/prof", "write a CPU profile of every run's paced production and drain (freshness-<rate>-<window>.pprof) into this directory, and print its CPU by part (empty: don't)")
	flag.DurationVar(&c.Trace, "trace", 0, "with -cpuprofile, also record an execution trace of this long from the start of the measured period (freshness-<rate>-<window>.trace)")
	flag.IntVar(&c.MemTable, "memtable-mib", 0, "Pebble memtable size in MiB (0: the store's default)")
	flag.BoolVar(&c.KafkaSync, "kafka-sync", false, "the broker fsyncs each produced batch before acknowledging it, as rdg up --kafka-sync")
	flag.Parse()
	c.Parts = int32(*parts)
	for _, s := range strings.Split(rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || r <= 0 {
			log.Fatalf("-rates: %q is not a positive rate", s)
		}
		c.Rates = append(c.Rates, r)
	}
	for _, s := range strings.Split(windows, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 0 {
			log.Fatalf("-windows: %q is not a duration >= 0", s)
		}
		c.Windows = append(c.Windows, d)
	}
	lg := rig.Logger()
	if name, ok := report.ChildRun(); ok {
		if name != "run" {
			log.Fatalf("unknown run %q", name)
		}
		var in runIn
		report.ServeChild(&in, func() (any, error) { return runOne(in, lg) })
	}
	res := result{Env: report.Environment(), Config: c}
	for _, w := range c.Windows {
		for _, r := range c.Rates {
			in := runIn{Cfg: c, Rate: r, Window: w}
			if c.Profile != "" {
				in.CPUProfile = filepath.Join(c.Profile, fmt.Sprintf("freshness-%.0f-%s.pprof", r, w))
				if c.Trace > 0 {
					in.Trace = filepath.Join(c.Profile, fmt.Sprintf("freshness-%.0f-%s.trace", r, w))
				}
			}
			fmt.Fprintf(os.Stderr, "rate %.0f/s, window %s\n", r, w)
			var out measured
			u, err := report.RunChild(context.Background(), "run", in, &out.runOut)
			if err != nil {
				log.Fatal(err)
			}
			out.Usage, out.Load = u, rig.LoadAvg()
			if in.CPUProfile != "" {
				if out.CPU, err = rig.CPUByPart(in.CPUProfile); err != nil {
					log.Fatal(err)
				}
			}
			res.Runs = append(res.Runs, out)
		}
	}
	printTable(res)
	if err := report.WriteJSON(c.JSON, res); err != nil {
		log.Fatal(err)
	}
}

func runOne(in runIn, lg *slog.Logger) (runOut, error) {
	c := in.Cfg
	out := runOut{Rate: in.Rate, Window: rig.Duration(in.Window)}
	stallLog := &stallCounter{Handler: lg.Handler(), stalls: &stalls{n: map[string]int64{}}}
	lg = slog.New(stallLog)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "rdg-bench-freshness")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	j, err := rig.PlaybackJob(filepath.Join(dir, "example"), "playback", in.Window, in.Cfg.Conc)
	if err != nil {
		return out, err
	}
	world := demo.Config{Seed: c.Seed, Members: c.Members, Topics: []string{demo.TopicPlayback}}
	start := time.Now()
	st, err := stack.Start(ctx, stack.Config{
		DataDir:         filepath.Join(dir, "data"),
		KafkaAddr:       "127.0.0.1:0",
		RegistryAddr:    "127.0.0.1:0",
		APIAddr:         "127.0.0.1:0",
		Jobs:            []*engine.Job{j},
		GraphPartitions: c.Parts,
		Logger:          lg,
		StoreOptions:    storeOpts(c),
		KafkaSync:       c.KafkaSync,
		BeforeJobs:      rig.PublishCatalog(world, c.Parts),
	})
	if err != nil {
		return out, err
	}
	defer st.Close()

	var pcl *kgo.Client
	rig.Labelled(ctx, "producer", func(context.Context) {
		pcl, err = kgo.NewClient(kgo.SeedBrokers(st.Seeds()...), kgo.ProducerLinger(5*time.Millisecond))
	})
	if err != nil {
		return out, err
	}
	defer pcl.Close()
	acl, err := kgo.NewClient(kgo.SeedBrokers(st.Seeds()...))
	if err != nil {
		return out, err
	}
	defer acl.Close()
	adm := kadm.NewClient(acl)

	p := &prober{api: rdgv1connect.NewGraphServiceClient(&http.Client{}, st.APIURL(), connect.WithCodec(wire.Codec())), out: map[string]probe{}, seen: make(chan struct{}, 1),
		young: max(in.Window-50*time.Millisecond, 0)}
	pctx, stopProber := context.WithCancel(ctx)
	defer stopProber()
	proberDone := make(chan error, 1)
	rig.Labelled(pctx, "probe", func(ctx context.Context) {
		go func() { proberDone <- p.run(ctx, c.Poll) }()
	})

	// Ready: one probe through the whole pipeline.
	ready := world
	ready.Count, ready.Rate = 1, -1
	ready.Tap = func(ev *demo.Event) { p.make(ev, false) }
	if _, err := demo.Run(ctx, pcl, st.Registry(), ready, nil); err != nil {
		return out, err
	}
	if err := p.waitEmpty(ctx, 2*time.Minute); err != nil {
		return out, fmt.Errorf("stack not ready: %w", err)
	}
	out.Ready = time.Since(start)
	fmt.Fprintf(os.Stderr, "  ready in %s; producing %.0f events/s for %s + %s\n", out.Ready.Round(time.Millisecond), in.Rate, c.Warmup, c.Duration)

	stopProf, err := rig.CPUProfile(in.CPUProfile)
	if err != nil {
		return out, err
	}
	every := max(int64(math.Round(in.Rate/c.ProbeRate)), 1)
	var n int64
	paced := world
	paced.Rate, paced.Duration = in.Rate, c.Warmup+c.Duration
	runStart := time.Now()
	measureFrom := runStart.Add(c.Warmup)
	paced.Tap = func(ev *demo.Event) {
		n++
		if n%every == 0 {
			p.make(ev, !time.Now().Before(measureFrom))
		}
	}
	mon := &monitor{adm: adm, prom: st, job: j, from: measureFrom}
	monCtx, stopMon := context.WithCancel(ctx)
	monDone := make(chan struct{})
	rig.Labelled(monCtx, "probe", func(ctx context.Context) {
		go func() { mon.run(ctx); close(monDone) }()
	})
	if in.Trace != "" {
		// The trace covers c.Trace of the measured period, not the
		// warm-up.
		traced := time.AfterFunc(c.Warmup, func() {
			stop, err := rig.Trace(in.Trace)
			if err != nil {
				fmt.Fprintln(os.Stderr, "  trace:", err)
				return
			}
			time.AfterFunc(c.Trace, func() {
				if err := stop(); err != nil {
					fmt.Fprintln(os.Stderr, "  trace:", err)
				}
			})
		})
		defer traced.Stop()
	}
	var seconds []demo.Stats
	var stats demo.Stats
	rig.Labelled(ctx, "producer", func(ctx context.Context) {
		stats, err = demo.Run(ctx, pcl, st.Registry(), paced, func(s demo.Stats) { seconds = append(seconds, s) })
	})
	prodEnd := time.Now()
	stopMon()
	<-monDone
	if err != nil {
		return out, err
	}
	// Drain: the probes still outstanding get until c.Drain to show.
	drainErr := p.waitEmpty(ctx, c.Drain)
	if err := stopProf(); err != nil {
		return out, err
	}
	stopProber()
	if err := <-proberDone; err != nil && !errors.Is(err, context.Canceled) {
		return out, err
	}
	out.Latency, out.Probes, out.Missed = p.result(time.Now())
	if drainErr != nil {
		fmt.Fprintf(os.Stderr, "  %d probes not visible %s after production ended\n", out.Missed, c.Drain)
	}
	out.PollRTT, out.PollCycle = report.Summarize(p.rtts), report.Summarize(p.cycles)
	out.ToJob, out.AfterJob = report.Summarize(p.toJob), report.Summarize(p.afterJob)

	out.Produced = stats.Total()
	// Achieved: acknowledged events over the measured period, from the
	// progress report nearest the end of the warm-up.
	base := demo.Stats{}
	for _, s := range seconds {
		if s.Elapsed <= c.Warmup {
			base = s
		}
	}
	if d := stats.Elapsed - base.Elapsed; d > 0 {
		out.Achieved = float64(stats.Total()-base.Total()) / d.Seconds()
	}
	out.MinSecond = math.Inf(1)
	for i := 1; i < len(seconds); i++ {
		if seconds[i].Elapsed <= c.Warmup {
			continue
		}
		d := seconds[i].Elapsed - seconds[i-1].Elapsed
		out.MinSecond = min(out.MinSecond, float64(seconds[i].Total()-seconds[i-1].Total())/d.Seconds())
	}
	if math.IsInf(out.MinSecond, 1) {
		out.MinSecond = 0
	}
	out.JobBacklogMax, out.JobBacklogEnd = mon.jobMax, mon.jobEnd
	out.WriterBacklogMax, out.WriterBacklogEnd = mon.writerMax, mon.writerEnd
	out.JobLagMax = mon.lagMax
	if out.Counts, err = rig.ReadJobCounts(st.Metrics(), j.Spec.Name); err != nil {
		return out, err
	}
	w, err := rig.Counter(st.Metrics(), "rdg_store_elements_written_total")
	if err != nil {
		return out, err
	}
	out.Written = int64(w)
	out.WriteStalls = stallLog.counts()
	fmt.Fprintf(os.Stderr, "  produced %d in %s (%.0f/s measured); p99 %.0fms over %d probes\n",
		out.Produced, prodEnd.Sub(runStart).Round(time.Millisecond), out.Achieved, out.Latency.P99ms, out.Probes)
	return out, nil
}

func storeOpts(c config) []store.Opt {
	if c.MemTable > 0 {
		return []store.Opt{store.MemTableSize(uint64(c.MemTable) << 20)}
	}
	return nil
}

// stallCounter counts the store's write stall warnings instead of
// printing them: at high rates there are hundreds, and their number is
// the figure.
type stallCounter struct {
	slog.Handler
	*stalls
}

type stalls struct {
	mu sync.Mutex
	n  map[string]int64
}

func (h *stallCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "store: write stall" {
		return h.Handler.Handle(ctx, r)
	}
	reason := "?"
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			reason = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.n[reason]++
	h.mu.Unlock()
	return nil
}

func (h *stallCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return &stallCounter{Handler: h.Handler.WithAttrs(as), stalls: h.stalls}
}

func (h *stallCounter) WithGroup(name string) slog.Handler {
	return &stallCounter{Handler: h.Handler.WithGroup(name), stalls: h.stalls}
}

func (h *stalls) counts() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.n)
}

// probe is an event turned into a probe: when it was produced and whether
// it counts (warm-up probes do not).
type probe struct {
	sent    time.Time
	counted bool
}

// prober makes probe events and polls the API for their edges.
type prober struct {
	api rdgv1connect.GraphServiceClient
	// young is the age below which a probe cannot be visible yet: the
	// dedupe window less a margin.
	young time.Duration

	mu     sync.Mutex
	next   int
	out    map[string]probe // by account id
	lat    []time.Duration
	seen   chan struct{} // signalled when a poll found probes
	rtts   []time.Duration
	cycles []time.Duration
	// toJob and afterJob split lat at the edge's updated_at.
	toJob, afterJob []time.Duration
}

// make turns ev into a probe: a member and a device never seen before,
// so that the account -> device `uses` edge is new.
func (p *prober) make(ev *demo.Event, counted bool) {
	pb, ok := ev.Value.(*demo.Playback)
	if !ok {
		return
	}
	p.mu.Lock()
	p.next++
	id := fmt.Sprintf("probe-%07d", p.next)
	pb.MemberID, pb.DeviceID = id, "probe-device-"+id[len("probe-"):]
	pb.EventType = demo.PlayStart
	ev.Key = []byte(id)
	p.out[id] = probe{sent: time.Now(), counted: counted}
	p.mu.Unlock()
}

// maxStarts bounds the start nodes of one Traverse call.
const maxStarts = 1000

func (p *prober) run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var last time.Time
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		// A probe's edge is held in the dedupe buffer for the window, so
		// polling for younger probes mostly costs the server lookups; they
		// are asked for only every 20th poll, in case the buffer's key
		// bound published them early.
		all := i%20 == 0
		now := time.Now()
		p.mu.Lock()
		starts := make([]*rdgv1.NodeRef, 0, min(len(p.out), maxStarts))
		for id, pr := range p.out {
			if len(starts) == maxStarts {
				break
			}
			if all || now.Sub(pr.sent) >= p.young {
				starts = append(starts, &rdgv1.NodeRef{Type: "account", Id: id})
			}
		}
		p.mu.Unlock()
		if len(starts) == 0 {
			last = time.Time{}
			continue
		}
		begin := time.Now()
		resp, err := p.api.Traverse(ctx, connect.NewRequest(&rdgv1.TraverseRequest{
			Start:    starts,
			Steps:    []*rdgv1.Step{{Direction: rdgv1.Direction_DIRECTION_OUT, EdgeTypes: []string{"uses"}}},
			Depth:    1,
			MaxNodes: uint32(2*len(starts) + 1),
			MaxEdges: uint32(2*len(starts) + 1),
		}))
		now = time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("prober: %w", err)
		}
		found := 0
		p.mu.Lock()
		p.rtts = append(p.rtts, now.Sub(begin))
		if !last.IsZero() {
			p.cycles = append(p.cycles, begin.Sub(last))
		}
		last = begin
		for _, e := range resp.Msg.GetEdges() {
			id := e.GetFrom().GetId()
			pr, ok := p.out[id]
			if !ok || e.GetType() != "uses" || e.GetFrom().GetType() != "account" {
				continue
			}
			if pr.counted {
				p.lat = append(p.lat, now.Sub(pr.sent))
				ingest := time.UnixMilli(e.GetUpdatedAtMs())
				p.toJob = append(p.toJob, ingest.Sub(pr.sent))
				p.afterJob = append(p.afterJob, now.Sub(ingest))
			}
			delete(p.out, id)
			found++
		}
		p.mu.Unlock()
		if found > 0 {
			select {
			case p.seen <- struct{}{}:
			default:
			}
		}
	}
}

// waitEmpty waits until no probe is outstanding, or timeout.
func (p *prober) waitEmpty(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		left := len(p.out)
		p.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%d probes still outstanding after %s", left, timeout)
		case <-p.seen:
		}
	}
}

// result summarises the counted probes; those still outstanding at now
// count with the time they have waited.
func (p *prober) result(now time.Time) (report.Latency, int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	lat := append([]time.Duration(nil), p.lat...)
	missed := 0
	for _, pr := range p.out {
		if pr.counted {
			lat = append(lat, now.Sub(pr.sent))
			missed++
		}
	}
	return report.Summarize(lat), len(lat), missed
}

// monitor samples the backlogs of the job and the writer.
type monitor struct {
	adm  *kadm.Client
	prom *stack.Stack
	job  *engine.Job
	from time.Time

	jobMax, jobEnd, writerMax, writerEnd, lagMax int64
}

func (m *monitor) run(ctx context.Context) {
	graphTopics := []string{}
	for _, t := range m.job.NodeTypes() {
		graphTopics = append(graphTopics, codec.NodeTopic(t))
	}
	for _, t := range m.job.EdgeTypes() {
		graphTopics = append(graphTopics, codec.EdgeTopic(t))
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Now().Before(m.from) {
			continue
		}
		src, err := m.adm.ListEndOffsets(ctx, demo.TopicPlayback)
		if err != nil {
			continue
		}
		graph, err := m.adm.ListEndOffsets(ctx, graphTopics...)
		if err != nil {
			continue
		}
		in, _ := rig.Counter(m.prom.Metrics(), "rdg_job_records_in_total", "job", m.job.Spec.Name)
		written, _ := rig.Counter(m.prom.Metrics(), "rdg_store_elements_written_total")
		rejected, _ := rig.Counter(m.prom.Metrics(), "rdg_store_records_rejected_total")
		var produced, published int64
		src.Each(func(o kadm.ListedOffset) { produced += o.Offset })
		graph.Each(func(o kadm.ListedOffset) { published += o.Offset })
		m.jobEnd = max(produced-int64(in), 0)
		m.writerEnd = max(published-int64(written+rejected), 0)
		m.jobMax, m.writerMax = max(m.jobMax, m.jobEnd), max(m.writerMax, m.writerEnd)
		if i%4 == 0 {
			if lags, err := m.adm.Lag(ctx, jobrun.Group(m.job.Spec.Name)); err == nil {
				lags.Each(func(l kadm.DescribedGroupLag) { m.lagMax = max(m.lagMax, l.Lag.Total()) })
			}
		}
	}
}

func syncNote(on bool) string {
	if on {
		return ", broker fsyncs each batch (--kafka-sync)"
	}
	return ""
}

func printTable(res result) {
	fmt.Printf("\nfreshness: %s\n", res.Env)
	t := report.Table{
		Title: fmt.Sprintf("event produced -> edge visible through the API: %s measured after %s warm-up, %.0f probes/s, poll every %s%s",
			res.Config.Duration, res.Config.Warmup, res.Config.ProbeRate, res.Config.Poll, syncNote(res.Config.KafkaSync)),
		Cols: []string{"offered ev/s", "window", "achieved ev/s", "min 1s ev/s", "probes", "missed", "p50 ms", "p99 ms", "max ms", "target ms", "holds",
			"to job p50/p99 ms", "after job p50/p99 ms",
			"job backlog max", "writer backlog max", "write stalls", "poll cycle p50/max ms", "CPU s", "cores", "peak RSS", "load"},
	}
	for _, r := range res.Runs {
		target := float64(time.Duration(r.Window).Milliseconds()) + 250
		holds := "yes"
		if r.Latency.P99ms > target || r.Missed*100 > r.Probes {
			holds = "no"
		}
		p99 := report.Num(r.Latency.P99ms)
		if r.Missed*100 > r.Probes {
			p99 = ">" + p99
		}
		t.Add(r.Rate, time.Duration(r.Window).String(), r.Achieved, r.MinSecond, r.Probes, r.Missed,
			r.Latency.P50ms, p99, r.Latency.MaxMs, target, holds,
			fmt.Sprintf("%.0f/%.0f", r.ToJob.P50ms, r.ToJob.P99ms), fmt.Sprintf("%.0f/%.0f", r.AfterJob.P50ms, r.AfterJob.P99ms),
			float64(r.JobBacklogMax), float64(r.WriterBacklogMax), stallSum(r.WriteStalls),
			fmt.Sprintf("%.1f/%.0f", r.PollCycle.P50ms, r.PollCycle.MaxMs),
			r.Usage.CPU().Seconds(), fmt.Sprintf("%.2f", r.Usage.Cores()), report.Bytes(r.Usage.PeakRSS), r.Load)
	}
	t.Notes = []string{
		"latency: probe event handed to the producer -> first API poll whose response holds its edge; resolution = poll cycle.",
		"missed: probes not visible by the end of the drain, counted with the time they waited (p99 then a lower bound, marked >).",
		"to job / after job: the visible probes' latency split at the job's ingest time (the edge's updated_at): producer, broker, job consumer / window, publish, writer, store, poll.",
		"achieved: events acknowledged per second over the measured period; backlog: records not yet read by the job / not yet merged by the writer;",
		"write stalls: times Pebble stopped the writer's writes until a flush or compaction caught up (reasons in the JSON).",
		"target: p99 <= window + 250ms. CPU, cores, peak RSS: the run's process (whole stack and producer); load: 1-minute load average after it.",
	}
	_ = t.Print(os.Stdout)
	printParts(res)
}

func stallSum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// printParts prints where each run's CPU went, per part of the stack, in
// CPU seconds and microseconds per event produced.
func printParts(res result) {
	var names []string
	seen := map[string]bool{}
	for _, r := range res.Runs {
		for p := range r.CPU {
			if !seen[p] {
				seen[p] = true
				names = append(names, p)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	t := report.Table{
		Title: "CPU by part while producing at the offered rate (warm-up included) and draining: seconds (µs per event the job read)",
		Cols:  append([]string{"offered ev/s", "window", "total"}, names...),
	}
	for _, r := range res.Runs {
		var total time.Duration
		for _, d := range r.CPU {
			total += d
		}
		per := func(d time.Duration) string {
			return fmt.Sprintf("%.2f (%.1f)", d.Seconds(), float64(d.Microseconds())/float64(max(r.Counts.In, 1)))
		}
		row := []any{r.Rate, time.Duration(r.Window).String(), per(total)}
		for _, n := range names {
			row = append(row, per(r.CPU[n]))
		}
		t.Add(row...)
	}
	t.Notes = []string{
		"parts: pprof label rdg of each part package stack starts (job:<name>, writer, broker, api, registry, store) and of this program's producer and probe;",
		"writer/pebble: the writer inside Pebble (Apply: batch, WAL, memtable); pebble:<kind>: Pebble's background work (compact, flush); other: Go runtime (GC, scheduler).",
	}
	_ = t.Print(os.Stdout)
}
