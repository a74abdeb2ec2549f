// Package metrics holds papyrad's Prometheus metrics. Their names are an interface that
// dashboards and alerts depend on: every series carries a store label (and backend where it
// helps), units are in the names, and they are registered on an injected registry so that
// tests read exact values from a fresh one.
package metrics

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/papyrad/papyrad/internal/buildinfo"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
)

// Metrics are the daemon's series.
type Metrics struct {
	runs            *prometheus.CounterVec
	deferrals       *prometheus.CounterVec
	scanned         *prometheus.CounterVec
	dropped         *prometheus.CounterVec
	quarantined     *prometheus.CounterVec
	archived        *prometheus.CounterVec
	unreclaimed     *prometheus.GaugeVec
	pastGroups      *prometheus.CounterVec
	rewritten       *prometheus.CounterVec
	deleted         *prometheus.CounterVec
	reclaimed       *prometheus.CounterVec
	errors          *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	lastSuccess     *prometheus.GaugeVec
	nextRun         *prometheus.GaugeVec
	storeBytes      *prometheus.GaugeVec
	storeRecords    *prometheus.GaugeVec
	oldestAge       *prometheus.GaugeVec
	maxAge          *prometheus.GaugeVec
	maxRecords      *prometheus.GaugeVec
	maxTotalBytes   *prometheus.GaugeVec
	pendingFiles    *prometheus.GaugeVec
	archiveBytes    *prometheus.CounterVec
	archiveObjects  *prometheus.CounterVec
	archiveErrors   *prometheus.CounterVec
	archiveLast     *prometheus.GaugeVec
	reloadOK        prometheus.Gauge
	reloadTimestamp prometheus.Gauge
}

// oldestAgeHelp explains papyrad_oldest_record_age_seconds: a figure frozen at the end of the
// last successful run (the age a store's oldest record had then), so that it compares with the
// store's retention_max_age_seconds whatever the time of the scrape.
const oldestAgeHelp = "Age, at the end of the store's last successful run, of the oldest record it still holds, by the records' own timestamps; " +
	"absent while it holds no record with a finite numeric timestamp, for memory stores, " +
	"and for a redis store whose run left records retention drops (held by a consumer group, or after a kept entry)."

