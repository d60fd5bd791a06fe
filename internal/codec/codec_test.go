package codec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/testkit"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startRegistry runs rdg's own registry on a kfake broker behind a real HTTP
// listener and returns a franz-go client for it and the HTTP server.
func startRegistry(t *testing.T) (*sr.Client, *httptest.Server) {
	t.Helper()
	e := testkit.NewEnv(t)
	return e.Reg, e.HTTP
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, id := range []int{0, 1, 255, 256, 65536, 1<<24 + 3, math.MaxInt32} {
		for _, body := range [][]byte{nil, {}, {0}, []byte("avro body \x00\xff")} {
			prefix := []byte("prefix")
			b := codec.AppendHeader(prefix, id)
			if !bytes.HasPrefix(b, []byte("prefix")) || len(b) != len(prefix)+codec.HeaderSize {
				t.Fatalf("AppendHeader(prefix, %d) = %x: want prefix + %d bytes", id, b, codec.HeaderSize)
			}
			framed := append(codec.AppendHeader(nil, id), body...)
			if framed[0] != 0 {
				t.Fatalf("magic byte = %d, want 0", framed[0])
			}
			gotID, gotBody, err := codec.SplitHeader(framed)
			if err != nil || gotID != id || !bytes.Equal(gotBody, body) {
				t.Fatalf("SplitHeader(AppendHeader(%d)+%q) = %d, %q, %v", id, body, gotID, gotBody, err)
			}
		}
	}
	// Big-endian, as Confluent serdes write it.
	if got := codec.AppendHeader(nil, 0x01020304); !bytes.Equal(got, []byte{0, 1, 2, 3, 4}) {
		t.Fatalf("AppendHeader(0x01020304) = %x, want 0001020304", got)
	}
}

func TestSplitHeaderErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {}, {0}, {0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1, 2, 3}, []byte(`{"json":1}`)} {
		id, body, err := codec.SplitHeader(b)
		if !errors.Is(err, codec.ErrBadHeader) || id != 0 || body != nil {
			t.Errorf("SplitHeader(%x) = %d, %x, %v; want ErrBadHeader", b, id, body, err)
		}
	}
}

func TestEdgeKeyInjective(t *testing.T) {
	nasty := []string{"", "a", `"`, `\`, `\"`, `","`, `a","b`, `[`, `]`, `["a","b"]`, ",", ":", "a:b", "a,b", " ", "\n", "\u2028", "<&>", "é", "\x00", "null"}
	types := []string{"account", "title"}
	seen := make(map[string]graph.EdgeRef)
	for _, ft := range types {
		for _, fid := range nasty {
			for _, tt := range types {
				for _, tid := range nasty {
					r := graph.EdgeRef{Type: "watched", From: graph.NodeRef{Type: ft, ID: fid}, To: graph.NodeRef{Type: tt, ID: tid}}
					k := codec.EdgeKey(r)
					if prev, dup := seen[string(k)]; dup {
						t.Fatalf("EdgeKey(%v) = EdgeKey(%v) = %s", r, prev, k)
					}
					seen[string(k)] = r
					// The key decodes back to the end points: a left inverse
					// is the proof of injectivity.
					back, err := unescapeEdgeKey(string(k))
					if err != nil || back != [4]string{ft, fid, tt, tid} {
						t.Fatalf("EdgeKey(%v) = %s decodes to %q, %v", r, k, back, err)
					}
				}
			}
		}
	}
}

// Ids come from source records; Avro strings are not checked for UTF-8, so
// an id may hold any bytes.
func TestEdgeKeyInjectiveInvalidUTF8(t *testing.T) {
	a := graph.EdgeRef{Type: "watched", From: graph.NodeRef{Type: "account", ID: "\xff"}, To: graph.NodeRef{Type: "title", ID: "1"}}
	b := a
	b.From.ID = "\xfe"
	if ka, kb := codec.EdgeKey(a), codec.EdgeKey(b); bytes.Equal(ka, kb) {
		t.Fatalf("EdgeKey is not injective for ids that are not valid UTF-8: ids %q and %q both give key %s "+
			"(encoding/json replaces invalid bytes with U+FFFD), so compaction of rdg.edge.* would drop one of two distinct edges", a.From.ID, b.From.ID, ka)
	}
}

// unescapeEdgeKey inverts EdgeKey's documented format.
func unescapeEdgeKey(k string) (parts [4]string, err error) {
	split := strings.Split(k, "/")
	if len(split) != 4 {
		return parts, fmt.Errorf("%d parts", len(split))
	}
	for i, p := range split {
		u, err := url.PathUnescape(p)
		if err != nil {
			return parts, err
		}
		parts[i] = u
	}
	return parts, nil
}

func TestNodeKey(t *testing.T) {
	if got := codec.NodeKey(graph.NodeRef{Type: "account", ID: `a"b,[c]`}); string(got) != `a"b,[c]` {
		t.Fatalf("NodeKey = %q", got)
	}
	if codec.NodeTopic("account") != "rdg.node.account" || codec.EdgeTopic("watched") != "rdg.edge.watched" ||
		codec.Subject("rdg.node.account") != "rdg.node.account-value" {
		t.Fatal("topic or subject naming changed")
	}
}
