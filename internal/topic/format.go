package topic

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteList writes topics as a table.
func WriteList(w io.Writer, ts []Summary) error {
	if len(ts) == 0 {
		_, err := fmt.Fprintln(w, "no topics")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION\tCLEANUP\tRETENTION")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Name, t.Partitions, t.ReplicationFactor, orDash(t.CleanupPolicy), retention(t.RetentionMs))
	}
	return tw.Flush()
}

// keyConfigs are shown by WriteDescriptions even when they are the
// cluster's defaults: they are what a person asks of a topic first.
var keyConfigs = map[string]bool{"cleanup.policy": true, "retention.ms": true, "retention.bytes": true, "max.message.bytes": true}

// WriteDescriptions writes each description as a header and tables of
// partitions, configs and consumer groups. Configs are those set on the
// topic and the key ones (cleanup and retention, record size), or with
// allConfigs every config the cluster reported.
func WriteDescriptions(w io.Writer, ds []Description, allConfigs bool) error {
	for i, d := range ds {
		if i > 0 {
			fmt.Fprintln(w)
		}
		size := "size n/a"
		if d.Bytes != nil {
			size = Bytes(*d.Bytes)
		}
		fmt.Fprintf(w, "Topic %s: %d partitions, replication factor %d, %d records, %s\n", d.Name, len(d.Partitions), d.ReplicationFactor, d.Records, size)
		if d.SizeNote != "" {
			fmt.Fprintf(w, "  sizes %s\n", d.SizeNote)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tISR\tSTART\tEND\tRECORDS\tSIZE")
		for _, p := range d.Partitions {
			records := "-"
			if p.Start >= 0 && p.End >= p.Start {
				records = strconv.FormatInt(p.End-p.Start, 10)
			}
			sz := "n/a"
			if p.Bytes != nil {
				sz = Bytes(*p.Bytes)
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s", p.Partition, p.Leader, ids(p.Replicas), ids(p.ISR), offset(p.Start), offset(p.End), records, sz)
			if p.Err != "" {
				fmt.Fprintf(tw, "\t%s", p.Err)
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE")
		for _, c := range d.Configs {
			if !allConfigs && c.IsDefault() && !keyConfigs[c.Name] {
				continue
			}
			v := c.Value
			if c.Sensitive {
				v = "(sensitive)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, v, c.Source)
		}
		fmt.Fprintln(tw)
		if len(d.Groups) == 0 {
			fmt.Fprintln(tw, "no consumer group has committed offsets on this topic")
		} else {
			fmt.Fprintln(tw, "CONSUMER GROUP\tSTATE\tMEMBERS\tPARTITION\tCOMMITTED\tEND\tLAG")
			for _, g := range d.Groups {
				for _, p := range g.Partitions {
					lag := strconv.FormatInt(p.Lag, 10)
					if p.Err != "" {
						lag = "n/a: " + p.Err
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", g.Group, g.State, g.Members, p.Partition, offset(p.Committed), offset(p.End), lag)
				}
				fmt.Fprintf(tw, "%s\t\t\ttotal\t\t\t%d\n", g.Group, g.Lag)
			}
		}
		if d.GroupsNote != "" {
			fmt.Fprintln(tw, d.GroupsNote)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// Bytes is n in binary units, e.g. "1.5 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func ids(s []int32) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(int(v))
	}
	return orDash(strings.Join(parts, ","))
}

func offset(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// retention is a retention.ms value with its meaning, e.g. "7d".
func retention(ms string) string {
	n, err := strconv.ParseInt(ms, 10, 64)
	switch {
	case ms == "":
		return "-"
	case err != nil:
		return ms
	case n < 0:
		return "forever"
	case n%(24*3600_000) == 0:
		return fmt.Sprintf("%dd", n/(24*3600_000))
	case n%3600_000 == 0:
		return fmt.Sprintf("%dh", n/3600_000)
	case n%60_000 == 0:
		return fmt.Sprintf("%dm", n/60_000)
	}
	return ms + "ms"
}
