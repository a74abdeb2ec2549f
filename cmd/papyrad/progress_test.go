package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestProgressOnTerminal: a long compaction run on a terminal (a pty) shows its progress on
// stderr, with the bytes done of the total, the rate and the time left; with stderr a pipe,
// as under a supervisor or in a script, nothing of the kind is printed. The progress is drawn
// again at most every 200 ms, so the run must last several times that: 220 MiB of expired
// records alone took 0.23 s once the classifier had got faster, so the store also holds as
// many kept ones, which the run must write to disk.
func TestProgressOnTerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	write := func() {
		// 1.2M of each, written 10000 at a time: 440 MiB, never all in memory.
		f, err := os.Create(store)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, rec := range [][]byte{records("old", 0, 1, oldStamp), records("orig", 0, 1, fresh)} {
			chunk := bytes.Repeat(rec, 10_000)
			for range 120 {
				if _, err := f.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	args := []string{"compact", "--path", store, "--max-age", "1d", "--state-dir", filepath.Join(dir, "state")}

	write()
	cmd := exec.Command(papyradBin, args...)
	cmd.Env = papyradEnv(t)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 120})
	if err != nil {
		t.Fatalf("start papyrad on a pty: %v", err)
	}
	var out bytes.Buffer
	copied := make(chan error, 1)
	go func() { _, err := io.Copy(&out, ptmx); copied <- err }()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("papyrad on a pty did not finish")
	}
	if err := <-copied; err != nil && !errors.Is(err, syscall.EIO) { // EIO: the pty's other end closed
		t.Fatal(err)
	}
	ptmx.Close()
	text := out.String()
	if err != nil || !strings.Contains(text, "events.ndjson: compacted") {
		t.Fatalf("on a pty: %v\n%q", err, text)
	}
	for _, want := range []string{"events.ndjson: ", "%", "MiB", "iB/s"} {
		if !strings.Contains(text, want) {
			t.Errorf("on a pty: no progress with %q:\n%q", want, text)
		}
	}

	write()
	r := papyrad(t, args...)
	if r.code != 0 || strings.Contains(r.stderr, "%") || strings.Contains(r.stderr, "\r") {
		t.Errorf("with stderr a pipe: want exit 0 and no progress\n%s", r)
	}
}
