package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRemoteArchive: an archive in an object store merges per key over the defaults' (the
// service and credentials in defaults, the bucket per store), its sealed archives wait under
// the state directory unless dir says otherwise, and the effective configuration parses back
// to the same.
func TestRemoteArchive(t *testing.T) {
	c := mustParse(t, doc(`defaults:
  archive:
    endpoint: https://minio.example:9000
    region: eu-west-1
    path_style: true
    credentials_file: /etc/papyrad/s3.credentials
    sse: kms
    kms_key_id: alias/papyrad
    object_lock: {mode: compliance, retain_for: 2555d, legal_hold: true}
stores:
  - {name: orders, backend: json, path: /srv/o.ndjson, retention: {max_age: 30d}, archive: {url: 's3://audit-bucket/papyrad/prod/', compress: gzip}}
  - {name: users, backend: json, path: /srv/u.ndjson, retention: {max_age: 30d}, archive: {url: 's3://other', dir: /var/spool/arch, tls_verify: false, object_lock: {mode: governance, retain_until: 2033-01-31}}}
  - {name: plain, backend: json, path: /srv/p.ndjson, retention: {max_age: 30d}, archive: none}`))
	o := mustStore(t, c, "orders").Archive
	if o == nil || o.Remote == nil {
		t.Fatalf("orders archive %+v", o)
	}
	r := o.Remote
	if r.Bucket != "audit-bucket" || r.Prefix != "papyrad/prod" || r.Endpoint != "https://minio.example:9000" || r.Region != "eu-west-1" ||
		!r.PathStyle || !r.TLSVerify || r.CredentialsFile != "/etc/papyrad/s3.credentials" || r.SSE != "kms" || r.KMSKeyID != "alias/papyrad" ||
		r.PartSize != DefaultPartSize || r.ObjectLock != (ObjectLock{Mode: "compliance", RetainFor: 2555 * 24 * time.Hour, LegalHold: true}) {
		t.Errorf("orders remote %+v", r)
	}
	if o.Dir != "/srv/papyrad/archive-staging" || o.Compress != CompressGzip || o.MaxAge != 0 {
		t.Errorf("orders archive %+v", o)
	}
	u := mustStore(t, c, "users").Archive
	if u.Dir != "/var/spool/arch" || u.Remote.TLSVerify || u.Remote.Bucket != "other" || u.Remote.Prefix != "" ||
		u.Remote.ObjectLock.Mode != "governance" || !u.Remote.ObjectLock.RetainUntil.Equal(time.Date(2033, 1, 31, 0, 0, 0, 0, time.UTC)) ||
		u.Remote.ObjectLock.RetainFor != 0 || !u.Remote.ObjectLock.LegalHold {
		t.Errorf("users archive %+v, remote %+v", u, u.Remote)
	}
	if mustStore(t, c, "plain").Archive != nil {
		t.Error("archive: none still archives")
	}
	out, err := c.Effective()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, nil)
	if err != nil {
		t.Fatalf("effective config does not parse:\n%s\n%v", out, err)
	}
	if !sameConfig(c, back) {
		t.Fatalf("round trip differs:\n%s", out)
	}
}

// TestRemoteArchiveProblems: each mistake is named by store and field.
func TestRemoteArchiveProblems(t *testing.T) {
	const st = "stores:\n  - {name: a, backend: json, path: /srv/x, retention: none, archive: %s}\n"
	for _, tc := range []struct{ archive, want string }{
		{"{url: 'http://bucket/x'}", "stores[0] (a): archive.url: must be s3://bucket or s3://bucket/prefix"},
		{"{url: 's3://Bad_Bucket'}", `stores[0] (a): archive.url: "Bad_Bucket" is not a valid bucket name`},
		{"{url: 's3://key:secret@bucket'}", "stores[0] (a): archive.url: must be s3://bucket or s3://bucket/prefix"},
		{"{url: 's3://bucket/a/../b'}", "stores[0] (a): archive.url: the prefix"},
		{"{dir: /a, endpoint: 'http://h:9000'}", "stores[0] (a): archive.endpoint: only applies to an archive in an object store (archive.url)"},
		{"{dir: /a, object_lock: {legal_hold: true}}", "stores[0] (a): archive.object_lock: only applies to an archive in an object store"},
		{"{url: 's3://bucket', endpoint: 'minio:9000'}", "stores[0] (a): archive.endpoint: must be the URL of the service"},
		{"{url: 's3://bucket', endpoint: 'https://h/path'}", "stores[0] (a): archive.endpoint: must be the URL of the service"},
		{"{url: 's3://bucket', max_age: 30d}", "stores[0] (a): archive.max_age: does not apply to an archive in an object store"},
		{"{url: 's3://bucket', sse: aws}", `stores[0] (a): archive.sse: "aws" is not one of none, aes256, kms`},
		{"{url: 's3://bucket', kms_key_id: k}", "stores[0] (a): archive.kms_key_id: only applies with sse: kms"},
		{"{url: 's3://bucket', part_size: 1MiB}", "stores[0] (a): archive.part_size: must be between 5 MiB and 5 GiB"},
		{"{url: 's3://bucket', tls_verify: maybe}", "stores[0] (a): archive.tls_verify: must be true or false"},
		{"{url: 's3://bucket', object_lock: {mode: compliance}}", "stores[0] (a): archive.object_lock: mode compliance needs retain_until or retain_for"},
		{"{url: 's3://bucket', object_lock: {retain_for: 7d}}", "stores[0] (a): archive.object_lock.mode: required with retain_until or retain_for"},
		{"{url: 's3://bucket', object_lock: {mode: governance, retain_for: 7d, retain_until: 2033-01-01}}", "stores[0] (a): archive.object_lock: set retain_until or retain_for, not both"},
		{"{url: 's3://bucket', object_lock: {mode: legal}}", `stores[0] (a): archive.object_lock.mode: "legal" is not one of governance, compliance`},
		{"{url: 's3://bucket', object_lock: {mode: governance, retain_until: soon}}", "stores[0] (a): archive.object_lock.retain_until: must be a date"},
		{"{url: 's3://bucket', object_lock: {mode: governance, retain_for: 7d, hold: true}}", `stores[0] (a): archive.object_lock: unknown key "hold"`},
	} {
		t.Run(tc.archive, func(t *testing.T) {
			_, err := Parse(doc(strings.ReplaceAll(st, "%s", tc.archive)), nil)
			wantProblem(t, err, tc.want)
		})
	}
}

// TestArchiveCredentialsFileReadable: a credentials file others can read warns, naming the
// store and the field, never its content.
func TestArchiveCredentialsFileReadable(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o600} {
		dir := t.TempDir()
		cred := filepath.Join(dir, "s3.credentials")
		if err := os.WriteFile(cred, []byte("[default]\naws_access_key_id = AK\naws_secret_access_key = s3cret-value\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(cred, mode)
		path := filepath.Join(dir, "papyrad.yaml")
		if err := os.WriteFile(path, doc("stores:\n  - {name: orders, backend: json, path: /srv/x, retention: none, archive: {url: 's3://bucket', credentials_file: "+cred+"}}"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		var warned bool
		for _, w := range c.Warnings {
			if strings.Contains(w, "s3cret-value") {
				t.Errorf("a warning shows the secret: %s", w)
			}
			warned = warned || strings.Contains(w, "stores[0] (orders): archive.credentials_file "+cred+" can be read by its group or others") && strings.Contains(w, "chmod 600")
		}
		if warned != (mode&0o044 != 0) {
			t.Errorf("mode %04o: warnings %q", mode, c.Warnings)
		}
	}
}
