package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

// Requests an attacker or a confused client sends to a registry that
// requires basic auth and protects rdg's graph subjects, each with the
// HTTP status and Confluent error_code it must get.

const (
	hostileUser = "rdg"
	hostilePass = "hostile-s3cret"
	edgeSubject = "rdg.edge.rated-value"
	nodeSubject = "rdg.node.account-value"
	edgeSchema  = `{"type":"record","name":"Edge","namespace":"rdg.graph","fields":[{"name":"from","type":"string"},{"name":"to","type":"string"}]}`
	// recursive is a linked list: a valid schema that refers to itself.
	recursive   = `{"type":"record","name":"Cell","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Cell"]}]}`
	recursiveV2 = `{"type":"record","name":"Cell","fields":[{"name":"v","type":"int"},{"name":"w","type":"int","default":0},{"name":"next","type":["null","Cell"]}]}`
)

// graphSubject is the rule internal/stack gives the registry.
func graphSubject(s string) bool {
	return (strings.HasPrefix(s, "rdg.node.") || strings.HasPrefix(s, "rdg.edge.")) && strings.HasSuffix(s, "-value")
}

type authMode int

const (
	authOK authMode = iota
	authNone
	authWrongPass
	authWrongUser
	authBearer
	authGarbage
)

type hostileCase struct {
	name        string
	method      string
	path        string
	contentType string // default application/vnd.schemaregistry.v1+json when there is a body
	body        string
	auth        authMode
	status      int
	code        int // Confluent error_code; 0 for a success
}

func nested(n int, open, leaf, closing string) string {
	return strings.Repeat(open, n) + leaf + strings.Repeat(closing, n)
}

func recordWithFields(n int) string {
	fs := make([]string, n)
	for i := range fs {
		fs[i] = fmt.Sprintf(`{"name":"f%d","type":"int"}`, i)
	}
	return `{"type":"record","name":"Wide","fields":[` + strings.Join(fs, ",") + `]}`
}

func enumWithSymbols(n int) string {
	ss := make([]string, n)
	for i := range ss {
		ss[i] = fmt.Sprintf(`"S%d"`, i)
	}
	return `{"type":"enum","name":"Big","symbols":[` + strings.Join(ss, ",") + `]}`
}

func unionOfRecords(n int) string {
	bs := make([]string, n)
	for i := range bs {
		bs[i] = fmt.Sprintf(`{"type":"record","name":"B%d","fields":[{"name":"x","type":"int"}]}`, i)
	}
	return "[" + strings.Join(bs, ",") + "]"
}

