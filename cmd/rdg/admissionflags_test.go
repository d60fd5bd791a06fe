package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAdmissionFlagsRejectNegative(t *testing.T) {
	for _, args := range [][]string{
		{"up", "--data-dir", t.TempDir(), "--query-concurrency", "-1"},
		{"writer", "run", "--data-dir", t.TempDir(), "--query-memory-mib", "-5"},
		{"up", "--data-dir", t.TempDir(), "--query-queue", "-2"},
	} {
		root := newRoot()
		root.SetArgs(append([]string{"--gc-floor-mib", "0"}, args...))
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), args[len(args)-2]+" "+args[len(args)-1]) {
			t.Errorf("%v: got %v, want an error naming the flag and its value", args, err)
		}
	}
}

// TestAdmissionFlagsReachTheServer: `rdg up` serves with the bounds its
// flags set, as its /metrics shows.
func TestAdmissionFlagsReachTheServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRoot()
	root.SetArgs([]string{"--gc-floor-mib", "0", "--log-level", "warn", "up", "--data-dir", t.TempDir(),
		"--kafka-addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--api-addr", addr,
		"--query-concurrency", "3", "--query-memory-mib", "100", "--query-queue", "7"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("rdg up: %v", err)
		}
	}()

	want := map[string]string{"rdg_query_max_running": "3", "rdg_query_memory_limit_bytes": "1.048576e+08"}
	deadline := time.Now().Add(time.Minute)
	for {
		got := map[string]string{}
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if name, v, ok := strings.Cut(sc.Text(), " "); ok && want[name] != "" {
					got[name] = v
				}
			}
			resp.Body.Close()
		}
		if len(got) == len(want) {
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %s, want %s", k, got[k], v)
				}
			}
			return
		}
		select {
		case err := <-done:
			done <- nil // for the deferred wait
			t.Fatalf("rdg up ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no admission metrics at %s after a minute: %v", addr, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
