package metrics

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/papyrad/papyrad/internal/buildinfo"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
)

func TestARunThatDrops100Counts100(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Store("orders", "json")
	now := time.Unix(1_800_000_000, 0)
	m.Run("json", report.Report{Store: "orders", Result: report.ResultOK, RecordsBefore: 250, RecordsAfter: 150,
		RecordsDropped: 100, RecordsQuarantined: 3, FilesRewritten: 1, BytesBefore: 10_000, BytesAfter: 6_000, Duration: 0.5}, nil, now)
	m.Run("json", report.Report{Store: "orders", Result: report.ResultSkipped, Reason: "locked"}, errs.ErrLocked, now)
	m.Deferred("orders", "json", "window")
	want := `
# HELP papyrad_records_dropped_total Records removed because retention no longer keeps them.
# TYPE papyrad_records_dropped_total counter
papyrad_records_dropped_total{backend="json",store="orders"} 100
# HELP papyrad_runs_total Compaction runs by result (ok, pending, error, skipped).
# TYPE papyrad_runs_total counter
papyrad_runs_total{backend="json",result="error",store="orders"} 0
papyrad_runs_total{backend="json",result="ok",store="orders"} 1
papyrad_runs_total{backend="json",result="pending",store="orders"} 0
papyrad_runs_total{backend="json",result="skipped",store="orders"} 1
# HELP papyrad_bytes_reclaimed_total Bytes by which compaction made stores smaller.
# TYPE papyrad_bytes_reclaimed_total counter
papyrad_bytes_reclaimed_total{backend="json",store="orders"} 4000
# HELP papyrad_deferrals_total Requests held back, by reason (window, traffic, disk, lock, replaced, max_concurrent).
# TYPE papyrad_deferrals_total counter
papyrad_deferrals_total{backend="json",reason="window",store="orders"} 1
# HELP papyrad_last_success_timestamp_seconds When the store was last compacted successfully (unix time).
# TYPE papyrad_last_success_timestamp_seconds gauge
papyrad_last_success_timestamp_seconds{backend="json",store="orders"} 1.8e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "papyrad_records_dropped_total", "papyrad_runs_total",
		"papyrad_bytes_reclaimed_total", "papyrad_deferrals_total", "papyrad_last_success_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndLint(reg); err != nil || len(n) > 0 {
		t.Errorf("lint: %v %v", n, err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("compact x: %w", syscall.ENOSPC), "enospc"},
		{fmt.Errorf("x: %w", syscall.EACCES), "permission"},
		{fmt.Errorf("x: %w", errs.ErrLocked), "lock"},
		{fmt.Errorf("x: %w", errs.ErrDiskRefused), "disk"},
		{fmt.Errorf("store a: /x %w", errs.ErrMissing), "missing"},
		{errs.Mark(errors.New("dial tcp 127.0.0.1:6379: connection refused"), errs.ErrRedis), "redis"},
		{errors.New("a message that names redis"), "other"},
		{errors.New("something else"), "other"},
		{fmt.Errorf("read x: %w", &fs.PathError{Op: "read", Path: "x", Err: syscall.EIO}), "io"},
		{nil, "other"},
	}
	for _, tc := range tests {
		if got := Cause(tc.err); got != tc.want {
			t.Errorf("Cause(%v) = %s, want %s", tc.err, got, tc.want)
		}
		if !slices.Contains(causes, tc.want) {
			t.Errorf("%s is not among the causes whose series exist from the start (%v)", tc.want, causes)
		}
	}
}

// TestErrorsExistFromTheStart: like runs_total, papyrad_errors_total has a series at zero for
// every cause as soon as a store is known, so that increase() and rate() see a store's first
// failure instead of a series that appears already at 1; a failure then counts under its cause.
func TestErrorsExistFromTheStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Store("orders", "json")
	var want strings.Builder
	want.WriteString("# HELP papyrad_errors_total Failed runs by cause (enospc, permission, lock, disk, missing, redis, io, other).\n# TYPE papyrad_errors_total counter\n")
	for _, c := range []string{"disk", "enospc", "io", "lock", "missing", "other", "permission", "redis"} {
		fmt.Fprintf(&want, "papyrad_errors_total{backend=\"json\",reason=%q,store=\"orders\"} 0\n", c)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "papyrad_errors_total"); err != nil {
		t.Errorf("before any run: %v", err)
	}
	m.Run("json", report.Report{Store: "orders", Result: report.ResultError}, fmt.Errorf("x: %w", syscall.ENOSPC), time.Now())
	if got := testutil.ToFloat64(m.errors.WithLabelValues("orders", "json", "enospc")); got != 1 {
		t.Errorf("after a full disk: enospc = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("orders", "json", "io")); got != 0 {
		t.Errorf("after a full disk: io = %v, want 0", got)
	}
}

// TestOldestRecordAge: the gauge holds the age the store's oldest record had at the end of the
// last successful run; a failed run leaves it as it was, and a run after which no record has a
// timestamp (or a backend that does not report one) removes the series instead of showing an
// age that means nothing.
func TestOldestRecordAge(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Store("orders", "json")
	end := time.Unix(1_800_000_000, 500_000_000)
	oldest := 1_800_000_000.5 - 86400 - 0.25
	age := func() []float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, f := range families {
			if f.GetName() == "papyrad_oldest_record_age_seconds" {
				for _, s := range f.GetMetric() {
					out = append(out, s.GetGauge().GetValue())
				}
			}
		}
		return out
	}
	if got := age(); len(got) != 0 {
		t.Errorf("before any run: %v, want no series", got)
	}
	m.Run("json", report.Report{Store: "orders", Result: report.ResultOK, RecordsAfter: 5, OldestRecordTimestamp: &oldest}, nil, end)
	if got := age(); len(got) != 1 || got[0] != 86400.25 {
		t.Errorf("after a run: %v, want [86400.25]", got)
	}
	m.Run("json", report.Report{Store: "orders", Result: report.ResultError}, errors.New("x"), end.Add(time.Hour))
	if got := age(); len(got) != 1 || got[0] != 86400.25 {
		t.Errorf("after a failed run: %v, want the last success's [86400.25]", got)
	}
	m.Run("json", report.Report{Store: "orders", Result: report.ResultOK}, nil, end.Add(2*time.Hour))
	if got := age(); len(got) != 0 {
		t.Errorf("after a run that left no timestamped record: %v, want no series", got)
	}
	m.Run("redis", report.Report{Store: "cluster", Result: report.ResultOK, RecordsAfter: 9}, nil, end)
	if got := age(); len(got) != 0 {
		t.Errorf("after a redis run: %v, want no series", got)
	}
	if n, err := testutil.GatherAndLint(reg); err != nil || len(n) > 0 {
		t.Errorf("lint: %v %v", n, err)
	}
}

// TestPendingFiles: the gauge exists at zero from the start and follows each run's count of
// replaced files it could not let go.
func TestPendingFiles(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.Store("orders", "json")
	g := m.pendingFiles.WithLabelValues("orders", "json")
	if got := testutil.ToFloat64(g); got != 0 {
		t.Errorf("before any run: %v", got)
	}
	m.Run("json", report.Report{Store: "orders", Result: report.ResultOK, PendingFiles: 2}, nil, time.Now())
	if got := testutil.ToFloat64(g); got != 2 {
		t.Errorf("after a run with 2 pending: %v", got)
	}
	m.Run("json", report.Report{Store: "orders", Result: report.ResultOK}, nil, time.Now())
	if got := testutil.ToFloat64(g); got != 0 {
		t.Errorf("after a run that let them go: %v", got)
	}
}

// TestGroupEntriesTrimmed: papyrad_group_entries_trimmed_total exists at zero from a store's
// start and adds up what runs trimmed past a consumer group, a run that failed part-way
// included, a dry run excluded.
func TestGroupEntriesTrimmed(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Store("cluster", "redis")
	want := func(n int) string {
		return fmt.Sprintf(`# HELP papyrad_group_entries_trimmed_total Redis entries trimmed that a consumer group had not been delivered or had not acknowledged (past consumer_group_max_age, or with consumer_groups ignore or delivered); each entry once.
# TYPE papyrad_group_entries_trimmed_total counter
papyrad_group_entries_trimmed_total{backend="redis",store="cluster"} %d
`, n)
	}
	check := func(what string, n int) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want(n)), "papyrad_group_entries_trimmed_total"); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	check("before any run", 0)
	m.Run("redis", report.Report{Store: "cluster", Result: report.ResultOK, RecordsDropped: 220, RecordsTrimmedPastGroups: 180}, nil, time.Now())
	check("after a run", 180)
	m.Run("redis", report.Report{Store: "cluster", Result: report.ResultOK, DryRun: true, RecordsTrimmedPastGroups: 50}, nil, time.Now())
	check("after a dry run", 180)
	m.Run("redis", report.Report{Store: "cluster", Result: report.ResultError, RecordsTrimmedPastGroups: 7}, errs.Mark(errors.New("connection reset"), errs.ErrRedis), time.Now())
	check("after a run that failed part-way", 187)
	m.Run("redis", report.Report{Store: "cluster", Result: report.ResultOK}, nil, time.Now())
	check("after a run that trimmed nothing past a group", 187)
	if n, err := testutil.GatherAndLint(reg); err != nil || len(n) > 0 {
		t.Errorf("lint: %v %v", n, err)
	}
}

// TestBuildInfo: papyrad_build_info is 1, labelled with what `papyrad version` prints.
func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	i := buildinfo.Get()
	want := map[string]string{"version": i.Version, "revision": i.Revision, "builddate": i.BuildDate, "goversion": i.GoVersion}
	for _, mf := range mfs {
		if mf.GetName() != "papyrad_build_info" {
			continue
		}
		if len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Fatalf("papyrad_build_info: want one series at 1, got %v", mf.GetMetric())
		}
		got := map[string]string{}
		for _, l := range mf.GetMetric()[0].GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("papyrad_build_info{%s=%q}, want %q", k, got[k], v)
			}
		}
		return
	}
	t.Error("no papyrad_build_info")
}

// TestRemoteArchive: an object-store archive's series exist from the start, and count bytes,
// objects, errors by reason and the last publication.
func TestRemoteArchive(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.RemoteArchive("orders", "json")
	m.ArchiveUploaded("orders", "json", 1000)
	m.ArchiveUploaded("orders", "json", 24)
	m.ArchivePublished("orders", "json", time.Unix(1_800_000_000, 0))
	m.ArchiveFailed("orders", "json", "auth")
	want := `
# HELP papyrad_archive_uploaded_bytes_total Bytes sent to the store's object-store archive (staged archives, rebuilt archives, manifests).
# TYPE papyrad_archive_uploaded_bytes_total counter
papyrad_archive_uploaded_bytes_total{backend="json",store="orders"} 1024
# HELP papyrad_archive_objects_published_total Archive objects published to the store's object-store archive, each checked after the upload.
# TYPE papyrad_archive_objects_published_total counter
papyrad_archive_objects_published_total{backend="json",store="orders"} 1
# HELP papyrad_archive_last_success_timestamp_seconds When an archive object of the store was last published to its object store (unix time).
# TYPE papyrad_archive_last_success_timestamp_seconds gauge
papyrad_archive_last_success_timestamp_seconds{backend="json",store="orders"} 1.8e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "papyrad_archive_uploaded_bytes_total",
		"papyrad_archive_objects_published_total", "papyrad_archive_last_success_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	for _, r := range ArchiveReasons {
		want := 0.0
		if r == "auth" {
			want = 1
		}
		if got := testutil.ToFloat64(m.archiveErrors.WithLabelValues("orders", "json", r)); got != want {
			t.Errorf("errors{reason=%s} = %v, want %v", r, got, want)
		}
	}
	if n, err := testutil.GatherAndLint(reg); err != nil || len(n) > 0 {
		t.Errorf("lint: %v %v", n, err)
	}
}
