package config

import (
	"path/filepath"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/papyrad/papyrad/internal/window"
)

// Config is a validated configuration: the daemon settings and every store
// with the defaults merged in.
type Config struct {
	// Daemon holds the process-wide settings, environment overrides applied.
	Daemon Daemon
	// Stores lists the stores in the order of the file.
	Stores []Store
	// Path is the absolute path of the file loaded, "" when parsed from
	// bytes.
	Path string
	// Warnings are problems that do not stop papyrad but that the operator
	// should fix, each naming the file and what to do: a file holding a
	// secret that others than its owner can read. Commands print them, the
	// daemon logs them.
	Warnings []string
}

// Daemon holds the settings of the papyrad process (the daemon section).
type Daemon struct {
	// StateDir holds locks, the control socket and quarantine files.
	StateDir string
	// MetricsListen is the host:port of the Prometheus listener; ""
	// disables it.
	MetricsListen string
	// Timezone is the zone name as configured ("Local", "UTC",
	// "Europe/Berlin"); Location is the loaded zone. Schedules without
	// CRON_TZ and windows are evaluated in it.
	Timezone string
	Location *time.Location
	// MaxConcurrent bounds the runs in progress across all stores.
	MaxConcurrent int
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration
	Log             Log
	// ControlSocket is the unix socket of the control API.
	ControlSocket string
}

// Log configures the daemon's logger.
type Log struct {
	Level  LogLevel
	Format LogFormat
}

// Store is one store with every setting resolved: built-in defaults, then
// the defaults section, then the store's own keys.
type Store struct {
	Name    string
	Backend Backend
	// Path is the store file (json) or active file (rotating), absolute and
	// cleaned; "" for redis and memory.
	Path string
	// Rotation is set for rotating stores, zero otherwise.
	Rotation Rotation
	// Redis is set for redis stores, zero otherwise.
	Redis Redis

	// Schedule is the cron spec as written; Cron is its parsed form.
	// Schedules without CRON_TZ= follow the zone of the time passed to
	// Cron.Next (pass times in Daemon.Location).
	Schedule string
	Cron     cron.Schedule
	// Windows are the allowed windows; empty means any time. WindowSpecs
	// are the same windows as written, for printing.
	Windows     window.Set
	WindowSpecs []string
	// MaxDeferral is how long windows and traffic may hold back a run.
	MaxDeferral time.Duration
	// Jitter is the largest random delay added to each scheduled run.
	Jitter time.Duration
	// MinInterval deduplicates ticks closer together than this.
	MinInterval time.Duration

	Traffic   Traffic
	Disk      Disk
	Retention Retention
	// Archive is nil when dropped records are not archived.
	Archive *Archive
	// QuarantineDir receives lines that are not records.
	QuarantineDir string

	// PartialLineGrace is how recently an unterminated last line must have
	// been written to be left alone as a write in progress (file stores).
	PartialLineGrace time.Duration
	// DrainTimeout is how long to wait for writers still holding a replaced
	// file (file stores).
	DrainTimeout time.Duration
	// AllowHardLinks lets a run compact a store file (or segment) that has more
	// than one name; off, such a store is refused (file stores).
	AllowHardLinks bool
	// MissingOK makes a store whose file (or every file of its set) does not exist
	// nothing to do; off, such a store fails its runs and its scans (file stores).
	MissingOK bool

	// ConsumerGroups, ConsumerGroupMaxAge, AgeBasis and TrimStep apply to
	// redis stores. ConsumerGroupMaxAge 0 ("none") means groups always win.
	ConsumerGroups      ConsumerGroups
	ConsumerGroupMaxAge time.Duration
	AgeBasis            AgeBasis
	TrimStep            int
}

// Rotation describes a rotating store's segment set.
type Rotation struct {
	// MaxFiles counts the active file and the rotated segments (≥ 2).
	MaxFiles int
	Naming   Naming
}

// Redis locates a redis store's streams.
type Redis struct {
	URL      string
	Prefix   string
	SystemID string
	// PasswordFile, if set, is an absolute path to a file holding the
	// password.
	PasswordFile string
}

// Traffic configures the traffic guard. Zero limits mean no limit.
type Traffic struct {
	Sample              time.Duration
	MaxRecordsPerSecond float64
	MaxBytesPerSecond   int64
}

// Disk configures the disk preflight guard.
type Disk struct {
	// Reserve is kept free on top of what a run writes, in bytes.
	Reserve int64
	// Factor multiplies the size of the largest file a run writes (≥ 1).
	Factor float64
}

