package e2e

import (
	"context"
	"flag"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// BenchmarkJobBurstRSS measures the peak resident memory of a job process
// while a burst of events — all produced before the job starts, so it reads
// as fast as it can — passes through it. The job is the Netflix playback job
// (catalogue side input, 1s dedupe window) in its own `rdg job run` process;
// Kafka and the registry run in another. Run with
//
//	go test -run XXX -bench JobBurstRSS -benchtime 1x ./e2e/ [-burst 1000000]
//
// It reports peak RSS (VmHWM of the job process) and events per second.
func BenchmarkJobBurstRSS(b *testing.B) {
	n := *burstEvents
	for i := 0; i < b.N; i++ {
		peak, rate := runBurst(b, n)
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(rate, "events/s")
	}
}

func runBurst(b *testing.B, n int) (peakRSS int64, eventsPerSec float64) {
	b.Helper()
	ctx := context.Background()
	kafkaAddr, regAddr := freePort(b), freePort(b)
	broker := startRdg(b, "up", "--no-writer", "--data-dir", b.TempDir(), "--kafka-addr", kafkaAddr,
		"--registry-addr", regAddr, "--api-addr", freePort(b))
	defer broker.stop(b)
	waitHTTP(b, "http://"+regAddr+"/subjects")

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.ProducerLinger(10*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	reg, err := sr.NewClient(sr.URLs("http://" + regAddr))
	if err != nil {
		b.Fatal(err)
	}
	if err := demo.EnsureTopics(ctx, kadm.NewClient(cl), 6); err != nil {
		b.Fatal(err)
	}
	cfg := demo.Config{Seed: 1, Members: 50_000, Rate: -1, Start: time.Now().Add(-time.Hour), Topics: []string{demo.TopicPlayback}}
	if _, err := demo.ProduceCatalog(ctx, cl, reg, cfg); err != nil {
		b.Fatal(err)
	}
	id, err := codec.Register(ctx, reg, codec.Subject(demo.TopicPlayback), demo.PlaybackSchema)
	if err != nil {
		b.Fatal(err)
	}
	sch := avro.MustParse(demo.PlaybackSchema)
	gen := demo.New(cfg)
	start := time.Now()
	for range n {
		ev := gen.Next()
		body, err := avro.Marshal(sch, ev.Value)
		if err != nil {
			b.Fatal(err)
		}
		cl.Produce(ctx, &kgo.Record{Topic: ev.Topic, Key: ev.Key, Value: append(codec.AppendHeader(nil, id), body...)}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("produced %d playback events in %s", n, time.Since(start).Round(time.Millisecond))

	jobs := filepath.Join(repoRoot(b), "examples", "netflix", "jobs")
	b.ResetTimer()
	start = time.Now()
	jp := startRdg(b, "job", "run", "--jobs", jobs, "--job", "playback", "--brokers", kafkaAddr, "--registry", "http://"+regAddr)
	adm := kadm.NewClient(cl)
	for {
		lags, err := adm.Lag(ctx, jobrun.Group("playback"))
		if err == nil {
			var total int64 = -1
			lags.Each(func(l kadm.DescribedGroupLag) {
				if l.Error() != nil || len(l.Lag) == 0 {
					return
				}
				total = l.Lag.Total()
			})
			if total == 0 {
				break
			}
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("burst not consumed after 10 minutes")
		}
		time.Sleep(200 * time.Millisecond) // polling a live process's progress, not synchronising
	}
	elapsed := time.Since(start)
	b.StopTimer()
	peakRSS = vmHWM(b, jp.cmd.Process.Pid)
	jp.stop(b)
	return peakRSS, float64(n) / elapsed.Seconds()
}

var burstEvents = flag.Int("burst", 1_000_000, "events in BenchmarkJobBurstRSS's burst")

// waitHTTP waits until url answers 200.
func waitHTTP(b *testing.B, url string) {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not answering: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
