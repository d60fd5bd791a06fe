package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/rdgraph/rdg/internal/codec"
	"github.com/rdgraph/rdg/internal/engine"
	"github.com/rdgraph/rdg/internal/graph"
	"github.com/rdgraph/rdg/internal/job"
	"github.com/rdgraph/rdg/internal/jobrun"
)

// Group is the consumer group whose committed offsets on rdg.dlq.<name>
// record where the last replay of job name stopped. Only offsets are kept
// there; no consumer ever joins it.
func Group(name string) string { return "rdg-dlq-replay-" + name }

// ReplayConfig says what to replay and where to publish.
type ReplayConfig struct {
	Cluster  Cluster
	Registry *sr.Client
	// Job is the fixed job; its dead-letter topic is the one replayed.
	Job *engine.Job
	// From, when not nil, is the dead-letter offset (in every partition) to
	// start from, overriding where the last replay stopped. Nil resumes
	// from Group's committed offsets, or the log start if there are none.
	From *int64
	// DryRun processes records and reports outcomes but publishes nothing,
	// registers no schema, creates no topic and commits no position.
	DryRun bool
	// GraphPartitions is the partition count of graph topics a replay has
	// to create (a fixed job may emit a type no run has created); default 6.
	GraphPartitions int32
	// MaxFailures bounds how many still-failing records are kept in detail
	// in ReplayStats.Failures; default 20. All are counted.
	MaxFailures int
	// Tables are side inputs already loaded, by name; those the job
	// declares that are missing here are loaded as the job runner loads
	// them. A replay enriches with the tables' contents now, not as they
	// were when the record first failed.
	Tables map[string]engine.Lookup
	// Each, if set, is called with the outcome of every record.
	Each func(*Outcome)
	// Now stamps updated_at of replayed elements; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Outcome is what one dead letter became in a replay.
type Outcome struct {
	Record   *Record
	Nodes    []graph.Node
	Edges    []graph.Edge
	Filtered bool
	// Err is set when the record still fails; it is then left in the
	// dead-letter topic and not written anywhere else.
	Err *engine.StageError
}

// Failure is a record that still failed.
type Failure struct {
	Partition       int32  `json:"partition"`
	Offset          int64  `json:"offset"`
	SourceTopic     string `json:"source_topic"`
	SourcePartition int32  `json:"source_partition"`
	SourceOffset    int64  `json:"source_offset"`
	Stage           string `json:"stage"`
	Error           string `json:"error"`
}

// Range is the part of one partition a replay read: [From, To).
type Range struct {
	Partition int32 `json:"partition"`
	From      int64 `json:"from"`
	To        int64 `json:"to"`
}

// ReplayStats reports a replay.
type ReplayStats struct {
	Job    string `json:"job"`
	Topic  string `json:"topic"`
	Group  string `json:"group"`
	DryRun bool   `json:"dry_run"`
	// Read counts dead letters read; each is one of Replayed, Filtered or
	// Failed.
	Read     int `json:"read"`
	Replayed int `json:"replayed"`
	Filtered int `json:"filtered"`
	Failed   int `json:"still_failing"`
	// Nodes and Edges count the elements published (or, in a dry run, that
	// would have been).
	Nodes    int       `json:"nodes"`
	Edges    int       `json:"edges"`
	Failures []Failure `json:"failures,omitempty"`
	Ranges   []Range   `json:"ranges"`
}

// checkpointEvery is how many records a replay processes between flushing
// its output and committing its position, so an interrupted replay of a
// large topic resumes close to where it stopped.
const checkpointEvery = 1000

// Replay runs the dead letters of cfg.Job through the job again and
// publishes the resulting nodes and edges to the graph topics, as the job
// runner would have. It reads from where the last replay stopped (or
// cfg.From) up to the topic's end at the start of the call. Records that
// still fail are counted and left where they are, never dead-lettered
// again, so replaying cannot loop.
//
// The position is committed to Group only after everything produced up to
// it has been acknowledged by the broker: a replay that fails or is
// interrupted resumes from its last checkpoint, and the graph's merge
// semantics make the records published twice harmless.
func Replay(ctx context.Context, cfg ReplayConfig) (ReplayStats, error) {
	if cfg.Job == nil {
		return ReplayStats{}, errors.New("replay: no job")
	}
	if cfg.Registry == nil {
		return ReplayStats{}, errors.New("replay: no schema registry")
	}
	if cfg.GraphPartitions <= 0 {
		cfg.GraphPartitions = 6
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	name := cfg.Job.Spec.Name
	st := ReplayStats{Job: name, Topic: job.DeadLetterTopic(name), Group: Group(name), DryRun: cfg.DryRun}
	log := cfg.Logger.With("job", name, "topic", st.Topic)

	admCl, err := cfg.Cluster.client()
	if err != nil {
		return st, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ss, err := spans(ctx, adm, st.Topic)
	if err != nil {
		return st, err
	}
	starts, err := startOffsets(ctx, adm, st.Topic, st.Group, ss, cfg.From, log)
	if err != nil {
		return st, err
	}

	var pub *jobrun.Publisher
	if !cfg.DryRun {
		var closePub func()
		if pub, closePub, err = livePublisher(ctx, &cfg, log); err != nil {
			return st, err
		}
		defer closePub()
	}

	schemas := codec.NewSchemas(cfg.Registry)
	tables, closeTables, err := jobrun.StartTables(ctx, cfg.Job, cfg.Cluster.Seeds, cfg.Cluster.Opts, schemas, cfg.Tables, log)
	if err != nil {
		return st, err
	}
	defer closeTables()
	sink := &replaySink{pub: pub}
	// The fixed job's limit: raising it is how a record rejected at stage
	// size is fixed.
	eng := engine.NewEngine(cfg.Job, engine.EngineConfig{Schemas: schemas, Tables: tables,
		MaxRecordBytes: cfg.Job.Spec.Tuning.Defaults().MaxRecordBytes, Unbuffered: true, Logger: log}, sink)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	one := &replayOne{cfg: &cfg, st: &st, eng: eng, sink: sink, now: now}
	for _, s := range ss {
		from := starts[s.Partition]
		if from >= s.Stable {
			continue
		}
		st.Ranges = append(st.Ranges, Range{Partition: s.Partition, From: from, To: s.Stable})
		next, pending := from, 0
		// checkpoint makes everything published so far durable, then
		// records the position; never the other way round, or a crash in
		// between would lose records from the graph for good.
		checkpoint := func(ctx context.Context) error {
			if pub == nil || (pending == 0 && next == from) {
				return nil
			}
			if err := pub.Flush(ctx); err != nil {
				return fmt.Errorf("publish replayed elements (position not committed): %w", err)
			}
			offs := kadm.Offsets{}
			offs.Add(kadm.Offset{Topic: st.Topic, Partition: s.Partition, At: next, LeaderEpoch: -1})
			if err := adm.CommitAllOffsets(ctx, st.Group, offs); err != nil {
				return fmt.Errorf("commit replay position %d of %s[%d] to group %s: %w", next, st.Topic, s.Partition, st.Group, err)
			}
			pending = 0
			return nil
		}
		err := scanPartition(ctx, cfg.Cluster, st.Topic, s.Partition, from, s.Stable, func(r *kgo.Record) error {
			if err := one.record(ctx, r); err != nil {
				return err
			}
			next, pending = r.Offset+1, pending+1
			if pending >= checkpointEvery {
				return checkpoint(ctx)
			}
			return nil
		})
		if err != nil {
			// Keep what was done: an interrupted replay resumes here.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if cerr := checkpoint(cctx); cerr != nil {
				err = errors.Join(err, cerr)
			}
			cancel()
			return st, err
		}
		// The range is done even if it ended on records the scan skips
		// (transaction markers), so the position moves to its end.
		next = s.Stable
		if err := checkpoint(ctx); err != nil {
			return st, err
		}
	}
	if !cfg.DryRun {
		// Debug: the caller reports the stats; this is for a trace.
		log.Debug("dead letters replayed", "read", st.Read, "replayed", st.Replayed,
			"still_failing", st.Failed, "filtered", st.Filtered, "nodes", st.Nodes, "edges", st.Edges)
	}
	return st, nil
}

// livePublisher prepares the fixed job's topics and schemas, as the job
// runner does (a fixed job may emit a type whose topic and schema subject
// no run of it has created yet), and returns the job's live publisher on a
// producer of its own, and what closes that producer.
func livePublisher(ctx context.Context, cfg *ReplayConfig, log *slog.Logger) (*jobrun.Publisher, func(), error) {
	name := cfg.Job.Spec.Name
	if err := jobrun.Prepare(ctx, cfg.Job, cfg.Cluster.Seeds, cfg.Cluster.Opts, cfg.GraphPartitions); err != nil {
		return nil, nil, err
	}
	elems, err := codec.RegisterElements(ctx, cfg.Registry, cfg.Job.NodeTypes(), cfg.Job.EdgeTypes())
	if err != nil {
		return nil, nil, fmt.Errorf("replay %s: %w", name, err)
	}
	cl, err := cfg.Cluster.client(kgo.ProducerLinger(5*time.Millisecond), jobrun.ProducerCompression(cfg.Job), kgo.ClientID(Group(name)))
	if err != nil {
		return nil, nil, err
	}
	return jobrun.NewPublisher(cfg.Job, jobrun.ChainConfig{Elements: elems, Producer: cl, Flush: cl.Flush, Logger: log}), cl.Close, nil
}

// startOffsets picks where each partition's replay starts: from, or the
// group's committed offset, or the log start; never before the log start,
// whose records retention has already deleted.
func startOffsets(ctx context.Context, adm *kadm.Client, topic, group string, ss []span, from *int64, log *slog.Logger) (map[int32]int64, error) {
	starts := make(map[int32]int64, len(ss))
	var committed kadm.OffsetResponses
	if from == nil {
		var err error
		committed, err = adm.FetchOffsets(ctx, group)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return nil, fmt.Errorf("fetch replay position of group %s: %w", group, err)
		}
	}
	for _, s := range ss {
		at := s.Low
		if from != nil {
			at = *from
		} else if o, ok := committed.Lookup(topic, s.Partition); ok && o.Err == nil && o.At >= 0 {
			at = o.At
			if at > s.High {
				// A position past the end: the topic was deleted and
				// recreated, so its records are all new to replays.
				log.Warn("replay position is past the end of the dead-letter topic; was it recreated? starting from its beginning",
					"partition", s.Partition, "position", at, "end", s.High, "group", group)
				at = s.Low
			}
		}
		starts[s.Partition] = max(at, s.Low)
	}
	return starts, nil
}

// replayOne runs dead letters through the engine one at a time and
// accounts for each outcome.
type replayOne struct {
	cfg  *ReplayConfig
	st   *ReplayStats
	eng  *engine.Engine
	sink *replaySink
	now  func() time.Time
}

// record replays dead letter r. Its error is ctx's, or a registry outage,
// which is not the record's fault: the replay then stops before it, so
// the next one retries it instead of calling it still failing.
func (one *replayOne) record(ctx context.Context, r *kgo.Record) error {
	st, sink := one.st, one.sink
	rec := ParseRecord(r)
	sink.reset()
	// Produced records are not abandoned when ctx is cancelled: the flush
	// at the next checkpoint decides, and it is bounded separately.
	in := engine.Record{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
		Pos: engine.SourcePos{Partition: r.Partition, Offset: r.Offset}, Ref: r}
	if err := one.eng.Ingest(context.WithoutCancel(ctx), &in, one.now()); err != nil {
		return err
	}
	if errors.Is(sink.err, codec.ErrRegistryUnavailable) {
		return fmt.Errorf("dead letter %s[%d]@%d: %w", st.Topic, r.Partition, r.Offset, sink.err)
	}
	o := Outcome{Record: &rec, Filtered: !sink.mapped && sink.err == nil}
	st.Read++
	switch {
	case sink.err != nil:
		se, ok := errors.AsType[*engine.StageError](sink.err)
		if !ok {
			se = &engine.StageError{Stage: engine.StageDecode, Err: sink.err}
		}
		o.Err = se
		st.Failed++
		if len(st.Failures) < one.cfg.MaxFailures {
			st.Failures = append(st.Failures, Failure{Partition: rec.Partition, Offset: rec.Offset,
				SourceTopic: rec.SourceTopic, SourcePartition: rec.SourcePartition, SourceOffset: rec.SourceOffset,
				Stage: se.Stage, Error: se.Err.Error()})
		}
	case o.Filtered:
		st.Filtered++
	default:
		st.Replayed++
		st.Nodes += len(sink.out.Nodes)
		st.Edges += len(sink.out.Edges)
		o.Nodes, o.Edges = slices.Clone(sink.out.Nodes), slices.Clone(sink.out.Edges)
	}
	if one.cfg.Each != nil {
		one.cfg.Each(&o)
	}
	return nil
}

// replaySink takes one dead letter's outcome from the engine: its
// elements, published by the live publisher unless the replay is dry, or
// its failure, which is reported and never dead-lettered again.
type replaySink struct {
	pub    *jobrun.Publisher // nil: dry run
	out    graph.Batch
	mapped bool
	err    error
}

func (s *replaySink) reset() {
	s.out.Reset()
	s.mapped, s.err = false, nil
}

func (s *replaySink) Publish(ctx context.Context, b *engine.Elements) {
	s.mapped = true
	b.AppendTo(&s.out)
	if s.pub != nil {
		s.pub.Publish(ctx, b)
	}
}

func (s *replaySink) DeadLetter(_ context.Context, _ *engine.Record, _ string, _ int, err error) {
	s.err = err
}
