package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL side. The graph goes into its own schema of its own database,
// dropped and recreated by every load:
//
//	nodes(id int4 PRIMARY KEY, type text, key text, props jsonb,
//	      first_seen, last_seen, updated_at int8)          UNIQUE (type, key)
//	edges(src int4, type int2, dst int4, props jsonb,
//	      first_seen, last_seen, updated_at int8)          PRIMARY KEY (src, type, dst)
//	                                                        INDEX (dst, type, src)
//	edge_types(id int2 PRIMARY KEY, name text UNIQUE)
//	adj: VIEW of edges in both directions (node, type, far)
//
// Integer surrogate keys keep the adjacency indexes small (the edge index
// entries are 10 bytes of key instead of two 9-byte strings and a type
// name). Node ids are numbered in (type, key) order and edge types in name
// order, so ORDER BY type, dst in SQL is rdg's key order: a neighbour page
// is the same page on both sides. Properties are jsonb because types are
// data in rdg (a new type needs no migration); the times are columns. No
// foreign keys: the generator guarantees integrity and they would only slow
// the load. Tables are loaded with COPY (binary) before their indexes are
// built, then VACUUM (ANALYZE) sets the visibility map (so adjacency reads
// are index-only scans) and the statistics, and a CHECKPOINT keeps the
// load's dirty pages from being written during the measurements.
const pgSchema = "query_bench"

// pgSettings are the server settings that matter to these queries,
// recorded (never changed: the server is shared).
var pgSettings = []string{"server_version", "shared_buffers", "work_mem", "effective_cache_size",
	"maintenance_work_mem", "random_page_cost", "max_parallel_workers_per_gather", "jit"}

// pgConnect connects to database db, creating it if it does not exist.
func pgConnect(ctx context.Context, url, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgresql at %s: %w", url, err)
	}
	var exists bool
	err = admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists)
	if err == nil && !exists {
		_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	}
	admin.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgresql: database %s: %w", db, err)
	}
	cfg.Database = db
	return pgx.ConnectConfig(ctx, cfg)
}

func pgShowSettings(ctx context.Context, c *pgx.Conn) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range pgSettings {
		var v string
		if err := c.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return nil, fmt.Errorf("postgresql: setting %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// pgLoadIn is what the PostgreSQL load child is asked to do.
type pgLoadIn struct {
	Spec spec   `json:"spec"`
	URL  string `json:"url"`
	DB   string `json:"db"`
}

// pgLoadOut is what it did.
type pgLoadOut struct {
	Rows       int64   `json:"rows"`
	CopySecs   float64 `json:"copy_seconds"`
	IndexSecs  float64 `json:"index_seconds"`
	VacuumSecs float64 `json:"vacuum_analyze_seconds"`
}

var pgDDL = []string{
	`DROP SCHEMA IF EXISTS ` + pgSchema + ` CASCADE`,
	`CREATE SCHEMA ` + pgSchema,
	`CREATE TABLE ` + pgSchema + `.edge_types (id int2 PRIMARY KEY, name text NOT NULL UNIQUE)`,
	`CREATE TABLE ` + pgSchema + `.nodes (id int4 NOT NULL, type text NOT NULL, key text NOT NULL, props jsonb NOT NULL,
		first_seen int8 NOT NULL, last_seen int8 NOT NULL, updated_at int8 NOT NULL)`,
	`CREATE TABLE ` + pgSchema + `.edges (src int4 NOT NULL, type int2 NOT NULL, dst int4 NOT NULL, props jsonb NOT NULL,
		first_seen int8 NOT NULL, last_seen int8 NOT NULL, updated_at int8 NOT NULL)`,
	// A self-loop is one neighbour, not two, as in rdg.
	`CREATE VIEW ` + pgSchema + `.adj AS
		SELECT src AS node, type, dst AS far FROM ` + pgSchema + `.edges
		UNION ALL
		SELECT dst, type, src FROM ` + pgSchema + `.edges WHERE src <> dst`,
	`CREATE TABLE ` + pgSchema + `.meta (spec jsonb NOT NULL)`,
}

var pgIndexes = []string{
	`ALTER TABLE ` + pgSchema + `.nodes ADD PRIMARY KEY (id)`,
	`CREATE UNIQUE INDEX nodes_type_key ON ` + pgSchema + `.nodes (type, key)`,
	`ALTER TABLE ` + pgSchema + `.edges ADD PRIMARY KEY (src, type, dst)`,
	`CREATE INDEX edges_dst_type_src ON ` + pgSchema + `.edges (dst, type, src)`,
}

// loadPG creates the schema and loads the graph with COPY.
func loadPG(in pgLoadIn) (*pgLoadOut, error) {
	ctx := context.Background()
	c, err := pgConnect(ctx, in.URL, in.DB)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	for _, q := range pgDDL {
		if _, err := c.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("postgresql: %s: %w", q, err)
		}
	}
	for t := 1; t < len(edgeTypes); t++ {
		if _, err := c.Exec(ctx, `INSERT INTO `+pgSchema+`.edge_types VALUES ($1, $2)`, t, edgeTypes[t]); err != nil {
			return nil, err
		}
	}
	out := &pgLoadOut{}
	s := in.Spec
	g := newGenerator(s)
	t0 := time.Now()

	// Nodes.
	prog := newProgress("postgresql copy nodes", int64(s.nodes()))
	i := 0
	row := make([]any, 7)
	var js []byte
	n, err := c.CopyFrom(ctx, pgx.Identifier{pgSchema, "nodes"}, []string{"id", "type", "key", "props", "first_seen", "last_seen", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == s.nodes() {
				return nil, nil
			}
			n := g.node(i)
			js = append(js[:0], `{"`...)
			js = append(js, n.name1...)
			js = append(js, `":"`...)
			js = append(js, n.str1...)
			js = append(js, `","`...)
			js = append(js, n.name2...)
			js = append(js, `":"`...)
			js = append(js, n.str2...)
			js = append(js, `","`...)
			js = append(js, n.numName...)
			js = append(js, `":`...)
			js = strconv.AppendInt(js, n.num, 10)
			js = append(js, '}')
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = int32(i), n.typ, s.id(i), js, n.firstSeen, n.lastSeen, n.lastSeen
			i++
			prog.add(1)
			return row, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("postgresql: copy nodes: %w", err)
	}
	prog.done()
	out.Rows += n

	// Edges, each source node's in generation order.
	prog = newProgress("postgresql copy edges of", int64(s.nodes()))
	var pending []genEdge
	i = 0
	n, err = c.CopyFrom(ctx, pgx.Identifier{pgSchema, "edges"}, []string{"src", "type", "dst", "props", "first_seen", "last_seen", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for len(pending) == 0 {
				if i == s.nodes() {
					return nil, nil
				}
				g.edges(i, func(e *genEdge) { pending = append(pending, *e) })
				i++
				prog.add(1)
			}
			e := pending[0]
			pending = pending[1:]
			names := edgeProps[e.typ]
			js = append(js[:0], `{"`...)
			js = append(js, names[0]...)
			js = append(js, `":`...)
			js = strconv.AppendInt(js, e.num, 10)
			js = append(js, `,"`...)
			js = append(js, names[1]...)
			js = append(js, `":`...)
			js = strconv.AppendBool(js, e.flag)
			js = append(js, '}')
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = int32(e.from), int16(e.typ), int32(e.to), js, e.firstSeen, e.lastSeen, e.lastSeen
			return row, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("postgresql: copy edges: %w", err)
	}
	prog.done()
	out.Rows += n
	out.CopySecs = time.Since(t0).Seconds()

	// Indexes after the data, as for any bulk load; a session setting (not
	// a server one) gives the sorts the memory to build them in one pass.
	t0 = time.Now()
	if _, err := c.Exec(ctx, `SET maintenance_work_mem = '1GB'`); err != nil {
		return nil, err
	}
	for _, q := range pgIndexes {
		t := time.Now()
		if _, err := c.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("postgresql: %s: %w", q, err)
		}
		fmt.Fprintf(os.Stderr, "postgresql: %s: %.1fs\n", q, time.Since(t).Seconds())
	}
	out.IndexSecs = time.Since(t0).Seconds()
	t0 = time.Now()
	for _, q := range []string{`VACUUM (ANALYZE) ` + pgSchema + `.nodes, ` + pgSchema + `.edges, ` + pgSchema + `.edge_types`, `CHECKPOINT`} {
		if _, err := c.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("postgresql: %s: %w", q, err)
		}
	}
	out.VacuumSecs = time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "postgresql: loaded %d rows: copy %.1fs, indexes %.1fs, vacuum analyze %.1fs\n", out.Rows, out.CopySecs, out.IndexSecs, out.VacuumSecs)
	return out, nil
}

