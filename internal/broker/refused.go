package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
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
