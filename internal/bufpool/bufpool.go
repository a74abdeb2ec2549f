// Package bufpool lends the buffers papyrad reads and writes files through. A run reads a
// store's files, or parts of them, one after another, each through a buffer of its own: taken
// from one pool, the memory one read is done with serves the next, where a new buffer would be
// memory the process has not touched yet, a page fault for every 4 KiB of it (on a virtual
// machine, about 10 µs each: 2.5 ms for a 1 MiB buffer).
//
// The buffers are cut from huge pages (see hugePage): 2 MiB of memory the kernel maps in one
// fault and one page-table entry. On a virtual machine that costs about as much as a single
// 4 KiB fault, and direct writes from it are several times faster: 126 MB written took 18-22
// ms, against 37-95 ms from ordinary pages. The memory is the Go heap's, so the race detector
// sees every access and a buffer nobody gives back is collected.
package bufpool

import (
	"sync"
	"sync/atomic"
	"time"
)

// A Pool lends buffers of one size. Its zero value is not ready: see New.
type Pool struct {
	size int
	mu   sync.Mutex
	free [][]byte // buffers given back, and the rest of the last huge page cut
	made int      // buffers cut
}

// New returns a Pool of buffers of size bytes.
func New(size int) *Pool {
	p := &Pool{size: size}
	pools.Lock()
	pools.all = append(pools.all, p)
	pools.Unlock()
	return p
}

// Get returns a buffer of the pool's size whose content is undefined.
func (p *Pool) Get() []byte {
	used()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		p.free = cut(p.size)
		p.made += len(p.free)
	}
	b := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return b[:p.size]
}

// Put gives b back for a later Get, once nothing references its memory any more. A buffer of
// another capacity (one a scanner has grown for a long line, say) is left to the collector.
func (p *Pool) Put(b []byte) {
	if cap(b) != p.size {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, b[:0])
	p.mu.Unlock()
	used()
}

// Stats returns how many buffers the pool has cut from new memory so far, and how many it
// holds now: given back, or cut and not lent yet.
func (p *Pool) Stats() (made, held int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.made, len(p.free)
}

// cut returns new buffers of size bytes: those a huge page holds, or one of its own when size
// does not divide a huge page.
func cut(size int) [][]byte {
	if size <= 0 || hugePageSize%size != 0 {
		return [][]byte{make([]byte, size)}
	}
	page := hugePage()
	bufs := make([][]byte, 0, len(page)/size)
	for off := 0; off < len(page); off += size {
		bufs = append(bufs, page[off:off+size:off+size])
	}
	return bufs
}

// IdleRelease is how long the pools keep the buffers given back once no buffer is taken or
// given back: then they let them go, so that a daemon between runs holds no more memory than
// it uses. Buffers still lent are not affected: given back later, they are kept again.
const IdleRelease = 10 * time.Second

var (
	lastUse atomic.Int64 // when a buffer was last taken or given back, in Unix nanoseconds
	armed   atomic.Bool  // the release timer is set
	idleFor atomic.Int64 // IdleRelease, shorter in tests
	pools   struct {
		sync.Mutex
		all   []*Pool
		timer *time.Timer // calls release
	}
)

// used notes that a buffer was taken or given back, and sets the release timer if it is not
// set.
func used() {
	lastUse.Store(time.Now().UnixNano())
	if armed.CompareAndSwap(false, true) {
		setTimer(idleTime())
	}
}

// setTimer has release called in d.
func setTimer(d time.Duration) {
	pools.Lock()
	defer pools.Unlock()
	if pools.timer == nil {
		pools.timer = time.AfterFunc(d, release)
		return
	}
	pools.timer.Reset(d)
}

// idleTime is IdleRelease, unless a test set another.
func idleTime() time.Duration {
	if d := idleFor.Load(); d > 0 {
		return time.Duration(d)
	}
	return IdleRelease
}

// release lets every pool's buffers go, and the huge pages not cut yet, if none was taken or
// given back for IdleRelease; otherwise it comes back when that will be so.
func release() {
	armed.Store(false)
	if wait := idleTime() - time.Since(time.Unix(0, lastUse.Load())); wait > 0 {
		if armed.CompareAndSwap(false, true) {
			setTimer(wait)
		}
		return
	}
	pools.Lock()
	defer pools.Unlock()
	for _, p := range pools.all {
		p.mu.Lock()
		p.free = nil
		p.mu.Unlock()
	}
	dropPages()
}

// Size is the length of a buffer Get returns: what runs read and write files through.
const Size = 1 << 20

var blocks = New(Size)

// Get returns a buffer of Size bytes from the pool runs share.
func Get() []byte { return blocks.Get() }

// Put gives b back to the pool runs share (see Pool.Put).
func Put(b []byte) { blocks.Put(b) }
