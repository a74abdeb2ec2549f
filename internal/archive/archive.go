package archive

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
)

// Codec is an archive's compression.
type Codec string

// The codecs.
const (
	Zstd Codec = "zstd"
	Gzip Codec = "gzip"
	None Codec = "none"
)

// Ext is the extension the codec adds after ".ndjson".
func (c Codec) Ext() string {
	switch c {
	case Zstd:
		return ".zst"
	case Gzip:
		return ".gz"
	}
	return ""
}

// ParseCodec checks a codec name.
func ParseCodec(s string) (Codec, error) {
	switch c := Codec(s); c {
	case Zstd, Gzip, None:
		return c, nil
	}
	return "", fmt.Errorf("unknown compression %q (want zstd, gzip or none)", s)
}

// Config says where and how a store's dropped records are archived.
type Config struct {
	// Dir is the archive root; each store has a directory of its own below it.
	Dir      string
	Compress Codec
	// MaxAge is how long archive files are kept; 0 keeps them forever.
	MaxAge time.Duration
	// Remote, when set, is where archives are published; Dir then only holds sealed archives
	// until they are (see Remote).
	Remote Remote
}

// Part is one compressed frame of an archive file: the dropped records of one segment, stream
// or file, at bytes [Off, End) of the file.
type Part struct {
	Key     string `json:"key"`
	Off     int64  `json:"off"`
	End     int64  `json:"end"`
	Records int64  `json:"records"`
}

// Keep says what of a part to publish once the store has changed.
type Keep struct {
	// Whole publishes the whole part: the store has lost all its records.
	Whole bool
	// Line, when Whole is false, publishes the part's lines for which it returns true (the
	// records the store has lost); nil publishes none of them.
	Line func(line []byte) bool
}

// manifest lists the parts of a sealed archive; its presence means the run may have changed
// the store.
type manifest struct {
	RunID    string `json:"run_id"`
	Compress Codec  `json:"compress"`
	Final    string `json:"final"`
	Parts    []Part `json:"parts"`
	// Day is the run's start, which names a remote archive's final object.
	Day time.Time `json:"day"`
	// Info describes the sealed file, staged to the remote (nil for a folder archive).
	Info *Info `json:"info,omitempty"`
}

// Writer writes the archive of one run.
type Writer struct {
	cfg   Config
	dir   string
	store string
	runID string
	m     manifest

	f   *os.File
	cw  countingWriter
	bw  *bufio.Writer
	enc frameWriter
	cur *Part
	// last is the last byte written to the current part, to end a raw copy with a newline.
	last byte

	created, sealed bool
	// durable is set once Seal has made an archive with records durable: the store may
	// change from then on.
	durable bool
	// st describes what was written, for a Remote's manifest (nil for a folder archive).
	st *stats
}

// NewWriter prepares the archive of run runID of store; nothing is created until the first
// part begins.
func NewWriter(cfg Config, store, runID string, now time.Time) *Writer {
	dir := filepath.Join(cfg.Dir, store, now.UTC().Format("2006-01-02"))
	return &Writer{
		cfg: cfg, dir: dir, store: store, runID: runID,
		m: manifest{RunID: runID, Compress: cfg.Compress, Final: runID + ".ndjson" + cfg.Compress.Ext(), Day: now.UTC()},
	}
}

func (w *Writer) pendingPath() string { return pendingName(w.dir, w.m.Final) }

func pendingName(dir, final string) string { return filepath.Join(dir, "."+final+".pending") }

func manifestName(dir, runID string) string { return filepath.Join(dir, "."+runID+".manifest") }

