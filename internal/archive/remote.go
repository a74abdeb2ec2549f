package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// Remote is an archive destination off the host (an object store). A run's sealed archive is
// staged there before the store changes, and the final object is made there once the store
// has lost its records; the local directory only holds the sealed file and its manifest until
// then.
type Remote interface {
	// Stage uploads f, the sealed archive that info describes, as o's staged object and
	// checks the size and checksum the server stored. An upload that fails leaves no
	// incomplete upload behind when the server can still be reached.
	Stage(ctx context.Context, o Object, f *os.File) error
	// Publish makes o's final object and its manifest object out of f, or out of the staged
	// object when staged says f is what was staged, and checks the final object's size and
	// checksum. A final object already there (an earlier publish finished it) is left as it
	// is.
	Publish(ctx context.Context, o Object, f *os.File, staged bool) error
	// Unstage removes o's staged object; one that is not there is not an error.
	Unstage(ctx context.Context, o Object) error
	// Clean removes every staged object and incomplete upload of store: the caller holds the
	// store's lock and has no sealed archive of store left.
	Clean(ctx context.Context, store string) (int, error)
	// Name is how reports and logs name o's final object (a URL without credentials).
	Name(o Object) string
}

// Object names a run's archive in a Remote.
type Object struct {
	Store string
	RunID string
	// Day is the run's start; the final object lives under its UTC date.
	Day time.Time
	// Ext is the codec's extension after ".ndjson".
	Ext string
	// Info describes the content of the object to publish.
	Info Info
}

// Info is the manifest of one published archive: what an auditor checks an object against.
type Info struct {
	Store    string `json:"store"`
	RunID    string `json:"run_id"`
	Compress Codec  `json:"compress"`
	Records  int64  `json:"records"`
	// FirstTimestamp and LastTimestamp are the "timestamp" values of the first and the last
	// record, as the records hold them ("" when a record has none).
	FirstTimestamp string `json:"first_timestamp,omitempty"`
	LastTimestamp  string `json:"last_timestamp,omitempty"`
	// Bytes is the object's size; RawBytes the size of the records it holds, uncompressed.
	Bytes    int64  `json:"bytes"`
	RawBytes int64  `json:"raw_bytes"`
	SHA256   string `json:"sha256"`
	// MD5 is the object's MD5 (hex), which S3 servers use for the ETag of a single upload.
	MD5 string `json:"md5"`
}

// Describe reads an archive file (or object) of codec c from r and returns its manifest:
// sizes, digests, records (lines) and the first and last records' timestamps. A first or last
// line that is not a record fails it (Verify checks every line).
func Describe(ctx context.Context, c Codec, r io.Reader) (Info, error) {
	return describe(ctx, c, r, false)
}

func describe(ctx context.Context, c Codec, r io.Reader, all bool) (Info, error) {
	info := Info{Compress: c}
	sh, mh := sha256.New(), md5.New()
	cr := &countingReader{r: io.TeeReader(r, io.MultiWriter(sh, mh))}
	dec, err := newFrameReader(c, bufio.NewReaderSize(cr, 256<<10))
	if err != nil {
		return info, err
	}
	defer dec.Close()
	br := bufio.NewReaderSize(dec, 256<<10)
	var last []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A record longer than the buffer: gather it whole.
			whole := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				whole = append(whole, line...)
			}
			line = whole
		}
		info.RawBytes += int64(len(line))
		// A blank line (a fully expired segment is archived as it is) is not a record.
		if len(bytes.TrimSpace(line)) > 0 {
			info.Records++
			if info.Records == 1 || all {
				ts, terr := timestampOf(line)
				if terr != nil {
					return info, fmt.Errorf("record %d: %w", info.Records, terr)
				}
				if info.Records == 1 {
					info.FirstTimestamp = ts
				}
			}
			last = append(last[:0], line...)
			if info.Records%65536 == 0 && ctx.Err() != nil {
				return info, ctx.Err()
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return info, fmt.Errorf("decompress: %w", err)
		}
	}
	if info.Records > 0 {
		if info.LastTimestamp, err = timestampOf(last); err != nil {
			return info, fmt.Errorf("record %d: %w", info.Records, err)
		}
	}
	// What the decoder did not need (nothing, for a whole archive) still counts in the digests.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return info, err
	}
	info.Bytes = cr.n
	info.SHA256 = hex.EncodeToString(sh.Sum(nil))
	info.MD5 = hex.EncodeToString(mh.Sum(nil))
	return info, nil
}

// timestampOf returns the record's top-level "timestamp" as text, "" when it has none.
func timestampOf(line []byte) (string, error) {
	c := pyjson.Classify(line, false)
	if c.Kind != retention.Record {
		return "", fmt.Errorf("not a record: %s", c.Reason)
	}
	switch c.Timestamp.Kind {
	case retention.TimestampMissing, retention.TimestampNull:
		return "", nil
	}
	return c.Timestamp.String(), nil
}

