// Package bufpool lends the buffers papyrad reads files through, Size bytes each. A run reads
// a store's files, or parts of them, one after another, each through a buffer of its own:
// taken from one pool, the memory one read is done with serves the next, where a new buffer
// would be memory the process has not touched yet, a page fault for every 4 KiB of it (on a
// virtual machine, tens of microseconds each: 5 ms for a buffer).
package bufpool

import "sync"

// Size is the length of a buffer Get returns.
const Size = 1 << 20

var pool sync.Pool // of *[]byte

// Get returns a buffer of Size bytes whose content is undefined.
func Get() []byte {
	if b, ok := pool.Get().(*[]byte); ok {
		return (*b)[:Size]
	}
	return make([]byte, Size)
}

// Put gives b back for a later Get, once nothing references its memory any more. A buffer of
// another capacity (one a scanner has grown for a long line, say) is left to the collector.
func Put(b []byte) {
	if cap(b) == Size {
		b = b[:0]
		pool.Put(&b)
	}
}
