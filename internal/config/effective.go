package config

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/papyrad/papyrad/internal/units"
)

// The shape of Effective's output. Field order is the order printed.
type (
	effConfig struct {
		Daemon effDaemon  `yaml:"daemon"`
		Stores []effStore `yaml:"stores"`
	}
	effDaemon struct {
		StateDir        string `yaml:"state_dir"`
		MetricsListen   string `yaml:"metrics_listen"`
		Timezone        string `yaml:"timezone"`
		MaxConcurrent   int    `yaml:"max_concurrent"`
		ShutdownTimeout string `yaml:"shutdown_timeout"`
		Log             effLog `yaml:"log"`
		ControlSocket   string `yaml:"control_socket"`
	}
	effLog struct {
		Level  LogLevel  `yaml:"level"`
		Format LogFormat `yaml:"format"`
	}
	effStore struct {
		Name                string         `yaml:"name"`
		Backend             Backend        `yaml:"backend"`
		Path                string         `yaml:"path,omitempty"`
		Rotation            *effRotation   `yaml:"rotation,omitempty"`
		Redis               *effRedis      `yaml:"redis,omitempty"`
		Schedule            string         `yaml:"schedule"`
		Windows             []string       `yaml:"windows"`
		MaxDeferral         string         `yaml:"max_deferral"`
		Jitter              string         `yaml:"jitter"`
		MinInterval         string         `yaml:"min_interval"`
		Traffic             effTraffic     `yaml:"traffic"`
		Disk                effDisk        `yaml:"disk"`
		Retention           any            `yaml:"retention"`
		Archive             *effArchive    `yaml:"archive,omitempty"`
		QuarantineDir       string         `yaml:"quarantine_dir"`
		PartialLineGrace    string         `yaml:"partial_line_grace,omitempty"`
		DrainTimeout        string         `yaml:"drain_timeout,omitempty"`
		AllowHardLinks      *bool          `yaml:"allow_hard_links,omitempty"`
		MissingOK           *bool          `yaml:"missing_ok,omitempty"`
		ConsumerGroups      ConsumerGroups `yaml:"consumer_groups,omitempty"`
		ConsumerGroupMaxAge string         `yaml:"consumer_group_max_age,omitempty"`
		AgeBasis            AgeBasis       `yaml:"age_basis,omitempty"`
		TrimStep            int            `yaml:"trim_step,omitempty"`
	}
	effRotation struct {
		MaxFiles int    `yaml:"max_files"`
		Naming   Naming `yaml:"naming"`
	}
	effRedis struct {
		URL          string `yaml:"url"`
		Prefix       string `yaml:"prefix"`
		SystemID     string `yaml:"system_id"`
		PasswordFile string `yaml:"password_file,omitempty"`
	}
	effTraffic struct {
		Sample              string  `yaml:"sample"`
		MaxRecordsPerSecond float64 `yaml:"max_records_per_second"`
		MaxBytesPerSecond   string  `yaml:"max_bytes_per_second"`
	}
	effDisk struct {
		Reserve string  `yaml:"reserve"`
		Factor  float64 `yaml:"factor"`
	}
	effRetention struct {
		MaxAge        string    `yaml:"max_age,omitempty"`
		MaxRecords    int       `yaml:"max_records,omitempty"`
		MaxTotalBytes string    `yaml:"max_total_bytes,omitempty"`
		SizeBasis     SizeBasis `yaml:"size_basis"`
	}
	effArchive struct {
		Dir             string         `yaml:"dir"`
		Compress        Compress       `yaml:"compress"`
		MaxAge          string         `yaml:"max_age"`
		URL             string         `yaml:"url,omitempty"`
		Endpoint        string         `yaml:"endpoint,omitempty"`
		Region          string         `yaml:"region,omitempty"`
		PathStyle       *bool          `yaml:"path_style,omitempty"`
		TLSVerify       *bool          `yaml:"tls_verify,omitempty"`
		CAFile          string         `yaml:"ca_file,omitempty"`
		CredentialsFile string         `yaml:"credentials_file,omitempty"`
		Profile         string         `yaml:"profile,omitempty"`
		SSE             string         `yaml:"sse,omitempty"`
		KMSKeyID        string         `yaml:"kms_key_id,omitempty"`
		PartSize        string         `yaml:"part_size,omitempty"`
		ObjectLock      *effObjectLock `yaml:"object_lock,omitempty"`
	}
	effObjectLock struct {
		Mode        string `yaml:"mode,omitempty"`
		RetainUntil string `yaml:"retain_until,omitempty"`
		RetainFor   string `yaml:"retain_for,omitempty"`
		LegalHold   bool   `yaml:"legal_hold"`
	}
)

