package serve_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/proto"

	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/serve"
)

// BenchmarkQueryHandler measures the served cost of small queries on the
// household graph, in process and in binary protobuf, so that what the
// handler adds around the query engine (validation, type checks, guards,
// conversion) shows and the network does not.
func BenchmarkQueryHandler(b *testing.B) {
	h := serve.NewHandler(openHousehold(b))
	for _, c := range []struct {
		name, method string
		msg          proto.Message
	}{
		{"neighbors", "Neighbors", &rdgv1.NeighborsRequest{Node: ref("account", "m1"), EdgeTypes: []string{"used"}, NodeTypes: []string{"device"}}},
		{"traverse2", "Traverse", &rdgv1.TraverseRequest{Start: []*rdgv1.NodeRef{ref("account", "m1")}, Steps: []*rdgv1.Step{
			{Direction: rdgv1.Direction_DIRECTION_OUT, EdgeTypes: []string{"used"}},
			{Direction: rdgv1.Direction_DIRECTION_IN, EdgeTypes: []string{"used"}, NodeTypes: []string{"account"}},
		}}},
		{"path", "ShortestPath", &rdgv1.ShortestPathRequest{From: ref("account", "m1"), To: ref("account", "m2"),
			Direction: rdgv1.Direction_DIRECTION_BOTH, EdgeTypes: []string{"used"}}},
	} {
		body, err := proto.Marshal(c.msg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/rdg.v1.GraphService/"+c.method, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/proto")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", c.method, w.Code, w.Body)
				}
			}
		})
	}
}
