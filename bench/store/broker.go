package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/internal/broker"
	"github.com/rdgraph/rdg/internal/registry"
)

// The broker runs in a child process of its own, as the embedded broker
// and registry of `rdg up` would, so that its memory is measured apart from
// the writer's. It lives while other children produce to it and consume
// from it, so it cannot be a plain report.RunChild call: the parent and the
// child talk through two named pipes in the run's directory. The child
// writes its addresses to the ready pipe once both listen, then reads the
// stop pipe until end of file, which comes when the parent closes it — or
// dies, so an interrupted benchmark never leaves a broker behind.

type brokerIn struct {
	Dir   string `json:"dir"`   // Kafka data directory
	Ready string `json:"ready"` // pipe the child writes brokerAddrs to
	Stop  string `json:"stop"`  // pipe whose end of file stops the child
}

type brokerAddrs struct {
	Kafka    string `json:"kafka"`
	Registry string `json:"registry"`
}

type brokerOut struct {
	DataBytes int64 `json:"data_bytes"` // the Kafka data directory after shutdown
}

// runBroker is the child's side.
func runBroker(in brokerIn) (any, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := broker.Start(broker.Addr("127.0.0.1:0"), broker.DataDir(in.Dir), broker.Logger(log))
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	reg, err := registry.New(ctx, registry.Seeds(b.Addr()), registry.Logger(log))
	if err != nil {
		b.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		reg.Close()
		b.Close()
		return nil, err
	}
	hs := &http.Server{Handler: reg, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()

	err = func() error {
		f, err := os.OpenFile(in.Ready, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = json.NewEncoder(f).Encode(brokerAddrs{Kafka: b.Addr(), Registry: "http://" + ln.Addr().String()})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		stop, err := os.Open(in.Stop)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, stop)
		stop.Close()
		return err
	}()
	_ = hs.Close()
	reg.Close()
	b.Close()
	if err != nil {
		return nil, err
	}
	size, err := report.DirSize(in.Dir)
	return brokerOut{DataBytes: size}, err
}

// brokerChild is what a stopped broker child reports.
type brokerChild struct {
	Usage report.Usage
	Out   brokerOut
}

// startBroker starts the broker child with its data under dir and returns
// once it accepts connections. stop ends it and returns its usage.
func startBroker(ctx context.Context, dir string) (addrs brokerAddrs, stop func() (brokerChild, error), err error) {
	in := brokerIn{Dir: filepath.Join(dir, "kafka"), Ready: filepath.Join(dir, "broker.ready"), Stop: filepath.Join(dir, "broker.stop")}
	for _, p := range []string{in.Ready, in.Stop} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			return addrs, nil, fmt.Errorf("broker pipe: %w", err)
		}
	}
	var res brokerChild
	var runErr error
	exited := make(chan struct{})
	go func() {
		res.Usage, runErr = report.RunChild(ctx, "broker", in, &res.Out)
		close(exited)
	}()
	// Opening a pipe blocks until the other end is opened too; the child
	// may die first, so each open waits in a goroutine.
	open := func(path string, flag int) (*os.File, error) {
		type opened struct {
			f   *os.File
			err error
		}
		ch := make(chan opened, 1)
		go func() {
			f, err := os.OpenFile(path, flag, 0)
			ch <- opened{f, err}
		}()
		select {
		case o := <-ch:
			return o.f, o.err
		case <-exited:
			if runErr == nil {
				runErr = errors.New("exited before it was ready")
			}
			return nil, fmt.Errorf("broker: %w", runErr)
		}
	}
	ready, err := open(in.Ready, os.O_RDONLY)
	if err != nil {
		return addrs, nil, err
	}
	err = json.NewDecoder(ready).Decode(&addrs)
	ready.Close()
	if err != nil {
		return addrs, nil, fmt.Errorf("broker: reading its addresses: %w", err)
	}
	stopW, err := open(in.Stop, os.O_WRONLY)
	if err != nil {
		return addrs, nil, err
	}
	return addrs, func() (brokerChild, error) {
		stopW.Close()
		<-exited
		return res, runErr
	}, nil
}
