// Package topic owns topic administration for any Kafka cluster, through
// franz-go's kadm: creating, listing, describing, altering and deleting
// topics (partitions, replication factor, configs such as retention.ms and
// cleanup.policy), and describing what a person needs to see of a topic:
// its partitions' leaders, replicas, offsets and sizes, and the consumer
// groups reading it with their lag.
//
// Config names are checked against the names the cluster itself reports
// for a topic (so a typo is caught, with the closest name, even by a
// broker that would store any name), and the values of Kafka's typed
// configs are checked before anything is sent.
//
// topic knows nothing of jobs, graphs or the embedded broker: it talks to
// whatever cluster its client reaches.
package topic

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// The kinds of error callers may want to tell apart (errors.Is): each
// is wrapped in an *Error carrying the broker's own answer.
var (
	// ErrExists: a topic to create already exists.
	ErrExists = errors.New("topic already exists")
	// ErrUnknown: a topic to describe, alter or delete does not exist.
	ErrUnknown = errors.New("topic does not exist")
	// ErrConfig: a config name the cluster does not know, or a value
	// that is not of the config's type.
	ErrConfig = errors.New("invalid topic config")
	// ErrPartitions: a partition count the cluster cannot apply (below
	// 1, or fewer than the topic has: Kafka cannot remove partitions).
	ErrPartitions = errors.New("invalid partition count")
	// ErrReplication: a replication factor the cluster cannot honour.
	ErrReplication = errors.New("invalid replication factor")
)

// Error is a failed operation on one topic: what kind of failure (one of
// the Err variables, or nil), the broker's error code and message where
// the broker answered, and rdg's reading of it.
type Error struct {
	Topic  string
	Kind   error  // ErrExists, ErrUnknown, ... or nil
	Broker error  // the broker's error (a *kerr.Error), if it answered one
	Detail string // the broker's error message, or rdg's explanation
}

func (e *Error) Error() string {
	s := fmt.Sprintf("topic %q", e.Topic)
	switch e.Kind {
	case nil:
	case ErrExists, ErrUnknown:
		s += strings.TrimPrefix(e.Kind.Error(), "topic")
	default:
		s += ": " + e.Kind.Error()
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	var ke *kerr.Error
	if errors.As(e.Broker, &ke) {
		s += " (" + ke.Message + ")"
	} else if e.Broker != nil {
		s += ": " + e.Broker.Error()
	}
	return s
}

func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Broker != nil {
		out = append(out, e.Broker)
	}
	return out
}

// brokerError classifies a per-topic error the broker answered.
func brokerError(topic string, err error, msg string) error {
	if err == nil {
		return nil
	}
	e := &Error{Topic: topic, Broker: err, Detail: msg}
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		e.Kind = ErrExists
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		e.Kind = ErrUnknown
	case errors.Is(err, kerr.InvalidConfig), errors.Is(err, kerr.InvalidRequest) && msg == "":
		// kfake answers INVALID_REQUEST for a config it will not take.
		e.Kind = ErrConfig
	case errors.Is(err, kerr.InvalidPartitions):
		e.Kind = ErrPartitions
	case errors.Is(err, kerr.InvalidReplicationFactor):
		e.Kind = ErrReplication
	}
	if e.Detail == "" && e.Kind == nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			e.Detail = ke.Description
		}
	}
	return e
}

// Admin administers the topics of the cluster its client reaches.
type Admin struct {
	adm *kadm.Client
}

// New is an Admin using adm. The caller closes adm's client.
func New(adm *kadm.Client) *Admin { return &Admin{adm: adm} }

// fresh makes kadm ask the cluster for metadata rather than answer from
// the client's cache, which keeps a listing (even "no such topic") for
// the client's MetadataMinAge: an Admin that creates a topic and then
// lists or describes it must see it. kadm bypasses its cache only when
// it is asked for authorized operations as well.
func fresh(ctx context.Context) context.Context { return kadm.WithAuthorizedOps(ctx) }

// Spec is a topic to create.
type Spec struct {
	Name string
	// Partitions: 0 or less is the cluster's default.
	Partitions int32
	// ReplicationFactor: 0 or less is the cluster's default.
	ReplicationFactor int16
	// Configs are topic configs (retention.ms, cleanup.policy, ...).
	Configs map[string]string
}

// Created is what the cluster made of a created topic.
type Created struct {
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs,omitempty"`
}

// Create creates a topic. An existing topic is an *Error of kind
// ErrExists and is left as it is.
func (a *Admin) Create(ctx context.Context, s Spec) (Created, error) {
	if s.Name == "" {
		return Created{}, errors.New("a topic needs a name")
	}
	if err := a.checkConfigs(ctx, s.Name, s.Configs, nil); err != nil {
		return Created{}, err
	}
	parts, rf := s.Partitions, s.ReplicationFactor
	if parts <= 0 {
		parts = -1
	}
	if rf <= 0 {
		rf = -1
	}
	var configs map[string]*string
	if len(s.Configs) > 0 {
		configs = make(map[string]*string, len(s.Configs))
		for k, v := range s.Configs {
			configs[k] = kadm.StringPtr(v)
		}
	}
	resps, err := a.adm.CreateTopics(ctx, parts, rf, configs, s.Name)
	if err != nil {
		return Created{}, fmt.Errorf("create topic %q: %w", s.Name, err)
	}
	resp, ok := resps[s.Name]
	if !ok {
		return Created{}, &Error{Topic: s.Name, Detail: "the cluster did not answer for it"}
	}
	if resp.Err != nil {
		err := brokerError(s.Name, resp.Err, resp.ErrMessage)
		if errors.Is(err, ErrReplication) && rf > 0 {
			if n, berr := a.brokerCount(ctx); berr == nil {
				err.(*Error).Detail = fmt.Sprintf("replication factor %d, but the cluster has %d broker(s)", rf, n)
			}
		}
		return Created{}, err
	}
	c := Created{Name: s.Name, Partitions: resp.NumPartitions, ReplicationFactor: resp.ReplicationFactor, Configs: s.Configs}
	return c, nil
}

