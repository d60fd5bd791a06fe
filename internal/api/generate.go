// Package api is the home of the Go code generated from the protobuf
// definitions under proto/: messages in rdgv1, connect-go clients and
// handlers in rdgv1/rdgv1connect. The generated code is committed so that a
// plain `go build` needs neither protoc nor the plugins; regenerate it after
// editing a .proto file with `go generate ./internal/api`.
//
// api holds no hand-written logic and must not depend on any other package
// of rdg: serving, and the clients of the API, build on it.
package api

//go:generate sh ../../proto/generate.sh
