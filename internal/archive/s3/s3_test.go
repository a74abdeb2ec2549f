package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/metrics"
	"github.com/papyrad/papyrad/internal/testutil"
	"github.com/papyrad/papyrad/internal/testutil/s3test"
)

var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "papyrad-s3-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin, err = testutil.Build(dir, s3test.Pkg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var day = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type observed struct {
	bytes     int64
	published int
	failed    []string
}

func (o *observed) Uploaded(_ string, n int64)     { o.bytes += n }
func (o *observed) Published(string, time.Time)    { o.published++ }
func (o *observed) Failed(_ string, reason string) { o.failed = append(o.failed, reason) }

// remote starts a server with bucket "archive" and returns a Remote on it.
func remote(t *testing.T, mod func(*Config)) (*Remote, *s3test.Server, *observed) {
	t.Helper()
	srv := s3test.Start(t, serverBin, s3test.Options{Buckets: []string{"archive"}})
	obs := &observed{}
	cfg := Config{
		Bucket: "archive", Prefix: "papyrad", Endpoint: srv.Endpoint, Region: "us-east-1", PathStyle: true,
		CredentialsFile: s3test.CredentialsFile(t, t.TempDir(), false), PartSize: 5 << 20, Retries: 1, Observer: obs,
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, srv, obs
}

// records writes n records (with random, incompressible payloads) to a file and returns it
// with its manifest.
func records(t *testing.T, n, payload int) (*os.File, archive.Info) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "run.ndjson")
	var b bytes.Buffer
	buf := make([]byte, payload)
	for i := range n {
		rand.Read(buf)
		fmt.Fprintf(&b, "{\"timestamp\": %d, \"data\": \"%s\"}\n", 1700000000+i, hex.EncodeToString(buf))
	}
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	info, err := archive.Describe(context.Background(), archive.None, bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return f, info
}

