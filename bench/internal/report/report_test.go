package report

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	d := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(d)
	if s.N != 100 || s.P50ms != 50 || s.P90ms != 90 || s.P99ms != 99 || s.MaxMs != 100 {
		t.Fatalf("got %+v", s)
	}
	if got := Summarize(nil); got.N != 0 {
		t.Fatalf("empty: %+v", got)
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Fatalf("one sample: %v", got)
	}
}

func TestNum(t *testing.T) {
	for x, want := range map[float64]string{1.5e6: "1.5M", 52000: "52k", 250: "250", 2.345: "2.35", 0.1234: "0.123"} {
		if got := Num(x); got != want {
			t.Errorf("Num(%v) = %q, want %q", x, got, want)
		}
	}
}
