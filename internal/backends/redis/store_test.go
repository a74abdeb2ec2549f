package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/classify"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// TestFixture compacts the streams Papyra wrote with the policy Papyra applied: the IDs left
// are exactly those of expected.json, and a second run removes nothing.
func TestFixture(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	f, want := loadFixture(t, c)
	s := newStore(t, srv, f.policy())

	dry := compact(t, s, true)
	for k, w := range want {
		if got := ids(t, c, k); len(got) != 40 {
			t.Fatalf("dry run changed %s: %d entries", k, len(got))
		} else if len(w) != 12 {
			t.Fatalf("expected.json: %s has %d IDs", k, len(w))
		}
	}
	rep := compact(t, s, false)
	for k, w := range want {
		if got := ids(t, c, k); !slices.Equal(got, w) {
			t.Errorf("%s after compaction:\n got  %v\n want %v", k, got, w)
		}
	}
	if rep.RecordsBefore != 120 || rep.RecordsDropped != 84 || rep.RecordsAfter != 36 || rep.RecordsUnreclaimed != 0 {
		t.Errorf("report: before %d dropped %d after %d unreclaimed %d; want 120 84 36 0",
			rep.RecordsBefore, rep.RecordsDropped, rep.RecordsAfter, rep.RecordsUnreclaimed)
	}
	if rep.DroppedByAge != 75 || rep.DroppedByCount != 9 {
		t.Errorf("dropped by age %d, by count %d; want 75 and 9", rep.DroppedByAge, rep.DroppedByCount)
	}
	if rep.BytesBefore <= rep.BytesAfter || rep.BytesAfter <= 0 {
		t.Errorf("bytes before %d after %d", rep.BytesBefore, rep.BytesAfter)
	}
	if rep.FilesRewritten != 0 || rep.FilesDeleted != 0 {
		t.Errorf("files touched: %+v", rep)
	}
	dry.Duration, rep.Duration = 0, 0
	dry.DryRun, dry.BytesAfter, rep.BytesAfter = false, 0, 0
	if dry.OldestRecordTimestamp == nil || rep.OldestRecordTimestamp == nil || *dry.OldestRecordTimestamp != *rep.OldestRecordTimestamp {
		t.Errorf("oldest record: dry run %v, run %v", dry.OldestRecordTimestamp, rep.OldestRecordTimestamp)
	}
	dry.OldestRecordTimestamp, rep.OldestRecordTimestamp = nil, nil
	if fmt.Sprint(dry) != fmt.Sprint(rep) {
		t.Errorf("the dry run reported otherwise than the run:\n dry %+v\n run %+v", dry, rep)
	}
	if n, _ := c.Exists(context.Background(), s.LockKey()).Result(); n != 0 {
		t.Errorf("lock %s left behind", s.LockKey())
	}

	again := compact(t, s, false)
	if again.RecordsDropped != 0 || again.RecordsBefore != 36 || again.RecordsAfter != 36 {
		t.Errorf("second run: %+v", again)
	}
	for k, w := range want {
		if got := ids(t, c, k); !slices.Equal(got, w) {
			t.Errorf("%s after a second run: %v", k, got)
		}
	}
}

// TestIDsAndTimestampsDisagree: retention judges the record's timestamp, whatever the entry ID
// says, unless age_basis is id.
func TestIDsAndTimestampsDisagree(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	day := retention.Policy{MaxAge: 24 * time.Hour}
	ctx := context.Background()

	// Recent IDs (auto), old timestamps.
	recent := xadd(t, c, evKey, nil, records(50, old))
	// Old IDs (2001), fresh timestamps.
	xadd(t, c, auKey, seqIDs(978307200000, 50), records(50, fresh))

	rep := compact(t, newStore(t, srv, day, func(c *Config) { c.AgeBasis = AgeByID }), true)
	if rep.RecordsDropped != 50 || rep.RecordsUnreclaimed != 0 {
		t.Errorf("age_basis id: dropped %d unreclaimed %d, want the 50 old IDs", rep.RecordsDropped, rep.RecordsUnreclaimed)
	}

	rep = compact(t, newStore(t, srv, day), false)
	if got := ids(t, c, evKey); len(got) != 0 {
		t.Errorf("events with old timestamps and recent IDs: %d left, want none", len(got))
	}
	if got := ids(t, c, auKey); len(got) != 50 {
		t.Errorf("audits with fresh timestamps and old IDs: %d left, want all 50", len(got))
	}
	if rep.RecordsDropped != 50 {
		t.Errorf("dropped %d, want 50", rep.RecordsDropped)
	}
	// Everything went: the stream is empty but still exists, and new entries land above the
	// old ones.
	if n, _ := c.Exists(ctx, evKey).Result(); n != 1 {
		t.Errorf("%s was deleted; an emptied stream keeps its key (and its last ID)", evKey)
	}
	next := xadd(t, c, evKey, nil, records(1, fresh))
	if a, _ := parseID(next[0]); !(mustID(recent[len(recent)-1]).less(a)) {
		t.Errorf("a new entry got %s, not above %s", next[0], recent[len(recent)-1])
	}

	rep = compact(t, newStore(t, srv, day, func(c *Config) { c.AgeBasis = AgeByID }), false)
	if got := ids(t, c, auKey); len(got) != 0 {
		t.Errorf("age_basis id: audits with old IDs: %d left, want none", len(got))
	}
	if got := ids(t, c, evKey); len(got) != 1 {
		t.Errorf("age_basis id: events: %v left, want the new one", got)
	}
	if rep.RecordsDropped != 50 || rep.RecordsBefore != 51 {
		t.Errorf("age_basis id: before %d dropped %d; want 51 and 50", rep.RecordsBefore, rep.RecordsDropped)
	}

	// With a count limit too, the whole stream is read: old IDs go by age, then the newest
	// ten of the rest stay.
	xadd(t, c, dlKey, seqIDs(978307200000, 20), records(20, fresh))
	recentIDs := xadd(t, c, dlKey, nil, records(30, old))
	rep = compact(t, newStore(t, srv, retention.Policy{MaxAge: 24 * time.Hour, MaxRecords: 10}, func(c *Config) { c.AgeBasis = AgeByID }), false)
	if got := ids(t, c, dlKey); !slices.Equal(got, recentIDs[20:]) {
		t.Errorf("age_basis id with max_records: %d left, want the newest 10", len(got))
	}
	if rep.DroppedByAge != 20 || rep.DroppedByCount != 20 {
		t.Errorf("age_basis id with max_records: by age %d, by count %d; want 20 and 20", rep.DroppedByAge, rep.DroppedByCount)
	}
}

