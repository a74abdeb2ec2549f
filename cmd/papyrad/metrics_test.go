package main

// End-to-end tests of what papyrad tells an operator about its runs: the Prometheus series a
// running daemon serves on its metrics listener after real runs, `papyrad metrics` and
// `papyrad status` over the control socket, the one summary log line per run, and the
// oldest_record_timestamp a compaction report carries.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
)

// stamp is the timestamp a record written by records() carries for ts: Papyra's writer and
// the test's both print six decimals.
func stamp(ts float64) float64 {
	f, err := strconv.ParseFloat(strconv.FormatFloat(ts, 'f', 6, 64), 64)
	if err != nil {
		panic(err)
	}
	return f
}

// reportKeys returns the keys of the one store report that `compact --json` printed.
func reportKeys(t *testing.T, r result) map[string]json.RawMessage {
	t.Helper()
	var raw struct {
		Stores []map[string]json.RawMessage `json:"stores"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil || len(raw.Stores) != 1 {
		t.Fatalf("compact --json: %v\n%s", err, r)
	}
	return raw.Stores[0]
}

// TestReportOldestRecord: a compaction report says how old the oldest record left in the store
// is, by the records' own timestamps wherever they sit (not the first line kept), and leaves
// the field out when the store keeps no record.
func TestReportOldestRecord(t *testing.T) {
	t.Parallel()
	now := float64(time.Now().Unix())
	at := func(base float64) func(int64) float64 { return func(s int64) float64 { return base - float64(s) } }

	t.Run("json, one pass", func(t *testing.T) {
		t.Parallel()
		store := filepath.Join(t.TempDir(), "events.ndjson")
		// Newest first: the oldest record kept is the last line of the store.
		writeFile(t, store, append(records("old", 0, 20, oldStamp), records("kept", 0, 30, at(now-600))...))
		rep, r := compactJSON(t, jsonStore(store, t.TempDir(), "--max-age", "1d")...)
		if r.code != 0 || rep.RecordsDropped != 20 || rep.OldestRecordTimestamp == nil {
			t.Fatalf("want exit 0, 20 dropped and an oldest record\n%s", r)
		}
		if got, want := *rep.OldestRecordTimestamp, stamp(now-600-29); got != want {
			t.Errorf("oldest_record_timestamp %v, want %v (the last kept line's)", got, want)
		}
	})

	t.Run("json, count limit", func(t *testing.T) {
		t.Parallel()
		store := filepath.Join(t.TempDir(), "events.ndjson")
		var b []byte
		for i, ts := range []float64{now - 500, now - 300, now - 900, now - 200, now - 100} {
			b = append(b, records("w", int64(i), 1, func(int64) float64 { return ts })...)
		}
		writeFile(t, store, b)
		// The count limit drops the first line; of the four kept, the second is the oldest.
		rep, r := compactJSON(t, jsonStore(store, t.TempDir(), "--max-records", "4")...)
		if r.code != 0 || rep.RecordsDropped != 1 || rep.OldestRecordTimestamp == nil {
			t.Fatalf("want exit 0, 1 dropped and an oldest record\n%s", r)
		}
		if got, want := *rep.OldestRecordTimestamp, stamp(now-900); got != want {
			t.Errorf("oldest_record_timestamp %v, want %v", got, want)
		}
	})

	t.Run("json, nothing kept", func(t *testing.T) {
		t.Parallel()
		store := filepath.Join(t.TempDir(), "events.ndjson")
		writeFile(t, store, records("old", 0, 10, oldStamp))
		rep, r := compactJSON(t, jsonStore(store, t.TempDir(), "--max-age", "1d")...)
		if r.code != 0 || rep.RecordsAfter != 0 {
			t.Fatalf("want exit 0 and no record left\n%s", r)
		}
		if v, ok := reportKeys(t, r)["oldest_record_timestamp"]; ok {
			t.Errorf("an empty store reports oldest_record_timestamp %s", v)
		}
	})

	// A rotating set: the oldest record kept sits in a rotated segment, which later runs decide
	// from the summary an earlier run kept instead of reading it.
	t.Run("rotating, read and from summaries", func(t *testing.T) {
		t.Parallel()
		s := newRotSet(t, testutil.SuffixNaming, 4)
		s.put(t, 3, records("old3", 0, 20, oldStamp), 0o644)
		s.put(t, 2, append(records("old2", 0, 10, oldStamp), records("s2", 0, 10, at(now-7200))...), 0o644)
		s.put(t, 1, records("s1", 0, 10, at(now-3600)), 0o644)
		s.put(t, 0, records("s0", 0, 10, at(now-60)), 0o644)
		want := stamp(now - 7200 - 9)
		for run := 1; run <= 3; run++ {
			rep, r := compactJSON(t, s.flags("--max-age", "1d")...)
			if r.code != 0 || rep.RecordsAfter != 30 || rep.OldestRecordTimestamp == nil {
				t.Fatalf("run %d: want exit 0, 30 records left and an oldest record\n%s", run, r)
			}
			if got := *rep.OldestRecordTimestamp; got != want {
				t.Errorf("run %d: oldest_record_timestamp %v, want %v (the oldest record of %s)", run, got, want, s.slot(2))
			}
		}
	})
}

// metricsConfig is the config of TestDaemonMetrics: a json store the test triggers, one that
// ticks every second against a closed window, and a redis store whose server does not answer,
// with a password in its URL.
func metricsConfig(s daemonSetup, a, w, redisURL string) string {
	return fmt.Sprintf(`daemon:
  state_dir: %q
  metrics_listen: "127.0.0.1:0"
  timezone: UTC
  shutdown_timeout: 20s
  log: {level: debug, format: json}
defaults:
  retention: {max_age: 1d}
  min_interval: 0s
  max_deferral: 72h
  disk: {reserve: 1MiB, factor: 1.1}
stores:
  - name: a
    backend: json
    path: %q
    schedule: "@every 1h"
    windows: []
  - name: w
    backend: json
    path: %q
    schedule: "* * * * * *"
    windows: [%q]
  - name: cluster
    backend: redis
    redis: {url: %q}
    schedule: "@every 1h"
    windows: []
`, s.state, a, w, closedWindow(time.Now()), redisURL)
}

// storeTotals is one store of `papyrad metrics --json`.
type storeTotals struct {
	Store                 string           `json:"store"`
	Backend               string           `json:"backend"`
	Runs                  map[string]int64 `json:"runs"`
	Deferrals             map[string]int64 `json:"deferrals"`
	RecordsScanned        int64            `json:"records_scanned"`
	RecordsDropped        int64            `json:"records_dropped"`
	RecordsQuarantined    int64            `json:"records_quarantined"`
	RecordsArchived       int64            `json:"records_archived"`
	FilesRewritten        int64            `json:"files_rewritten"`
	FilesDeleted          int64            `json:"files_deleted"`
	BytesReclaimed        int64            `json:"bytes_reclaimed"`
	Errors                map[string]int64 `json:"errors"`
	LastSuccess           time.Time        `json:"last_success"`
	OldestRecordTimestamp *float64         `json:"oldest_record_timestamp"`
}

// TestDaemonMetrics: after real runs (one that drops 100 records and quarantines 3 lines, one
// held back by its window, one that fails), the daemon's /metrics has exactly the series and
// values a dashboard reads, promtool finds nothing wrong with them, `papyrad metrics` shows
// the same counters, every run has its one summary line, and the redis password shows
// nowhere.
func TestDaemonMetrics(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	a, w := s.store(t, "a"), s.store(t, "w")
	const password = "s3cret-pw"
	redisURL := "redis://app:" + password + "@127.0.0.1:1/0" // nothing listens on port 1
	base := float64(time.Now().Unix()) - 3600
	content := records("old", 0, 100, oldStamp)
	content = append(content, "not json\n[1, 2]\n{\"kind\": \"event\", \"timest\n"...)
	content = append(content, records("orig", 0, 50, func(seq int64) float64 { return base - float64(seq) })...)
	writeFile(t, a, content)
	oldest := stamp(base - 49) // the last line's: the kept records are written newest first
	writeFile(t, w, records("orig", 0, 5, fresh))
	writeFile(t, s.cfg, []byte(metricsConfig(s, a, w, redisURL)))

	// No daemon yet: a clear message and exit 75 (try again later).
	for _, args := range [][]string{{"metrics", "--config", s.cfg}, {"metrics", "--config", s.cfg, "--json"}, {"status", "--config", s.cfg}} {
		if r := ctl(t, args...); r.code != 75 || !strings.Contains(r.stderr, "no papyrad daemon answers on "+s.socket()) || r.stdout != "" {
			t.Errorf("without a daemon: want exit 75, nothing on stdout and a message naming the socket\n%s", r)
		}
	}

	d := startDaemon(t, s)
	listening, _ := d.waitLog(t, 0, 5*time.Second, "the metrics listener", func(e logEntry) bool { return e.msg() == "metrics listening" })
	addr := listening.str("addr")
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	d.waitLog(t, 0, 10*time.Second, "the deferral of w", func(e logEntry) bool {
		return e.msg() == "run deferred" && e.str("store") == "w" && e.str("reason") == "window"
	})

	before := stateOf(t, a).size
	mark := len(d.logs())
	start := time.Now()
	if r := ctl(t, "trigger", "--config", s.cfg, "a"); r.code != 0 {
		t.Fatalf("trigger a\n%s", r)
	}
	done, _ := d.waitLog(t, mark, 15*time.Second, "the run of a", compacted("a"))
	ranBy := time.Now()
	after := stateOf(t, a).size
	if r := ctl(t, "trigger", "--config", s.cfg, "cluster"); r.code != 0 {
		t.Fatalf("trigger cluster\n%s", r)
	}
	failed, _ := d.waitLog(t, mark, 30*time.Second, "the failed run of cluster", func(e logEntry) bool {
		return e.msg() == "compaction failed" && e.str("store") == "cluster"
	})
	time.Sleep(1500 * time.Millisecond) // w's window stays closed: its ticks coalesce into one deferral

	// The summary line of a's run: at info, with every field of a report.
	if done.str("level") != "info" || done.str("result") != "ok" || done.str("backend") != "json" {
		t.Errorf("summary line of a: want level info, result ok, backend json\n%s", done)
	}
	for k, want := range map[string]float64{
		"records_before": 150, "records_after": 50, "records_dropped": 100, "records_quarantined": 3,
		"records_archived": 0, "records_unreclaimed": 0, "dropped_by_age": 100, "bytes_before": float64(before),
		"bytes_after": float64(after), "files_rewritten": 1, "files_deleted": 0, "oldest_record_timestamp": oldest,
	} {
		if got := done.num(k); got != want {
			t.Errorf("summary line of a: %s = %v, want %v\n%s", k, got, want, done)
		}
	}
	// Every field a report always has, and the optional ones this run set.
	rt := reflect.TypeFor[report.Report]()
	for i := range rt.NumField() {
		k, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		set := k == "run_id" || k == "oldest_record_timestamp" || k == "quarantine_file"
		if _, ok := done[k]; !ok && (opts != "omitempty" || set) {
			t.Errorf("summary line of a has no %q, a field of the run's report\n%s", k, done)
		}
	}
	if q := done.str("quarantine_file"); q == "" || len(readQuarantine(t, q)) != 3 {
		t.Errorf("summary line of a: quarantine_file %q should hold the 3 lines that were not records", q)
	}
	// The failed run: at error, naming the store and the cause, the password hidden.
	if failed.str("level") != "error" || failed.str("backend") != "redis" || failed.str("cause") != "redis" ||
		!strings.Contains(failed.str("error"), "redis://app:xxxxx@127.0.0.1:1/0") {
		t.Errorf("failed run: want level error, cause redis and an error naming the server, its password hidden\n%s", failed)
	}

	m := scrapeMetrics(t, addr)
	reclaimed := float64(before - after)
	if reclaimed <= 0 {
		t.Fatalf("the store did not shrink: %d bytes before, %d after", before, after)
	}
	for series, want := range map[string]float64{
		`papyrad_runs_total{backend="json",result="ok",store="a"}`:             1,
		`papyrad_runs_total{backend="json",result="error",store="a"}`:          0,
		`papyrad_runs_total{backend="json",result="skipped",store="a"}`:        0,
		`papyrad_records_scanned_total{backend="json",store="a"}`:              150,
		`papyrad_records_dropped_total{backend="json",store="a"}`:              100,
		`papyrad_records_quarantined_total{backend="json",store="a"}`:          3,
		`papyrad_records_archived_total{backend="json",store="a"}`:             0,
		`papyrad_records_unreclaimed{backend="json",store="a"}`:                0,
		`papyrad_files_rewritten_total{backend="json",store="a"}`:              1,
		`papyrad_files_deleted_total{backend="json",store="a"}`:                0,
		`papyrad_bytes_reclaimed_total{backend="json",store="a"}`:              reclaimed,
		`papyrad_store_bytes{backend="json",store="a"}`:                        float64(after),
		`papyrad_store_records{backend="json",store="a"}`:                      50,
		`papyrad_run_duration_seconds_count{backend="json",store="a"}`:         1,
		`papyrad_retention_max_age_seconds{backend="json",store="a"}`:          86400,
		`papyrad_deferrals_total{backend="json",reason="window",store="w"}`:    1,
		`papyrad_runs_total{backend="json",result="ok",store="w"}`:             0,
		`papyrad_records_dropped_total{backend="json",store="w"}`:              0,
		`papyrad_runs_total{backend="redis",result="error",store="cluster"}`:   1,
		`papyrad_runs_total{backend="redis",result="ok",store="cluster"}`:      0,
		`papyrad_errors_total{backend="redis",reason="redis",store="cluster"}`: 1,
		`papyrad_records_dropped_total{backend="redis",store="cluster"}`:       0,
		`papyrad_config_last_reload_successful`:                                1,
	} {
		if got := m.value(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	checkBuildInfo(t, m)
	// Figures a run never gave are absent, not zero: no success of cluster yet, no record
	// age from a redis store or from w, which has not run.
	for _, series := range []string{
		`papyrad_last_success_timestamp_seconds{backend="redis",store="cluster"}`,
		`papyrad_store_bytes{backend="redis",store="cluster"}`,
		`papyrad_oldest_record_age_seconds{backend="redis",store="cluster"}`,
		`papyrad_last_success_timestamp_seconds{backend="json",store="w"}`,
		`papyrad_oldest_record_age_seconds{backend="json",store="w"}`,
		`papyrad_deferrals_total{backend="json",reason="window",store="a"}`,
	} {
		if v, ok := m.series[series]; ok {
			t.Errorf("%s = %v: want no such series", series, v)
		}
	}
	lastSuccess := m.value(t, `papyrad_last_success_timestamp_seconds{backend="json",store="a"}`)
	if lastSuccess < float64(start.Unix()) || lastSuccess > float64(ranBy.Unix())+1 {
		t.Errorf("last success of a at %v, want between the trigger (%v) and the summary line (%v)", lastSuccess, start.Unix(), ranBy.Unix())
	}
	// As of the end of the run: between the trigger and the summary line.
	age := m.value(t, `papyrad_oldest_record_age_seconds{backend="json",store="a"}`)
	if lo, hi := float64(start.UnixNano())/1e9-oldest, float64(ranBy.UnixNano())/1e9-oldest; age < lo || age > hi {
		t.Errorf("oldest record age of a %v, want between %v and %v (3649 s and the run's length)", age, lo, hi)
	}
	for _, st := range []string{`{backend="json",store="a"}`, `{backend="json",store="w"}`, `{backend="redis",store="cluster"}`} {
		next := m.value(t, `papyrad_next_run_timestamp_seconds`+st)
		if now := float64(time.Now().Unix()); next < now || next > now+3600+1 {
			t.Errorf("next run of %s at %v, want within the next hour (now %v)", st, next, now)
		}
	}
	if ts := m.value(t, `papyrad_config_last_reload_success_timestamp_seconds`); ts < float64(start.Add(-time.Minute).Unix()) || ts > float64(ranBy.Unix()) {
		t.Errorf("config loaded at %v, want when the daemon started", ts)
	}
	if strings.Contains(m.text, password) {
		t.Error("the redis password shows in /metrics")
	}

	// papyrad metrics --json: the same counters, named like report fields.
	r := ctl(t, "metrics", "--config", s.cfg, "--json")
	var out struct {
		Stores []storeTotals `json:"stores"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || len(out.Stores) != 3 {
		t.Fatalf("metrics --json: want exit 0 and 3 stores: %v\n%s", err, r)
	}
	tot := map[string]storeTotals{}
	for _, st := range out.Stores {
		tot[st.Store] = st
	}
	ta := tot["a"]
	if ta.RecordsDropped != 100 || ta.RecordsScanned != 150 || ta.RecordsQuarantined != 3 || ta.FilesRewritten != 1 ||
		ta.BytesReclaimed != int64(reclaimed) || ta.Runs["ok"] != 1 || len(ta.Errors) != 0 || ta.Backend != "json" {
		t.Errorf("metrics --json, store a: %+v", ta)
	}
	if ta.OldestRecordTimestamp == nil || *ta.OldestRecordTimestamp != oldest || float64(ta.LastSuccess.Unix()) != lastSuccess {
		t.Errorf("metrics --json, store a: want oldest_record_timestamp %v and last_success at %v: %+v", oldest, lastSuccess, ta)
	}
	if tw := tot["w"]; tw.Deferrals["window"] != 1 || len(tw.Runs) != 0 {
		t.Errorf("metrics --json, store w: want one window deferral and no run: %+v", tw)
	}
	if tc := tot["cluster"]; tc.Errors["redis"] != 1 || tc.Runs["error"] != 1 || tc.OldestRecordTimestamp != nil || !tc.LastSuccess.IsZero() {
		t.Errorf("metrics --json, store cluster: want one redis error and nothing else: %+v", tc)
	}
	// papyrad metrics: the same as a table, a's oldest record an hour old.
	r = ctl(t, "metrics", "--config", s.cfg)
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Fields(line)
		rows[f[0]] = f
	}
	if h := rows["STORE"]; r.code != 0 || len(h) != 12 || h[2] != "PENDING" || h[6] != "DROPPED" || h[11] != "OLDEST" {
		t.Fatalf("metrics: want exit 0 and a header of 12 columns\n%s", r)
	}
	// Bytes and ages for people ("1.2 KiB", "1h 0m"), each two words; --json has them exact.
	wantA := []string{"a", "1", "0", "0", "0", "150", "100", "3", "1", "0"}
	if got := rows["a"]; len(got) != 14 || !reflect.DeepEqual(got[:10], wantA) || strings.Join(got[10:12], " ") != humanize.IBytes(uint64(reclaimed)) {
		t.Errorf("metrics: row of a %q, want %q, %s reclaimed and the oldest record's age\n%s", got, wantA, humanize.IBytes(uint64(reclaimed)), r)
	} else if age := strings.Join(got[12:], " "); age != "1h 0m" && age != "1h 1m" {
		t.Errorf("metrics: oldest record of a %q, want about 1h 0m", age)
	}
	if got := rows["cluster"]; len(got) != 13 || got[3] != "1" || got[12] != "-" {
		t.Errorf("metrics: row of cluster %q, want one error and no oldest record", got)
	}

	// status: the failure, the password hidden.
	st := d.status(t)
	if c := st["cluster"]; !strings.Contains(c.LastError, "redis://app:xxxxx@127.0.0.1:1/0") || !c.LastSuccess.IsZero() {
		t.Errorf("status of cluster: want the failure naming the server: %+v", c)
	}
	if ra := ctl(t, "status", "--config", s.cfg); strings.Contains(ra.stdout+ra.stderr, password) {
		t.Error("the redis password shows in papyrad status")
	}

	d.signal(t, syscall.SIGTERM)
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0%s", code, d.stopNote())
	}
	if out := d.stderr.String() + d.stdout.String(); strings.Contains(out, password) {
		t.Errorf("the redis password shows in the daemon's log")
	}
	if r := ctl(t, "metrics", "--config", s.cfg); r.code != 75 || !strings.Contains(r.stderr, "no papyrad daemon") {
		t.Errorf("metrics after the daemon stopped: want exit 75 and a clear message\n%s", r)
	}
	// Last: without promtool (outside CI) this skips, and nothing else may be skipped with it.
	checkMetricsText(t, m.text)
}

