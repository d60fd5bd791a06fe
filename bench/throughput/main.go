// Command throughput measures events per second through the demo playback
// job (decode, filter, enrich from the catalog.titles side input, map,
// dedupe with its 1s window, publish) on the embedded broker, against the
// ceiling measured in the same run on the same broker and records: plain
// franz-go with no processing.
//
// Set-up, in this process: the embedded broker with its log in a data
// directory (as `rdg up` keeps it) and the embedded registry, started by
// package stack; the demo title catalogue; -events playback events of
// -members members produced as `rdg generate --rate -1` does (Avro, Confluent
// framing, keyed by member, -partitions partitions). The broker stays in
// this process for every run, and the measured runs reach it over TCP,
// each in a child process of its own so that its peak RSS and CPU time are
// its own (the broker's CPU during each run is this process's, reported
// apart):
//
//	job      jobrun.Run of the playback job with a fresh consumer group, until
//	         the group has committed the source topic's end offsets (which
//	         it does only once everything derived from the records is
//	         published and acknowledged).
//	ceiling  franz-go consumer group clients, as many as the job had
//	         consumers, with the job's own client settings (fetch size, max poll records, producer buffer and
//	         linger, 1s commit interval) that reads the same records and,
//	         per record, produces its share of exactly as many records as
//	         the job published — copies of records sampled from the job's
//	         graph topics, to topics of the same partition count, so sizes
//	         and keys match — flushing before each commit, until its group
//	         has committed the end offsets.
//
// Two rates per run: wall (events over the time from start to the
// committed end, start-up and the last commit included) and steady
// (events per second between the moments 10% and 90% of them had been
// read). The headline ratio is steady job / steady ceiling: the target
// (job >= 0.6 x ceiling) is about processing throughput, and start-up
// (side input load, group join, up to a 1s commit interval at the end) is
// a fixed cost that a short run would otherwise inflate; the wall ratio is
// reported beside it.
//
//	go run ./bench/throughput                         # 2,000,000 events
//	go run ./bench/throughput -events 200000 -runs 2 -cpuprofile bench/out/prof
//	go run ./bench/throughput -kafka-sync             # the broker fsyncs each batch
//
// The table goes to stdout, progress to stderr, JSON to bench/out/throughput.json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/bench/internal/rig"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/kafka"
)

type config struct {
	Work   rig.Workload `json:"workload"`
	Runs   int          `json:"runs"`
	Sample int          `json:"sampled_output_records_per_topic"`
	Conc   int          `json:"job_concurrency,omitempty"`
	// KafkaSync: the broker fsyncs each produced batch before it
	// acknowledges it (rdg up --kafka-sync).
	KafkaSync bool   `json:"kafka_sync"`
	Dir       string `json:"-"`
	JSON      string `json:"-"`
	Profile   string `json:"-"`
	Block     bool   `json:"-"`
}

func main() {
	var c config
	flag.Int64Var(&c.Work.Events, "events", 2_000_000, "playback events in the source topic")
	flag.IntVar(&c.Work.Members, "members", 50_000, "members of the simulated world")
	flag.Int64Var(&c.Work.Seed, "seed", 1, "seed of the simulated world")
	parts := flag.Int("partitions", 6, "partitions of the source topic")
	flag.IntVar(&c.Runs, "runs", 1, "job and ceiling runs, alternating")
	flag.IntVar(&c.Conc, "concurrency", 0, "consumers of the job in its process (0: the job file's tuning); the ceiling runs as many")
	flag.IntVar(&c.Sample, "sample", 2000, "job output records sampled per graph topic for the ceiling's records")
	flag.StringVar(&c.Dir, "dir", "", "broker data directory (default: a temporary one, removed at the end)")
	flag.BoolVar(&c.KafkaSync, "kafka-sync", false, "the broker fsyncs each produced batch before acknowledging it, as rdg up --kafka-sync")
	flag.StringVar(&c.JSON, "json", "bench/out/throughput.json", "write the results here as JSON (empty: don't)")
	flag.StringVar(&c.Profile, "cpuprofile", "", "write CPU profiles of every run (job-N, ceiling-N, and the broker during each) into this directory")
	flag.BoolVar(&c.Block, "blockprofile", false, "with -cpuprofile, also write the job's blocking profile (job-N.block.pprof)")
	flag.Parse()
	c.Work.Partitions = int32(*parts)
	lg := rig.Logger()
	if name, ok := report.ChildRun(); ok {
		ctx := context.Background()
		switch name {
		case "job":
			var in rig.JobRun
			report.ServeChild(&in, func() (any, error) { return rig.RunJob(ctx, in, lg) })
		case "ceiling":
			var in ceilingIn
			report.ServeChild(&in, func() (any, error) { return runCeiling(ctx, in) })
		}
		log.Fatalf("unknown run %q", name)
	}
	if err := run(c, lg); err != nil {
		log.Fatal(err)
	}
}

