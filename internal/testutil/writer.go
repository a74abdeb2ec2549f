package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Writer is a running papyrawriter: an application appending to a store from its own process.
type Writer struct {
	Name  string
	cmd   *exec.Cmd
	lines chan string
	errs  *SyncBuffer
	done  bool
}

// StartWriter starts the papyrawriter program bin as writer name with args and waits for its
// first record. Its standard input is a pipe the test keeps open and the test binary's death
// kills it, so a test that fails or dies leaves no writer appending.
func StartWriter(tb testing.TB, bin, name string, args ...string) *Writer {
	tb.Helper()
	return StartWriterCmd(tb, name, exec.Command(bin, append([]string{"-writer", name, "-stdin"}, args...)...))
}

// StartWriterCmd is StartWriter for a command already made (as another user, say): cmd runs
// papyrawriter, with "-writer", name and "-stdin" among its arguments.
func StartWriterCmd(tb testing.TB, name string, cmd *exec.Cmd) *Writer {
	tb.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	w := &Writer{Name: name, cmd: cmd, lines: make(chan string, 4), errs: &SyncBuffer{}}
	cmd.Stderr = w.errs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	tb.Cleanup(func() {
		_ = stdin.Close()
		if !w.done {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	select {
	case l, ok := <-w.lines:
		if !ok || l != "ready" {
			tb.Fatalf("writer %s did not start: %q %s", name, l, w.errs)
		}
	case <-time.After(20 * time.Second):
		tb.Fatalf("writer %s wrote nothing within 20s: %s", name, w.errs)
	}
	return w
}

// Alive returns an error, with what the writer printed on its standard error, once it has
// exited.
func (w *Writer) Alive() error {
	if err := w.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		return fmt.Errorf("%w: %s", err, w.errs)
	}
	return nil
}

// PID is the writer's process id.
func (w *Writer) PID() int { return w.cmd.Process.Pid }

// Pause stops the writer between two system calls (SIGSTOP), so that the store can be read
// without a write in flight, and waits until every thread has stopped.
func (w *Writer) Pause(tb testing.TB) {
	tb.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !allStopped(w.PID()) {
		if time.Now().After(deadline) {
			tb.Fatalf("writer %s did not stop", w.Name)
		}
		time.Sleep(time.Millisecond)
	}
}

// Resume lets a paused writer go on.
func (w *Writer) Resume(tb testing.TB) {
	tb.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Fatal(err)
	}
}

// Stop ends the writer and returns how many records it wrote (seqs 0..n-1), with the lines it
// printed before its count (a rotating writer's figures).
func (w *Writer) Stop(tb testing.TB) (n int64, before []string) {
	tb.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGCONT)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	var lines []string
	for l := range w.lines {
		lines = append(lines, l)
	}
	err := w.cmd.Wait()
	w.done = true
	if err != nil {
		tb.Fatalf("writer %s: %v: %s", w.Name, err, w.errs)
	}
	if len(lines) == 0 {
		tb.Fatalf("writer %s printed nothing, want \"written N\"", w.Name)
	}
	last := lines[len(lines)-1]
	s, ok := strings.CutPrefix(last, "written ")
	n, err = strconv.ParseInt(s, 10, 64)
	if !ok || err != nil {
		tb.Fatalf("writer %s ended with %q, want \"written N\"", w.Name, last)
	}
	return n, lines[:len(lines)-1]
}

// allStopped reports whether every thread of pid is in the stopped state.
func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// The state follows the command name, which is in parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes, for a child's output.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
