package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/errs"
)

// runMeta is the user metadata key naming the run that wrote an object.
const runMeta = "X-Amz-Meta-Papyrad-Run"

// sent is what was uploaded: the forms the stored object's checksum or ETag may take.
type sent struct {
	size int64
	// sha256 and md5 of the whole object (base64 and hex).
	sha256, md5 string
	// For a multipart upload: the checksum of the parts' checksums and the ETag S3 computes
	// (the MD5 of the parts' MD5s), each with "-<parts>".
	partsSHA256, partsETag string
}

// Stage uploads the sealed archive f as o's staged object and checks it.
func (r *Remote) Stage(ctx context.Context, o archive.Object, f *os.File) error {
	key := r.stagedKey(o)
	err := r.upload(ctx, o, key, f, nil)
	r.failed(o.Store, err)
	return err
}

// Publish makes o's final object, after its manifest, by a server-side copy of the staged
// object when staged says f is its content and it is small enough, by uploading f otherwise,
// and checks it. A final object already there is left as it is.
func (r *Remote) Publish(ctx context.Context, o archive.Object, f *os.File, staged bool) error {
	made, err := r.publish(ctx, o, f, staged)
	r.failed(o.Store, err)
	if made && err == nil && r.cfg.Observer != nil {
		r.cfg.Observer.Published(o.Store, r.now())
	}
	return err
}

// publish returns whether it made the final object.
func (r *Remote) publish(ctx context.Context, o archive.Object, f *os.File, staged bool) (bool, error) {
	key := r.finalKey(o)
	if _, err := r.core.StatObject(ctx, r.cfg.Bucket, key, minio.StatObjectOptions{}); err == nil {
		return false, nil // an earlier publish got as far as the object: its manifest went first
	} else if !isNotFound(err) {
		return false, r.wrap("look for", key, err)
	}
	now := r.now()
	if err := r.putManifest(ctx, o, key, now); err != nil {
		return false, err
	}
	headers := r.lockHeaders(now)
	if !staged || o.Info.Bytes > copyLimit {
		return true, r.upload(ctx, o, key, f, headers)
	}
	return true, r.copyStaged(ctx, o, key, headers)
}

// copyStaged copies the staged object to key (server side) with headers, and checks it.
func (r *Remote) copyStaged(ctx context.Context, o archive.Object, key string, headers map[string]string) error {
	sse, err := r.sse()
	if err != nil {
		return err
	}
	h := map[string]string{
		"X-Amz-Metadata-Directive": "REPLACE",
		"X-Amz-Checksum-Algorithm": "SHA256",
		"Content-Type":             contentType(o.Ext),
		runMeta:                    o.RunID,
	}
	for k, v := range headers {
		h[k] = v
	}
	if sse != nil {
		hdr := make(map[string][]string)
		sse.Marshal(hdr)
		for k, v := range hdr {
			h[k] = v[0]
		}
	}
	src := r.stagedKey(o)
	if _, err := r.core.CopyObject(ctx, r.cfg.Bucket, src, r.cfg.Bucket, key, h, minio.CopySrcOptions{}, minio.PutObjectOptions{}); err != nil {
		return r.wrap("copy s3://"+r.cfg.Bucket+"/"+src+" to", key, err)
	}
	sha, err := hex.DecodeString(o.Info.SHA256)
	if err != nil {
		return fmt.Errorf("s3: the manifest of run %s has no SHA-256", o.RunID)
	}
	return r.check(ctx, key, sent{size: o.Info.Bytes, sha256: base64.StdEncoding.EncodeToString(sha), md5: o.Info.MD5})
}

// putManifest writes the manifest of o's final object at key.
func (r *Remote) putManifest(ctx context.Context, o archive.Object, key string, now time.Time) error {
	b, err := json.MarshalIndent(struct {
		archive.Info
		Object string `json:"object"`
	}{o.Info, "s3://" + r.cfg.Bucket + "/" + key}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	mkey := ManifestKey(key)
	sum := sha256.Sum256(b)
	m := md5.Sum(b)
	opts, err := r.putOptions(o.RunID, "application/json", r.lockHeaders(now))
	if err != nil {
		return err
	}
	opts.UserMetadata["X-Amz-Checksum-Sha256"] = base64.StdEncoding.EncodeToString(sum[:])
	if _, err := r.core.PutObject(ctx, r.cfg.Bucket, mkey, bytes.NewReader(b), int64(len(b)),
		base64.StdEncoding.EncodeToString(m[:]), hex.EncodeToString(sum[:]), opts); err != nil {
		return r.wrap("upload", mkey, err)
	}
	r.uploaded(o.Store, int64(len(b)))
	return r.check(ctx, mkey, sent{size: int64(len(b)), sha256: base64.StdEncoding.EncodeToString(sum[:]), md5: hex.EncodeToString(m[:])})
}

func contentType(ext string) string {
	switch {
	case strings.HasSuffix(ext, ".zst"):
		return "application/zstd"
	case strings.HasSuffix(ext, ".gz"):
		return "application/gzip"
	}
	return "application/x-ndjson"
}

// putOptions are the options of an upload: run metadata, encryption and extra headers.
func (r *Remote) putOptions(runID, ctype string, headers map[string]string) (minio.PutObjectOptions, error) {
	sse, err := r.sse()
	if err != nil {
		return minio.PutObjectOptions{}, err
	}
	meta := map[string]string{runMeta: runID}
	opts := minio.PutObjectOptions{ContentType: ctype, ServerSideEncryption: sse, DisableContentSha256: true, UserMetadata: meta}
	for k, v := range headers {
		switch k {
		case "X-Amz-Object-Lock-Mode":
			opts.Mode = minio.RetentionMode(v)
		case "X-Amz-Object-Lock-Retain-Until-Date":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return opts, err
			}
			opts.RetainUntilDate = t
		case "X-Amz-Object-Lock-Legal-Hold":
			opts.LegalHold = minio.LegalHoldStatus(v)
		}
	}
	return opts, nil
}