func mustID(s string) id {
	x, err := parseID(s)
	if err != nil {
		panic(err)
	}
	return x
}

// TestUnreclaimed: only a prefix can go; dropped records after the first kept one stay and
// are counted.
func TestUnreclaimed(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ts := func(i int) float64 {
		if i < 10 || (i >= 20 && i < 25) {
			return 978307200
		}
		return float64(time.Now().Unix())
	}
	x := xadd(t, c, evKey, nil, records(30, ts))
	rep := compact(t, newStore(t, srv, retention.Policy{MaxAge: time.Hour}), false)
	if got := ids(t, c, evKey); !slices.Equal(got, x[10:]) {
		t.Errorf("left %d entries, want the 20 from the first kept one", len(got))
	}
	if rep.RecordsDropped != 10 || rep.RecordsUnreclaimed != 5 || rep.RecordsAfter != 20 {
		t.Errorf("dropped %d unreclaimed %d after %d; want 10 5 20", rep.RecordsDropped, rep.RecordsUnreclaimed, rep.RecordsAfter)
	}
	if !hasWarning(rep, "5 records that retention drops stay") {
		t.Errorf("no warning about the unreclaimed records: %q", rep.Warnings)
	}
}

func hasWarning(rep report.Report, sub string) bool {
	for _, w := range rep.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// TestTrimSteps: whatever the step and the server's node size, the bounded steps leave exactly
// what one exact XTRIM leaves, and a step smaller than a node (which frees nothing on its own)
// does not stall the run. One of the package's longest tests: in parallel with the others,
// and a server per node size, the two sizes in parallel.
func TestTrimSteps(t *testing.T) {
	t.Parallel()
	for _, node := range []int{100, 7} {
		t.Run(fmt.Sprintf("node=%d", node), func(t *testing.T) {
			t.Parallel()
			trimSteps(t, node)
		})
	}
}

func trimSteps(t *testing.T, node int) {
	srv := redisserver.Start(t, redisserver.Options{Args: []string{"--stream-node-max-entries", fmt.Sprint(node)}})
	c := client(t, srv)
	for _, step := range []int{1, 5, 99, 100, 101, 250, 10000} {
		for _, cutAt := range []int{0, 1, 99, 100, 101, 1234, 1999, 2000} {
			name := fmt.Sprintf("step=%d/cut=%d", step, cutAt)
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				c.FlushAll(ctx)
				ts := func(i int) float64 {
					if i < cutAt {
						return 978307200
					}
					return float64(time.Now().Unix())
				}
				data := records(2000, ts)
				x := xadd(t, c, evKey, nil, data)
				// The same stream under another name, trimmed with one exact XTRIM.
				ref := xadd(t, c, "ref", x, data)
				if cutAt < len(ref) {
					c.XTrimMinID(ctx, "ref", ref[cutAt])
				} else {
					c.XTrimMinID(ctx, "ref", "+")
					c.XTrimMaxLen(ctx, "ref", 0)
				}
				before := commandCalls(t, c)["xtrim"]
				rep := compact(t, newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.TrimStep = step }), false)
				got := ids(t, c, evKey)
				if !slices.Equal(got, ids(t, c, "ref")) || !slices.Equal(got, x[cutAt:]) {
					t.Fatalf("left %d entries (first %v), want %d", len(got), first(got), 2000-cutAt)
				}
				if rep.RecordsDropped != int64(cutAt) {
					t.Errorf("dropped %d, want %d", rep.RecordsDropped, cutAt)
				}
				calls := commandCalls(t, c)["xtrim"] - before
				// Each approximate step frees at least a node's entries when it frees
				// anything (the pacer sizes steps between the node size and step from
				// measured latency, so on a busy machine they may shrink to a node); the
				// final empty step and the exact trim add a few.
				bound := int64(cutAt/max(min(node, step, cutAt), 1)) + 12
				if calls > bound {
					t.Errorf("%d XTRIM commands for %d entries with step %d (bound %d)", calls, cutAt, step, bound)
				}
			})
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return s[0]
}

