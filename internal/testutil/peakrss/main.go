// Command peakrss runs a command and writes its peak resident memory, in bytes, to the file
// named by the PEAKRSS_FILE environment variable. Tests start papyrad through it because a
// child started directly by a large test process reports that process's peak as its own (the
// high-water mark is carried over at exec); started from this small process, it does not.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: PEAKRSS_FILE=F peakrss COMMAND [ARG...]")
		os.Exit(64)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(70)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if name := os.Getenv("PEAKRSS_FILE"); name != "" {
			if err := os.WriteFile(name, []byte(strconv.FormatInt(ru.Maxrss*1024, 10)), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "peakrss:", err)
				os.Exit(70)
			}
		}
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
