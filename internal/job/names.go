package job

// deadLetterPrefix and writerDeadLetterPrefix are codec's DeadLetterPrefix
// and WriterDeadLetterPrefix (a test of jobrun holds them equal): the job
// file's names are checked here, where nothing of Kafka is linked.
const (
	deadLetterPrefix       = "rdg.dlq."
	writerDeadLetterPrefix = "writer-"
)

// DeadLetterTopic is where records job name could not process go.
func DeadLetterTopic(name string) string { return deadLetterPrefix + name }

// DefaultMaxKeys bounds a dedupe buffer's elements when dedupe.max_keys is
// unset.
const DefaultMaxKeys = 100_000