// ceilingPrefix names the ceiling's output topics after the graph topics
// they mirror.
const ceilingPrefix = "ceiling."

type result struct {
	Env      report.Env   `json:"env"`
	Config   config       `json:"config"`
	Produced rig.Produced `json:"produced"`
	// Broker is the broker process (this one) over the whole benchmark.
	Broker report.Usage `json:"broker_process"`
	Runs   []pair       `json:"runs"`
}

type pair struct {
	Run           int           `json:"run"`
	Job           rig.JobResult `json:"job"`
	JobUsage      report.Usage  `json:"job_process"`
	JobBrokerCPU  time.Duration `json:"job_broker_cpu_ns"`
	JobLoad       float64       `json:"job_load_avg"`
	Outputs       []outTopic    `json:"outputs"`
	OutBytes      float64       `json:"job_output_avg_record_bytes"`
	Ceiling       ceilingOut    `json:"ceiling"`
	CeilingUsage  report.Usage  `json:"ceiling_process"`
	CeilBrokerCPU time.Duration `json:"ceiling_broker_cpu_ns"`
	CeilingLoad   float64       `json:"ceiling_load_avg"`
	// Profiles is each profile of the run summed by part (rig.CPUByPart),
	// keyed by profile: job, ceiling, broker-during-job, broker-during-ceiling.
	Profiles    map[string]map[string]time.Duration `json:"cpu_by_part_ns,omitempty"`
	RatioSteady float64                             `json:"ratio_steady"`
	RatioWall   float64                             `json:"ratio_wall"`
}

