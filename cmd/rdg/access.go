package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/access"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/stack"
)

// accessFlags are how rdg's clients authenticate to Kafka and the schema
// registry and verify them, and, on `rdg up`, what its embedded broker and
// registry require. Every command that talks to Kafka or a registry has
// them.
type accessFlags struct {
	credentialsFile string

	kafkaCredentialsFile string
	saslMechanism        string
	kafkaTLS             bool
	kafkaCA              string
	kafkaCert, kafkaKey  string

	registryCredentialsFile string
	registryCA              string
	registryCert            string
	registryKey             string
}

// add registers the flags; kafka and registry say which of the two the
// command talks to.
func (f *accessFlags) add(cmd *cobra.Command, persistent, kafka, registry bool) {
	fl := cmd.Flags()
	if persistent {
		fl = cmd.PersistentFlags()
	}
	fl.StringVar(&f.credentialsFile, "credentials-file", "", "file of one line user:password: the SASL user for Kafka and the basic-auth user for the registry")
	if kafka {
		fl.StringVar(&f.kafkaCredentialsFile, "kafka-credentials-file", "", "user:password file for Kafka SASL, if not --credentials-file's")
		fl.StringVar(&f.saslMechanism, "kafka-sasl-mechanism", access.DefaultMechanism, "SASL mechanism with credentials: "+strings.Join(access.Mechanisms, ", "))
		fl.BoolVar(&f.kafkaTLS, "kafka-tls", false, "connect to Kafka over TLS, verifying brokers against the system's roots (or --kafka-ca-file)")
		fl.StringVar(&f.kafkaCA, "kafka-ca-file", "", "PEM certificates to verify Kafka brokers with (implies --kafka-tls)")
		fl.StringVar(&f.kafkaCert, "kafka-cert-file", "", "PEM client certificate for Kafka TLS (implies --kafka-tls; needs --kafka-key-file)")
		fl.StringVar(&f.kafkaKey, "kafka-key-file", "", "PEM private key of --kafka-cert-file")
	}
	if registry {
		fl.StringVar(&f.registryCredentialsFile, "registry-credentials-file", "", "user:password file for the registry's basic auth, if not --credentials-file's")
		fl.StringVar(&f.registryCA, "registry-ca-file", "", "PEM certificates to verify an https:// registry with")
		fl.StringVar(&f.registryCert, "registry-cert-file", "", "PEM client certificate for an https:// registry (needs --registry-key-file)")
		fl.StringVar(&f.registryKey, "registry-key-file", "", "PEM private key of --registry-cert-file")
	}
}