// Effective returns the configuration as papyrad will use it, in the same
// YAML format as the file: the daemon section with environment overrides
// applied, and every store with the defaults merged in and every setting
// spelled out, durations and sizes in human units ("7d", "1 GiB"). There
// is no defaults section. Settings a store's backend does not use are left
// out. A password inside a redis.url is printed as "xxxxx"; apart from
// that, parsing the output gives the same configuration.
func (c *Config) Effective() ([]byte, error) {
	out := effConfig{
		Daemon: effDaemon{
			StateDir:        c.Daemon.StateDir,
			MetricsListen:   c.Daemon.MetricsListen,
			Timezone:        c.Daemon.Timezone,
			MaxConcurrent:   c.Daemon.MaxConcurrent,
			ShutdownTimeout: units.FormatDuration(c.Daemon.ShutdownTimeout),
			Log:             effLog(c.Daemon.Log),
			ControlSocket:   c.Daemon.ControlSocket,
		},
		Stores: make([]effStore, 0, len(c.Stores)),
	}
	for _, s := range c.Stores {
		e := effStore{
			Name:        s.Name,
			Backend:     s.Backend,
			Path:        s.Path,
			Schedule:    s.Schedule,
			Windows:     s.WindowSpecs,
			MaxDeferral: units.FormatDuration(s.MaxDeferral),
			Jitter:      units.FormatDuration(s.Jitter),
			MinInterval: units.FormatDuration(s.MinInterval),
			Traffic: effTraffic{
				Sample:              units.FormatDuration(s.Traffic.Sample),
				MaxRecordsPerSecond: s.Traffic.MaxRecordsPerSecond,
				MaxBytesPerSecond:   formatLimit(s.Traffic.MaxBytesPerSecond),
			},
			Disk:          effDisk{Reserve: units.FormatSize(s.Disk.Reserve), Factor: s.Disk.Factor},
			QuarantineDir: s.QuarantineDir,
		}
		if e.Windows == nil {
			e.Windows = []string{}
		}
		switch s.Backend {
		case BackendRotating:
			e.Rotation = &effRotation{MaxFiles: s.Rotation.MaxFiles, Naming: s.Rotation.Naming}
		case BackendRedis:
			e.Redis = &effRedis{URL: redactURL(s.Redis.URL), Prefix: s.Redis.Prefix, SystemID: s.Redis.SystemID, PasswordFile: s.Redis.PasswordFile}
			e.ConsumerGroups = s.ConsumerGroups
			e.ConsumerGroupMaxAge = "none"
			if s.ConsumerGroupMaxAge > 0 {
				e.ConsumerGroupMaxAge = units.FormatDuration(s.ConsumerGroupMaxAge)
			}
			e.AgeBasis = s.AgeBasis
			e.TrimStep = s.TrimStep
		}
		if s.Backend.IsFile() {
			e.PartialLineGrace = units.FormatDuration(s.PartialLineGrace)
			e.DrainTimeout = units.FormatDuration(s.DrainTimeout)
			e.AllowHardLinks = &s.AllowHardLinks
			e.MissingOK = &s.MissingOK
		}
		if s.Retention.None {
			e.Retention = "none"
		} else {
			r := effRetention{MaxRecords: s.Retention.MaxRecords, SizeBasis: s.Retention.SizeBasis}
			if s.Retention.MaxAge > 0 {
				r.MaxAge = units.FormatDuration(s.Retention.MaxAge)
			}
			if s.Retention.MaxTotalBytes > 0 {
				r.MaxTotalBytes = units.FormatSize(s.Retention.MaxTotalBytes)
			}
			e.Retention = r
		}
		if a := s.Archive; a != nil {
			e.Archive = effectiveArchive(a)
		}
		out.Stores = append(out.Stores, e)
	}
	var buf bytes.Buffer
	enc := yamlv3.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode effective config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode effective config: %w", err)
	}
	return buf.Bytes(), nil
}

// formatLimit prints a size limit, 0 (no limit) as a bare 0.
func formatLimit(n int64) string {
	if n == 0 {
		return "0"
	}
	return units.FormatSize(n)
}

// redactURL hides a password a URL carries, in its user info or as a password parameter.
// Text that does not parse as a URL is shown only as its scheme: a password in it could be
// anywhere.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if scheme, _, ok := strings.Cut(s, "://"); ok && !strings.ContainsAny(scheme, "@:/") {
			return scheme + "://(unparsable URL)"
		}
		return "(unparsable URL)"
	}
	if !hasPassword(s) {
		return s
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// hasPassword reports whether a URL carries a password, in its user info or as a parameter
// (an unparsable one: whether it could).
func hasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return strings.Contains(s, "@")
	}
	_, inUser := u.User.Password()
	return inUser || u.Query().Has("password")
}

// effectiveArchive spells out an archive; a remote one's settings too (never a credential:
// only the name of the file that holds them).
func effectiveArchive(a *Archive) *effArchive {
	e := &effArchive{Dir: a.Dir, Compress: a.Compress, MaxAge: units.FormatDuration(a.MaxAge)}
	rem := a.Remote
	if rem == nil {
		return e
	}
	sse := rem.SSE
	if sse == "" {
		sse = "none"
	}
	e.URL, e.Endpoint, e.Region, e.PathStyle, e.TLSVerify = rem.URL, rem.Endpoint, rem.Region, &rem.PathStyle, &rem.TLSVerify
	e.CAFile, e.CredentialsFile, e.Profile, e.SSE, e.KMSKeyID = rem.CAFile, rem.CredentialsFile, rem.Profile, sse, rem.KMSKeyID
	e.PartSize = units.FormatSize(rem.PartSize)
	if l := rem.ObjectLock; l.Mode != "" || l.LegalHold {
		e.ObjectLock = &effObjectLock{Mode: l.Mode, LegalHold: l.LegalHold}
		if !l.RetainUntil.IsZero() {
			e.ObjectLock.RetainUntil = l.RetainUntil.Format(time.RFC3339)
		}
		if l.RetainFor > 0 {
			e.ObjectLock.RetainFor = units.FormatDuration(l.RetainFor)
		}
	}
	return e
}
