package cli

import (
	"errors"
	"io/fs"
	"os"

	"github.com/papyrad/papyrad/internal/config"
)

// defaultConfigPath is the config file read when neither --config nor PAPYRAD_CONFIG names one
// (config.DefaultPath; tests point it elsewhere).
var defaultConfigPath = config.DefaultPath

// configFlagUsage is the help of every --config flag.
var configFlagUsage = "config file (YAML; default $" + config.EnvConfig + ", else " + config.DefaultPath + ")"

// configFile returns the config file a command reads: flag (--config) when given, else
// PAPYRAD_CONFIG, else the default path when a file is there. It returns "" when none is:
// the command then says what it needs (noConfig).
func configFile(e *env, flag string) string {
	if flag != "" {
		return flag
	}
	if v := envValue(e.environ, config.EnvConfig); v != "" {
		return v
	}
	if _, err := os.Stat(defaultConfigPath); !errors.Is(err, fs.ErrNotExist) {
		return defaultConfigPath
	}
	return ""
}

// noConfig says that no config file was found, for a usage error that goes on with what else
// would do (alternative).
func noConfig(alternative string) error {
	return usageErrorf("no config file: give --config FILE or set %s (%s, the default, does not exist)%s", config.EnvConfig, defaultConfigPath, alternative)
}

// envValue returns the last value of key in environ, "" when unset.
func envValue(environ []string, key string) string {
	prefix := key + "="
	for i := len(environ) - 1; i >= 0; i-- {
		if len(environ[i]) >= len(prefix) && environ[i][:len(prefix)] == prefix {
			return environ[i][len(prefix):]
		}
	}
	return ""
}
