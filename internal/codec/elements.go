package codec

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/graph"
)

// Graph topic names. Every node type has its own topic and so does every
// edge type, so that a consumer interested in one type reads only that type
// and retention can be set per type.
const (
	NodeTopicPrefix = "rdg.node."
	EdgeTopicPrefix = "rdg.edge."
	// GraphTopicRegex matches every graph topic, for subscribing writers.
	GraphTopicRegex = `^rdg\.(node|edge)\.[a-z][a-z0-9_]*$`
)

// NodeTopic is the topic that carries nodes of type t.
func NodeTopic(t string) string { return NodeTopicPrefix + t }

// EdgeTopic is the topic that carries edges of type t.
func EdgeTopic(t string) string { return EdgeTopicPrefix + t }

// Subject is the registry subject of a topic's values (Confluent's
// TopicNameStrategy).
func Subject(topic string) string { return topic + "-value" }

// NodeSchema and EdgeSchema are the Avro schemas of graph topic values.
// Properties are a map so that node and edge types stay data: a new type or
// property needs no new schema. Each property carries the event time of the
// update that wrote it, which is what lets any consumer merge updates
// last-writer-wins exactly as the store does.
const (
	propSchema = `{"type":"map","values":{"type":"record","name":"Prop","namespace":"rdg.graph","fields":[
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"value","type":["null","string","long","double","boolean"]}]}}`
	timesFields = `
		{"name":"first_seen","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"last_seen","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"updated_at","type":{"type":"long","logicalType":"timestamp-millis"}}`
	NodeSchema = `{"type":"record","name":"Node","namespace":"rdg.graph","fields":[
		{"name":"type","type":"string"},
		{"name":"id","type":"string"},
		{"name":"props","type":` + propSchema + `},` + timesFields + `]}`
	EdgeSchema = `{"type":"record","name":"Edge","namespace":"rdg.graph","fields":[
		{"name":"type","type":"string"},
		{"name":"from_type","type":"string"},
		{"name":"from_id","type":"string"},
		{"name":"to_type","type":"string"},
		{"name":"to_id","type":"string"},
		{"name":"props","type":{"type":"map","values":"rdg.graph.Prop"}},` + timesFields + `]}`
)

var (
	nodeSchema avro.Schema
	edgeSchema avro.Schema
)

func init() {
	// EdgeSchema refers to rdg.graph.Prop, defined by NodeSchema. What is
	// registered is each schema's canonical form, which defines Prop inline,
	// so registered schemas stand alone.
	cache := &avro.SchemaCache{}
	var err error
	if nodeSchema, err = avro.ParseWithCache(NodeSchema, "", cache); err != nil {
		panic(err)
	}
	if edgeSchema, err = avro.ParseWithCache(EdgeSchema, "", cache); err != nil {
		panic(err)
	}
}

type wireProp struct {
	TS    int64 `avro:"ts"`
	Value any   `avro:"value"`
}

type wireNode struct {
	Type      string              `avro:"type"`
	ID        string              `avro:"id"`
	Props     map[string]wireProp `avro:"props"`
	FirstSeen int64               `avro:"first_seen"`
	LastSeen  int64               `avro:"last_seen"`
	UpdatedAt int64               `avro:"updated_at"`
}

type wireEdge struct {
	Type      string              `avro:"type"`
	FromType  string              `avro:"from_type"`
	FromID    string              `avro:"from_id"`
	ToType    string              `avro:"to_type"`
	ToID      string              `avro:"to_id"`
	Props     map[string]wireProp `avro:"props"`
	FirstSeen int64               `avro:"first_seen"`
	LastSeen  int64               `avro:"last_seen"`
	UpdatedAt int64               `avro:"updated_at"`
}

// Elements encodes and decodes graph topic records. Its schema ids come from
// Register; decoding also accepts any other registered schema id whose
// schema can be resolved to ours, so the wire format can evolve.
type Elements struct {
	nodeID, edgeID int
	schemas        *Schemas

	mu      sync.RWMutex
	readers map[readerKey]reader

	topics topics
}

