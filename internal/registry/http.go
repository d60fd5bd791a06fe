package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	contentType = "application/vnd.schemaregistry.v1+json"
	// maxBody bounds what a request may make the registry read.
	maxBody = 1 << 20
	// maxRecord bounds a record written to the schemas topic (key and
	// value), below franz-go's default batch limit (1,000,012 bytes) and
	// the broker's message.max.bytes, so that what the broker would refuse
	// is refused as too large instead of failing as a store error.
	maxRecord = 990_000
)

// apiError is an error in Confluent's shape: an HTTP status plus the
// registry's own error_code, which is what clients switch on.
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errSubjectNotFound(subject string) error {
	return &apiError{http.StatusNotFound, 40401, fmt.Sprintf("Subject '%s' not found.", subject)}
}

func errVersionNotFound(subject string, n int) error {
	return &apiError{http.StatusNotFound, 40402, fmt.Sprintf("Version %d not found for subject '%s'.", n, subject)}
}

func errSchemaNotFound(what string) error {
	return &apiError{http.StatusNotFound, 40403, what}
}

func errInvalidSchema(msg string) error {
	return &apiError{http.StatusUnprocessableEntity, 42201, msg}
}

func errInvalidVersion(spec string) error {
	return &apiError{http.StatusUnprocessableEntity, 42202, fmt.Sprintf(
		"The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", spec)}
}

func errTooLarge(msg string) error {
	return &apiError{http.StatusUnprocessableEntity, 42209, msg}
}

func errInvalidLevel(level string) error {
	return &apiError{http.StatusUnprocessableEntity, 42203, fmt.Sprintf(
		"Invalid compatibility level '%s'. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive", level)}
}

// rawBody is written as is, for the endpoints that return a bare schema.
type rawBody string

type subjectSchema struct {
	Subject    string `json:"subject"`
	Version    int    `json:"version"`
	ID         int    `json:"id"`
	SchemaType string `json:"schemaType,omitempty"`
	Schema     string `json:"schema"`
}

func (v *version) out() subjectSchema {
	return subjectSchema{v.subject, v.version, v.id, v.schemaType, v.text}
}

// schemaRequest is the body of register, lookup and compatibility calls.
// Fields we do not support but that clients may send (metadata, ruleSet)
// are ignored rather than rejected, as an older Confluent registry does.
type schemaRequest struct {
	Schema     string            `json:"schema"`
	SchemaType string            `json:"schemaType"`
	References []json.RawMessage `json:"references"`
	ID         int               `json:"id"`
	Version    int               `json:"version"`
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	h := func(pattern string, fn func(*http.Request) (any, error)) {
		m.Handle(pattern, handler(fn))
	}
	h("GET /{$}", func(*http.Request) (any, error) { return struct{}{}, nil })
	// Every path the routes below do not take: 405 if the path exists for
	// another method, as Confluent answers, 404 otherwise.
	m.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(m, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, &apiError{http.StatusMethodNotAllowed, 405, "HTTP 405 Method Not Allowed"})
			return
		}
		writeError(w, &apiError{http.StatusNotFound, 404, "HTTP 404 Not Found"})
	}))

	h("GET /schemas", s.getSchemas)
	h("GET /schemas/types", func(*http.Request) (any, error) { return []string{"AVRO"}, nil })
	h("GET /schemas/ids/{id}", s.getSchemaByID)
	h("GET /schemas/ids/{id}/schema", s.getRawSchemaByID)
	h("GET /schemas/ids/{id}/subjects", s.getSubjectsByID)
	h("GET /schemas/ids/{id}/versions", s.getVersionsByID)

	h("GET /subjects", s.getSubjects)
	h("POST /subjects/{subject}", s.lookup)
	h("DELETE /subjects/{subject}", s.deleteSubject)
	h("GET /subjects/{subject}/versions", s.getVersions)
	h("POST /subjects/{subject}/versions", s.register)
	h("GET /subjects/{subject}/versions/{version}", s.getVersion)
	h("GET /subjects/{subject}/versions/{version}/schema", s.getRawVersion)
	h("GET /subjects/{subject}/versions/{version}/referencedby", s.getReferencedBy)
	h("DELETE /subjects/{subject}/versions/{version}", s.deleteVersion)

	h("GET /config", s.getGlobalConfig)
	h("PUT /config", s.putConfig)
	h("DELETE /config", s.deleteConfig)
	h("GET /config/{subject}", s.getSubjectConfig)
	h("PUT /config/{subject}", s.putConfig)
	h("DELETE /config/{subject}", s.deleteConfig)

	h("POST /compatibility/subjects/{subject}/versions", s.checkCompatibility)
	h("POST /compatibility/subjects/{subject}/versions/{version}", s.checkCompatibility)

	h("GET /mode", getMode)
	h("GET /mode/{subject}", getMode)
	h("PUT /mode", putMode)
	h("PUT /mode/{subject}", putMode)
	h("GET /contexts", func(*http.Request) (any, error) { return []string{"."}, nil })
	return m
}

