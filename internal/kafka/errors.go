package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// RecordRefused reports whether err is a broker's (or the producer's)
// refusal of a record for what it is: too large for the topic, invalid, a
// timestamp the topic does not take. Sending it again as it is would be
// refused again, unlike a failure to deliver it (a broker that is down),
// which a retry or a restart gets past.
func RecordRefused(err error) bool {
	return err != nil && (errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.InvalidTimestamp))
}

// CommitError is the first error of an offset commit's answer: the
// request's, or else the first partition's error code. A nil answer with
// no error (nothing was to be committed) is no error.
func CommitError(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil || resp == nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}
