package broker

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// The full-disk refusal comes after authentication: a client that never
// logged in gets its connection closed, as for any request, not an answer
// from the write gate (which would also tell it about the broker's disk).
func TestWriteGateAfterAuthentication(t *testing.T) {
	ctx := testCtx(t)
	b := start(t, SASL("rdg", "s3cret"), WriteGate(func() error {
		return errors.New("data directory /secret/path is full: 42 bytes free")
	}))
	raw, _ := client(t, b.Addr(), kgo.MaxVersions(kversion.V3_0_0()), kgo.RequestRetries(0)) // no SASL
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = []byte("never read")
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, raw)
	if err == nil {
		code := int16(0)
		if len(resp.Topics) > 0 && len(resp.Topics[0].Partitions) > 0 {
			code = resp.Topics[0].Partitions[0].ErrorCode
		}
		t.Fatalf("an unauthenticated produce was answered (error %v), want the connection closed", kerr.ErrorForCode(code))
	}
}
