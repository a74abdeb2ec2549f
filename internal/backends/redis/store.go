package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// Backend is the name of this store kind in configs and reports.
const Backend = "redis"

// AgeBasis is where the age rule takes an entry's age from.
type AgeBasis string

// The age bases.
const (
	// AgeByTimestamp judges each entry by its record's "timestamp", as Papyra does.
	AgeByTimestamp AgeBasis = "timestamp"
	// AgeByID judges each entry by its ID's millisecond time: the expired entries are then a
	// prefix of the stream found without reading the entries that stay.
	AgeByID AgeBasis = "id"
)

// GroupMode is how consumer groups limit trimming.
type GroupMode string

// The consumer group modes.
const (
	// GroupsIgnore trims whatever retention drops.
	GroupsIgnore GroupMode = "ignore"
	// GroupsDelivered never trims an entry some group has not been delivered.
	GroupsDelivered GroupMode = "delivered"
	// GroupsAcked never trims an entry some group has not been delivered or has not
	// acknowledged.
	GroupsAcked GroupMode = "acked"
)

// Config describes one redis store.
type Config struct {
	Name string
	// URL is redis://[user[:password]@]host:port/db, rediss://… or unix:///path?db=N.
	URL string
	// PasswordFile, if set, holds the password (its trailing newline is ignored); it replaces a
	// password in URL and is read again at each run, so a rotated password is picked up.
	PasswordFile string
	// Prefix and SystemID name the streams: {prefix}:{system_id}:events, :audits and
	// :dead_letters ("papyra" and "local" if empty).
	Prefix, SystemID string
	Policy           retention.Policy
	AgeBasis         AgeBasis
	// ConsumerGroups is how consumer groups limit trimming (GroupsAcked if empty).
	ConsumerGroups GroupMode
	// ConsumerGroupMaxAge is how old (by entry ID) an entry a group still holds may get before
	// retention wins over the group; 0 means groups always win. Every entry trimmed that a
	// group had not acknowledged is warned about and counted (RecordsTrimmedPastGroups).
	ConsumerGroupMaxAge time.Duration
	// TrimStep is the largest LIMIT of an approximate trim (10000 if zero); each step is sized
	// from the time the steps before it took (see pacer). The server frees whole radix-tree
	// nodes only, so the step used is never below the server's node size.
	TrimStep int
	// ReadCount is the most entries one XRANGE reads (1000 if zero); pages are sized like
	// trim steps.
	ReadCount int
	// Quarantine is the directory of quarantine files.
	Quarantine string
	// Archive, if set, receives the records a run trims before they leave the streams.
	Archive *archive.Config
	// LockTTL is the lock's expiry (30s if zero); the lock is refreshed during the run.
	LockTTL time.Duration

	// Connection behaviour: MaxRetries per command (5 if zero, -1 for none), backoff between
	// retries, and timeouts. The defaults suit a server on the local network.
	MaxRetries      int
	MinRetryBackoff time.Duration
	MaxRetryBackoff time.Duration
	DialTimeout     time.Duration
	CommandTimeout  time.Duration
}

var quietOnce sync.Once

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Store compacts, scans and measures one redis store. It keeps one connection pool for its
// lifetime; Close releases it.
type Store struct {
	cfg Config
	log *zap.Logger
	now func() time.Time

	mu     sync.Mutex
	client *goredis.Client
	pw     string // the password the client was made with

	// hook, when set by tests, is called at points of a run ("page", "trim-step",
	// "before-trim") with the stream's key.
	hook func(point, key string)
	// version, when set by tests, replaces the server's version, to exercise the paths for
	// older servers.
	version *[3]int
}

// New returns a Store. now is the clock (time.Now in production). Nothing is connected until
// the first call that needs the server.
//
// go-redis's own logger, which is process-wide, is silenced: whatever it would print (dial
// failures, mostly) reaches the caller as an error of the run.
func New(cfg Config, log *zap.Logger, now func() time.Time) *Store {
	quietOnce.Do(func() { goredis.SetLogger(quiet{}) })
	cfg.defaults()
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	return &Store{cfg: cfg, log: log.With(zap.String("store", cfg.Name)), now: now}
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close()
	s.client = nil
	return err
}

// Keys returns the three stream keys, in the order events, audits, dead_letters.
func (s *Store) Keys() []string {
	base := s.cfg.Prefix + ":" + s.cfg.SystemID + ":"
	return []string{base + "events", base + "audits", base + "dead_letters"}
}

// LockKey is the key of the store's lock: {prefix}:{system_id}:papyrad:lock. Its value names
// the holder (host, process, random token); it expires after the lock TTL unless refreshed.
func (s *Store) LockKey() string {
	return s.cfg.Prefix + ":" + s.cfg.SystemID + ":papyrad:lock"
}

