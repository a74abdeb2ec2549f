package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/retention"
)

// The archive of a redis store holds one line per trimmed record,
//
//	{"id":"1732528800000-0","stream":"papyra:local:events","data":{…the record…}}
//
// with the record's data field embedded as it is stored, byte for byte, so that an archive
// can be read back with the stream's own IDs and replayed with XADD. (A record whose JSON has
// line breaks between its tokens, which Papyra never writes, has them turned into spaces to
// stay on one line.) Each stream is one part of the archive; what the stream has lost is told
// by its first entry after the run: the part's entries below it are gone.

// archiveLine is one trimmed record's archive line.
func archiveLine(buf []byte, x id, key string, data []byte) []byte {
	buf = append(buf[:0], `{"id":"`...)
	buf = append(buf, x.String()...)
	buf = append(buf, `","stream":`...)
	k, _ := json.Marshal(key)
	buf = append(buf, k...)
	buf = append(buf, `,"data":`...)
	start := len(buf)
	buf = append(buf, bytes.TrimSpace(data)...)
	for i := start; i < len(buf); i++ {
		if buf[i] == '\n' || buf[i] == '\r' {
			buf[i] = ' '
		}
	}
	return append(buf, "}\n"...)
}

// lineID is the entry ID an archive line starts with.
func lineID(line []byte) (id, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"id":"`))
	if !ok {
		return id{}, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return id{}, false
	}
	x, err := parseID(string(rest[:end]))
	return x, err == nil
}

// archive writes every record the run is about to trim to the run's archive and seals it:
// nothing is trimmed before it returns. Non-records go to quarantine instead.
func (r *run) archive(ctx context.Context, results []*streamResult) (*archive.Writer, error) {
	cfg := &r.s.cfg
	w := archive.NewWriter(*cfg.Archive, cfg.Name, r.runID, r.start)
	var line []byte
	for _, res := range results {
		sp := res.sp
		if res.final.pos == 0 {
			continue
		}
		if err := w.Begin(sp.key); err != nil {
			w.Discard()
			return nil, fmt.Errorf("store %s: %w", cfg.Name, err)
		}
		var writeErr error
		err := r.readRange(ctx, sp.key, sp.ids.at(res.final.pos-1), "archive", func(e *entry) error {
			l, data, _ := entryLine(nil, e, false)
			if l.Kind != retention.Record {
				return nil // quarantined instead
			}
			line = archiveLine(line, e.id, sp.key, data)
			writeErr = w.Write(line)
			return writeErr
		}, nil)
		if err != nil {
			w.Discard()
			if writeErr != nil {
				return nil, fmt.Errorf("store %s: %w", cfg.Name, writeErr)
			}
			return nil, r.s.wrap("read "+sp.key+" for the archive", err)
		}
	}
	if err := w.Seal(ctx); err != nil {
		w.Discard()
		return nil, fmt.Errorf("store %s: %w", cfg.Name, err)
	}
	return w, nil
}

// lost says what a stream has lost of an archive part (keyed by the stream): the entries
// below its first entry.
func (r *run) lost(ctx context.Context, p archive.Part) (archive.Keep, error) {
	key := p.Key
	msgs, err := r.c.XRangeN(ctx, key, "-", "+", 1).Result()
	if err != nil && err != goredis.Nil {
		return archive.Keep{}, r.s.wrap("read the head of "+key, err)
	}
	if len(msgs) == 0 {
		return archive.Keep{Whole: true}, nil
	}
	head, err := parseID(msgs[0].ID)
	if err != nil {
		return archive.Keep{}, r.s.wrap("read the head of "+key, err)
	}
	return archive.Keep{Line: func(line []byte) bool {
		x, ok := lineID(line)
		return ok && x.less(head)
	}}, nil
}

// publishArchive publishes what the streams lost of the run's sealed archive.
func (r *run) publishArchive(ctx context.Context, w *archive.Writer) {
	final, n, err := w.Publish(ctx, func(p archive.Part) (archive.Keep, error) { return r.lost(ctx, p) })
	if err != nil {
		r.rep.Warnings = append(r.rep.Warnings, "the run's archive is not published yet: "+err.Error())
		return
	}
	r.rep.ArchiveFile, r.rep.RecordsArchived = final, n
}

// recoverArchive publishes or removes the archives of runs that died, by what the streams
// have lost since.
func (r *run) recoverArchive(ctx context.Context) error {
	cfg := &r.s.cfg
	rec, err := archive.Recover(ctx, *cfg.Archive, cfg.Name, func(p archive.Part) (archive.Keep, error) { return r.lost(ctx, p) })
	if err != nil {
		return fmt.Errorf("store %s: %w", cfg.Name, err)
	}
	if len(rec.Published) > 0 || rec.Removed > 0 {
		r.s.log.Info("recovered the archives of interrupted runs", zap.Strings("published", rec.Published),
			zap.Int64("records", rec.Records), zap.Int("removed", rec.Removed))
	}
	return nil
}
