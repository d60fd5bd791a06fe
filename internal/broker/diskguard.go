package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// WriteGate makes the broker ask check before it writes a produced batch:
// while check returns an error (the data directory is full), the batch is
// answered KAFKA_STORAGE_ERROR and not written. Clients treat that error as
// retriable, so producers hold their records and deliver them once check
// allows writes again. Without a gate, kfake meets the full disk itself,
// in the middle of a write, and answers UNKNOWN_SERVER_ERROR, which
// clients do not retry.
func WriteGate(check func() error) Opt { return func(c *config) { c.gate = check } }

// storageFull is the refusal: KAFKA_STORAGE_ERROR, with a message (sent to
// clients of Produce v8 and later) that says which storage and why. The
// free bytes are in the broker's log, not here: a kfake fault answers with
// one fixed error.
var storageFull = &kerr.Error{
	Message:     "KAFKA_STORAGE_ERROR: the broker's data directory has less free space than its reserve; writes resume once space is freed",
	Code:        kerr.KafkaStorageError.Code,
	Retriable:   kerr.KafkaStorageError.Retriable,
	Description: kerr.KafkaStorageError.Description,
}

// refuseProduceWhile answers every partition of a Produce request with
// storageFull while check returns an error. It is a kfake fault, not a
// control function: a fault is checked after the connection has
// authenticated, on the cluster's goroutine, and keeps nothing of the
// requests it sees, where a control runs before authentication, in a
// goroutine of its own per request, and keeps each connection's last
// request for the cluster's life.
func refuseProduceWhile(c *kfake.Cluster, check func() error) {
	c.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Produce},
		Err:   storageFull,
		Count: -1,
		When:  func(kmsg.Request) bool { return check() != nil },
	})
}
