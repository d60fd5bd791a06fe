package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Topic describes a topic rdg creates.
type Topic struct {
	Name       string
	Partitions int32
	// Compact selects cleanup.policy=compact: the topic keeps the latest
	// record per key, as graph topics and the schemas topic need.
	Compact bool
}

// EnsureTopics creates the topics that do not exist yet. Existing topics are
// left as they are, whatever their partition count.
func EnsureTopics(ctx context.Context, adm *kadm.Client, topics ...Topic) error {
	for _, t := range topics {
		var configs map[string]*string
		if t.Compact {
			compact := "compact"
			configs = map[string]*string{"cleanup.policy": &compact}
		}
		parts := t.Partitions
		if parts <= 0 {
			parts = 1
		}
		resp, err := adm.CreateTopic(ctx, parts, -1, configs, t.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t.Name, err)
		}
	}
	return nil
}

// DefaultMaxRecordBytes is the largest record franz-go's producer sends
// unless told otherwise (ProducerBatchMaxBytes), which Kafka's default
// max.message.bytes admits.
const DefaultMaxRecordBytes = 1_000_012

// RaiseMaxMessageBytes sets topic's max.message.bytes to want and returns
// the largest record a producer may send to it: want, or, where the
// cluster does not let rdg alter the topic (an external cluster), the
// topic's own limit but at most want (DefaultMaxRecordBytes if it cannot
// be read either), with the reason it could not be raised.
func RaiseMaxMessageBytes(ctx context.Context, adm *kadm.Client, topic string, want int32) (int32, error) {
	v := strconv.Itoa(int(want))
	resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: &v}}, topic)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = resp.On(topic, nil); err == nil {
			err = r.Err
		}
	}
	if err == nil {
		return want, nil
	}
	limit := min(int32(DefaultMaxRecordBytes), want)
	if rcs, derr := adm.DescribeTopicConfigs(ctx, topic); derr == nil {
		if rc, derr := rcs.On(topic, nil); derr == nil && rc.Err == nil {
			for _, c := range rc.Configs {
				if c.Key != "max.message.bytes" {
					continue
				}
				if n, perr := strconv.Atoi(c.MaybeValue()); perr == nil && n > 0 {
					limit = int32(min(n, int(want)))
				}
			}
		}
	}
	return limit, err
}

// WaitReachable waits until a Kafka cluster answers metadata requests, so a
// process started alongside its broker fails with a clear message rather
// than a stream of connection errors.
func WaitReachable(ctx context.Context, adm *kadm.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		_, err := adm.BrokerMetadata(ctx)
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka not reachable after %s: %w", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
