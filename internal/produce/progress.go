package produce

import (
	"fmt"
	"strings"
	"time"
)

// logf writes a line to Log, first clearing a live progress line, which
// the next tick redraws.
func (r *runner) logf(format string, args ...any) {
	if r.o.Log == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	if r.barShown {
		fmt.Fprint(r.o.Log, "\r\x1b[K")
		r.barShown = false
	}
	fmt.Fprintf(r.o.Log, format, args...)
}

// progress reports until the returned function is called: a line redrawn
// in place every 200ms when Live, else a line every ProgressEvery.
func (r *runner) progress() (stop func()) {
	every := r.o.ProgressEvery
	if r.o.Live {
		every = 200 * time.Millisecond
	}
	if r.o.Log == nil || every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			st := r.stats()
			r.logMu.Lock()
			if r.o.Live {
				fmt.Fprint(r.o.Log, "\r\x1b[K"+progressLine(r.o.Name, st, r.o.Size, true))
				r.barShown = true
			} else {
				fmt.Fprintln(r.o.Log, "produce: "+progressLine(r.o.Name, st, r.o.Size, false))
			}
			r.logMu.Unlock()
		}
	}()
	return func() {
		close(done)
		<-exited
		r.logMu.Lock()
		if r.barShown {
			fmt.Fprint(r.o.Log, "\r\x1b[K")
			r.barShown = false
		}
		r.logMu.Unlock()
	}
}

func progressLine(name string, st Stats, size int64, bar bool) string {
	var b strings.Builder
	b.WriteString(name)
	if size > 0 {
		pct := min(float64(st.Bytes)/float64(size), 1)
		if bar {
			const width = 24
			n := int(pct * width)
			fmt.Fprintf(&b, " [%s%s]", strings.Repeat("#", n), strings.Repeat(" ", width-n))
		}
		fmt.Fprintf(&b, " %3.0f%% of %s", pct*100, bytesText(size))
	}
	fmt.Fprintf(&b, ", %s rows read, %s produced, %s rejected, %s rows/s",
		group(st.Read), group(st.Produced), group(st.Rejected), group(int64(rate(st))))
	return b.String()
}

func rate(st Stats) float64 {
	s := st.Elapsed.Seconds()
	if s <= 0 {
		return 0
	}
	return float64(st.Read) / s
}

// Summary is the line that ends a run.
func Summary(name, topic string, st Stats) string {
	s := fmt.Sprintf("%s -> %s: %s rows read, %s produced, %s rejected in %s (%s rows/s)",
		name, topic, group(st.Read), group(st.Produced), group(st.Rejected),
		st.Elapsed.Round(time.Millisecond), group(int64(rate(st))))
	if lost := st.Read - st.Produced - st.Rejected; lost > 0 {
		s += fmt.Sprintf("; %s rows were not acknowledged by the broker (the run stopped before they were)", group(lost))
	}
	return s
}

// group writes n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
