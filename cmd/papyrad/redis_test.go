package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// TestRedisCompact runs the one-shot ad-hoc form against a real redis-server: a dry run, the
// run, a second run with nothing to do, and a run refused because another papyrad holds the
// store's lock.
func TestRedisCompact(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{TCP: true})
	url := srv.URL(0)
	c := redisClient(t, url)
	want := redisFixture(t, c)
	state := t.TempDir()
	args := []string{"--backend", "redis", "--redis-url", url, "--max-age", "1d", "--max-records", "12", "--state-dir", state}

	rep, r := compactJSON(t, append(args, "--dry-run")...)
	if r.code != 0 || rep.Result != report.ResultOK || !rep.DryRun || rep.RecordsDropped != 84 {
		t.Fatalf("dry run: %+v\n%s", rep, r)
	}
	for k := range want {
		if n := len(streamIDs(t, c, k)); n != 40 {
			t.Errorf("the dry run changed %s: %d entries", k, n)
		}
	}

	rep, r = compactJSON(t, args...)
	if r.code != 0 || rep.Result != report.ResultOK {
		t.Fatalf("compact: exit %d\n%s", r.code, r)
	}
	if rep.Store != "papyra:local" || rep.Backend != "redis" || rep.RecordsBefore != 120 || rep.RecordsDropped != 84 ||
		rep.RecordsAfter != 36 || rep.RecordsUnreclaimed != 0 || rep.BytesBefore <= rep.BytesAfter || rep.DryRun {
		t.Errorf("report: %+v", rep)
	}
	for k, w := range want {
		if got := streamIDs(t, c, k); !slices.Equal(got, w) {
			t.Errorf("%s: %v, want %v", k, got, w)
		}
	}

	rep, r = compactJSON(t, args...)
	if r.code != 0 || rep.RecordsDropped != 0 || rep.RecordsBefore != 36 {
		t.Errorf("second run: %+v\n%s", rep, r)
	}

	// Another papyrad's lock: refused for now, exit 75.
	if err := c.Set(context.Background(), "papyra:local:papyrad:lock", "otherhost:4242:abcdef", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	rep, r = compactJSON(t, args...)
	if r.code != 75 || rep.Result != report.ResultSkipped || rep.Reason != "locked" || !strings.Contains(rep.Error, "otherhost:4242") {
		t.Errorf("locked store: exit %d, %+v\n%s", r.code, rep, r)
	}
	// The human-readable form says the same.
	r = papyrad(t, append([]string{"compact"}, args...)...)
	if r.code != 75 {
		t.Errorf("locked store, text output: exit %d\n%s", r.code, r)
	}
}

// TestRedisConfigStore compacts and scans a redis store described in a config file, with its
// password in a file and consumer groups respected.
func TestRedisConfigStore(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{TCP: true, Args: []string{"--requirepass", "pw-in-a-file"}})
	dir := t.TempDir()
	pw := filepath.Join(dir, "redis.pw")
	writeFile(t, pw, []byte("pw-in-a-file\n"))
	if err := os.Chmod(pw, 0o600); err != nil {
		t.Fatal(err)
	}
	c := redisClient(t, fmt.Sprintf("redis://:pw-in-a-file@%s/2", srv.TCPAddr()))
	ctx := context.Background()
	old := `{"kind": "event", "timestamp": 978307200.0}`
	var xs []string
	for i := range 30 {
		data := old
		if i == 3 {
			data = `{"kind": "event", "timest` // a torn write: quarantined with the prefix
		}
		x, err := c.XAdd(ctx, &goredis.XAddArgs{Stream: "shop:eu:events", Values: []any{"data", data}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	// A shipper has read (and acknowledged) the first 10 entries only.
	c.XGroupCreate(ctx, "shop:eu:events", "shipper", "0")
	c.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "shipper", Consumer: "a", Streams: []string{"shop:eu:events", ">"}, Count: 10})
	c.XAck(ctx, "shop:eu:events", "shipper", xs[:10]...)
	c.XAdd(ctx, &goredis.XAddArgs{Stream: "shop:eu:audits", Values: []any{"data", "[1, 2]"}})

	cfg := filepath.Join(dir, "papyrad.yaml")
	writeFile(t, cfg, fmt.Appendf(nil, `daemon:
  state_dir: %s
stores:
  - name: cluster
    backend: redis
    redis: {url: "redis://%s/2", prefix: shop, system_id: eu, password_file: %s}
    retention: {max_age: 1d}
    consumer_groups: acked
    trim_step: 100
`, filepath.Join(dir, "state"), srv.TCPAddr(), pw))

	r := papyrad(t, "scan", "--config", cfg, "--json")
	var sc report.Scan
	if err := json.Unmarshal([]byte(r.stdout), &sc); err != nil || r.code != 2 {
		t.Fatalf("scan: exit %d, %v\n%s", r.code, err, r)
	}
	if an := sc.Stores[0].Anomalies; len(an) != 2 || an[0].Type != report.CorruptedLine || an[0].Path != "shop:eu:events" ||
		!strings.Contains(an[0].Detail, xs[3]) || an[1].Path != "shop:eu:audits" {
		t.Errorf("scan anomalies: %+v", an)
	}

	rep, r := compactJSON(t, "--config", cfg)
	if r.code != 0 {
		t.Fatalf("compact: exit %d\n%s", r.code, r)
	}
	if got := streamIDs(t, c, "shop:eu:events"); !slices.Equal(got, xs[10:]) {
		t.Errorf("events left: %d, want the 20 the group has not acknowledged", len(got))
	}
	if got := streamIDs(t, c, "shop:eu:audits"); len(got) != 0 {
		t.Errorf("audits left: %v", got)
	}
	if rep.RecordsDropped != 9 || rep.RecordsQuarantined != 2 || rep.RecordsUnreclaimed != 20 || rep.QuarantineFile == "" {
		t.Errorf("report: %+v", rep)
	}
	if q := string(readFile(t, rep.QuarantineFile)); !strings.Contains(q, "shop:eu:events entry "+xs[3]) || !strings.Contains(q, `"text":"[1, 2]"`) {
		t.Errorf("quarantine file:\n%s", q)
	}
	if strings.Contains(r.stdout+r.stderr, "pw-in-a-file") {
		t.Error("the password shows in papyrad's output")
	}
}

// TestRedisUnreachable: a server that does not answer fails the run (exit 1) with an error that
// names it, its password hidden.
func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	url := "redis://app:very-secret@127.0.0.1:1/0"
	rep, r := compactJSON(t, "--backend", "redis", "--redis-url", url, "--max-age", "7d", "--state-dir", t.TempDir())
	if r.code != 1 || rep.Result != report.ResultError {
		t.Fatalf("exit %d, result %q\n%s", r.code, rep.Result, r)
	}
	if strings.Contains(r.stdout+r.stderr, "very-secret") {
		t.Errorf("the password shows:\n%s", r)
	}
	if !strings.Contains(rep.Error, "redis://app:xxxxx@127.0.0.1:1/0") {
		t.Errorf("the error does not name the server: %s", rep.Error)
	}
	r = papyrad(t, "compact", "--backend", "redis", "--redis-url", url, "--max-age", "7d", "--state-dir", t.TempDir())
	if r.code != 1 || strings.Contains(r.stdout+r.stderr, "very-secret") {
		t.Errorf("text output: exit %d\n%s", r.code, r)
	}
}
