package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/rdgraph/rdg/internal/access"
	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/api/wire"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/serve"
)

// rdg query: the command-line client of the query API. Every subcommand is
// one RPC; output is a table for people or, with --json, the response in
// the API's JSON form for scripts (the same as curl would get).

type queryFlags struct {
	server  string
	token   string
	json    bool
	strict  bool
	timeout time.Duration
	out     io.Writer
	// errOut gets the server's warnings, so that they reach a person
	// while stdout (a table, or JSON that carries them too) is piped.
	errOut io.Writer
	// Access to a server that requires a token or serves TLS.
	tokenFile, credentialsFile, caFile string
}

// limitFlags are the guards every query takes (QueryLimits).
type limitFlags struct {
	maxVisited, maxResults, maxFanout int32
	deadline                          time.Duration
}

func (l *limitFlags) add(cmd *cobra.Command, results bool) {
	fl := cmd.Flags()
	fl.Int32Var(&l.maxVisited, "max-visited", 0, "most elements (edges examined, node records read) the query may visit (0: server default)")
	if results {
		fl.Int32Var(&l.maxResults, "max-results", 0, "most result items (0: server default)")
	}
	fl.Int32Var(&l.maxFanout, "max-fanout", 0, "most edges examined from any one node (0: server default)")
	fl.DurationVar(&l.deadline, "deadline", 0, "query deadline on the server, e.g. 500ms (0: server default); reaching it gives a partial result")
	atLeast(fl, 0, "max-visited", "max-fanout", "deadline")
	if results {
		atLeast(fl, 0, "max-results")
	}
}

func (l *limitFlags) proto() *rdgv1.QueryLimits {
	if l.maxVisited == 0 && l.maxResults == 0 && l.maxFanout == 0 && l.deadline == 0 {
		return nil
	}
	ms := l.deadline.Milliseconds()
	if l.deadline > 0 && ms == 0 {
		ms = 1
	}
	return &rdgv1.QueryLimits{
		MaxVisited: l.maxVisited, MaxResults: l.maxResults, MaxFanout: l.maxFanout,
		DeadlineMs: int32(min(ms, math.MaxInt32)),
	}
}

func newQueryCmd() *cobra.Command {
	q := &queryFlags{out: os.Stdout, errOut: os.Stderr}
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Ask the query API: nodes, neighbours, traversals, paths, groups, statistics",
		Long: `Query a running rdg (rdg up, rdg writer run) over its API. Each subcommand is
one call of rdg.v1.GraphService; the output is a table, or with --json the
response as JSON (the API's JSON form: lowerCamelCase names, 64-bit integers
as strings).

Nodes are written type:id, e.g. account:m-000001. Every query is bounded by
the server's limits; a result cut short by one says "partial" and names it.

A query that names a node or edge type the graph has never stored, or starts
from a node that does not exist, is answered (an unknown type matches
nothing) with a warning on stderr naming the known types, closest spellings
first; with --strict it fails instead, exiting non-zero.`,
		Example: `  # On rdg up --demo: the devices and profiles of member m-000001
  rdg query neighbors account:m-000001 --edge-types uses,has_profile
  # who shares this TV? (the household m-000001..3, and m-000004 of another)
  rdg query neighbors device:d-0000001 --dir in --edge-types uses
  # two members of different households joined by one TV
  rdg query path account:m-000002 account:m-000004 --dir both --edge-types uses
  # the devices with the most accounts
  rdg query stats --top 5 --node-types device
  rdg query nodes account:m-000001 device:d-0000001
  rdg query traverse account:m-000001 --step 'out edges=has_profile' --step 'out edges=signed_in_on'
  rdg query group account:m-000001 --edge-types uses,has_profile
  # Against rdg up --credentials-file rdg.credentials --tls-cert cert.pem --tls-key key.pem:
  #   rdg query neighbors account:m-000001 --server https://127.0.0.1:8080 \
  #     --ca-file cert.pem --credentials-file rdg.credentials`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&q.server, "server", "http://127.0.0.1:8080", "base URL of the query API")
	pf.StringVar(&q.token, "token", "", "bearer token for a server started with --token (default: $RDG_TOKEN)")
	pf.BoolVar(&q.json, "json", false, "print the response as JSON")
	pf.BoolVar(&q.strict, "strict", false, "fail (exit 1) on an unknown node or edge type or a start node that does not exist, instead of warning")
	pf.DurationVar(&q.timeout, "timeout", 30*time.Second, "give up after this long")
	pf.StringVar(&q.tokenFile, "token-file", "", "read the bearer token from this file (surrounding white space ignored)")
	pf.StringVar(&q.credentialsFile, "credentials-file", "", "send the password of this user:password file as the bearer token (a server started with --credentials-file)")
	pf.StringVar(&q.caFile, "ca-file", "", "PEM certificates to verify an https:// server with (default: the system's roots)")
	cmd.AddCommand(newQueryNodesCmd(q), newQueryNeighborsCmd(q), newQueryTraverseCmd(q),
		newQueryPathCmd(q), newQueryGroupCmd(q), newQueryStatsCmd(q))
	return cmd
}