// describeFile describes the archive file at path.
func describeFile(ctx context.Context, c Codec, path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	info, err := Describe(ctx, c, f)
	if err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// stats describes what a Writer wrote as it writes it, so that staging need not read the
// sealed file again: the digests of the bytes that reach the file, the uncompressed size, and
// the first and last records.
type stats struct {
	sha, md5    hash.Hash
	raw         int64
	first, last []byte
	// tail is what Copy streamed since its last newline.
	tail []byte
}

func newStats() *stats { return &stats{sha: sha256.New(), md5: md5.New()} }

// record notes a record that Write wrote (with a newline after it when added).
func (s *stats) record(line []byte, added bool) {
	s.raw += int64(len(line))
	if added {
		s.raw++
	}
	s.line(line)
}

// stream notes bytes that Copy wrote.
func (s *stats) stream(b []byte) {
	s.raw += int64(len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.tail = append(s.tail, b...)
			return
		}
		line := b[:i+1]
		if len(s.tail) > 0 {
			s.tail = append(s.tail, line...)
			line = s.tail
		}
		s.line(line)
		s.tail = s.tail[:0]
		b = b[i+1:]
	}
}

// line keeps a line that is not blank as the first or the last.
func (s *stats) line(l []byte) {
	if len(bytes.TrimSpace(l)) == 0 {
		return
	}
	if s.first == nil {
		s.first = bytes.Clone(l)
	}
	s.last = append(s.last[:0], l...)
}

// info is the manifest of the sealed file: records as the parts count them.
func (w *Writer) info() Info {
	info := Info{Store: w.store, RunID: w.runID, Compress: w.cfg.Compress, Bytes: w.cw.n, RawBytes: w.st.raw,
		SHA256: hex.EncodeToString(w.st.sha.Sum(nil)), MD5: hex.EncodeToString(w.st.md5.Sum(nil))}
	for _, p := range w.m.Parts {
		info.Records += p.Records
	}
	// A line that is not a record (a line end Python reads and this split does not) leaves
	// a timestamp out rather than fail the run.
	info.FirstTimestamp, _ = timestampOf(w.st.first)
	info.LastTimestamp, _ = timestampOf(w.st.last)
	return info
}

// stage uploads the sealed pending file to the remote before the store changes; its
// description goes into the manifest.
func (w *Writer) stage(ctx context.Context) error {
	info := w.info()
	w.m.Info = &info
	f, err := os.Open(w.pendingPath())
	if err != nil {
		return w.wrap(err)
	}
	defer f.Close()
	if err := w.cfg.Remote.Stage(ctx, w.m.object(w.store), f); err != nil {
		return fmt.Errorf("archive: stage run %s: %w", w.runID, err)
	}
	return nil
}

// object is the remote object of m, an archive of store.
func (m manifest) object(store string) Object {
	o := Object{Store: store, RunID: m.RunID, Day: m.Day, Ext: ".ndjson" + m.Compress.Ext()}
	if m.Info != nil {
		o.Info = *m.Info
	}
	return o
}

// publishRemote publishes the parts of dir's sealed archive m that decisions keep to the
// remote r, then removes the staged object and the local files.
func publishRemote(ctx context.Context, r Remote, store, dir string, m manifest, decisions []Keep) (final string, records int64, err error) {
	pending := pendingName(dir, m.Final)
	mname := manifestName(dir, m.RunID)
	o := m.object(store)
	if m.Info == nil {
		return "", 0, fmt.Errorf("archive: %s names no staged object; move it away to go on", mname)
	}
	whole, none := true, true
	for i, p := range m.Parts {
		if decisions[i].Whole {
			records += p.Records
			none = false
		} else {
			whole = false
			if decisions[i].Line != nil {
				none = false
			}
		}
	}
	if _, err := os.Lstat(pending); errors.Is(err, os.ErrNotExist) {
		// The local files go only once the final object is published (when the store lost
		// anything) and the staged one removed: an earlier publish got as far as removing
		// the sealed file.
		if none {
			return "", 0, cleanup(dir, pending, mname)
		}
		return r.Name(o), 0, cleanup(dir, pending, mname)
	}
	switch {
	case none:
		records = 0
	case whole:
		f, err := os.Open(pending)
		if err != nil {
			return "", 0, fmt.Errorf("archive: publish: %w", err)
		}
		err = r.Publish(ctx, o, f, true)
		f.Close()
		if err != nil {
			return "", 0, fmt.Errorf("archive: publish run %s: %w", m.RunID, err)
		}
		final = r.Name(o)
	default:
		tmp := filepath.Join(dir, "."+m.RunID+".publish")
		n, err := rebuildTo(dir, m, decisions, pending, tmp)
		if err != nil {
			return "", 0, err
		}
		defer os.Remove(tmp)
		if records = n; records > 0 {
			info, err := describeFile(ctx, m.Compress, tmp)
			if err != nil {
				return "", 0, fmt.Errorf("archive: publish: %w", err)
			}
			info.Store, info.RunID = store, m.RunID
			o.Info = info
			f, err := os.Open(tmp)
			if err != nil {
				return "", 0, fmt.Errorf("archive: publish: %w", err)
			}
			err = r.Publish(ctx, o, f, false)
			f.Close()
			if err != nil {
				return "", 0, fmt.Errorf("archive: publish run %s: %w", m.RunID, err)
			}
			final = r.Name(o)
		}
	}
	if err := r.Unstage(ctx, o); err != nil {
		return "", 0, fmt.Errorf("archive: remove the staged archive of run %s: %w", m.RunID, err)
	}
	return final, records, cleanup(dir, pending, mname)
}
