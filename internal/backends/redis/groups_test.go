package redis

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/metrics"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// TestGroupsKeepUnacknowledged is the scenario of a consumer group that fell behind: 220
// entries retention drops, of which the group acknowledged 40, holds 30 pending and was never
// delivered 150. With the configuration's defaults they stay and nothing is counted; older than
// consumer_group_max_age they go, and the run says so (warning, report field, counter) with the
// exact count; with consumer_groups: ignore they go too and are counted the same way.
func TestGroupsKeepUnacknowledged(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	// load writes the 220 entries (IDs from ms on, or "*" when ms is 0) and brings the group
	// "papyra" to 40 acknowledged, 30 pending; a second group, when asked, is delivered all of
	// them and leaves 10 of the first 40 pending.
	load := func(t *testing.T, ms uint64, second bool) []string {
		t.Helper()
		c.FlushAll(ctx)
		var xs []string
		if ms != 0 {
			xs = seqIDs(ms, 220)
		}
		xs = xadd(t, c, evKey, xs, records(220, old))
		deliver := func(group string, n int64, ack []string) {
			t.Helper()
			if err := c.XGroupCreate(ctx, evKey, group, "0").Err(); err != nil {
				t.Fatal(err)
			}
			res, err := c.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: group, Consumer: "c1", Streams: []string{evKey, ">"}, Count: n}).Result()
			if err != nil || int64(len(res[0].Messages)) != n {
				t.Fatalf("XREADGROUP %s: %v", group, err)
			}
			if err := c.XAck(ctx, evKey, group, ack...).Err(); err != nil {
				t.Fatal(err)
			}
		}
		deliver("papyra", 70, xs[:40])
		if second {
			deliver("audit", 220, append(slices.Clone(xs[10:]), xs[:5]...))
		}
		return xs
	}
	defaults := func(c *Config) {
		c.ConsumerGroups, c.ConsumerGroupMaxAge = GroupMode(config.DefaultConsumerGroups), config.DefaultConsumerGroupMaxAge
	}
	eightDaysAgo := uint64(time.Now().Add(-8 * 24 * time.Hour).UnixMilli())
	for _, tc := range []struct {
		name   string
		ms     uint64 // IDs from this millisecond on; 0: now
		second bool
		mod    func(*Config)
		left   int // entries left, from the end
		lost   int64
		warns  []string // each a warning the run must give
	}{
		{"defaults", 0, false, defaults, 180, 0, []string{"papyra:local:events: 180 entries that retention drops are kept for consumer group(s) papyra (consumer_groups: acked)"}},
		{"defaults, older than consumer_group_max_age", eightDaysAgo, false, defaults, 0, 180,
			[]string{"papyra:local:events: trimmed 180 entries consumer group papyra had not acknowledged (150 never delivered, 30 pending): older than consumer_group_max_age 7d, retention won"}},
		{"consumer_group_max_age none", eightDaysAgo, false, func(c *Config) { c.ConsumerGroups, c.ConsumerGroupMaxAge = GroupsAcked, 0 }, 180, 0, nil},
		{"ignore", 0, false, func(c *Config) { c.ConsumerGroups = GroupsIgnore }, 0, 180,
			[]string{"papyra:local:events: trimmed 180 entries consumer group papyra had not acknowledged (150 never delivered, 30 pending): consumer_groups: ignore"}},
		// The second group's 5 pending entries among the first 40 are lost to it alone: each
		// entry is counted once, each group is named with its own count.
		{"ignore, two groups", 0, true, func(c *Config) { c.ConsumerGroups = GroupsIgnore }, 0, 185, []string{
			"trimmed 180 entries consumer group papyra had not acknowledged (150 never delivered, 30 pending): consumer_groups: ignore",
			"trimmed 5 entries consumer group audit had not acknowledged (0 never delivered, 5 pending): consumer_groups: ignore",
		}},
		{"delivered", 0, false, func(c *Config) { c.ConsumerGroups = GroupsDelivered }, 150, 30,
			[]string{"trimmed 30 entries consumer group papyra had not acknowledged (0 never delivered, 30 pending): consumer_groups: delivered does not wait for acknowledgements"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xs := load(t, tc.ms, tc.second)
			s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, tc.mod)
			reg := prometheus.NewRegistry()
			m := metrics.New(reg)
			m.Store("cluster", Backend)
			dry := compact(t, s, true)
			rep := compact(t, s, false)
			m.Run(Backend, dry, nil, time.Now())
			m.Run(Backend, rep, nil, time.Now())

			if got := ids(t, c, evKey); !slices.Equal(got, xs[220-tc.left:]) {
				t.Errorf("left %d entries (first %s), want the last %d", len(got), first(got), tc.left)
			}
			if rep.RecordsDropped != int64(220-tc.left) {
				t.Errorf("records_dropped %d, want %d", rep.RecordsDropped, 220-tc.left)
			}
			if rep.RecordsTrimmedPastGroups != tc.lost || dry.RecordsTrimmedPastGroups != tc.lost {
				t.Errorf("records_trimmed_past_groups %d (dry run %d), want %d", rep.RecordsTrimmedPastGroups, dry.RecordsTrimmedPastGroups, tc.lost)
			}
			if got := trimmedPastGroups(t, reg); got != float64(tc.lost) {
				t.Errorf("papyrad_group_entries_trimmed_total %v, want %d", got, tc.lost)
			}
			for _, w := range tc.warns {
				if !hasWarning(rep, w) || !hasWarning(dry, w) {
					t.Errorf("no warning %q in %q (dry run %q)", w, rep.Warnings, dry.Warnings)
				}
			}
			if n := countWarnings(rep, "had not acknowledged"); n != len(tc.warns) && tc.lost > 0 || tc.lost == 0 && n != 0 {
				t.Errorf("%d warnings of entries trimmed past a group: %q", n, rep.Warnings)
			}
		})
	}
}

