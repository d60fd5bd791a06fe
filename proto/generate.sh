#!/bin/sh
# Regenerates the Go code for the .proto files under proto/ into
# internal/api (or into OUT_DIR/internal/api if OUT_DIR is given, which is how
# the freshness test compares a fresh generation with the committed one).
#
# Needs only protoc (Debian: protobuf-compiler) and Go: the plugins are built
# from the versions pinned by the `tool` directives in go.mod, so everyone
# generates byte-identical code.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root}
cd "$root"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
go build -o "$tmp/" \
	google.golang.org/protobuf/cmd/protoc-gen-go \
	connectrpc.com/connect/cmd/protoc-gen-connect-go

mkdir -p "$out"
# Old outputs go first so that a removed .proto leaves nothing behind.
find "$out/internal/api" -name '*.pb.go' -delete 2>/dev/null || true
find "$out/internal/api" -name '*.connect.go' -delete 2>/dev/null || true

# shellcheck disable=SC2046 # word splitting of the file list is intended
protoc \
	--proto_path=proto \
	--plugin=protoc-gen-go="$tmp/protoc-gen-go" \
	--plugin=protoc-gen-connect-go="$tmp/protoc-gen-connect-go" \
	--go_out="$out" --go_opt=module=github.com/rdgraph/rdg \
	--connect-go_out="$out" --connect-go_opt=module=github.com/rdgraph/rdg \
	$(cd proto && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
