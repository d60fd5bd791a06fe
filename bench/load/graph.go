package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/bench/internal/report"
	"github.com/rdgraph/rdg/bench/internal/rig"
	"github.com/rdgraph/rdg/examples"
	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/jobrun"
	"github.com/rdgraph/rdg/internal/stack"
	"github.com/rdgraph/rdg/internal/writer"
)

// graphSpec determines the graph: the demo world and how many of its
// events went in.
type graphSpec struct {
	Members int   `json:"members"`
	Events  int64 `json:"events"`
	Seed    int64 `json:"seed"`
}

// dir is where the graph of s lives under root: one data directory per
// spec, so that -reuse never serves another graph.
func (s graphSpec) dir(root string) string {
	return filepath.Join(root, fmt.Sprintf("m%d-e%d-s%d", s.Members, s.Events, s.Seed))
}

// graphInfo is what the build made.
type graphInfo struct {
	graphSpec
	Nodes      int64   `json:"nodes"`
	Edges      int64   `json:"edges"`
	BuildSecs  float64 `json:"build_seconds,omitempty"`
	StoreBytes int64   `json:"store_bytes"`
}

const infoFile = "load-graph.json"

// ensureGraph builds the graph of spec under root, or with reuse finds it
// built.
func ensureGraph(ctx context.Context, root string, spec graphSpec, reuse bool) (graphInfo, error) {
	dir := spec.dir(root)
	if reuse {
		b, err := os.ReadFile(filepath.Join(dir, infoFile))
		if err == nil {
			var gi graphInfo
			if err := json.Unmarshal(b, &gi); err == nil && gi.graphSpec == spec {
				fmt.Fprintf(os.Stderr, "reusing the graph in %s: %d nodes, %d edges\n", dir, gi.Nodes, gi.Edges)
				return gi, nil
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return graphInfo{}, err
	}
	gi, err := build(ctx, dir, spec)
	if err != nil {
		return gi, err
	}
	b, _ := json.MarshalIndent(gi, "", "  ")
	return gi, os.WriteFile(filepath.Join(dir, infoFile), b, 0o644)
}

// build runs rdg's pipeline in this process, as `rdg up` with the Netflix
// example jobs and `rdg generate --rate -1` would: events into the
// embedded broker, the jobs, the graph writer into the store under
// dir/store. It waits until the writer has committed every graph record,
// stops, and removes the broker's log, leaving the store to be served.
func build(ctx context.Context, dir string, spec graphSpec) (graphInfo, error) {
	gi := graphInfo{graphSpec: spec}
	t0 := time.Now()
	jobsDir, err := examples.WriteNetflix(filepath.Join(dir, "example"))
	if err != nil {
		return gi, err
	}
	jobs, err := stack.LoadJobs(jobsDir)
	if err != nil {
		return gi, err
	}
	world := demo.Config{Seed: spec.Seed, Members: spec.Members, Count: spec.Events, Rate: -1}
	lg := rig.Logger()
	st, err := stack.Start(ctx, stack.Config{
		DataDir: dir, KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		Jobs: jobs, GraphPartitions: 2, Logger: lg,
		BeforeJobs: rig.PublishCatalog(world, 2),
	})
	if err != nil {
		return gi, err
	}
	defer st.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.Seeds()...), kgo.ProducerLinger(5*time.Millisecond), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return gi, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	fmt.Fprintf(os.Stderr, "building the graph: %d events of %d members through the example jobs\n", spec.Events, spec.Members)
	if _, err := demo.Run(ctx, cl, st.Registry(), world, nil); err != nil {
		return gi, err
	}
	// Every job has read its source, and published and had acknowledged
	// what it made of it; then the writer has stored all of that.
	for _, j := range jobs {
		ends, err := rig.EndOffsets(ctx, adm, j.Spec.Source.Topic)
		if err != nil {
			return gi, err
		}
		if err := waitCommitted(ctx, adm, jobrun.Group(j.Spec.Name), j.Spec.Source.Topic, ends); err != nil {
			return gi, err
		}
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return gi, err
	}
	for _, t := range topics.Names() {
		if !strings.HasPrefix(t, codec.NodeTopicPrefix) && !strings.HasPrefix(t, codec.EdgeTopicPrefix) {
			continue
		}
		ends, err := rig.EndOffsets(ctx, adm, t)
		if err != nil {
			return gi, err
		}
		if err := waitCommitted(ctx, adm, writer.Group("default"), t, ends); err != nil {
			return gi, err
		}
	}
	api := rdgv1connect.NewGraphServiceClient(http.DefaultClient, st.APIURL())
	stats, err := api.Stats(ctx, connect.NewRequest(&rdgv1.StatsRequest{}))
	if err != nil {
		return gi, err
	}
	if stats.Msg.GetPartial() {
		return gi, errors.New("statistics of the built graph took longer than the deadline")
	}
	for _, tc := range stats.Msg.GetNodeTypes() {
		gi.Nodes += tc.GetCount()
	}
	for _, tc := range stats.Msg.GetEdgeTypes() {
		gi.Edges += tc.GetCount()
	}
	if err := st.Close(); err != nil {
		return gi, err
	}
	// The query server starts with an empty broker: the graph is in the
	// store.
	for _, sub := range []string{"kafka", "example"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return gi, err
		}
	}
	gi.BuildSecs = time.Since(t0).Seconds()
	gi.StoreBytes, _ = report.DirSize(filepath.Join(dir, "store"))
	fmt.Fprintf(os.Stderr, "built %d nodes, %d edges in %.0f s\n", gi.Nodes, gi.Edges, gi.BuildSecs)
	return gi, nil
}

func waitCommitted(ctx context.Context, adm *kadm.Client, group, topic string, ends map[int32]int64) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := rig.WaitCommitted(wctx, adm, group, topic, ends, 200*time.Millisecond); err != nil {
		return fmt.Errorf("waiting for %s to commit %s: %w", group, topic, err)
	}
	return nil
}
