// Command dedupe measures what the playback job's dedupe window buys: the
// output/input ratio and the throughput of the demo workload for windows
// 0, 100ms, 1s and 5s.
//
// Set-up (shared with bench/throughput, package rig): the embedded broker
// with its log in a data directory and the embedded registry, in this
// process; the demo title catalogue; -events playback events of -members
// members produced as `rdg generate --rate -1` does. Then, per window, the
// demo playback job (examples/netflix/jobs/playback.yaml, its window
// replaced) runs in a child process of its own from a fresh consumer group
// until the group has committed the end of the source topic; the graph
// topics are deleted between runs so that each starts on an equally empty
// broker.
//
// Per window: elements published / elements mapped (the job's metrics
// rdg_job_{nodes,edges}_{published,out}_total: what the window removed),
// output records per event, events per second (steady: between 10% and 90%
// of the events read; wall: from start until the group committed the end),
// and the run's peak RSS and CPU time. The events are read as a backlog, as
// fast as the job goes, so a window spans (job rate x window) events; at a
// lower live rate the same window merges less.
//
//	go run ./bench/dedupe                              # 1,000,000 events
//	go run ./bench/dedupe -events 200000 -windows 0,1s
//
// The table goes to stdout, progress to stderr, JSON to bench/out/dedupe.json.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/bench/internal/rig"
)

type config struct {
	Work    rig.Workload    `json:"workload"`
	Windows []time.Duration `json:"windows_ns"`
	Dir     string          `json:"-"`
	JSON    string          `json:"-"`
	Profile string          `json:"-"`
}

type run struct {
	Window  rig.Duration  `json:"window"`
	Job     rig.JobResult `json:"job"`
	Usage   report.Usage  `json:"process"`
	Broker  time.Duration `json:"broker_cpu_ns"`
	Load    float64       `json:"load_avg"`
	OutIn   float64       `json:"published_per_mapped"`
	OutPerE float64       `json:"published_per_event"`
}

type result struct {
	Env      report.Env   `json:"env"`
	Config   config       `json:"config"`
	Produced rig.Produced `json:"produced"`
	Runs     []run        `json:"runs"`
}

func main() {
	var c config
	var windows string
	flag.Int64Var(&c.Work.Events, "events", 1_000_000, "playback events in the source topic")
	flag.IntVar(&c.Work.Members, "members", 50_000, "members of the simulated world")
	flag.Int64Var(&c.Work.Seed, "seed", 1, "seed of the simulated world")
	parts := flag.Int("partitions", 6, "partitions of the source topic")
	flag.StringVar(&windows, "windows", "0,100ms,1s,5s", "comma-separated dedupe windows, one run each")
	flag.StringVar(&c.Dir, "dir", "", "broker data directory (default: a temporary one, removed at the end)")
	flag.StringVar(&c.JSON, "json", "bench/out/dedupe.json", "write the results here as JSON (empty: don't)")
	flag.StringVar(&c.Profile, "cpuprofile", "", "write a CPU profile of every run (job-<window>.pprof) into this directory")
	flag.Parse()
	c.Work.Partitions = int32(*parts)
	for _, w := range strings.Split(windows, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(w))
		if err != nil || d < 0 {
			log.Fatalf("-windows: %q is not a duration >= 0", w)
		}
		c.Windows = append(c.Windows, d)
	}
	lg := rig.Logger()
	if name, ok := report.ChildRun(); ok {
		if name != "job" {
			log.Fatalf("unknown run %q", name)
		}
		var in rig.JobRun
		report.ServeChild(&in, func() (any, error) { return rig.RunJob(context.Background(), in, lg) })
	}
	if err := runAll(c, lg); err != nil {
		log.Fatal(err)
	}
}

func runAll(c config, lg *slog.Logger) error {
	ctx := context.Background()
	res := result{Env: report.Environment(), Config: c}
	k, err := rig.Load(ctx, c.Dir, c.Work, lg)
	if err != nil {
		return err
	}
	defer k.Close()
	adm := k.Admin
	res.Produced = k.Produced

	for i, w := range c.Windows {
		if err := rig.DeleteTopics(ctx, adm, rig.JobOutput); err != nil {
			return err
		}
		in := rig.JobRun{Seeds: k.Seeds(), RegistryURL: k.RegistryURL(), Name: fmt.Sprintf("playback-%d", i+1), Window: w, Ends: res.Produced.Ends}
		if c.Profile != "" {
			in.CPUProfile = filepath.Join(c.Profile, fmt.Sprintf("job-%s.pprof", w))
		}
		fmt.Fprintf(os.Stderr, "window %s\n", w)
		r := run{Window: rig.Duration(w)}
		before := report.SelfUsage()
		if r.Usage, err = report.RunChild(ctx, "job", in, &r.Job); err != nil {
			return err
		}
		r.Broker = report.SelfUsage().CPU() - before.CPU()
		r.Load = rig.LoadAvg()
		if m := r.Job.Counts.Mapped(); m > 0 {
			r.OutIn = float64(r.Job.Counts.Published()) / float64(m)
		}
		r.OutPerE = float64(r.Job.Counts.Published()) / float64(res.Produced.Events)
		res.Runs = append(res.Runs, r)
	}
	if err := rig.DeleteTopics(ctx, adm, rig.JobOutput); err != nil {
		return err
	}
	printTable(res)
	return report.WriteJSON(c.JSON, res)
}

func printTable(res result) {
	fmt.Printf("\ndedupe: %s\n", res.Env)
	t := report.Table{
		Title: fmt.Sprintf("playback job by dedupe window: %d events, %d members, %d partitions", res.Produced.Events, res.Config.Work.Members, res.Config.Work.Partitions),
		Cols:  []string{"window", "mapped", "published", "out/in", "out/event", "steady ev/s", "wall ev/s", "wall s", "CPU s", "CPU µs/event", "broker CPU s", "peak RSS", "load"},
	}
	n := float64(res.Produced.Events)
	for _, r := range res.Runs {
		t.Add(time.Duration(r.Window).String(), float64(r.Job.Counts.Mapped()), float64(r.Job.Counts.Published()),
			fmt.Sprintf("%.3f", r.OutIn), fmt.Sprintf("%.2f", r.OutPerE), r.Job.Steady, n/r.Job.Wall.Seconds(), r.Job.Wall.Seconds(),
			r.Usage.CPU().Seconds(), float64(r.Usage.CPU().Microseconds())/n, r.Broker.Seconds(), report.Bytes(r.Usage.PeakRSS), r.Load)
	}
	t.Notes = []string{
		"out/in: elements published / elements mapped (job metrics); out/event: published records per source event.",
		"steady: events/s between 10% and 90% of the events read; wall: events / (start .. group committed the end).",
		"CPU and peak RSS: the job's child process; broker CPU: the broker's process meanwhile; load: 1-minute load average after the run (2 cores).",
	}
	_ = t.Print(os.Stdout)
}
