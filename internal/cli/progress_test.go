package cli

import (
	"os"
	"testing"

	"github.com/creack/pty"
)

// TestIsTerminal: only a terminal is one; /dev/null (a character device), a pipe and a
// regular file are not.
func TestIsTerminal(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, f := range map[string]*os.File{"/dev/null": devNull, "a pipe": w, "a file": file} {
		if isTerminal(f) {
			t.Errorf("%s counts as a terminal", name)
		}
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if !isTerminal(tty) {
		t.Errorf("a pty does not count as a terminal")
	}
}