// RegisterElements registers the node and edge schemas under the subjects
// of the given node and edge types and returns an Elements using them. With
// identical schemas a Confluent registry gives every subject the same id.
func RegisterElements(ctx context.Context, reg *sr.Client, nodeTypes, edgeTypes []string) (*Elements, error) {
	e := &Elements{schemas: NewSchemas(reg)}
	var err error
	for _, t := range nodeTypes {
		if e.nodeID, err = Register(ctx, reg, Subject(NodeTopic(t)), nodeSchema.String()); err != nil {
			return nil, err
		}
	}
	for _, t := range edgeTypes {
		if e.edgeID, err = Register(ctx, reg, Subject(EdgeTopic(t)), edgeSchema.String()); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// NewElements returns an Elements that only decodes, resolving schema ids
// through reg.
func NewElements(reg *sr.Client) *Elements {
	return &Elements{schemas: NewSchemas(reg)}
}

// NodeKey is the record key of a node on its topic: the id (the type is the
// topic). Compaction keeps the latest record per key.
func NodeKey(r graph.NodeRef) []byte { return []byte(r.ID) }

// EdgeKey is the record key of an edge on its topic:
// from_type/from_id/to_type/to_id, each part escaped so that '/' only
// separates: '%', '/', control bytes and every byte >= 0x80 become %XX.
// The escape makes the key injective whatever bytes the ids hold (two edges
// never share a key on the compacted topic) and keeps ASCII ids readable in
// kcat.
func EdgeKey(r graph.EdgeRef) []byte {
	return appendEdgeKey(make([]byte, 0, edgeKeySize(&r)), &r)
}

func appendEdgeKey(b []byte, r *graph.EdgeRef) []byte {
	b = appendKeyPart(b, r.From.Type)
	b = appendKeyPart(append(b, '/'), r.From.ID)
	b = appendKeyPart(append(b, '/'), r.To.Type)
	return appendKeyPart(append(b, '/'), r.To.ID)
}

func escapedInKey(c byte) bool { return c == '%' || c == '/' || c < 0x20 || c >= 0x7f }

func keyPartSize(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if escapedInKey(s[i]) {
			n += 2
		}
	}
	return n
}

func edgeKeySize(r *graph.EdgeRef) int {
	return keyPartSize(r.From.Type) + keyPartSize(r.From.ID) + keyPartSize(r.To.Type) + keyPartSize(r.To.ID) + 3
}

func appendKeyPart(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if escapedInKey(c) {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

func fromWireProps(m map[string]wireProp) (graph.Props, error) {
	if len(m) == 0 {
		return nil, nil
	}
	p := make(graph.Props, len(m))
	for k, v := range m {
		val, err := graph.NormalizeValue(v.Value)
		if err != nil {
			return nil, fmt.Errorf("prop %s: %w", k, err)
		}
		p[k] = graph.Prop{TS: v.TS, Value: val}
	}
	return p, nil
}

// AppendNode appends n's Confluent-framed value to dst. Properties are
// written sorted by name, so equal nodes always encode to equal bytes. On
// error dst is returned unchanged.
func (e *Elements) AppendNode(dst []byte, n *graph.Node) ([]byte, error) {
	var buf [16]graph.NamedProp
	out, err := appendNodeBody(AppendHeader(dst, e.nodeID), n, sortedProps(&buf, n.Props))
	if err != nil {
		return dst[:len(dst):len(dst)], fmt.Errorf("encode node %s: %w", n.NodeRef, err)
	}
	return out, nil
}

// AppendEdge appends ed's Confluent-framed value to dst, as AppendNode.
func (e *Elements) AppendEdge(dst []byte, ed *graph.Edge) ([]byte, error) {
	var buf [16]graph.NamedProp
	out, err := appendEdgeBody(AppendHeader(dst, e.edgeID), ed, sortedProps(&buf, ed.Props))
	if err != nil {
		return dst[:len(dst):len(dst)], fmt.Errorf("encode edge %s: %w", ed.EdgeRef, err)
	}
	return out, nil
}

// reader is how a body written with one schema id is read: with the
// hand-written decoder when the writer schema is ours, else with hamba and
// the writer schema resolved to ours.
type reader struct {
	own              bool
	writer, resolved avro.Schema
}

// readerFor picks the reader for schema id. Resolving a schema costs
// far more than decoding a record, and an id never changes meaning, so
// the choice is cached per id and kind.
func (e *Elements) readerFor(ctx context.Context, id int, ours avro.Schema, ourID int) (reader, error) {
	if id == ourID && ourID != 0 {
		return reader{own: true}, nil
	}
	key := readerKey{id: id, node: ours == nodeSchema}
	e.mu.RLock()
	rd, ok := e.readers[key]
	e.mu.RUnlock()
	if ok {
		return rd, nil
	}
	w, err := e.schemas.ByID(ctx, id)
	if err != nil {
		return reader{}, err
	}
	if w.Fingerprint() == ours.Fingerprint() {
		rd = reader{own: true}
	} else {
		sch, err := avro.NewSchemaCompatibility().Resolve(ours, w)
		if err != nil {
			return reader{}, fmt.Errorf("schema id %d cannot be read as %s: %w", id, strings.TrimPrefix(ours.(avro.NamedSchema).FullName(), "rdg.graph."), err)
		}
		rd = reader{writer: w, resolved: sch}
	}
	e.mu.Lock()
	if e.readers == nil {
		e.readers = make(map[readerKey]reader)
	}
	e.readers[key] = rd
	e.mu.Unlock()
	return rd, nil
}

type readerKey struct {
	id   int
	node bool
}

// NodeRecord is n as a record for its graph topic. Its key and value
// share one allocation.
func (e *Elements) NodeRecord(n *graph.Node) (*kgo.Record, error) {
	var buf [16]graph.NamedProp
	return e.NodeRecordSorted(n, sortedProps(&buf, n.Props))
}

// NodeRecordSorted is NodeRecord with n's properties given as props,
// sorted by name with unique names, instead of n.Props (not read): the
// form a job's hot path keeps them in.
func (e *Elements) NodeRecordSorted(n *graph.Node, props []graph.NamedProp) (*kgo.Record, error) {
	k := len(n.ID)
	dst := append(make([]byte, 0, k+HeaderSize+bodySizeHint(len(props), len(n.Type)+len(n.ID))), n.ID...)
	b, err := appendNodeBody(AppendHeader(dst, e.nodeID), n, props)
	if err != nil {
		return nil, fmt.Errorf("encode node %s: %w", n.NodeRef, err)
	}
	return &kgo.Record{Topic: e.topic(NodeTopicPrefix, n.Type), Key: b[:k:k], Value: b[k:]}, nil
}

// EdgeRecord is ed as a record for its graph topic, as NodeRecord.
func (e *Elements) EdgeRecord(ed *graph.Edge) (*kgo.Record, error) {
	var buf [16]graph.NamedProp
	return e.EdgeRecordSorted(ed, sortedProps(&buf, ed.Props))
}

// EdgeRecordSorted is EdgeRecord with ed's properties given as props, as
// NodeRecordSorted.
func (e *Elements) EdgeRecordSorted(ed *graph.Edge, props []graph.NamedProp) (*kgo.Record, error) {
	k := edgeKeySize(&ed.EdgeRef)
	r := &ed.EdgeRef
	dst := appendEdgeKey(make([]byte, 0, k+HeaderSize+
		bodySizeHint(len(props), len(r.Type)+len(r.From.Type)+len(r.From.ID)+len(r.To.Type)+len(r.To.ID))), r)
	b, err := appendEdgeBody(AppendHeader(dst, e.edgeID), ed, props)
	if err != nil {
		return nil, fmt.Errorf("encode edge %s: %w", ed.EdgeRef, err)
	}
	return &kgo.Record{Topic: e.topic(EdgeTopicPrefix, ed.Type), Key: b[:k:k], Value: b[k:]}, nil
}

// bodySizeHint is about the encoded size of a body with nprops properties
// whose strings outside them total strs bytes: enough that encoding it
// rarely reallocates. A property is its name, an 8-byte-or-less
// timestamp, a union tag and a value; 48 bytes covers the names and values
// of the demo's.
func bodySizeHint(nprops, strs int) int {
	return strs + 8 + 3*10 + 2 + 48*nprops
}

// topics caches topic names by prefix and type: building "rdg.node." +
// type for every record would allocate.
type topics struct {
	m atomic.Pointer[map[[2]string]string]
}

func (e *Elements) topic(prefix, typ string) string {
	if m := e.topics.m.Load(); m != nil {
		if t, ok := (*m)[[2]string{prefix, typ}]; ok {
			return t
		}
	}
	t := prefix + typ
	for {
		old := e.topics.m.Load()
		if old != nil && len(*old) >= maxCachedTopics {
			return t
		}
		m := make(map[[2]string]string, 8)
		if old != nil {
			maps.Copy(m, *old)
		}
		m[[2]string{prefix, typ}] = t
		if e.topics.m.CompareAndSwap(old, &m) {
			return t
		}
	}
}

// maxCachedTopics bounds the topic name cache; a job has a handful of
// element types.
const maxCachedTopics = 256

// DecodeNode decodes a node topic value.
func (e *Elements) DecodeNode(ctx context.Context, b []byte) (graph.Node, error) {
	id, body, err := SplitHeader(b)
	if err != nil {
		return graph.Node{}, fmt.Errorf("decode node: %w", err)
	}
	rd, err := e.readerFor(ctx, id, nodeSchema, e.nodeID)
	if err != nil {
		return graph.Node{}, fmt.Errorf("decode node: %w", err)
	}
	if rd.own {
		n, err := decodeNodeBody(body)
		if err != nil {
			return graph.Node{}, fmt.Errorf("decode node: %w", err)
		}
		return n, nil
	}
	var w wireNode
	if err := DefaultDecoder.UnmarshalResolved(rd.writer, rd.resolved, body, &w); err != nil {
		return graph.Node{}, fmt.Errorf("decode node: %w", err)
	}
	props, err := fromWireProps(w.Props)
	if err != nil {
		return graph.Node{}, fmt.Errorf("decode node %s:%s: %w", w.Type, w.ID, err)
	}
	return graph.Node{NodeRef: graph.NodeRef{Type: w.Type, ID: w.ID}, Props: props,
		FirstSeen: w.FirstSeen, LastSeen: w.LastSeen, UpdatedAt: w.UpdatedAt}, nil
}

// DecodeEdge decodes an edge topic value.
func (e *Elements) DecodeEdge(ctx context.Context, b []byte) (graph.Edge, error) {
	id, body, err := SplitHeader(b)
	if err != nil {
		return graph.Edge{}, fmt.Errorf("decode edge: %w", err)
	}
	rd, err := e.readerFor(ctx, id, edgeSchema, e.edgeID)
	if err != nil {
		return graph.Edge{}, fmt.Errorf("decode edge: %w", err)
	}
	if rd.own {
		ed, err := decodeEdgeBody(body)
		if err != nil {
			return graph.Edge{}, fmt.Errorf("decode edge: %w", err)
		}
		return ed, nil
	}
	var w wireEdge
	if err := DefaultDecoder.UnmarshalResolved(rd.writer, rd.resolved, body, &w); err != nil {
		return graph.Edge{}, fmt.Errorf("decode edge: %w", err)
	}
	props, err := fromWireProps(w.Props)
	if err != nil {
		return graph.Edge{}, fmt.Errorf("decode edge %s: %w", w.Type, err)
	}
	return graph.Edge{
		EdgeRef: graph.EdgeRef{Type: w.Type,
			From: graph.NodeRef{Type: w.FromType, ID: w.FromID},
			To:   graph.NodeRef{Type: w.ToType, ID: w.ToID}},
		Props: props, FirstSeen: w.FirstSeen, LastSeen: w.LastSeen, UpdatedAt: w.UpdatedAt}, nil
}
