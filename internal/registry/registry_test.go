package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"
)

const (
	userV1 = `{"type":"record","name":"User","namespace":"rdg.test","fields":[{"name":"id","type":"string"}]}`
	// userV1Spaced is userV1 written differently: same schema, same id.
	userV1Spaced = `{
  "namespace": "rdg.test", "type": "record", "name": "User",
  "fields": [ {"type": "string", "name": "id"} ]
}`
	userWithDefault = `{"type":"record","name":"User","namespace":"rdg.test","fields":[{"name":"id","type":"string"},{"name":"age","type":"int","default":0}]}`
	userNoDefault   = `{"type":"record","name":"User","namespace":"rdg.test","fields":[{"name":"id","type":"string"},{"name":"email","type":"string"}]}`
	userIDIsInt     = `{"type":"record","name":"User","namespace":"rdg.test","fields":[{"name":"id","type":"int"}]}`
	titleV1         = `{"type":"record","name":"Title","fields":[{"name":"title_id","type":"string"}]}`
)

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// env is one registry process: the Server behind a real HTTP listener and a
// franz-go sr client pointed at it.
type env struct {
	t    *testing.T
	srv  *Server
	http *httptest.Server
	cl   *sr.Client
}

func start(t *testing.T, c *kfake.Cluster, opts ...Opt) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := New(ctx, append([]Opt{Seeds(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	cl, err := sr.NewClient(sr.URLs(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, http: hs, cl: cl}
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	e.http.Close()
	e.srv.Close()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func (e *env) register(subject, schema string) int {
	e.t.Helper()
	id, err := e.cl.RegisterSchema(ctx(e.t), subject, sr.Schema{Schema: schema}, -1, -1)
	if err != nil {
		e.t.Fatalf("register %s: %v", subject, err)
	}
	return id
}

// do sends a request the way curl or Python requests would.
func (e *env) do(method, path, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != contentType {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, b
}

// wantError checks an HTTP answer is a Confluent error with the given codes.
func (e *env) wantError(method, path, body string, status, code int) string {
	e.t.Helper()
	got, b := e.do(method, path, body)
	var er struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(b, &er); err != nil {
		e.t.Fatalf("%s %s: body %q is not a Confluent error: %v", method, path, b, err)
	}
	if got != status || er.ErrorCode != code || er.Message == "" {
		e.t.Fatalf("%s %s: got %d %s, want HTTP %d error_code %d", method, path, got, b, status, code)
	}
	return er.Message
}

func schemaBody(schema string) string {
	b, _ := json.Marshal(map[string]string{"schema": schema})
	return string(b)
}

func srCode(err error) int {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return 0
}

func TestRegisterAndReadWithSRClient(t *testing.T) {
	e := start(t, newCluster(t))
	cl, c := e.cl, ctx(t)

	id := e.register("member.playback-value", userV1)
	if id != 1 {
		t.Fatalf("first id = %d, want 1", id)
	}
	// Registering the same schema again, even written differently, is a
	// no-op that returns the same id and makes no new version.
	if again := e.register("member.playback-value", userV1Spaced); again != id {
		t.Fatalf("re-register gave id %d, want %d", again, id)
	}
	id2 := e.register("member.playback-value", userWithDefault)
	if id2 != 2 {
		t.Fatalf("second id = %d, want 2", id2)
	}

	s, err := cl.SchemaByID(c, id)
	if err != nil || s.Schema != userV1 || s.Type != sr.TypeAvro {
		t.Fatalf("SchemaByID = %+v, %v", s, err)
	}
	text, err := cl.SchemaTextByID(c, id2)
	if err != nil || text != userWithDefault {
		t.Fatalf("SchemaTextByID = %q, %v", text, err)
	}
	subjects, err := cl.Subjects(c)
	if err != nil || !slices.Equal(subjects, []string{"member.playback-value"}) {
		t.Fatalf("Subjects = %v, %v", subjects, err)
	}
	versions, err := cl.SubjectVersions(c, "member.playback-value")
	if err != nil || !slices.Equal(versions, []int{1, 2}) {
		t.Fatalf("SubjectVersions = %v, %v", versions, err)
	}
	latest, err := cl.SchemaByVersion(c, "member.playback-value", -1)
	if err != nil || latest.Version != 2 || latest.ID != id2 || latest.Schema.Schema != userWithDefault || latest.Subject != "member.playback-value" {
		t.Fatalf("SchemaByVersion(-1) = %+v, %v", latest, err)
	}
	v1, err := cl.SchemaByVersion(c, "member.playback-value", 1)
	if err != nil || v1.ID != id {
		t.Fatalf("SchemaByVersion(1) = %+v, %v", v1, err)
	}
	raw, err := cl.SchemaTextByVersion(c, "member.playback-value", 1)
	if err != nil || raw != userV1 {
		t.Fatalf("SchemaTextByVersion = %q, %v", raw, err)
	}
	found, err := cl.LookupSchema(c, "member.playback-value", sr.Schema{Schema: userV1Spaced})
	if err != nil || found.ID != id || found.Version != 1 || found.Schema.Schema != userV1 {
		t.Fatalf("LookupSchema = %+v, %v", found, err)
	}
	if _, err := cl.LookupSchema(c, "member.playback-value", sr.Schema{Schema: titleV1}); srCode(err) != 40403 {
		t.Fatalf("LookupSchema of an unregistered schema: %v, want 40403", err)
	}
	if _, err := cl.LookupSchema(c, "nope", sr.Schema{Schema: titleV1}); srCode(err) != 40401 {
		t.Fatalf("LookupSchema in an unknown subject: %v, want 40401", err)
	}
	all, err := cl.Schemas(c, "member.playback-value")
	if err != nil || len(all) != 2 {
		t.Fatalf("Schemas = %+v, %v", all, err)
	}
	everything, err := cl.AllSchemas(c)
	if err != nil || len(everything) != 2 || everything[1].Version != 2 {
		t.Fatalf("AllSchemas = %+v, %v", everything, err)
	}
	types, err := cl.SupportedTypes(c)
	if err != nil || !slices.Equal(types, []sr.SchemaType{sr.TypeAvro}) {
		t.Fatalf("SupportedTypes = %v, %v", types, err)
	}
	created, err := cl.CreateSchema(c, "member.playback-value", sr.Schema{Schema: userWithDefault})
	if err != nil || created.ID != id2 || created.Version != 2 {
		t.Fatalf("CreateSchema of an existing schema = %+v, %v", created, err)
	}
	for _, m := range cl.Mode(c, sr.GlobalSubject, "member.playback-value") {
		if m.Err != nil || m.Mode != sr.ModeReadWrite {
			t.Fatalf("Mode = %+v", m)
		}
	}

}

func TestGlobalIDReuseAcrossSubjects(t *testing.T) {
	e := start(t, newCluster(t))
	c := ctx(t)

	a := e.register("a-value", userV1)
	b := e.register("b-value", userV1Spaced)
	if a != b {
		t.Fatalf("same schema under two subjects got ids %d and %d", a, b)
	}
	other := e.register("c-value", titleV1)
	if other == a {
		t.Fatalf("a different schema reused id %d", a)
	}
	// Each subject has its own version 1, and the id's text is the one
	// first registered.
	for _, s := range []string{"a-value", "b-value"} {
		ss, err := e.cl.SchemaByVersion(c, s, 1)
		if err != nil || ss.ID != a || ss.Version != 1 {
			t.Fatalf("%s v1 = %+v, %v", s, ss, err)
		}
	}
	subjects, err := e.cl.SubjectsByID(c, a)
	if err != nil || !slices.Equal(subjects, []string{"a-value", "b-value"}) {
		t.Fatalf("SubjectsByID = %v, %v", subjects, err)
	}
	svs, err := e.cl.SchemaVersionsByID(c, a)
	want := []sr.SubjectVersion{{Subject: "a-value", Version: 1}, {Subject: "b-value", Version: 1}}
	if err != nil || !slices.Equal(svs, want) {
		t.Fatalf("SchemaVersionsByID = %v, %v", svs, err)
	}
	s, err := e.cl.SchemaByID(c, a)
	if err != nil || s.Schema != userV1 {
		t.Fatalf("SchemaByID = %+v, %v", s, err)
	}
}

func TestCompatibility(t *testing.T) {
	e := start(t, newCluster(t))
	cl, c := e.cl, ctx(t)

	global := cl.Compatibility(c)
	if global[0].Err != nil || global[0].Level != sr.CompatBackward {
		t.Fatalf("default global level = %+v", global[0])
	}

	e.register("users-value", userV1)
	// BACKWARD: a new field with a default can read old data.
	e.register("users-value", userWithDefault)

	// A new field without a default cannot.
	_, err := cl.RegisterSchema(c, "users-value", sr.Schema{Schema: userNoDefault}, -1, -1)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict || re.ErrorCode != 409 ||
		!strings.HasPrefix(re.Message, `Schema being registered is incompatible with an earlier schema for subject "users-value", details: [`) {
		t.Fatalf("register without default: %v", err)
	}
	// Nor can a changed type.
	if _, err := cl.RegisterSchema(c, "users-value", sr.Schema{Schema: userIDIsInt}, -1, -1); srCode(err) != 409 {
		t.Fatalf("register with changed type: %v, want 409", err)
	}

	res, err := cl.CheckCompatibility(c, "users-value", -1, sr.Schema{Schema: userNoDefault})
	if err != nil || res.Is {
		t.Fatalf("CheckCompatibility(latest) = %+v, %v", res, err)
	}
	res, err = cl.CheckCompatibility(sr.WithParams(c, sr.Verbose), "users-value", -2, sr.Schema{Schema: userNoDefault})
	if err != nil || res.Is || len(res.Messages) == 0 || !strings.Contains(res.Messages[0], "email") {
		t.Fatalf("CheckCompatibility(all, verbose) = %+v, %v", res, err)
	}
	res, err = cl.CheckCompatibility(c, "users-value", 2, sr.Schema{Schema: userV1})
	if err != nil || !res.Is {
		t.Fatalf("CheckCompatibility(v2, removing a field) = %+v, %v", res, err)
	}
	res, err = cl.CheckCompatibility(c, "brand-new", -2, sr.Schema{Schema: userV1})
	if err != nil || !res.Is {
		t.Fatalf("CheckCompatibility against a new subject = %+v, %v", res, err)
	}
	if _, err := cl.CheckCompatibility(c, "users-value", 7, sr.Schema{Schema: userV1}); srCode(err) != 40402 {
		t.Fatalf("CheckCompatibility against a missing version: %v", err)
	}

	// Subject level overrides global; without one, GET /config/{subject}
	// is 40408 unless asked to fall back.
	e.wantError("GET", "/config/users-value", "", 404, 40408)
	if res := cl.Compatibility(sr.WithParams(c, sr.DefaultToGlobal), "users-value"); res[0].Err != nil || res[0].Level != sr.CompatBackward {
		t.Fatalf("defaultToGlobal = %+v", res[0])
	}
	if res := cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatNone}, "users-value"); res[0].Err != nil || res[0].Level != sr.CompatNone {
		t.Fatalf("SetCompatibility(NONE) = %+v", res[0])
	}
	if res := cl.Compatibility(c, "users-value"); res[0].Err != nil || res[0].Level != sr.CompatNone {
		t.Fatalf("subject level = %+v", res[0])
	}
	// NONE lets anything through.
	if id := e.register("users-value", userIDIsInt); id == 0 {
		t.Fatal("no id")
	}
	if res := cl.ResetCompatibility(c, "users-value"); res[0].Err != nil {
		t.Fatalf("ResetCompatibility = %+v", res[0])
	}
	e.wantError("GET", "/config/users-value", "", 404, 40408)

	// Global level applies to subjects without their own.
	if res := cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatFull}); res[0].Err != nil || res[0].Level != sr.CompatFull {
		t.Fatalf("SetCompatibility(global FULL) = %+v", res[0])
	}
	if res := cl.Compatibility(c); res[0].Level != sr.CompatFull {
		t.Fatalf("global level = %+v", res[0])
	}
	e.register("full-value", userV1)
	// FULL: adding a defaulted field is fine both ways ...
	e.register("full-value", userWithDefault)
	// ... but removing a field without a default is not forward compatible:
	// the old reader needs "id".
	if _, err := cl.RegisterSchema(c, "full-value", sr.Schema{Schema: `{"type":"record","name":"User","namespace":"rdg.test","fields":[{"name":"age","type":"int","default":0}]}`}, -1, -1); srCode(err) != 409 {
		t.Fatalf("FULL, dropping a required field: %v, want 409", err)
	}

	msg := e.wantError("PUT", "/config", `{"compatibility":"SIDEWAYS"}`, 422, 42203)
	if !strings.Contains(msg, "SIDEWAYS") {
		t.Errorf("message %q", msg)
	}
	// Levels are case-insensitive on input, as Confluent's are.
	if code, b := e.do("PUT", "/config/x", `{"compatibility":"forward"}`); code != 200 || !strings.Contains(string(b), `"FORWARD"`) {
		t.Fatalf("PUT lower-case level: %d %s", code, b)
	}
}

func TestTransitiveCompatibility(t *testing.T) {
	e := start(t, newCluster(t))
	c := ctx(t)
	v1 := `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`
	v2 := `{"type":"record","name":"R","fields":[]}`
	// v3 reads v2 (a has a default) but not v1 (a was a string).
	v3 := `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":0}]}`
	for _, subject := range []string{"plain", "transitive"} {
		e.register(subject, v1)
		e.register(subject, v2)
	}
	e.cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatBackwardTransitive}, "transitive")

	if _, err := e.cl.RegisterSchema(c, "transitive", sr.Schema{Schema: v3}, -1, -1); srCode(err) != 409 {
		t.Fatalf("BACKWARD_TRANSITIVE: %v, want 409", err)
	}
	e.register("plain", v3) // BACKWARD checks only the latest version
}