func run(c config, lg *slog.Logger) error {
	ctx := context.Background()
	res := result{Env: report.Environment(), Config: c}
	k, err := rig.Load(ctx, c.Dir, c.Work, lg, rig.KafkaSync(c.KafkaSync))
	if err != nil {
		return err
	}
	defer k.Close()
	adm := k.Admin
	res.Produced = k.Produced

	outputs := func(t string) bool { return rig.JobOutput(t) || strings.HasPrefix(t, ceilingPrefix) }
	for r := 1; r <= c.Runs; r++ {
		if err := rig.DeleteTopics(ctx, adm, outputs); err != nil {
			return err
		}
		p := pair{Run: r}
		in := rig.JobRun{Seeds: k.Seeds(), RegistryURL: k.RegistryURL(), Name: fmt.Sprintf("playback-%d", r), Window: -1, Concurrency: c.Conc,
			Ends: res.Produced.Ends, CPUProfile: profPath(c.Profile, "job", r)}
		if c.Block {
			in.BlockProfile = profPath(c.Profile, "job.block", r)
		}
		fmt.Fprintf(os.Stderr, "run %d: job\n", r)
		if p.JobUsage, p.JobBrokerCPU, err = measured(ctx, profPath(c.Profile, "broker-during-job", r), "job", in, &p.Job); err != nil {
			return err
		}
		p.JobLoad = rig.LoadAvg()
		if p.Outputs, err = sampleOutputs(ctx, k.Seeds(), adm, c.Sample); err != nil {
			return err
		}
		var n int64
		for _, o := range p.Outputs {
			p.OutBytes += o.AvgBytes * float64(o.Count)
			n += o.Count
		}
		if n != p.Job.Counts.Published() {
			return fmt.Errorf("graph topics hold %d records, the job says it published %d", n, p.Job.Counts.Published())
		}
		p.OutBytes /= float64(max(n, 1))

		ci := ceilingIn{Seeds: k.Seeds(), Group: fmt.Sprintf("ceiling-%d", r), Topic: demo.TopicPlayback, Ends: res.Produced.Ends,
			Outputs: p.Outputs, Tuning: p.Job.Tuning, CPUProfile: profPath(c.Profile, "ceiling", r)}
		if err := createMirrors(ctx, adm, p.Outputs); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "run %d: ceiling\n", r)
		if p.CeilingUsage, p.CeilBrokerCPU, err = measured(ctx, profPath(c.Profile, "broker-during-ceiling", r), "ceiling", ci, &p.Ceiling); err != nil {
			return err
		}
		p.CeilingLoad = rig.LoadAvg()
		if p.Ceiling.Steady > 0 {
			p.RatioSteady = p.Job.Steady / p.Ceiling.Steady
		}
		p.RatioWall = p.Ceiling.Wall.Seconds() / p.Job.Wall.Seconds()
		if c.Profile != "" {
			p.Profiles = map[string]map[string]time.Duration{}
			for _, what := range []string{"job", "ceiling", "broker-during-job", "broker-during-ceiling"} {
				if p.Profiles[what], err = rig.CPUByPart(profPath(c.Profile, what, r)); err != nil {
					return err
				}
			}
		}
		res.Runs = append(res.Runs, p)
	}
	res.Broker = report.SelfUsage()
	if err := rig.DeleteTopics(ctx, adm, outputs); err != nil {
		return err
	}
	printTable(res)
	return report.WriteJSON(c.JSON, res)
}

func profPath(dir, what string, run int) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", what, run))
}

// measured performs a run in a child process and returns its usage and
// the CPU this process (the broker) spent meanwhile, profiled into prof.
func measured(ctx context.Context, prof, name string, in, out any) (report.Usage, time.Duration, error) {
	stop, err := rig.CPUProfile(prof)
	if err != nil {
		return report.Usage{}, 0, err
	}
	before := report.SelfUsage()
	u, err := report.RunChild(ctx, name, in, out)
	broker := report.SelfUsage().CPU() - before.CPU()
	if perr := stop(); err == nil {
		err = perr
	}
	return u, broker, err
}

// outTopic is one graph topic as the job left it: how many records, how
// large, and a sample of them.
type outTopic struct {
	Topic      string  `json:"topic"`
	Partitions int32   `json:"partitions"`
	Count      int64   `json:"count"`
	AvgBytes   float64 `json:"avg_record_bytes"`
	// Records are the first records of the topic (key and value).
	Records [][2][]byte `json:"records,omitempty"`
}

// sampleOutputs reads the graph topics' record counts and their first
// perTopic records.
func sampleOutputs(ctx context.Context, seeds []string, adm *kadm.Client, perTopic int) ([]outTopic, error) {
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	var outs []outTopic
	var topics []string
	for _, name := range td.Names() {
		if !strings.HasPrefix(name, codec.NodeTopicPrefix) && !strings.HasPrefix(name, codec.EdgeTopicPrefix) {
			continue
		}
		ends, err := rig.EndOffsets(ctx, adm, name)
		if err != nil {
			return nil, err
		}
		o := outTopic{Topic: name, Partitions: int32(len(ends))}
		for _, e := range ends {
			o.Count += e
		}
		if o.Count > 0 {
			outs = append(outs, o)
			topics = append(topics, name)
		}
	}
	sort.Slice(outs, func(i, j int) bool { return outs[i].Topic < outs[j].Topic })
	if len(outs) == 0 {
		return nil, errors.New("the job published nothing")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	want := map[string]int{}
	left := 0
	for _, o := range outs {
		want[o.Topic] = int(min(int64(perTopic), o.Count))
		left += want[o.Topic]
	}
	got := map[string][][2][]byte{}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for left > 0 {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return nil, fmt.Errorf("sampling the job's output: %w", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if len(got[r.Topic]) < want[r.Topic] {
				got[r.Topic] = append(got[r.Topic], [2][]byte{r.Key, r.Value})
				left--
			}
		})
	}
	for i := range outs {
		o := &outs[i]
		o.Records = got[o.Topic]
		var b int
		for _, r := range o.Records {
			b += len(r[0]) + len(r[1])
		}
		o.AvgBytes = float64(b) / float64(max(len(o.Records), 1))
	}
	return outs, nil
}

