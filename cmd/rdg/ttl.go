package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rdgraph/rdg/internal/graph"
)

// ttlFlagUsage documents --ttl wherever it is added.
const ttlFlagUsage = "time to live per node or edge type, e.g. device=720h,watched=90d: elements not seen for that long disappear from queries and are swept from the store (units: ms, s, m, h, d)"

// addTTLFlag adds --ttl to fs, storing the raw value in dst; parse it with
// parseTTL.
func addTTLFlag(fs *pflag.FlagSet, dst *string) {
	fs.StringVar(dst, "ttl", "", ttlFlagUsage)
}

// parseTTL parses a --ttl value: comma-separated type=duration pairs, where
// a duration is a Go duration (720h, 90m) or a number of days (30d). An
// empty value means no TTL (nil).
func parseTTL(s string) (map[string]time.Duration, error) {
	items := splitList(s)
	if len(items) == 0 {
		return nil, nil
	}
	out := make(map[string]time.Duration, len(items))
	for _, item := range items {
		name, val, ok := strings.Cut(item, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || val == "" {
			return nil, fmt.Errorf("--ttl %q: want type=duration, e.g. device=720h", item)
		}
		if err := graph.ValidTypeName(name); err != nil {
			return nil, fmt.Errorf("--ttl %q: %w", item, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--ttl: type %s given twice", name)
		}
		d, err := parseTTLDuration(val)
		if err != nil {
			return nil, fmt.Errorf("--ttl %q: %w", item, err)
		}
		out[name] = d
	}
	return out, nil
}

func parseTTLDuration(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 30d or 720h", s)
		}
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 30d or 720h", s)
		}
	}
	if d < time.Millisecond {
		return 0, fmt.Errorf("duration %q: want at least 1ms", s)
	}
	return d, nil
}