// upload sends f to key, in one request or in parts, then checks the stored object. A
// multipart upload that fails is aborted.
func (r *Remote) upload(ctx context.Context, o archive.Object, key string, f *os.File, headers map[string]string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	opts, err := r.putOptions(o.RunID, contentType(o.Ext), headers)
	if err != nil {
		return err
	}
	var s sent
	if size <= r.cfg.PartSize {
		s, err = r.putSingle(ctx, o.Store, key, f, size, opts)
	} else {
		s, err = r.putMultipart(ctx, o.Store, key, f, size, opts)
	}
	if err != nil {
		return err
	}
	if o.Info.SHA256 != "" && hex.EncodeToString(mustB64(s.sha256)) != o.Info.SHA256 {
		// The local file changed under the run: never publish what the manifest does not say.
		return fmt.Errorf("s3: %s: the file sent is not the one described (SHA-256 %x, manifest %s): %w",
			key, mustB64(s.sha256), o.Info.SHA256, errs.ErrArchiveIntegrity)
	}
	return r.check(ctx, key, s)
}

func mustB64(s string) []byte {
	b, _ := base64.StdEncoding.DecodeString(s)
	return b
}

// hashSection returns the MD5 and SHA-256 of n bytes of f at off.
func hashSection(f *os.File, off, n int64) (md5sum, shasum []byte, err error) {
	m, s := md5.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(m, s), io.NewSectionReader(f, off, n)); err != nil {
		return nil, nil, err
	}
	return m.Sum(nil), s.Sum(nil), nil
}

func (r *Remote) putSingle(ctx context.Context, store, key string, f *os.File, size int64, opts minio.PutObjectOptions) (sent, error) {
	m, s, err := hashSection(f, 0, size)
	if err != nil {
		return sent{}, err
	}
	opts.UserMetadata["X-Amz-Checksum-Sha256"] = base64.StdEncoding.EncodeToString(s)
	if _, err := r.core.PutObject(ctx, r.cfg.Bucket, key, io.NewSectionReader(f, 0, size), size,
		base64.StdEncoding.EncodeToString(m), hex.EncodeToString(s), opts); err != nil {
		return sent{}, r.wrap("upload", key, err)
	}
	r.uploaded(store, size)
	return sent{size: size, sha256: base64.StdEncoding.EncodeToString(s), md5: hex.EncodeToString(m)}, nil
}