// Begin starts the part of key; the previous part, if any, ends.
func (w *Writer) Begin(key string) error {
	if w.sealed {
		return errors.New("archive: Begin after Seal")
	}
	if err := w.endPart(); err != nil {
		return err
	}
	if w.f == nil {
		// The day's and the store's directories may be new: MkdirAll makes their names durable
		// too, or a power cut could take the sealed archive away with them.
		if err := atomicfile.MkdirAll(w.dir, 0o700); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		f, err := atomicfile.Create(w.pendingPath(), 0o600)
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		w.f, w.created = f, true
		w.cw = countingWriter{w: atomicfile.Writer(f)}
		if w.cfg.Remote != nil {
			w.st = newStats()
			w.cw.w = io.MultiWriter(w.cw.w, w.st.sha, w.st.md5)
		}
		w.bw = bufio.NewWriterSize(&w.cw, 256<<10)
		enc, err := newFrameWriter(w.cfg.Compress, w.bw)
		if err != nil {
			return err
		}
		w.enc = enc
	} else {
		w.enc.Reset(w.bw)
	}
	w.cur = &Part{Key: key, Off: w.cw.n}
	w.last = '\n'
	return nil
}

// Write archives one record line as it is in the store; a line without a terminator gets a
// newline, so that the next record starts a line of its own.
func (w *Writer) Write(line []byte) error {
	if w.cur == nil {
		return errors.New("archive: Write outside a part")
	}
	if len(line) == 0 {
		return nil
	}
	if _, err := w.enc.Write(line); err != nil {
		return w.wrap(err)
	}
	added := false
	if c := line[len(line)-1]; c != '\n' && c != '\r' {
		if _, err := w.enc.Write([]byte{'\n'}); err != nil {
			return w.wrap(err)
		}
		added = true
	}
	if w.st != nil {
		w.st.record(line, added)
	}
	w.cur.Records++
	return nil
}

// Copy archives the contents of r as they are (a segment whose records all go), counting
// records lines; it ends them with a newline if they do not end with one.
func (w *Writer) Copy(r io.Reader, records int64) error {
	if w.cur == nil {
		return errors.New("archive: Copy outside a part")
	}
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.enc.Write(buf[:n]); werr != nil {
				return w.wrap(werr)
			}
			w.last = buf[n-1]
			if w.st != nil {
				w.st.stream(buf[:n])
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("archive: read: %w", err)
		}
	}
	if w.last != '\n' && w.last != '\r' {
		if _, err := w.enc.Write([]byte{'\n'}); err != nil {
			return w.wrap(err)
		}
		if w.st != nil {
			w.st.stream([]byte{'\n'})
		}
	}
	w.cur.Records += records
	return nil
}

func (w *Writer) endPart() error {
	if w.cur == nil {
		return nil
	}
	if err := w.enc.Close(); err != nil {
		return w.wrap(err)
	}
	if err := w.bw.Flush(); err != nil {
		return w.wrap(err)
	}
	w.cur.End = w.cw.n
	if w.cur.Records > 0 {
		w.m.Parts = append(w.m.Parts, *w.cur)
	}
	w.cur = nil
	return nil
}

// Parts lists the parts ended so far (all of them once sealed).
func (w *Writer) Parts() []Part { return w.m.Parts }

// Seal makes the archive durable: the file is fsynced, then (with a Remote) staged and checked
// there, then the manifest is written and fsynced, then the directory. After Seal returns the
// store may be changed; before, it must not be. A Writer that archived nothing seals to
// nothing.
func (w *Writer) Seal(ctx context.Context) error {
	if w.sealed {
		return nil
	}
	if err := w.endPart(); err != nil {
		return err
	}
	w.sealed = true
	if w.f == nil {
		return nil
	}
	err := atomicfile.Sync(w.f)
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return w.wrap(err)
	}
	if len(w.m.Parts) == 0 {
		w.Discard()
		return nil
	}
	if w.cfg.Remote != nil {
		if err := w.stage(ctx); err != nil {
			return err
		}
	}
	b, err := json.Marshal(w.m)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := atomicfile.WriteFile(manifestName(w.dir, w.runID), b, 0o600); err != nil {
		return fmt.Errorf("archive: seal: %w", err)
	}
	w.durable = true
	return nil
}

