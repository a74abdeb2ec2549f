package cli

import (
	"errors"
	"fmt"
)

// Exit codes, sysexits style. They are a stable interface: scripts and systemd rely on them.
const (
	ExitOK        = 0  // success, or nothing to do
	ExitFailed    = 1  // a store failed
	ExitAnomalies = 2  // scan found anomalies (as papyra persistence scan)
	ExitUsage     = 64 // usage error
	ExitTempFail  = 75 // refused for now by a guard or a lock: try again later
	ExitConfig    = 78 // invalid configuration
)

// exitError carries an exit code with the error that caused it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func usageErrorf(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// silentExit ends the command with a code after the command printed what it had to say.
func silentExit(code int) error { return &exitError{code: code, err: errSilent} }

var errSilent = errors.New("")

// codeOf maps an error returned by a command to the process exit code.
func codeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage // cobra's own errors: unknown flag, bad argument
}
