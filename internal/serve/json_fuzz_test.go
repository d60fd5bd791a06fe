package serve_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rdgraph/rdg/internal/serve"
)

var fuzzRPCs = []string{"GetNodes", "Neighbors", "Traverse", "ShortestPath", "ConnectedGroup", "Stats"}

// FuzzJSONRequest: whatever JSON a client posts to any RPC, the server
// answers with a result or a Connect error it means (not_found: a strict
// request from a node that does not exist; never internal,
// which is also what a panic becomes), on the household graph.
func FuzzJSONRequest(f *testing.F) {
	h := serve.NewHandler(openHousehold(f), serve.WithLimits(serve.Limits{Timeout: 200e6}))
	for i, body := range []string{
		`{"refs":[{"type":"account","id":"m1"},{"type":"title","id":"t9"}]}`,
		`{"node":{"type":"account","id":"m1"},"direction":"DIRECTION_BOTH","edgeTypes":["used"],"limit":2}`,
		`{"start":[{"type":"account","id":"m1"}],"steps":[{"direction":"DIRECTION_OUT","edgeTypes":["used"],"nodePredicates":[{"field":"screen","op":"OP_GE","value":{"intValue":"20"}}]}],"depth":3,"maxNodes":50}`,
		`{"from":{"type":"account","id":"m1"},"to":{"type":"title","id":"t1"},"direction":"DIRECTION_BOTH","maxDepth":6}`,
		`{"node":{"type":"account","id":"m1"},"edgeTypes":["used"],"limit":10}`,
		`{"topK":5,"nodeTypes":["device"]}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	for _, tc := range hostileCases(fuzzCursor(f, h, "m1"), fuzzCursor(f, h, "m2")) {
		if tc.json != "" && len(tc.json) < 4096 {
			for i, rpc := range fuzzRPCs {
				if rpc == tc.rpc {
					f.Add(uint8(i), []byte(tc.json))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rpc := fuzzRPCs[int(which)%len(fuzzRPCs)]
		req := httptest.NewRequest(http.MethodPost, "/rdg.v1.GraphService/"+rpc, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code == http.StatusOK {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s: 200 with invalid JSON %q", rpc, w.Body.Bytes())
			}
			return
		}
		var ce struct{ Code, Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &ce); err != nil {
			t.Fatalf("%s: status %d, not a Connect error: %q", rpc, w.Code, w.Body.Bytes())
		}
		switch ce.Code {
		case "invalid_argument", "resource_exhausted", "deadline_exceeded", "unimplemented", "not_found":
		default:
			t.Fatalf("%s %q: %s %q", rpc, body, ce.Code, ce.Message)
		}
	})
}

// fuzzCursor is the cursor after the first neighbour of account:id.
func fuzzCursor(f *testing.F, h http.Handler, id string) string {
	req := httptest.NewRequest(http.MethodPost, "/rdg.v1.GraphService/Neighbors",
		bytes.NewReader([]byte(`{"node":{"type":"account","id":"`+id+`"},"limit":1}`)))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var res struct{ NextCursor string }
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.NextCursor == "" {
		f.Fatalf("no cursor: %v %s", err, w.Body.Bytes())
	}
	return res.NextCursor
}
