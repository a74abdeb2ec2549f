// Package bufpool lends the buffers papyrad reads files through. A run reads a store's files,
// or parts of them, one after another, each through a buffer of its own: taken from one pool,
// the memory one read is done with serves the next, where a new buffer would be memory the
// process has not touched yet, a page fault for every 4 KiB of it (on a virtual machine, tens
// of microseconds each: 5 ms for a 1 MiB buffer).
package bufpool

import "sync"

// A Pool lends buffers of one size. Its zero value is not ready: see New.
type Pool struct {
	size int
	p    sync.Pool // of *[]byte
}

// New returns a Pool of buffers of size bytes.
func New(size int) *Pool { return &Pool{size: size} }

// Get returns a buffer of the pool's size whose content is undefined.
func (p *Pool) Get() []byte {
	if b, ok := p.p.Get().(*[]byte); ok {
		return (*b)[:p.size]
	}
	return make([]byte, p.size)
}

// Put gives b back for a later Get, once nothing references its memory any more. A buffer of
// another capacity (one a scanner has grown for a long line, say) is left to the collector.
func (p *Pool) Put(b []byte) {
	if cap(b) == p.size {
		b = b[:0]
		p.p.Put(&b)
	}
}

// Size is the length of a buffer Get returns: what runs read and write files through.
const Size = 1 << 20

var blocks = New(Size)

// Get returns a buffer of Size bytes from the pool runs share.
func Get() []byte { return blocks.Get() }

// Put gives b back to the pool runs share (see Pool.Put).
func Put(b []byte) { blocks.Put(b) }
