package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/access"
	"github.com/rdgraph/rdg/internal/demo"
	rdgkafka "github.com/rdgraph/rdg/internal/kafka"
)

// TestCredentials starts `rdg up --demo` with --credentials-file and
// --tls-cert/--tls-key and shows that each listener refuses a client
// without the credentials (the registry with HTTP 401, the broker by
// closing the connection at SASL, the API with 401) and serves one with
// them; that the demo generator, jobs and writer inside the process work
// through them; and that `rdg generate`, `rdg job run`, `rdg writer run`,
// `rdg up` on an external cluster, `rdg query` and `rdg dlq list` reach
// the stack with the client flags the README gives.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	// The credentials file as the README makes it.
	shell(t, dir, `echo "rdg:$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > rdg.credentials`)
	credsFile := filepath.Join(dir, "rdg.credentials")
	creds, err := access.ReadCredentialsFile(credsFile)
	if err != nil || len(creds.Password) < 20 {
		t.Fatalf("credentials file: %+v, %v", creds, err)
	}
	kafka, regAddr, api := freePort(t), freePort(t), freePort(t)
	regURL, apiURL := "https://"+regAddr, "https://"+api

	up := startProc(t, "up", api, "up", "--demo", "--demo-rate", "50", "--demo-members", "50",
		"--data-dir", filepath.Join(dir, "data"), "--kafka-addr", kafka, "--registry-addr", regAddr, "--api-addr", api,
		"--partitions", "3", "--credentials-file", credsFile, "--tls-cert", certFile, "--tls-key", keyFile)
	tlsCfg, err := access.ClientTLS(certFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	await(t, 90*time.Second, func() (bool, string) {
		up.alive(t)
		resp, err := hc.Get(apiURL + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	t.Run("registry", func(t *testing.T) {
		get := func(user, pass string) (int, string) {
			req, _ := http.NewRequest("GET", regURL+"/subjects", nil)
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		for _, c := range []struct{ name, user, pass string }{{"no credentials", "", ""}, {"wrong password", creds.User, "guess"}} {
			code, body := get(c.user, c.pass)
			var e struct {
				ErrorCode int `json:"error_code"`
			}
			if code != http.StatusUnauthorized || json.Unmarshal([]byte(body), &e) != nil || e.ErrorCode != 401 {
				t.Errorf("registry, %s: %d %s; want 401 with error_code 401", c.name, code, body)
			}
		}
		// The demo registered its catalogue's schema through the credentials.
		if code, body := get(creds.User, creds.Password); code != http.StatusOK || !strings.Contains(body, "catalog.titles-value") {
			t.Errorf("registry with credentials: %d %s", code, body)
		}
		// In cleartext the TLS listener answers nothing useful.
		if resp, err := http.Get("http://" + regAddr + "/subjects"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Error("registry over cleartext HTTP: 200")
			}
		}
	})

	saslOpts := func(user, pass string) []kgo.Opt {
		opts, err := rdgkafka.Cluster{SASL: &access.Credentials{User: user, Password: pass}}.ClientOpts()
		if err != nil {
			t.Fatal(err)
		}
		return opts
	}
	t.Run("broker", func(t *testing.T) {
		for _, c := range []struct {
			name string
			opts []kgo.Opt
			ok   bool
		}{
			{"TLS without SASL", []kgo.Opt{kgo.DialTLSConfig(tlsCfg)}, false},
			{"TLS, wrong password", append(saslOpts(creds.User, "guess"), kgo.DialTLSConfig(tlsCfg)), false},
			{"SASL without TLS", saslOpts(creds.User, creds.Password), false},
			{"TLS and SASL", append(saslOpts(creds.User, creds.Password), kgo.DialTLSConfig(tlsCfg)), true},
		} {
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(kafka), kgo.RequestRetries(0)}, c.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err = kadm.NewClient(cl).ListTopics(ctx)
			cancel()
			cl.Close()
			if (err == nil) != c.ok {
				t.Errorf("broker, %s: err %v, want success %v", c.name, err, c.ok)
			}
		}
	})

	t.Run("api", func(t *testing.T) {
		post := func(token string) int {
			req, _ := http.NewRequest("POST", apiURL+"/rdg.v1.GraphService/GetNodes", strings.NewReader(`{"refs":[{"type":"account","id":"m-000001"}]}`))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := post(""); code != http.StatusUnauthorized {
			t.Errorf("API without token: %d, want 401", code)
		}
		if code := post("guess"); code != http.StatusUnauthorized {
			t.Errorf("API with a wrong token: %d, want 401", code)
		}
		if code := post(creds.Password); code != http.StatusOK {
			t.Errorf("API with the password as token: %d, want 200", code)
		}
		if out, err := runRdg(t, time.Minute, "query", "stats", "--server", apiURL, "--ca-file", certFile); err == nil || !strings.Contains(out, "unauthenticated") {
			t.Errorf("rdg query without credentials: %v\n%s; want unauthenticated", err, out)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	// A second job, run as its own process with the client flags, reading
	// the demo's logins into an edge type of its own.
	jobsDir := t.TempDir()
	copyJob(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs", "logins.yaml"), jobsDir, func(s string) string {
		s = strings.Replace(s, "name: logins", "name: logins-ext", 1)
		return strings.Replace(s, "type: uses\n", "type: uses_ext\n", 1)
	})
	jobAPI := freePort(t)
	jr := startProc(t, "job-run", jobAPI, "job", "run", "--jobs", jobsDir, "--brokers", kafka, "--registry", regURL,
		"--api-addr", jobAPI, "--partitions", "3",
		"--credentials-file", credsFile, "--kafka-ca-file", certFile, "--registry-ca-file", certFile)
	jr.awaitReady(t)

	// Events from outside through the client flags: five members, so that
	// m-000001 certainly logs in.
	out, err := runRdg(t, time.Minute, "generate", "--brokers", kafka, "--registry", regURL, "--count", "300", "--rate", "-1",
		"--members", "5", "--seed", "7", "--partitions", "3",
		"--credentials-file", credsFile, "--kafka-ca-file", certFile, "--registry-ca-file", certFile)
	if err != nil || !strings.Contains(out, "events=300") {
		t.Fatalf("rdg generate with credentials: %v\n%s", err, out)
	}

	// The graph of those events, through rdg up's own jobs and writer
	// (uses) and through the job-run process (uses_ext), asked with the
	// query client's flags.
	for _, edge := range []string{"uses", "uses_ext"} {
		await(t, 60*time.Second, func() (bool, string) {
			up.alive(t)
			jr.alive(t)
			out, err := runRdg(t, time.Minute, "query", "neighbors", "account:m-000001", "--edge-types", edge, "--json",
				"--server", apiURL, "--ca-file", certFile, "--credentials-file", credsFile)
			if err != nil {
				return false, fmt.Sprintf("%v: %s", err, out)
			}
			var r struct {
				Neighbors []struct {
					Edge struct {
						Type string `json:"type"`
					} `json:"edge"`
				} `json:"neighbors"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				return false, err.Error()
			}
			return len(r.Neighbors) > 0 && r.Neighbors[0].Edge.Type == edge, edge + ": " + out
		})
	}

	// A graph subject cannot be deleted, even with the credentials.
	req, _ := http.NewRequest("DELETE", regURL+"/subjects/rdg.edge.uses-value?permanent=true", nil)
	req.SetBasicAuth(creds.User, creds.Password)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), `"error_code":42205`) {
		t.Errorf("DELETE a graph subject: %d %s; want 409 with error_code 42205", resp.StatusCode, b)
	}

	// The README's curl commands, against this stack's ports.
	t.Run("README curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl not on PATH: the README's curl commands are not run (apt-get install curl)")
		}
		out := shell(t, dir, `curl -s --cacert cert.pem -u "$(cat rdg.credentials)" `+regURL+`/subjects`)
		if !strings.Contains(out, "rdg.edge.uses-value") {
			t.Errorf("curl the registry with basic auth: %s", out)
		}
		out = shell(t, dir, `curl -s --cacert cert.pem -H "Authorization: Bearer $(cut -d: -f2- rdg.credentials)" \
  -H 'Content-Type: application/json' `+apiURL+`/rdg.v1.GraphService/GetNodes \
  -d '{"refs":[{"type":"account","id":"m-000001"}]}'`)
		if !strings.Contains(out, `"id":"m-000001"`) {
			t.Errorf("curl the API with the password as token: %s", out)
		}
	})

	// The demo's side input went through the credentials too: its titles
	// carry names from the catalogue.
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(kafka), kgo.DialTLSConfig(tlsCfg)}, saslOpts(creds.User, creds.Password)...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), demo.TopicTitles)
	if err != nil || ends.Error() != nil {
		t.Fatalf("catalogue end offsets: %v %v", err, ends.Error())
	}
	var titles int64
	ends.Each(func(o kadm.ListedOffset) { titles += o.Offset })
	if titles == 0 {
		t.Error("the demo published no title catalogue")
	}

	// rdg up on an external cluster and registry that require credentials
	// and TLS, as the README's Commands section runs it (PLAIN this time),
	// with a job whose side input is the catalogue.
	extJobs := t.TempDir()
	copyJob(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs", "games.yaml"), extJobs, func(s string) string {
		s = strings.Replace(s, "name: games", "name: games-ext", 1)
		s = strings.Replace(s, "type: played\n", "type: played_ext\n", 1)
		return strings.Replace(s, "props: {name: catalog.name, genre: catalog.genre}", "props: {name_ext: catalog.name}", 1)
	})
	extAPI := freePort(t)
	ext := startProc(t, "up-external", extAPI, "up", "--jobs", extJobs, "--no-writer", "--brokers", kafka, "--registry", regURL,
		"--kafka-credentials-file", credsFile, "--kafka-sasl-mechanism", "PLAIN", "--kafka-ca-file", certFile,
		"--registry-credentials-file", credsFile, "--registry-ca-file", certFile,
		"--api-addr", extAPI, "--data-dir", filepath.Join(dir, "ext"), "--partitions", "3")
	ext.awaitReady(t)
	await(t, 60*time.Second, func() (bool, string) {
		ext.alive(t)
		out, err := runRdg(t, time.Minute, "query", "neighbors", "account:m-000001", "--edge-types", "played_ext", "--json",
			"--server", apiURL, "--ca-file", certFile, "--credentials-file", credsFile)
		return err == nil && strings.Contains(out, `"played_ext"`) && strings.Contains(out, `"name_ext"`), fmt.Sprintf("%v: %s", err, out)
	})

	// A graph writer of its own store, reading the graph topics with the
	// client flags; its API requires the password as the token.
	wAPI := freePort(t)
	wr := startProc(t, "writer-run", wAPI, "writer", "run", "--brokers", kafka, "--registry", regURL,
		"--credentials-file", credsFile, "--kafka-ca-file", certFile, "--registry-ca-file", certFile,
		"--data-dir", filepath.Join(dir, "writer"), "--api-addr", wAPI, "--store", "second")
	wr.awaitReady(t)
	if out, err := runRdg(t, time.Minute, "query", "stats", "--server", "http://"+wAPI); err == nil || !strings.Contains(out, "unauthenticated") {
		t.Errorf("rdg query of the writer without credentials: %v\n%s; want unauthenticated", err, out)
	}
	await(t, 60*time.Second, func() (bool, string) {
		wr.alive(t)
		out, err := runRdg(t, time.Minute, "query", "neighbors", "account:m-000001", "--edge-types", "uses", "--json",
			"--server", "http://"+wAPI, "--credentials-file", credsFile)
		return err == nil && strings.Contains(out, `"uses"`), fmt.Sprintf("%v: %s", err, out)
	})

	out, err = runRdg(t, time.Minute, "dlq", "list", "--json", "--brokers", kafka, "--credentials-file", credsFile, "--kafka-ca-file", certFile)
	if err != nil || !strings.Contains(out, "rdg.dlq.logins-ext") {
		t.Errorf("rdg dlq list with credentials: %v\n%s", err, out)
	}

	// The sr client of a Confluent application, as basic.auth.user.info.
	reg, err := sr.NewClient(sr.URLs(regURL), sr.BasicAuth(creds.User, creds.Password), sr.DialTLSConfig(tlsCfg))
	if err != nil {
		t.Fatal(err)
	}
	if subjects, err := reg.Subjects(context.Background()); err != nil || len(subjects) == 0 {
		t.Errorf("sr client with basic auth: %v %v", subjects, err)
	}
	for _, p := range []*proc{up, jr, ext, wr} {
		if logs := p.logs.String(); strings.Contains(logs, "failed; restarting") {
			t.Errorf("%s restarted a part:\n%s", p.name, logs)
		}
	}
}

// shell runs a command line with sh in dir and returns its output.
func shell(t *testing.T, dir, line string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return string(out)
}
