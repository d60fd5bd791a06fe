// Package report is what the benchmark programs under bench/ share: the
// machine and commit a figure was measured on, the peak RSS and CPU time of
// each measured run (every run in a child process of its own, so that one
// run's heap never inflates another's peak), latency percentiles, and the
// printed table and JSON file each program leaves behind.
//
// It must not know what any program measures; programs own their figures.
package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rdgraph/rdg/internal/gcfloor"
)

// Env describes where and on what a result was measured.
type Env struct {
	Commit     string    `json:"commit"`
	Dirty      bool      `json:"dirty"`
	GoVersion  string    `json:"go_version"`
	CPUModel   string    `json:"cpu_model"`
	CPUs       int       `json:"cpus"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	MemTotal   int64     `json:"mem_total_bytes"`
	Time       time.Time `json:"time"`
}

// Environment reads the current commit (git, if the program runs in a
// checkout), the CPU model and the memory size.
func Environment() Env {
	e := Env{GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Time: time.Now().UTC()}
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		e.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
			e.Dirty = len(bytes.TrimSpace(st)) > 0
		}
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			e.MemTotal = kb << 10
		}
	}
	return e
}

// String is a one-line summary for the top of a printed table.
func (e Env) String() string {
	c := e.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if c == "" {
		c = "unknown commit"
	}
	if e.Dirty {
		c += " (uncommitted changes)"
	}
	return fmt.Sprintf("%s, %s, %d CPUs (%s), %s RAM, %s", c, e.GoVersion, e.CPUs, e.CPUModel, Bytes(e.MemTotal), e.Time.Format(time.RFC3339))
}

// Usage is what one run cost its process.
type Usage struct {
	PeakRSS int64         `json:"peak_rss_bytes"`
	User    time.Duration `json:"user_cpu_ns"`
	Sys     time.Duration `json:"sys_cpu_ns"`
	Wall    time.Duration `json:"wall_ns"`
}

// CPU is user plus system time.
func (u Usage) CPU() time.Duration { return u.User + u.Sys }

// Cores is the average number of cores the run kept busy.
func (u Usage) Cores() float64 {
	if u.Wall <= 0 {
		return 0
	}
	return u.CPU().Seconds() / u.Wall.Seconds()
}

// SelfUsage is this process's usage so far (PeakRSS is the high-water mark
// since it started; Wall is zero).
func SelfUsage() Usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}
	}
	return Usage{PeakRSS: ru.Maxrss << 10, User: time.Duration(ru.Utime.Nano()), Sys: time.Duration(ru.Stime.Nano())}
}

// GCAsRDG sets up the garbage collector as the rdg command does by default
// (gcfloor.DefaultFloor), unless $GOGC is set, so that a benchmark's
// process collects as often as rdg's would. Every child run calls it.
func GCAsRDG() {
	if _, set := os.LookupEnv("GOGC"); !set {
		gcfloor.Start(gcfloor.DefaultFloor)
	}
}

// childEnv names the run a re-executed benchmark binary is to perform.
const childEnv = "RDG_BENCH_RUN"

// ChildRun reports whether this process is a child started by RunChild,
// and which run it is to perform.
func ChildRun() (name string, ok bool) {
	name = os.Getenv(childEnv)
	return name, name != ""
}

// ServeChild performs a child's run: it decodes the parent's input from
// stdin into in, calls fn, and writes fn's result as JSON to stdout, which
// is reserved for it (progress goes to stderr). It exits the process.
func ServeChild(in any, fn func() (any, error)) {
	GCAsRDG()
	if err := json.NewDecoder(os.Stdin).Decode(in); err != nil {
		fmt.Fprintln(os.Stderr, "benchmark run: reading input:", err)
		os.Exit(2)
	}
	out, err := fn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmark run:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "benchmark run: writing result:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// RunChild performs run name in a fresh copy of this program: in is passed
// as JSON on its stdin, its JSON result is decoded into out, and its
// stderr is passed through. The child's peak RSS and CPU time are its own.
func RunChild(ctx context.Context, name string, in, out any) (Usage, error) {
	exe, err := os.Executable()
	if err != nil {
		return Usage{}, err
	}
	b, err := json.Marshal(in)
	if err != nil {
		return Usage{}, err
	}
	cmd := exec.CommandContext(ctx, exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	cmd.Stdin = bytes.NewReader(b)
	cmd.Stderr = os.Stderr
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return Usage{}, fmt.Errorf("run %s: %w", name, err)
	}
	var u Usage
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u = Usage{PeakRSS: ru.Maxrss << 10, User: time.Duration(ru.Utime.Nano()), Sys: time.Duration(ru.Stime.Nano())}
	}
	u.Wall = wall
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return u, fmt.Errorf("run %s: result: %w", name, err)
	}
	return u, nil
}

// Latency summarises a sample of durations.
type Latency struct {
	N     int     `json:"n"`
	P50ms float64 `json:"p50_ms"`
	P90ms float64 `json:"p90_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// Summarize sorts d in place and returns its percentiles (nearest rank).
func Summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	return Latency{N: len(d), P50ms: Ms(Percentile(d, 50)), P90ms: Ms(Percentile(d, 90)), P99ms: Ms(Percentile(d, 99)), MaxMs: Ms(d[len(d)-1])}
}

// Percentile is the nearest-rank p-th percentile of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Ms is d in milliseconds, to the microsecond.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Bytes formats n as MiB or GiB.
func Bytes(n int64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// Table is a printed result table: right-aligned columns, a title, and
// notes under it.
type Table struct {
	Title string
	Cols  []string
	Rows  [][]string
	Notes []string
}

// Add appends a row; each cell is printed with %v, floats with %.3g
// unless already formatted as strings.
func (t *Table) Add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		switch x := c.(type) {
		case string:
			row[i] = x
		case float64:
			row[i] = Num(x)
		default:
			row[i] = fmt.Sprint(x)
		}
	}
	t.Rows = append(t.Rows, row)
}

// Num formats a float with three significant digits, and thousands
// separated for large values.
func Num(x float64) string {
	switch {
	case x >= 1e6 || x <= -1e6:
		return fmt.Sprintf("%.3gM", x/1e6)
	case x >= 1e4 || x <= -1e4:
		return fmt.Sprintf("%.0fk", x/1e3)
	case x >= 100 || x <= -100:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.3g", x)
}

// Print writes the table to w.
func (t *Table) Print(w io.Writer) error {
	if t.Title != "" {
		fmt.Fprintf(w, "\n%s\n\n", t.Title)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.Cols, "\t")+"\t")
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range t.Notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// WriteJSON writes v, indented, to path, creating its directory. An empty
// path writes nothing.
func WriteJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// DirSize is the total size of the regular files under dir.
func DirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
