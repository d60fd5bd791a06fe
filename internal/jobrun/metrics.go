package jobrun

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what jobs do, labelled by job name. One Metrics serves
// every job of a process.
type Metrics struct {
	RecordsIn    *prometheus.CounterVec
	Filtered     *prometheus.CounterVec
	DeadLettered *prometheus.CounterVec
	NodesOut     *prometheus.CounterVec
	EdgesOut     *prometheus.CounterVec
	Commits      *prometheus.CounterVec
	// After the dedupe buffer.
	NodesPublished *prometheus.CounterVec
	EdgesPublished *prometheus.CounterVec
	EnrichMisses   *prometheus.CounterVec
	Lag            *prometheus.GaugeVec
	Freshness      *prometheus.HistogramVec
}

// NewMetrics creates job metrics and registers them with reg (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		RecordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_records_in_total", Help: "Source records processed by the job (including filtered and dead-lettered)."}, []string{"job"}),
		Filtered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_records_filtered_total", Help: "Source records dropped by the job's filter."}, []string{"job"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_records_dead_lettered_total", Help: "Source records that failed and went to the dead-letter topic, by failed stage."}, []string{"job", "stage"}),
		NodesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_nodes_out_total", Help: "Node updates mapped from records, before dedupe."}, []string{"job"}),
		EdgesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_edges_out_total", Help: "Edge updates mapped from records, before dedupe."}, []string{"job"}),
		NodesPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_nodes_published_total", Help: "Node records published to graph topics, after dedupe."}, []string{"job"}),
		EdgesPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_edges_published_total", Help: "Edge records published to graph topics, after dedupe."}, []string{"job"}),
		EnrichMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_enrich_misses_total", Help: "Side input lookups that found no row, by input."}, []string{"job", "input"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdg_job_consumer_lag", Help: "Source records not yet committed by the job's consumer group."}, []string{"job"}),
		Freshness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rdg_job_freshness_seconds", Help: "Event time to broker acknowledgement of the graph element.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"job"}),
		Commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_commits_total", Help: "Offset commits (or committed transactions) after their output was acknowledged."}, []string{"job"}),
	}
	if reg != nil {
		reg.MustRegister(m.RecordsIn, m.Filtered, m.DeadLettered, m.NodesOut, m.EdgesOut, m.Commits,
			m.NodesPublished, m.EdgesPublished, m.EnrichMisses, m.Lag, m.Freshness)
	}
	return m
}
