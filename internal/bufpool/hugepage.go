package bufpool

import (
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePageSize is the size of a transparent huge page where the base page is 4 KiB (x86-64,
// and arm64 as most distributions build it): the memory one page-table entry of the level
// above maps.
const hugePageSize = 2 << 20

// pagesPerChunk huge pages are allocated at once: a run's buffers take two or three.
const pagesPerChunk = 4

var pages struct {
	sync.Mutex
	rest []byte // huge pages allocated and not cut yet
}

// hugePage returns hugePageSize bytes of new memory, aligned to hugePageSize, that the kernel
// maps as one huge page when it can.
//
// The memory is the Go heap's: a chunk of a few huge pages and one more, whose aligned part is
// advised MADV_HUGEPAGE (transparent huge pages are then used for it where they are enabled
// at all, "madvise" or "always") and MADV_DONTNEED (should the runtime have touched it before,
// its 4 KiB pages go, and the first access maps a huge page instead). Neither changes what the
// runtime knows of the memory, which holds no pointers and is ours until nothing references
// it; advice the kernel refuses (no transparent huge pages) leaves ordinary pages.
func hugePage() []byte {
	pages.Lock()
	defer pages.Unlock()
	if len(pages.rest) == 0 {
		pages.rest = newChunk()
	}
	p := pages.rest[:hugePageSize:hugePageSize]
	pages.rest = pages.rest[hugePageSize:]
	return p
}

// newChunk allocates pagesPerChunk huge pages and advises the kernel of them.
func newChunk() []byte {
	n := pagesPerChunk * hugePageSize
	if os.Getpagesize() != 4096 {
		// Huge pages of another size: plain memory, cut the same way.
		return make([]byte, n)
	}
	b := Aligned(n, hugePageSize)
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	_ = unix.Madvise(b, unix.MADV_DONTNEED)
	return b
}

// Aligned returns n bytes of new memory whose first is at an address that is a multiple of
// align.
func Aligned(n, align int) []byte {
	b := make([]byte, n+align)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) % uintptr(align)); r != 0 {
		skip = align - r
	}
	return b[skip : skip+n : skip+n]
}

// dropPages lets the huge pages not cut yet go.
func dropPages() {
	pages.Lock()
	pages.rest = nil
	pages.Unlock()
}