// TestNonRecords: entries whose data is not a record are quarantined when they are in the
// removed prefix, and stay (counted) after the first kept entry.
func TestNonRecords(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	data := []string{
		rec(0, 978307200),
		`{"kind": "event", "timest`,        // truncated
		`[1, 2]`,                           // not an object
		"",                                 // empty
		"\u00a0" + rec(1, 978307200),       // strip() would accept it, json.loads does not
		" \t" + rec(2, 978307200) + "\r\n", // JSON whitespace: a record
		rec(3, 978307200),
		rec(4, float64(time.Now().Unix())), // first kept
		`not json`,                         // stays
		rec(5, 978307200),                  // unreclaimed
	}
	x := xadd(t, c, evKey, nil, data)
	nodata, err := c.XAdd(ctx, &goredis.XAddArgs{Stream: auKey, Values: []any{"payload", "x"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour})

	an, err := s.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, a := range an {
		if a.Type != report.CorruptedLine {
			t.Errorf("anomaly type %s", a.Type)
		}
		details = append(details, a.Path+" "+a.Detail)
	}
	wantAnomalies := []string{x[1], x[2], x[3], x[4], x[8], nodata}
	if len(an) != len(wantAnomalies) {
		t.Fatalf("scan found %d anomalies, want %d:\n%s", len(an), len(wantAnomalies), strings.Join(details, "\n"))
	}
	for i, w := range wantAnomalies {
		if !strings.Contains(details[i], "entry "+w+":") {
			t.Errorf("anomaly %d: %s, want entry %s", i, details[i], w)
		}
	}

	rep := compact(t, s, false)
	if got := ids(t, c, evKey); !slices.Equal(got, x[7:]) {
		t.Errorf("events left: %v, want from %s", got, x[7])
	}
	if got := ids(t, c, auKey); len(got) != 0 {
		t.Errorf("the entry without data was not removed: %v", got)
	}
	if rep.RecordsQuarantined != 5 || rep.RecordsDropped != 3 || rep.RecordsUnreclaimed != 1 {
		t.Errorf("quarantined %d dropped %d unreclaimed %d; want 5 3 1", rep.RecordsQuarantined, rep.RecordsDropped, rep.RecordsUnreclaimed)
	}
	if !hasWarning(rep, "1 entries that are not records stay") {
		t.Errorf("no warning about the non-record left: %q", rep.Warnings)
	}
	if rep.QuarantineFile == "" {
		t.Fatal("no quarantine file reported")
	}
	b, err := os.ReadFile(rep.QuarantineFile)
	if err != nil {
		t.Fatal(err)
	}
	q := string(b)
	for _, w := range []string{x[1], x[2], x[3], x[4], nodata} {
		if !strings.Contains(q, "entry "+w+":") {
			t.Errorf("quarantine has no line for entry %s:\n%s", w, q)
		}
	}
	if !strings.Contains(q, `"text":"[1, 2]"`) || !strings.Contains(q, `{\"payload\":\"x\"}`) {
		t.Errorf("quarantine does not hold the entries' data:\n%s", q)
	}
	if !strings.HasPrefix(rep.QuarantineFile, s.cfg.Quarantine) {
		t.Errorf("quarantine file %s not under %s", rep.QuarantineFile, s.cfg.Quarantine)
	}
	if entries, _ := os.ReadDir(filepath.Dir(rep.QuarantineFile)); len(entries) != 1 {
		t.Errorf("quarantine directory holds %d files, want 1", len(entries))
	}
}

// TestConsumerGroups: entries a group has not been delivered (delivered) or has not
// acknowledged (acked) survive, until they are older than consumer_group_max_age.
func TestConsumerGroups(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	// 40 old records with IDs one minute apart, the newest ten and a half minutes ago (half a
	// minute away from the override ages used below).
	base := uint64(time.Now().Add(-50*time.Minute + 30*time.Second).UnixMilli())
	load := func(t *testing.T) []string {
		c.FlushAll(ctx)
		xs := make([]string, 40)
		for i := range xs {
			xs[i] = fmt.Sprintf("%d-0", base+uint64(i)*60000)
		}
		xadd(t, c, evKey, xs, records(40, old))
		if err := c.XGroupCreate(ctx, evKey, "shipper", "0").Err(); err != nil {
			t.Fatal(err)
		}
		// 20 delivered, of which the first 5 and entries 8..9 acknowledged.
		res, err := c.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "shipper", Consumer: "c1", Streams: []string{evKey, ">"}, Count: 20}).Result()
		if err != nil || len(res[0].Messages) != 20 {
			t.Fatalf("XREADGROUP: %v", err)
		}
		if err := c.XAck(ctx, evKey, "shipper", xs[0], xs[1], xs[2], xs[3], xs[4], xs[8], xs[9]).Err(); err != nil {
			t.Fatal(err)
		}
		return xs
	}
	for _, tc := range []struct {
		mode   GroupMode
		maxAge time.Duration
		left   int // entries left, from the end
		lost   int64
		warn   string
	}{
		// The 20 never delivered and the 13 pending (5..7, 10..19) go.
		{GroupsIgnore, 0, 0, 33, "trimmed 33 entries consumer group shipper had not acknowledged (20 never delivered, 13 pending): consumer_groups: ignore"},
		{GroupsDelivered, 0, 20, 13, "20 entries that retention drops are kept for consumer group(s) shipper"},
		{GroupsAcked, 0, 35, 0, "35 entries that retention drops are kept"},
		// Entries older than 30 minutes (the first 20) lose their protection.
		{GroupsAcked, 30 * time.Minute, 20, 13, "trimmed 13 entries consumer group shipper had not acknowledged (0 never delivered, 13 pending): older than consumer_group_max_age 30m, retention won"},
		{GroupsDelivered, 45 * time.Minute, 20, 13, "trimmed 13 entries consumer group shipper had not acknowledged (0 never delivered, 13 pending): consumer_groups: delivered does not wait for acknowledgements"},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.mode, tc.maxAge), func(t *testing.T) {
			xs := load(t)
			s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) {
				c.ConsumerGroups, c.ConsumerGroupMaxAge = tc.mode, tc.maxAge
			})
			dry := compact(t, s, true)
			rep := compact(t, s, false)
			if got := ids(t, c, evKey); !slices.Equal(got, xs[40-tc.left:]) {
				t.Errorf("left %d entries (first %s), want %d", len(got), first(got), tc.left)
			}
			if rep.RecordsDropped != int64(40-tc.left) || rep.RecordsUnreclaimed != int64(tc.left) {
				t.Errorf("dropped %d unreclaimed %d", rep.RecordsDropped, rep.RecordsUnreclaimed)
			}
			if dry.RecordsDropped != rep.RecordsDropped {
				t.Errorf("dry run would drop %d, the run dropped %d", dry.RecordsDropped, rep.RecordsDropped)
			}
			if rep.RecordsTrimmedPastGroups != tc.lost || dry.RecordsTrimmedPastGroups != tc.lost {
				t.Errorf("records_trimmed_past_groups %d (dry run %d), want %d", rep.RecordsTrimmedPastGroups, dry.RecordsTrimmedPastGroups, tc.lost)
			}
			if tc.warn != "" && !hasWarning(rep, tc.warn) {
				t.Errorf("no warning %q in %q", tc.warn, rep.Warnings)
			}
		})
	}

	// A group that appears during the trim (created at 0) stops it where it is.
	t.Run("group created during the trim", func(t *testing.T) {
		c.FlushAll(ctx)
		x := xadd(t, c, evKey, nil, records(5000, old))
		s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(cf *Config) {
			cf.ConsumerGroups, cf.TrimStep = GroupsDelivered, 100
		})
		steps := 0
		s.hook = func(point, key string) {
			if point == "trim-step" {
				if steps++; steps == 3 {
					c.XGroupCreate(ctx, evKey, "late", "0")
				}
			}
		}
		rep := compact(t, s, false)
		got := ids(t, c, evKey)
		if len(got) == 0 || len(got) == len(x) || got[len(got)-1] != x[len(x)-1] {
			t.Fatalf("left %d entries", len(got))
		}
		if rep.RecordsDropped != int64(len(x)-len(got)) {
			t.Errorf("report says %d dropped, %d were", rep.RecordsDropped, len(x)-len(got))
		}
	})
}