// Publish gives the sealed archive its final name, keeping of each part what lost says the
// store has lost. It returns the final path ("" when nothing was published) and the number of
// records in it. If lost fails for any part, nothing is touched: publishing without knowing
// could leave out records that are gone, so the archive stays sealed for the next run's
// Recover.
func (w *Writer) Publish(ctx context.Context, lost func(Part) (Keep, error)) (final string, records int64, err error) {
	if !w.sealed {
		return "", 0, errors.New("archive: Publish before Seal")
	}
	if len(w.m.Parts) == 0 {
		return "", 0, nil
	}
	decisions, err := decide(w.m.Parts, lost)
	if err != nil {
		return "", 0, fmt.Errorf("archive %s stays pending for the next run: %w", w.pendingPath(), err)
	}
	if w.cfg.Remote != nil {
		return publishRemote(ctx, w.cfg.Remote, w.store, w.dir, w.m, decisions)
	}
	return publish(w.dir, w.m, decisions)
}

// decide asks lost about every part before anything is published.
func decide(parts []Part, lost func(Part) (Keep, error)) ([]Keep, error) {
	decisions := make([]Keep, len(parts))
	for i, p := range parts {
		var err error
		if decisions[i], err = lost(p); err != nil {
			return nil, err
		}
	}
	return decisions, nil
}

// Discard removes what a run that fails before Seal returned wrote. Once Seal has made an
// archive with records durable the store may change, and Discard leaves it: Publish, or the
// next run's Recover, decides what of it the store lost.
func (w *Writer) Discard() {
	if w.durable {
		return
	}
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
	if w.created {
		_ = atomicfile.Remove(manifestName(w.dir, w.runID))
		_ = atomicfile.Remove(w.pendingPath())
		w.created = false
	}
}

func (w *Writer) wrap(err error) error {
	return errs.Wrap("archive", w.pendingPath(), err)
}