func (q *queryFlags) client() (rdgv1connect.GraphServiceClient, error) {
	if !strings.HasPrefix(q.server, "http://") && !strings.HasPrefix(q.server, "https://") {
		return nil, fmt.Errorf("--server %q: want a URL such as http://127.0.0.1:8080", q.server)
	}
	token, err := q.bearerToken()
	if err != nil {
		return nil, err
	}
	opts := []connect.ClientOption{connect.WithCodec(wire.Codec())}
	if token != "" {
		opts = append(opts, connect.WithInterceptors(bearer(token)))
	}
	hc := http.DefaultClient
	if q.caFile != "" {
		if !strings.HasPrefix(q.server, "https://") {
			return nil, fmt.Errorf("--ca-file needs an https:// --server, not %q", q.server)
		}
		tc, err := access.ClientTLS(q.caFile, "", "")
		if err != nil {
			return nil, err
		}
		hc = access.HTTPClient(tc, 0)
	}
	return rdgv1connect.NewGraphServiceClient(hc, strings.TrimRight(q.server, "/"), opts...), nil
}

// bearerToken is the first of --token, --token-file, the password of
// --credentials-file and $RDG_TOKEN that is set.
func (q *queryFlags) bearerToken() (string, error) {
	n := 0
	for _, s := range []string{q.token, q.tokenFile, q.credentialsFile} {
		if s != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return "", errors.New("--token, --token-file and --credentials-file are exclusive")
	case q.token != "":
		return q.token, nil
	case q.tokenFile != "":
		return serve.ReadTokenFile(q.tokenFile)
	case q.credentialsFile != "":
		c, err := access.ReadCredentialsFile(q.credentialsFile)
		return c.Password, err
	}
	return os.Getenv("RDG_TOKEN"), nil
}

// bearer sends the token in the Authorization header of every call.
func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}

// run calls the API with the client and timeout, turning connect errors
// into messages that name the code.
func (q *queryFlags) run(cmd *cobra.Command, call func(context.Context, rdgv1connect.GraphServiceClient) error) error {
	c, err := q.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), q.timeout)
	defer cancel()
	if err := call(ctx, c); err != nil {
		var ce *connect.Error
		if errors.As(err, &ce) {
			return fmt.Errorf("%s: %s", ce.Code(), ce.Message())
		}
		return err
	}
	return nil
}

// warn prints the server's warnings on stderr.
func (q *queryFlags) warn(ws []*rdgv1.Warning) {
	for _, w := range ws {
		fmt.Fprintf(q.errOut, "warning: %s\n", w.GetMessage())
	}
}

// missingNodes is the set of nodes that warnings say do not exist, so that
// a table does not list them as if they had been found.
func missingNodes(ws []*rdgv1.Warning) map[string]bool {
	var out map[string]bool
	for _, w := range ws {
		if w.GetKind() == rdgv1.WarningKind_WARNING_KIND_NODE_NOT_FOUND {
			if out == nil {
				out = map[string]bool{}
			}
			out[refName(w.GetNode())] = true
		}
	}
	return out
}

