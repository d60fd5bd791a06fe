package serve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
)

// Admission control. Limits bound one query; Admission bounds what all of
// them together may take: how many run at once, and how much memory the
// running ones may hold by their estimates (query_cost.go). A request
// that does not fit waits in a queue, served in order of arrival as room
// frees (dispatch). The time it waits counts against its deadline, and it
// waits for at most half of it (startBy): one that cannot start by then is
// refused with ResourceExhausted, as is one that finds the queue full.
// Refusals carry a retry hint: a Retry-After header (or trailer) in
// seconds and, for gRPC clients, a google.rpc.RetryInfo error detail.
//
// A query's reservation is held until its answer has been written, so that
// the encoded answer counts too. Stats is not admitted: its scan runs at
// most once at a time whatever the number of requests (query_stats.go).

// Admission configures admission control. A zero field means no bound on
// what it bounds; with MaxRunning and MaxMemory zero nothing ever waits,
// which is no admission control at all: meant for benchmarking the server
// without it.
type Admission struct {
	// MaxRunning is the most queries that run at once.
	MaxRunning int
	// MaxMemory bounds, in bytes, the sum of the memory estimates of the
	// running queries. A query whose estimate alone exceeds it runs with
	// its limits lowered to fit (its answer is then partial, naming the
	// limit it reached), as a request above a server maximum does.
	MaxMemory int64
	// MaxQueued is the most requests that wait for a running query to
	// finish; a request that finds the queue full is refused at once.
	MaxQueued int
}

// DefaultAdmission derives admission control from the machine: four
// queries per core run at once (queries mostly compute, but some wait for
// the disk), a quarter of the memory available to the process (its cgroup
// limit, or the machine's memory), at least 64 MiB, is for queries, and up
// to 32 requests per core wait. The memory left over is for the store's
// cache, the writer, the garbage collector's headroom and, in `rdg up`,
// the broker and jobs.
func DefaultAdmission() Admission {
	procs := runtime.GOMAXPROCS(0)
	return Admission{
		MaxRunning: 4 * procs,
		MaxMemory:  max(memoryAvailable()/4, 64<<20),
		MaxQueued:  32 * procs,
	}
}

// String describes a for logs.
func (a Admission) String() string {
	if a.MaxRunning <= 0 && a.MaxMemory <= 0 {
		return "unbounded"
	}
	n := func(v int64, unit string) string {
		if v <= 0 {
			return "unbounded"
		}
		return strconv.FormatInt(v, 10) + unit
	}
	return fmt.Sprintf("%s running, %s memory, %d queued", n(int64(a.MaxRunning), ""), n(a.MaxMemory>>20, " MiB"), a.MaxQueued)
}

// memoryAvailable is the memory this process may use: its cgroup's limit
// (v2 or v1) if there is one, else the machine's total memory, else (where
// neither can be read) 4 GiB.
func memoryAvailable() int64 {
	total := meminfoTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max", or v1's "no limit" (a huge number), is no limit.
		if err == nil && v > 0 && (total == 0 || v < total) {
			return v
		}
	}
	if total > 0 {
		return total
	}
	return 4 << 30
}

func meminfoTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(s.Text(), "MemTotal: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}

// admission is the controller of one handler.
type admission struct {
	cfg Admission
	m   *admissionMetrics

	mu       sync.Mutex
	running  int
	reserved int64
	queue    []*waiter // in order of arrival
	avgRun   time.Duration
}

type waiter struct {
	cost     int64
	ready    chan struct{} // closed when admitted
	admitted bool          // under admission.mu
}

func newAdmission(cfg Admission) *admission {
	a := &admission{cfg: cfg, m: newAdmissionMetrics()}
	a.m.maxRunning.Set(float64(cfg.MaxRunning))
	a.m.maxMemory.Set(float64(cfg.MaxMemory))
	return a
}

// fits reports whether a query of cost can start now; a.mu is held.
func (a *admission) fits(cost int64) bool {
	if a.cfg.MaxRunning > 0 && a.running >= a.cfg.MaxRunning {
		return false
	}
	return a.cfg.MaxMemory <= 0 || a.reserved+cost <= a.cfg.MaxMemory
}

func (a *admission) start(cost int64) {
	a.running++
	a.reserved += cost
	a.m.running.Set(float64(a.running))
	a.m.reserved.Set(float64(a.reserved))
	a.m.admitted.Inc()
}

// dispatch starts queued queries in their order of arrival, each that
// fits; a.mu is held. A query waiting for memory does not hold up the
// smaller ones behind it: memory freed goes first to the oldest query it
// is enough for, so a large query starts as soon as enough is free, and
// if smaller queries keep too much of it busy for too long, the large one
// is refused when its time to start runs out, like any other, rather than
// stalling them all.
func (a *admission) dispatch() {
	kept := a.queue[:0]
	for i, w := range a.queue {
		if a.cfg.MaxRunning > 0 && a.running >= a.cfg.MaxRunning {
			kept = append(kept, a.queue[i:]...)
			break
		}
		if !a.fits(w.cost) {
			kept = append(kept, w)
			continue
		}
		w.admitted = true
		a.start(w.cost)
		close(w.ready)
	}
	clear(a.queue[len(kept):])
	a.queue = kept
	a.m.queued.Set(float64(len(a.queue)))
}

// acquire waits until a query of cost may run, or refuses it: when the
// queue is full, when it has not started by startBy, or when ctx ends. On
// success the caller must call release.
func (a *admission) acquire(ctx context.Context, cost int64, startBy time.Time) error {
	a.mu.Lock()
	// Nothing queued fits now (dispatch starts whatever does), so a query
	// that fits overtakes no one that could run.
	if a.fits(cost) {
		a.start(cost)
		a.mu.Unlock()
		a.m.wait.Observe(0)
		return nil
	}
	if len(a.queue) >= a.cfg.MaxQueued {
		running, queued, retry := a.running, len(a.queue), a.retryAfter()
		a.mu.Unlock()
		a.m.rejected.WithLabelValues("queue_full").Inc()
		return busyError(fmt.Sprintf("server busy: %d queries running and %d waiting, the most it queues", running, queued), retry)
	}
	w := &waiter{cost: cost, ready: make(chan struct{})}
	a.queue = append(a.queue, w)
	a.m.queued.Set(float64(len(a.queue)))
	a.mu.Unlock()

	t0 := time.Now()
	timer := time.NewTimer(time.Until(startBy))
	defer timer.Stop()
	var reason string
	select {
	case <-w.ready:
		a.m.wait.Observe(time.Since(t0).Seconds())
		return nil
	case <-timer.C:
		reason = "deadline"
	case <-ctx.Done():
		reason = "canceled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason = "deadline" // the transport's
		}
	}
	a.mu.Lock()
	if w.admitted {
		// Admitted as the wait ended: too late to start all the same.
		a.finish(w.cost, 0)
	} else {
		for i, q := range a.queue {
			if q == w {
				a.queue = append(a.queue[:i], a.queue[i+1:]...)
				break
			}
		}
		a.m.queued.Set(float64(len(a.queue)))
	}
	retry := a.retryAfter()
	a.mu.Unlock()
	a.m.rejected.WithLabelValues(reason).Inc()
	waited := time.Since(t0).Round(time.Millisecond)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("the request's deadline passed after %s waiting for the server to have room", waited))
	case ctx.Err() != nil:
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled while waiting for the server to have room"))
	}
	return busyError(fmt.Sprintf("server busy: waited %s and could not start the query in time for its deadline", waited), retry)
}

// finish releases a running query's reservation; a.mu is held.
func (a *admission) finish(cost int64, took time.Duration) {
	a.running--
	a.reserved -= cost
	if took > 0 {
		// An average over the last few dozen queries, for retry hints.
		if a.avgRun == 0 {
			a.avgRun = took
		} else {
			a.avgRun += (took - a.avgRun) / 32
		}
	}
	a.m.running.Set(float64(a.running))
	a.m.reserved.Set(float64(a.reserved))
	a.dispatch()
}

func (a *admission) release(cost int64, took time.Duration) {
	a.mu.Lock()
	a.finish(cost, took)
	a.mu.Unlock()
}

// retryAfter guesses when a retry may find room: the time the queries
// queued now take to drain at the recent pace, at least a second and at
// most a minute. a.mu is held.
func (a *admission) retryAfter() time.Duration {
	slots := max(a.cfg.MaxRunning, 1)
	d := time.Duration(float64(a.avgRun) * (float64(len(a.queue))/float64(slots) + 1))
	return min(max(d, time.Second), time.Minute)
}

// busyError is ResourceExhausted with a retry hint: Retry-After (whole
// seconds, as HTTP has it) in the response's headers, or trailers where
// gRPC puts errors, and a google.rpc.RetryInfo detail.
func busyError(msg string, retry time.Duration) error {
	secs := int64(math.Ceil(retry.Seconds()))
	err := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("%s; retry after %ds", msg, secs))
	err.Meta().Set("Retry-After", strconv.FormatInt(secs, 10))
	if d, derr := connect.NewErrorDetail(retryInfo(secs)); derr == nil {
		err.AddDetail(d)
	}
	return err
}

// RetryInfoType is the type of the retry detail of a ResourceExhausted
// error, as connect.ErrorDetail.Type reports it.
const RetryInfoType = "google.rpc.RetryInfo"

// retryInfo encodes google.rpc.RetryInfo{retry_delay: {seconds: secs}} by
// hand: its Go type lives in a module rdg does not otherwise need.
func retryInfo(secs int64) *anypb.Any {
	var dur []byte
	dur = protowire.AppendTag(dur, 1, protowire.VarintType) // Duration.seconds
	dur = protowire.AppendVarint(dur, uint64(secs))
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType) // RetryInfo.retry_delay
	b = protowire.AppendBytes(b, dur)
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + RetryInfoType, Value: b}
}