func handler(fn func(*http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		out, err := fn(r)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = &apiError{http.StatusInternalServerError, 50001, err.Error()}
			}
			writeError(w, ae)
			return
		}
		if raw, ok := out.(rawBody); ok {
			w.Header().Set("Content-Type", contentType)
			_, _ = w.Write([]byte(raw))
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// allowed lists the methods for which m has a route of r's path other
// than the catch-all.
func allowed(m *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := &http.Request{Method: method, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := m.Handler(probe); pattern != "/" && pattern != "" {
			out = append(out, method)
		}
	}
	return out
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, map[string]any{"error_code": e.code, "message": e.msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // schemas are JSON text, not HTML
	_ = enc.Encode(v)
}

// decode reads a JSON body. The Content-Type is not checked: Confluent
// clients send the vnd type, curl users application/json or, having
// forgotten -H, form encoding; the body is JSON in every case.
// The body must be one JSON value: trailing data is refused rather than
// ignored, since it means the client sent something other than it thinks.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON value")
			if terr != nil {
				err = terr
			}
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge(fmt.Sprintf("Request body is larger than %d bytes", maxBody))
		}
		return &apiError{http.StatusBadRequest, 400, "Invalid JSON request body: " + err.Error()}
	}
	return nil
}

func flag(r *http.Request, name string) bool {
	return strings.EqualFold(r.URL.Query().Get(name), "true")
}

// parseSchemaRequest decodes and validates a schema body: only Avro, no
// references (they would need resolution across subjects, which rdg's
// schemas do not use).
func parseSchemaRequest(r *http.Request) (schemaRequest, avro.Schema, string, error) {
	var req schemaRequest
	if err := decode(r, &req); err != nil {
		return req, nil, "", err
	}
	if t := strings.ToUpper(req.SchemaType); t != "" && t != "AVRO" {
		return req, nil, "", errInvalidSchema(fmt.Sprintf("Invalid schema: schema type %s is not supported; this registry supports AVRO only", req.SchemaType))
	}
	if len(req.References) > 0 {
		return req, nil, "", errInvalidSchema("Invalid schema: schema references are not supported by this registry; inline the referenced types")
	}
	if strings.TrimSpace(req.Schema) == "" {
		return req, nil, "", errInvalidSchema("Invalid schema: empty schema")
	}
	parsed, norm, err := parseRequested(req.Schema)
	var tc errTooComplex
	switch {
	case errors.As(err, &tc):
		return req, nil, "", errTooLarge("Schema too large: " + tc.msg)
	case err != nil:
		return req, nil, "", errInvalidSchema(fmt.Sprintf("Invalid schema %s: %v", truncate(req.Schema, 200), err))
	}
	return req, parsed, norm, nil
}

// truncate cuts s to at most n bytes for a message, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// parseVersion accepts a version number, "latest" or -1 (which Confluent
// clients send for latest); latest is reported as 0.
func parseVersion(spec string) (int, error) {
	if spec == "latest" || spec == "-1" {
		return 0, nil
	}
	n, err := strconv.ParseInt(spec, 10, 32)
	if err != nil || n < 1 {
		return 0, errInvalidVersion(spec)
	}
	return int(n), nil
}