func hostileCases() []hostileCase {
	huge := schemaBody(`{"type":"record","name":"Big","doc":"` + strings.Repeat("x", 2<<20) + `","fields":[]}`)
	// Under the body limit, over what fits in one record of the topic.
	nearLimit := schemaBody(`{"type":"record","name":"Big","doc":"` + strings.Repeat("x", maxBody-200) + `","fields":[]}`)
	return []hostileCase{
		// Authentication.
		{name: "no credentials", method: "GET", path: "/subjects", auth: authNone, status: 401, code: 401},
		{name: "wrong password", method: "GET", path: "/subjects", auth: authWrongPass, status: 401, code: 401},
		{name: "unknown user", method: "GET", path: "/subjects", auth: authWrongUser, status: 401, code: 401},
		{name: "bearer token instead of basic", method: "GET", path: "/subjects", auth: authBearer, status: 401, code: 401},
		{name: "basic auth not base64", method: "GET", path: "/schemas/ids/1", auth: authGarbage, status: 401, code: 401},
		{name: "register without credentials", method: "POST", path: "/subjects/intruder-value/versions", body: schemaBody(userV1), auth: authNone, status: 401, code: 401},
		{name: "delete graph subject without credentials", method: "DELETE", path: "/subjects/" + edgeSubject + "?permanent=true", auth: authNone, status: 401, code: 401},
		{name: "config write without credentials", method: "PUT", path: "/config", body: `{"compatibility":"NONE"}`, auth: authNone, status: 401, code: 401},

		// Bodies that are not the JSON asked for.
		{name: "truncated JSON", method: "POST", path: "/subjects/s-value/versions", body: `{"schema":`, status: 400, code: 400},
		{name: "empty body", method: "POST", path: "/subjects/s-value/versions", status: 400, code: 400},
		{name: "JSON array body", method: "POST", path: "/subjects/s-value/versions", body: `[]`, status: 400, code: 400},
		{name: "schema is a number", method: "POST", path: "/subjects/s-value/versions", body: `{"schema":5}`, status: 400, code: 400},
		{name: "null body", method: "POST", path: "/subjects/s-value/versions", body: `null`, status: 422, code: 42201},
		{name: "trailing data after the JSON", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(userV1) + ` {"schema":"\"int\""}`, status: 400, code: 400},
		{name: "deeply nested request JSON", method: "POST", path: "/subjects/s-value/versions", body: `{"schema":"\"int\"","x":` + nested(20000, "[", "1", "]") + `}`, status: 400, code: 400},
		{name: "body over 1 MiB", method: "POST", path: "/subjects/s-value/versions", body: huge, status: 422, code: 42209},
		{name: "body under 1 MiB too large for a record", method: "POST", path: "/subjects/s-value/versions", body: nearLimit, status: 422, code: 42209},
		{name: "config body over 1 MiB", method: "PUT", path: "/config/s-value", body: `{"compatibility":"` + strings.Repeat("A", 2<<20) + `"}`, status: 422, code: 42209},

		// Content types: the body is read as JSON whatever the header says.
		{name: "text/plain JSON", method: "POST", path: "/subjects/plain-ct-value/versions", contentType: "text/plain", body: schemaBody(userV1), status: 200},
		{name: "form-encoded body", method: "POST", path: "/subjects/s-value/versions", contentType: "application/x-www-form-urlencoded", body: "schema=%22string%22", status: 400, code: 400},
		{name: "XML body", method: "POST", path: "/subjects/s-value/versions", contentType: "application/xml", body: `<schema>string</schema>`, status: 400, code: 400},

		// Schemas that do not parse or are not supported.
		{name: "record without name or fields", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(`{"type":"record"}`), status: 422, code: 42201},
		{name: "unknown type", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(`{"type":"record","name":"R","fields":[{"name":"x","type":"nosuchtype"}]}`), status: 422, code: 42201},
		{name: "duplicate field names", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(`{"type":"record","name":"R","fields":[{"name":"x","type":"int"},{"name":"x","type":"string"}]}`), status: 422, code: 42201},
		{name: "enum symbol not a name", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(`{"type":"enum","name":"E","symbols":["ok","not ok"]}`), status: 422, code: 42201},
		{name: "default of the wrong type", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(`{"type":"record","name":"R","fields":[{"name":"x","type":"int","default":"zero"}]}`), status: 422, code: 42201},
		{name: "invalid UTF-8 in the schema", method: "POST", path: "/subjects/s-value/versions", body: "{\"schema\":\"\\\"str\xffing\\\"\"}", status: 422, code: 42201},
		{name: "JSON schema type", method: "POST", path: "/subjects/s-value/versions", body: `{"schema":"{}","schemaType":"JSON"}`, status: 422, code: 42201},
		{name: "schema references", method: "POST", path: "/subjects/s-value/versions", body: `{"schema":"\"Other\"","references":[{"name":"Other","subject":"o","version":1}]}`, status: 422, code: 42201},
		{name: "undefined self reference", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(`{"type":"record","name":"A","fields":[{"name":"b","type":"B"}]}`), status: 422, code: 42201},

		// Recursive and oversized schemas.
		{name: "recursive schema", method: "POST", path: "/subjects/list-value/versions", body: schemaBody(recursive), status: 200},
		{name: "recursive schema, compatible second version", method: "POST", path: "/subjects/list-value/versions", body: schemaBody(recursiveV2), status: 200},
		{name: "compatibility of a recursive schema", method: "POST", path: "/compatibility/subjects/list-value/versions/latest", body: schemaBody(recursive), status: 200},
		{name: "schema nested 257 deep", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(nested(maxNesting+1, `{"type":"array","items":`, `"int"`, "}")), status: 422, code: 42209},
		{name: "schema nested 20000 deep", method: "POST", path: "/compatibility/subjects/list-value/versions", body: schemaBody(nested(20000, `{"type":"array","items":`, `"int"`, "}")), status: 422, code: 42209},
		{name: "schema nested 100 deep", method: "POST", path: "/subjects/deep-value/versions", body: schemaBody(nested(100, `{"type":"array","items":`, `"int"`, "}")), status: 200},
		{name: "record of 1001 fields", method: "POST", path: "/subjects/s-value/versions", body: schemaBody(recordWithFields(maxFields + 1)), status: 422, code: 42209},
		{name: "enum of 20000 symbols", method: "POST", path: "/subjects/s-value", body: schemaBody(enumWithSymbols(20000)), status: 422, code: 42209},
		{name: "union of 101 records", method: "POST", path: "/compatibility/subjects/s-value/versions", body: schemaBody(unionOfRecords(maxBranches + 1)), status: 422, code: 42209},

		// Unknown ids.
		{name: "unknown id", method: "GET", path: "/schemas/ids/999999", status: 404, code: 40403},
		{name: "negative id", method: "GET", path: "/schemas/ids/-1", status: 404, code: 40403},
		{name: "id beyond int64", method: "GET", path: "/schemas/ids/99999999999999999999999", status: 404, code: 40403},
		{name: "id not a number", method: "GET", path: "/schemas/ids/one/schema", status: 404, code: 40403},
		{name: "id in a subject it is not in", method: "GET", path: "/schemas/ids/1?subject=nope", status: 404, code: 40403},

		// Versions.
		{name: "negative version", method: "GET", path: "/subjects/" + edgeSubject + "/versions/-5", status: 422, code: 42202},
		{name: "version 0", method: "GET", path: "/subjects/" + edgeSubject + "/versions/0", status: 422, code: 42202},
		{name: "version 2^31", method: "GET", path: "/subjects/" + edgeSubject + "/versions/2147483648", status: 422, code: 42202},
		{name: "version huge", method: "GET", path: "/subjects/" + edgeSubject + "/versions/99999999999999999999", status: 422, code: 42202},
		{name: "version not a number", method: "GET", path: "/subjects/" + edgeSubject + "/versions/first", status: 422, code: 42202},
		{name: "version fractional", method: "GET", path: "/subjects/" + edgeSubject + "/versions/1.5", status: 422, code: 42202},
		{name: "version that does not exist", method: "GET", path: "/subjects/" + edgeSubject + "/versions/77", status: 404, code: 40402},
		{name: "delete a bad version", method: "DELETE", path: "/subjects/" + edgeSubject + "/versions/-2", status: 422, code: 42202},

		// Subject names.
		{name: "escaped path traversal subject", method: "GET", path: "/subjects/..%2F..%2Fetc%2Fpasswd/versions", status: 404, code: 40401},
		{name: "path traversal", method: "GET", path: "/subjects/../../etc/passwd", status: 404, code: 404},
		{name: "register subject with a newline", method: "POST", path: "/subjects/a%0Ab/versions", body: schemaBody(userV1), status: 422, code: 42208},
		{name: "register subject of invalid UTF-8", method: "POST", path: "/subjects/a%FFb/versions", body: schemaBody(userV1), status: 422, code: 42208},
		{name: "register subject too long for a record", method: "POST", path: "/subjects/" + strings.Repeat("s", 600_000) + "/versions", body: schemaBody(`{"type":"record","name":"R","doc":"` + strings.Repeat("d", 400_000) + `","fields":[]}`), status: 422, code: 42209},

		// Deleting what rdg's graph topics need.
		{name: "soft delete graph edge subject", method: "DELETE", path: "/subjects/" + edgeSubject, status: 409, code: 42205},
		{name: "permanent delete graph edge subject", method: "DELETE", path: "/subjects/" + edgeSubject + "?permanent=true", status: 409, code: 42205},
		{name: "soft delete graph node subject", method: "DELETE", path: "/subjects/" + nodeSubject, status: 409, code: 42205},
		{name: "delete graph subject version", method: "DELETE", path: "/subjects/" + edgeSubject + "/versions/1", status: 409, code: 42205},
		{name: "delete graph subject latest permanently", method: "DELETE", path: "/subjects/" + edgeSubject + "/versions/latest?permanent=true", status: 409, code: 42205},
		{name: "delete graph subject version -1", method: "DELETE", path: "/subjects/" + nodeSubject + "/versions/-1", status: 409, code: 42205},
		{name: "delete unknown graph subject", method: "DELETE", path: "/subjects/rdg.edge.nope-value", status: 404, code: 40401},
		{name: "delete a subject rdg does not protect", method: "DELETE", path: "/subjects/plain-ct-value", status: 200},

		// Methods the routes do not take.
		{name: "POST to a schema id", method: "POST", path: "/schemas/ids/1", body: `{}`, status: 405, code: 405},
		{name: "PUT a subject", method: "PUT", path: "/subjects/" + edgeSubject, body: schemaBody(edgeSchema), status: 405, code: 405},
		{name: "DELETE a schema id", method: "DELETE", path: "/schemas/ids/1", status: 405, code: 405},
		{name: "PATCH config", method: "PATCH", path: "/config", body: `{"compatibility":"NONE"}`, status: 405, code: 405},
		{name: "TRACE the root", method: "TRACE", path: "/", status: 405, code: 405},
		{name: "no such route", method: "GET", path: "/admin/shutdown", status: 404, code: 404},

		// Compatibility checks against what is not there.
		{name: "compatibility with a missing subject's latest", method: "POST", path: "/compatibility/subjects/nope/versions/latest", body: schemaBody(userV1), status: 404, code: 40401},
		{name: "compatibility with a missing version", method: "POST", path: "/compatibility/subjects/" + edgeSubject + "/versions/9", body: schemaBody(edgeSchema), status: 404, code: 40402},
		{name: "compatibility with a bad version", method: "POST", path: "/compatibility/subjects/" + edgeSubject + "/versions/zero", body: schemaBody(edgeSchema), status: 422, code: 42202},
		{name: "compatibility of an invalid schema", method: "POST", path: "/compatibility/subjects/" + edgeSubject + "/versions", body: schemaBody(`{"type":"nope"}`), status: 422, code: 42201},
		{name: "compatibility with a missing subject", method: "POST", path: "/compatibility/subjects/nope/versions", body: schemaBody(userV1), status: 200},

		// Mode and config writes.
		{name: "mode IMPORT", method: "PUT", path: "/mode", body: `{"mode":"IMPORT"}`, status: 422, code: 42204},
		{name: "mode READONLY on a graph subject", method: "PUT", path: "/mode/" + edgeSubject, body: `{"mode":"READONLY"}`, status: 422, code: 42204},
		{name: "unknown compatibility level", method: "PUT", path: "/config", body: `{"compatibility":"SOMETIMES"}`, status: 422, code: 42203},
		{name: "empty compatibility level", method: "PUT", path: "/config/" + edgeSubject, body: `{}`, status: 422, code: 42203},
		{name: "reset config of a subject without one", method: "DELETE", path: "/config/" + edgeSubject, status: 404, code: 40408},
		{name: "choose the id (IMPORT)", method: "POST", path: "/subjects/s-value/versions", body: `{"schema":"\"string\"","id":4242}`, status: 422, code: 42205},
	}
}

