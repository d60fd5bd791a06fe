// Package registry is rdg's embedded schema registry: a server for the
// Confluent Schema Registry REST API that keeps its schemas in a compacted
// Kafka topic, so that any Confluent client (franz-go's sr, the Java and
// Python serdes, curl) can use it unchanged.
//
// It owns the registry's HTTP API, its in-memory state (subjects, versions,
// global schema ids, compatibility configuration), the persistence of that
// state in the topic (in the record format Confluent uses in _schemas, so
// either registry can read the other's topic), and Avro compatibility checks.
// It knows nothing about jobs, the graph or stores: to them it is just a
// registry URL.
//
// Durability: every write is produced to the topic with acks=all and
// acknowledged by the broker before it is applied to memory and answered,
// so an answered write survives a restart. On start the topic is read to its
// end and the state rebuilt from it. The state is a function of the last
// value of each key, so log compaction never changes what a restart sees.
//
// Hostile requests: with BasicAuth every request needs the credentials;
// Protect keeps the subjects the caller names from being deleted; a body is
// read up to 1 MiB, a write must fit one record of the topic, and a schema
// must stay within shape limits (see compat.go) that bound the time its
// parse and compatibility check take. Every refusal is a Confluent error
// body, {"error_code":..., "message":...}.
//
// A single registry process must be the only writer of the topic: schema ids
// are assigned as max+1 and versions as latest+1 from the rebuilt state, and
// a concurrent writer would hand out the same ids. Confluent solves this with
// leader election; rdg runs one registry per cluster instead.
package registry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/kafka"
)

// writeTimeout bounds one produce. It is deliberately not the HTTP request's
// context: a client that hangs up mid-write must not leave us unsure whether
// the record reached the log.
const writeTimeout = 30 * time.Second

// Opt configures a Server.
type Opt interface{ apply(*config) }

type opt struct{ fn func(*config) }

func (o opt) apply(c *config) { o.fn(c) }

type config struct {
	kafka  kafka.Cluster
	topic  string
	logger *slog.Logger
	// auth is the sha256 of "user:password" every request must carry as
	// HTTP basic auth; nil is an open registry.
	auth *[sha256.Size]byte
	// protected says which subjects may not be deleted.
	protected func(subject string) bool
	// err is an option's refusal, which New returns.
	err error
}

// Cluster sets the Kafka cluster that holds the schemas topic. Its options
// must not configure consuming or a default produce topic: the registry
// sets those itself.
func Cluster(k kafka.Cluster) Opt {
	return opt{func(c *config) { c.kafka = k }}
}

// Seeds is Cluster for a plaintext cluster without SASL at addrs
// (host:port), as tests and the embedded broker without credentials have.
func Seeds(addrs ...string) Opt {
	return Cluster(kafka.Cluster{Seeds: addrs})
}

// Topic sets the topic that holds the schemas; the default is "_schemas",
// the name Confluent uses.
func Topic(name string) Opt {
	return opt{func(c *config) { c.topic = name }}
}

// Logger sets the logger; the default discards.
func Logger(l *slog.Logger) Opt {
	return opt{func(c *config) { c.logger = l }}
}

// BasicAuth makes every request, reads included, carry user and password
// as HTTP basic auth, as Confluent clients send basic.auth.user.info; any
// other request gets 401 with error_code 401. With an empty user or
// password New fails: an option that silently lets everyone in is worse
// than none.
func BasicAuth(user, password string) Opt {
	if user == "" || password == "" {
		return opt{func(c *config) { c.err = errors.New("registry: basic auth needs a user and a password") }}
	}
	sum := sha256.Sum256([]byte(user + ":" + password))
	return opt{func(c *config) { c.auth = &sum }}
}

// Protect refuses to delete, softly or permanently, a subject for which
// match is true or any version of it: 409 with error_code 42205 (operation
// not permitted). The caller says which subjects hold schemas that records
// it cannot lose still need.
func Protect(match func(subject string) bool) Opt {
	return opt{func(c *config) { c.protected = match }}
}

// Server is a Confluent-compatible schema registry. It is an http.Handler;
// serving it on a listener is the caller's business.
type Server struct {
	cfg config
	cl  *kgo.Client // writer; also produces the end-of-log marker
	mux *http.ServeMux

	// wmu serialises writes, each of which spans check, produce and apply,
	// so two registrations cannot both see id N as free. Only the holder
	// of wmu changes st, so it may read st without mu.
	wmu sync.Mutex
	// stale is set when a produce failed: the record may or may not be in
	// the log, so memory is rebuilt from the topic before the next write.
	// Guarded by wmu.
	stale bool

	// mu guards st against the brief moment a write applies to it. It is
	// never held across a produce, so reads are served from memory even
	// while a write waits on a slow or absent broker.
	mu sync.RWMutex
	st *state

	closeOnce sync.Once
}

