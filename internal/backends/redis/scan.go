package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// Scan reads the three streams whole, read-only, and reports every entry whose data Papyra
// would not read as a record as CORRUPTED_LINE, with the stream's key as its path and the entry
// ID and the reason in its detail. Papyra's own scan looks at the newest 1000 entries of each
// stream; this one looks at all of them, in pages.
func (s *Store) Scan(ctx context.Context) ([]report.Anomaly, error) {
	c, sv, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	r := &run{s: s, c: c, sv: sv, start: s.now()}
	keys := s.Keys()
	exists, err := r.checkTypes(ctx, keys)
	if err != nil {
		return nil, s.wrap("check keys", err)
	}
	var out []report.Anomaly
	for i, k := range keys {
		if !exists[i] {
			continue
		}
		sp := &streamPlan{key: k}
		if err := r.snapshot(ctx, sp); err != nil {
			return out, s.wrap("read "+k, err)
		}
		if sp.length == 0 {
			continue
		}
		err := r.readRange(ctx, k, sp.last, "page", func(e *entry) error {
			l, _, _ := entryLine(nil, e, false)
			if l.Kind == retention.NonRecord {
				out = append(out, report.Anomaly{Type: report.CorruptedLine, Path: k,
					Detail: fmt.Sprintf("entry %s: %s", e.id, l.Reason)})
			}
			return nil
		}, nil)
		if err != nil {
			return out, s.wrap("read "+k, err)
		}
	}
	return out, nil
}

// Traffic returns how many entries have been added to the three streams since they were
// created (XINFO STREAM entries-added, Redis 7.0+): sampled twice, the difference over the
// interval is the store's write rate. Servers before 7.0 do not count additions; there it
// returns the streams' summed length instead, which follows additions as long as nothing trims
// the streams during the sample.
func (s *Store) Traffic(ctx context.Context) (entriesAdded uint64, err error) {
	c, sv, err := s.conn(ctx)
	if err != nil {
		return 0, err
	}
	for _, k := range s.Keys() {
		if !sv.atLeast(7, 0) {
			n, err := c.XLen(ctx, k).Result()
			if err != nil {
				return 0, s.wrap("XLEN "+k, err)
			}
			entriesAdded += uint64(max(n, 0))
			continue
		}
		info, err := c.XInfoStream(ctx, k).Result()
		switch {
		case err != nil && isNoSuchKey(err):
			continue
		case err != nil:
			return 0, s.wrap("XINFO STREAM "+k, err)
		}
		entriesAdded += uint64(max(info.EntriesAdded, 0))
	}
	return entriesAdded, nil
}

// Activity is Traffic in the form of the daemon's traffic guard: records written, and 0 bytes
// (a stream's byte growth is not counted by the server).
func (s *Store) Activity(ctx context.Context) (records, bytes uint64, err error) {
	n, err := s.Traffic(ctx)
	return n, 0, err
}

func isNoSuchKey(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && containsFold(re.Error(), "no such key")
}
