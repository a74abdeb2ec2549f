package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

const (
	evKey = "papyra:local:events"
	auKey = "papyra:local:audits"
	dlKey = "papyra:local:dead_letters"
)

// newStore returns a store on srv with the given policy; mod may change its config.
func newStore(t *testing.T, srv *redisserver.Server, p retention.Policy, mod ...func(*Config)) *Store {
	t.Helper()
	cfg := Config{Name: "cluster", URL: srv.URL(0), Policy: p, Quarantine: filepath.Join(t.TempDir(), "quarantine"),
		MaxRetries: 2, MinRetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond}
	for _, m := range mod {
		m(&cfg)
	}
	s := New(cfg, zaptest.NewLogger(t), time.Now)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func client(t testing.TB, srv *redisserver.Server) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(srv.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	opt.Protocol = 2
	c := goredis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func compact(t *testing.T, s *Store, dry bool) report.Report {
	t.Helper()
	rep, err := s.Compact(context.Background(), backends.Options{DryRun: dry})
	if err != nil {
		t.Fatalf("compact: %v\nreport: %+v", err, rep)
	}
	if rep.Result != report.ResultOK {
		t.Fatalf("compact: result %q: %+v", rep.Result, rep)
	}
	return rep
}

// ids returns every entry ID of key.
func ids(t testing.TB, c *goredis.Client, key string) []string {
	t.Helper()
	msgs, err := c.XRange(context.Background(), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// rec returns a Papyra event record stamped ts.
func rec(n int, ts float64) string {
	return fmt.Sprintf(`{"kind": "event", "system_id": "local", "actor_address": "actor://w/%d", "event_type": "ActorStarted", "payload": {"n": %d}, "timestamp": %s}`,
		n, n, strconv.FormatFloat(ts, 'f', -1, 64))
}

// xadd appends entries with data to key; id "" means "*". It returns the IDs.
func xadd(t testing.TB, c *goredis.Client, key string, ids []string, data []string) []string {
	t.Helper()
	ctx := context.Background()
	out := make([]string, len(data))
	for start := 0; start < len(data); start += 1000 {
		end := min(start+1000, len(data))
		cmds := make([]*goredis.StringCmd, end-start)
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i := start; i < end; i++ {
				x := "*"
				if ids != nil {
					x = ids[i]
				}
				cmds[i-start] = p.XAdd(ctx, &goredis.XAddArgs{Stream: key, ID: x, Values: []any{"data", data[i]}})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cmds {
			out[start+i] = c.Val()
		}
	}
	return out
}

// seqIDs returns n IDs from ms on, one per millisecond.
func seqIDs(ms uint64, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%d-0", ms+uint64(i))
	}
	return out
}

// records returns n records stamped ts(i).
func records(n int, ts func(i int) float64) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = rec(i, ts(i))
	}
	return out
}

var (
	old   = func(int) float64 { return 978307200 } // 2001
	fresh = func(int) float64 { return float64(time.Now().Unix()) }
)

// commandCalls returns INFO commandstats calls per command.
func commandCalls(t testing.TB, c *goredis.Client) map[string]int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out
}

// fixture is testdata/papyra/redis/basic.
type fixture struct {
	Policy struct {
		MaxAgeSeconds int64 `json:"max_age_seconds"`
		MaxRecords    int64 `json:"max_records"`
		MaxTotalBytes int64 `json:"max_total_bytes"`
	} `json:"policy"`
	Streams map[string][]struct {
		ID   string `json:"id"`
		Data string `json:"data"`
	} `json:"streams"`
}

func loadFixture(t *testing.T, c *goredis.Client) (fixture, map[string][]string) {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "testdata", "papyra", "redis", "basic")
	var f fixture
	b, err := os.ReadFile(filepath.Join(dir, "streams.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var want map[string][]string
	b, err = os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(f.Streams))
	for k := range f.Streams {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var xs, ds []string
		for _, e := range f.Streams[k] {
			xs = append(xs, e.ID)
			ds = append(ds, e.Data)
		}
		xadd(t, c, k, xs, ds)
	}
	return f, want
}

func (f fixture) policy() retention.Policy {
	return retention.Policy{
		MaxAge:        time.Duration(f.Policy.MaxAgeSeconds) * time.Second,
		MaxRecords:    f.Policy.MaxRecords,
		MaxTotalBytes: f.Policy.MaxTotalBytes,
	}
}

// entryOf returns an entry whose fields are values', in the order of their names (none for a
// nil map), as go-redis decodes an entry into a map.
func entryOf(values map[string]any) *entry {
	e := &entry{}
	if values == nil {
		return e
	}
	e.fields = [][]byte{}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		s, _ := values[k].(string)
		e.fields = append(e.fields, []byte(k), []byte(s))
	}
	return e
}