// RetryDelay reads the delay from the Value of a google.rpc.RetryInfo
// detail (connect.ErrorDetail.Bytes), for clients that honour the hint.
func RetryDelay(b []byte) (time.Duration, bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			dur, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, false
			}
			var secs, nanos int64
			for len(dur) > 0 {
				num, typ, n := protowire.ConsumeTag(dur)
				if n < 0 || typ != protowire.VarintType {
					return 0, false
				}
				v, m := protowire.ConsumeVarint(dur[n:])
				if m < 0 {
					return 0, false
				}
				switch num {
				case 1:
					secs = int64(v)
				case 2:
					nanos = int64(int32(v))
				}
				dur = dur[n+m:]
			}
			return time.Duration(secs)*time.Second + time.Duration(nanos), true
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
	}
	return 0, false
}

// A ticket follows one API request from its arrival, which starts its
// deadline, to the end of its answer, which ends its reservation.
type ticket struct {
	arrived time.Time
	cost    int64
	held    bool
	started time.Time
}

type ticketKey struct{}

func ticketOf(ctx context.Context) *ticket {
	t, _ := ctx.Value(ticketKey{}).(*ticket)
	return t
}

// arrival is when the request reached the server (now if unknown).
func arrival(ctx context.Context) time.Time {
	if t := ticketOf(ctx); t != nil {
		return t.arrived
	}
	return time.Now()
}

// tickets wraps the API's handler: every request gets a ticket before its
// body is read, and a reservation it took is released after its answer
// was written.
func (a *admission) tickets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := &ticket{arrived: time.Now()}
		defer func() {
			if t.held {
				a.release(t.cost, time.Since(t.started))
				if proc := strings.TrimPrefix(r.URL.Path, servicePath); graphService.Methods().ByName(protoreflect.Name(proc)) != nil {
					a.m.latency.WithLabelValues(proc).Observe(time.Since(t.arrived).Seconds())
				}
			}
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ticketKey{}, t)))
	})
}

// admit reserves cost for the request of ctx, whose budget ends at
// deadline, waiting if need be until startBy.
func (s *service) admit(ctx context.Context, cost int64, deadline time.Time) error {
	t := ticketOf(ctx)
	if t == nil || t.held {
		return errors.New("serve: admit outside the API handler")
	}
	if m := s.adm.cfg.MaxMemory; m > 0 {
		// query_cost.go lowers a query's limits to fit the bound; only a
		// bound below costBase leaves a query above it, which then
		// reserves the whole bound and so runs alone.
		cost = min(cost, m)
	}
	if err := s.adm.acquire(ctx, cost, startBy(t.arrived, deadline)); err != nil {
		return err
	}
	t.cost, t.held, t.started = cost, true, time.Now()
	return nil
}

// graphService names the RPCs that latency is labelled with (a label
// taken from the path as it came would let clients grow the metric), and
// servicePath is the prefix of their paths.
var (
	graphService = rdgv1.File_rdg_v1_graph_proto.Services().ByName("GraphService")
	servicePath  = "/" + string(graphService.FullName()) + "/"
)

type admissionMetrics struct {
	running, queued, reserved prometheus.Gauge
	maxRunning, maxMemory     prometheus.Gauge
	admitted                  prometheus.Counter
	rejected                  *prometheus.CounterVec
	wait                      prometheus.Histogram
	latency                   *prometheus.HistogramVec
}

func newAdmissionMetrics() *admissionMetrics {
	m := &admissionMetrics{
		running:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "rdg_query_running", Help: "Queries running now."}),
		queued:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "rdg_query_queued", Help: "Queries waiting for room to run."}),
		reserved:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "rdg_query_memory_reserved_bytes", Help: "Memory reserved by the running queries (their estimates)."}),
		maxRunning: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rdg_query_max_running", Help: "The most queries that run at once (0: no bound)."}),
		maxMemory:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "rdg_query_memory_limit_bytes", Help: "The most memory running queries may reserve (0: no bound)."}),
		admitted:   prometheus.NewCounter(prometheus.CounterOpts{Name: "rdg_query_admitted_total", Help: "Queries admitted to run."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rdg_query_rejected_total",
			Help: "Queries refused by admission control, by reason: queue_full, deadline (could not start in time, by the server's or the transport's deadline), canceled (the client gave up waiting)."}, []string{"reason"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rdg_query_queue_wait_seconds", Help: "Time admitted queries waited to start.",
			Buckets: []float64{0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rdg_query_duration_seconds",
			Help:    "Time from the arrival of an admitted query to the end of its answer (waiting for admission included), by RPC.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, 15, 30}}, []string{"procedure"}),
	}
	for _, r := range []string{"queue_full", "deadline", "canceled"} {
		m.rejected.WithLabelValues(r)
	}
	return m
}

func (m *admissionMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.running, m.queued, m.reserved, m.maxRunning, m.maxMemory, m.admitted, m.rejected, m.wait, m.latency}
}