// TestTwoCompactors: while one run holds the store's lock, another is skipped with errs.ErrLocked;
// the lock goes when the first run ends.
func TestTwoCompactors(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	xadd(t, c, evKey, nil, records(3000, old))
	a := newStore(t, srv, retention.Policy{MaxAge: time.Hour})
	b := newStore(t, srv, retention.Policy{MaxAge: time.Hour})
	inA, release := make(chan struct{}), make(chan struct{})
	a.hook = func(point, key string) {
		if point == "before-trim" {
			close(inA)
			<-release
		}
	}
	type result struct {
		rep report.Report
		err error
	}
	done := make(chan result)
	go func() {
		rep, err := a.Compact(context.Background(), backends.Options{})
		done <- result{rep, err}
	}()
	<-inA
	rep, err := b.Compact(context.Background(), backends.Options{})
	if !errors.Is(err, errs.ErrLocked) || rep.Result != report.ResultSkipped || rep.Reason != "locked" {
		t.Errorf("second compactor: err %v, result %q reason %q; want errs.ErrLocked, skipped, locked", err, rep.Result, rep.Reason)
	}
	if err != nil && !strings.Contains(err.Error(), s(a.LockKey())) {
		t.Errorf("the error does not name the lock: %v", err)
	}
	// A dry run needs no lock.
	if _, err := b.Compact(context.Background(), backends.Options{DryRun: true}); err != nil {
		t.Errorf("dry run while locked: %v", err)
	}
	close(release)
	ra := <-done
	if ra.err != nil || ra.rep.RecordsDropped != 3000 {
		t.Fatalf("first compactor: %v %+v", ra.err, ra.rep)
	}
	if rep := compact(t, b, false); rep.Result != report.ResultOK {
		t.Errorf("after the first run: %+v", rep)
	}
}