// resolve finds the version a path names among a subject's versions.
func (st *state) resolve(subject, spec string, withDeleted bool) (*version, error) {
	n, err := parseVersion(spec)
	if err != nil {
		return nil, err
	}
	vs := st.versions(subject, withDeleted)
	if len(vs) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	if n == 0 {
		return vs[len(vs)-1], nil
	}
	for _, v := range vs {
		if v.version == n {
			return v, nil
		}
	}
	return nil, errVersionNotFound(subject, n)
}

func validSubject(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// ---- schemas by id ----

func (s *Server) schemaByID(r *http.Request) (*schemaEntry, error) {
	idStr := r.PathValue("id")
	id, err := strconv.Atoi(idStr)
	if err != nil {
		return nil, errSchemaNotFound(fmt.Sprintf("Schema %s not found", idStr))
	}
	e := s.st.schemas[id]
	if e == nil {
		return nil, errSchemaNotFound(fmt.Sprintf("Schema %d not found", id))
	}
	if subject := r.URL.Query().Get("subject"); subject != "" && len(s.usages(id, subject, true)) == 0 {
		return nil, errSchemaNotFound(fmt.Sprintf("Schema %d not found in subject '%s'", id, subject))
	}
	return e, nil
}

// usages lists the versions that use id, in subject then version order,
// limited to one subject if subject is not "".
func (s *Server) usages(id int, subject string, withDeleted bool) []*version {
	var out []*version
	for _, name := range s.st.subjectNames() {
		if subject != "" && name != subject {
			continue
		}
		for _, v := range s.st.versions(name, withDeleted) {
			if v.id == id {
				out = append(out, v)
			}
		}
	}
	return out
}

func (s *Server) getSchemaByID(r *http.Request) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.schemaByID(r)
	if err != nil {
		return nil, err
	}
	resp := struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType,omitempty"`
		MaxID      int    `json:"maxId,omitempty"`
	}{Schema: e.text, SchemaType: e.schemaType}
	if flag(r, "fetchMaxId") {
		resp.MaxID = s.st.maxID
	}
	return resp, nil
}

func (s *Server) getRawSchemaByID(r *http.Request) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.schemaByID(r)
	if err != nil {
		return nil, err
	}
	return rawBody(e.text), nil
}

func (s *Server) getSubjectsByID(r *http.Request) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.schemaByID(r)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, v := range s.usages(e.id, r.URL.Query().Get("subject"), flag(r, "deleted")) {
		if len(out) == 0 || out[len(out)-1] != v.subject {
			out = append(out, v.subject)
		}
	}
	return out, nil
}

func (s *Server) getVersionsByID(r *http.Request) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.schemaByID(r)
	if err != nil {
		return nil, err
	}
	type subjectVersion struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	out := []subjectVersion{}
	for _, v := range s.usages(e.id, r.URL.Query().Get("subject"), flag(r, "deleted")) {
		out = append(out, subjectVersion{v.subject, v.version})
	}
	return out, nil
}

func (s *Server) getSchemas(r *http.Request) (any, error) {
	prefix := r.URL.Query().Get("subjectPrefix")
	withDeleted, latestOnly := flag(r, "deleted"), flag(r, "latestOnly")
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []subjectSchema{}
	for _, name := range s.st.subjectNames() {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		vs := s.st.versions(name, withDeleted)
		if latestOnly && len(vs) > 0 {
			vs = vs[len(vs)-1:]
		}
		for _, v := range vs {
			out = append(out, v.out())
		}
	}
	return out, nil
}

// ---- subjects ----

func (s *Server) getSubjects(r *http.Request) (any, error) {
	prefix := r.URL.Query().Get("subjectPrefix")
	withDeleted, deletedOnly := flag(r, "deleted"), flag(r, "deletedOnly")
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []string{}
	for _, name := range s.st.subjectNames() {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		live, dead := false, false
		for _, v := range s.st.subjects[name] {
			live, dead = live || !v.deleted, dead || v.deleted
		}
		if (deletedOnly && dead) || (!deletedOnly && (live || withDeleted)) {
			out = append(out, name)
		}
	}
	return out, nil
}

