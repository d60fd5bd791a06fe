package demo

import (
	"time"

	"github.com/hamba/avro/v2"
)

// Source topics written by the generator. The value of every record is Avro
// in the Confluent wire format, its schema registered under "<topic>-value".
const (
	TopicLogins   = "member.logins"
	TopicPlayback = "member.playback"
	TopicGames    = "member.games"
)

// Enum symbols of the event_type fields.
const (
	PlayStart  = "PLAY_START"
	PlayStop   = "PLAY_STOP"
	GameLaunch = "GAME_LAUNCH"
	GameExit   = "GAME_EXIT"
)

// LoginSchema is the writer schema of TopicLogins (record rdg.demo.Login).
const LoginSchema = `{
  "type": "record",
  "name": "Login",
  "namespace": "rdg.demo",
  "doc": "A member signed in on one of their devices; opens a session on that device.",
  "fields": [
    {"name": "event_id", "type": "string"},
    {"name": "event_ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "member_id", "type": "string"},
    {"name": "profile_id", "type": "string"},
    {"name": "device_id", "type": "string"},
    {"name": "device_type", "type": "string", "doc": "phone, tv, tablet, laptop or console"},
    {"name": "country", "type": "string", "doc": "ISO 3166-1 alpha-2"}
  ]
}`

// PlaybackSchema is the writer schema of TopicPlayback (record rdg.demo.Playback).
const PlaybackSchema = `{
  "type": "record",
  "name": "Playback",
  "namespace": "rdg.demo",
  "doc": "Start or stop of watching a title on a logged-in device.",
  "fields": [
    {"name": "event_id", "type": "string"},
    {"name": "event_ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "member_id", "type": "string"},
    {"name": "profile_id", "type": "string"},
    {"name": "device_id", "type": "string"},
    {"name": "title_id", "type": "string"},
    {"name": "episode_id", "type": ["null", "string"], "default": null, "doc": "null for films"},
    {"name": "position_ms", "type": "long"},
    {"name": "event_type", "type": {"type": "enum", "name": "PlaybackEventType", "symbols": ["PLAY_START", "PLAY_STOP"]}}
  ]
}`

// GameSchema is the writer schema of TopicGames (record rdg.demo.Game).
const GameSchema = `{
  "type": "record",
  "name": "Game",
  "namespace": "rdg.demo",
  "doc": "Launch or exit of a game on a logged-in device.",
  "fields": [
    {"name": "event_id", "type": "string"},
    {"name": "event_ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "member_id", "type": "string"},
    {"name": "profile_id", "type": "string"},
    {"name": "device_id", "type": "string"},
    {"name": "game_id", "type": "string"},
    {"name": "event_type", "type": {"type": "enum", "name": "GameEventType", "symbols": ["GAME_LAUNCH", "GAME_EXIT"]}}
  ]
}`

// Login is the Go value of a TopicLogins record.
type Login struct {
	EventID    string    `avro:"event_id"`
	EventTs    time.Time `avro:"event_ts"`
	MemberID   string    `avro:"member_id"`
	ProfileID  string    `avro:"profile_id"`
	DeviceID   string    `avro:"device_id"`
	DeviceType string    `avro:"device_type"`
	Country    string    `avro:"country"`
}

// Playback is the Go value of a TopicPlayback record.
type Playback struct {
	EventID   string    `avro:"event_id"`
	EventTs   time.Time `avro:"event_ts"`
	MemberID  string    `avro:"member_id"`
	ProfileID string    `avro:"profile_id"`
	DeviceID  string    `avro:"device_id"`
	TitleID   string    `avro:"title_id"`
	EpisodeID *string   `avro:"episode_id"`
	// PositionMs is the playhead within the title or episode.
	PositionMs int64  `avro:"position_ms"`
	EventType  string `avro:"event_type"` // PlayStart or PlayStop
}

// Game is the Go value of a TopicGames record.
type Game struct {
	EventID   string    `avro:"event_id"`
	EventTs   time.Time `avro:"event_ts"`
	MemberID  string    `avro:"member_id"`
	ProfileID string    `avro:"profile_id"`
	DeviceID  string    `avro:"device_id"`
	GameID    string    `avro:"game_id"`
	EventType string    `avro:"event_type"` // GameLaunch or GameExit
}

// kind indexes the per-topic tables below; an array index is cheaper on
// the hot path than a map keyed by topic name.
type kind uint8

const (
	kindLogin kind = iota
	kindPlayback
	kindGame
	numKinds
)

var (
	topicNames  = [numKinds]string{TopicLogins, TopicPlayback, TopicGames}
	schemaTexts = [numKinds]string{LoginSchema, PlaybackSchema, GameSchema}
	// Parsed with a private cache so that another package parsing a
	// different rdg.demo.Login (say, a job's reader schema) cannot clash
	// with ours in hamba's global named-type cache.
	parsedSchemas = func() (s [numKinds]avro.Schema) {
		cache := &avro.SchemaCache{}
		for k, txt := range schemaTexts {
			var err error
			if s[k], err = avro.ParseWithCache(txt, "", cache); err != nil {
				panic(err)
			}
		}
		return s
	}()
)

// Schemas returns the Avro schema JSON of every topic, keyed by topic name.
// The map is a fresh copy.
func Schemas() map[string]string {
	m := make(map[string]string, numKinds)
	for k := range numKinds {
		m[topicNames[k]] = schemaTexts[k]
	}
	return m
}