// New connects to Kafka, creates the topic if it does not exist, reads it to
// its end to rebuild the registry, and only then returns.
func New(ctx context.Context, opts ...Opt) (*Server, error) {
	cfg := config{topic: "_schemas"}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	cfg.logger = cfg.logger.With("component", "registry", "topic", cfg.topic)

	cl, err := cfg.kafka.NewClient(
		kgo.DefaultProduceTopic(cfg.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if err != nil {
		return nil, fmt.Errorf("registry: kafka client: %w", err)
	}
	s := &Server{cfg: cfg, cl: cl}
	if err := s.ensureTopic(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	st, err := s.load(ctx)
	if err != nil {
		cl.Close()
		return nil, err
	}
	s.st = st
	s.mux = s.routes()
	cfg.logger.Info("schema registry loaded", "subjects", len(st.subjects), "schemas", len(st.schemas), "max_id", st.maxID)
	return s, nil
}

// ServeHTTP serves the Confluent Schema Registry REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.auth != nil {
		if msg := s.unauthorized(r); msg != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="schema-registry", charset="UTF-8"`)
			writeError(w, &apiError{http.StatusUnauthorized, http.StatusUnauthorized, msg})
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// unauthorized says why r may not be served, "" if it may. User and
// password are compared together, as one hash, in constant time.
func (s *Server) unauthorized(r *http.Request) string {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "Unauthorized: this registry requires HTTP basic auth (basic.auth.user.info)"
	}
	sum := sha256.Sum256([]byte(user + ":" + pass))
	if subtle.ConstantTimeCompare(sum[:], s.cfg.auth[:]) != 1 {
		return "Unauthorized: wrong user or password"
	}
	return ""
}

// Close releases the Kafka client. Reads keep working from memory; writes
// fail with a store error.
func (s *Server) Close() {
	s.closeOnce.Do(s.cl.Close)
}

// ensureTopic creates the topic as Confluent does (one partition, because
// the log is the order of writes, and compacted, because it is a table),
// and refuses an existing topic that would lose or reorder schemas.
func (s *Server) ensureTopic(ctx context.Context) error {
	adm := kadm.NewClient(s.cl)
	topic := s.cfg.topic
	_, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic)
	switch {
	case err == nil:
		s.cfg.logger.Info("created schemas topic")
		return nil
	case !errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("registry: create topic %q: %w", topic, err)
	}

	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("registry: describe topic %q: %w", topic, err)
	}
	if err := details.Error(); err != nil {
		return fmt.Errorf("registry: describe topic %q: %w", topic, err)
	}
	if n := len(details[topic].Partitions); n != 1 {
		return fmt.Errorf("registry: topic %q has %d partitions; the schemas topic needs exactly 1 so that it orders all writes", topic, n)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return fmt.Errorf("registry: describe configs of %q: %w", topic, err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("registry: describe configs of %q: %w", topic, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil && !strings.Contains(*c.Value, "compact") {
				return fmt.Errorf("registry: topic %q has cleanup.policy=%s; it must be compact or retention would delete schemas", topic, *c.Value)
			}
		}
	}
	return nil
}

// load rebuilds the state from the whole topic. To know where "the end" is
// it first appends a NOOP marker (as Confluent does) and reads up to it: the
// high watermark alone is not enough, because compaction can leave the last
// offsets without records.
func (s *Server) load(ctx context.Context) (*state, error) {
	marker := &kgo.Record{Key: noopKey(), Partition: 0}
	if err := s.cl.ProduceSync(ctx, marker).FirstErr(); err != nil {
		return nil, fmt.Errorf("registry: write end marker to %q: %w", s.cfg.topic, err)
	}

	rd, err := s.cfg.kafka.NewClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			s.cfg.topic: {0: kgo.NewOffset().AtStart()},
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("registry: kafka reader: %w", err)
	}
	defer rd.Close()

	st := newState(s.cfg.logger)
	for {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("registry: read %q: %w", s.cfg.topic, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("registry: read %q: %w", s.cfg.topic, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if done {
				return
			}
			if err := st.apply(r.Key, r.Value); err != nil {
				s.cfg.logger.Warn("skipping unreadable record", "offset", r.Offset, "err", err)
			}
			done = r.Offset >= marker.Offset
		})
		if done {
			return st, nil
		}
	}
}

// commit writes records to the topic and, once the broker has acknowledged
// all of them, applies them to memory through the same code that replays
// the topic on start, so that a live write and its replay cannot disagree.
// The caller holds s.wmu.
func (s *Server) commit(recs ...*kgo.Record) error {
	for _, r := range recs {
		if n := len(r.Key) + len(r.Value); n > maxRecord {
			return errTooLarge(fmt.Sprintf("The schema and subject take %d bytes in the schemas topic; at most %d fit in a record", n, maxRecord))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	for _, r := range recs {
		r.Partition = 0
	}
	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		s.stale = true
		s.cfg.logger.Error("write to schemas topic failed", "err", err)
		return &apiError{http.StatusInternalServerError, 50001, "Error while writing to the schemas topic: " + err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		if err := s.st.apply(r.Key, r.Value); err != nil {
			// We encoded these records ourselves; failing to read them back
			// is a bug, not an input error.
			panic(fmt.Sprintf("registry: cannot apply own record: %v", err))
		}
	}
	return nil
}

// fresh makes sure memory matches the topic before a write. The caller
// holds s.wmu.
func (s *Server) fresh() error {
	if !s.stale {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	st, err := s.load(ctx)
	if err != nil {
		return &apiError{http.StatusInternalServerError, 50001, "Error while reading the schemas topic: " + err.Error()}
	}
	st.maxID = max(st.maxID, s.st.maxID)
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	s.stale = false
	s.cfg.logger.Info("state reloaded from topic after a failed write")
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings and ints are marshalled
	}
	return b
}