func (s *Server) getVersions(r *http.Request) (any, error) {
	subject := r.PathValue("subject")
	withDeleted, deletedOnly := flag(r, "deleted"), flag(r, "deletedOnly")
	s.mu.RLock()
	defer s.mu.RUnlock()
	vs := s.st.versions(subject, withDeleted || deletedOnly)
	if len(vs) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	out := []int{}
	for _, v := range vs {
		if !deletedOnly || v.deleted {
			out = append(out, v.version)
		}
	}
	return out, nil
}

func (s *Server) getVersion(r *http.Request) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, err := s.st.resolve(r.PathValue("subject"), r.PathValue("version"), flag(r, "deleted"))
	if err != nil {
		return nil, err
	}
	return v.out(), nil
}

func (s *Server) getRawVersion(r *http.Request) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, err := s.st.resolve(r.PathValue("subject"), r.PathValue("version"), flag(r, "deleted"))
	if err != nil {
		return nil, err
	}
	return rawBody(v.text), nil
}

// getReferencedBy is always empty: references are refused at registration.
func (s *Server) getReferencedBy(r *http.Request) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, err := s.st.resolve(r.PathValue("subject"), r.PathValue("version"), flag(r, "deleted")); err != nil {
		return nil, err
	}
	return []int{}, nil
}

func (s *Server) register(r *http.Request) (any, error) {
	subject := r.PathValue("subject")
	if !validSubject(subject) {
		return nil, &apiError{http.StatusUnprocessableEntity, 42208, fmt.Sprintf("The specified subject '%s' is not valid.", subject)}
	}
	req, parsed, norm, err := parseSchemaRequest(r)
	if err != nil {
		return nil, err
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.fresh(); err != nil {
		return nil, err
	}
	st := s.st
	live := st.versions(subject, false)

	id, n := 0, 0
	for _, v := range live {
		if e := st.schemas[v.id]; e != nil && e.norm == norm {
			id, n = v.id, v.version
		}
	}
	if id != 0 {
		// Registering what is already there is an idempotent success,
		// whatever the compatibility level says today.
		if err := checkImport(req, id, n); err != nil {
			return nil, err
		}
		return map[string]int{"id": id}, nil
	}

	// The same schema keeps one id across subjects, so a consumer that has
	// cached it for one topic need not fetch it again for another.
	id, ok := st.byNorm[norm]
	if !ok {
		id = st.maxID + 1
	}
	n = st.nextVersion(subject)
	if err := checkImport(req, id, n); err != nil {
		return nil, err
	}
	if msgs := compatible(st.level(subject), parsed, live, st.schemas); len(msgs) > 0 {
		return nil, &apiError{http.StatusConflict, 409, fmt.Sprintf(
			"Schema being registered is incompatible with an earlier schema for subject \"%s\", details: [%s]",
			subject, strings.Join(msgs, ", "))}
	}
	if err := s.commit(schemaRecord(schemaValue{
		Subject: subject, Version: n, ID: id, SchemaType: "AVRO", Schema: req.Schema,
	})); err != nil {
		return nil, err
	}
	s.cfg.logger.Info("registered schema", "subject", subject, "version", n, "id", id)
	return map[string]int{"id": id}, nil
}

// checkImport refuses a caller-chosen id or version that differs from the
// one the registry assigns: that is Confluent's IMPORT mode, which a single
// max+1 writer cannot offer safely.
func checkImport(req schemaRequest, id, n int) error {
	if (req.ID > 0 && req.ID != id) || (req.Version > 0 && req.Version != n) {
		return &apiError{http.StatusUnprocessableEntity, 42205, fmt.Sprintf(
			"Cannot register with id %d version %d: this registry assigns ids and versions itself (IMPORT mode is not supported)", req.ID, req.Version)}
	}
	return nil
}

func (s *Server) lookup(r *http.Request) (any, error) {
	subject := r.PathValue("subject")
	_, _, norm, err := parseSchemaRequest(r)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	vs := s.st.versions(subject, flag(r, "deleted"))
	if len(vs) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if e := s.st.schemas[vs[i].id]; e != nil && e.norm == norm {
			return vs[i].out(), nil
		}
	}
	return nil, errSchemaNotFound("Schema not found")
}

