package registry

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestZZCompactDebug(t *testing.T) {
	c := newCluster(t, kfake.DataDir(t.TempDir()))
	e := start(t, c)
	populate(t, e)
	e.stop()
	count := func() int {
		cl, _ := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("_schemas"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		defer cl.Close()
		n := 0
		for {
			fs := cl.PollFetches(ctx(t))
			done := false
			fs.EachRecord(func(r *kgo.Record) { n++; t.Logf("%d %s %s", r.Offset, r.Key, r.Value); if string(r.Key) == `{"keytype":"NOOP","magic":0}` && r.Offset > 5 { done = true } })
			if done { return n }
		}
	}
	t.Log(count())
	c.Compact()
	t.Log(count())
}
