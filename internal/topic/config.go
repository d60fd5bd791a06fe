package topic

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rdgraph/rdg/internal/spelling"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ParseConfigs parses name=value pairs (as given to --config) into a map.
// A pair without "=", an empty name or a name given twice is an error.
func ParseConfigs(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("config %q: want name=value, e.g. retention.ms=604800000", p)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("config %q given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// checkConfigs checks the names of set and del against the topic config
// names the cluster reports, and the values of set against the types of
// Kafka's configs, so that a typo fails with the closest name instead of
// being stored by a broker that takes any name (franz-go's kfake does) or
// refused with a bare INVALID_CONFIG.
func (a *Admin) checkConfigs(ctx context.Context, topic string, set map[string]string, del []string) error {
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	for _, k := range sortedKeys(set) {
		if err := checkValue(k, set[k]); err != nil {
			return &Error{Topic: topic, Kind: ErrConfig, Detail: err.Error()}
		}
	}
	known := a.knownConfigs(ctx)
	if known == nil {
		return nil // no topic to learn the names from: the broker judges
	}
	names := append(sortedKeys(set), del...)
	for _, k := range names {
		if known[k] {
			continue
		}
		msg := fmt.Sprintf("the cluster has no topic config %q", k)
		if s := spelling.Suggest(k, sortedSet(known)); s != "" {
			msg += fmt.Sprintf(": did you mean %q?", s)
		}
		msg += " Its topic configs: " + strings.Join(sortedSet(known), ", ")
		return &Error{Topic: topic, Kind: ErrConfig, Detail: msg}
	}
	return nil
}

// knownConfigs are the topic config names the cluster reports for one of
// its topics (Kafka lists every topic config there, with its default), or
// nil if it has no topic or will not describe one. A name set on that
// topic counts only with a synonym (a default behind it), so a name that
// a lenient broker stored is not learned as a valid one.
func (a *Admin) knownConfigs(ctx context.Context) map[string]bool {
	tds, err := a.adm.ListTopicsWithInternal(fresh(ctx))
	if err != nil || len(tds) == 0 {
		return nil
	}
	names := tds.Names()
	rcs, err := a.adm.DescribeTopicConfigs(ctx, names[0])
	if err != nil || len(rcs) == 0 || rcs[0].Err != nil {
		return nil
	}
	known := map[string]bool{}
	for _, c := range rcs[0].Configs {
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig || len(c.Synonyms) > 0 {
			known[c.Key] = true
		}
	}
	if len(known) == 0 {
		return nil
	}
	return known
}

// checkValue checks v against the type of Kafka's topic config k, where
// rdg knows it: the rules are Kafka's own (TopicConfig), so a real broker
// would refuse what this refuses.
func checkValue(k, v string) error {
	switch k {
	case "cleanup.policy":
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "delete" && p != "compact" {
				return fmt.Errorf("cleanup.policy=%s: want delete, compact or compact,delete", v)
			}
		}
		return nil
	case "compression.type":
		switch v {
		case "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd":
			return nil
		}
		return fmt.Errorf("compression.type=%s: want producer, uncompressed, gzip, snappy, lz4 or zstd", v)
	case "message.timestamp.type":
		if v == "CreateTime" || v == "LogAppendTime" {
			return nil
		}
		return fmt.Errorf("message.timestamp.type=%s: want CreateTime or LogAppendTime", v)
	case "min.cleanable.dirty.ratio":
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 || f > 1 {
			return fmt.Errorf("min.cleanable.dirty.ratio=%s: want a number from 0 to 1", v)
		}
		return nil
	case "preallocate", "unclean.leader.election.enable", "remote.storage.enable", "message.downconversion.enable":
		if v == "true" || v == "false" {
			return nil
		}
		return fmt.Errorf("%s=%s: want true or false", k, v)
	}
	for _, unit := range []struct{ suffix, what string }{
		{".ms", "milliseconds"}, {".bytes", "bytes"}, {".replicas", "a count of replicas"},
		{".messages", "a count of messages"}, {".level", "a compression level"},
	} {
		if !strings.HasSuffix(k, unit.suffix) {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s=%s: want an integer (%s)", k, v, unit.what)
		}
		if n < -1 {
			return fmt.Errorf("%s=%s: want -1 or more", k, v)
		}
		return nil
	}
	return nil
}

func sortedSet(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
