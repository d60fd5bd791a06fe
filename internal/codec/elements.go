package codec

import (
	"context"
	"fmt"
	"strings"

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
	b := make([]byte, 0, len(r.From.Type)+len(r.From.ID)+len(r.To.Type)+len(r.To.ID)+3)
	for i, part := range [4]string{r.From.Type, r.From.ID, r.To.Type, r.To.ID} {
		if i > 0 {
			b = append(b, '/')
		}
		b = appendKeyPart(b, part)
	}
	return b
}

func appendKeyPart(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c == '/' || c < 0x20 || c >= 0x7f {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

func toWireProps(p graph.Props) map[string]wireProp {
	m := make(map[string]wireProp, len(p))
	for k, v := range p {
		m[k] = wireProp{TS: v.TS, Value: v.Value}
	}
	return m
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

// AppendNode appends n's Confluent-framed value to dst.
func (e *Elements) AppendNode(dst []byte, n *graph.Node) ([]byte, error) {
	w := wireNode{Type: n.Type, ID: n.ID, Props: toWireProps(n.Props), FirstSeen: n.FirstSeen, LastSeen: n.LastSeen, UpdatedAt: n.UpdatedAt}
	body, err := avro.Marshal(nodeSchema, &w)
	if err != nil {
		return dst, fmt.Errorf("encode node %s: %w", n.NodeRef, err)
	}
	return append(AppendHeader(dst, e.nodeID), body...), nil
}

// AppendEdge appends ed's Confluent-framed value to dst.
func (e *Elements) AppendEdge(dst []byte, ed *graph.Edge) ([]byte, error) {
	w := wireEdge{Type: ed.Type, FromType: ed.From.Type, FromID: ed.From.ID, ToType: ed.To.Type, ToID: ed.To.ID,
		Props: toWireProps(ed.Props), FirstSeen: ed.FirstSeen, LastSeen: ed.LastSeen, UpdatedAt: ed.UpdatedAt}
	body, err := avro.Marshal(edgeSchema, &w)
	if err != nil {
		return dst, fmt.Errorf("encode edge %s: %w", ed.EdgeRef, err)
	}
	return append(AppendHeader(dst, e.edgeID), body...), nil
}

// decodeBody picks the schema to read a body with: ours when the writer id
// is the one we registered, else the writer's schema resolved against ours.
func (e *Elements) decodeBody(ctx context.Context, b []byte, ours avro.Schema, ourID int, v any) error {
	id, body, err := SplitHeader(b)
	if err != nil {
		return err
	}
	sch := ours
	if id != ourID || ourID == 0 {
		w, err := e.schemas.ByID(ctx, id)
		if err != nil {
			return err
		}
		if w.Fingerprint() != ours.Fingerprint() {
			if sch, err = avro.NewSchemaCompatibility().Resolve(ours, w); err != nil {
				return fmt.Errorf("schema id %d cannot be read as %s: %w", id, strings.TrimPrefix(ours.(avro.NamedSchema).FullName(), "rdg.graph."), err)
			}
		}
	}
	return Unmarshal(sch, body, v)
}

// NodeRecord is n as a record for its graph topic.
func (e *Elements) NodeRecord(n *graph.Node) (*kgo.Record, error) {
	v, err := e.AppendNode(nil, n)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: NodeTopic(n.Type), Key: NodeKey(n.NodeRef), Value: v}, nil
}

// EdgeRecord is ed as a record for its graph topic.
func (e *Elements) EdgeRecord(ed *graph.Edge) (*kgo.Record, error) {
	v, err := e.AppendEdge(nil, ed)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: EdgeTopic(ed.Type), Key: EdgeKey(ed.EdgeRef), Value: v}, nil
}

// DecodeNode decodes a node topic value.
func (e *Elements) DecodeNode(ctx context.Context, b []byte) (graph.Node, error) {
	var w wireNode
	if err := e.decodeBody(ctx, b, nodeSchema, e.nodeID, &w); err != nil {
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
	var w wireEdge
	if err := e.decodeBody(ctx, b, edgeSchema, e.edgeID, &w); err != nil {
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