// publish writes the parts of dir's pending archive m that decisions keep under its final
// name and removes the pending file and the manifest, in that order.
func publish(dir string, m manifest, decisions []Keep) (final string, records int64, err error) {
	final = filepath.Join(dir, m.Final)
	pending := pendingName(dir, m.Final)
	mname := manifestName(dir, m.RunID)
	if _, err := os.Lstat(final); err == nil {
		// An earlier publish got as far as the rename.
		return final, 0, cleanup(dir, pending, mname)
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
	switch {
	case none:
		return "", 0, cleanup(dir, pending, mname)
	case whole:
		if err := atomicfile.Rename(pending, final); err != nil {
			return "", 0, fmt.Errorf("archive: publish: %w", err)
		}
	default:
		n, err := rebuild(dir, m, decisions, pending, final)
		if err != nil {
			return "", 0, err
		}
		records = n
		if records == 0 {
			return "", 0, cleanup(dir, pending, mname)
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return "", 0, fmt.Errorf("archive: %w", err)
	}
	return final, records, cleanup(dir, pending, mname)
}

// rebuild writes the kept parts of pending to a new file and renames it to final.
func rebuild(dir string, m manifest, decisions []Keep, pending, final string) (records int64, err error) {
	tmp := filepath.Join(dir, "."+m.RunID+".publish")
	records, err = rebuildTo(dir, m, decisions, pending, tmp)
	if err != nil || records == 0 {
		return 0, err
	}
	if err := atomicfile.Rename(tmp, final); err != nil {
		_ = atomicfile.Remove(tmp)
		return 0, fmt.Errorf("archive: publish: %w", err)
	}
	return records, nil
}

// rebuildTo writes the kept parts of pending to tmp, durably; it leaves no tmp when it fails
// or when nothing is kept.
func rebuildTo(dir string, m manifest, decisions []Keep, pending, tmp string) (records int64, err error) {
	src, err := os.Open(pending)
	if err != nil {
		return 0, fmt.Errorf("archive: publish: %w", err)
	}
	defer src.Close()
	_ = atomicfile.Remove(tmp)
	dst, err := atomicfile.Create(tmp, 0o600)
	if err != nil {
		return 0, fmt.Errorf("archive: publish: %w", err)
	}
	defer func() {
		if dst != nil {
			_ = dst.Close()
			_ = atomicfile.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(atomicfile.Writer(dst), 256<<10)
	for i, p := range m.Parts {
		d := decisions[i]
		section := io.NewSectionReader(src, p.Off, p.End-p.Off)
		switch {
		case d.Whole:
			if _, err := io.Copy(bw, section); err != nil {
				return 0, fmt.Errorf("archive: publish: %w", err)
			}
			records += p.Records
		case d.Line != nil:
			n, err := filterPart(m.Compress, section, bw, d.Line)
			if err != nil {
				return 0, fmt.Errorf("archive: publish part %s: %w", p.Key, err)
			}
			records += n
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("archive: publish: %w", err)
	}
	if err := atomicfile.Sync(dst); err != nil {
		return 0, fmt.Errorf("archive: publish: %w", err)
	}
	if err := dst.Close(); err != nil {
		dst = nil
		_ = atomicfile.Remove(tmp)
		return 0, fmt.Errorf("archive: publish: %w", err)
	}
	dst = nil
	if records == 0 {
		_ = atomicfile.Remove(tmp)
		return 0, nil
	}
	return records, nil
}

// filterPart decodes one part and writes the lines keep accepts as a new frame.
func filterPart(c Codec, r io.Reader, w io.Writer, keep func([]byte) bool) (int64, error) {
	dec, err := newFrameReader(c, r)
	if err != nil {
		return 0, err
	}
	defer dec.Close()
	enc, err := newFrameWriter(c, w)
	if err != nil {
		return 0, err
	}
	br := bufio.NewReaderSize(dec, 256<<10)
	var n int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && keep(line) {
			if _, werr := enc.Write(line); werr != nil {
				return 0, werr
			}
			n++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	return n, enc.Close()
}

func cleanup(dir, pending, mname string) error {
	if err := atomicfile.Remove(pending); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("archive: %w", err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := atomicfile.Remove(mname); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// countingWriter counts the bytes that reach the file.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// frameWriter writes one compressed frame per Reset/Close.
type frameWriter interface {
	io.Writer
	Close() error
	Reset(io.Writer)
}

func newFrameWriter(c Codec, w io.Writer) (frameWriter, error) {
	switch c {
	case Zstd:
		// One encoder goroutine: the run's classification already keeps every core busy, and
		// zstd's parallel blocks only add contention there (1.2x instead of 1.45x the time of
		// a run without archive, measured by bench/BenchmarkJSONArchive).
		enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("archive: zstd: %w", err)
		}
		return enc, nil
	case Gzip:
		enc, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if err != nil {
			return nil, fmt.Errorf("archive: gzip: %w", err)
		}
		return enc, nil
	case None:
		return &plainWriter{w: w}, nil
	}
	return nil, fmt.Errorf("archive: unknown compression %q", c)
}

type plainWriter struct{ w io.Writer }

func (p *plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *plainWriter) Close() error                { return nil }
func (p *plainWriter) Reset(w io.Writer)           { p.w = w }

func newFrameReader(c Codec, r io.Reader) (io.ReadCloser, error) {
	switch c {
	case Zstd:
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return dec.IOReadCloser(), nil
	case Gzip:
		dec, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return dec, nil
	case None:
		return io.NopCloser(r), nil
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// isArchiveName reports whether base is a published archive file's name.
func isArchiveName(base string) bool {
	if strings.HasPrefix(base, ".") {
		return false
	}
	for _, c := range []Codec{Zstd, Gzip, None} {
		if strings.HasSuffix(base, ".ndjson"+c.Ext()) {
			return true
		}
	}
	return false
}
