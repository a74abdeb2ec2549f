package config

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// remoteArchive reads the keys of an archive in an object store into l.
func (r *reader) remoteArchive(m map[string]any, f field, l *archiveLayer) {
	str := func(key string, o *opt[string]) {
		if v, ok := get(m, key); ok {
			if s, ok := r.nonEmpty(v, f.key(key)); ok {
				*o = some(s)
			}
		}
	}
	boolean := func(mm map[string]any, ff field, key string, o *opt[bool]) {
		if v, ok := get(mm, key); ok {
			if b, ok := r.boolean(v, ff.key(key)); ok {
				*o = some(b)
			}
		}
	}
	path := func(key string, o *opt[string]) {
		if v, ok := get(m, key); ok {
			if p, ok := r.path(v, f.key(key)); ok {
				*o = some(p)
			}
		}
	}
	str("url", &l.url)
	str("endpoint", &l.endpoint)
	str("region", &l.region)
	str("profile", &l.profile)
	str("kms_key_id", &l.kmsKeyID)
	boolean(m, f, "path_style", &l.pathStyle)
	boolean(m, f, "tls_verify", &l.tlsVerify)
	path("ca_file", &l.caFile)
	path("credentials_file", &l.credentialsFile)
	if v, ok := get(m, "sse"); ok {
		if s, ok := r.enum(v, f.key("sse"), "none", "aes256", "kms"); ok {
			l.sse = some(s)
		}
	}
	if v, ok := get(m, "part_size"); ok {
		if n, ok := r.size(v, f.key("part_size"), false); ok {
			if n < 5<<20 || n > 5<<30 {
				r.add(f.key("part_size"), "must be between 5 MiB and 5 GiB, as S3 requires")
			} else {
				l.partSize = some(n)
			}
		}
	}
	v, ok := get(m, "object_lock")
	if !ok {
		return
	}
	lf := f.key("object_lock")
	lm, ok := r.mapping(v, lf)
	if !ok {
		return
	}
	if v, ok := get(lm, "mode"); ok {
		if s, ok := r.enum(v, lf.key("mode"), "governance", "compliance"); ok {
			l.lockMode = some(s)
		}
	}
	if v, ok := get(lm, "retain_until"); ok {
		if t, ok := r.date(v, lf.key("retain_until")); ok {
			l.retainUntil = some(t)
		}
	}
	if v, ok := get(lm, "retain_for"); ok {
		if d, ok := r.positiveDuration(v, lf.key("retain_for")); ok {
			l.retainFor = some(d)
		}
	}
	boolean(lm, lf, "legal_hold", &l.legalHold)
}

// date reads a date (2033-01-31, UTC midnight) or an RFC 3339 time.
func (r *reader) date(v any, f field) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case string:
		s := strings.TrimSpace(x)
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, true
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC(), true
		}
	}
	r.add(f, "must be a date (2033-01-31) or a time (2033-01-31T00:00:00Z), not %s", describe(v))
	return time.Time{}, false
}

// bucketName is what S3 allows as a bucket name.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// hasRemoteKeys reports whether l sets a key only an archive in an object store uses.
func (l archiveLayer) hasRemoteKeys() string {
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"endpoint", l.endpoint.set}, {"region", l.region.set}, {"path_style", l.pathStyle.set},
		{"tls_verify", l.tlsVerify.set}, {"ca_file", l.caFile.set}, {"credentials_file", l.credentialsFile.set},
		{"profile", l.profile.set}, {"sse", l.sse.set}, {"kms_key_id", l.kmsKeyID.set}, {"part_size", l.partSize.set},
		{"object_lock", l.lockMode.set || l.retainUntil.set || l.retainFor.set || l.legalHold.set},
	} {
		if k.set {
			return k.name
		}
	}
	return ""
}

