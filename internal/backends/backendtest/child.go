package backendtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/testutil"
)

// envChild carries a child's job; its presence makes TestHelperProcess a child.
const envChild = "PAPYRAD_BACKENDTEST_CHILD"

// resultPrefix starts the line on which a child reports how its run ended.
const resultPrefix = "backendtest-result "

// job is what a child process does: one run of a store.
type job struct {
	Harness string
	Params  Params
}

// outcome is how a child's run ended.
type outcome struct {
	Err         string   `json:",omitempty"`
	NoSpace     bool     `json:",omitempty"` // errs.IsNoSpace(err)
	Permission  bool     `json:",omitempty"` // errors.Is(err, fs.ErrPermission)
	Result      string   `json:",omitempty"`
	Pending     int      `json:",omitempty"` // the report's PendingFiles
	Quarantined int64    `json:",omitempty"` // the report's RecordsQuarantined
	Warnings    []string `json:",omitempty"`
}

// HelperProcess is the body of a backend package's TestHelperProcess: in a child started by
// the suite it compacts the store described in its environment with the harness of that name
// and prints how the run ended; anywhere else it returns at once.
func HelperProcess(t *testing.T, hs ...Kind) {
	v := os.Getenv(envChild)
	if v == "" {
		return
	}
	var j job
	if err := json.Unmarshal([]byte(v), &j); err != nil {
		t.Fatalf("%s: %v", envChild, err)
	}
	var h Kind
	for _, c := range hs {
		if c.kindName() == j.Harness {
			h = c
		}
	}
	if h == nil {
		t.Fatalf("no harness named %q among those given to HelperProcess", j.Harness)
	}
	rep, err := h.build(j.Params).Compact(context.Background(), backends.Options{})
	o := outcome{Result: string(rep.Result), Pending: rep.PendingFiles, Quarantined: rep.RecordsQuarantined, Warnings: rep.Warnings}
	if err != nil {
		o.Err = err.Error()
		o.NoSpace = errs.IsNoSpace(err)
		o.Permission = errors.Is(err, fs.ErrPermission)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", resultPrefix, b)
}

// child is a run of a store in a child process.
type child struct {
	cmd   *exec.Cmd
	out   *testutil.SyncBuffer
	done  chan error
	start time.Time
}

// childOpts change how a child is started.
type childOpts struct {
	exe    string               // the test binary; os.Args[0] if empty
	cred   *syscall.Credential  // run as this user
	deploy *testutil.Deployment // run as this deployment runs papyrad (exe must be reachable)
}

// startChild starts a run of f's store in a child process.
func (s *suite) startChild(t *testing.T, f *fixture, o childOpts) *child {
	t.Helper()
	return startChild(t, s.h.Name, f.params, o)
}

// startChild starts a run of the store with params p, built by the harness named kind, in a
// child process.
func startChild(t *testing.T, kind string, p Params, o childOpts) *child {
	t.Helper()
	b, err := json.Marshal(job{Harness: kind, Params: p})
	if err != nil {
		t.Fatal(err)
	}
	if o.exe == "" {
		o.exe = os.Args[0]
	}
	c := &child{out: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	args := []string{"-test.run=^TestHelperProcess$", "-test.count=1"}
	// A copy of the test binary just written cannot be run (ETXTBSY) while a process forked
	// meanwhile, by a test running beside this one, still holds its descriptor: that lasts
	// until the process runs its own program, so the start is tried again.
	for try := 0; ; try++ {
		c.cmd = exec.Command(o.exe, args...)
		if o.deploy != nil {
			c.cmd = o.deploy.Papyrad(o.exe, args...)
		}
		c.cmd.Env = append(os.Environ(), envChild+"="+string(b))
		c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
		// The test binary's death kills the child: a failed test leaves no run going.
		if c.cmd.SysProcAttr == nil {
			c.cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		c.cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		if o.cred != nil {
			c.cmd.SysProcAttr.Credential = o.cred
		}
		c.start = time.Now()
		err := c.cmd.Start()
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ETXTBSY) || try == 50 {
			t.Fatalf("start the child process: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	go func() { c.done <- c.cmd.Wait() }()
	return c
}

// ended turns the child's end into its outcome; finished is false if it was killed.
func (c *child) ended(t *testing.T, err error) (o outcome, finished bool, dur time.Duration) {
	t.Helper()
	dur = time.Since(c.start)
	var ee *exec.ExitError
	if errors.As(err, &ee) && !ee.Exited() {
		return o, false, dur
	}
	out := c.out.String()
	if err != nil {
		t.Fatalf("the child process failed: %v\n%s", err, testutil.Abbrev([]byte(out), 8000))
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), resultPrefix); ok {
			if err := json.Unmarshal([]byte(r), &o); err != nil {
				t.Fatalf("the child's result %q: %v", r, err)
			}
			return o, true, dur
		}
	}
	t.Fatalf("the child process reported nothing: does the package's TestHelperProcess call backendtest.HelperProcess?\n%s",
		testutil.Abbrev([]byte(out), 8000))
	return o, false, dur
}

// wait waits for the child to end on its own.
func (c *child) wait(t *testing.T) outcome {
	t.Helper()
	select {
	case err := <-c.done:
		o, _, _ := c.ended(t, err)
		return o
	case <-time.After(2 * time.Minute):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("the child's run did not end within 2 minutes\n%s", testutil.Abbrev([]byte(c.out.String()), 8000))
	}
	return outcome{}
}

// kill sends SIGKILL (the run may just have ended) and waits for the end.
func (c *child) kill(t *testing.T) (o outcome, finished bool, dur time.Duration) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	return c.ended(t, <-c.done)
}

// killAfter kills the child after delay unless it ends first.
func (c *child) killAfter(t *testing.T, delay time.Duration) (o outcome, finished bool, dur time.Duration) {
	t.Helper()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case err := <-c.done:
		return c.ended(t, err)
	case <-timer.C:
		return c.kill(t)
	}
}

// killAimed kills the child within spread after ready first says yes (polled every 50µs),
// unless it ends first.
func (c *child) killAimed(t *testing.T, ready func() bool, spread time.Duration, rng *rand.Rand) (o outcome, finished bool, dur time.Duration) {
	t.Helper()
	for !ready() && time.Since(c.start) < time.Minute {
		select {
		case err := <-c.done:
			return c.ended(t, err)
		case <-time.After(50 * time.Microsecond):
		}
	}
	time.Sleep(time.Duration(rng.Int64N(int64(spread))))
	return c.kill(t)
}
