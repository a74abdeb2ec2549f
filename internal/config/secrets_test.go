package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsReadableByOthers: a config file holding a redis password, or a password file,
// that its group or others can read is named in a warning with its mode; one only its owner
// reads is not. No warning repeats the password.
func TestSecretsReadableByOthers(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		url                  string
		cfgMode, pwMode      os.FileMode
		wantCfg, wantPwdFile bool
	}{
		{"password in a world-readable config", "redis://:s3cret@cache:6379/0", 0o644, 0, true, false},
		{"password in a group-readable config", "redis://app:s3cret@cache:6379/0", 0o640, 0, true, false},
		{"password in a private config", "redis://:s3cret@cache:6379/0", 0o600, 0, false, false},
		{"no password in a readable config", "redis://cache:6379/0", 0o644, 0, false, false},
		{"readable password file", "redis://cache:6379/0", 0o644, 0o644, false, true},
		{"group-readable password file", "redis://cache:6379/0", 0o600, 0o640, false, true},
		{"private password file", "redis://cache:6379/0", 0o644, 0o600, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pw := ""
			pwFile := filepath.Join(dir, "redis.pass")
			if tc.pwMode != 0 {
				if err := os.WriteFile(pwFile, []byte("s3cret\n"), tc.pwMode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(pwFile, tc.pwMode)
				pw = ", password_file: " + pwFile
			}
			path := filepath.Join(dir, "papyrad.yaml")
			doc := "daemon: {state_dir: " + filepath.Join(dir, "state") + "}\nstores:\n" +
				"  - {name: cluster, backend: redis, redis: {url: '" + tc.url + "'" + pw + "}, retention: {max_age: 1d}}\n"
			if err := os.WriteFile(path, []byte(doc), tc.cfgMode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tc.cfgMode)
			cfg, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			var cfgWarn, pwWarn bool
			for _, w := range cfg.Warnings {
				if strings.Contains(w, "s3cret") {
					t.Errorf("a warning shows the password: %s", w)
				}
				switch {
				case strings.HasPrefix(w, path+" holds a redis password") && strings.Contains(w, "stores[0] (cluster): redis.url") &&
					strings.Contains(w, fmt.Sprintf("(mode %04o)", tc.cfgMode)) && strings.Contains(w, "chmod 600"):
					cfgWarn = true
				case strings.Contains(w, "stores[0] (cluster): redis.password_file "+pwFile) &&
					strings.Contains(w, fmt.Sprintf("(mode %04o)", tc.pwMode)) && strings.Contains(w, "chmod 600"):
					pwWarn = true
				default:
					t.Errorf("unexpected warning: %s", w)
				}
			}
			if cfgWarn != tc.wantCfg || pwWarn != tc.wantPwdFile {
				t.Errorf("warnings %q: config file warned %v (want %v), password file warned %v (want %v)", cfg.Warnings, cfgWarn, tc.wantCfg, pwWarn, tc.wantPwdFile)
			}
		})
	}
}

// TestPasswordsNeverShown: a password in a redis URL, in its user info or (refused) as a
// parameter, is shown as xxxxx in the effective configuration and never in an error.
func TestPasswordsNeverShown(t *testing.T) {
	c := mustParse(t, doc("stores:\n  - {name: a, backend: redis, redis: {url: 'redis://app:s3cret@h:6379/0'}, retention: none}\n"))
	out, err := c.Effective()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), "redis://app:xxxxx@h:6379/0") {
		t.Errorf("effective config:\n%s", out)
	}
	for _, u := range []string{"redis://h/0?password=s3cret", "redis://h/0?username=app&password=s3cret", "ftp://h/?password=s3cret", "redis://:s3cret@h:bad port/0"} {
		_, err := Parse(doc("stores:\n  - {name: a, backend: redis, redis: {url: '"+u+"'}, retention: none}\n"), nil)
		if err == nil {
			t.Errorf("%s accepted", u)
			continue
		}
		wantProblem(t, err, "stores[0] (a): redis.url")
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"redis://h/0?password=s3cret", "redis://h/0?password=xxxxx"},
		{"redis://:s3cret@h/0", "redis://:xxxxx@h/0"},
		{"redis://h/0", "redis://h/0"},
		{"unix://", "unix://"},
		{"redis://:s3cret@h:bad port/0", "redis://(unparsable URL)"},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
