package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// redisAppender adds entries to a stream from a goroutine, one every couple of milliseconds,
// as a Papyra application does, and keeps every ID added to the stream in order, the test's
// own batches included. pause holds it between two entries; resume lets it go on.
type redisAppender struct {
	c    *goredis.Client
	key  string
	mu   sync.Mutex // held by the appender for each entry, by the test while paused
	ids  []string   // every entry added, in stream order
	seq  int
	err  error
	stop chan struct{}
	done chan struct{}
}

func startRedisAppender(t *testing.T, c *goredis.Client, key string) *redisAppender {
	t.Helper()
	a := &redisAppender{c: c, key: key, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			select {
			case <-a.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			a.mu.Lock()
			id, err := c.XAdd(context.Background(), &goredis.XAddArgs{Stream: key,
				Values: []any{"data", redisRecord("w", a.seq, float64(time.Now().UnixMicro())/1e6)}}).Result()
			if err != nil {
				a.err = err
				a.mu.Unlock()
				return
			}
			a.ids = append(a.ids, id)
			a.seq++
			a.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-a.stop:
		default:
			close(a.stop)
		}
		<-a.done
	})
	return a
}

func (a *redisAppender) pause(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	if a.err != nil {
		t.Fatalf("the appender failed: %v", a.err)
	}
}

func (a *redisAppender) resume() { a.mu.Unlock() }

// addBatch adds n entries of writer (the appender paused) and records their IDs.
func (a *redisAppender) addBatch(t *testing.T, writer string, n int) {
	t.Helper()
	now := float64(time.Now().Unix())
	a.ids = append(a.ids, addEntries(t, a.c, a.key, n, func(i int) string { return redisRecord(writer, i, now) })...)
}