// credentials reads own, a client's own credentials file, or if it is
// not given --credentials-file; nil without either.
func (f *accessFlags) credentials(own string) (*access.Credentials, error) {
	file := orDefault(own, f.credentialsFile)
	if file == "" {
		return nil, nil
	}
	c, err := access.ReadCredentialsFile(file)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// kafkaSet says whether a Kafka client flag other than --credentials-file
// was given.
func (f *accessFlags) kafkaSet() bool {
	return f.kafkaCredentialsFile != "" || f.kafkaTLS || f.kafkaCA != "" || f.kafkaCert != "" || f.kafkaKey != ""
}

func (f *accessFlags) registrySet() bool {
	return f.registryCredentialsFile != "" || f.registryCA != "" || f.registryCert != "" || f.registryKey != ""
}

// kafka is the Kafka cluster at seeds as the flags say to reach it. Its
// SASL mechanism is checked here, so that a bad one fails before any
// client is made.
func (f *accessFlags) kafka(seeds []string) (kafka.Cluster, error) {
	creds, err := f.credentials(f.kafkaCredentialsFile)
	if err != nil {
		return kafka.Cluster{}, err
	}
	k := kafka.Cluster{Seeds: seeds, SASL: creds, Mechanism: f.saslMechanism}
	if (f.kafkaCert == "") != (f.kafkaKey == "") {
		return kafka.Cluster{}, errors.New("--kafka-cert-file and --kafka-key-file go together")
	}
	if f.kafkaTLS || f.kafkaCA != "" || f.kafkaCert != "" || f.kafkaKey != "" {
		if k.TLS, err = access.ClientTLS(f.kafkaCA, f.kafkaCert, f.kafkaKey); err != nil {
			return kafka.Cluster{}, fmt.Errorf("kafka: %w", err)
		}
	}
	if _, err := k.ClientOpts(); err != nil {
		return kafka.Cluster{}, err
	}
	return k, nil
}

// registry are the client options for the registry at url.
func (f *accessFlags) registry(url string) ([]sr.ClientOpt, error) {
	creds, err := f.credentials(f.registryCredentialsFile)
	if err != nil {
		return nil, err
	}
	r := access.Registry{Basic: creds}
	if (f.registryCert == "") != (f.registryKey == "") {
		return nil, errors.New("--registry-cert-file and --registry-key-file go together")
	}
	if f.registryCA != "" || f.registryCert != "" || f.registryKey != "" {
		if !strings.HasPrefix(url, "https://") {
			return nil, fmt.Errorf("--registry-ca-file, --registry-cert-file and --registry-key-file need an https:// registry URL, not %q", url)
		}
		if r.TLS, err = access.ClientTLS(f.registryCA, f.registryCert, f.registryKey); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	return r.Opts(), nil
}

// registryClient is an sr client of the registry at url.
func (f *accessFlags) registryClient(url string) (*sr.Client, error) {
	opts, err := f.registry(url)
	if err != nil {
		return nil, err
	}
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(url)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return cl, nil
}

// apply sets a stack's access: the credentials its embedded listeners
// require, and the client options for an external Kafka and registry.
func (f *accessFlags) apply(cfg *stack.Config) error {
	creds, err := f.credentials("")
	if err != nil {
		return err
	}
	cfg.Credentials = creds
	embeddedKafka, embeddedRegistry := len(cfg.Kafka.Seeds) == 0, cfg.RegistryURL == ""
	switch {
	case embeddedKafka && f.kafkaSet():
		return errors.New("--kafka-credentials-file, --kafka-tls, --kafka-ca-file, --kafka-cert-file and --kafka-key-file are for an external cluster (--brokers); the embedded broker takes --credentials-file and --tls-cert/--tls-key")
	case embeddedRegistry && f.registrySet():
		return errors.New("--registry-credentials-file, --registry-ca-file, --registry-cert-file and --registry-key-file are for an external registry (--registry); the embedded one takes --credentials-file and --tls-cert/--tls-key")
	}
	if !embeddedKafka {
		if cfg.Kafka, err = f.kafka(cfg.Kafka.Seeds); err != nil {
			return err
		}
	}
	if !embeddedRegistry {
		if cfg.RegistryOpts, err = f.registry(cfg.RegistryURL); err != nil {
			return err
		}
	}
	return nil
}

// exposed is a listener reachable from other machines without credentials.
type exposed struct{ listener, addr, fix string }

// exposedListeners lists the listeners of cfg that anyone who can reach
// the machine can use: on an address that is not loopback, without
// credentials.
func exposedListeners(cfg *stack.Config) []exposed {
	var out []exposed
	if len(cfg.Kafka.Seeds) == 0 && cfg.Credentials == nil && !loopback(orDefault(cfg.KafkaAddr, "127.0.0.1:9092")) {
		out = append(out, exposed{"embedded Kafka broker", cfg.KafkaAddr, "--credentials-file"})
	}
	if cfg.RegistryURL == "" && cfg.Credentials == nil && !loopback(orDefault(cfg.RegistryAddr, "127.0.0.1:8081")) {
		out = append(out, exposed{"schema registry", cfg.RegistryAddr, "--credentials-file"})
	}
	if cfg.APIAddr != "" && cfg.Token == "" && !loopback(cfg.APIAddr) {
		out = append(out, exposed{"query API", cfg.APIAddr, "--credentials-file or --token-file"})
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// warnExposed logs one warning per exposed listener.
func warnExposed(cfg *stack.Config) {
	for _, e := range exposedListeners(cfg) {
		slog.Warn("the "+e.listener+" listens beyond this machine without credentials: anyone who reaches it can read and change what it holds; require them with "+e.fix+" (and TLS with --tls-cert/--tls-key)",
			"listener", e.listener, "addr", e.addr)
	}
}
