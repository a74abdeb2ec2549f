package bufpool

import (
	"runtime/debug"
	"testing"
)

// TestReuse: a buffer given back serves a later Get, whatever length it was sliced to, and
// one of another capacity is not kept.
func TestReuse(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	// The race detector drops a quarter of what is put in a pool: a few tries.
	reused := false
	for range 20 {
		b := Get()
		if len(b) != Size {
			t.Fatalf("Get returned %d bytes, want %d", len(b), Size)
		}
		Put(b[:10])
		c := Get()
		if len(c) != Size {
			t.Fatalf("Get returned %d bytes, want %d", len(c), Size)
		}
		if &c[0] == &b[0] {
			reused = true
			break
		}
	}
	if !reused {
		t.Error("a buffer given back was never handed out again")
	}
	big := make([]byte, 2*Size)
	Put(big)
	for range 5 {
		if c := Get(); &c[0] == &big[0] {
			t.Fatal("a buffer of another capacity was kept")
		}
	}
}