// redisArchived reads the archive files under dir that are not in seen (and adds them), and
// returns the IDs of the entries of stream key they hold.
func redisArchived(t *testing.T, dir, key string, seen map[string]bool) []string {
	t.Helper()
	var ids []string
	for _, f := range archiveFiles(t, dir) {
		if seen[f] {
			continue
		}
		seen[f] = true
		for _, l := range bytes.Split(bytes.TrimSuffix(decompress(t, f), []byte("\n")), []byte("\n")) {
			var e struct {
				ID, Stream string
				Data       json.RawMessage
			}
			if err := json.Unmarshal(l, &e); err != nil || len(e.Data) == 0 || e.Stream != key {
				t.Fatalf("archive %s: line %q is not an entry of %s: %v", f, l, key, err)
			}
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// streamHead is the ID of the stream's first entry ("" when it is empty).
func streamHead(t *testing.T, c *goredis.Client, key string) string {
	t.Helper()
	msgs, err := c.XRangeN(context.Background(), key, "-", "+", 1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 {
		return ""
	}
	return msgs[0].ID
}

// TestRedisCrash kills `papyrad compact` with SIGKILL at random instants of runs on a redis
// store with an archive, while an application keeps adding entries. The store keeps its newest
// 10000 entries; before each run the test adds a batch of 20000, so that every run archives a
// batch and trims it in 200 steps of 100 entries. One kill in three waits for the trim to begin
// and lands within a few milliseconds of it. The killed run's lock must expire within its TTL
// (the test then lets the TTL run out at once rather than waiting for it); the next run,
// with the application paused, must recover: the stream is then exactly the newest 10000
// entries ever added, in order (no kept entry lost, every dropped one gone), its lock is
// released, no unfinished archive file is left, and the archive files published since the
// last check hold exactly the entries that left the stream since then, each once.
func TestRedisCrash(t *testing.T) {
	t.Parallel()
	iterations := tortureCount(t, 4, 3, 100)
	const keep, batch = 10000, 20000
	srv := redisserver.Start(t, redisserver.Options{TCP: true})
	c := redisClient(t, srv.URL(0))
	ctx := context.Background()
	const key = "papyra:local:events"
	dir := t.TempDir()
	arch, cfg := filepath.Join(dir, "archive"), filepath.Join(dir, "papyrad.yaml")
	writeFile(t, cfg, fmt.Appendf(nil, `daemon: {state_dir: %q}
stores:
  - name: cluster
    backend: redis
    redis: {url: %q}
    retention: {max_records: %d}
    trim_step: 100
    archive: {dir: %q, compress: zstd}
`, filepath.Join(dir, "state"), srv.URL(0), keep, arch))
	args := []string{"--config", cfg, "--json"}

	a := startRedisAppender(t, c, key)
	seen := map[string]bool{}
	// check verifies the stream and the archive after a run that completed with the appender
	// paused; trimmedFrom is where in a.ids the entries not yet seen in an archive start.
	trimmedFrom := 0
	var verified int
	check := func(when string) {
		t.Helper()
		ids := streamIDs(t, c, key)
		want := a.ids[max(0, len(a.ids)-keep):]
		if !slices.Equal(ids, want) {
			t.Fatalf("%s: the stream has %d entries (first %v), want exactly the newest %d of the %d added (first %s)",
				when, len(ids), ids[:min(len(ids), 1)], len(want), len(a.ids), want[0])
		}
		// Every entry that left the stream since the last check is in exactly one archive
		// file published since then (a killed run's and its recovering run's may both hold
		// some), and nothing else is.
		gone := a.ids[trimmedFrom : len(a.ids)-len(want)]
		got := redisArchived(t, arch, key, seen)
		times := map[string]int{}
		for _, id := range got {
			times[id]++
		}
		var missing, twice int
		for _, id := range gone {
			switch times[id] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
		}
		if missing > 0 || twice > 0 || len(got) != len(gone) {
			t.Fatalf("%s: the archives published since the last check hold %d entries, want exactly the %d that left the stream: %d of those missing, %d more than once",
				when, len(got), len(gone), missing, twice)
		}
		if left := hiddenUnder(arch, ""); len(left) > 0 {
			t.Errorf("%s: an unfinished archive is left: %v", when, left)
		}
		if n := c.Exists(ctx, redisLockKey).Val(); n != 0 {
			t.Errorf("%s: the run left its lock", when)
		}
		trimmedFrom = len(a.ids) - len(want)
		verified += len(ids) + len(gone)
	}

	// Calibration: a complete run, to aim the kills.
	a.pause(t)
	a.addBatch(t, "b-init", batch)
	rep, r := compactJSON(t, args...)
	if r.code != 0 || rep.Result != report.ResultOK || rep.RecordsArchived == 0 {
		t.Fatalf("calibration run: want exit 0 and entries archived\n%s", r)
	}
	check("after the calibration run")
	a.resume()
	runs := []time.Duration{r.dur}

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	phases := map[string]int{}
	var killed int
	for i := range iterations {
		a.pause(t)
		a.addBatch(t, fmt.Sprintf("b%d", i), batch)
		head := streamHead(t, c, key)
		a.resume()

		typical := median(runs)
		delay := time.Duration(rng.Int64N(int64(typical) * 11 / 10))
		var finished bool
		if i%3 == 2 {
			// Aimed at the trim: the stream's head moves with its first step.
			finished, r = killAimed(t, func() bool { return streamHead(t, c, key) != head }, 5*time.Millisecond, rng, args)
			delay = r.dur
		} else {
			finished, r = killAfter(t, delay, args)
		}
		phase := "finished"
		if !finished {
			killed++
			sealed := len(hiddenUnder(arch, ".manifest")) > 0
			moved := streamHead(t, c, key) != head
			switch {
			case !sealed && !moved:
				phase = "reading or archiving"
			case sealed && !moved:
				phase = "archive sealed, before the trim"
			case sealed:
				phase = "trimming or publishing"
			default:
				phase = "published, before exiting"
			}
			// The lock of the killed run: held, and bounded by its TTL.
			switch ttl := c.PTTL(ctx, redisLockKey).Val(); {
			case c.Exists(ctx, redisLockKey).Val() == 0:
			case ttl <= 0 || ttl > 30*time.Second:
				t.Fatalf("iteration %d: the killed run's lock has TTL %v, want it to expire within 30s", i, ttl)
			default:
				// What the lock is for is tested elsewhere; here its TTL runs out at once.
				c.PExpire(ctx, redisLockKey, time.Millisecond)
			}
		} else if r.code != 0 {
			t.Fatalf("iteration %d: a run that finished before the kill failed\n%s", i, r)
		}
		phases[phase]++

		when := fmt.Sprintf("iteration %d, killed after %v (%s)", i, delay.Round(time.Microsecond), phase)
		a.pause(t)
		for c.Exists(ctx, redisLockKey).Val() != 0 {
			time.Sleep(time.Millisecond)
		}
		rep, r := compactJSON(t, args...)
		if r.code != 0 || rep.Result != report.ResultOK {
			t.Fatalf("%s: the next run must recover: want exit 0, result ok\n%s", when, r)
		}
		runs = append(runs, r.dur)
		check(when + ", after the recovering run")
		a.resume()
	}
	a.mu.Lock() // the appender is still running
	added := len(a.ids)
	a.mu.Unlock()
	t.Logf("%d iterations: %d runs killed, where: %v; %d entries added, %d checked in the stream or the archives after recovering runs; a complete run took %v (median)",
		iterations, killed, phases, added, verified, median(runs).Round(time.Millisecond))
}