// checkBuildInfo: papyrad_build_info is 1, labelled with the version, commit, build date and
// Go version that `papyrad version --json` prints.
func checkBuildInfo(t *testing.T, m scrape) {
	t.Helper()
	r := papyrad(t, "version", "--json")
	var v struct {
		Version   string `json:"version"`
		Revision  string `json:"revision"`
		BuildDate string `json:"build_date"`
		GoVersion string `json:"go_version"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); r.code != 0 || err != nil || v.Version == "" {
		t.Fatalf("papyrad version --json: %v\n%s", err, r)
	}
	var found []string
	for series, value := range m.series {
		if strings.HasPrefix(series, "papyrad_build_info{") {
			found = append(found, series)
			for _, l := range []string{`version="` + v.Version + `"`, `revision="` + v.Revision + `"`,
				`builddate="` + v.BuildDate + `"`, `goversion="` + v.GoVersion + `"`} {
				if !strings.Contains(series, l) {
					t.Errorf("%s: no label %s", series, l)
				}
			}
			if value != 1 {
				t.Errorf("%s = %v, want 1", series, value)
			}
		}
	}
	if len(found) != 1 {
		t.Errorf("papyrad_build_info: want one series, got %q", found)
	}
}

// checkMetricsText runs `promtool check metrics` on a scrape: the format and Prometheus'
// naming conventions.
func checkMetricsText(t *testing.T, text string) {
	t.Helper()
	promtool := testutil.Tool(t, "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
