// Package quarantine keeps the lines that compaction takes out of a store because they are not
// records (corrupt JSON, truncated writes, arrays, invalid UTF-8, ...). Nothing is deleted
// silently: each run writes its lines, with where they came from and why, to a file of its own
//
//	<dir>/<store>/<UTC date>/<run id>.ndjson
//
// one JSON object per line:
//
//	{"store":"orders","source":"/var/lib/orders/events.ndjson","offset":1234,"run_id":"…",
//	 "quarantined_at":"2026-11-25T19:00:00Z","reason":"invalid JSON at column 5: …",
//	 "text":"{\"kind\": \"ev","base64":"eyJraW5kIjogImV2"}
//
// base64 holds the exact bytes (without the line terminator); text repeats them when they are
// valid UTF-8 and the line is shorter than 1 MiB. The file is written under a pending name and only takes its final name when the
// run commits, so a run that dies or fails leaves no quarantine behind for lines still in the
// store.
package quarantine

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
)

// bigLine is the length past which a line is quarantined as base64 only, streamed.
const bigLine = 1 << 20

// Entry is one quarantined line.
type Entry struct {
	Store         string `json:"store"`
	Source        string `json:"source"`
	Offset        int64  `json:"offset"`
	RunID         string `json:"run_id"`
	QuarantinedAt string `json:"quarantined_at"`
	Reason        string `json:"reason"`
	Text          string `json:"text,omitempty"`
	Base64        string `json:"base64"`
}

// File collects one run's quarantined lines.
type File struct {
	store, source, runID string
	at                   time.Time
	final, pending       string
	f                    *os.File
	w                    *bufio.Writer
	n                    int64
	created              bool // the pending file exists (even if nothing could be written to it)
}

// New prepares the quarantine file of one run; nothing is created until the first Add.
func New(dir, store, source, runID string, now time.Time) *File {
	day := now.UTC().Format("2006-01-02")
	final := filepath.Join(dir, store, day, runID+".ndjson")
	return &File{
		store: store, source: source, runID: runID, at: now.UTC(),
		final:   final,
		pending: filepath.Join(dir, store, day, "."+runID+".ndjson.pending"),
	}
}

// Add quarantines one line (its bytes without terminator) found at offset for reason.
func (q *File) Add(line []byte, offset int64, reason string) error {
	if len(line) > bigLine {
		// Streamed, without the text copy, so a large line costs no more memory than itself.
		return q.AddStream(bytes.NewReader(line), offset, reason)
	}
	if err := q.open(); err != nil {
		return err
	}
	e := Entry{
		Store: q.store, Source: q.source, Offset: offset, RunID: q.runID,
		QuarantinedAt: q.at.Format(time.RFC3339), Reason: reason,
		Base64: base64.StdEncoding.EncodeToString(line),
	}
	if utf8.Valid(line) {
		e.Text = string(line)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if _, err := q.w.Write(append(b, '\n')); err != nil {
		return errs.Wrap("quarantine", q.pending, err)
	}
	q.n++
	return nil
}

// AddStream quarantines a line too long to hold in memory, read from r; only base64 is
// written for it.
func (q *File) AddStream(r io.Reader, offset int64, reason string) error {
	if err := q.open(); err != nil {
		return err
	}
	head, err := json.Marshal(Entry{
		Store: q.store, Source: q.source, Offset: offset, RunID: q.runID,
		QuarantinedAt: q.at.Format(time.RFC3339), Reason: reason,
	})
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	// head ends with `"base64":""}`: reopen the string, stream into it, close it.
	head = head[:len(head)-2]
	if _, err := q.w.Write(head); err != nil {
		return errs.Wrap("quarantine", q.pending, err)
	}
	enc := base64.NewEncoder(base64.StdEncoding, q.w)
	if _, err := io.Copy(enc, r); err != nil {
		return errs.Wrap("quarantine", q.pending, err)
	}
	if err := enc.Close(); err != nil {
		return errs.Wrap("quarantine", q.pending, err)
	}
	if _, err := q.w.WriteString("\"}\n"); err != nil {
		return errs.Wrap("quarantine", q.pending, err)
	}
	q.n++
	return nil
}

func (q *File) open() error {
	if q.f != nil {
		return nil
	}
	// Every directory created is fsynced, or a power cut could take the quarantine file away
	// with a directory after the run removed its lines from the store.
	if err := atomicfile.MkdirAll(filepath.Dir(q.pending), 0o700); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	// O_EXCL and O_NOFOLLOW: a file, or a link, planted under the pending name is never
	// written through.
	f, err := atomicfile.Create(q.pending, 0o600)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	q.f, q.w, q.created = f, bufio.NewWriterSize(atomicfile.Writer(f), 64<<10), true
	return nil
}

// Count is the number of lines added.
func (q *File) Count() int64 { return q.n }

// Close flushes and fsyncs the pending file. It returns the pending and final names, or empty
// names when nothing was quarantined.
func (q *File) Close() (pending, final string, err error) {
	if q.f == nil {
		return "", "", nil
	}
	err = q.w.Flush()
	if err == nil {
		err = atomicfile.Sync(q.f)
	}
	if cerr := q.f.Close(); err == nil {
		err = cerr
	}
	q.f = nil
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(q.pending))
	}
	if err != nil {
		return "", "", errs.Wrap("quarantine", q.pending, err)
	}
	return q.pending, q.final, nil
}

// Publish closes the file and gives it its final name at once, for runs that must make their
// quarantine durable before they remove anything. It returns the final name, or "" when
// nothing was quarantined.
func (q *File) Publish() (string, error) {
	pending, final, err := q.Close()
	if err != nil || pending == "" {
		return "", err
	}
	if err := atomicfile.Rename(pending, final); err != nil {
		return "", errs.Wrap("quarantine", final, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(final)); err != nil {
		return "", errs.Wrap("quarantine", final, err)
	}
	return final, nil
}

// Discard removes the pending file of a run that will not commit.
func (q *File) Discard() {
	if q.f != nil {
		_ = q.f.Close()
		q.f = nil
	}
	if q.created {
		_ = atomicfile.Remove(q.pending)
	}
}
