// Package broker runs rdg's embedded Kafka broker (franz-go's kfake), with
// its access (SASL, TLS) and its refusal of writes while a gate says the
// disk is full. It only embeds: what a Kafka client needs (client options,
// topic creation, commit errors, logging) is internal/kafka's, so that
// clients do not link kfake.
//
// broker knows Kafka and nothing of rdg's data: it must not know jobs,
// graph elements, Avro or stores.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rdgraph/rdg/internal/access"
)

// Embedded is an in-process single-broker Kafka cluster listening on real
// TCP, so any Kafka client can use it.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
	cfg     config
}

type config struct {
	addr    string
	dataDir string
	sync    bool
	log     *slog.Logger
	// Access: see SASL and TLS.
	saslUser, saslPass string
	tls                *tls.Config
	gate               func() error // see WriteGate
}

// Opt configures Start.
type Opt func(*config)

// Addr sets the listen address, host:port. The default is 127.0.0.1:9092;
// port 0 picks a free port (see Embedded.Addr).
func Addr(hostport string) Opt { return func(c *config) { c.addr = hostport } }

// DataDir persists topics, records and committed offsets under dir so that
// they survive a restart. Without it everything lives in memory.
func DataDir(dir string) Opt { return func(c *config) { c.dataDir = dir } }

// SyncWrites fsyncs every produced batch before acknowledging it: slower,
// but an acknowledged record survives a machine crash, not just a process
// crash.
func SyncWrites() Opt { return func(c *config) { c.sync = true } }

// Logger sets the logger for broker warnings and errors.
func Logger(l *slog.Logger) Opt { return func(c *config) { c.log = l } }

// SASL makes every connection authenticate as user with password, by SASL
// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, before any other request; an
// unauthenticated or wrongly authenticated connection is closed. user is
// the only one (a superuser: there are no ACLs). The users are exactly
// those of the options: kfake's own record of SASL users in the data
// directory, which would otherwise override them at the next start and
// holds PLAIN passwords in clear, is deleted at start and stop, so users
// added at run time (AlterUserScramCredentials) do not survive a restart.
func SASL(user, password string) Opt {
	return func(c *config) { c.saslUser, c.saslPass = user, password }
}

// TLS serves TLS only, with cfg (its certificate, or GetCertificate to
// pick up a renewed one).
func TLS(cfg *tls.Config) Opt { return func(c *config) { c.tls = cfg } }

// saslFile is where kfake persists SASL users in its data directory.
const saslFile = "sasl.json"

// accessOpts are the kfake options for SASL and TLS.
func (cfg *config) accessOpts() []kfake.Opt {
	var kopts []kfake.Opt
	if cfg.saslUser != "" {
		kopts = append(kopts, kfake.EnableSASL())
		for _, m := range access.Mechanisms {
			kopts = append(kopts, kfake.Superuser(m, cfg.saslUser, cfg.saslPass))
		}
	}
	if cfg.tls != nil {
		t := cfg.tls.Clone()
		t.NextProtos = nil // Kafka clients negotiate no application protocol
		kopts = append(kopts, kfake.TLS(t))
	}
	return kopts
}

// forgetSASLUsers deletes kfake's record of SASL users (see SASL).
func (cfg *config) forgetSASLUsers() error {
	if cfg.dataDir == "" {
		return nil
	}
	if err := os.Remove(filepath.Join(cfg.dataDir, saslFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("broker: remove persisted SASL users: %w", err)
	}
	return nil
}

// Start starts the embedded broker and returns once it accepts connections.
func Start(opts ...Opt) (*Embedded, error) {
	cfg := config{addr: "127.0.0.1:9092", log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	host, portStr, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: %w", cfg.addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("broker address %q: bad port", cfg.addr)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("rdg"),
		kfake.WithLogger(kfakeLogger{cfg.log}),
		// kfake listens on 127.0.0.1 by default; honour the host asked for.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
	}
	if cfg.dataDir != "" {
		if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("broker data directory: %w", err)
		}
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
	}
	if cfg.sync {
		kopts = append(kopts, kfake.SyncWrites())
	}
	kopts = append(kopts, cfg.accessOpts()...)
	if err := cfg.forgetSASLUsers(); err != nil {
		return nil, err
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			return nil, fmt.Errorf("start embedded Kafka on %s (is another broker running? use --kafka-addr or --brokers): %w", cfg.addr, err)
		}
		return nil, fmt.Errorf("start embedded Kafka: %w", err)
	}
	if cfg.gate != nil {
		refuseProduceWhile(c, cfg.gate)
	}
	e := &Embedded{cluster: c, addr: c.ListenAddrs()[0], cfg: cfg}
	if err := cfg.forgetSASLUsers(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Addr is the address clients connect to.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the broker, persisting its state if it has a data directory.
func (e *Embedded) Close() {
	e.cluster.Close()
	if err := e.cfg.forgetSASLUsers(); err != nil {
		e.cfg.log.Warn(err.Error())
	}
}

// Compact runs log compaction on every compacted topic now rather than on
// the broker's cleaner schedule.
func (e *Embedded) Compact() { e.cluster.Compact() }

type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	if level > kfake.LogLevelWarn {
		return
	}
	lvl := slog.LevelWarn
	if level == kfake.LogLevelError {
		lvl = slog.LevelError
	}
	k.l.Log(context.Background(), lvl, "kafka: "+fmt.Sprintf(msg, args...))
}