func TestErrors(t *testing.T) {
	e := start(t, newCluster(t))
	e.register("s", userV1)

	msg := e.wantError("POST", "/subjects/s/versions", schemaBody(`{"type":"record","name":"Broken","fields":[{"name":"x","type":"nosuchtype"}]}`), 422, 42201)
	if !strings.HasPrefix(msg, "Invalid schema ") {
		t.Errorf("invalid schema message %q", msg)
	}
	e.wantError("POST", "/subjects/s/versions", schemaBody(`not json at all {`), 422, 42201)
	e.wantError("POST", "/subjects/s/versions", `{"schema":""}`, 422, 42201)
	e.wantError("POST", "/subjects/s/versions", `{"schema":"\"string\"","schemaType":"PROTOBUF"}`, 422, 42201)
	e.wantError("POST", "/subjects/s/versions", `{"schema":"\"string\"","references":[{"name":"x","subject":"y","version":1}]}`, 422, 42201)
	e.wantError("POST", "/subjects/s/versions", `{"schema":`, 400, 400)
	e.wantError("POST", "/subjects/s/versions", `{"schema":"\"string\"","id":99}`, 422, 42205)

	e.wantError("GET", "/schemas/ids/99", "", 404, 40403)
	e.wantError("GET", "/schemas/ids/99/schema", "", 404, 40403)
	e.wantError("GET", "/schemas/ids/abc", "", 404, 40403)
	e.wantError("GET", "/subjects/nope/versions", "", 404, 40401)
	e.wantError("GET", "/subjects/nope/versions/latest", "", 404, 40401)
	e.wantError("GET", "/subjects/s/versions/2", "", 404, 40402)
	e.wantError("GET", "/subjects/s/versions/0", "", 422, 42202)
	e.wantError("GET", "/subjects/s/versions/abc", "", 422, 42202)
	e.wantError("DELETE", "/subjects/nope", "", 404, 40401)
	e.wantError("PUT", "/mode", `{"mode":"IMPORT"}`, 422, 42204)
	e.wantError("GET", "/no/such/route", "", 404, 404)

	if _, err := e.cl.SchemaByID(ctx(t), 99); srCode(err) != 40403 {
		t.Fatalf("sr client, unknown id: %v", err)
	}
	if _, err := e.cl.RegisterSchema(ctx(t), "s", sr.Schema{Schema: `{"type":"enum"}`}, -1, -1); srCode(err) != 42201 {
		t.Fatalf("sr client, invalid schema: %v", err)
	}
}