func (a *Admin) brokerCount(ctx context.Context) (int, error) {
	bs, err := a.adm.ListBrokers(fresh(ctx))
	return len(bs), err
}

// CreateMissing creates those of specs that do not exist yet, leaving
// existing topics as they are, and returns the names it created.
func (a *Admin) CreateMissing(ctx context.Context, specs ...Spec) ([]string, error) {
	var created []string
	for _, s := range specs {
		_, err := a.Create(ctx, s)
		switch {
		case err == nil:
			created = append(created, s.Name)
		case errors.Is(err, ErrExists):
		default:
			return created, err
		}
	}
	return created, nil
}

// Summary is one line of List.
type Summary struct {
	Name              string `json:"name"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal,omitempty"`
	// CleanupPolicy and RetentionMs are the topic's effective values
	// ("" where the cluster did not say).
	CleanupPolicy string `json:"cleanup_policy,omitempty"`
	RetentionMs   string `json:"retention_ms,omitempty"`
}

// List lists the cluster's topics, sorted by name; internal ones
// (__consumer_offsets and the like) too if internal.
func (a *Admin) List(ctx context.Context, internal bool) ([]Summary, error) {
	list := a.adm.ListTopics
	if internal {
		list = a.adm.ListTopicsWithInternal
	}
	tds, err := list(fresh(ctx))
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := make([]Summary, 0, len(tds))
	for _, td := range tds.Sorted() {
		s := Summary{Name: td.Topic, Partitions: len(td.Partitions), Internal: td.IsInternal}
		for _, p := range td.Partitions {
			s.ReplicationFactor = max(s.ReplicationFactor, len(p.Replicas))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return out, nil
	}
	// Configs are a convenience here: a cluster that will not describe
	// them still lists its topics.
	rcs, err := a.adm.DescribeTopicConfigs(ctx, tds.Names()...)
	if err != nil {
		return out, nil
	}
	byName := map[string]kadm.ResourceConfig{}
	for _, rc := range rcs {
		byName[rc.Name] = rc
	}
	for i := range out {
		for _, c := range byName[out[i].Name].Configs {
			switch c.Key {
			case "cleanup.policy":
				out[i].CleanupPolicy = c.MaybeValue()
			case "retention.ms":
				out[i].RetentionMs = c.MaybeValue()
			}
		}
	}
	return out, nil
}

// Delete deletes topics, each on its own: the error joins one *Error per
// topic that could not be deleted, and the names deleted are returned.
func (a *Admin) Delete(ctx context.Context, names ...string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	resps, err := a.adm.DeleteTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("delete topics: %w", err)
	}
	var deleted []string
	var errs []error
	for _, n := range names {
		r, ok := resps[n]
		switch {
		case !ok:
			errs = append(errs, &Error{Topic: n, Detail: "the cluster did not answer for it"})
		case r.Err != nil:
			errs = append(errs, brokerError(n, r.Err, r.ErrMessage))
		default:
			deleted = append(deleted, n)
		}
	}
	return deleted, errors.Join(errs...)
}

// Alteration is a change to a topic.
type Alteration struct {
	// Partitions, if above 0, is the partition count the topic is to
	// have: more than it has adds partitions; fewer is an error.
	Partitions int32
	// Set sets topic configs.
	Set map[string]string
	// Delete removes topic configs, so that the cluster's default applies.
	Delete []string
}

// Alter applies alt to topic: the configs first, then the partitions.
func (a *Admin) Alter(ctx context.Context, topic string, alt Alteration) error {
	tds, err := a.adm.ListTopics(fresh(ctx), topic)
	if err != nil {
		return fmt.Errorf("topic %q: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil {
		if !ok {
			td.Err = kerr.UnknownTopicOrPartition
		}
		return brokerError(topic, td.Err, "")
	}
	if alt.Partitions > 0 && int(alt.Partitions) < len(td.Partitions) {
		return &Error{Topic: topic, Kind: ErrPartitions,
			Detail: fmt.Sprintf("it has %d partitions and Kafka cannot remove partitions (to have %d, create a new topic and move the data)", len(td.Partitions), alt.Partitions)}
	}
	if err := a.checkConfigs(ctx, topic, alt.Set, alt.Delete); err != nil {
		return err
	}
	var ops []kadm.AlterConfig
	for _, k := range sortedKeys(alt.Set) {
		ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(alt.Set[k])})
	}
	for _, k := range alt.Delete {
		ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(ops) > 0 {
		resps, err := a.adm.AlterTopicConfigs(ctx, ops, topic)
		if err != nil {
			return fmt.Errorf("topic %q: alter configs: %w", topic, err)
		}
		r, err := resps.On(topic, nil)
		if err != nil {
			return fmt.Errorf("topic %q: alter configs: %w", topic, err)
		}
		if r.Err != nil {
			return brokerError(topic, r.Err, r.ErrMessage)
		}
	}
	if alt.Partitions > 0 && int(alt.Partitions) > len(td.Partitions) {
		resps, err := a.adm.UpdatePartitions(ctx, int(alt.Partitions), topic)
		if err != nil {
			return fmt.Errorf("topic %q: add partitions: %w", topic, err)
		}
		r, err := resps.On(topic, nil)
		if err != nil {
			return fmt.Errorf("topic %q: add partitions: %w", topic, err)
		}
		if r.Err != nil {
			return brokerError(topic, r.Err, r.ErrMessage)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