// Retention is a store's retention policy. Either None is set, or at least
// one of the three limits is non-zero; a zero limit is not applied.
type Retention struct {
	// None is set by "retention: none": keep every record.
	None          bool
	MaxAge        time.Duration
	MaxRecords    int
	MaxTotalBytes int64
	SizeBasis     SizeBasis
}

// Archive configures where dropped records go before they are removed.
type Archive struct {
	// Dir is absolute: the archive folder, or with Remote the folder where sealed archives
	// wait to be published (default <state_dir>/archive-staging).
	Dir      string
	Compress Compress
	// MaxAge is how long archive files are kept; 0 keeps them forever (always 0 with Remote:
	// the bucket's lifecycle rules expire objects).
	MaxAge time.Duration
	// Remote is set for an archive in an S3-compatible object store (archive.url).
	Remote *ArchiveRemote
}

// ArchiveRemote is an archive in an S3-compatible object store.
type ArchiveRemote struct {
	// URL is s3://bucket[/prefix], as written; Bucket and Prefix are its parts (Prefix
	// without slashes at either end).
	URL, Bucket, Prefix string
	// Endpoint is the service's URL; "" is AWS S3.
	Endpoint string
	Region   string
	// PathStyle addresses the bucket in the URL's path rather than its host name.
	PathStyle bool
	// TLSVerify checks the server's certificate (default true); CAFile adds a CA.
	TLSVerify bool
	CAFile    string
	// CredentialsFile (AWS shared credentials format, section Profile) replaces the
	// standard chain of credentials when set.
	CredentialsFile string
	Profile         string
	ObjectLock      ObjectLock
	// SSE is "" (the bucket's default), "aes256" or "kms" (with KMSKeyID or the default key).
	SSE      string
	KMSKeyID string
	// PartSize is the size of multipart upload parts.
	PartSize int64
}

// ObjectLock is the S3 Object Lock of published archives.
type ObjectLock struct {
	// Mode is "", "governance" or "compliance"; with a mode, exactly one of RetainUntil and
	// RetainFor is set.
	Mode        string
	RetainUntil time.Time
	RetainFor   time.Duration
	LegalHold   bool
}

// DefaultPartSize is the default size of a multipart upload's parts.
const DefaultPartSize = 16 << 20

// archiveStagingDirName is where, under the state directory, sealed archives wait to be
// published to a remote archive unless archive.dir says otherwise.
const archiveStagingDirName = "archive-staging"

// Backend is the kind of store.
type Backend string

// The backends.
const (
	BackendJSON     Backend = "json"
	BackendRotating Backend = "rotating"
	BackendRedis    Backend = "redis"
	BackendMemory   Backend = "memory"
)

// IsFile reports whether the backend stores records in files.
func (b Backend) IsFile() bool { return b == BackendJSON || b == BackendRotating }

// Naming is how a rotating store names its segments.
type Naming string

// The namings: events.ndjson.1 … (suffix) or events-0001.ndjson … (sequence).
const (
	NamingSuffix   Naming = "suffix"
	NamingSequence Naming = "sequence"
)

// SizeBasis is how max_total_bytes measures a record.
type SizeBasis string

// The size bases: the length of Python's repr of the record (papyra) or the
// stored bytes (stored).
const (
	SizeBasisPapyra SizeBasis = "papyra"
	SizeBasisStored SizeBasis = "stored"
)

// Compress is an archive's compression.
type Compress string

// The compressions.
const (
	CompressZstd Compress = "zstd"
	CompressGzip Compress = "gzip"
	CompressNone Compress = "none"
)

// ConsumerGroups is how redis consumer groups limit trimming.
type ConsumerGroups string

// The consumer group policies.
const (
	ConsumerGroupsIgnore    ConsumerGroups = "ignore"
	ConsumerGroupsDelivered ConsumerGroups = "delivered"
	ConsumerGroupsAcked     ConsumerGroups = "acked"
)

// AgeBasis is where a redis entry's age comes from.
type AgeBasis string

// The age bases: the record's timestamp field, or the entry ID's time.
const (
	AgeBasisTimestamp AgeBasis = "timestamp"
	AgeBasisID        AgeBasis = "id"
)

// LogLevel is the least severe level logged.
type LogLevel string

// The log levels.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// LogFormat is the log encoding.
type LogFormat string

// The log formats.
const (
	LogJSON    LogFormat = "json"
	LogConsole LogFormat = "console"
)