// TestHostileRequests sends every hostile case to one registry and checks
// the answer's status and error_code, that every error is a Confluent
// error, and that nothing the refused requests attempted happened.
func TestHostileRequests(t *testing.T) {
	e := start(t, newCluster(t), BasicAuth(hostileUser, hostilePass), Protect(graphSubject))
	cl, err := sr.NewClient(sr.URLs(e.http.URL), sr.BasicAuth(hostileUser, hostilePass))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{edgeSubject, nodeSubject} {
		if _, err := cl.CreateSchema(ctx(t), s, sr.Schema{Schema: edgeSchema}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, c := range hostileCases() {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			status, body, hdr := sendHostile(t, e.http, c)
			if status != c.status {
				t.Fatalf("%s %s: HTTP %d %s, want %d", c.method, short(c.path), status, short(string(body)), c.status)
			}
			if ct := hdr.Get("Content-Type"); ct != contentType {
				t.Errorf("Content-Type %q", ct)
			}
			if status < 400 {
				if !json.Valid(body) && c.method != "GET" {
					t.Errorf("success body is not JSON: %s", short(string(body)))
				}
				return
			}
			code, msg, err := confluentError(body)
			if err != nil {
				t.Fatal(err)
			}
			if code != c.code {
				t.Errorf("error_code %d (%s), want %d", code, msg, c.code)
			}
			if status == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if status == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}

	// What was refused did not happen.
	subjects, err := cl.Subjects(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{edgeSubject: true, nodeSubject: true, "list-value": true, "deep-value": true}
	for _, s := range subjects {
		if !want[s] {
			t.Errorf("subject %q exists after the hostile requests", short(s))
		}
		delete(want, s)
	}
	for s := range want {
		t.Errorf("subject %s is gone after the hostile requests", s)
	}
	for _, s := range []string{edgeSubject, nodeSubject} {
		if ss, err := cl.SchemaByVersion(ctx(t), s, -1); err != nil || ss.Version != 1 {
			t.Errorf("%s latest: %+v, %v", s, ss, err)
		}
	}
	if lvl := cl.Compatibility(ctx(t)); len(lvl) != 1 || lvl[0].Err != nil || lvl[0].Level != sr.CompatBackward {
		t.Errorf("global compatibility after the hostile requests: %+v", lvl)
	}
}

// TestProtectedSubjectsStayDecodable: with the graph subjects protected, a
// delete of one (which would leave a rebuilt graph without the records
// whose schema it held) is refused, and the schema id its records carry
// still resolves.
func TestProtectedSubjectsStayDecodable(t *testing.T) {
	e := start(t, newCluster(t), Protect(graphSubject))
	id := e.register(edgeSubject, edgeSchema)
	e.wantError("DELETE", "/subjects/"+edgeSubject, "", 409, 42205)
	e.wantError("DELETE", "/subjects/"+edgeSubject+"?permanent=true", "", 409, 42205)
	if _, err := e.cl.SchemaByID(ctx(t), id); err != nil {
		t.Fatalf("schema %d after refused deletes: %v", id, err)
	}
	// The sr client sees the refusal as operation not permitted.
	if _, err := e.cl.DeleteSubject(ctx(t), edgeSubject, sr.SoftDelete); srCode(err) != 42205 {
		t.Fatalf("sr client delete: %v", err)
	}
}

func sendHostile(t *testing.T, hs *httptest.Server, c hostileCase) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, hs.URL+c.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = contentType
		}
		req.Header.Set("Content-Type", ct)
	}
	switch c.auth {
	case authOK:
		req.SetBasicAuth(hostileUser, hostilePass)
	case authWrongPass:
		req.SetBasicAuth(hostileUser, "guess")
	case authWrongUser:
		req.SetBasicAuth("admin", hostilePass)
	case authBearer:
		req.Header.Set("Authorization", "Bearer "+hostilePass)
	case authGarbage:
		req.Header.Set("Authorization", "Basic !!not-base64!!")
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// confluentError parses a Confluent error body.
func confluentError(b []byte) (int, string, error) {
	var er struct {
		ErrorCode *int    `json:"error_code"`
		Message   *string `json:"message"`
	}
	if err := json.Unmarshal(b, &er); err != nil {
		return 0, "", fmt.Errorf("error body %s is not JSON: %v", short(string(b)), err)
	}
	if er.ErrorCode == nil || er.Message == nil || *er.Message == "" {
		return 0, "", fmt.Errorf("error body %s lacks error_code or message", short(string(b)))
	}
	return *er.ErrorCode, *er.Message, nil
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// Basic auth with an empty user or password would let everyone in: New
// refuses it, before it reaches Kafka.
func TestBasicAuthEmpty(t *testing.T) {
	for _, c := range [][2]string{{"", "p"}, {"u", ""}} {
		if s, err := New(ctx(t), BasicAuth(c[0], c[1])); err == nil || !strings.Contains(err.Error(), "basic auth needs a user and a password") {
			t.Errorf("BasicAuth(%q, %q): New = %v, %v; want an error", c[0], c[1], s, err)
		}
	}
}