func (q *queryFlags) printJSON(m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(q.out, "%s\n", b)
	return err
}

func parseRefs(args []string) ([]*rdgv1.NodeRef, error) {
	out := make([]*rdgv1.NodeRef, len(args))
	for i, a := range args {
		r, err := graph.ParseNodeRef(a)
		if err != nil {
			return nil, err
		}
		out[i] = &rdgv1.NodeRef{Type: r.Type, Id: r.ID}
	}
	return out, nil
}

func parseDirection(s string) (rdgv1.Direction, error) {
	switch strings.ToLower(s) {
	case "", "out":
		return rdgv1.Direction_DIRECTION_OUT, nil
	case "in":
		return rdgv1.Direction_DIRECTION_IN, nil
	case "both":
		return rdgv1.Direction_DIRECTION_BOTH, nil
	}
	return 0, fmt.Errorf("direction %q: want out, in or both", s)
}

// parseTime reads a --since/--until value: unix milliseconds, an RFC 3339
// time, or a duration meaning that long ago (24h, 7d).
func parseTime(flag, s string, now time.Time) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	if d, err := parseTTLDuration(s); err == nil {
		return now.Add(-d).UnixMilli(), nil
	}
	return 0, fmt.Errorf("%s %q: want unix milliseconds, an RFC 3339 time or a duration ago (24h, 7d)", flag, s)
}

// --- nodes

func newQueryNodesCmd(q *queryFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "nodes TYPE:ID...",
		Short:   "Look nodes up by identity (GetNodes)",
		Example: `  rdg query nodes account:m-000001 device:d-0000001 profile:p-0000001`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := parseRefs(args)
			if err != nil {
				return err
			}
			return q.run(cmd, func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
				res, err := c.GetNodes(ctx, connect.NewRequest(&rdgv1.GetNodesRequest{Refs: refs, Strict: q.strict}))
				if err != nil {
					return err
				}
				q.warn(res.Msg.GetWarnings())
				if q.json {
					return q.printJSON(res.Msg)
				}
				w := table(q.out)
				fmt.Fprintln(w, "NODE\tFIRST SEEN\tLAST SEEN\tPROPS")
				for _, n := range res.Msg.GetNodes() {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", nodeName(n.GetType(), n.GetId()), msTime(n.GetFirstSeenMs()), msTime(n.GetLastSeenMs()), propsString(n.GetProps()))
				}
				for _, m := range res.Msg.GetMissing() {
					fmt.Fprintf(w, "%s\t(not found)\t\t\n", nodeName(m.GetType(), m.GetId()))
				}
				return w.Flush()
			})
		},
	}
}

// --- neighbors

