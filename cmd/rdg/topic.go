package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rdgraph/rdg/internal/topic"
)

func newTopicCmd() *cobra.Command {
	var brokers string
	var acc accessFlags
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete Kafka topics",
		Long: `Administer the topics of the embedded broker or of any Kafka cluster
(--brokers, and the --kafka-* flags for SASL and TLS): partitions,
replication factor and topic configs such as retention.ms and
cleanup.policy. describe shows each partition's leader, replicas, start and
end offsets and size, the topic's configs, and the consumer groups reading
it with their committed offsets and lag.

Config names are checked against the names the cluster reports for its
topics, so a misspelt name fails with the closest one instead of being
stored and ignored. Every command takes --json for scripts.`,
		Example: `  rdg topic list
  rdg topic describe member.playback
  rdg topic create scratch.events --partitions 3 --config retention.ms=86400000
  rdg topic alter scratch.events --partitions 6 --config cleanup.policy=compact
  rdg topic delete scratch.events`,
	}
	cmd.PersistentFlags().StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	acc.add(cmd, true, true, false)
	admin := func(ctx context.Context, run func(*topic.Admin) error) error {
		k, err := acc.kafka(splitList(brokers))
		if err != nil {
			return err
		}
		cl, err := k.NewClient()
		if err != nil {
			return fmt.Errorf("kafka client: %w", err)
		}
		defer cl.Close()
		return topicHint(run(topic.New(kadm.NewClient(cl))))
	}
	cmd.AddCommand(newTopicCreateCmd(admin), newTopicListCmd(admin), newTopicDescribeCmd(admin),
		newTopicAlterCmd(admin), newTopicDeleteCmd(admin))
	return cmd
}

type adminFunc func(context.Context, func(*topic.Admin) error) error

// topicHint adds to a topic error what to do about it.
func topicHint(err error) error {
	if err == nil {
		return nil
	}
	name := "NAME"
	var te *topic.Error
	if errors.As(err, &te) {
		name = te.Topic
	}
	var hint string
	switch {
	case errors.Is(err, topic.ErrExists):
		hint = fmt.Sprintf("`rdg topic describe %s` shows it, `rdg topic alter %s` changes its partitions and configs", name, name)
	case errors.Is(err, topic.ErrUnknown):
		hint = "`rdg topic list` shows the topics that exist"
	case errors.Is(err, topic.ErrReplication):
		hint = "give --replication-factor at most the number of brokers, or leave it out for the cluster's default"
	case errors.As(err, new(*net.OpError)):
		hint = "is Kafka running at --brokers? `rdg up` starts one on 127.0.0.1:9092"
	default:
		return err
	}
	return fmt.Errorf("%w\n(%s)", err, hint)
}

