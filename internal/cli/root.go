// Package cli is papyrad's command line: it parses commands, flags and arguments, calls the
// packages that do the work, prints their results and maps errors to exit codes (exit.go).
// cmd/papyrad only calls Main.
//
//	compact, scan    one-shot runs on the stores of a config file (config.Load) or on one store
//	                 described by flags (config.FromFlags), opened by stores.Open
//	config check     validate a config file and print it with the defaults merged in
//	archive ls, verify, cat
//	                 read a store's published archives (archive.Folder, s3.Remote)
//	run              the daemon: app.New, Run, Close
//	status, trigger, metrics
//	                 clients of a running daemon's control socket (app.PathStatus, ...)
//
// Bad flags and arguments exit 64, an invalid config file or a refused directory 78, a failed
// store 1, a store refused for now 75 (exit.go lists them).
package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/buildinfo"
)

// env is what a command needs from the process, injected so tests can run commands in-process.
type env struct {
	stdout, stderr io.Writer
	environ        []string
	isTerminal     func() bool
}

// Main runs papyrad with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, processEnv(stdout, stderr), args)
}

func processEnv(stdout, stderr io.Writer) *env {
	return &env{stdout: stdout, stderr: stderr, environ: os.Environ(), isTerminal: func() bool { return isTerminal(os.Stderr) }}
}

// Command returns papyrad's command tree as a user runs it, cobra's completion commands
// included, for the tools that document it (man pages).
func Command() *cobra.Command {
	root := newRoot(processEnv(os.Stdout, os.Stderr))
	root.InitDefaultCompletionCmd()
	return root
}

// execute runs one command line in e and returns its exit code, after printing its error.
func execute(ctx context.Context, e *env, args []string) int {
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && err.Error() != "" {
		fmt.Fprintln(e.stderr, "papyrad:", err)
	}
	return codeOf(err)
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "papyrad",
		Short: "Compaction daemon for Papyra's NDJSON, rotating and Redis Streams stores",
		Long: `papyrad physically removes the records that Papyra's retention no longer keeps,
without losing a record that retention keeps or one the application appends meanwhile.`,
		Version:       buildinfo.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// A bare papyrad is a usage error: the help, on stderr, and exit 64.
		RunE: func(c *cobra.Command, _ []string) error {
			c.SetOut(e.stderr)
			_ = c.Help()
			return silentExit(ExitUsage)
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(ExitUsage, fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath()))
	})
	root.AddCommand(newCompactCmd(e), newScanCmd(e), newConfigCmd(e), newRunCmd(e), newStatusCmd(e), newTriggerCmd(e), newMetricsCmd(e), newVersionCmd(e), newArchiveCmd(e))
	root.SetVersionTemplate(versionTemplate)
	completeStores(root, e)
	return root
}
