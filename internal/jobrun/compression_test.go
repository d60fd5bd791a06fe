package jobrun

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/testkit"
)

// TestRunCompression runs a job per tuning.compression value against a
// real broker and reads the codec of the graph topic's batches from the
// fetched records' attributes: the setting reaches the wire, and none
// means uncompressed batches a consumer without codecs can read.
func TestRunCompression(t *testing.T) {
	e := testkit.NewEnv(t)
	ctx := testkit.Ctx(t)
	seeds := e.Cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	const n = 200
	for _, tc := range []struct {
		setting string // "" leaves the key out: the default
		want    uint8  // the record batch's compression attribute
	}{
		{"none", 0},
		{"", 2},
		{"snappy", 2},
		{"gzip", 1},
		{"lz4", 3},
		{"zstd", 4},
	} {
		name := tc.setting
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			source, typ := "src."+name, "c_"+name
			if _, err := adm.CreateTopic(ctx, 1, 1, nil, source); err != nil {
				t.Fatal(err)
			}
			id, sch := e.Register(t, codec.Subject(source), visitV1)
			// Repetitive properties, so that every codec shrinks a batch
			// (franz-go sends a batch uncompressed when compressing it
			// would not make it smaller).
			var recs []*kgo.Record
			for i := range n {
				v := testkit.Encode(t, id, sch, visitV1Rec{MemberID: fmt.Sprintf("m-%d", i), TitleID: strings.Repeat("the same title ", 20)})
				recs = append(recs, &kgo.Record{Topic: source, Value: v})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			src := fmt.Sprintf("name: %s\nsource: {topic: %s}\nnodes: [{type: %s, id: member_id, props: {title: title_id}}]\n", typ, source, typ)
			if tc.setting != "" {
				src += "tuning: {compression: " + tc.setting + "}\n"
			}
			j := compileJob(t, "inline.yaml", src)
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- Run(runCtx, j, RunConfig{Seeds: seeds, Registry: e.Reg, GraphPartitions: 1, Logger: slog.New(slog.DiscardHandler)})
			}()
			defer func() {
				stop()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			got := readAll(t, seeds, []string{codec.NodeTopic(typ)}, n)
			codecs := map[uint8]int{}
			for _, r := range got {
				codecs[r.Attrs.CompressionType()]++
			}
			if len(codecs) != 1 || codecs[tc.want] != len(got) {
				t.Fatalf("batches' compression attributes (record counts by codec) %v; want all %d records with codec %d", codecs, len(got), tc.want)
			}
		})
	}
}