func get(t *testing.T, r *Remote, key string) []byte {
	t.Helper()
	obj, _, _, err := r.core.GetObject(context.Background(), r.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(t *testing.T, r *Remote, key string) bool {
	t.Helper()
	_, err := r.core.StatObject(context.Background(), r.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil && !isNotFound(err) {
		t.Fatalf("stat %s: %v", key, err)
	}
	return err == nil
}

// TestStageAndPublish: a small archive and a multipart one are staged, published by a
// server-side copy (the small one) or an upload (the large one), each with a manifest that
// names the object's size and SHA-256, and the staged objects go.
func TestStageAndPublish(t *testing.T) {
	r, srv, obs := remote(t, func(c *Config) {
		c.ObjectLock = ObjectLock{Mode: "compliance", RetainFor: 24 * time.Hour, LegalHold: true}
		c.SSE = "aes256"
	})
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		n        int
		fromCopy bool
	}{{"small by copy", 100, true}, {"multipart by upload", 6000, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f, info := records(t, tc.n, 1000)
			info.Store, info.RunID = "orders", "run-"+strings.ReplaceAll(tc.name, " ", "-")
			o := archive.Object{Store: "orders", RunID: info.RunID, Day: day, Ext: ".ndjson", Info: info}
			if err := r.Stage(ctx, o, f); err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(f.Name())
			if got := get(t, r, r.stagedKey(o)); !bytes.Equal(got, want) {
				t.Fatalf("staged object holds %d bytes, want the %d of the file", len(got), len(want))
			}
			if err := r.Publish(ctx, o, f, tc.fromCopy); err != nil {
				t.Fatal(err)
			}
			final := "papyrad/orders/2026/11/25/" + info.RunID + ".ndjson"
			if r.Name(o) != "s3://archive/"+final {
				t.Errorf("Name = %s", r.Name(o))
			}
			if got := get(t, r, final); !bytes.Equal(got, want) {
				t.Fatalf("final object holds %d bytes, want the %d of the file", len(got), len(want))
			}
			var m struct {
				archive.Info
				Object string `json:"object"`
			}
			if err := json.Unmarshal(get(t, r, ManifestKey(final)), &m); err != nil {
				t.Fatal(err)
			}
			if m.Records != int64(tc.n) || m.Bytes != int64(len(want)) || m.SHA256 != info.SHA256 || m.Object != "s3://archive/"+final ||
				m.FirstTimestamp != "1700000000" || m.LastTimestamp != fmt.Sprint(1700000000+tc.n-1) {
				t.Errorf("manifest %+v", m)
			}
			if err := r.Unstage(ctx, o); err != nil {
				t.Fatal(err)
			}
			if exists(t, r, r.stagedKey(o)) {
				t.Error("the staged object is still there")
			}
			// Publishing again finds the final object and leaves it.
			if err := r.Publish(ctx, o, f, tc.fromCopy); err != nil {
				t.Fatal(err)
			}
		})
	}
	if obs.published != 2 || len(obs.failed) != 0 || obs.bytes < 6000*2000*2 {
		t.Errorf("observed %+v", obs)
	}
	// Object Lock goes with final objects and manifests, never with staged ones; every object
	// is encrypted; multipart uploads say their checksum algorithm.
	locked := 0
	for _, h := range srv.Headers(t) {
		// Parts and completions carry no object settings: the upload's start does.
		creates := !strings.Contains(h["query"], "uploadId")
		if h["x-amz-server-side-encryption"] != "AES256" && creates {
			t.Errorf("%s %s?%s without encryption: %v", h["method"], h["path"], h["query"], h)
		}
		staged := strings.Contains(h["path"], "/.staging/")
		if lock := h["x-amz-object-lock-mode"] != ""; lock == staged && creates {
			t.Errorf("%s %s?%s: object lock %v", h["method"], h["path"], h["query"], h)
		}
		if h["x-amz-object-lock-mode"] == "COMPLIANCE" {
			locked++
			until, err := time.Parse(time.RFC3339, h["x-amz-object-lock-retain-until-date"])
			if err != nil || time.Until(until) < 23*time.Hour || h["x-amz-object-lock-legal-hold"] != "ON" {
				t.Errorf("lock headers %v", h)
			}
		}
	}
	if locked != 4 {
		t.Errorf("%d requests carried the object lock, want 4 (two objects, two manifests)", locked)
	}
}

// TestFailuresSayWhy: a wrong secret and a missing bucket fail the staging, classified, and
// no error carries a secret.
func TestFailuresSayWhy(t *testing.T) {
	ctx := context.Background()
	f, info := records(t, 10, 100)
	o := archive.Object{Store: "orders", RunID: "r1", Day: day, Ext: ".ndjson", Info: info}
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		reason string
	}{
		{"wrong secret", func(c *Config) { c.CredentialsFile = s3test.CredentialsFile(t, t.TempDir(), true) }, "auth"},
		{"missing bucket", func(c *Config) { c.Bucket = "gone" }, "no_bucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, obs := remote(t, tc.mod)
			err := r.Stage(ctx, o, f)
			if err == nil {
				t.Fatal("staging succeeded")
			}
			if !slices.Contains(metrics.ArchiveReasons, Reason(err)) {
				t.Errorf("reason %q is not one papyrad_archive_upload_errors_total has", Reason(err))
			}
			if Reason(err) != tc.reason || len(obs.failed) != 1 || obs.failed[0] != tc.reason {
				t.Errorf("reason %s (observed %v), want %s: %v", Reason(err), obs.failed, tc.reason, err)
			}
			for _, s := range []string{s3test.Secret, s3test.WrongSecret} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

// TestCheckRefusesAMismatch: an object whose size or checksum is not what was sent fails with
// ErrArchiveIntegrity.
func TestCheckRefusesAMismatch(t *testing.T) {
	r, _, _ := remote(t, nil)
	ctx := context.Background()
	f, info := records(t, 10, 100)
	o := archive.Object{Store: "orders", RunID: "r1", Day: day, Ext: ".ndjson", Info: info}
	if err := r.Stage(ctx, o, f); err != nil {
		t.Fatal(err)
	}
	key := r.stagedKey(o)
	sha, _ := hex.DecodeString(info.SHA256)
	good := sent{size: info.Bytes, sha256: base64.StdEncoding.EncodeToString(sha), md5: info.MD5}
	if err := r.check(ctx, key, good); err != nil {
		t.Fatalf("what was sent: %v", err)
	}
	for _, s := range []sent{{size: info.Bytes + 1, sha256: good.sha256, md5: info.MD5}, {size: info.Bytes, sha256: base64.StdEncoding.EncodeToString(make([]byte, 32)), md5: info.MD5}} {
		if err := r.check(ctx, key, s); !errors.Is(err, errs.ErrArchiveIntegrity) || Reason(err) != "checksum" {
			t.Errorf("check %+v = %v, want an integrity error", s, err)
		}
	}
}

// TestCleanAbortsIncompleteUploads: Clean removes staged objects and aborts the multipart
// uploads a crash left, and nothing else.
func TestCleanAbortsIncompleteUploads(t *testing.T) {
	r, _, _ := remote(t, nil)
	ctx := context.Background()
	f, info := records(t, 10, 100)
	o := archive.Object{Store: "orders", RunID: "r1", Day: day, Ext: ".ndjson", Info: info}
	if err := r.Stage(ctx, o, f); err != nil {
		t.Fatal(err)
	}
	if _, err := r.core.NewMultipartUpload(ctx, "archive", r.finalKey(o), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	other := archive.Object{Store: "users", RunID: "r2", Day: day, Ext: ".ndjson", Info: info}
	if err := r.Stage(ctx, other, f); err != nil {
		t.Fatal(err)
	}
	n, err := r.Clean(ctx, "orders")
	if err != nil || n != 2 {
		t.Fatalf("Clean = %d, %v; want 2", n, err)
	}
	res, err := r.core.ListMultipartUploads(ctx, "archive", "papyrad/", "", "", "", 100)
	if err != nil || len(res.Uploads) != 0 {
		t.Errorf("uploads left: %+v, %v", res.Uploads, err)
	}
	if exists(t, r, r.stagedKey(o)) || !exists(t, r, r.stagedKey(other)) {
		t.Error("Clean removed the wrong staged objects")
	}
}

// TestTLS: over HTTPS the server's certificate is checked: an unknown CA fails the upload,
// ca_file or tls_verify: false let it through.
func TestTLS(t *testing.T) {
	srv := s3test.Start(t, serverBin, s3test.Options{Buckets: []string{"archive"}, TLS: true})
	f, info := records(t, 10, 100)
	o := archive.Object{Store: "orders", RunID: "r1", Day: day, Ext: ".ndjson", Info: info}
	cred := s3test.CredentialsFile(t, t.TempDir(), false)
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		failed bool
	}{
		{"unknown CA", func(*Config) {}, true},
		{"ca_file", func(c *Config) { c.CAFile = srv.CAFile }, false},
		{"tls_verify false", func(c *Config) { c.InsecureSkipVerify = true }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Bucket: "archive", Endpoint: srv.Endpoint, Region: "us-east-1", PathStyle: true, CredentialsFile: cred, Retries: 1}
			tc.mod(&cfg)
			r, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Stage(context.Background(), o, f)
			if failed := err != nil; failed != tc.failed {
				t.Fatalf("Stage over HTTPS: %v, want failed %v", err, tc.failed)
			}
			if tc.failed && !strings.Contains(err.Error(), "certificate") {
				t.Errorf("the error does not say the certificate is the problem: %v", err)
			}
		})
	}
}

// TestFailedMultipartIsAborted: a part the server keeps refusing is tried Retries+1 times,
// then the upload fails, classified, and is aborted: no incomplete upload is left.
func TestFailedMultipartIsAborted(t *testing.T) {
	srv := s3test.Start(t, serverBin, s3test.Options{Buckets: []string{"archive"}, FailPartsAfter: 1})
	obs := &observed{}
	r, err := New(Config{Bucket: "archive", Prefix: "papyrad", Endpoint: srv.Endpoint, Region: "us-east-1", PathStyle: true,
		CredentialsFile: s3test.CredentialsFile(t, t.TempDir(), false), PartSize: 5 << 20, Retries: 2, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	f, info := records(t, 6000, 1000)
	o := archive.Object{Store: "orders", RunID: "r1", Day: day, Ext: ".ndjson", Info: info}
	err = r.Stage(context.Background(), o, f)
	if err == nil || Reason(err) != "server" || len(obs.failed) != 1 {
		t.Fatalf("Stage = %v (reason %s, observed %v), want a server error", err, Reason(err), obs.failed)
	}
	tries := 0
	for _, h := range srv.Headers(t) {
		if strings.Contains(h["query"], "partNumber=2") {
			tries++
		}
	}
	if tries != 3 {
		t.Errorf("part 2 was sent %d times, want 3 (Retries 2)", tries)
	}
	res, err := r.core.ListMultipartUploads(context.Background(), "archive", "papyrad/", "", "", "", 100)
	if err != nil || len(res.Uploads) != 0 {
		t.Errorf("incomplete uploads left: %+v, %v", res.Uploads, err)
	}
}

// TestOverCopyLimitUploadsAgain: a final object larger than one server-side copy can make is
// uploaded from the local file instead, and is the same object.
func TestOverCopyLimitUploadsAgain(t *testing.T) {
	r, srv, _ := remote(t, nil)
	defer func(l int64) { copyLimit = l }(copyLimit)
	ctx := context.Background()
	f, info := records(t, 100, 100)
	for _, tc := range []struct {
		run    string
		limit  int64
		copied bool
	}{{"small", 5 << 30, true}, {"large", 1000, false}} {
		copyLimit = tc.limit
		info.Store, info.RunID = "orders", tc.run
		o := archive.Object{Store: "orders", RunID: tc.run, Day: day, Ext: ".ndjson", Info: info}
		if err := r.Stage(ctx, o, f); err != nil {
			t.Fatal(err)
		}
		if err := r.Publish(ctx, o, f, true); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(f.Name())
		if got := get(t, r, r.finalKey(o)); !bytes.Equal(got, want) {
			t.Errorf("%s: final object holds %d bytes, want %d", tc.run, len(got), len(want))
		}
		copied := false
		for _, h := range srv.Headers(t) {
			if strings.HasSuffix(h["path"], r.finalKey(o)) && h["x-amz-copy-source"] != "" {
				copied = true
			}
		}
		if copied != tc.copied {
			t.Errorf("%s (%d bytes, copy limit %d): copied %v, want %v", tc.run, info.Bytes, tc.limit, copied, tc.copied)
		}
	}
}