func newQueryNeighborsCmd(q *queryFlags) *cobra.Command {
	var (
		dir, edgeTypes, nodeTypes, since, until, cursor string
		limit                                           uint32
		all                                             bool
		lim                                             limitFlags
	)
	cmd := &cobra.Command{
		Use:     "neighbors TYPE:ID",
		Aliases: []string{"neighbours"},
		Short:   "List a node's edges and the nodes at their other ends, a page at a time (Neighbors)",
		Example: `  rdg query neighbors account:m-000001
  # who signed in on this TV in the last day
  rdg query neighbors device:d-0000001 --dir in --node-types account --since 24h
  # who watched the demo's most popular title, 50 at a time (the page ends
  # with the --cursor for the next one)
  rdg query neighbors title:t-00201 --dir in --edge-types watched --limit 50
  # every account on the demo's first fraud-looking device
  rdg query neighbors device:d-0000007 --dir in --edge-types uses --all --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := parseRefs(args)
			if err != nil {
				return err
			}
			d, err := parseDirection(dir)
			if err != nil {
				return err
			}
			now := time.Now()
			s, err := parseTime("--since", since, now)
			if err != nil {
				return err
			}
			u, err := parseTime("--until", until, now)
			if err != nil {
				return err
			}
			req := &rdgv1.NeighborsRequest{
				Node: refs[0], Direction: d, EdgeTypes: splitList(edgeTypes), NodeTypes: splitList(nodeTypes),
				SinceMs: s, UntilMs: u, Limit: limit, Cursor: cursor, Limits: lim.proto(), Strict: q.strict,
			}
			return q.run(cmd, func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
				total := &rdgv1.NeighborsResponse{}
				for {
					res, err := c.Neighbors(ctx, connect.NewRequest(req))
					if err != nil {
						return err
					}
					m := res.Msg
					if req.Cursor == cursor {
						// Every page has the first page's warnings.
						q.warn(m.GetWarnings())
						total.Warnings = m.GetWarnings()
					}
					total.Neighbors = append(total.Neighbors, m.GetNeighbors()...)
					total.NextCursor, total.Partial, total.Truncated, total.LimitHit = m.GetNextCursor(), m.GetPartial(), m.GetTruncated(), m.GetLimitHit()
					total.Visited += m.GetVisited()
					if !all || m.GetNextCursor() == "" {
						break
					}
					req.Cursor = m.GetNextCursor()
				}
				if q.json {
					return q.printJSON(total)
				}
				w := table(q.out)
				fmt.Fprintln(w, "EDGE\tFROM\tTO\tLAST SEEN\tNEIGHBOUR PROPS")
				for _, n := range total.GetNeighbors() {
					e := n.GetEdge()
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.GetType(), refName(e.GetFrom()), refName(e.GetTo()), msTime(e.GetLastSeenMs()), propsString(n.GetNode().GetProps()))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(q.out, "%d neighbours%s\n", len(total.GetNeighbors()), partialNote(total.GetPartial(), total.GetLimitHit()))
				if total.GetNextCursor() != "" {
					fmt.Fprintf(q.out, "next page: --cursor %s\n", total.GetNextCursor())
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", "out", "direction: out, in or both")
	fl.StringVar(&edgeTypes, "edge-types", "", "comma-separated edge types (default: all)")
	fl.StringVar(&nodeTypes, "node-types", "", "comma-separated neighbour node types (default: all)")
	fl.StringVar(&since, "since", "", "only edges last seen at or after this: unix ms, RFC 3339, or a duration ago (24h, 7d)")
	fl.StringVar(&until, "until", "", "only edges last seen at or before this (same forms as --since)")
	fl.Uint32Var(&limit, "limit", 0, "page size (0: server default, 100)")
	fl.StringVar(&cursor, "cursor", "", "continue from the previous page's next cursor")
	fl.BoolVar(&all, "all", false, "follow cursors to the end and print every page")
	lim.add(cmd, false)
	return cmd
}

// --- traverse

func newQueryTraverseCmd(q *queryFlags) *cobra.Command {
	var (
		steps              []string
		depth              uint32
		mode               string
		maxNodes, maxEdges uint32
		lim                limitFlags
	)
	cmd := &cobra.Command{
		Use:   "traverse TYPE:ID...",
		Short: "Walk breadth first from start nodes over a list of steps (Traverse)",
		Long: `Walk the graph breadth first from one or more start nodes. Each --step is
one hop, written as space-separated words:

  out | in | both            direction (default out)
  edges=TYPE,TYPE            edge types (default all)
  nodes=TYPE,TYPE            types of the node the hop reaches (default all)
  since=T  until=T           the edge's last seen time (unix ms, RFC 3339, 24h ago)
  node.FIELD<op>VALUE        predicate on the node reached: a property, or
  edge.FIELD<op>VALUE        @id @type @first_seen @last_seen; op is one of
                             = != < <= > >=; VALUE is a number, true, false,
                             null, or text ("quoted" to force text)

A traversal deeper than its steps repeats the last one; with no steps every
edge is followed both ways. --mode paths prints one path per node reached by
the last hop instead of the subgraph.`,
		Example: `  rdg query traverse account:m-000001 --step 'out edges=uses,has_profile'
  # everyone who watches on the member's TVs
  rdg query traverse account:m-000001 --step 'out edges=uses nodes=device node.device_type=tv' \
    --step 'in edges=uses nodes=account'
  # titles last watched by one profile of the member (watched edges start at
  # the account and carry the profile)
  rdg query traverse account:m-000001 --step 'out edges=watched nodes=title edge.profile=p-0000001'
  # episodes watched past the first minute this week, and their shows
  rdg query traverse account:m-000001 --step 'out edges=watched nodes=episode edge.position_ms>=60000 since=7d' \
    --step 'out edges=episode_of'
  # what else the viewers of the most popular title watched, as paths
  rdg query traverse title:t-00201 --step 'in edges=watched' --step 'out edges=watched' --mode paths --max-results 20`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := parseRefs(args)
			if err != nil {
				return err
			}
			req := &rdgv1.TraverseRequest{Start: refs, Depth: depth, MaxNodes: maxNodes, MaxEdges: maxEdges, Limits: lim.proto(), Strict: q.strict}
			for i, s := range steps {
				st, err := parseStep(s, time.Now())
				if err != nil {
					return fmt.Errorf("--step %d %q: %w", i+1, s, err)
				}
				req.Steps = append(req.Steps, st)
			}
			switch mode {
			case "", "subgraph":
				req.Mode = rdgv1.TraverseMode_TRAVERSE_MODE_SUBGRAPH
			case "paths":
				req.Mode = rdgv1.TraverseMode_TRAVERSE_MODE_PATHS
			default:
				return fmt.Errorf("--mode %q: want subgraph or paths", mode)
			}
			return q.run(cmd, func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
				res, err := c.Traverse(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				m := res.Msg
				q.warn(m.GetWarnings())
				if q.json {
					return q.printJSON(m)
				}
				if req.Mode == rdgv1.TraverseMode_TRAVERSE_MODE_PATHS {
					for _, p := range m.GetPaths() {
						fmt.Fprintln(q.out, pathString(p))
					}
					fmt.Fprintf(q.out, "%d paths%s\n", len(m.GetPaths()), partialNote(m.GetPartial(), m.GetLimitHit()))
					return nil
				}
				// A start node that does not exist is in the answer
				// (depth 0, no record) but not in the graph.
				missing := missingNodes(m.GetWarnings())
				shown := 0
				w := table(q.out)
				fmt.Fprintln(w, "DEPTH\tNODE\tLAST SEEN\tPROPS")
				for i, n := range m.GetNodes() {
					if missing[nodeName(n.GetType(), n.GetId())] {
						continue
					}
					shown++
					var d uint32
					if i < len(m.GetDepths()) {
						d = m.GetDepths()[i]
					}
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", d, nodeName(n.GetType(), n.GetId()), msTime(n.GetLastSeenMs()), propsString(n.GetProps()))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(q.out)
				printEdges(q.out, m.GetEdges())
				fmt.Fprintf(q.out, "%d nodes, %d edges%s\n", shown, len(m.GetEdges()), partialNote(m.GetPartial(), m.GetLimitHit()))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&steps, "step", nil, "one hop, e.g. 'out edges=uses nodes=device node.device_type=tv' (repeatable)")
	fl.Uint32Var(&depth, "depth", 0, "number of hops (0: the number of steps, or 1)")
	fl.StringVar(&mode, "mode", "subgraph", "subgraph or paths")
	fl.Uint32Var(&maxNodes, "max-nodes", 0, "most nodes to return (0: server default)")
	fl.Uint32Var(&maxEdges, "max-edges", 0, "most edges to return (0: server default)")
	lim.add(cmd, true)
	return cmd
}

// parseStep parses a --step value (see traverse's help).
func parseStep(s string, now time.Time) (*rdgv1.Step, error) {
	st := &rdgv1.Step{Direction: rdgv1.Direction_DIRECTION_OUT}
	for i, word := range strings.Fields(s) {
		lower := strings.ToLower(word)
		switch {
		case i == 0 && (lower == "out" || lower == "in" || lower == "both"):
			d, _ := parseDirection(lower)
			st.Direction = d
		case strings.HasPrefix(word, "edges="):
			st.EdgeTypes = splitList(word[len("edges="):])
		case strings.HasPrefix(word, "nodes="):
			st.NodeTypes = splitList(word[len("nodes="):])
		case strings.HasPrefix(word, "since="):
			v, err := parseTime("since", word[len("since="):], now)
			if err != nil {
				return nil, err
			}
			st.SinceMs = v
		case strings.HasPrefix(word, "until="):
			v, err := parseTime("until", word[len("until="):], now)
			if err != nil {
				return nil, err
			}
			st.UntilMs = v
		case strings.HasPrefix(word, "node."):
			p, err := parsePredicate(word[len("node."):])
			if err != nil {
				return nil, err
			}
			st.NodePredicates = append(st.NodePredicates, p)
		case strings.HasPrefix(word, "edge."):
			p, err := parsePredicate(word[len("edge."):])
			if err != nil {
				return nil, err
			}
			st.EdgePredicates = append(st.EdgePredicates, p)
		default:
			return nil, fmt.Errorf("%q: want out|in|both (first), edges=, nodes=, since=, until=, node.FIELD<op>VALUE or edge.FIELD<op>VALUE", word)
		}
	}
	return st, nil
}

var predicateOps = []struct {
	text string
	op   rdgv1.Op
}{
	// Two-character operators first, so "<=" is not read as "<".
	{"!=", rdgv1.Op_OP_NE}, {"<=", rdgv1.Op_OP_LE}, {">=", rdgv1.Op_OP_GE}, {"==", rdgv1.Op_OP_EQ},
	{"=", rdgv1.Op_OP_EQ}, {"<", rdgv1.Op_OP_LT}, {">", rdgv1.Op_OP_GT},
}

// parsePredicate parses FIELD<op>VALUE.
func parsePredicate(s string) (*rdgv1.Predicate, error) {
	at, opLen := -1, 0
	var op rdgv1.Op
	for i := 0; i < len(s) && at < 0; i++ {
		for _, o := range predicateOps {
			if strings.HasPrefix(s[i:], o.text) {
				at, opLen, op = i, len(o.text), o.op
				break
			}
		}
	}
	if at <= 0 {
		return nil, fmt.Errorf("predicate %q: want FIELD<op>VALUE with op one of = != < <= > >=", s)
	}
	return &rdgv1.Predicate{Field: s[:at], Op: op, Value: parseValue(s[at+opLen:])}, nil
}

// parseValue reads a predicate value: "quoted" text, true, false, null, an
// integer, a float, or else text.
func parseValue(s string) *rdgv1.Value {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		} else {
			s = s[1 : len(s)-1]
		}
		return &rdgv1.Value{Kind: &rdgv1.Value_StringValue{StringValue: s}}
	}
	switch s {
	case "true", "false":
		return &rdgv1.Value{Kind: &rdgv1.Value_BoolValue{BoolValue: s == "true"}}
	case "null":
		return &rdgv1.Value{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return &rdgv1.Value{Kind: &rdgv1.Value_IntValue{IntValue: n}}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return &rdgv1.Value{Kind: &rdgv1.Value_DoubleValue{DoubleValue: f}}
	}
	return &rdgv1.Value{Kind: &rdgv1.Value_StringValue{StringValue: s}}
}

// --- path

func newQueryPathCmd(q *queryFlags) *cobra.Command {
	var (
		dir, edgeTypes string
		maxDepth       uint32
		lim            limitFlags
	)
	cmd := &cobra.Command{
		Use:   "path FROM TO",
		Short: "Find a shortest path between two nodes (ShortestPath)",
		Example: `  # two members of one household: through the TV or the tablet they share
  rdg query path account:m-000001 account:m-000002 --dir both --edge-types uses
  # account sharing: a member of another household on the same TV
  rdg query path account:m-000001 account:m-000004 --dir both --edge-types uses`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := parseRefs(args)
			if err != nil {
				return err
			}
			d, err := parseDirection(dir)
			if err != nil {
				return err
			}
			req := &rdgv1.ShortestPathRequest{From: refs[0], To: refs[1], Direction: d, EdgeTypes: splitList(edgeTypes), MaxDepth: maxDepth, Limits: lim.proto(), Strict: q.strict}
			return q.run(cmd, func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
				res, err := c.ShortestPath(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				m := res.Msg
				q.warn(m.GetWarnings())
				if q.json {
					return q.printJSON(m)
				}
				if !m.GetFound() {
					fmt.Fprintf(q.out, "no path found%s\n", partialNote(m.GetPartial(), m.GetLimitHit()))
					return nil
				}
				fmt.Fprintln(q.out, pathString(m.GetPath()))
				fmt.Fprintf(q.out, "%d hops%s\n", len(m.GetPath().GetEdges()), partialNote(m.GetPartial(), m.GetLimitHit()))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", "out", "direction from FROM towards TO: out, in or both (ignore orientation)")
	fl.StringVar(&edgeTypes, "edge-types", "", "comma-separated edge types (default: all)")
	fl.Uint32Var(&maxDepth, "max-depth", 0, "longest path in edges (0: server default, 6)")
	lim.add(cmd, false)
	return cmd
}

// --- group

func newQueryGroupCmd(q *queryFlags) *cobra.Command {
	var (
		edgeTypes string
		limit     uint32
		lim       limitFlags
	)
	cmd := &cobra.Command{
		Use:   "group TYPE:ID",
		Short: "Every node connected to a node over chosen edge types, and the edges that join them (ConnectedGroup)",
		Example: `  # the households joined to m-000001's by shared screens, with their devices and profiles
  rdg query group account:m-000001 --edge-types uses,has_profile`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := parseRefs(args)
			if err != nil {
				return err
			}
			req := &rdgv1.ConnectedGroupRequest{Node: refs[0], EdgeTypes: splitList(edgeTypes), Limit: limit, Limits: lim.proto(), Strict: q.strict}
			return q.run(cmd, func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
				res, err := c.ConnectedGroup(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				m := res.Msg
				q.warn(m.GetWarnings())
				if q.json {
					return q.printJSON(m)
				}
				missing := missingNodes(m.GetWarnings())
				size := m.GetSize()
				w := table(q.out)
				fmt.Fprintln(w, "NODE\tLAST SEEN\tPROPS")
				for _, n := range m.GetNodes() {
					if missing[nodeName(n.GetType(), n.GetId())] {
						size--
						continue
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", nodeName(n.GetType(), n.GetId()), msTime(n.GetLastSeenMs()), propsString(n.GetProps()))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(q.out)
				printEdges(q.out, m.GetEdges())
				fmt.Fprintf(q.out, "group of %d nodes, %d edges%s\n", size, len(m.GetEdges()), partialNote(m.GetPartial(), m.GetLimitHit()))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&edgeTypes, "edge-types", "", "comma-separated edge types that join the group (default: all)")
	fl.Uint32Var(&limit, "limit", 0, "most nodes (0: server default, 1000)")
	lim.add(cmd, false)
	return cmd
}

// --- stats

func newQueryStatsCmd(q *queryFlags) *cobra.Command {
	var (
		top       uint32
		nodeTypes string
	)
	cmd := &cobra.Command{
		Use:     "stats",
		Short:   "Node and edge counts per type and the highest-degree nodes of each node type (Stats)",
		Example: `  rdg query stats --top 5 --node-types device`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &rdgv1.StatsRequest{TopK: top, NodeTypes: splitList(nodeTypes), Strict: q.strict}
			return q.run(cmd, func(ctx context.Context, c rdgv1connect.GraphServiceClient) error {
				res, err := c.Stats(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				m := res.Msg
				q.warn(m.GetWarnings())
				if q.json {
					return q.printJSON(m)
				}
				if m.GetPartial() {
					fmt.Fprintf(q.out, "statistics not ready%s; try again shortly\n", partialNote(true, m.GetLimitHit()))
					return nil
				}
				w := table(q.out)
				fmt.Fprintln(w, "KIND\tTYPE\tCOUNT")
				for _, c := range m.GetNodeTypes() {
					fmt.Fprintf(w, "node\t%s\t%d\n", c.GetType(), c.GetCount())
				}
				for _, c := range m.GetEdgeTypes() {
					fmt.Fprintf(w, "edge\t%s\t%d\n", c.GetType(), c.GetCount())
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(q.out)
				w = table(q.out)
				fmt.Fprintln(w, "NODE TYPE\tNODE\tDEGREE\tOUT\tIN")
				for _, td := range m.GetTopDegree() {
					for _, d := range td.GetNodes() {
						fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\n", td.GetNodeType(), refName(d.GetNode()), d.GetDegree(), d.GetOutDegree(), d.GetInDegree())
					}
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(q.out, "computed at %s\n", msTime(m.GetComputedAtMs()))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.Uint32Var(&top, "top", 0, "highest-degree nodes per node type (0: server default, 10)")
	fl.StringVar(&nodeTypes, "node-types", "", "comma-separated node types to list top nodes of (default: all)")
	return cmd
}

// --- formatting

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func nodeName(typ, id string) string { return typ + ":" + id }

func refName(r *rdgv1.NodeRef) string { return nodeName(r.GetType(), r.GetId()) }

func msTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

func propsString(ps map[string]*rdgv1.Value) string {
	keys := make([]string, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(valueString(ps[k]))
	}
	return b.String()
}

func valueString(v *rdgv1.Value) string {
	switch k := v.GetKind().(type) {
	case *rdgv1.Value_StringValue:
		if strings.ContainsAny(k.StringValue, " \t\n\"=") || k.StringValue == "" {
			return strconv.Quote(k.StringValue)
		}
		return k.StringValue
	case *rdgv1.Value_IntValue:
		return strconv.FormatInt(k.IntValue, 10)
	case *rdgv1.Value_DoubleValue:
		return strconv.FormatFloat(k.DoubleValue, 'g', -1, 64)
	case *rdgv1.Value_BoolValue:
		return strconv.FormatBool(k.BoolValue)
	}
	return "null"
}

func printEdges(w io.Writer, edges []*rdgv1.Edge) {
	t := table(w)
	fmt.Fprintln(t, "EDGE\tFROM\tTO\tLAST SEEN\tPROPS")
	for _, e := range edges {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", e.GetType(), refName(e.GetFrom()), refName(e.GetTo()), msTime(e.GetLastSeenMs()), propsString(e.GetProps()))
	}
	_ = t.Flush()
}

// pathString renders a path as a:1 -used-> b:2 <-used- c:3, arrows showing
// each edge's stored orientation.
func pathString(p *rdgv1.Path) string {
	nodes := p.GetNodes()
	if len(nodes) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(nodeName(nodes[0].GetType(), nodes[0].GetId()))
	for i, e := range p.GetEdges() {
		if i+1 >= len(nodes) {
			break
		}
		prev, next := nodes[i], nodes[i+1]
		if e.GetFrom().GetType() == prev.GetType() && e.GetFrom().GetId() == prev.GetId() {
			fmt.Fprintf(&b, " -%s-> ", e.GetType())
		} else {
			fmt.Fprintf(&b, " <-%s- ", e.GetType())
		}
		b.WriteString(nodeName(next.GetType(), next.GetId()))
	}
	return b.String()
}

// partialNote says which limit cut a result short.
func partialNote(partial bool, l rdgv1.Limit) string {
	if !partial {
		return ""
	}
	name := strings.ToLower(strings.TrimPrefix(l.String(), "LIMIT_"))
	return " (partial: limit " + name + " reached)"
}