func s(x string) string { return x }

// TestAppendDuringTrim: entries the application adds while papyrad trims are never removed,
// whether the trim keeps some old entries or removes every entry it planned.
func TestAppendDuringTrim(t *testing.T) {
	for _, keepTail := range []bool{true, false} {
		t.Run(fmt.Sprintf("keepTail=%v", keepTail), func(t *testing.T) {
			srv := redisserver.Start(t)
			c := client(t, srv)
			ctx := context.Background()
			data := records(20000, old)
			if keepTail {
				data = append(data, records(100, fresh)...)
			}
			xadd(t, c, evKey, nil, data)
			s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.TrimStep = 500 })
			var added []string
			s.hook = func(point, key string) {
				if point == "trim-step" || point == "trim-exact" || point == "page" {
					// Old-looking records too: retention would drop them, but they came after
					// the run's snapshot and must stay.
					added = append(added, xadd(t, c, key, nil, records(3, old))...)
				}
			}
			rep := compact(t, s, false)
			got := ids(t, c, evKey)
			tail := got[len(got)-len(added):]
			if !slices.Equal(tail, added) {
				t.Fatalf("of %d entries added during the run, the stream ends with %d of them", len(added), len(tail))
			}
			wantKept := 0
			if keepTail {
				wantKept = 100
			}
			if len(got) != wantKept+len(added) {
				t.Errorf("left %d entries, want %d kept + %d added", len(got), wantKept, len(added))
			}
			if rep.RecordsDropped != 20000 {
				t.Errorf("dropped %d, want 20000", rep.RecordsDropped)
			}
			_ = ctx
		})
	}
}

// TestServerRestart: a server that goes away mid-run makes the run fail with a clear error; the
// lock it held expires; a later run completes the work.
func TestServerRestart(t *testing.T) {
	t.Parallel() // mostly waits for the dead run's lock to expire
	srv := redisserver.Start(t, redisserver.Options{Persist: true})
	c := client(t, srv)
	x := xadd(t, c, evKey, nil, append(records(20000, old), records(10, fresh)...))
	ttl := 3 * time.Second
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.TrimStep = 1000; c.LockTTL = ttl })
	steps := 0
	s.hook = func(point, key string) {
		if point == "trim-step" {
			if steps++; steps == 4 {
				srv.Kill()
			}
		}
	}
	start := time.Now()
	rep, err := s.Compact(context.Background(), backends.Options{})
	if err == nil || rep.Result != report.ResultError {
		t.Fatalf("run with the server gone: err %v result %q", err, rep.Result)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the failing run took %v", time.Since(start))
	}
	msg := err.Error()
	if !strings.Contains(msg, srv.URL(0)) || !strings.Contains(msg, "trim "+evKey) || !strings.Contains(msg, "connect") {
		t.Errorf("unclear error: %v", err)
	}
	if rep.RecordsDropped <= 0 || rep.RecordsDropped >= 20000 {
		t.Errorf("report of the failed run: %d dropped", rep.RecordsDropped)
	}
	s.hook = nil
	srv.Restart()
	// The lock survived the restart (append-only file) and still has its TTL.
	rep, err = s.Compact(context.Background(), backends.Options{})
	if !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("run right after the restart: %v (%+v); want the dead run's lock", err, rep)
	}
	pttl, _ := c.PTTL(context.Background(), s.LockKey()).Result()
	if pttl <= 0 || pttl > ttl {
		t.Fatalf("lock TTL %v", pttl)
	}
	time.Sleep(pttl + 100*time.Millisecond)
	rep = compact(t, s, false)
	if got := ids(t, c, evKey); !slices.Equal(got, x[20000:]) {
		t.Errorf("after the later run: %d entries left, want 10", len(got))
	}
	if rep.RecordsBefore+0 < 10 {
		t.Errorf("%+v", rep)
	}
}

