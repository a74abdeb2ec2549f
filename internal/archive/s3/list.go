package s3

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/papyrad/papyrad/internal/archive"
)

// List returns store's published archive objects, each with its manifest, oldest first. An
// object whose manifest cannot be read is listed without one.
func (r *Remote) List(ctx context.Context, store string) ([]archive.Entry, error) {
	prefix := r.key(store) + "/"
	var out []archive.Entry
	for obj := range r.core.ListObjectsIter(ctx, r.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, r.wrap("list", prefix, obj.Err)
		}
		c, ok := archive.CodecOf(obj.Key)
		if !ok {
			continue
		}
		e := archive.Entry{Name: "s3://" + r.cfg.Bucket + "/" + obj.Key, Key: obj.Key, Size: obj.Size, Modified: obj.LastModified.UTC(), Compress: c}
		if m, err := r.manifest(ctx, obj.Key); err == nil {
			e.Manifest = &m
		}
		out = append(out, e)
	}
	archive.SortEntries(out)
	return out, nil
}

// manifest reads the manifest of the archive object at key.
func (r *Remote) manifest(ctx context.Context, key string) (archive.Info, error) {
	var m archive.Info
	mkey := ManifestKey(key)
	obj, _, _, err := r.core.GetObject(ctx, r.cfg.Bucket, mkey, minio.GetObjectOptions{})
	if err != nil {
		return m, r.wrap("read", mkey, err)
	}
	defer obj.Close()
	if err := json.NewDecoder(io.LimitReader(obj, 1<<20)).Decode(&m); err != nil {
		return m, fmt.Errorf("s3: manifest s3://%s/%s: %w", r.cfg.Bucket, mkey, err)
	}
	return m, nil
}

// Open streams an archive object that List returned.
func (r *Remote) Open(ctx context.Context, e archive.Entry) (io.ReadCloser, error) {
	if !strings.HasPrefix(e.Key, r.cfg.Prefix) {
		return nil, fmt.Errorf("s3: %s is not under the archive's prefix", e.Key)
	}
	obj, _, _, err := r.core.GetObject(ctx, r.cfg.Bucket, e.Key, minio.GetObjectOptions{})
	if err != nil {
		return nil, r.wrap("read", e.Key, err)
	}
	return obj, nil
}
