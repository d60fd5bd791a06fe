package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	rdgkafka "github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/logtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// rdgBinary builds cmd/rdg once per test run.
func rdgBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rdg-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "rdg")
		out, err := exec.Command("go", "build", "-o", binPath, "./cmd/rdg").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// execRdg runs the rdg binary with args in dir (the repository root when
// dir is ""), stdin as its standard input, and returns its stdout, stderr
// and exit code; failing to start it fails the test.
func execRdg(t testing.TB, dir, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(rdgBinary(t), args...)
	cmd.Dir = dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func init() {
	// go test runs in the package directory; builds must run at the root.
	if wd, err := os.Getwd(); err == nil && filepath.Base(wd) == "e2e" {
		_ = os.Chdir(filepath.Dir(wd))
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type rdgProcess struct {
	cmd  *exec.Cmd
	logs *logtest.Buffer
	done chan error
}

func startRdg(t testing.TB, args ...string) *rdgProcess {
	t.Helper()
	p := &rdgProcess{logs: &logtest.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(rdgBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("rdg output:\n%s", p.logs.String())
		}
	})
	return p
}

func (p *rdgProcess) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("rdg exited with %v after SIGTERM:\n%s", err, p.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rdg did not stop within 30s of SIGTERM")
	}
}

// scrape reads the sum of a counter's or gauge's samples from a /metrics
// endpoint: 0 if it has none.
func scrape(apiURL, name string) (float64, error) {
	resp, err := http.Get(apiURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	if mf, ok := mfs[name]; ok {
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum, nil
}

// TestRestartResumes stops a real `rdg up` process with SIGTERM and starts
// it again on the same data directory: the graph is still there at once,
// and the jobs resume from their committed offsets, reading only what was
// produced while they were down.
func TestRestartResumes(t *testing.T) {
	dataDir := t.TempDir()
	kafkaAddr, regAddr, apiAddr := freePort(t), freePort(t), freePort(t)
	args := []string{"up", "--jobs", filepath.Join(repoRoot(t), "examples", "netflix", "jobs"), "--data-dir", dataDir,
		"--kafka-addr", kafkaAddr, "--registry-addr", regAddr, "--api-addr", apiAddr, "--partitions", "2"}
	apiURL := "http://" + apiAddr
	ctx := context.Background()
	waitReady := func(p *rdgProcess) {
		await(t, 60*time.Second, func() (bool, string) {
			select {
			case err := <-p.done:
				t.Fatalf("rdg exited early: %v\n%s", err, p.logs.String())
			default:
			}
			resp, err := http.Get(apiURL + "/readyz")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status
		})
	}
	api := rdgv1connect.NewGraphServiceClient(http.DefaultClient, apiURL)
	uses := func(member string) map[string]bool {
		r, err := api.Neighbors(ctx, connect.NewRequest(&rdgv1.NeighborsRequest{
			Node: &rdgv1.NodeRef{Type: "account", Id: member}, EdgeTypes: []string{"uses"}, Limit: 1000}))
		if err != nil {
			return nil
		}
		got := map[string]bool{}
		for _, n := range r.Msg.Neighbors {
			got[n.Node.Id] = true
		}
		return got
	}
	// produce generates n events after skip and returns member -> devices.
	gen := demo.New(demo.Config{Seed: 42, Members: 50, Start: time.Now().Add(-time.Hour), Rate: 1000})
	produce := func(n int) map[string]map[string]bool {
		cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		reg, err := sr.NewClient(sr.URLs("http://" + regAddr))
		if err != nil {
			t.Fatal(err)
		}
		if err := demo.EnsureTopics(ctx, kadm.NewClient(cl), 2); err != nil {
			t.Fatal(err)
		}
		if err := produceCatalog(ctx, rdgkafka.Cluster{Seeds: []string{kafkaAddr}}, reg); err != nil {
			t.Fatal(err)
		}
		p := newAvroProducer(t, cl, reg)
		want := map[string]map[string]bool{}
		for range n {
			ev := gen.Next()
			var v []byte
			var member, device string
			switch x := ev.Value.(type) {
			case *demo.Login:
				v, member, device = p.encode(ev.Topic, demo.LoginSchema, x), x.MemberID, x.DeviceID
			case *demo.Playback:
				v, member, device = p.encode(ev.Topic, demo.PlaybackSchema, x), x.MemberID, x.DeviceID
			case *demo.Game:
				v, member, device = p.encode(ev.Topic, demo.GameSchema, x), x.MemberID, x.DeviceID
			}
			cl.Produce(ctx, &kgo.Record{Topic: ev.Topic, Key: ev.Key, Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
			if want[member] == nil {
				want[member] = map[string]bool{}
			}
			want[member][device] = true
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return want
	}
	missing := func(want map[string]map[string]bool) string {
		for m, devs := range want {
			got := uses(m)
			for d := range devs {
				if !got[d] {
					return fmt.Sprintf("account %s has no uses edge to device %s (has %v)", m, d, got)
				}
			}
		}
		return ""
	}
	recordsIn := func() float64 {
		v, err := scrape(apiURL, "rdg_job_records_in_total")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	first := startRdg(t, args...)
	waitReady(first)
	const before, after = 600, 150
	wantBefore := produce(before)
	await(t, 30*time.Second, func() (bool, string) {
		if n := recordsIn(); n != before {
			return false, fmt.Sprintf("jobs read %v of %d records", n, before)
		}
		m := missing(wantBefore)
		return m == "", m
	})
	first.stop(t)

	second := startRdg(t, args...)
	waitReady(second)
	if m := missing(wantBefore); m != "" {
		t.Fatalf("after restart the graph lost data: %s", m)
	}
	// The registry kept its schemas: the same schema has the same id.
	reg, _ := sr.NewClient(sr.URLs("http://" + regAddr))
	if _, err := reg.LookupSchema(ctx, codec.Subject(demo.TopicLogins), sr.Schema{Schema: demo.LoginSchema}); err != nil {
		t.Fatalf("registry lost the logins schema across the restart: %v", err)
	}
	wantAfter := produce(after)
	await(t, 30*time.Second, func() (bool, string) {
		m := missing(wantAfter)
		return m == "", m
	})
	// Only what was produced while down was read again: offsets resumed.
	await(t, 10*time.Second, func() (bool, string) {
		n := recordsIn()
		return n == after, fmt.Sprintf("restarted jobs read %v records, want exactly the %d new ones", n, after)
	})
	if strings.Contains(second.logs.String(), "level=ERROR") {
		t.Errorf("errors logged after restart:\n%s", second.logs.String())
	}
	second.stop(t)
}