// TestLockLost: a run whose lock is taken away stops at the next step with errs.ErrLockLost.
func TestLockLost(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	xadd(t, c, evKey, nil, records(10000, old))
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.TrimStep = 100; c.LockTTL = 300 * time.Millisecond })
	steps := 0
	s.hook = func(point, key string) {
		if point == "trim-step" {
			if steps++; steps == 2 {
				c.Set(context.Background(), s.LockKey(), "someone-else", time.Minute)
				time.Sleep(150 * time.Millisecond)
			}
		}
	}
	rep, err := s.Compact(context.Background(), backends.Options{})
	if !errors.Is(err, errs.ErrLockLost) || rep.Result != report.ResultError {
		t.Fatalf("err %v result %q; want errs.ErrLockLost", err, rep.Result)
	}
	if n := len(ids(t, c, evKey)); n == 0 || n == 10000 {
		t.Errorf("%d entries left: the run should have stopped part way", n)
	}
	if v, _ := c.Get(context.Background(), s.LockKey()).Result(); v != "someone-else" {
		t.Errorf("the run released a lock that was not its own: %q", v)
	}
}

// TestMissingEmptyWrongType: missing and empty streams are nothing to do; a key of another type
// fails the run before any stream is changed, with an error naming the key.
func TestMissingEmptyWrongType(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour})

	rep := compact(t, s, false)
	if rep.RecordsBefore != 0 {
		t.Errorf("no streams: %+v", rep)
	}
	c.XGroupCreateMkStream(ctx, auKey, "g", "$")
	x := xadd(t, c, dlKey, nil, records(1, old))
	c.XDel(ctx, dlKey, x[0])
	rep = compact(t, s, false)
	if rep.RecordsBefore != 0 || rep.RecordsDropped != 0 {
		t.Errorf("empty streams: %+v", rep)
	}

	xadd(t, c, evKey, nil, records(10, old))
	c.Del(ctx, auKey)
	c.Set(ctx, auKey, "not a stream", 0)
	rep, err := s.Compact(ctx, backends.Options{})
	if !errors.Is(err, errs.ErrWrongType) || rep.Result != report.ResultError {
		t.Fatalf("wrong type: err %v result %q", err, rep.Result)
	}
	if !strings.Contains(err.Error(), auKey+" holds a string") {
		t.Errorf("error does not name the key: %v", err)
	}
	if n := len(ids(t, c, evKey)); n != 10 {
		t.Errorf("the run changed %s before failing: %d left", evKey, n)
	}
	if _, err := s.Scan(ctx); !errors.Is(err, errs.ErrWrongType) {
		t.Errorf("scan: %v", err)
	}
}

// TestQuarantineKeysUntouched: Papyra's quarantine keys and anything else under the prefix are
// left as they are.
func TestQuarantineKeysUntouched(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	qs := "papyra:local:quarantine:papyra_local_events"
	xadd(t, c, qs, nil, []string{"garbage", rec(1, 978307200)})
	c.Set(ctx, "papyra:local:quarantine:note", "x", 0)
	xadd(t, c, "papyra:other:events", nil, records(5, old))
	xadd(t, c, evKey, nil, records(5, old))
	dump := func() []string {
		var out []string
		for _, k := range []string{qs, "papyra:local:quarantine:note", "papyra:other:events"} {
			d, err := c.Dump(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	before := dump()
	compact(t, newStore(t, srv, retention.Policy{MaxAge: time.Hour}), false)
	if !slices.Equal(before, dump()) {
		t.Error("keys other than the three streams changed")
	}
	if n := len(ids(t, c, evKey)); n != 0 {
		t.Errorf("%d events left", n)
	}
}

// TestSizeLimits: count and size limits on either basis cut where classify.Apply says.
func TestSizeLimits(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	data := records(300, fresh)
	for i := range data {
		if i%7 == 0 {
			data[i] = strings.Replace(data[i], `"payload": {`, `"payload": {"pad": "`+strings.Repeat("é", i%50)+`", `, 1)
		}
	}
	lines := make([][]byte, len(data))
	for i, d := range data {
		lines[i] = []byte(d)
	}
	for _, p := range []retention.Policy{
		{MaxRecords: 123},
		{MaxTotalBytes: 20000},
		{MaxTotalBytes: 20000, SizeBasis: retention.SizeBasisStored},
		{MaxAge: time.Hour, MaxRecords: 250, MaxTotalBytes: 50000},
	} {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			c.FlushAll(ctx)
			x := xadd(t, c, evKey, nil, data)
			// Apply measures stored sizes with a newline; a data field has none.
			var want int
			if p.SizeBasis == retention.SizeBasisStored {
				pl := retention.NewPlanner(p, time.Now())
				for _, l := range lines {
					pl.Add(pyjson.Classify(l, false), int64(len(l)))
				}
				plan := pl.Finish()
				for want = 0; plan.Decision(want) != retention.Keep; want++ {
				}
			} else {
				d := classify.Apply(lines, p, time.Now())
				for want = 0; d[want] != retention.Keep; want++ {
				}
			}
			rep := compact(t, newStore(t, srv, p), false)
			if got := ids(t, c, evKey); !slices.Equal(got, x[want:]) {
				t.Errorf("left %d, want %d", len(got), len(x)-want)
			}
			if rep.RecordsDropped != int64(want) {
				t.Errorf("dropped %d, want %d", rep.RecordsDropped, want)
			}
		})
	}
}

// TestOldServer: on a server that predates MINID (6.0 and before) the prefix goes with XDEL in
// batches, and no XTRIM with MINID or LIMIT is sent; traffic falls back to the streams' length.
func TestOldServer(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	x := xadd(t, c, evKey, nil, append(records(2500, old), records(5, fresh)...))
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.TrimStep = 300 })
	s.version = &[3]int{6, 0, 16}
	before := commandCalls(t, c)
	rep := compact(t, s, false)
	after := commandCalls(t, c)
	if got := ids(t, c, evKey); !slices.Equal(got, x[2500:]) {
		t.Errorf("left %d entries, want 5", len(got))
	}
	if rep.RecordsDropped != 2500 {
		t.Errorf("dropped %d", rep.RecordsDropped)
	}
	if after["xtrim"] != before["xtrim"] {
		t.Errorf("XTRIM sent to a 6.0 server")
	}
	if d := after["xdel"] - before["xdel"]; d != 9 {
		t.Errorf("%d XDEL commands, want 9 batches of at most 300", d)
	}
	n, err := s.Traffic(context.Background())
	if err != nil || n != 5 {
		t.Errorf("traffic on 6.0: %d, %v; want the length 5", n, err)
	}
}

