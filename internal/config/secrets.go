package config

import (
	"fmt"
	"os"
)

// secretWarnings reports the files of cfg that hold a secret and that others than their owner
// can read: the config file itself when a redis.url carries a password, each
// redis.password_file and each archive.credentials_file. name says where a setting came from
// ("stores[0] (orders): archive.credentials_file", or a flag's name).
func secretWarnings(cfg *Config, name func(i int, s *Store, key string) string) []string {
	var out []string
	var inline []string
	seen := map[string]bool{}
	for i := range cfg.Stores {
		s := &cfg.Stores[i]
		label := fmt.Sprintf("stores[%d] (%s)", i, s.Name)
		if a := s.Archive; a != nil && a.Remote != nil && a.Remote.CredentialsFile != "" && !seen[a.Remote.CredentialsFile] {
			p := a.Remote.CredentialsFile
			seen[p] = true
			if mode, ok := readableByOthers(p); ok {
				out = append(out, fmt.Sprintf("%s %s can be read by its group or others (mode %04o); make it readable by its owner only (chmod 600)", name(i, s, "archive.credentials_file"), p, mode))
			}
		}
		if s.Backend != BackendRedis {
			continue
		}
		if hasPassword(s.Redis.URL) {
			inline = append(inline, label)
		}
		if p := s.Redis.PasswordFile; p != "" && !seen[p] {
			seen[p] = true
			if mode, ok := readableByOthers(p); ok {
				out = append(out, fmt.Sprintf("%s %s can be read by its group or others (mode %04o); make it readable by its owner only (chmod 600)", name(i, s, "redis.password_file"), p, mode))
			}
		}
	}
	if len(inline) > 0 && cfg.Path != "" {
		if mode, ok := readableByOthers(cfg.Path); ok {
			w := fmt.Sprintf("%s holds a redis password (%s: redis.url) and can be read by its group or others (mode %04o); make it readable by its owner only (chmod 600), or move the password to redis.password_file", cfg.Path, inline[0], mode)
			if len(inline) > 1 {
				w = fmt.Sprintf("%s holds redis passwords (%d stores, the first %s: redis.url) and can be read by its group or others (mode %04o); make it readable by its owner only (chmod 600), or move the passwords to redis.password_file", cfg.Path, len(inline), inline[0], mode)
			}
			out = append([]string{w}, out...)
		}
	}
	return out
}

// fileSetting names a setting of a store in a config file.
func fileSetting(i int, s *Store, key string) string {
	return fmt.Sprintf("stores[%d] (%s): %s", i, s.Name, key)
}

// readableByOthers returns the permission bits of the file at path when its group or others
// may read it. A file that cannot be looked at is not reported here: using it reports that.
func readableByOthers(path string) (os.FileMode, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	mode := fi.Mode().Perm()
	return mode, mode&0o044 != 0
}
