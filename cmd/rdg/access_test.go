package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdgraph/rdg/internal/access"
	"github.com/rdgraph/rdg/internal/kafka"
	"github.com/rdgraph/rdg/internal/stack"
)

// TestExposedListeners: a listener on an address other than loopback is
// reported unless its credentials are set; loopback ones never are.
func TestExposedListeners(t *testing.T) {
	creds := &access.Credentials{User: "u", Password: "p"}
	names := func(cfg stack.Config) string {
		var out []string
		for _, e := range exposedListeners(&cfg) {
			out = append(out, e.listener+"@"+e.addr)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name string
		cfg  stack.Config
		want string
	}{
		{"defaults", stack.Config{APIAddr: "127.0.0.1:8080"}, ""},
		{"localhost and ::1", stack.Config{KafkaAddr: "localhost:9092", RegistryAddr: "[::1]:8081", APIAddr: "127.0.0.1:8080"}, ""},
		{"everything on all interfaces", stack.Config{KafkaAddr: "0.0.0.0:9092", RegistryAddr: ":8081", APIAddr: "0.0.0.0:8080"},
			"embedded Kafka broker@0.0.0.0:9092,schema registry@:8081,query API@0.0.0.0:8080"},
		{"credentials cover all three", stack.Config{KafkaAddr: "0.0.0.0:9092", RegistryAddr: "10.0.0.1:8081", APIAddr: "0.0.0.0:8080", Credentials: creds, Token: "p"}, ""},
		{"a token covers only the API", stack.Config{KafkaAddr: "0.0.0.0:9092", APIAddr: "0.0.0.0:8080", Token: "t"}, "embedded Kafka broker@0.0.0.0:9092"},
		{"external Kafka and registry are not ours", stack.Config{Kafka: kafka.Cluster{Seeds: []string{"kafka:9092"}}, RegistryURL: "http://registry:8081", APIAddr: "0.0.0.0:8080"}, "query API@0.0.0.0:8080"},
		{"no API", stack.Config{RegistryAddr: "192.168.1.5:8081"}, "schema registry@192.168.1.5:8081"},
	} {
		if got := names(tc.cfg); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestUpAccessFlags: the credentials file sets what the embedded listeners
// require and, without a token of its own, the API's token; client flags
// for an external cluster or registry are refused for embedded ones.
func TestUpAccessFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "creds")
	if err := os.WriteFile(file, []byte("rdg:pw-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	apply := func(f accessFlags, s securityFlags, cfg stack.Config) (stack.Config, error) {
		if err := f.apply(&cfg); err != nil {
			return cfg, err
		}
		err := s.apply(&cfg)
		return cfg, err
	}
	cfg, err := apply(accessFlags{credentialsFile: file}, securityFlags{}, stack.Config{})
	if err != nil || cfg.Credentials == nil || *cfg.Credentials != (access.Credentials{User: "rdg", Password: "pw-1"}) || cfg.Token != "pw-1" {
		t.Fatalf("credentials file: %+v, %v", cfg, err)
	}
	if cfg, err := apply(accessFlags{credentialsFile: file}, securityFlags{token: "other"}, stack.Config{}); err != nil || cfg.Token != "other" {
		t.Fatalf("--token with a credentials file: token %q, %v", cfg.Token, err)
	}
	for _, f := range []accessFlags{{kafkaCA: "ca.pem"}, {kafkaTLS: true}, {kafkaCredentialsFile: file}, {registryCA: "ca.pem"}} {
		if _, err := apply(f, securityFlags{}, stack.Config{}); err == nil || !strings.Contains(err.Error(), "external") {
			t.Errorf("%+v with embedded Kafka and registry: %v, want an error", f, err)
		}
	}
	cfg, err = apply(accessFlags{credentialsFile: file, saslMechanism: "PLAIN"}, securityFlags{}, stack.Config{Kafka: kafka.Cluster{Seeds: []string{"k:9092"}}, RegistryURL: "http://r:8081"})
	if err != nil || cfg.Kafka.SASL == nil || cfg.Kafka.SASL.User != "rdg" || cfg.Kafka.Mechanism != "PLAIN" ||
		len(cfg.Kafka.Seeds) != 1 || len(cfg.RegistryOpts) != 1 {
		t.Fatalf("external: Kafka %+v, %d registry opts, %v", cfg.Kafka, len(cfg.RegistryOpts), err)
	}
	if _, err := apply(accessFlags{registryCA: "ca.pem"}, securityFlags{}, stack.Config{RegistryURL: "http://r:8081"}); err == nil || !strings.Contains(err.Error(), "https://") {
		t.Errorf("--registry-ca-file with an http:// registry: %v", err)
	}
	if _, err := apply(accessFlags{credentialsFile: file, saslMechanism: "GSSAPI"}, securityFlags{}, stack.Config{Kafka: kafka.Cluster{Seeds: []string{"k:9092"}}}); err == nil || !strings.Contains(err.Error(), "GSSAPI") {
		t.Errorf("unknown mechanism: %v", err)
	}
	for _, f := range []accessFlags{{kafkaCert: "c.pem"}, {kafkaKey: "k.pem"}, {registryCert: "c.pem"}, {registryKey: "k.pem"}} {
		if _, err := apply(f, securityFlags{}, stack.Config{Kafka: kafka.Cluster{Seeds: []string{"k:9092"}}, RegistryURL: "https://r:8081"}); err == nil || !strings.Contains(err.Error(), "go together") {
			t.Errorf("%+v: %v, want the certificate and key flags named together", f, err)
		}
	}
	if _, err := apply(accessFlags{credentialsFile: filepath.Join(dir, "missing")}, securityFlags{}, stack.Config{}); err == nil {
		t.Error("missing credentials file: no error")
	}
}