// TestTraffic: entries-added grows with every XADD, whatever trims happen.
func TestTraffic(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour})
	ctx := context.Background()
	n0, err := s.Traffic(ctx)
	if err != nil || n0 != 0 {
		t.Fatalf("no streams: %d, %v", n0, err)
	}
	xadd(t, c, evKey, nil, records(100, old))
	xadd(t, c, dlKey, nil, records(7, old))
	compact(t, s, false)
	n1, err := s.Traffic(ctx)
	if err != nil || n1 != 107 {
		t.Fatalf("after 107 entries and a trim: %d, %v", n1, err)
	}
	r, b, err := s.Activity(ctx)
	if err != nil || r != 107 || b != 0 {
		t.Errorf("activity: %d %d %v", r, b, err)
	}
	// The daemon samples traffic while other runs go on: one Store serves both.
	xadd(t, c, evKey, nil, records(5000, old))
	done := make(chan error)
	go func() {
		for range 20 {
			if _, err := s.Traffic(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	compact(t, s, false)
	if err := <-done; err != nil {
		t.Errorf("traffic during a run: %v", err)
	}
}

// TestConnectionFailure: a server that is not there fails the run after bounded retries, with
// an error naming the (redacted) server.
func TestConnectionFailure(t *testing.T) {
	dir := t.TempDir()
	s := New(Config{Name: "x", URL: "unix://" + filepath.Join(dir, "none.sock") + "?db=0", Policy: retention.Policy{MaxAge: time.Hour},
		MaxRetries: 3, MinRetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 40 * time.Millisecond}, nil, nil)
	defer s.Close()
	start := time.Now()
	rep, err := s.Compact(context.Background(), backends.Options{})
	if err == nil || rep.Result != report.ResultError || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("err %v result %q", err, rep.Result)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
	s2 := New(Config{Name: "x", URL: "redis://user:hunter2@127.0.0.1:1/0", Policy: retention.Policy{MaxAge: time.Hour}, MaxRetries: -1}, nil, nil)
	defer s2.Close()
	rep, err = s2.Compact(context.Background(), backends.Options{})
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(rep.Error, "hunter2") {
		t.Errorf("error shows the password or is missing: %v", err)
	}
	if !strings.Contains(err.Error(), "redis://user:xxxxx@127.0.0.1:1/0") {
		t.Errorf("error does not name the server: %v", err)
	}
}

// TestPassword: a password from a file (its newline ignored) or from the URL; a wrong one is
// refused without ever being shown.
func TestPassword(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Options{TCP: true, Args: []string{"--requirepass", "s3cret-pw"}})
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := srv.TCPAddr()
	p := retention.Policy{MaxAge: time.Hour}
	ctx := context.Background()

	ok := New(Config{Name: "a", URL: "redis://" + addr + "/0", PasswordFile: pwFile, Policy: p}, nil, nil)
	defer ok.Close()
	if _, err := ok.Compact(ctx, backends.Options{}); err != nil {
		t.Errorf("password file: %v", err)
	}
	inURL := New(Config{Name: "b", URL: "redis://:s3cret-pw@" + addr + "/0", Policy: p}, nil, nil)
	defer inURL.Close()
	if _, err := inURL.Compact(ctx, backends.Options{}); err != nil {
		t.Errorf("password in the URL: %v", err)
	}
	wrong := New(Config{Name: "c", URL: "redis://:wrong-pw-123@" + addr + "/0", Policy: p, MaxRetries: -1}, nil, nil)
	defer wrong.Close()
	rep, err := wrong.Compact(ctx, backends.Options{})
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if strings.Contains(err.Error(), "wrong-pw-123") || strings.Contains(rep.Error, "wrong-pw-123") {
		t.Errorf("the password shows: %v", err)
	}
	if !strings.Contains(err.Error(), "redis://:xxxxx@"+addr+"/0") {
		t.Errorf("error does not name the server: %v", err)
	}
	// A rotated password file is read again.
	if err := os.WriteFile(pwFile, []byte("other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Compact(ctx, backends.Options{}); err == nil || strings.Contains(err.Error(), "other") && !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("a changed password file was not used: %v", err)
	}
	if err := os.WriteFile(pwFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Compact(ctx, backends.Options{}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty password file: %v", err)
	}
}

// TestDryRun: a dry run writes nothing and takes no lock.
func TestDryRun(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	xadd(t, c, evKey, nil, append(records(100, old), "garbage"))
	before := commandCalls(t, c)
	rep := compact(t, newStore(t, srv, retention.Policy{MaxAge: time.Hour}), true)
	after := commandCalls(t, c)
	for _, cmd := range []string{"xtrim", "xdel", "set", "del", "evalsha", "eval", "xadd"} {
		if after[cmd] != before[cmd] {
			t.Errorf("dry run sent %s", cmd)
		}
	}
	if rep.RecordsDropped != 100 || rep.RecordsQuarantined != 1 || !rep.DryRun || rep.QuarantineFile != "" {
		t.Errorf("dry run report: %+v", rep)
	}
	if rep.BytesAfter >= rep.BytesBefore {
		t.Errorf("dry run bytes: %d → %d", rep.BytesBefore, rep.BytesAfter)
	}
	if n := len(ids(t, c, evKey)); n != 101 {
		t.Errorf("dry run changed the stream: %d left", n)
	}
	_ = ctx
}

// TestProgress: a run reports its reading and trimming, never past its total.
func TestProgress(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	xadd(t, c, evKey, nil, append(records(5000, old), records(10, fresh)...))
	xadd(t, c, dlKey, nil, records(3000, old))
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.TrimStep = 200 })
	phases := map[string]int{}
	last := map[string]int64{}
	rep, err := s.Compact(context.Background(), backends.Options{Progress: func(phase string, done, total int64) {
		phases[phase]++
		if done > total || done < last[phase] {
			t.Errorf("%s: %d of %d after %d", phase, done, total, last[phase])
		}
		last[phase] = done
	}})
	if err != nil || rep.RecordsDropped != 8000 {
		t.Fatalf("%v %+v", err, rep)
	}
	if phases["plan"] < 8 || phases["trim"] < 10 {
		t.Errorf("progress calls: %v", phases)
	}
}

// TestNoQuarantineDir: without a quarantine directory, a non-record is never removed.
func TestNoQuarantineDir(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	xadd(t, c, evKey, nil, []string{rec(0, 978307200), "garbage", rec(1, 978307200)})
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.Quarantine = "" })
	if _, err := s.Compact(context.Background(), backends.Options{}); err == nil || !strings.Contains(err.Error(), "no quarantine directory") {
		t.Errorf("err %v", err)
	}
	if n := len(ids(t, c, evKey)); n != 3 {
		t.Errorf("%d entries left", n)
	}
}

// TestOldestRecord: the report gives the timestamp of the oldest record left, unless a record
// retention drops stays behind (held by a consumer group), which could be older.
func TestOldestRecord(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	stamp := float64(time.Now().Unix() - 60)
	xadd(t, c, evKey, nil, append(records(10, old), records(5, func(i int) float64 { return stamp + float64(i) })...))
	xadd(t, c, auKey, nil, records(3, func(i int) float64 { return stamp + 30 }))
	rep := compact(t, newStore(t, srv, retention.Policy{MaxAge: time.Hour}), false)
	if rep.OldestRecordTimestamp == nil || *rep.OldestRecordTimestamp != stamp {
		t.Fatalf("oldest record %v, want %v", rep.OldestRecordTimestamp, stamp)
	}

	// A consumer group that has not been delivered the expired entries keeps them.
	xadd(t, c, dlKey, nil, records(4, old))
	if err := c.XGroupCreate(context.Background(), dlKey, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	rep = compact(t, newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.ConsumerGroups = GroupsDelivered }), false)
	if rep.OldestRecordTimestamp != nil {
		t.Errorf("with expired records held by a group, the oldest record is unknown; got %v", *rep.OldestRecordTimestamp)
	}
}
