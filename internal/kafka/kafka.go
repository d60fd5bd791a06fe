// Package kafka owns rdg's Kafka client side: the client options built
// from one Cluster value (seeds, TLS, SASL, extra franz-go options),
// creating the topics rdg writes to (graph and dead-letter topics, with the
// configs they need), raising a topic's record size limit, waiting for a
// cluster to answer, telling a refused record from an undelivered one,
// the errors of an offset commit, and the adapter that sends franz-go's
// log to slog.
//
// kafka talks to whatever cluster its seeds reach: it must not import
// kfake or the embedded broker (internal/broker), so that the parts of
// rdg that are Kafka clients do not link a broker. It knows nothing of
// rdg's data: jobs, graph elements, Avro or stores.
package kafka

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/rdgraph/rdg/internal/access"
)

// Cluster says how a client reaches a Kafka cluster. The zero value of
// every field but Seeds means plaintext without SASL and no extra options.
type Cluster struct {
	// Seeds are the bootstrap brokers (host:port).
	Seeds []string
	// SASL, if set, authenticates every connection with Mechanism.
	SASL *access.Credentials
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any case);
	// empty means access.DefaultMechanism.
	Mechanism string
	// TLS, if set, encrypts every connection; nil is plaintext.
	TLS *tls.Config
	// Opts are further client options, applied after everything else.
	// They must not configure consuming or producing: each client sets
	// those itself.
	Opts []kgo.Opt
}

// ClientOpts are the franz-go options of a client of c: the seeds, then
// own (the client's own settings), then SASL, TLS and c.Opts, which thus
// win over own. It fails only on an unknown SASL mechanism.
func (c Cluster) ClientOpts(own ...kgo.Opt) ([]kgo.Opt, error) {
	opts := make([]kgo.Opt, 0, 3+len(own)+len(c.Opts))
	if len(c.Seeds) > 0 {
		opts = append(opts, kgo.SeedBrokers(c.Seeds...))
	}
	opts = append(opts, own...)
	if c.SASL != nil {
		m, err := mechanism(c.Mechanism, *c.SASL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS))
	}
	return append(opts, c.Opts...), nil
}

// NewClient is a franz-go client of c with own settings (see ClientOpts).
func (c Cluster) NewClient(own ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.ClientOpts(own...)
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(opts...)
}

// mechanism is the franz-go SASL mechanism of name (any case; empty means
// access.DefaultMechanism) authenticating as cr.
func mechanism(name string, cr access.Credentials) (sasl.Mechanism, error) {
	if name == "" {
		name = access.DefaultMechanism
	}
	switch strings.ToUpper(name) {
	case access.Plain:
		return plain.Auth{User: cr.User, Pass: cr.Password}.AsMechanism(), nil
	case access.ScramSHA256:
		return scram.Auth{User: cr.User, Pass: cr.Password}.AsSha256Mechanism(), nil
	case access.ScramSHA512:
		return scram.Auth{User: cr.User, Pass: cr.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("SASL mechanism %q: want %s", name, strings.Join(access.Mechanisms, ", "))
}
