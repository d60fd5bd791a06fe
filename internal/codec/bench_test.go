package codec_test

import (
	"context"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
)

// benchNode and benchEdge are shaped like the demo playback job's output:
// a title with three string properties and a watched edge with three.
func benchNode() *graph.Node {
	ts := int64(1_700_000_000_123)
	return &graph.Node{NodeRef: graph.NodeRef{Type: "title", ID: "t-0012345"},
		Props: graph.Props{
			"name":  {Value: "The Long Goodbye, part 2", TS: ts},
			"genre": {Value: "drama", TS: ts},
			"kind":  {Value: "show", TS: ts},
		}, FirstSeen: ts, LastSeen: ts, UpdatedAt: ts + 3}
}

func benchEdge() *graph.Edge {
	ts := int64(1_700_000_000_123)
	return &graph.Edge{EdgeRef: graph.EdgeRef{Type: "watched",
		From: graph.NodeRef{Type: "account", ID: "m-0001234"},
		To:   graph.NodeRef{Type: "title", ID: "t-0012345"}},
		Props: graph.Props{
			"last_event":  {Value: "PLAY_STOP", TS: ts},
			"device":      {Value: "d-0004567", TS: ts},
			"position_ms": {Value: int64(1_234_567), TS: ts},
		}, FirstSeen: ts, LastSeen: ts, UpdatedAt: ts + 3}
}

// BenchmarkEncode is the publisher's per-element cost: one graph topic
// record per call.
func BenchmarkEncode(b *testing.B) {
	el := codec.NewElementsWithIDs(1, 2)
	n, e := benchNode(), benchEdge()
	b.Run("node", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := el.NodeRecord(n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("edge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := el.EdgeRecord(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecode is the graph writer's per-record decode cost.
func BenchmarkDecode(b *testing.B) {
	el := codec.NewElementsWithIDs(1, 2)
	ctx := context.Background()
	nb, err := el.AppendNode(nil, benchNode())
	if err != nil {
		b.Fatal(err)
	}
	eb, err := el.AppendEdge(nil, benchEdge())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("node", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(nb)))
		for b.Loop() {
			if _, err := el.DecodeNode(ctx, nb); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("edge", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(eb)))
		for b.Loop() {
			if _, err := el.DecodeEdge(ctx, eb); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBoundedUnmarshal is what the bounds check adds to a record that
// goes to hamba: a playback-like record with a tag array and an attribute
// map, decoded by hamba alone (avro.Unmarshal), checked alone, and both
// (codec.Unmarshal, what the hamba paths run).
func BenchmarkBoundedUnmarshal(b *testing.B) {
	sch := avro.MustParse(`{"type":"record","name":"P","fields":[
		{"name":"event_id","type":"string"},{"name":"event_ts","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"member_id","type":"string"},{"name":"title_id","type":"string"},{"name":"episode_id","type":["null","string"]},
		{"name":"position_ms","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}},
		{"name":"attrs","type":{"type":"map","values":"long"}}]}`)
	body, err := avro.Marshal(sch, map[string]any{"event_id": "e-000123456", "event_ts": time.UnixMilli(1_700_000_000_123),
		"member_id": "m-0001234", "title_id": "t-0012345", "episode_id": "t-0012345-s1e3", "position_ms": int64(1_234_567),
		"tags": []string{"drama", "hd", "en"}, "attrs": map[string]any{"bitrate": int64(4500), "buffering_ms": int64(120)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hamba", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			if err := avro.Unmarshal(sch, body, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			if err := codec.DefaultDecoder.Check(sch, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bounded", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			if err := codec.Unmarshal(sch, body, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