// New creates the metrics and registers them on reg, with papyrad_build_info (always 1,
// labelled with what the binary was built from: see buildinfo.NewCollector).
func New(reg prometheus.Registerer) *Metrics {
	store := []string{"store", "backend"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "papyrad", Name: name, Help: help}, append(append([]string{}, store...), labels...))
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "papyrad", Name: name, Help: help}, store)
	}
	m := &Metrics{
		runs:        counter("runs_total", "Compaction runs by result (ok, pending, error, skipped).", "result"),
		deferrals:   counter("deferrals_total", "Requests held back, by reason (window, traffic, disk, lock, replaced, max_concurrent).", "reason"),
		scanned:     counter("records_scanned_total", "Records read by compaction runs."),
		dropped:     counter("records_dropped_total", "Records removed because retention no longer keeps them."),
		quarantined: counter("records_quarantined_total", "Lines that were not records, moved to quarantine."),
		archived:    counter("records_archived_total", "Dropped records written to an archive first."),
		unreclaimed: gauge("records_unreclaimed", "Records retention drops but the last run could not remove (Redis: after a kept entry)."),
		pastGroups: counter("group_entries_trimmed_total", "Redis entries trimmed that a consumer group had not been delivered or had not acknowledged "+
			"(past consumer_group_max_age, or with consumer_groups ignore or delivered); each entry once."),
		rewritten: counter("files_rewritten_total", "Files rewritten by compaction."),
		deleted:   counter("files_deleted_total", "Files deleted whole by compaction."),
		reclaimed: counter("bytes_reclaimed_total", "Bytes by which compaction made stores smaller."),
		errors:    counter("errors_total", "Failed runs by cause ("+strings.Join(causes, ", ")+").", "reason"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "papyrad", Name: "run_duration_seconds",
			Help: "Duration of compaction runs.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, store),
		lastSuccess:   gauge("last_success_timestamp_seconds", "When the store was last compacted successfully (unix time)."),
		nextRun:       gauge("next_run_timestamp_seconds", "When the store's next scheduled run is due (unix time)."),
		storeBytes:    gauge("store_bytes", "Size of the store as of its last run."),
		storeRecords:  gauge("store_records", "Records in the store as of its last run."),
		oldestAge:     gauge("oldest_record_age_seconds", oldestAgeHelp),
		maxAge:        gauge("retention_max_age_seconds", "The store's configured max_age (absent: no age limit)."),
		maxRecords:    gauge("retention_max_records", "The store's configured max_records (absent: no count limit)."),
		maxTotalBytes: gauge("retention_max_total_bytes", "The store's configured max_total_bytes (absent: no size limit)."),
		pendingFiles: gauge("pending_files", "Replaced files of the store still forwarded from after its last run: a writer holds them, "+
			"or no file lease could prove that none does."),
		archiveBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "papyrad", Name: "archive_uploaded_bytes_total",
			Help: "Bytes sent to the store's object-store archive (staged archives, rebuilt archives, manifests)."}, store),
		archiveObjects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "papyrad", Name: "archive_objects_published_total",
			Help: "Archive objects published to the store's object-store archive, each checked after the upload."}, store),
		archiveErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "papyrad", Name: "archive_upload_errors_total",
			Help: "Failed requests (uploads, checks, clean-ups) to the store's object-store archive, by reason (" + strings.Join(ArchiveReasons, ", ") + ")."}, append(slices.Clone(store), "reason")),
		archiveLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "papyrad", Name: "archive_last_success_timestamp_seconds",
			Help: "When an archive object of the store was last published to its object store (unix time)."}, store),
		reloadOK:        prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "papyrad", Name: "config_last_reload_successful", Help: "Whether the last configuration (re)load succeeded."}),
		reloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "papyrad", Name: "config_last_reload_success_timestamp_seconds", Help: "When the configuration was last loaded successfully (unix time)."}),
	}
	reg.MustRegister(m.runs, m.deferrals, m.scanned, m.dropped, m.quarantined, m.archived, m.unreclaimed, m.pastGroups,
		m.rewritten, m.deleted, m.reclaimed, m.errors, m.duration, m.lastSuccess, m.nextRun,
		m.storeBytes, m.storeRecords, m.oldestAge, m.maxAge, m.maxRecords, m.maxTotalBytes, m.pendingFiles, m.reloadOK, m.reloadTimestamp, buildinfo.NewCollector(),
		m.archiveBytes, m.archiveObjects, m.archiveErrors, m.archiveLast)
	return m
}

// Store makes a store's series exist (at zero) before its first run, so that alerts and
// dashboards see it from the start.
func (m *Metrics) Store(name, backend string) {
	for _, r := range []string{report.ResultOK, report.ResultPending, report.ResultError, report.ResultSkipped} {
		m.runs.WithLabelValues(name, backend, r)
	}
	for _, c := range causes {
		m.errors.WithLabelValues(name, backend, c)
	}
	for _, c := range []*prometheus.CounterVec{m.scanned, m.dropped, m.quarantined, m.archived, m.pastGroups, m.rewritten, m.deleted, m.reclaimed} {
		c.WithLabelValues(name, backend)
	}
	m.pendingFiles.WithLabelValues(name, backend)
}

// Pending publishes how many replaced files of a store are still forwarded from, as the
// daemon's forwarder finds them between runs.
func (m *Metrics) Pending(name, backend string, files int) {
	m.pendingFiles.WithLabelValues(name, backend).Set(float64(files))
}

// ArchiveReasons are the reasons papyrad_archive_upload_errors_total counts (s3.Reason's
// values).
var ArchiveReasons = []string{"auth", "no_bucket", "checksum", "network", "canceled", "server", "other"}

// RemoteArchive makes a store's object-store archive series exist (at zero).
func (m *Metrics) RemoteArchive(store, backend string) {
	m.archiveBytes.WithLabelValues(store, backend)
	m.archiveObjects.WithLabelValues(store, backend)
	for _, r := range ArchiveReasons {
		m.archiveErrors.WithLabelValues(store, backend, r)
	}
}

// ArchiveUploaded counts bytes sent to store's object-store archive.
func (m *Metrics) ArchiveUploaded(store, backend string, n int64) {
	m.archiveBytes.WithLabelValues(store, backend).Add(float64(n))
}

// ArchivePublished counts an archive object of store published at at.
func (m *Metrics) ArchivePublished(store, backend string, at time.Time) {
	m.archiveObjects.WithLabelValues(store, backend).Inc()
	m.archiveLast.WithLabelValues(store, backend).Set(float64(at.Unix()))
}

