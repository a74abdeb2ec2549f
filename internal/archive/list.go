package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry is one published archive of a store, as a listing shows it.
type Entry struct {
	// Name is the archive's full name: a path, or an s3:// URL.
	Name string `json:"name"`
	// Key identifies it for Open: the path, or the object's key.
	Key      string    `json:"-"`
	Size     int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
	Compress Codec     `json:"compress"`
	// Manifest is what the archive's manifest says, nil where it has none (a folder archive).
	Manifest *Info `json:"manifest,omitempty"`
}

// CodecOf is the codec of an archive named name, by its extension.
func CodecOf(name string) (Codec, bool) {
	for _, c := range []Codec{Zstd, Gzip} {
		if strings.HasSuffix(name, ".ndjson"+c.Ext()) {
			return c, true
		}
	}
	return None, strings.HasSuffix(name, ".ndjson")
}

// SortEntries orders entries by publication, then by name.
func SortEntries(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool {
		if !es[i].Modified.Equal(es[j].Modified) {
			return es[i].Modified.Before(es[j].Modified)
		}
		return es[i].Name < es[j].Name
	})
}

// Folder reads the published archives of a folder archive.
type Folder struct{ Dir string }

// List returns store's published archive files, oldest first.
func (f Folder) List(_ context.Context, store string) ([]Entry, error) {
	root := filepath.Join(f.Dir, store)
	var out []Entry
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if !d.Type().IsRegular() || !isArchiveName(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		c, _ := CodecOf(d.Name())
		out = append(out, Entry{Name: p, Key: p, Size: fi.Size(), Modified: fi.ModTime().UTC(), Compress: c})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: list %s: %w", root, err)
	}
	SortEntries(out)
	return out, nil
}

// Open opens an archive file that List returned.
func (f Folder) Open(_ context.Context, e Entry) (io.ReadCloser, error) {
	return os.Open(e.Key)
}

// Verify reads an archive (of codec c) whole: every frame must decode and every line must be a
// record. It returns the archive's description, to compare with its manifest.
func Verify(ctx context.Context, c Codec, r io.Reader) (Info, error) {
	return describe(ctx, c, r, true)
}

// Decode streams the records of an archive of codec c from r to w.
func Decode(c Codec, r io.Reader, w io.Writer) error {
	dec, err := newFrameReader(c, r)
	if err != nil {
		return err
	}
	defer dec.Close()
	_, err = io.Copy(w, dec)
	return err
}

// Mismatch compares an archive's description with its manifest and says how they differ, ""
// when they do not.
func Mismatch(got, manifest Info) string {
	var d []string
	check := func(what string, a, b any) {
		if a != b {
			d = append(d, fmt.Sprintf("%s %v, manifest %v", what, a, b))
		}
	}
	check("bytes", got.Bytes, manifest.Bytes)
	check("sha256", got.SHA256, manifest.SHA256)
	check("records", got.Records, manifest.Records)
	check("raw_bytes", got.RawBytes, manifest.RawBytes)
	check("first_timestamp", got.FirstTimestamp, manifest.FirstTimestamp)
	check("last_timestamp", got.LastTimestamp, manifest.LastTimestamp)
	return strings.Join(d, "; ")
}