// conn returns the client, made again when the password file changed, and what the server is.
func (s *Store) conn(ctx context.Context) (*goredis.Client, server, error) {
	pw := ""
	if s.cfg.PasswordFile != "" {
		var err error
		if pw, err = readPasswordFile(s.cfg.PasswordFile); err != nil {
			return nil, server{}, err
		}
	}
	s.mu.Lock()
	if s.client != nil && pw != s.pw {
		_ = s.client.Close()
		s.client = nil
	}
	if s.client == nil {
		opt, err := clientOptions(&s.cfg, pw)
		if err != nil {
			s.mu.Unlock()
			return nil, server{}, err
		}
		s.client, s.pw = goredis.NewClient(opt), pw
	}
	c := s.client
	s.mu.Unlock()
	sv, err := probeServer(ctx, c)
	if err != nil {
		s.reset()
		return nil, sv, s.wrap("connect", err)
	}
	if s.version != nil {
		sv.version = *s.version
	}
	if !sv.atLeast(5, 0) {
		return nil, sv, s.wrap("connect", fmt.Errorf("redis %s: %w (5.0 or later needed)", sv, errs.ErrServerTooOld))
	}
	return c, sv, nil
}

// wrap says which server and which step an error comes from, with every password hidden.
func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	pw := s.pw
	s.mu.Unlock()
	err = scrub(scrub(err, pw), urlPassword(s.cfg.URL))
	return errs.Mark(fmt.Errorf("redis %s: %s: %w", Redact(s.cfg.URL), what, err), errs.ErrRedis)
}

// Compact applies retention to each of the three streams and trims the longest prefix it
// drops, in bounded steps, under the store's lock.
func (s *Store) Compact(ctx context.Context, opts backends.Options) (rep report.Report, err error) {
	start := s.now()
	rep = report.Report{Store: s.cfg.Name, Backend: Backend, DryRun: opts.DryRun, Result: report.ResultOK}
	defer func() { rep.Finish(time.Since(start), err) }()
	if err := s.cfg.Policy.Validate(); err != nil {
		return rep, fmt.Errorf("store %s: retention: %w", s.cfg.Name, err)
	}
	c, sv, err := s.conn(ctx)
	if err != nil {
		return rep, err
	}
	defer func() {
		if err != nil {
			// After a connection failure the pool may hold broken connections or a cached
			// dial error: the next run starts with a new one. (Deferred before the lock's
			// release, so it runs after it.)
			s.reset()
		}
	}()
	r := &run{s: s, c: c, sv: sv, opts: opts, start: start, rep: &rep, runID: atomicfile.NewRunID()}
	if !opts.DryRun {
		l, err := acquireLock(ctx, c, s.LockKey(), s.cfg.LockTTL)
		if err != nil {
			if errors.Is(err, errs.ErrLocked) {
				rep.Result, rep.Reason = report.ResultSkipped, "locked"
			}
			return rep, s.wrap("lock "+s.LockKey(), err)
		}
		r.lock = l
		defer func() {
			if rerr := l.release(ctx); rerr != nil {
				s.log.Warn("releasing the store's lock failed; it expires by itself", zap.String("key", s.LockKey()),
					zap.Duration("ttl", s.cfg.LockTTL), zap.Error(s.wrap("unlock", rerr)))
			}
		}()
		if s.cfg.Archive != nil {
			if err := r.recoverArchive(ctx); err != nil {
				return rep, err
			}
		}
	}
	err = r.compact(ctx)
	if err == nil {
		backends.PruneArchive(&rep, s.cfg.Archive, s.cfg.Name, s.now())
	}
	s.summary(&rep, time.Since(start), err)
	return rep, err
}

// reset drops the client; the next call makes a new one.
func (s *Store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		_ = s.client.Close()
		s.client = nil
	}
}

// summary logs the one line a run leaves.
func (s *Store) summary(rep *report.Report, elapsed time.Duration, err error) {
	fields := []zap.Field{
		zap.Bool("dry_run", rep.DryRun),
		zap.Int64("records_before", rep.RecordsBefore), zap.Int64("records_after", rep.RecordsAfter),
		zap.Int64("records_dropped", rep.RecordsDropped), zap.Int64("records_quarantined", rep.RecordsQuarantined),
		zap.Int64("records_unreclaimed", rep.RecordsUnreclaimed),
		zap.Int64("bytes_before", rep.BytesBefore), zap.Int64("bytes_after", rep.BytesAfter),
		zap.Int("warnings", len(rep.Warnings)), zap.Duration("elapsed", elapsed),
	}
	// The caller logs the run's summary line; this one is for debugging the backend.
	if err != nil {
		s.log.Debug("compaction failed", append(fields, zap.Error(err))...)
		return
	}
	s.log.Debug("compaction done", fields...)
}
