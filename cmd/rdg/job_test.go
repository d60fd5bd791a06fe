package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/registry"
)

// runRoot runs rdg with args and returns what it printed on stdout.
func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// job init -o writes a job that job check accepts, with source.schema
// relative to the job file, and never overwrites a file unless --force.
func TestJobInitFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "jobs", "login.yaml")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	schema, err := filepath.Abs(filepath.Join("..", "..", "examples", "netflix", "schemas", "login.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"job", "init", "--schema", schema, "--topic", "member.login", "-o", out}
	if _, err := runRoot(t, args...); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Dir(out), schema)
	for _, want := range []string{"name: member.login\n", "  topic: member.login\n", "  schema: " + rel + " "} {
		if !strings.Contains(string(text), want) {
			t.Errorf("job lacks %q:\n%s", want, text)
		}
	}
	got, err := runRoot(t, "job", "check", out)
	if err != nil || !strings.Contains(got, ": ok: job member.login") || strings.Contains(got, "no source.schema") {
		t.Fatalf("job check: %v\n%s", err, got)
	}

	if err := os.WriteFile(out, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoot(t, args...); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("job init over an existing file: %v, want a refusal naming --force", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "mine\n" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	if _, err := runRoot(t, append(args, "--force")...); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != string(text) {
		t.Fatalf("--force wrote\n%s\nwant\n%s", b, text)
	}

	if _, err := runRoot(t, "job", "init", "--topic", "x"); err == nil {
		t.Fatal("job init without --subject or --schema succeeded")
	}
	if _, err := runRoot(t, "job", "init", "--schema", schema, "--subject", "x-value"); err == nil {
		t.Fatal("job init with both --subject and --schema succeeded")
	}
}

// job init --subject reads the latest schema from a real registry and
// names the topic after the subject.
func TestJobInitSubject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv, err := registry.New(ctx, registry.Seeds(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	reg, err := sr.NewClient(sr.URLs(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	const ratings = `{"type":"record","name":"Rating","fields":[{"name":"userId","type":"int"},{"name":"movieId","type":"int"},{"name":"rating","type":"double"},{"name":"timestamp","type":"long"}]}`
	if _, err := codec.Register(ctx, reg, "ratings-value", ratings); err != nil {
		t.Fatal(err)
	}
	got, err := runRoot(t, "job", "init", "--subject", "ratings-value", "--registry", hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: ratings\n", "  topic: ratings\n", "(registry subject ratings-value)", "from: user(userId)", "to: movie(movieId)", "  # schema: "} {
		if !strings.Contains(got, want) {
			t.Errorf("job lacks %q:\n%s", want, got)
		}
	}
	path := filepath.Join(t.TempDir(), "ratings.yaml")
	if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runRoot(t, "job", "check", path); err != nil {
		t.Fatalf("job check: %v\n%s", err, out)
	}
	if _, err := runRoot(t, "job", "init", "--subject", "nope-value", "--registry", hs.URL); err == nil || !strings.Contains(err.Error(), "nope-value") {
		t.Fatalf("unknown subject: %v", err)
	}
}
