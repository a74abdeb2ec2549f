package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/errs"
)

// Config says where and how archives are stored.
type Config struct {
	Bucket string
	// Prefix is prepended to every key ("" for the bucket's root), without a trailing slash.
	Prefix string
	// Endpoint is the service's URL (https://host[:port] or http://...); "" is AWS S3.
	Endpoint string
	// Region is the bucket's region; "" asks the server.
	Region string
	// PathStyle addresses the bucket in the path (host/bucket/key), not in the host name.
	PathStyle bool
	// InsecureSkipVerify accepts any TLS certificate; CAFile adds a CA to the system's.
	InsecureSkipVerify bool
	CAFile             string
	// CredentialsFile, when set, is the only source of credentials: a file in the AWS shared
	// credentials format, read for Profile ("" is AWS_PROFILE or default).
	CredentialsFile string
	Profile         string
	// ObjectLock is applied to final objects and manifests.
	ObjectLock ObjectLock
	// SSE is the server-side encryption of every object: "" (the bucket's default), "aes256"
	// (SSE-S3) or "kms" (SSE-KMS, with KMSKeyID or the account's default key).
	SSE      string
	KMSKeyID string
	// PartSize is the size of a multipart upload's parts (and the size above which uploads
	// are multipart); 0 is DefaultPartSize.
	PartSize int64
	// Retries is how many times a failed request is tried again, with exponential backoff;
	// 0 is DefaultRetries.
	Retries int
	// Observer, when set, is told about uploads.
	Observer Observer
}

// ObjectLock is the Object Lock settings of final objects.
type ObjectLock struct {
	// Mode is "governance" or "compliance"; "" sets no retention.
	Mode string
	// RetainUntil is a fixed date; RetainFor a period from each object's publication.
	RetainUntil time.Time
	RetainFor   time.Duration
	LegalHold   bool
}

// Observer is told about what goes to the object store (metrics).
type Observer interface {
	// Uploaded counts bytes sent in upload requests for store.
	Uploaded(store string, bytes int64)
	// Published counts a final archive object of store, made at time at.
	Published(store string, at time.Time)
	// Failed counts a failed request (upload, check, clean-up) for store, by reason (see Reason).
	Failed(store, reason string)
}

// Defaults.
const (
	DefaultPartSize = 16 << 20
	DefaultRetries  = 4
)

// copyLimit is the largest object a single server-side copy makes (S3's 5 GiB); larger final
// objects are uploaded again from the local file. Lowered by tests.
var copyLimit int64 = 5 << 30

// Remote is a bucket (and prefix) that archives go to.
type Remote struct {
	cfg  Config
	core *minio.Core
	host string // for names: scheme://host
	now  func() time.Time
}

var _ archive.Remote = (*Remote)(nil)

// New returns the Remote cfg describes. It does not contact the server.
func New(cfg Config) (*Remote, error) {
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < 5<<20 {
		return nil, fmt.Errorf("s3: part size %d is below the 5 MiB S3 allows", cfg.PartSize)
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("s3: endpoint %q is not an http:// or https:// URL of a host", endpoint)
	}
	secure := u.Scheme == "https"
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = 2 * time.Minute
	if secure {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.InsecureSkipVerify = cfg.InsecureSkipVerify
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("s3: ca_file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("s3: ca_file %s holds no PEM certificate", cfg.CAFile)
			}
			tr.TLSClientConfig.RootCAs = pool
		}
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	core, err := minio.NewCore(u.Host, &minio.Options{
		Creds:        credentialChain(cfg),
		Secure:       secure,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   cfg.Retries + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	return &Remote{cfg: cfg, core: core, host: u.Scheme + "://" + u.Host, now: time.Now}, nil
}

// credentialChain is the file cfg names, or the standard chain.
func credentialChain(cfg Config) *credentials.Credentials {
	if cfg.CredentialsFile != "" {
		return credentials.NewFileAWSCredentials(cfg.CredentialsFile, cfg.Profile)
	}
	return credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Profile: cfg.Profile},
		&credentials.IAM{},
	})
}

// key joins the prefix and the parts of a key.
func (r *Remote) key(parts ...string) string {
	if r.cfg.Prefix != "" {
		parts = append([]string{r.cfg.Prefix}, parts...)
	}
	return path.Join(parts...)
}

func (r *Remote) stagedKey(o archive.Object) string {
	return r.key(".staging", o.Store, o.RunID+o.Ext)
}

func (r *Remote) finalKey(o archive.Object) string {
	return r.key(o.Store, o.Day.UTC().Format("2006/01/02"), o.RunID+o.Ext)
}

// ManifestKey is the key of the manifest of the archive object at key.
func ManifestKey(key string) string {
	base := path.Base(key)
	if i := strings.Index(base, ".ndjson"); i > 0 {
		base = base[:i]
	}
	return path.Join(path.Dir(key), base+".manifest.json")
}

// Name is the URL of o's final object.
func (r *Remote) Name(o archive.Object) string {
	return "s3://" + r.cfg.Bucket + "/" + r.finalKey(o)
}

// sse is the server-side encryption of every object, nil for the bucket's default.
func (r *Remote) sse() (encrypt.ServerSide, error) {
	switch r.cfg.SSE {
	case "":
		return nil, nil
	case "aes256":
		return encrypt.NewSSE(), nil
	case "kms":
		return encrypt.NewSSEKMS(r.cfg.KMSKeyID, nil)
	}
	return nil, fmt.Errorf("s3: unknown server-side encryption %q", r.cfg.SSE)
}

// lockHeaders are the Object Lock headers of a final object published at now.
func (r *Remote) lockHeaders(now time.Time) map[string]string {
	h := map[string]string{}
	l := r.cfg.ObjectLock
	if l.Mode != "" {
		until := l.RetainUntil
		if l.RetainFor > 0 {
			until = now.Add(l.RetainFor)
		}
		h["X-Amz-Object-Lock-Mode"] = strings.ToUpper(l.Mode)
		h["X-Amz-Object-Lock-Retain-Until-Date"] = until.UTC().Format(time.RFC3339)
	}
	if l.LegalHold {
		h["X-Amz-Object-Lock-Legal-Hold"] = "ON"
	}
	return h
}

// Reason classifies an error of this package for metrics: auth, no_bucket, checksum,
// network, canceled, server or other.
func Reason(err error) string {
	var er minio.ErrorResponse
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, errs.ErrArchiveIntegrity):
		return "checksum"
	case errors.As(err, &er):
		switch er.Code {
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed":
			return "auth"
		case "NoSuchBucket":
			return "no_bucket"
		case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum":
			return "checksum"
		}
		if er.StatusCode == http.StatusForbidden {
			return "auth"
		}
		return "server"
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return "network"
	}
	return "other"
}

func (r *Remote) failed(store string, err error) {
	if r.cfg.Observer != nil && err != nil {
		r.cfg.Observer.Failed(store, Reason(err))
	}
}

func (r *Remote) uploaded(store string, n int64) {
	if r.cfg.Observer != nil {
		r.cfg.Observer.Uploaded(store, n)
	}
}

// wrap says what was being done, with the bucket and key; minio-go's errors carry the
// server's message, never a credential.
func (r *Remote) wrap(what, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s s3://%s/%s: %w", what, r.cfg.Bucket, key, err)
}

// isNotFound reports whether err says an object (not the bucket) is not there.
func isNotFound(err error) bool {
	er := minio.ToErrorResponse(err)
	return er.Code == "NoSuchKey" || (er.StatusCode == http.StatusNotFound && er.Code != "NoSuchBucket")
}
