// Package broker runs rdg's embedded Kafka broker (franz-go's kfake), with
// its access (SASL, TLS) and its refusal of writes while a gate says the
// disk is full, and owns the topic administration that every part of rdg
// shares: creating source, graph, dead-letter and internal topics with the
// configs they need.
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
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// KgoLogger adapts l for franz-go clients: their warnings and errors go to
// l; their info and debug chatter (joins, heartbeats) does not.
func KgoLogger(l *slog.Logger) kgo.Logger { return kgoLogger{l} }

type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelWarn
	if level == kgo.LogLevelError {
		lvl = slog.LevelError
	}
	k.l.Log(context.Background(), lvl, "kafka client: "+msg, keyvals...)
}