// ArchiveFailed counts a failed request to store's object-store archive.
func (m *Metrics) ArchiveFailed(store, backend, reason string) {
	m.archiveErrors.WithLabelValues(store, backend, reason).Inc()
}

// Limits publishes a store's retention limits (zero: no such limit), so that alerts can compare
// a store's size with what its retention allows.
func (m *Metrics) Limits(name, backend string, maxAge time.Duration, maxRecords, maxTotalBytes int64) {
	for _, g := range []struct {
		vec *prometheus.GaugeVec
		v   float64
	}{{m.maxAge, maxAge.Seconds()}, {m.maxRecords, float64(maxRecords)}, {m.maxTotalBytes, float64(maxTotalBytes)}} {
		if g.v > 0 {
			g.vec.WithLabelValues(name, backend).Set(g.v)
		} else {
			g.vec.DeleteLabelValues(name, backend)
		}
	}
}

// Run records a run's report.
func (m *Metrics) Run(backend string, r report.Report, err error, now time.Time) {
	l := []string{r.Store, backend}
	m.runs.WithLabelValues(append(l, r.Result)...).Inc()
	if r.Result == report.ResultSkipped {
		return
	}
	m.duration.WithLabelValues(l...).Observe(r.Duration)
	if r.DryRun {
		return
	}
	m.scanned.WithLabelValues(l...).Add(float64(r.RecordsBefore))
	m.dropped.WithLabelValues(l...).Add(float64(r.RecordsDropped))
	m.quarantined.WithLabelValues(l...).Add(float64(r.RecordsQuarantined))
	m.archived.WithLabelValues(l...).Add(float64(r.RecordsArchived))
	m.unreclaimed.WithLabelValues(l...).Set(float64(r.RecordsUnreclaimed))
	m.pendingFiles.WithLabelValues(l...).Set(float64(r.PendingFiles))
	m.pastGroups.WithLabelValues(l...).Add(float64(r.RecordsTrimmedPastGroups))
	m.rewritten.WithLabelValues(l...).Add(float64(r.FilesRewritten))
	m.deleted.WithLabelValues(l...).Add(float64(r.FilesDeleted))
	m.reclaimed.WithLabelValues(l...).Add(float64(r.BytesReclaimed()))
	if err != nil || r.Result == report.ResultError {
		m.errors.WithLabelValues(append(l, Cause(err))...).Inc()
		return
	}
	m.lastSuccess.WithLabelValues(l...).Set(float64(now.Unix()))
	m.storeBytes.WithLabelValues(l...).Set(float64(r.BytesAfter))
	m.storeRecords.WithLabelValues(l...).Set(float64(r.RecordsAfter))
	if ts := r.OldestRecordTimestamp; ts != nil {
		m.oldestAge.WithLabelValues(l...).Set(float64(now.UnixNano())/1e9 - *ts)
	} else {
		m.oldestAge.DeleteLabelValues(l...)
	}
}

// Deferred counts a request held back for reason.
func (m *Metrics) Deferred(store, backend, reason string) {
	m.deferrals.WithLabelValues(store, backend, reason).Inc()
}

// NextRun records when a store's next run is due.
func (m *Metrics) NextRun(store, backend string, t time.Time) {
	if t.IsZero() {
		return
	}
	m.nextRun.WithLabelValues(store, backend).Set(float64(t.Unix()))
}

// Reload records a configuration load.
func (m *Metrics) Reload(ok bool, now time.Time) {
	if ok {
		m.reloadOK.Set(1)
		m.reloadTimestamp.Set(float64(now.Unix()))
		return
	}
	m.reloadOK.Set(0)
}

// causes are the values Cause returns: the reasons papyrad_errors_total counts, each of which
// exists (at zero) from a store's start.
var causes = []string{"enospc", "permission", "lock", "disk", "missing", "redis", "io", "other"}

// Cause classifies a run's error for papyrad_errors_total: disk full is counted on its own.
func Cause(err error) string {
	switch {
	case err == nil:
		return "other"
	case errs.IsNoSpace(err):
		return "enospc"
	case errors.Is(err, fs.ErrPermission):
		return "permission"
	case errors.Is(err, errs.ErrLocked):
		return "lock"
	case errors.Is(err, errs.ErrDiskRefused):
		return "disk"
	case errors.Is(err, errs.ErrMissing):
		return "missing"
	case errors.Is(err, errs.ErrRedis):
		return "redis"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "io"
	}
	return "other"
}
