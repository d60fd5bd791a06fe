package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rdgraph/rdg/internal/access/accesstest"
	"github.com/rdgraph/rdg/internal/stack"
)

// traverseResult is the part of a TraverseResponse (proto3 JSON) the tests
// read.
type traverseResult struct {
	Nodes []struct{ Type, ID string }
}

func (r traverseResult) refs() []string {
	var out []string
	for _, n := range r.Nodes {
		out = append(out, n.Type+":"+n.ID)
	}
	slices.Sort(out)
	return out
}

// seedFromAccount is what one hop out of account m-seed reaches.
var seedFromAccount = []string{
	"account:m-seed", "device:d-phone", "device:d-tablet", "device:d-tv", "episode:t-seed-s1e1",
	"game:g-seed", "profile:p-seed", "title:t-seed",
}

const seedTraverse = `{"start":[{"type":"account","id":"m-seed"}],"steps":[{"direction":"DIRECTION_OUT"}],"maxNodes":50}`

// TestCurlAndGRPCurl calls the API the ways the README shows: JSON posted
// with plain HTTP (what curl does), and grpcurl over gRPC with server
// reflection, listing the services, describing one, calling Traverse and
// the health service. The grpcurl part skips if grpcurl is not on PATH.
func TestCurlAndGRPCurl(t *testing.T) {
	st := startStack(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs"))
	produceSeedScenario(t, st, false)
	awaitSeed(t, st, "", false)
	addr := strings.TrimPrefix(st.APIURL(), "http://")

	t.Run("curl JSON", func(t *testing.T) {
		resp, err := http.Post(st.APIURL()+"/rdg.v1.GraphService/Traverse", "application/json", strings.NewReader(seedTraverse))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var r traverseResult
		if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil {
			t.Fatalf("POST Traverse: %d %s", resp.StatusCode, b)
		}
		if got := r.refs(); !slices.Equal(got, seedFromAccount) {
			t.Errorf("Traverse from m-seed reached %v, want %v", got, seedFromAccount)
		}
		// Read-only calls also work as a GET, which a browser can bookmark.
		q := url.Values{"encoding": {"json"}, "message": {seedTraverse}, "connect": {"v1"}}
		resp, err = http.Get(st.APIURL() + "/rdg.v1.GraphService/Traverse?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "d-tablet") {
			t.Errorf("GET Traverse: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("grpcurl", func(t *testing.T) {
		grpcurl := findGRPCurl(t)
		out := runTool(t, grpcurl, "-plaintext", addr, "list")
		for _, svc := range []string{"rdg.v1.GraphService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
			if !slices.Contains(strings.Fields(out), svc) {
				t.Errorf("grpcurl list: %q, missing %s", out, svc)
			}
		}
		out = runTool(t, grpcurl, "-plaintext", addr, "describe", "rdg.v1.GraphService")
		for _, m := range []string{"rpc GetNodes", "rpc Neighbors", "rpc Traverse"} {
			if !strings.Contains(out, m) {
				t.Errorf("grpcurl describe: no %q in\n%s", m, out)
			}
		}
		out = runTool(t, grpcurl, "-plaintext", "-d", seedTraverse, addr, "rdg.v1.GraphService/Traverse")
		var r traverseResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("grpcurl Traverse output: %v\n%s", err, out)
		}
		if got := r.refs(); !slices.Equal(got, seedFromAccount) {
			t.Errorf("grpcurl Traverse from m-seed reached %v, want %v", got, seedFromAccount)
		}
		out = runTool(t, grpcurl, "-plaintext", "-d", `{"service":"rdg.v1.GraphService"}`, addr, "grpc.health.v1.Health/Check")
		if !strings.Contains(out, `"SERVING"`) {
			t.Errorf("grpcurl health check: %s", out)
		}
	})
}

// TestGRPCurlTLSAndToken runs grpcurl against a server with TLS and a
// bearer token: refused without the token, served with it.
func TestGRPCurlTLSAndToken(t *testing.T) {
	grpcurl := findGRPCurl(t)
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	const token = "grpcurl-test-token"
	st := startStackWith(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs"), func(c *stack.Config) {
		c.Token, c.TLSCert, c.TLSKey = token, certFile, keyFile
	})
	if !strings.HasPrefix(st.APIURL(), "https://") {
		t.Fatalf("API URL %s, want https", st.APIURL())
	}
	addr := strings.TrimPrefix(st.APIURL(), "https://")

	cmd := exec.Command(grpcurl, "-cacert", certFile, addr, "list")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Unauthenticated") || !strings.Contains(string(out), "missing bearer token") {
		t.Errorf("grpcurl list without token: err %v, output %s; want Unauthenticated naming the missing token", err, out)
	}
	list := runTool(t, grpcurl, "-cacert", certFile, "-H", "authorization: Bearer "+token, addr, "list")
	if !strings.Contains(list, "rdg.v1.GraphService") {
		t.Errorf("grpcurl list with token over TLS: %s", list)
	}
	// Health stays open for probes: only grpcurl's reflection requests
	// (which describe the API) carry the token here.
	h := runTool(t, grpcurl, "-cacert", certFile, "-reflect-header", "authorization: Bearer "+token, addr, "grpc.health.v1.Health/Check")
	if !strings.Contains(h, `"SERVING"`) {
		t.Errorf("grpcurl health without token: %s", h)
	}
}

func findGRPCurl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("grpcurl")
	if err != nil {
		t.Skip("grpcurl not on PATH: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4 (.ci/run installs it)")
	}
	return p
}

// runTool runs a command and returns its standard output; it fails the test
// with the command's output if the command fails.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key into dir and returns their paths.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	accesstest.SelfSigned(t, certFile, keyFile, "rdg e2e", "127.0.0.1")
	return certFile, keyFile
}
