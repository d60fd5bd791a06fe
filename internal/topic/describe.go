package topic

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Description is what Describe says of one topic.
type Description struct {
	Name              string      `json:"name"`
	ID                string      `json:"id,omitempty"`
	Internal          bool        `json:"internal,omitempty"`
	ReplicationFactor int         `json:"replication_factor"`
	Partitions        []Partition `json:"partitions"`
	// Records is the sum over partitions of end - start offset: the
	// records the topic holds, counting compacted-away and transaction
	// marker offsets.
	Records int64 `json:"records"`
	// Bytes is the sum of the partitions' sizes, nil where the cluster
	// did not report them (SizeNote says why).
	Bytes    *int64   `json:"bytes,omitempty"`
	SizeNote string   `json:"size_note,omitempty"`
	Configs  []Config `json:"configs"`
	Groups   []Group  `json:"groups"`
	// GroupsNote says why groups may be missing (the cluster would not
	// list or describe them), "" if none are.
	GroupsNote string `json:"groups_note,omitempty"`
}

// Partition is one partition of a described topic.
type Partition struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	Start     int64   `json:"start_offset"`
	End       int64   `json:"end_offset"`
	// Bytes is the leader replica's size on disk, as the broker reports
	// it (DescribeLogDirs); nil where it did not.
	Bytes *int64 `json:"bytes,omitempty"`
	Err   string `json:"error,omitempty"`
}

// Config is one config of a described topic.
type Config struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Source is where the value comes from: "topic" (set on the topic),
	// "default" (the cluster's default) or another of Kafka's sources.
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// IsDefault says whether c comes from a default rather than the topic.
func (c Config) IsDefault() bool { return c.Source != "topic" }

// Group is a consumer group with committed offsets on (or members
// assigned) a described topic.
type Group struct {
	Group      string           `json:"group"`
	State      string           `json:"state"`
	Members    int              `json:"members"`
	Lag        int64            `json:"lag"`
	Partitions []GroupPartition `json:"partitions"`
}

// GroupPartition is a group's position in one partition.
type GroupPartition struct {
	Partition int32 `json:"partition"`
	// Committed is the group's committed offset, -1 if none.
	Committed int64 `json:"committed"`
	End       int64 `json:"end_offset"`
	// Lag is End - Committed (from the partition's start where nothing
	// is committed), -1 where it cannot be computed (Err says why).
	Lag int64  `json:"lag"`
	Err string `json:"error,omitempty"`
}

