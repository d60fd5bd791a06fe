package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCLIMisuse runs the rdg binary with arguments an operator gets wrong
// and checks that each exits with status 1 at once, before it touches
// Kafka, a registry or a data directory, with a message naming what is
// wrong. Among them are values a looser check would misread: a negative
// rate taken for "as fast as possible", --partitions -1 passed on to Kafka.
func TestCLIMisuse(t *testing.T) {
	bin := rdgBinary(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate" for "rdg"`},
		{[]string{"up", "--frob"}, "unknown flag: --frob"},
		{[]string{"up", "extra"}, `unknown command "extra" for "rdg up"`},
		{[]string{"up", "--partitions", "-1"}, "--partitions -1: want 1 or more"},
		{[]string{"up", "--partitions", "0"}, "--partitions 0: want 1 or more"},
		{[]string{"up", "--partitions", "abc"}, `invalid argument "abc" for "--partitions" flag`},
		{[]string{"up", "--demo", "--demo-rate", "-5"}, "--demo-rate -5: want more than 0"},
		{[]string{"up", "--demo", "--demo-members", "0"}, "--demo-members 0: want 1 or more"},
		{[]string{"up", "--store-cache-mib", "0"}, "--store-cache-mib 0: want 1 or more"},
		{[]string{"up", "--disk-reserve-mib", "0"}, "--disk-reserve-mib 0: want 1 or more"},
		{[]string{"up", "--query-queue", "-1"}, "--query-queue -1: want 0 or more"},
		{[]string{"writer", "run", "--query-memory-mib", "-1"}, "--query-memory-mib -1: want 0 or more"},
		{[]string{"up", "--ttl", "bogus"}, `--ttl "bogus": want type=duration`},
		{[]string{"up", "--ttl", "device=-1h"}, `--ttl "device=-1h"`},
		{[]string{"up", "--token", "a", "--token-file", "b"}, "--token and --token-file are exclusive"},
		{[]string{"up", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"up", "--jobs", "/nonexistent-rdg-jobs"}, "jobs directory: stat /nonexistent-rdg-jobs"},
		{[]string{"generate", "--rate", "-5"}, "--rate -5: want more than 0, or -1"},
		{[]string{"generate", "--rate", "0"}, "--rate 0: want more than 0, or -1"},
		{[]string{"generate", "--members", "0"}, "--members 0: want 1 or more"},
		{[]string{"generate", "--count", "-1"}, "--count -1: want 0 or more"},
		{[]string{"generate", "--duration", "-1s"}, "--duration -1s: want 0s or more"},
		{[]string{"generate", "--partitions", "-1"}, "--partitions -1: want 1 or more"},
		{[]string{"job", "check"}, "requires at least 1 arg(s)"},
		{[]string{"job", "check", "/nonexistent-rdg-job.yaml"}, "1 of 1 job files have errors"},
		{[]string{"job", "run", "--jobs", "/nonexistent-rdg-jobs", "--partitions", "0"}, "--partitions 0: want 1 or more"},
		{[]string{"dlq", "show"}, `required flag(s) "job" not set`},
		{[]string{"dlq", "show", "--job", "x", "--limit", "-1"}, "--limit -1: want 0 or more"},
		{[]string{"dlq", "replay", "--jobs", "x", "--job", "y", "--from", "-1"}, "--from -1: want 0 or more"},
		{[]string{"query", "neighbors", "nocolon"}, `node "nocolon": want type:id`},
		{[]string{"query", "neighbors", "a:b", "--deadline", "-1s"}, "--deadline -1s: want 0s or more"},
		{[]string{"query", "traverse", "a:b", "--max-visited", "-1"}, "--max-visited -1: want 0 or more"},
		{[]string{"query", "path", "a:b"}, "accepts 2 arg(s), received 1"},
		{[]string{"--log-level", "loud", "job", "check", "x"}, `--log-level "loud": want debug, info, warn or error`},
		{[]string{"--log-format", "xml", "job", "check", "x"}, `--log-format "xml": want text or json`},
		{[]string{"--gc-floor-mib", "-1", "job", "check", "x"}, "--gc-floor-mib -1: want 0 or more"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, c.args...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if left, _ := os.ReadDir(cmd.Dir); len(left) > 0 {
				t.Errorf("rdg %s wrote %s in its working directory", strings.Join(c.args, " "), left[0].Name())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("rdg %s: exit %v, want status 1; output:\n%s", strings.Join(c.args, " "), err, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("rdg %s: output does not say %q:\n%s", strings.Join(c.args, " "), c.want, out)
			}
		})
	}
}