// TestNamedTypesDoNotLeak guards against parsing with a shared schema cache:
// a type defined under one subject must not make a schema valid under
// another.
func TestNamedTypesDoNotLeak(t *testing.T) {
	e := start(t, newCluster(t))
	e.register("defines", `{"type":"record","name":"rdg.Shared","fields":[{"name":"x","type":"int"}]}`)
	e.wantError("POST", "/subjects/uses/versions", schemaBody(`{"type":"record","name":"Outer","fields":[{"name":"s","type":"rdg.Shared"}]}`), 422, 42201)
}

func TestDefaultsMakeDistinctSchemas(t *testing.T) {
	e := start(t, newCluster(t))
	withOne := `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1}]}`
	withTwo := `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":2}]}`
	id1 := e.register("r", withOne)
	id2 := e.register("r", withTwo)
	if id1 == id2 {
		t.Fatalf("schemas differing in a default share id %d", id1)
	}
	text, err := e.cl.SchemaTextByVersion(ctx(t), "r", -1)
	if err != nil || text != withTwo {
		t.Fatalf("latest = %q, %v", text, err)
	}
}

func TestDelete(t *testing.T) {
	e := start(t, newCluster(t))
	cl, c := e.cl, ctx(t)

	id1 := e.register("d", userV1)
	id2 := e.register("d", userWithDefault)
	e.register("keep", userV1)

	// Hard delete needs a soft delete first.
	if err := cl.DeleteSchema(c, "d", 2, sr.HardDelete); srCode(err) != 40407 {
		t.Fatalf("hard delete of a live version: %v, want 40407", err)
	}
	if err := cl.DeleteSchema(c, "d", 2, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if err := cl.DeleteSchema(c, "d", 2, sr.SoftDelete); srCode(err) != 40406 {
		t.Fatalf("second soft delete: %v, want 40406", err)
	}
	versions, _ := cl.SubjectVersions(c, "d")
	if !slices.Equal(versions, []int{1}) {
		t.Fatalf("versions after soft delete = %v", versions)
	}
	versions, _ = cl.SubjectVersions(sr.WithParams(c, sr.ShowDeleted), "d")
	if !slices.Equal(versions, []int{1, 2}) {
		t.Fatalf("versions with deleted = %v", versions)
	}
	latest, _ := cl.SchemaByVersion(c, "d", -1)
	if latest.Version != 1 {
		t.Fatalf("latest after deleting v2 = %+v", latest)
	}
	// Consumers of old data still resolve a soft-deleted schema by id.
	if _, err := cl.SchemaByID(c, id2); err != nil {
		t.Fatalf("soft-deleted schema by id: %v", err)
	}
	if _, err := cl.SchemaByVersion(c, "d", 2); srCode(err) != 40402 {
		t.Fatalf("soft-deleted version: %v, want 40402", err)
	}
	if ss, err := cl.SchemaByVersion(sr.WithParams(c, sr.ShowDeleted), "d", 2); err != nil || ss.ID != id2 {
		t.Fatalf("soft-deleted version with deleted=true: %+v, %v", ss, err)
	}
	if err := cl.DeleteSchema(c, "d", 2, sr.HardDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SchemaByID(c, id2); srCode(err) != 40403 {
		t.Fatalf("hard-deleted schema by id: %v, want 40403", err)
	}

	// Subjects: soft, then hard.
	if _, err := cl.DeleteSubject(c, "d", sr.HardDelete); srCode(err) != 40405 {
		t.Fatalf("hard delete of a live subject: %v, want 40405", err)
	}
	e.cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatNone}, "d")
	deleted, err := cl.DeleteSubject(c, "d", sr.SoftDelete)
	if err != nil || !slices.Equal(deleted, []int{1}) {
		t.Fatalf("soft delete subject = %v, %v", deleted, err)
	}
	e.wantError("GET", "/config/d", "", 404, 40408) // the subject's level went with it
	subjects, _ := cl.Subjects(c)
	if !slices.Equal(subjects, []string{"keep"}) {
		t.Fatalf("subjects after soft delete = %v", subjects)
	}
	subjects, _ = cl.Subjects(sr.WithParams(c, sr.ShowDeleted))
	if !slices.Equal(subjects, []string{"d", "keep"}) {
		t.Fatalf("subjects with deleted = %v", subjects)
	}
	if _, err := cl.DeleteSubject(c, "d", sr.SoftDelete); srCode(err) != 40404 {
		t.Fatalf("second soft delete of subject: %v, want 40404", err)
	}
	// Re-registering under a soft-deleted subject continues its versions
	// and keeps the schema's id.
	if id := e.register("d", userV1); id != id1 {
		t.Fatalf("re-register after soft delete: id %d, want %d", id, id1)
	}
	// Version 2 was hard-deleted, so the next is 2 again.
	ss, _ := cl.SchemaByVersion(c, "d", -1)
	if ss.Version != 2 {
		t.Fatalf("version after re-register = %d, want 2", ss.Version)
	}
	if _, err := cl.DeleteSubject(c, "d", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	deleted, err = cl.DeleteSubject(c, "d", sr.HardDelete)
	if err != nil || !slices.Equal(deleted, []int{1, 2}) {
		t.Fatalf("hard delete subject = %v, %v", deleted, err)
	}
	subjects, _ = cl.Subjects(sr.WithParams(c, sr.ShowDeleted))
	if !slices.Equal(subjects, []string{"keep"}) {
		t.Fatalf("subjects after hard delete = %v", subjects)
	}
	// id1 is still used by "keep".
	if _, err := cl.SchemaByID(c, id1); err != nil {
		t.Fatal(err)
	}
	// A hard-deleted subject starts again at version 1.
	e.register("d", titleV1)
	if ss, _ := cl.SchemaByVersion(c, "d", -1); ss.Version != 1 {
		t.Fatalf("version after hard delete = %d, want 1", ss.Version)
	}
}

func TestPlainHTTP(t *testing.T) {
	e := start(t, newCluster(t))

	if code, b := e.do("GET", "/", ""); code != 200 || strings.TrimSpace(string(b)) != "{}" {
		t.Fatalf("GET / = %d %s", code, b)
	}
	// Subjects may hold characters that must be escaped in a path.
	subject := "team/a b?-value"
	path := "/subjects/" + url.PathEscape(subject)
	code, b := e.do("POST", path+"/versions", schemaBody(userV1Spaced))
	if code != 200 || strings.TrimSpace(string(b)) != `{"id":1}` {
		t.Fatalf("register = %d %s", code, b)
	}
	// Raw endpoints give back the text as registered.
	if code, b := e.do("GET", path+"/versions/1/schema", ""); code != 200 || string(b) != userV1Spaced {
		t.Fatalf("raw schema = %d %q", code, b)
	}
	if code, b := e.do("GET", "/schemas/ids/1/schema", ""); code != 200 || string(b) != userV1Spaced {
		t.Fatalf("raw schema by id = %d %q", code, b)
	}

	var got struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
		ID      int    `json:"id"`
		Schema  string `json:"schema"`
	}
	code, b = e.do("GET", path+"/versions/latest", "")
	if err := json.Unmarshal(b, &got); err != nil || code != 200 || got.Subject != subject || got.Version != 1 || got.ID != 1 || got.Schema != userV1Spaced {
		t.Fatalf("latest = %d %s", code, b)
	}
	code, b = e.do("POST", path, schemaBody(userV1))
	if err := json.Unmarshal(b, &got); err != nil || code != 200 || got.ID != 1 || got.Version != 1 {
		t.Fatalf("lookup = %d %s", code, b)
	}
	for p, want := range map[string]string{
		"/subjects":                        `["team/a b?-value"]`,
		path + "/versions":                 `[1]`,
		"/schemas/types":                   `["AVRO"]`,
		"/schemas/ids/1/subjects":          `["team/a b?-value"]`,
		"/schemas/ids/1/versions":          `[{"subject":"team/a b?-value","version":1}]`,
		"/config":                          `{"compatibilityLevel":"BACKWARD"}`,
		"/config/x?defaultToGlobal=true":   `{"compatibilityLevel":"BACKWARD"}`,
		"/mode":                            `{"mode":"READWRITE"}`,
		"/mode/" + url.PathEscape(subject): `{"mode":"READWRITE"}`,
		path + "/versions/1/referencedby":  `[]`,
	} {
		if code, b := e.do("GET", p, ""); code != 200 || strings.TrimSpace(string(b)) != want {
			t.Errorf("GET %s = %d %s, want %s", p, code, b, want)
		}
	}
	if code, b := e.do("PUT", "/config", `{"compatibility":"FULL"}`); code != 200 || strings.TrimSpace(string(b)) != `{"compatibility":"FULL"}` {
		t.Fatalf("PUT /config = %d %s", code, b)
	}
	if code, b := e.do("POST", "/compatibility/subjects/"+url.PathEscape(subject)+"/versions/latest?verbose=true", schemaBody(userNoDefault)); code != 200 || !strings.Contains(string(b), `"is_compatible":false`) || !strings.Contains(string(b), `"messages":[`) {
		t.Fatalf("compatibility = %d %s", code, b)
	}
	if code, b := e.do("POST", "/compatibility/subjects/"+url.PathEscape(subject)+"/versions", schemaBody(userWithDefault)); code != 200 || strings.TrimSpace(string(b)) != `{"is_compatible":true}` {
		t.Fatalf("compatibility = %d %s", code, b)
	}
	// franz-go's client escapes such a subject the same way.
	if ss, err := e.cl.SchemaByVersion(ctx(t), subject, 1); err != nil || ss.Subject != subject || ss.ID != 1 {
		t.Fatalf("sr client with subject %q: %+v, %v", subject, ss, err)
	}
	if code, b := e.do("DELETE", path+"/versions/latest", ""); code != 200 || strings.TrimSpace(string(b)) != "1" {
		t.Fatalf("delete latest = %d %s", code, b)
	}
	if code, b := e.do("DELETE", path+"?permanent=true", ""); code != 200 || strings.TrimSpace(string(b)) != "[1]" {
		t.Fatalf("hard delete = %d %s", code, b)
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	e := start(t, newCluster(t))
	const n = 12
	own := make([]int, n)
	shared := make([]int, n)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			schema := fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"f","type":"long"}]}`, i)
			var err error
			if own[i], err = e.cl.RegisterSchema(context.Background(), fmt.Sprintf("own-%d", i), sr.Schema{Schema: schema}, -1, -1); err != nil {
				errs <- err
			}
			if shared[i], err = e.cl.RegisterSchema(context.Background(), fmt.Sprintf("shared-%d", i), sr.Schema{Schema: titleV1}, -1, -1); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for i := range n {
		if shared[i] != shared[0] {
			t.Fatalf("shared schema got ids %v", shared)
		}
		ids[own[i]] = true
	}
	ids[shared[0]] = true
	if len(ids) != n+1 {
		t.Fatalf("got %d distinct ids for %d schemas: own %v shared %v", len(ids), n+1, own, shared)
	}
}

// populate makes a registry state worth restoring and returns what a
// restarted registry must still answer.
func populate(t *testing.T, e *env) (idA1, idA2, idTitle int) {
	c := ctx(t)
	idA1 = e.register("a-value", userV1)
	idA2 = e.register("a-value", userWithDefault)
	if id := e.register("b-value", userV1Spaced); id != idA1 {
		t.Fatalf("b-value id %d, want %d", id, idA1)
	}
	idTitle = e.register("gone-value", titleV1)
	if _, err := e.cl.DeleteSubject(c, "gone-value", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.DeleteSchema(c, "a-value", 2, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if r := e.cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatFullTransitive}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r := e.cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatNone}, "b-value"); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	return idA1, idA2, idTitle
}

func verifyRestored(t *testing.T, e *env, idA1, idA2, idTitle int) {
	t.Helper()
	c := ctx(t)
	cl := e.cl
	if s, err := cl.SchemaByID(c, idA1); err != nil || s.Schema != userV1 {
		t.Fatalf("id %d after restart = %+v, %v", idA1, s, err)
	}
	if s, err := cl.SchemaByID(c, idA2); err != nil || s.Schema != userWithDefault {
		t.Fatalf("soft-deleted id %d after restart = %+v, %v", idA2, s, err)
	}
	if subjects, _ := cl.Subjects(c); !slices.Equal(subjects, []string{"a-value", "b-value"}) {
		t.Fatalf("subjects after restart = %v", subjects)
	}
	if subjects, _ := cl.Subjects(sr.WithParams(c, sr.ShowDeleted)); !slices.Equal(subjects, []string{"a-value", "b-value", "gone-value"}) {
		t.Fatalf("subjects with deleted after restart = %v", subjects)
	}
	if v, _ := cl.SubjectVersions(c, "a-value"); !slices.Equal(v, []int{1}) {
		t.Fatalf("a-value versions after restart = %v", v)
	}
	if v, _ := cl.SubjectVersions(sr.WithParams(c, sr.ShowDeleted), "a-value"); !slices.Equal(v, []int{1, 2}) {
		t.Fatalf("a-value versions with deleted after restart = %v", v)
	}
	if ss, err := cl.SchemaByVersion(c, "b-value", 1); err != nil || ss.ID != idA1 || ss.Schema.Schema != userV1Spaced {
		t.Fatalf("b-value v1 after restart = %+v, %v", ss, err)
	}
	if r := cl.Compatibility(c); r[0].Level != sr.CompatFullTransitive {
		t.Fatalf("global level after restart = %+v", r[0])
	}
	if r := cl.Compatibility(c, "b-value"); r[0].Err != nil || r[0].Level != sr.CompatNone {
		t.Fatalf("b-value level after restart = %+v", r[0])
	}
	// New ids continue the sequence; a re-registered schema keeps its id.
	next := e.register("c-value", `{"type":"record","name":"New","fields":[]}`)
	if want := max(idA1, idA2, idTitle) + 1; next != want {
		t.Fatalf("next id after restart = %d, want %d", next, want)
	}
	if id := e.register("gone-value", titleV1); id != idTitle {
		t.Fatalf("re-registered id %d, want %d", id, idTitle)
	}
	if ss, _ := cl.SchemaByVersion(c, "gone-value", -1); ss.Version != 2 {
		t.Fatalf("gone-value version after restart = %d, want 2", ss.Version)
	}
}

func TestRestartRegistry(t *testing.T) {
	c := newCluster(t)
	e := start(t, c)
	idA1, idA2, idTitle := populate(t, e)
	e.stop()

	verifyRestored(t, start(t, c), idA1, idA2, idTitle)
}

func TestRestartBrokerWithDataDir(t *testing.T) {
	dir := t.TempDir()
	c1, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addr := c1.ListenAddrs()[0]
	e := start(t, c1)
	idA1, idA2, idTitle := populate(t, e)
	e.stop()
	// Compaction must not change what a restart sees.
	c1.Compact()
	c1.Close()

	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	c2 := newCluster(t, kfake.Ports(port), kfake.DataDir(dir))
	if got := c2.ListenAddrs()[0]; got != addr {
		t.Fatalf("restarted broker on %s, want %s", got, addr)
	}
	verifyRestored(t, start(t, c2), idA1, idA2, idTitle)
}

// TestFailedWriteIsNotApplied injects a produce error: the registration
// must fail, leave no trace, and the next one must work.
func TestFailedWriteIsNotApplied(t *testing.T) {
	c := newCluster(t)
	e := start(t, c)
	e.register("s", userV1)

	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "_schemas", Err: kerr.PolicyViolation})
	if _, err := e.cl.RegisterSchema(ctx(t), "s", sr.Schema{Schema: userWithDefault}, -1, -1); srCode(err) != 50001 {
		t.Fatalf("register during a broker fault: %v, want 50001", err)
	}
	if v, _ := e.cl.SubjectVersions(ctx(t), "s"); !slices.Equal(v, []int{1}) {
		t.Fatalf("versions after failed write = %v", v)
	}
	if id := e.register("s", userWithDefault); id != 2 {
		t.Fatalf("id after failed write = %d, want 2", id)
	}
}

func TestTopicAndRecordFormat(t *testing.T) {
	c := newCluster(t)
	e := start(t, c, Topic("_rdg_schemas"))
	e.register("fmt", userV1)
	e.cl.SetCompatibility(ctx(t), sr.SetCompatibility{Level: sr.CompatFull})

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("_rdg_schemas"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx(t), "_rdg_schemas")
	if err != nil || len(td["_rdg_schemas"].Partitions) != 1 {
		t.Fatalf("topic = %+v, %v", td, err)
	}
	rc, err := adm.DescribeTopicConfigs(ctx(t), "_rdg_schemas")
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, cfg := range rc[0].Configs {
		if cfg.Key == "cleanup.policy" && cfg.Value != nil {
			policy = *cfg.Value
		}
	}
	if policy != "compact" {
		t.Fatalf("cleanup.policy = %q", policy)
	}

	want := map[string]string{
		`{"keytype":"SCHEMA","subject":"fmt","version":1,"magic":1}`: `{"subject":"fmt","version":1,"id":1,"schemaType":"AVRO","schema":` + strconv.Quote(userV1) + `,"deleted":false}`,
		`{"keytype":"CONFIG","subject":null,"magic":0}`:              `{"compatibilityLevel":"FULL"}`,
	}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if v, ok := want[string(r.Key)]; ok {
				if !bytes.Equal(r.Value, []byte(v)) {
					t.Errorf("value for %s = %s, want %s", r.Key, r.Value, v)
				}
				delete(want, string(r.Key))
			}
		})
	}
}

func TestRefusesUnsafeExistingTopic(t *testing.T) {
	c := newCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx(t), 3, 1, nil, "three"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx(t), 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, "deleting"); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"three", "deleting"} {
		if srv, err := New(ctx(t), Seeds(c.ListenAddrs()...), Topic(topic)); err == nil {
			srv.Close()
			t.Errorf("New accepted topic %q", topic)
		}
	}
}

// TestReadsDuringSlowWrite holds a registration's produce inside the broker:
// reads must still be answered from memory, and the write must not be
// visible until the broker acknowledges it.
func TestReadsDuringSlowWrite(t *testing.T) {
	c := newCluster(t)
	e := start(t, c)
	e.register("s", userV1)

	entered, release := make(chan struct{}), make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.DropControl()
		close(entered)
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	done := make(chan error, 1)
	go func() {
		_, err := e.cl.RegisterSchema(context.Background(), "s", sr.Schema{Schema: userWithDefault}, -1, -1)
		done <- err
	}()
	<-entered
	if v, err := e.cl.SubjectVersions(ctx(t), "s"); err != nil || !slices.Equal(v, []int{1}) {
		t.Fatalf("versions while the write is held = %v, %v", v, err)
	}
	if _, err := e.cl.SchemaByID(ctx(t), 1); err != nil {
		t.Fatalf("read by id while the write is held: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, _ := e.cl.SubjectVersions(ctx(t), "s"); !slices.Equal(v, []int{1, 2}) {
		t.Fatalf("versions after the write = %v", v)
	}
}
