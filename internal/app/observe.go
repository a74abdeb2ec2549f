package app

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/metrics"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/scheduler"
)

// StoreTotals are one store's counters since the daemon started, named like report fields;
// PathMetrics serves them.
type StoreTotals struct {
	Store              string           `json:"store"`
	Backend            string           `json:"backend"`
	Runs               map[string]int64 `json:"runs"`
	Deferrals          map[string]int64 `json:"deferrals"`
	RecordsScanned     int64            `json:"records_scanned"`
	RecordsDropped     int64            `json:"records_dropped"`
	RecordsQuarantined int64            `json:"records_quarantined"`
	RecordsArchived    int64            `json:"records_archived"`
	RecordsUnreclaimed int64            `json:"records_unreclaimed"`
	// RecordsTrimmedPastGroups adds up the Redis entries trimmed that a consumer group had
	// not acknowledged (papyrad_group_entries_trimmed_total).
	RecordsTrimmedPastGroups int64            `json:"records_trimmed_past_groups"`
	FilesRewritten           int64            `json:"files_rewritten"`
	FilesDeleted             int64            `json:"files_deleted"`
	BytesReclaimed           int64            `json:"bytes_reclaimed"`
	Errors                   map[string]int64 `json:"errors"`
	LastSuccess              time.Time        `json:"last_success,omitzero"`
	// OldestRecordTimestamp is the last successful run's report field: the timestamp of the
	// oldest record the store held when that run ended.
	OldestRecordTimestamp *float64 `json:"oldest_record_timestamp,omitempty"`
}

// OldestAge is how old the store's oldest record was at the end of its last successful run,
// as papyrad_oldest_record_age_seconds says; ok is false when that is not known.
func (t StoreTotals) OldestAge() (age time.Duration, ok bool) {
	if t.OldestRecordTimestamp == nil || t.LastSuccess.IsZero() {
		return 0, false
	}
	secs := float64(t.LastSuccess.UnixNano())/1e9 - *t.OldestRecordTimestamp
	return time.Duration(secs * float64(time.Second)).Round(time.Second), true
}

// observer feeds the Prometheus metrics and keeps the totals `papyrad metrics` shows.
type observer struct {
	reg   *prometheus.Registry
	m     *metrics.Metrics
	sched *scheduler.Scheduler

	mu      sync.Mutex
	backend map[string]string
	tot     map[string]*StoreTotals
}

func newObserver(reg *prometheus.Registry) *observer {
	return &observer{reg: reg, m: metrics.New(reg), backend: map[string]string{}, tot: map[string]*StoreTotals{}}
}

func (o *observer) setStores(cfg *config.Config) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, st := range cfg.Stores {
		b := string(st.Backend)
		o.backend[st.Name] = b
		o.m.Store(st.Name, b)
		o.m.Limits(st.Name, b, st.Retention.MaxAge, int64(st.Retention.MaxRecords), st.Retention.MaxTotalBytes)
		if st.Archive != nil && st.Archive.Remote != nil {
			o.m.RemoteArchive(st.Name, b)
		}
		if o.tot[st.Name] == nil {
			o.tot[st.Name] = &StoreTotals{Store: st.Name, Backend: b, Runs: map[string]int64{}, Deferrals: map[string]int64{}, Errors: map[string]int64{}}
		}
	}
}

func (o *observer) run(job string, r report.Report, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.backend[job]
	if r.Store == "" {
		r.Store = job
	}
	now := time.Now()
	o.m.Run(b, r, err, now)
	t := o.tot[job]
	if t == nil {
		return
	}
	t.Runs[r.Result]++
	if r.Result == report.ResultSkipped || r.DryRun {
		return
	}
	t.RecordsScanned += r.RecordsBefore
	t.RecordsDropped += r.RecordsDropped
	t.RecordsQuarantined += r.RecordsQuarantined
	t.RecordsArchived += r.RecordsArchived
	t.RecordsUnreclaimed = r.RecordsUnreclaimed
	t.RecordsTrimmedPastGroups += r.RecordsTrimmedPastGroups
	t.FilesRewritten += int64(r.FilesRewritten)
	t.FilesDeleted += int64(r.FilesDeleted)
	t.BytesReclaimed += r.BytesReclaimed()
	if err != nil || r.Result == report.ResultError {
		t.Errors[metrics.Cause(err)]++
	} else {
		t.LastSuccess = now
		t.OldestRecordTimestamp = r.OldestRecordTimestamp
	}
}

// pending publishes the number of job's replaced files still pending, as the forwarder
// finds them between runs.
func (o *observer) pending(job string, files int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m.Pending(job, o.backend[job], files)
}

func (o *observer) deferred(job, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m.Deferred(job, o.backend[job], reason)
	if t := o.tot[job]; t != nil {
		t.Deferrals[reason]++
	}
}

func (o *observer) totals() []StoreTotals {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]StoreTotals, 0, len(o.tot))
	for _, t := range o.tot {
		out = append(out, *t)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Store < out[b].Store })
	return out
}

// refreshNextRuns copies each store's next run into its gauge.
func (o *observer) refreshNextRuns() {
	if o.sched == nil {
		return
	}
	for _, st := range o.sched.Status() {
		o.mu.Lock()
		b := o.backend[st.Store]
		o.mu.Unlock()
		o.m.NextRun(st.Store, b, st.NextRun)
	}
}

// handler serves /metrics and /healthz. They only read: nothing that changes anything
// listens on TCP.
func (o *observer) handler() http.Handler {
	mux := http.NewServeMux()
	metricsHandler := promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.refreshNextRuns()
		metricsHandler.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Uploaded, Published and Failed count what goes to a store's object-store archive (the
// observer is every store's s3.Observer).
func (o *observer) Uploaded(store string, n int64) { o.m.ArchiveUploaded(store, o.backendOf(store), n) }

func (o *observer) Published(store string, at time.Time) {
	o.m.ArchivePublished(store, o.backendOf(store), at)
}

func (o *observer) Failed(store, reason string) { o.m.ArchiveFailed(store, o.backendOf(store), reason) }

func (o *observer) backendOf(store string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.backend[store]
}