// mergeRemote resolves the object store of archive a from the store's and the defaults'
// layers; it reports false when a problem was recorded.
func (r *reader) mergeRemote(a *Archive, st, base archiveLayer, f field, d *Daemon) bool {
	u := pick(st.url, base.url, "")
	if u == "" {
		for _, l := range []archiveLayer{st, base} {
			if k := l.hasRemoteKeys(); k != "" {
				r.add(f.key(k), "only applies to an archive in an object store (archive.url)")
				return false
			}
		}
		return true
	}
	uf := f.key("url")
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "s3" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		r.add(uf, "must be s3://bucket or s3://bucket/prefix")
		return false
	}
	if !bucketName.MatchString(p.Host) {
		r.add(uf, "%q is not a valid bucket name (3 to 63 lower-case letters, digits, dots and hyphens)", p.Host)
		return false
	}
	if st.retainUntil.set || st.retainFor.set {
		// The store says how long: whichever of the two the defaults set gives way.
		base.retainUntil, base.retainFor = opt[time.Time]{}, opt[time.Duration]{}
	}
	rem := &ArchiveRemote{
		URL: u, Bucket: p.Host, Prefix: strings.Trim(p.Path, "/"),
		Endpoint:        pick(st.endpoint, base.endpoint, ""),
		Region:          pick(st.region, base.region, ""),
		PathStyle:       pick(st.pathStyle, base.pathStyle, false),
		TLSVerify:       pick(st.tlsVerify, base.tlsVerify, true),
		CAFile:          pick(st.caFile, base.caFile, ""),
		CredentialsFile: pick(st.credentialsFile, base.credentialsFile, ""),
		Profile:         pick(st.profile, base.profile, ""),
		SSE:             pick(st.sse, base.sse, "none"),
		KMSKeyID:        pick(st.kmsKeyID, base.kmsKeyID, ""),
		PartSize:        pick(st.partSize, base.partSize, DefaultPartSize),
		ObjectLock: ObjectLock{
			Mode:        pick(st.lockMode, base.lockMode, ""),
			RetainUntil: pick(st.retainUntil, base.retainUntil, time.Time{}),
			RetainFor:   pick(st.retainFor, base.retainFor, 0),
			LegalHold:   pick(st.legalHold, base.legalHold, false),
		},
	}
	if rem.SSE == "none" {
		rem.SSE = ""
	}
	ok := true
	bad := func(key, format string, args ...any) {
		r.add(f.key(key), format, args...)
		ok = false
	}
	if strings.Contains(rem.Prefix, "//") || strings.Contains("/"+rem.Prefix+"/", "/../") || strings.Contains("/"+rem.Prefix+"/", "/./") {
		bad("url", "the prefix %q must not have empty, . or .. parts", rem.Prefix)
	}
	if e := rem.Endpoint; e != "" {
		eu, err := url.Parse(e)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" || (eu.Path != "" && eu.Path != "/") || eu.User != nil {
			bad("endpoint", "must be the URL of the service, such as https://minio.example:9000, without a path or credentials")
		}
	}
	if rem.KMSKeyID != "" && rem.SSE != "kms" {
		bad("kms_key_id", `only applies with sse: kms`)
	}
	lock := rem.ObjectLock
	switch {
	case lock.Mode != "" && lock.RetainUntil.IsZero() && lock.RetainFor == 0:
		bad("object_lock", "mode %s needs retain_until or retain_for", lock.Mode)
	case lock.Mode == "" && (!lock.RetainUntil.IsZero() || lock.RetainFor > 0):
		bad("object_lock.mode", "required with retain_until or retain_for (governance or compliance)")
	case !lock.RetainUntil.IsZero() && lock.RetainFor > 0:
		bad("object_lock", "set retain_until or retain_for, not both")
	}
	if a.MaxAge > 0 {
		bad("max_age", "does not apply to an archive in an object store: expire its objects with the bucket's lifecycle rules")
	}
	if a.Dir == "" {
		a.Dir = filepath.Join(d.StateDir, archiveStagingDirName)
	}
	a.Remote = rem
	return ok
}
