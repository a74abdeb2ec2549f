package activity

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCounterFollowsAppendsAndReplacements(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(path, []byte("old\nold\n"), 0o644)
	var c Counter
	if l, b, err := c.Observe(path); err != nil || l != 0 || b != 0 {
		t.Fatalf("first look = %d lines %d bytes %v: what was there is not traffic", l, b, err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("a\nbb\n")
	f.Close()
	if l, b, _ := c.Observe(path); l != 2 || b != 5 {
		t.Errorf("after two appends: %d lines %d bytes", l, b)
	}
	// Rotated away: the new file's content is new traffic.
	os.Rename(path, path+".1")
	os.WriteFile(path, []byte("c\n"), 0o644)
	if l, b, _ := c.Observe(path); l != 3 || b != 7 {
		t.Errorf("after a rotation: %d lines %d bytes", l, b)
	}
	os.Remove(path)
	if l, _, err := c.Observe(path); err != nil || l != 3 {
		t.Errorf("a missing file: %d, %v", l, err)
	}
}
