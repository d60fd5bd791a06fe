package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseTTL(t *testing.T) {
	got, err := parseTTL("device=720h, watched=90d ,title=1.5d,x=250ms")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"device": 720 * time.Hour, "watched": 90 * 24 * time.Hour, "title": 36 * time.Hour, "x": 250 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if m, err := parseTTL(""); m != nil || err != nil {
		t.Errorf("empty: %v %v", m, err)
	}
	for _, bad := range []struct{ in, want string }{
		{"device", "want type=duration"},
		{"device=", "want type=duration"},
		{"Device=1h", "lower-case"},
		{"device=1h,device=2h", "given twice"},
		{"device=soon", "duration"},
		{"device=-1h", "at least 1ms"},
		{"device=0d", "at least 1ms"},
	} {
		_, err := parseTTL(bad.in)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parseTTL(%q) = %v, want error containing %q", bad.in, err, bad.want)
		}
	}
}