// pgMarkLoaded records the spec the tables hold, for -reuse.
func pgMarkLoaded(ctx context.Context, c *pgx.Conn, specJSON []byte) error {
	_, err := c.Exec(ctx, `INSERT INTO `+pgSchema+`.meta VALUES ($1)`, specJSON)
	return err
}

// pgLoaded reports whether the tables hold the graph of specJSON.
func pgLoaded(ctx context.Context, c *pgx.Conn, specJSON []byte) bool {
	var same bool
	err := c.QueryRow(ctx, `SELECT spec = $1::jsonb FROM `+pgSchema+`.meta`, specJSON).Scan(&same)
	return err == nil && same
}

// pgSize is the bytes of the graph's tables and their indexes.
func pgSize(ctx context.Context, c *pgx.Conn) (total, edges int64, err error) {
	err = c.QueryRow(ctx, `SELECT pg_total_relation_size('`+pgSchema+`.nodes') + pg_total_relation_size('`+pgSchema+`.edges') + pg_total_relation_size('`+pgSchema+`.edge_types'),
		pg_total_relation_size('`+pgSchema+`.edges')`).Scan(&total, &edges)
	return total, edges, err
}

// isTimeout reports whether err is a statement canceled by statement_timeout.
func isTimeout(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "57014"
}

// pgPrewarm reads the graph's tables and indexes into the operating
// system's cache (pg_prewarm's 'read' mode), as the rdg side reads its
// store once, so that neither side's first samples pay for the disk. It
// leaves shared_buffers to the queries: it cannot hold the tables.
func pgPrewarm(ctx context.Context, c *pgx.Conn) error {
	if _, err := c.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_prewarm`); err != nil {
		return fmt.Errorf("postgresql: pg_prewarm: %w", err)
	}
	for _, rel := range []string{"nodes", "nodes_pkey", "nodes_type_key", "edges", "edges_pkey", "edges_dst_type_src"} {
		if _, err := c.Exec(ctx, `SELECT pg_prewarm($1, 'read')`, pgSchema+"."+rel); err != nil {
			return fmt.Errorf("postgresql: pg_prewarm %s: %w", rel, err)
		}
	}
	return nil
}