// createMirrors creates the ceiling's output topics: as many partitions as
// the graph topics they mirror, compacted like them.
func createMirrors(ctx context.Context, adm *kadm.Client, outs []outTopic) error {
	var ts []kafka.Topic
	for _, o := range outs {
		ts = append(ts, kafka.Topic{Name: ceilingPrefix + o.Topic, Partitions: o.Partitions, Compact: true})
	}
	return kafka.EnsureTopics(ctx, adm, ts...)
}

type ceilingIn struct {
	Seeds   []string        `json:"seeds"`
	Group   string          `json:"group"`
	Topic   string          `json:"topic"`
	Ends    map[int32]int64 `json:"ends"`
	Outputs []outTopic      `json:"outputs"`
	// Tuning is the job's, as it ran: the ceiling's client gets the same.
	Tuning     job.Tuning `json:"tuning"`
	CPUProfile string     `json:"cpu_profile"`
}

type ceilingOut struct {
	Wall        time.Duration `json:"wall_ns"`
	FirstRecord time.Duration `json:"first_record_ns"`
	Steady      float64       `json:"steady_events_per_s"`
	Consumed    int64         `json:"consumed"`
	Produced    int64         `json:"produced"`
	AvgBytes    float64       `json:"avg_record_bytes"`
	Commits     int           `json:"commits"`
}

type poolRec struct {
	topic      string
	key, value []byte
}

// pool lays out about size sampled records with each topic's share of the
// job's output, interleaved, so that consecutive records go to different
// topics as a job's elements of one event do.
func pool(outs []outTopic, size int) []poolRec {
	var total int64
	for _, o := range outs {
		total += o.Count
	}
	var per [][]poolRec
	for _, o := range outs {
		n := max(int(float64(size)*float64(o.Count)/float64(total)+0.5), 1)
		rs := make([]poolRec, n)
		for i := range rs {
			s := o.Records[i%len(o.Records)]
			rs[i] = poolRec{topic: ceilingPrefix + o.Topic, key: s[0], value: s[1]}
		}
		per = append(per, rs)
	}
	// Interleave by position within each topic's share.
	type slot struct {
		at float64
		r  poolRec
	}
	var all []slot
	for _, rs := range per {
		for i, r := range rs {
			all = append(all, slot{float64(i) / float64(len(rs)), r})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at < all[j].at })
	out := make([]poolRec, len(all))
	for i, s := range all {
		out[i] = s.r
	}
	return out
}

