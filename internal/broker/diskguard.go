package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// WriteGate makes the broker ask check before it writes a produced batch:
// while check returns an error (the data directory is full), every
// partition of a Produce request is answered KAFKA_STORAGE_ERROR with the
// error's text, and nothing is written. Clients treat that error as
// retriable, so producers hold their records and deliver them once check
// allows writes again. Without a gate, kfake meets the full disk itself,
// in the middle of a write, and answers UNKNOWN_SERVER_ERROR, which
// clients do not retry.
func WriteGate(check func() error) Opt { return func(c *config) { c.gate = check } }

// refuseProduceWhile answers Produce requests with KAFKA_STORAGE_ERROR
// while check returns an error, and leaves them to the broker otherwise.
func refuseProduceWhile(c *kfake.Cluster, check func() error) {
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		err := check()
		if err == nil {
			return nil, nil, false
		}
		return refusedProduce(req.(*kmsg.ProduceRequest), err.Error()), nil, true
	})
}

// refusedProduce is the answer to req that refuses every partition with
// KAFKA_STORAGE_ERROR; nil (no answer) for acks=0, which expects none.
func refusedProduce(req *kmsg.ProduceRequest, msg string) kmsg.Response {
	if req.Acks == 0 {
		return nil
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = kerr.KafkaStorageError.Code
			sp.BaseOffset, sp.LogStartOffset = -1, -1
			if req.Version >= 8 {
				sp.ErrorMessage = &msg
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
