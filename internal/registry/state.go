package registry

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record keys and values as Confluent writes them to _schemas. Field order
// matters: compaction compares key bytes, so a key must always encode the
// same way.
type (
	schemaKey struct {
		KeyType string `json:"keytype"`
		Subject string `json:"subject"`
		Version int    `json:"version"`
		Magic   int    `json:"magic"`
	}
	configKey struct {
		KeyType string  `json:"keytype"`
		Subject *string `json:"subject"` // nil is the global config
		Magic   int     `json:"magic"`
	}
	anyKey struct {
		KeyType string  `json:"keytype"`
		Subject *string `json:"subject"`
		Version int     `json:"version"`
	}

	schemaValue struct {
		Subject    string `json:"subject"`
		Version    int    `json:"version"`
		ID         int    `json:"id"`
		SchemaType string `json:"schemaType,omitempty"`
		Schema     string `json:"schema"`
		Deleted    bool   `json:"deleted"`
	}
	configValue struct {
		CompatibilityLevel string `json:"compatibilityLevel"`
	}
	// deleteSubjectValue is only read: Confluent writes it on a soft delete
	// of a subject; we write deleted=true on each version instead, which
	// keeps the state a function of the last value per key.
	deleteSubjectValue struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
)

func noopKey() []byte { return []byte(`{"keytype":"NOOP","magic":0}`) }

func schemaRecord(v schemaValue) *kgo.Record {
	return &kgo.Record{
		Key:   mustJSON(schemaKey{"SCHEMA", v.Subject, v.Version, 1}),
		Value: mustJSON(v),
	}
}

// schemaTombstone hard-deletes one version.
func schemaTombstone(subject string, version int) *kgo.Record {
	return &kgo.Record{Key: mustJSON(schemaKey{"SCHEMA", subject, version, 1})}
}

// configRecord sets a compatibility level, or clears it when level is "".
// subject "" is the global config.
func configRecord(subject, level string) *kgo.Record {
	k := configKey{KeyType: "CONFIG"}
	if subject != "" {
		k.Subject = &subject
	}
	r := &kgo.Record{Key: mustJSON(k)}
	if level != "" {
		r.Value = mustJSON(configValue{level})
	}
	return r
}

// version is one registered subject version.
type version struct {
	subject    string
	version    int
	id         int
	schemaType string // "" for Avro
	text       string // as registered
	deleted    bool
}

// schemaEntry is one global schema id. Several subject versions may share
// it; it lives while any of them (deleted softly or not) does.
type schemaEntry struct {
	id         int
	schemaType string
	text       string      // of the first version that used the id
	norm       string      // identity used to reuse ids; "" if unparseable
	parsed     avro.Schema // nil if not Avro or unparseable
	refs       int
}

type state struct {
	log      *slog.Logger
	subjects map[string]map[int]*version
	schemas  map[int]*schemaEntry
	byNorm   map[string]int
	global   string            // "" means the default, BACKWARD
	compat   map[string]string // subject-level levels
	// maxID only grows, even when the highest id is hard-deleted, so that
	// within a process an id is never handed to a different schema.
	maxID int
}

func newState(log *slog.Logger) *state {
	return &state{
		log:      log,
		subjects: map[string]map[int]*version{},
		schemas:  map[int]*schemaEntry{},
		byNorm:   map[string]int{},
		compat:   map[string]string{},
	}
}

