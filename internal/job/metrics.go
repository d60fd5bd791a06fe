package job

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
}

// NewMetrics creates job metrics and registers them with reg (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		RecordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_records_in_total", Help: "Source records read by the job."}, []string{"job"}),
		Filtered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_records_filtered_total", Help: "Source records dropped by the job's filter."}, []string{"job"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_records_dead_lettered_total", Help: "Source records that failed and went to the dead-letter topic, by failed stage."}, []string{"job", "stage"}),
		NodesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_nodes_out_total", Help: "Node updates published to graph topics."}, []string{"job"}),
		EdgesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_edges_out_total", Help: "Edge updates published to graph topics."}, []string{"job"}),
		Commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdg_job_commits_total", Help: "Source offset commits after their output was acknowledged."}, []string{"job"}),
	}
	if reg != nil {
		reg.MustRegister(m.RecordsIn, m.Filtered, m.DeadLettered, m.NodesOut, m.EdgesOut, m.Commits)
	}
	return m
}