func newTopicCreateCmd(admin adminFunc) *cobra.Command {
	var (
		partitions  int32
		replication int16
		configs     []string
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Long: `Create a topic with --partitions partitions (default: the cluster's
num.partitions) and --replication-factor replicas per partition (default:
the cluster's default.replication.factor, at most its number of brokers),
and topic configs given as --config name=value, once per config.

Creating a topic that exists is an error and leaves it as it is.`,
		Example: `  rdg topic create my.events --partitions 3 --config retention.ms=604800000
  rdg topic create my.lookup --partitions 1 --config cleanup.policy=compact
  rdg topic delete my.events my.lookup`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := topic.ParseConfigs(configs)
			if err != nil {
				return err
			}
			return admin(cmd.Context(), func(a *topic.Admin) error {
				c, err := a.Create(cmd.Context(), topic.Spec{Name: args[0], Partitions: partitions, ReplicationFactor: replication, Configs: cfg})
				if err != nil {
					return err
				}
				if asJSON {
					return writeTopicJSON(cmd.OutOrStdout(), c)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "created topic %s: %d partitions, replication factor %d%s\n",
					c.Name, c.Partitions, c.ReplicationFactor, topicConfigList(c.Configs))
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.Int32Var(&partitions, "partitions", 0, "number of partitions (0: the cluster's default)")
	fl.Int16Var(&replication, "replication-factor", 0, "replicas of each partition (0: the cluster's default)")
	fl.StringArrayVar(&configs, "config", nil, "topic config name=value (repeatable), e.g. retention.ms=604800000, cleanup.policy=compact")
	fl.BoolVar(&asJSON, "json", false, "print the created topic as JSON")
	atLeast(fl, 0, "partitions", "replication-factor")
	return cmd
}

func topicConfigList(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return ", " + strings.Join(parts, ", ")
}

func newTopicListCmd(admin adminFunc) *cobra.Command {
	var internal, asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List topics with their partitions, replication, cleanup policy and retention",
		Example: `  rdg topic list
  rdg topic list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return admin(cmd.Context(), func(a *topic.Admin) error {
				ts, err := a.List(cmd.Context(), internal)
				if err != nil {
					return err
				}
				if asJSON {
					return writeTopicJSON(cmd.OutOrStdout(), ts)
				}
				return topic.WriteList(cmd.OutOrStdout(), ts)
			})
		},
	}
	cmd.Flags().BoolVar(&internal, "internal", false, "include the cluster's internal topics (__consumer_offsets, ...)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newTopicDescribeCmd(admin adminFunc) *cobra.Command {
	var allConfigs, asJSON bool
	cmd := &cobra.Command{
		Use:   "describe NAME...",
		Short: "Show partitions, offsets, sizes, configs and consumer-group lag of topics",
		Long: `For each topic: every partition's leader, replicas, in-sync replicas,
start and end offsets, record count and size on the broker (from
DescribeLogDirs; "n/a" where the cluster does not report it); the topic's
configs (those set on it and the key defaults; --all-configs for every
one); and each consumer group with committed offsets on it (or members
assigned to it), with its committed offset, the end offset and the lag per
partition. A topic that does not exist is reported, and the others are
described all the same.`,
		Example: `  rdg topic describe member.playback
  rdg topic describe member.logins member.games --all-configs
  rdg topic describe member.playback --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return admin(cmd.Context(), func(a *topic.Admin) error {
				ds, err := a.Describe(cmd.Context(), args...)
				if len(ds) > 0 {
					var werr error
					if asJSON {
						werr = writeTopicJSON(cmd.OutOrStdout(), ds)
					} else {
						werr = topic.WriteDescriptions(cmd.OutOrStdout(), ds, allConfigs)
					}
					if err == nil {
						err = werr
					}
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&allConfigs, "all-configs", false, "list every config the cluster reports, defaults included")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of descriptions")
	return cmd
}

func newTopicAlterCmd(admin adminFunc) *cobra.Command {
	var (
		partitions int32
		configs    []string
		deletes    []string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "alter NAME",
		Short: "Add partitions to a topic, or set or remove its configs",
		Long: `Set topic configs (--config name=value, repeatable), remove them so that
the cluster's default applies (--delete-config name, repeatable), and raise
the partition count to --partitions. Kafka cannot remove partitions; adding
them changes which partition a key goes to, so records of one key written
before and after may be read out of order.`,
		Example: `  rdg topic create alter.demo --partitions 2 --config retention.ms=3600000
  rdg topic alter alter.demo --partitions 4 --config cleanup.policy=compact --delete-config retention.ms
  rdg topic delete alter.demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := topic.ParseConfigs(configs)
			if err != nil {
				return err
			}
			if partitions == 0 && len(set) == 0 && len(deletes) == 0 {
				return errors.New("nothing to alter: give --partitions, --config or --delete-config")
			}
			return admin(cmd.Context(), func(a *topic.Admin) error {
				if err := a.Alter(cmd.Context(), args[0], topic.Alteration{Partitions: partitions, Set: set, Delete: deletes}); err != nil {
					return err
				}
				if asJSON {
					return writeTopicJSON(cmd.OutOrStdout(), map[string]any{"name": args[0], "partitions": partitions, "set": set, "deleted": deletes})
				}
				var did []string
				if partitions > 0 {
					did = append(did, fmt.Sprintf("%d partitions", partitions))
				}
				if len(set) > 0 {
					did = append(did, "set"+strings.TrimPrefix(topicConfigList(set), ","))
				}
				if len(deletes) > 0 {
					did = append(did, "removed "+strings.Join(deletes, ", "))
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "altered topic %s: %s\n", args[0], strings.Join(did, "; "))
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.Int32Var(&partitions, "partitions", 0, "raise the partition count to this (0: leave it)")
	fl.StringArrayVar(&configs, "config", nil, "set a topic config name=value (repeatable)")
	fl.StringArrayVar(&deletes, "delete-config", nil, "remove a topic config, back to the cluster's default (repeatable)")
	fl.BoolVar(&asJSON, "json", false, "print what was changed as JSON")
	atLeast(fl, 0, "partitions")
	return cmd
}

func newTopicDeleteCmd(admin adminFunc) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete topics and every record in them",
		Long: `Delete topics. Their records are gone for good, and consumer groups' offsets
on them are no longer of use. Each topic is deleted on its own: one that
does not exist is reported (exit status 1) and the others are deleted.`,
		Example: `  rdg topic create old.events --partitions 1
  rdg topic delete old.events`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return admin(cmd.Context(), func(a *topic.Admin) error {
				deleted, err := a.Delete(cmd.Context(), args...)
				if asJSON {
					if werr := writeTopicJSON(cmd.OutOrStdout(), map[string]any{"deleted": topicNames(deleted)}); err == nil {
						err = werr
					}
					return err
				}
				for _, n := range deleted {
					fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %s\n", n)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the deleted topics as JSON")
	return cmd
}

func topicNames(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// writeTopicJSON writes v as indented JSON and a newline.
func writeTopicJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
