package cli

import (
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"
)

// completeStores makes the shell complete the STORE arguments of compact, scan and trigger
// with the names of the stores of the config file given by --config (else PAPYRAD_CONFIG,
// else the default path, as every command finds its config: configFile), --config with YAML files and --backend with the kinds.
func completeStores(root *cobra.Command, e *env) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "compact", "scan", "trigger":
			c.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return storeNames(e, c, args, toComplete), cobra.ShellCompDirectiveNoFileComp
			}
		}
		if c.Flags().Lookup("config") != nil {
			_ = c.MarkFlagFilename("config", "yaml", "yml")
		}
		if c.Flags().Lookup("backend") != nil {
			_ = c.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions([]cobra.Completion{"json", "rotating", "redis", "memory"}, cobra.ShellCompDirectiveNoFileComp))
		}
	}
}

// storeNames are the names of the config's stores that start with prefix and are not in
// args yet. The file is read leniently, for its store names only: a config being edited, which
// config check would still refuse, completes too. An unreadable file completes nothing.
func storeNames(e *env, c *cobra.Command, args []string, prefix string) []cobra.Completion {
	flag, _ := c.Flags().GetString("config")
	path := configFile(e, flag)
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc struct {
		Stores []struct {
			Name string `yaml:"name"`
		} `yaml:"stores"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil
	}
	var out []cobra.Completion
	for _, s := range doc.Stores {
		if s.Name != "" && strings.HasPrefix(s.Name, prefix) && !slices.Contains(args, s.Name) && !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}
