package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Redact returns a redis URL fit for logs, reports and error messages: a password in it is
// replaced by "xxxxx" (the user name stays). Text that does not parse as a URL is returned
// only up to its scheme, since it may hold a password in a form the parser did not recognise.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if scheme, _, ok := strings.Cut(rawURL, "://"); ok && !strings.ContainsAny(scheme, "@:/") {
			return scheme + "://(unparsable URL)"
		}
		return "(unparsable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

// secretError hides a password in an error's text while keeping the error chain for errors.Is.
type secretError struct {
	err    error
	secret string
}

func (e *secretError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx")
}

func (e *secretError) Unwrap() error { return e.err }

// scrub returns err with every occurrence of secret masked.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &secretError{err: err, secret: secret}
}

// readPasswordFile returns the password held in path, without its line terminator.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("redis password file: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("redis password file %s is empty", path)
	}
	return pw, nil
}

// clientOptions turns the configured URL and password file into go-redis options. The
// password file, when set, replaces a password in the URL.
func clientOptions(cfg *Config, password string) (*goredis.Options, error) {
	opt, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		// The parser's message may quote the URL: name it redacted, keep the cause scrubbed.
		return nil, fmt.Errorf("redis URL %s: %w", Redact(cfg.URL), scrub(err, urlPassword(cfg.URL)))
	}
	if password != "" {
		opt.Password = password
	}
	// Retries are the command's: one redial inside the pool, then the command's own retries
	// with exponential backoff (by default about 1.5s of waiting in all before a run fails).
	opt.MaxRetries = cfg.MaxRetries
	opt.MinRetryBackoff = cfg.MinRetryBackoff
	opt.MaxRetryBackoff = cfg.MaxRetryBackoff
	opt.DialerRetries = 2
	opt.DialerRetryTimeout = 50 * time.Millisecond
	opt.DialTimeout = cfg.DialTimeout
	opt.ReadTimeout = cfg.CommandTimeout
	opt.WriteTimeout = cfg.CommandTimeout
	// RESP2 and no CLIENT SETINFO: nothing is sent that an older server does not know.
	opt.Protocol = 2
	opt.DisableIdentity = true
	opt.PoolSize = 4
	opt.ClientName = "papyrad"
	return opt, nil
}

// urlPassword returns the password written in a redis URL, if any.
func urlPassword(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Unparsable: the best guess is whatever sits between the last ':' and '@' of the
		// authority, which is what would have been the password.
		rest := rawURL
		if _, r, ok := strings.Cut(rawURL, "://"); ok {
			rest = r
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				return rest[c+1 : at]
			}
		}
		return ""
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			return pw
		}
	}
	return u.Query().Get("password")
}

// server is what a run needs to know about the Redis server it talks to.
type server struct {
	version [3]int
	// nodeEntries is stream-node-max-entries: the most entries an approximate trim may have
	// to leave in the boundary node (100 when the server does not say).
	nodeEntries int64
}

func (v server) atLeast(major, minor int) bool {
	return v.version[0] > major || (v.version[0] == major && v.version[1] >= minor)
}

func (v server) String() string {
	return fmt.Sprintf("%d.%d.%d", v.version[0], v.version[1], v.version[2])
}

// probeServer asks the server for its version (INFO server) and its stream node size.
func probeServer(ctx context.Context, c *goredis.Client) (server, error) {
	sv := server{nodeEntries: 100}
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return sv, err
	}
	ver := ""
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			ver = v
		}
	}
	if ver == "" {
		return sv, errors.New("INFO server has no redis_version")
	}
	for i, part := range strings.SplitN(ver, ".", 3) {
		n, err := strconv.Atoi(strings.TrimFunc(part, func(r rune) bool { return r < '0' || r > '9' }))
		if err != nil {
			return sv, fmt.Errorf("redis_version %q: %w", ver, err)
		}
		sv.version[i] = n
	}
	// CONFIG may be renamed or refused (managed services): keep the server's default then.
	if m, err := c.ConfigGet(ctx, "stream-node-max-entries").Result(); err == nil {
		if n, err := strconv.ParseInt(m["stream-node-max-entries"], 10, 64); err == nil && n > 0 {
			sv.nodeEntries = n
		}
	}
	return sv, nil
}

// defaults fills the zero fields of cfg.
func (cfg *Config) defaults() {
	if cfg.Prefix == "" {
		cfg.Prefix = "papyra"
	}
	if cfg.SystemID == "" {
		cfg.SystemID = "local"
	}
	if cfg.AgeBasis == "" {
		cfg.AgeBasis = AgeByTimestamp
	}
	if cfg.ConsumerGroups == "" {
		cfg.ConsumerGroups = GroupsAcked
	}
	if cfg.TrimStep <= 0 {
		cfg.TrimStep = 10000
	}
	if cfg.ReadCount <= 0 {
		cfg.ReadCount = 1000
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 30 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.MinRetryBackoff <= 0 {
		cfg.MinRetryBackoff = 50 * time.Millisecond
	}
	if cfg.MaxRetryBackoff <= 0 {
		cfg.MaxRetryBackoff = time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 30 * time.Second
	}
}
