package activity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
)

// Counter measures how much an application appends to a file: a running count of the lines
// and bytes written, for the daemon's traffic check (two observations a sample apart give the
// rates). It follows the file across rotations and replacements: when the name points to a new
// inode, counting starts over at its beginning.
type Counter struct {
	mu    sync.Mutex
	ino   uint64
	off   int64
	lines uint64
	bytes uint64
	seen  bool
}

// Observe reads what was appended to path since the last call and returns the running totals.
// A missing file counts as empty.
func (c *Counter) Observe(path string) (lines, written uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return c.lines, c.bytes, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return c.lines, c.bytes, nil
	}
	if err != nil {
		return c.lines, c.bytes, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return c.lines, c.bytes, err
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	switch {
	case !c.seen:
		// First look: what is there already was not written during a sample.
		c.seen, c.ino, c.off = true, ino, fi.Size()
	case ino != c.ino || fi.Size() < c.off:
		c.ino, c.off = ino, 0
	}
	buf := make([]byte, 64<<10)
	for c.off < fi.Size() {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), fi.Size()-c.off)], c.off)
		c.lines += uint64(bytes.Count(buf[:n], []byte{'\n'}))
		c.bytes += uint64(n)
		c.off += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return c.lines, c.bytes, err
		}
		if n == 0 {
			break
		}
	}
	return c.lines, c.bytes, nil
}
