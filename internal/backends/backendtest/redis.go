package backendtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil"
)

// RedisStore is the redis backend's store object, through its public methods.
type RedisStore interface {
	Compact(ctx context.Context, opts backends.Options) (report.Report, error)
	// LockKey is the key of the store's lock, which a killed run leaves until it expires.
	LockKey() string
	Close() error
}

// RedisHarness is what the redis backend's test tells the suite: the parts of the suite that
// apply to a store that is not a file (live appends, kill loops) run on it.
type RedisHarness struct {
	Name string
	// Start starts a redis server for one case and returns its URL (Params.URL).
	Start func(t *testing.T) string
	// New builds the backend's store object with its public constructor.
	New func(p Params) RedisStore
	// Stream is the key of the store's stream the application appends to.
	Stream string
}

// Kind is a harness a child process can build a store from: a *Harness or a *RedisHarness.
type Kind interface {
	kindName() string
	build(p Params) compactor
}

type compactor interface {
	Compact(ctx context.Context, opts backends.Options) (report.Report, error)
}

func (h *Harness) kindName() string              { return h.Name }
func (h *Harness) build(p Params) compactor      { return h.New(p) }
func (h *RedisHarness) kindName() string         { return h.Name }
func (h *RedisHarness) build(p Params) compactor { return h.New(p) }

// redisKeep is what the redis cases keep: the newest redisKeep entries (max_records), so that
// the application's appends and each batch the test adds push older entries out.
const redisKeep = 1000

// RunRedis runs the cases that apply to a redis store, each as a subtest.
func RunRedis(t *testing.T, h *RedisHarness) {
	t.Run("LiveAppender", func(t *testing.T) { redisLive(t, h) })
	t.Run("KillLoop", func(t *testing.T) { redisKillLoop(t, h) })
}

// appender adds entries to a stream from a goroutine, one every millisecond, as a Papyra
// application does, and keeps every ID added to the stream in order, the test's batches
// included. pause holds it between two entries.
type appender struct {
	c    *goredis.Client
	key  string
	mu   sync.Mutex // held by the appender for each entry, by the test while paused
	ids  []string
	seq  int64
	err  error
	stop chan struct{}
	done chan struct{}
}

func startAppender(t *testing.T, url, key string) *appender {
	t.Helper()
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	a := &appender{c: goredis.NewClient(opt), key: key, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			select {
			case <-a.stop:
				return
			case <-time.After(time.Millisecond):
			}
			a.mu.Lock()
			rec := testutil.Record(testutil.Key{Writer: "W", Seq: a.seq}, testutil.Now())
			id, err := a.c.XAdd(context.Background(), &goredis.XAddArgs{Stream: key, Values: []any{"data", string(rec[:len(rec)-1])}}).Result()
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
		close(a.stop)
		<-a.done
		_ = a.c.Close()
	})
	return a
}

func (a *appender) pause(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	if a.err != nil {
		a.mu.Unlock()
		t.Fatalf("the appender failed: %v", a.err)
	}
}

func (a *appender) resume() { a.mu.Unlock() }

// addBatch adds n fresh entries of writer in one script (the appender paused) and records
// their IDs.
func (a *appender) addBatch(t *testing.T, writer string, n int) {
	t.Helper()
	const script = `local ids = {}
for i = 1, #ARGV do ids[i] = redis.call('XADD', KEYS[1], '*', 'data', ARGV[i]) end
return ids`
	for from := 0; from < n; from += 5000 {
		args := make([]any, 0, 5000)
		for i := from; i < min(n, from+5000); i++ {
			rec := testutil.Record(testutil.Key{Writer: writer, Seq: int64(i)}, testutil.Now())
			args = append(args, string(rec[:len(rec)-1]))
		}
		ids, err := a.c.Eval(context.Background(), script, []string{a.key}, args...).StringSlice()
		if err != nil {
			t.Fatalf("XADD to %s: %v", a.key, err)
		}
		a.ids = append(a.ids, ids...)
	}
}