// Built-in defaults, used where neither the defaults section nor the store
// sets a value.
const (
	DefaultStateDir         = "/var/lib/papyrad"
	DefaultMetricsListen    = "127.0.0.1:9464"
	DefaultTimezone         = "Local"
	DefaultMaxConcurrent    = 1
	DefaultShutdownTimeout  = 60 * time.Second
	DefaultLogLevel         = LogInfo
	DefaultLogFormat        = LogJSON
	DefaultSchedule         = "15 2 * * *"
	DefaultMaxDeferral      = 72 * time.Hour
	DefaultJitter           = time.Duration(0)
	DefaultMinInterval      = time.Minute
	DefaultTrafficSample    = 30 * time.Second
	DefaultDiskReserve      = int64(1 << 30)
	DefaultDiskFactor       = 1.1
	DefaultSizeBasis        = SizeBasisPapyra
	DefaultCompress         = CompressZstd
	DefaultPartialLineGrace = 10 * time.Second
	DefaultDrainTimeout     = 5 * time.Second
	DefaultConsumerGroups   = ConsumerGroupsAcked
	// DefaultConsumerGroupMaxAge bounds how long a consumer group that
	// stopped reading holds back retention: a week covers a consumer down
	// over a long weekend or a holiday with time to notice (the held-back
	// entries are warned about at every run), and keeps a dead group from
	// making a stream grow without bound.
	DefaultConsumerGroupMaxAge = 7 * 24 * time.Hour
	DefaultAgeBasis            = AgeBasisTimestamp
	DefaultTrimStep            = 10000
	DefaultMaxFiles            = 5
	DefaultNaming              = NamingSuffix
	DefaultRedisPrefix         = "papyra"
	DefaultRedisSystemID       = "local"

	// controlSocketName and quarantineDirName are placed in the state
	// directory unless configured.
	controlSocketName = "papyrad.sock"
	quarantineDirName = "quarantine"
)

// DefaultDaemon returns the daemon settings used when the configuration
// sets none, with the local time zone.
func DefaultDaemon() Daemon {
	return Daemon{
		StateDir:        DefaultStateDir,
		MetricsListen:   DefaultMetricsListen,
		Timezone:        DefaultTimezone,
		Location:        time.Local,
		MaxConcurrent:   DefaultMaxConcurrent,
		ShutdownTimeout: DefaultShutdownTimeout,
		Log:             Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		ControlSocket:   filepath.Join(DefaultStateDir, controlSocketName),
	}
}

// DefaultStore returns a store of the given name and backend with every
// setting at its built-in default (quarantine under d's state directory):
// what a store in a file, or described by flags (FromFlags), resolves to
// when it sets nothing else. The caller sets Path, Redis.URL and Retention;
// the result has not been validated.
func DefaultStore(d Daemon, name string, backend Backend) Store {
	s := Store{
		Name:                name,
		Backend:             backend,
		Schedule:            DefaultSchedule,
		Cron:                mustDefaultCron(),
		MaxDeferral:         DefaultMaxDeferral,
		Jitter:              DefaultJitter,
		MinInterval:         DefaultMinInterval,
		Traffic:             Traffic{Sample: DefaultTrafficSample},
		Disk:                Disk{Reserve: DefaultDiskReserve, Factor: DefaultDiskFactor},
		Retention:           Retention{SizeBasis: DefaultSizeBasis},
		QuarantineDir:       filepath.Join(d.StateDir, quarantineDirName),
		PartialLineGrace:    DefaultPartialLineGrace,
		DrainTimeout:        DefaultDrainTimeout,
		ConsumerGroups:      DefaultConsumerGroups,
		ConsumerGroupMaxAge: DefaultConsumerGroupMaxAge,
		AgeBasis:            DefaultAgeBasis,
		TrimStep:            DefaultTrimStep,
	}
	switch backend {
	case BackendRotating:
		s.Rotation = Rotation{MaxFiles: DefaultMaxFiles, Naming: DefaultNaming}
	case BackendRedis:
		s.Redis = Redis{Prefix: DefaultRedisPrefix, SystemID: DefaultRedisSystemID}
	}
	return s
}

func mustDefaultCron() cron.Schedule {
	s, err := parseSchedule(DefaultSchedule)
	if err != nil {
		panic("config: default schedule: " + err.Error())
	}
	return s
}

// Store returns the store called name.
func (c *Config) Store(name string) (*Store, bool) {
	for i := range c.Stores {
		if c.Stores[i].Name == name {
			return &c.Stores[i], true
		}
	}
	return nil, false
}

// HasLimit reports whether the policy limits anything.
func (r Retention) HasLimit() bool {
	return r.MaxAge > 0 || r.MaxRecords > 0 || r.MaxTotalBytes > 0
}
