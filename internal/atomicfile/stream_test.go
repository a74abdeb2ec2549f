package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/testutil"
)

// directFlag reports whether f's open file description has O_DIRECT, as /proc shows it.
func directFlag(t *testing.T, f *os.File) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			return flags&unix.O_DIRECT != 0
		}
	}
	t.Fatalf("no flags in fdinfo: %s", b)
	return false
}

// TestStreamWriter writes a file in writes of every size around the chunk and the alignment,
// through Write and ReadFrom, with Flushes between some of them, and checks its bytes. On a
// filesystem with direct I/O, whole chunks go direct until a Flush leaves the end unaligned;
// on one without (tmpfs), every write is plain; the file is the same.
func TestStreamWriter(t *testing.T) {
	direct := t.TempDir()
	dirs := map[string]bool{direct: true}
	if _, err := os.Stat("/dev/shm"); err == nil {
		shm, err := os.MkdirTemp("/dev/shm", "papyrad-stream-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shm) })
		dirs[shm] = false
	}
	for dir, wantDirect := range dirs {
		f, err := Create(filepath.Join(dir, "stream"), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, align := directAlign(f)
		if wantDirect && align == 0 {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: no direct I/O on the test's own directory", dir)
			}
			t.Skipf("%s: no direct I/O here", dir)
		}
		if !wantDirect && align > 0 {
			t.Logf("%s: this tmpfs has direct I/O; the plain path is covered by the flush below", dir)
		}
		w := NewStreamWriter(f)
		if got := w.align > 0; got != (align > 0) || directFlag(t, f) != got {
			t.Fatalf("%s: direct %v (O_DIRECT %v), want %v", dir, got, directFlag(t, f), align > 0)
		}
		rng := rand.New(rand.NewPCG(7, uint64(len(dir))))
		var want []byte
		chunk := func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			want = append(want, b...)
			return b
		}
		sizes := []int{1, 511, 4095, 4096, 4097, streamChunk - 1, streamChunk, streamChunk + 1, 3*streamChunk + 17, 100, 0}
		for i, n := range sizes {
			if i%2 == 0 {
				if _, err := w.Write(chunk(n)); err != nil {
					t.Fatal(err)
				}
			} else if _, err := io.Copy(w, bytes.NewReader(chunk(n))); err != nil {
				t.Fatal(err)
			}
			if i == 4 && align > 0 {
				// Everything so far went in whole chunks: direct I/O is still on.
				if w.align == 0 || !directFlag(t, f) {
					t.Fatalf("%s: direct I/O off after whole chunks", dir)
				}
			}
		}
		// A flush at an aligned end keeps direct I/O; one at an unaligned end turns it off.
		if pad := (align - len(want)%max(align, 1)) % max(align, 1); align > 0 {
			w.Write(chunk(pad))
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if w.align == 0 || !directFlag(t, f) {
				t.Fatalf("%s: direct I/O off after an aligned flush", dir)
			}
		}
		w.Write(chunk(12345))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if w.align != 0 || directFlag(t, f) {
			t.Fatalf("%s: direct I/O still on after an unaligned flush", dir)
		}
		w.Write(chunk(2*streamChunk + 3))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := Sync(f); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: file of %d bytes differs from the %d written", dir, len(got), len(want))
		}
	}
}

// TestStreamWriterFaults: a test that injects faults gets plain writes, so that a torn write
// can put any prefix of its bytes in the file.
func TestStreamWriterFaults(t *testing.T) {
	f, err := Create(filepath.Join(t.TempDir(), "stream"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	InjectFaults(t, func(op Op, name string) error {
		if op == OpWrite {
			return &Torn{N: 1000, Err: unix.ENOSPC}
		}
		return nil
	})
	w := NewStreamWriter(f)
	data := bytes.Repeat([]byte("x"), streamChunk)
	if _, err := w.Write(data); err == nil {
		t.Fatal("a torn write went unreported")
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 1000 {
		t.Fatalf("after a write torn at 1000 bytes: %v, %v", fi.Size(), err)
	}
	if _, err := w.Write(data); err == nil {
		t.Fatal("a writer that failed wrote on")
	}
}

// TestStreamWriterFullDisk fills a small ext4 filesystem through direct I/O: the writer
// reports ENOSPC, and stays failed.
func TestStreamWriterFullDisk(t *testing.T) {
	f, err := Create(filepath.Join(testutil.Ext4(t, 16), "stream"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewStreamWriter(f)
	if w.align == 0 {
		t.Fatal("no direct I/O on ext4")
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), streamChunk/16)
	var werr error
	for i := 0; i < 32 && werr == nil; i++ {
		_, werr = w.Write(data)
	}
	if werr == nil {
		werr = w.Flush()
	}
	if !errors.Is(werr, unix.ENOSPC) {
		t.Fatalf("32 MiB into a 16 MiB filesystem: %v, want ENOSPC", werr)
	}
	if want := "write " + f.Name() + ": no space left on device"; werr.Error() != want {
		t.Errorf("error %q, want %q", werr, want)
	}
	if _, err := w.Write([]byte("more")); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("a write after ENOSPC: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("a flush after ENOSPC: %v", err)
	}
}

// TestStreamWriterRelease: a released writer's memory serves the next writer, which writes
// its own bytes and none of the last one's, and a released writer refuses to write.
func TestStreamWriterRelease(t *testing.T) {
	dir := t.TempDir()
	reused := false
	// The race detector drops a quarter of what is put in a pool: a few tries.
	for i := 0; i < 10 && !reused; i++ {
		f1, err := Create(filepath.Join(dir, "one"+strconv.Itoa(i)), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		w1 := NewStreamWriter(f1)
		if _, err := w1.Write(bytes.Repeat([]byte("a"), 3*streamChunk/2)); err != nil {
			t.Fatal(err)
		}
		if err := w1.Flush(); err != nil {
			t.Fatal(err)
		}
		used := map[*byte]bool{&w1.buf[0]: true, &w1.spare[0]: true}
		w1.Release()
		w1.Release()
		if _, err := w1.Write([]byte("late")); err == nil {
			t.Fatal("a released writer took a write")
		}
		if err := w1.Flush(); err == nil {
			t.Fatal("a released writer flushed")
		}
		f1.Close()

		f2, err := Create(filepath.Join(dir, "two"+strconv.Itoa(i)), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		w2 := NewStreamWriter(f2)
		reused = used[&w2.buf[0]]
		want := bytes.Repeat([]byte("b"), streamChunk/2+100)
		if _, err := w2.Write(want); err != nil {
			t.Fatal(err)
		}
		if err := w2.Flush(); err != nil {
			t.Fatal(err)
		}
		w2.Release()
		f2.Close()
		if got, err := os.ReadFile(f2.Name()); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("the second writer's file holds %d bytes, %d of them 'b' (%v); want %d 'b'", len(got), bytes.Count(got, []byte("b")), err, len(want))
		}
	}
	if !reused {
		t.Error("no writer ever started in the memory of the writer released before it")
	}
}