// check fails unless the stream is a suffix of every entry ever added, in order, at least
// redisKeep long (exactly that long with exact set): no kept entry lost or duplicated, and
// what left it left from the front. The appender must be paused.
func (a *appender) check(t *testing.T, when string, exact bool) int {
	t.Helper()
	msgs, err := a.c.XRange(context.Background(), a.key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	n := len(ids)
	switch {
	case n > len(a.ids) || !slices.Equal(ids, a.ids[len(a.ids)-n:]):
		t.Errorf("%s: the stream's %d entries are not the newest %d added, in order: an entry was lost, duplicated or moved",
			when, n, n)
	case n < min(redisKeep, len(a.ids)):
		t.Errorf("%s: the stream has %d entries: kept entries were trimmed (want at least the newest %d)", when, n, redisKeep)
	case exact && n != min(redisKeep, len(a.ids)):
		t.Errorf("%s: the stream has %d entries, want exactly the newest %d", when, n, redisKeep)
	}
	return n
}

func redisParams(t *testing.T, url string) Params {
	return Params{URL: url, Quarantine: filepath.Join(t.TempDir(), "quarantine"), Policy: retention.Policy{MaxRecords: redisKeep}}
}

// redisLive runs the store again and again while the application appends, a batch added
// before each run: after each, the stream is a suffix of what was added, with every kept
// entry; after a run with the application paused, exactly the newest kept.
func redisLive(t *testing.T, h *RedisHarness) {
	url := h.Start(t)
	p := redisParams(t, url)
	s := h.New(p)
	t.Cleanup(func() { _ = s.Close() })
	a := startAppender(t, url, h.Stream)
	for i := range 4 {
		a.pause(t)
		a.addBatch(t, fmt.Sprintf("x%d", i), 5000)
		paused := i == 3
		if !paused {
			a.resume()
		}
		rep, err := s.Compact(context.Background(), backends.Options{})
		if err != nil || rep.Result != report.ResultOK {
			t.Fatalf("round %d: %v (report %+v)", i, err, rep)
		}
		if !paused {
			a.pause(t)
		}
		a.check(t, fmt.Sprintf("after round %d", i), paused)
		a.resume()
	}
}

// redisKillLoop kills a run in a child process at random instants while the application
// appends; after each kill the stream must be a suffix of what was added with every kept
// entry, and a run with the application paused, once the killed run's lock is gone, must
// leave exactly the newest kept.
func redisKillLoop(t *testing.T, h *RedisHarness) {
	n := iterations(t, 4)
	url := h.Start(t)
	p := redisParams(t, url)
	s := h.New(p)
	t.Cleanup(func() { _ = s.Close() })
	a := startAppender(t, url, h.Stream)
	durations := []time.Duration{}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	killed := 0
	for i := -1; i < n; i++ {
		a.pause(t)
		a.addBatch(t, fmt.Sprintf("x%d", i+1), 10000)
		a.resume()
		c := startChild(t, h.Name, p, childOpts{})
		if i < 0 { // calibration: a complete run, to aim the kills
			if o := c.wait(t); o.Err != "" {
				t.Fatalf("calibration run: %s", o.Err)
			}
			durations = append(durations, time.Since(c.start))
			continue
		}
		delay := time.Duration(rng.Int64N(int64(median(durations)) * 11 / 10))
		o, finished, dur := c.killAfter(t, delay)
		when := fmt.Sprintf("iteration %d, killed after %v", i, delay.Round(time.Microsecond))
		if finished {
			durations = append(durations, dur)
			when = fmt.Sprintf("iteration %d, the run finished before the kill at %v", i, delay.Round(time.Microsecond))
			if o.Err != "" {
				t.Errorf("%s: a run under a live appender failed: %s", when, o.Err)
			}
		} else {
			killed++
		}
		a.pause(t)
		a.check(t, when, false)
		// The killed run's lock would expire within its TTL; let it go now.
		if err := a.c.Del(context.Background(), s.LockKey()).Err(); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Compact(context.Background(), backends.Options{})
		if err != nil || rep.Result != report.ResultOK {
			t.Fatalf("%s: the recovering run: %v (report %+v)", when, err, rep)
		}
		a.check(t, when+", after the recovering run", true)
		a.resume()
		if t.Failed() {
			return
		}
	}
	a.pause(t)
	added := len(a.ids)
	a.resume()
	t.Logf("%d runs, %d killed; %d entries added; a complete run took %v (median)", n, killed, added, median(durations).Round(time.Millisecond))
}