// runCeiling is the ceiling run: consume, produce, flush, commit.
func runCeiling(ctx context.Context, in ceilingIn) (ceilingOut, error) {
	recs := pool(in.Outputs, 10_000)
	var outTotal, inTotal int64
	for _, o := range in.Outputs {
		outTotal += o.Count
	}
	for _, e := range in.Ends {
		inTotal += e
	}
	var res ceilingOut
	for _, r := range recs {
		res.AvgBytes += float64(len(r.key) + len(r.value))
	}
	res.AvgBytes /= float64(len(recs))
	t := in.Tuning
	admCl, err := kgo.NewClient(kgo.SeedBrokers(in.Seeds...))
	if err != nil {
		return res, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	stopProf, err := rig.CPUProfile(in.CPUProfile)
	if err != nil {
		return res, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	// As many group members as the job had consumers, each with its own
	// client and loop, as jobrun.Run runs them: the ceiling gets the same
	// parallelism as the job it bounds.
	members := max(t.Concurrency, 1)
	clients := make([]*kgo.Client, 0, members)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for range members {
		var cl *kgo.Client
		rig.Labelled(runCtx, "ceiling", func(context.Context) {
			cl, err = kgo.NewClient(
				kgo.SeedBrokers(in.Seeds...),
				kgo.ConsumerGroup(in.Group),
				kgo.ConsumeTopics(in.Topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchMaxBytes(t.FetchMaxBytes),
				kgo.MaxBufferedRecords(t.MaxBufferedRecords),
				kgo.ProducerLinger(t.Linger),
				kgo.SessionTimeout(t.SessionTimeout),
				kgo.DisableAutoCommit(),
				kgo.BlockRebalanceOnPoll(),
			)
		})
		if err != nil {
			return res, err
		}
		clients = append(clients, cl)
	}
	var consumed, emittedAll atomic.Int64
	var commits atomic.Int64
	count := func() float64 { return float64(consumed.Load()) }
	prog := rig.Track(10*time.Millisecond, count)

	var mu sync.Mutex
	var produceErr error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if produceErr == nil {
				produceErr = err
			}
			mu.Unlock()
		}
	}
	// Records read again after a rebalance (a member that joins takes
	// partitions whose last records the other read but had not committed)
	// produce nothing: the job's own re-reads are already in the count of
	// records it published, so the ceiling spreads that count over the
	// source's records once each.
	var hwMu sync.Mutex
	hw := map[int32]int64{} // per partition: the offset after the last record read
	fresh := func(p kgo.FetchTopicPartition) int64 {
		if len(p.Records) == 0 {
			return 0
		}
		hwMu.Lock()
		defer hwMu.Unlock()
		first, next := p.Records[0].Offset, p.Records[len(p.Records)-1].Offset+1
		n := next - max(first, hw[p.Partition])
		hw[p.Partition] = max(hw[p.Partition], next)
		return max(n, 0)
	}
	loop := make(chan error, members)
	member := func(cl *kgo.Client) error {
		// However the loop ends (a flush or commit cut short by the end
		// of the run too), the poll's rebalance block must be lifted, or
		// the client's Close waits for it forever.
		defer cl.AllowRebalance()
		var mine, emitted int64
		nextCommit := time.Now().Add(t.CommitInterval)
		for {
			pctx, pcancel := context.WithTimeout(runCtx, max(time.Until(nextCommit), time.Millisecond))
			fs := cl.PollRecords(pctx, t.MaxPollRecords)
			pcancel()
			if runCtx.Err() != nil {
				cl.AllowRebalance()
				return nil
			}
			fs.EachPartition(func(p kgo.FetchTopicPartition) {
				consumed.Add(int64(len(p.Records)))
				mine += fresh(p)
				for target := mine * outTotal / inTotal; emitted < target; emitted++ {
					r := &recs[emitted%int64(len(recs))]
					cl.Produce(runCtx, &kgo.Record{Topic: r.topic, Key: r.key, Value: r.value}, promise)
					emittedAll.Add(1)
				}
			})
			if now := time.Now(); !now.Before(nextCommit) {
				if err := cl.Flush(runCtx); err != nil {
					return err
				}
				mu.Lock()
				err := produceErr
				mu.Unlock()
				if err != nil {
					return err
				}
				if err := cl.CommitUncommittedOffsets(runCtx); err != nil {
					return err
				}
				commits.Add(1)
				nextCommit = now.Add(t.CommitInterval)
			}
			cl.AllowRebalance()
		}
	}
	// The label is inherited by the goroutines: the profile then tells the
	// ceiling's own CPU from the runtime's.
	rig.Labelled(runCtx, "ceiling", func(context.Context) {
		for _, cl := range clients {
			go func() { loop <- member(cl) }()
		}
	})
	waited := make(chan error, 1)
	go func() { waited <- rig.WaitCommitted(runCtx, adm, in.Group, in.Topic, in.Ends, 10*time.Millisecond) }()
	select {
	case err := <-waited:
		if err != nil {
			return res, err
		}
	case err := <-loop:
		return res, fmt.Errorf("ceiling stopped before reading everything: %v", err)
	}
	res.Wall = time.Since(start)
	prog.Stop(count)
	if err := stopProf(); err != nil {
		return res, err
	}
	cancel()
	for range members {
		if err := <-loop; err != nil && !errors.Is(err, context.Canceled) {
			return res, err
		}
	}
	res.FirstRecord, _ = prog.Reached(1)
	res.Steady, _ = prog.Rate(0.1*float64(inTotal), 0.9*float64(inTotal))
	res.Consumed, res.Produced, res.Commits = consumed.Load(), emittedAll.Load(), int(commits.Load())
	return res, nil
}

func printTable(res result) {
	fmt.Printf("\nthroughput: %s\n", res.Env)
	title := fmt.Sprintf("playback job vs franz-go ceiling: %d events, %d members, %d partitions", res.Produced.Events, res.Config.Work.Members, res.Config.Work.Partitions)
	if res.Config.Conc > 0 {
		title += fmt.Sprintf(", job concurrency %d", res.Config.Conc)
	}
	if res.Config.KafkaSync {
		title += ", broker fsyncs each batch (--kafka-sync)"
	}
	t := report.Table{
		Title: title,
		Cols:  []string{"run", "what", "steady ev/s", "wall ev/s", "wall s", "start-up s", "out records", "out/event", "out B/rec", "CPU s", "CPU µs/event", "broker CPU s", "peak RSS", "load"},
	}
	n := float64(res.Produced.Events)
	for _, p := range res.Runs {
		t.Add(p.Run, "job", p.Job.Steady, n/p.Job.Wall.Seconds(), p.Job.Wall.Seconds(), p.Job.FirstRecord.Seconds(),
			float64(p.Job.Counts.Published()), float64(p.Job.Counts.Published())/n, p.OutBytes,
			p.JobUsage.CPU().Seconds(), float64(p.JobUsage.CPU().Microseconds())/n, p.JobBrokerCPU.Seconds(), report.Bytes(p.JobUsage.PeakRSS), p.JobLoad)
		t.Add(p.Run, "ceiling", p.Ceiling.Steady, n/p.Ceiling.Wall.Seconds(), p.Ceiling.Wall.Seconds(), p.Ceiling.FirstRecord.Seconds(),
			float64(p.Ceiling.Produced), float64(p.Ceiling.Produced)/n, p.Ceiling.AvgBytes,
			p.CeilingUsage.CPU().Seconds(), float64(p.CeilingUsage.CPU().Microseconds())/n, p.CeilBrokerCPU.Seconds(), report.Bytes(p.CeilingUsage.PeakRSS), p.CeilingLoad)
		t.Add(p.Run, "job/ceiling", fmt.Sprintf("%.2f", p.RatioSteady), fmt.Sprintf("%.2f", p.RatioWall), "", "", "", "", "", "", "", "", "", "")
	}
	t.Notes = []string{
		"steady: events/s between 10% and 90% of the events read (headline); wall: events / (start .. group committed the end).",
		"CPU: the run's child process (user+sys); broker CPU: the broker's process meanwhile; peak RSS: the child's;",
		"load: the machine's 1-minute load average at the end of the run (2 cores; other work on the machine included).",
		"target: job steady >= 0.6 x ceiling steady.",
	}
	_ = t.Print(os.Stdout)
	for _, p := range res.Runs {
		if p.Profiles == nil {
			continue
		}
		pt := report.Table{Title: fmt.Sprintf("run %d: CPU by part (profiles): seconds (µs per event)", p.Run), Cols: []string{"profile", "part", "CPU s", "µs/event"}}
		for _, what := range []string{"job", "broker-during-job", "ceiling", "broker-during-ceiling"} {
			parts := p.Profiles[what]
			names := make([]string, 0, len(parts))
			for k := range parts {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				pt.Add(what, k, parts[k].Seconds(), float64(parts[k].Microseconds())/n)
			}
		}
		pt.Notes = []string{"other: the Go runtime (GC, scheduler); job:<name> and ceiling include their franz-go clients' goroutines."}
		_ = pt.Print(os.Stdout)
	}
}
