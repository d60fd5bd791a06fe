package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// FuzzRequestBody sends one body to every route that reads one. The
// registry must never panic, never answer 5xx (the broker is up, so no
// body is a store error), and answer every 4xx with a Confluent error.
func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{
		schemaBody(userV1),
		schemaBody(userWithDefault),
		schemaBody(recursive),
		schemaBody(edgeSchema),
		`{"schema":"\"string\""}`,
		`{"schema":"\"string\"","schemaType":"AVRO"}`,
		`{"schema":"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}"}`,
		`{"schema":"[\"null\",\"long\",{\"type\":\"map\",\"values\":\"bytes\"}]"}`,
		`{"schema":"{\"type\":\"fixed\",\"name\":\"F\",\"size\":16}","id":1,"version":1}`,
		`{"schema":"\"int\"","references":[]}`,
		`{"compatibility":"FULL_TRANSITIVE"}`,
		`{"compatibilityLevel":"none"}`,
		`{"mode":"READWRITE"}`,
		`{"schema":`,
		``,
		`null`,
	} {
		f.Add(seed)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.Close)
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := New(cctx, Seeds(c.ListenAddrs()...), Protect(graphSubject))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	routes := []struct{ method, path string }{
		{"POST", "/subjects/fuzz-value/versions"},
		{"POST", "/subjects/fuzz-value"},
		{"POST", "/compatibility/subjects/fuzz-value/versions"},
		{"POST", "/compatibility/subjects/fuzz-value/versions/latest"},
		{"PUT", "/config/fuzz-value"},
		{"PUT", "/mode"},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range routes {
			req := httptest.NewRequest(r.method, r.path, strings.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			res := w.Result()
			if res.StatusCode >= 500 {
				t.Fatalf("%s %s %q: HTTP %d %s", r.method, r.path, short(body), res.StatusCode, w.Body)
			}
			if res.StatusCode >= 400 {
				if _, _, err := confluentError(w.Body.Bytes()); err != nil {
					t.Fatalf("%s %s %q: %v", r.method, r.path, short(body), err)
				}
			} else if res.StatusCode != http.StatusOK || !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s %q: HTTP %d %s", r.method, r.path, short(body), res.StatusCode, w.Body)
			}
		}
	})
}
