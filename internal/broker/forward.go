package broker

import "github.com/rdgraph/rdg/internal/kafka"

// Forwarding for internal/job and internal/dlq until they import internal/kafka.
type Topic = kafka.Topic

// Forwarding for internal/job and internal/dlq until they import internal/kafka.
const DefaultMaxRecordBytes = kafka.DefaultMaxRecordBytes

// Forwarding for internal/job and internal/dlq until they import internal/kafka.
var (
	EnsureTopics         = kafka.EnsureTopics
	RaiseMaxMessageBytes = kafka.RaiseMaxMessageBytes
	CommitError          = kafka.CommitError
	RecordRefused        = kafka.RecordRefused
	KgoLogger            = kafka.KgoLogger
)