func (s *Server) deleteSubject(r *http.Request) (any, error) {
	subject := r.PathValue("subject")
	permanent := flag(r, "permanent")
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.fresh(); err != nil {
		return nil, err
	}
	all := s.st.versions(subject, true)
	live := s.st.versions(subject, false)
	if len(all) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	if err := s.deletable(subject); err != nil {
		return nil, err
	}

	var recs []*kgo.Record
	out := []int{}
	if !permanent {
		if len(live) == 0 {
			return nil, &apiError{http.StatusNotFound, 40404, fmt.Sprintf("Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject)}
		}
		for _, v := range live {
			recs = append(recs, softDeleted(v))
			out = append(out, v.version)
		}
		// As in Confluent, a deleted subject forgets its own level, so a
		// subject of the same name starts again from the global one.
		if _, ok := s.st.compat[subject]; ok {
			recs = append(recs, configRecord(subject, ""))
		}
	} else {
		if len(live) > 0 {
			return nil, &apiError{http.StatusNotFound, 40405, fmt.Sprintf("Subject '%s' was not deleted first before being permanently deleted", subject)}
		}
		for _, v := range all {
			recs = append(recs, schemaTombstone(subject, v.version))
			out = append(out, v.version)
		}
	}
	if err := s.commit(recs...); err != nil {
		return nil, err
	}
	s.cfg.logger.Info("deleted subject", "subject", subject, "versions", out, "permanent", permanent)
	return out, nil
}

func (s *Server) deleteVersion(r *http.Request) (any, error) {
	subject, spec := r.PathValue("subject"), r.PathValue("version")
	permanent := flag(r, "permanent")
	n, err := parseVersion(spec)
	if err != nil {
		return nil, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.fresh(); err != nil {
		return nil, err
	}
	all := s.st.versions(subject, true)
	if len(all) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	if err := s.deletable(subject); err != nil {
		return nil, err
	}
	var v *version
	if n == 0 {
		// "latest" is the newest version the delete can act on.
		for _, c := range all {
			if permanent || !c.deleted {
				v = c
			}
		}
	} else {
		for _, c := range all {
			if c.version == n {
				v = c
			}
		}
	}
	if v == nil {
		return nil, errVersionNotFound(subject, n)
	}

	var rec *kgo.Record
	switch {
	case !permanent && v.deleted:
		return nil, &apiError{http.StatusNotFound, 40406, fmt.Sprintf("Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, v.version)}
	case permanent && !v.deleted:
		return nil, &apiError{http.StatusNotFound, 40407, fmt.Sprintf("Subject '%s' Version %d was not deleted first before being permanently deleted", subject, v.version)}
	case permanent:
		rec = schemaTombstone(subject, v.version)
	default:
		rec = softDeleted(v)
	}
	if err := s.commit(rec); err != nil {
		return nil, err
	}
	s.cfg.logger.Info("deleted schema version", "subject", subject, "version", v.version, "permanent", permanent)
	return v.version, nil
}

// deletable refuses the deletion of a protected subject (see Protect).
func (s *Server) deletable(subject string) error {
	if s.cfg.protected == nil || !s.cfg.protected(subject) {
		return nil
	}
	s.cfg.logger.Warn("refused to delete a protected subject", "subject", subject)
	return &apiError{http.StatusConflict, 42205, fmt.Sprintf(
		"Subject '%s' is protected: records written with its schemas cannot be read without them, so this registry does not delete it or any of its versions", subject)}
}

func softDeleted(v *version) *kgo.Record {
	t := v.schemaType
	if t == "" {
		t = "AVRO"
	}
	return schemaRecord(schemaValue{
		Subject: v.subject, Version: v.version, ID: v.id, SchemaType: t, Schema: v.text, Deleted: true,
	})
}

// ---- config ----

func (s *Server) getGlobalConfig(*http.Request) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return configValue{s.st.globalLevel()}, nil
}

func (s *Server) getSubjectConfig(r *http.Request) (any, error) {
	subject := r.PathValue("subject")
	s.mu.RLock()
	defer s.mu.RUnlock()
	if l, ok := s.st.compat[subject]; ok {
		return configValue{l}, nil
	}
	if flag(r, "defaultToGlobal") {
		return configValue{s.st.globalLevel()}, nil
	}
	return nil, &apiError{http.StatusNotFound, 40408, fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subject)}
}

// putConfig serves PUT /config and PUT /config/{subject}. A level may be set
// on a subject that has no schemas yet, to govern its first versions.
func (s *Server) putConfig(r *http.Request) (any, error) {
	subject := r.PathValue("subject")
	var req struct {
		Compatibility      string `json:"compatibility"`
		CompatibilityLevel string `json:"compatibilityLevel"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	level := strings.ToUpper(req.Compatibility)
	if level == "" {
		level = strings.ToUpper(req.CompatibilityLevel)
	}
	if !levels[level] {
		return nil, errInvalidLevel(level)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.fresh(); err != nil {
		return nil, err
	}
	if err := s.commit(configRecord(subject, level)); err != nil {
		return nil, err
	}
	s.cfg.logger.Info("set compatibility", "subject", subject, "level", level)
	return map[string]string{"compatibility": level}, nil
}

// deleteConfig serves DELETE /config (back to the default, BACKWARD) and
// DELETE /config/{subject} (back to the global level); it answers with the
// level that was removed.
func (s *Server) deleteConfig(r *http.Request) (any, error) {
	subject := r.PathValue("subject")
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.fresh(); err != nil {
		return nil, err
	}
	var old string
	if subject == "" {
		old = s.st.globalLevel()
	} else {
		l, ok := s.st.compat[subject]
		if !ok {
			return nil, &apiError{http.StatusNotFound, 40408, fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subject)}
		}
		old = l
	}
	if err := s.commit(configRecord(subject, "")); err != nil {
		return nil, err
	}
	s.cfg.logger.Info("reset compatibility", "subject", subject)
	return configValue{old}, nil
}

// ---- compatibility ----

// checkCompatibility serves both compatibility routes: with a version it
// tests against that version only, in the direction(s) the subject's level
// asks for; without one, against what registration would test.
func (s *Server) checkCompatibility(r *http.Request) (any, error) {
	subject, spec := r.PathValue("subject"), r.PathValue("version")
	if spec != "" {
		if _, err := parseVersion(spec); err != nil {
			return nil, err
		}
	}
	_, parsed, _, err := parseSchemaRequest(r)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	against := s.st.versions(subject, false)
	if spec != "" {
		v, err := s.st.resolve(subject, spec, false)
		if err != nil {
			return nil, err
		}
		against = []*version{v}
	}
	msgs := compatible(s.st.level(subject), parsed, against, s.st.schemas)
	resp := struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages,omitempty"`
	}{IsCompatible: len(msgs) == 0}
	if flag(r, "verbose") {
		resp.Messages = msgs
	}
	return resp, nil
}

// ---- mode ----

// The registry is always READWRITE: IMPORT would let callers choose ids,
// and READONLY has no use with a single writer.
func getMode(*http.Request) (any, error) {
	return map[string]string{"mode": "READWRITE"}, nil
}

func putMode(r *http.Request) (any, error) {
	var req struct {
		Mode string `json:"mode"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if !strings.EqualFold(req.Mode, "READWRITE") {
		return nil, &apiError{http.StatusUnprocessableEntity, 42204, fmt.Sprintf("Mode '%s' is not supported; this registry is always READWRITE", req.Mode)}
	}
	return map[string]string{"mode": "READWRITE"}, nil
}