// TestGroupsCountOnce: the pending entries a group keeps in its list after a run trimmed them
// are not counted again by the next run, which counts only what it trims itself.
func TestGroupsCountOnce(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	xs := xadd(t, c, evKey, nil, records(50, old))
	if err := c.XGroupCreate(ctx, evKey, "papyra", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "papyra", Consumer: "c1", Streams: []string{evKey, ">"}, Count: 50}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XAck(ctx, evKey, "papyra", xs[:20]...).Err(); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.ConsumerGroups = GroupsIgnore })
	if rep := compact(t, s, false); rep.RecordsTrimmedPastGroups != 30 {
		t.Fatalf("first run: records_trimmed_past_groups %d, want the 30 pending", rep.RecordsTrimmedPastGroups)
	}
	// The 30 stay in the group's pending list; 10 new entries, never delivered, expire too.
	xadd(t, c, evKey, nil, records(10, old))
	if n, _ := c.XPending(ctx, evKey, "papyra").Result(); n == nil || n.Count != 30 {
		t.Fatalf("pending list: %+v", n)
	}
	rep := compact(t, s, false)
	if rep.RecordsDropped != 10 || rep.RecordsTrimmedPastGroups != 10 {
		t.Errorf("second run: dropped %d, records_trimmed_past_groups %d; want 10 and 10", rep.RecordsDropped, rep.RecordsTrimmedPastGroups)
	}
	if !hasWarning(rep, "trimmed 10 entries consumer group papyra had not acknowledged (10 never delivered, 0 pending)") {
		t.Errorf("warnings %q", rep.Warnings)
	}
}

// trimmedPastGroups reads papyrad_group_entries_trimmed_total, the one series of reg's store.
func trimmedPastGroups(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "papyrad_group_entries_trimmed_total" && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no single papyrad_group_entries_trimmed_total series")
	return 0
}

func countWarnings(rep report.Report, sub string) int {
	n := 0
	for _, w := range rep.Warnings {
		if strings.Contains(w, sub) {
			n++
		}
	}
	return n
}

// TestLostCounts: what a cut takes from each group, and from all of them with each entry
// once, against a stream of 10 entries (IDs 1-0 … 10-0).
func TestLostCounts(t *testing.T) {
	sp := &streamPlan{}
	for i := 1; i <= 10; i++ {
		sp.ids.add(id{uint64(i), 0}, 1)
	}
	a := unacked{name: "a", lastDelivered: id{6, 0}, pending: []int{1, 3, 5}} // delivered 1..6
	b := unacked{name: "b", lastDelivered: id{3, 0}, pending: []int{0, 1}}    // delivered 1..3
	for _, tc := range []struct {
		pos                          int
		aUndel, aPend, bUndel, bPend int64
		any                          int64
	}{
		{0, 0, 0, 0, 0, 0},
		{2, 0, 1, 0, 2, 2},  // positions 0, 1: b's pending 0 and 1, a's pending 1
		{4, 0, 2, 1, 2, 3},  // and position 3: pending in a, never delivered to b
		{10, 4, 3, 7, 2, 9}, // everything but position 2, acknowledged by both
	} {
		c := cut{pos: tc.pos}
		u, p := a.lost(sp, c)
		v, q := b.lost(sp, c)
		if u != tc.aUndel || p != tc.aPend || v != tc.bUndel || q != tc.bPend {
			t.Errorf("cut %d: a %d+%d, b %d+%d; want a %d+%d, b %d+%d", tc.pos, u, p, v, q, tc.aUndel, tc.aPend, tc.bUndel, tc.bPend)
		}
		if n := lostAny(sp, []unacked{a, b}, c); n != tc.any {
			t.Errorf("cut %d: %d entries lost to some group, want %d", tc.pos, n, tc.any)
		}
	}
}