// Describe describes topics, in the order asked. A topic that does not
// exist is an *Error of kind ErrUnknown, joined with the others; the
// descriptions of those that exist are returned all the same.
func (a *Admin) Describe(ctx context.Context, names ...string) ([]Description, error) {
	if len(names) == 0 {
		return nil, errors.New("describe: no topic named")
	}
	tds, err := a.adm.ListTopicsWithInternal(fresh(ctx), names...)
	if err != nil {
		return nil, fmt.Errorf("describe topics: %w", err)
	}
	var errs []error
	var found []string
	for _, n := range names {
		td, ok := tds[n]
		switch {
		case !ok:
			errs = append(errs, brokerError(n, kerr.UnknownTopicOrPartition, ""))
		case td.Err != nil:
			errs = append(errs, brokerError(n, td.Err, ""))
		default:
			found = append(found, n)
		}
	}
	if len(found) == 0 {
		return nil, errors.Join(errs...)
	}
	starts, err := a.adm.ListStartOffsets(ctx, found...)
	if err != nil {
		return nil, fmt.Errorf("describe topics: start offsets: %w", err)
	}
	ends, err := a.adm.ListEndOffsets(ctx, found...)
	if err != nil {
		return nil, fmt.Errorf("describe topics: end offsets: %w", err)
	}
	sizes, sizeErr := a.sizes(ctx, tds, found)
	configs, cfgErr := a.adm.DescribeTopicConfigs(ctx, found...)
	groups, groupsNote := a.groups(ctx)

	out := make([]Description, 0, len(found))
	for _, n := range found {
		td := tds[n]
		d := Description{Name: n, Internal: td.IsInternal, Partitions: []Partition{}, Configs: []Config{}, Groups: []Group{}, GroupsNote: groupsNote}
		if td.ID != (kadm.TopicID{}) {
			d.ID = td.ID.String()
		}
		var total int64
		for _, pd := range td.Partitions.Sorted() {
			p := Partition{Partition: pd.Partition, Leader: pd.Leader, Replicas: orEmpty(pd.Replicas), ISR: orEmpty(pd.ISR), Start: -1, End: -1}
			d.ReplicationFactor = max(d.ReplicationFactor, len(pd.Replicas))
			if pd.Err != nil {
				p.Err = pd.Err.Error()
			}
			if o, ok := starts.Lookup(n, pd.Partition); ok && o.Err == nil {
				p.Start = o.Offset
			} else if ok && p.Err == "" {
				p.Err = o.Err.Error()
			}
			if o, ok := ends.Lookup(n, pd.Partition); ok && o.Err == nil {
				p.End = o.Offset
			} else if ok && p.Err == "" {
				p.Err = o.Err.Error()
			}
			if p.Start >= 0 && p.End >= p.Start {
				d.Records += p.End - p.Start
			}
			if sz, ok := sizes[n][pd.Partition]; ok {
				p.Bytes = &sz
				total += sz
			}
			d.Partitions = append(d.Partitions, p)
		}
		switch {
		case sizeErr != nil:
			d.SizeNote = "n/a: the cluster did not report log sizes (" + sizeErr.Error() + ")"
		case len(sizes[n]) < len(d.Partitions):
			d.SizeNote = fmt.Sprintf("n/a: the cluster reported sizes for %d of %d partitions", len(sizes[n]), len(d.Partitions))
		default:
			d.Bytes = &total
		}
		d.Configs = topicConfigs(configs, cfgErr, n)
		for _, g := range groups {
			if gl, ok := g.onTopic(n); ok {
				d.Groups = append(d.Groups, gl)
			}
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

func orEmpty(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// sizes are the partition sizes the brokers report, of each partition's
// leader replica (or, where the leader did not report it, the largest
// replica that did).
func (a *Admin) sizes(ctx context.Context, tds kadm.TopicDetails, topics []string) (map[string]map[int32]int64, error) {
	set := kadm.TopicsSet{}
	for _, t := range topics {
		for p := range tds[t].Partitions {
			set.Add(t, p)
		}
	}
	all, err := a.adm.DescribeAllLogDirs(ctx, set)
	if err != nil && len(all) == 0 {
		return nil, err
	}
	out := map[string]map[int32]int64{}
	leaderSeen := map[string]map[int32]bool{}
	all.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			return
		}
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.IsFuture {
				return
			}
			if out[p.Topic] == nil {
				out[p.Topic], leaderSeen[p.Topic] = map[int32]int64{}, map[int32]bool{}
			}
			isLeader := tds[p.Topic].Partitions[p.Partition].Leader == p.Broker
			cur, seen := out[p.Topic][p.Partition]
			switch {
			case isLeader:
				out[p.Topic][p.Partition], leaderSeen[p.Topic][p.Partition] = p.Size, true
			case !leaderSeen[p.Topic][p.Partition] && (!seen || p.Size > cur):
				out[p.Topic][p.Partition] = p.Size
			}
		})
	})
	return out, nil
}

// topicConfigs are topic's configs, those set on the topic first, then
// the defaults, each group by name.
func topicConfigs(rcs kadm.ResourceConfigs, err error, topic string) []Config {
	out := []Config{}
	if err != nil {
		return out
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		return out
	}
	for _, c := range rc.Configs {
		out = append(out, Config{Name: c.Key, Value: c.MaybeValue(), Source: sourceName(c.Source), Sensitive: c.Sensitive})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IsDefault() != out[j].IsDefault() {
			return !out[i].IsDefault()
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func sourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "topic"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "broker"
	case kmsg.ConfigSourceDynamicBrokerConfig, kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "broker (dynamic)"
	}
	return s.String()
}

// groupLag is a group's lag over every topic it reads.
type groupLag struct{ kadm.DescribedGroupLag }

// onTopic is the group's position in topic, if it has committed offsets
// there or members assigned to it.
func (g groupLag) onTopic(topic string) (Group, bool) {
	parts := g.Lag[topic]
	if len(parts) == 0 {
		return Group{}, false
	}
	out := Group{Group: g.Group, State: g.State, Members: len(g.Members), Partitions: []GroupPartition{}}
	for _, ml := range parts {
		gp := GroupPartition{Partition: ml.Partition, Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag}
		if ml.Err != nil {
			gp.Err, gp.Lag = ml.Err.Error(), -1
		}
		if gp.Lag > 0 {
			out.Lag += gp.Lag
		}
		out.Partitions = append(out.Partitions, gp)
	}
	sort.Slice(out.Partitions, func(i, j int) bool { return out.Partitions[i].Partition < out.Partitions[j].Partition })
	return out, true
}

// groups are every consumer group's lag, and a note if some could not be
// described.
func (a *Admin) groups(ctx context.Context) ([]groupLag, string) {
	lags, err := a.adm.Lag(ctx)
	if err != nil {
		return nil, "consumer groups n/a: " + err.Error()
	}
	var out []groupLag
	failed := 0
	for _, l := range lags.Sorted() {
		if l.Error() != nil {
			failed++
			continue
		}
		out = append(out, groupLag{l})
	}
	note := ""
	if failed > 0 {
		note = fmt.Sprintf("%d consumer group(s) could not be described", failed)
	}
	return out, note
}
