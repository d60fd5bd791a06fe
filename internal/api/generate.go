// Package api is the home of the Go code generated from the protobuf
// definitions under proto/: messages in rdgv1, connect-go clients and
// handlers in rdgv1/rdgv1connect. The generated code is committed so that a
// plain `go build` needs neither protoc nor the plugins; regenerate it after
// editing a .proto file with `go generate ./internal/api`.
package api

//go:generate sh ../../proto/generate.sh