// apply folds one topic record into the state. A nil value is a tombstone.
func (st *state) apply(key, value []byte) error {
	var k anyKey
	if err := json.Unmarshal(key, &k); err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	switch k.KeyType {
	case "NOOP":
		return nil
	case "SCHEMA":
		if k.Subject == nil {
			return fmt.Errorf("SCHEMA key without subject: %s", key)
		}
		if value == nil {
			st.removeVersion(*k.Subject, k.Version)
			return nil
		}
		var v schemaValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("SCHEMA value %q: %w", value, err)
		}
		st.putVersion(&version{
			subject:    *k.Subject,
			version:    k.Version,
			id:         v.ID,
			schemaType: normType(v.SchemaType),
			text:       v.Schema,
			deleted:    v.Deleted,
		})
		return nil
	case "CONFIG":
		level := ""
		if value != nil {
			var v configValue
			if err := json.Unmarshal(value, &v); err != nil {
				return fmt.Errorf("CONFIG value %q: %w", value, err)
			}
			level = v.CompatibilityLevel
		}
		switch {
		case k.Subject == nil:
			st.global = level
		case level == "":
			delete(st.compat, *k.Subject)
		default:
			st.compat[*k.Subject] = level
		}
		return nil
	case "DELETE_SUBJECT":
		if value == nil {
			return nil
		}
		var v deleteSubjectValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("DELETE_SUBJECT value %q: %w", value, err)
		}
		for n, ver := range st.subjects[v.Subject] {
			if n <= v.Version {
				ver.deleted = true
			}
		}
		return nil
	default:
		// MODE, CONTEXT and the like come from a Confluent registry with
		// features we do not offer; they do not change schemas or ids.
		st.log.Debug("ignoring record", "keytype", k.KeyType)
		return nil
	}
}

func normType(t string) string {
	if t == "AVRO" {
		return ""
	}
	return t
}

func (st *state) putVersion(v *version) {
	vs := st.subjects[v.subject]
	if vs == nil {
		vs = map[int]*version{}
		st.subjects[v.subject] = vs
	}
	if old := vs[v.version]; old != nil {
		st.unref(old.id)
	}
	vs[v.version] = v
	st.ref(v)
	st.maxID = max(st.maxID, v.id)
}

func (st *state) removeVersion(subject string, n int) {
	vs := st.subjects[subject]
	old := vs[n]
	if old == nil {
		return
	}
	delete(vs, n)
	if len(vs) == 0 {
		delete(st.subjects, subject)
	}
	st.unref(old.id)
}

func (st *state) ref(v *version) {
	e := st.schemas[v.id]
	if e == nil {
		e = &schemaEntry{id: v.id, schemaType: v.schemaType, text: v.text}
		if v.schemaType == "" {
			parsed, norm, err := parseAvro(v.text)
			if err != nil {
				st.log.Warn("stored schema does not parse", "id", v.id, "subject", v.subject, "version", v.version, "err", err)
			} else {
				e.parsed, e.norm = parsed, norm
				if _, taken := st.byNorm[norm]; !taken {
					st.byNorm[norm] = v.id
				}
			}
		}
		st.schemas[v.id] = e
	}
	e.refs++
}

func (st *state) unref(id int) {
	e := st.schemas[id]
	if e == nil {
		return
	}
	if e.refs--; e.refs > 0 {
		return
	}
	delete(st.schemas, id)
	if e.norm != "" && st.byNorm[e.norm] == id {
		delete(st.byNorm, e.norm)
	}
}

// versions returns a subject's versions in ascending order, soft-deleted
// ones only if withDeleted.
func (st *state) versions(subject string, withDeleted bool) []*version {
	var out []*version
	for _, v := range st.subjects[subject] {
		if withDeleted || !v.deleted {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out
}

// nextVersion continues after soft-deleted versions, as Confluent does, so a
// version number is never reused while its old record exists.
func (st *state) nextVersion(subject string) int {
	n := 0
	for v := range st.subjects[subject] {
		n = max(n, v)
	}
	return n + 1
}

func (st *state) subjectNames() []string {
	out := make([]string, 0, len(st.subjects))
	for s := range st.subjects {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// level is the compatibility level in force for subject.
func (st *state) level(subject string) string {
	if l, ok := st.compat[subject]; ok {
		return l
	}
	return st.globalLevel()
}

func (st *state) globalLevel() string {
	if st.global == "" {
		return defaultLevel
	}
	return st.global
}