func (r *Remote) putMultipart(ctx context.Context, store, key string, f *os.File, size int64, opts minio.PutObjectOptions) (_ sent, err error) {
	opts.UserMetadata["X-Amz-Checksum-Algorithm"] = "SHA256"
	id, err := r.core.NewMultipartUpload(ctx, r.cfg.Bucket, key, opts)
	if err != nil {
		return sent{}, r.wrap("start the upload of", key, err)
	}
	defer func() {
		if err != nil {
			// Bounded: a server that is gone leaves the upload for the next recovery.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = r.core.AbortMultipartUpload(actx, r.cfg.Bucket, key, id)
		}
	}()
	wholeSHA, wholeMD5 := sha256.New(), md5.New()
	partsSHA, partsMD5 := sha256.New(), md5.New()
	var parts []minio.CompletePart
	for off, n := int64(0), 1; off < size; off, n = off+r.cfg.PartSize, n+1 {
		if err := ctx.Err(); err != nil {
			return sent{}, err
		}
		ln := min(r.cfg.PartSize, size-off)
		m, s, err := hashSection(f, off, ln)
		if err != nil {
			return sent{}, err
		}
		if _, err := io.Copy(io.MultiWriter(wholeSHA, wholeMD5), io.NewSectionReader(f, off, ln)); err != nil {
			return sent{}, err
		}
		partsSHA.Write(s)
		partsMD5.Write(m)
		sum := base64.StdEncoding.EncodeToString(s)
		p, err := r.core.PutObjectPart(ctx, r.cfg.Bucket, key, id, n, io.NewSectionReader(f, off, ln), ln, minio.PutObjectPartOptions{
			Md5Base64: base64.StdEncoding.EncodeToString(m), Sha256Hex: hex.EncodeToString(s),
			CustomHeader: map[string][]string{"X-Amz-Checksum-Sha256": {sum}}, DisableContentSha256: true,
		})
		if err != nil {
			return sent{}, r.wrap("upload part "+strconv.Itoa(n)+" of", key, err)
		}
		r.uploaded(store, ln)
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag, ChecksumSHA256: sum})
	}
	if _, err := r.core.CompleteMultipartUpload(ctx, r.cfg.Bucket, key, id, parts, minio.PutObjectOptions{}); err != nil {
		return sent{}, r.wrap("complete the upload of", key, err)
	}
	suffix := "-" + strconv.Itoa(len(parts))
	return sent{
		size:        size,
		sha256:      base64.StdEncoding.EncodeToString(wholeSHA.Sum(nil)),
		md5:         hex.EncodeToString(wholeMD5.Sum(nil)),
		partsSHA256: base64.StdEncoding.EncodeToString(partsSHA.Sum(nil)) + suffix,
		partsETag:   hex.EncodeToString(partsMD5.Sum(nil)) + suffix,
	}, nil
}

// check looks at the object stored at key: its size must be what was sent, and its SHA-256
// checksum, when the server keeps one, or else its ETag must match what was sent.
func (r *Remote) check(ctx context.Context, key string, s sent) error {
	opts := minio.StatObjectOptions{}
	opts.Set("x-amz-checksum-mode", "ENABLED")
	st, err := r.core.StatObject(ctx, r.cfg.Bucket, key, opts)
	if err != nil {
		return r.wrap("check", key, err)
	}
	if st.Size != s.size {
		return fmt.Errorf("s3: s3://%s/%s holds %d bytes, %d were sent: %w", r.cfg.Bucket, key, st.Size, s.size, errs.ErrArchiveIntegrity)
	}
	if c := st.ChecksumSHA256; c != "" {
		if c != s.sha256 && c != s.partsSHA256 {
			return fmt.Errorf("s3: s3://%s/%s has SHA-256 checksum %s, %s was sent: %w", r.cfg.Bucket, key, c, s.sha256, errs.ErrArchiveIntegrity)
		}
		return nil
	}
	etag := strings.Trim(st.ETag, `"`)
	if etag != s.md5 && etag != s.partsETag {
		return fmt.Errorf("s3: s3://%s/%s has ETag %s and no SHA-256 checksum; %s was sent: %w", r.cfg.Bucket, key, etag, s.md5, errs.ErrArchiveIntegrity)
	}
	return nil
}

// Unstage removes o's staged object.
func (r *Remote) Unstage(ctx context.Context, o archive.Object) error {
	key := r.stagedKey(o)
	if err := r.core.RemoveObject(ctx, r.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		r.failed(o.Store, err)
		return r.wrap("remove", key, err)
	}
	return nil
}

// Clean removes store's staged objects and aborts its incomplete uploads.
func (r *Remote) Clean(ctx context.Context, store string) (int, error) {
	n, err := r.clean(ctx, store)
	r.failed(store, err)
	return n, err
}

func (r *Remote) clean(ctx context.Context, store string) (int, error) {
	removed := 0
	staging := r.key(".staging", store) + "/"
	for obj := range r.core.ListObjectsIter(ctx, r.cfg.Bucket, minio.ListObjectsOptions{Prefix: staging, Recursive: true}) {
		if obj.Err != nil {
			return removed, r.wrap("list", staging, obj.Err)
		}
		if err := r.core.RemoveObject(ctx, r.cfg.Bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return removed, r.wrap("remove", obj.Key, err)
		}
		removed++
	}
	for _, prefix := range []string{staging, r.key(store) + "/"} {
		res, err := r.core.ListMultipartUploads(ctx, r.cfg.Bucket, prefix, "", "", "", 1000)
		if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
			// Some servers (gofakes3) answer so for a bucket that never had an upload.
			continue
		}
		if err != nil {
			return removed, r.wrap("list the incomplete uploads under", prefix, err)
		}
		for _, u := range res.Uploads {
			if err := r.core.AbortMultipartUpload(ctx, r.cfg.Bucket, u.Key, u.UploadID); err != nil && !isNotFound(err) {
				return removed, r.wrap("abort the upload of", u.Key, err)
			}
			removed++
		}
	}
	return removed, nil
}
