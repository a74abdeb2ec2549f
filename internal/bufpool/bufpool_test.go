package bufpool

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestReuse: a buffer given back serves the next Get, whatever length it was sliced to, and
// one of another capacity is not kept.
func TestReuse(t *testing.T) {
	b := Get()
	if len(b) != Size {
		t.Fatalf("Get returned %d bytes, want %d", len(b), Size)
	}
	Put(b[:10])
	c := Get()
	if len(c) != Size {
		t.Fatalf("Get returned %d bytes, want %d", len(c), Size)
	}
	if &c[0] != &b[0] {
		t.Error("the buffer given back was not handed out again")
	}
	big := make([]byte, 2*Size)
	Put(big)
	for range 5 {
		if c := Get(); &c[0] == &big[0] {
			t.Fatal("a buffer of another capacity was kept")
		}
	}
}

// TestCutFromHugePages: a pool's buffers are cut side by side from memory aligned to a huge
// page, each aligned to its own size (direct I/O needs at most 4 KiB), and a size that does not
// divide a huge page gets buffers of its own.
func TestCutFromHugePages(t *testing.T) {
	p := New(256 << 10)
	var bufs [][]byte
	for range hugePageSize / (256 << 10) {
		bufs = append(bufs, p.Get())
	}
	base := uintptr(unsafe.Pointer(&bufs[len(bufs)-1][0]))
	if base%hugePageSize != 0 {
		t.Errorf("the first buffer of a huge page is at %#x, not aligned to %d", base, hugePageSize)
	}
	for _, b := range bufs {
		at := uintptr(unsafe.Pointer(&b[0]))
		if at%(256<<10) != 0 || at < base || at >= base+hugePageSize {
			t.Errorf("buffer at %#x: not one of the huge page's at %#x", at, base)
		}
	}
	if made, held := p.Stats(); made != len(bufs) || held != 0 {
		t.Errorf("Stats = %d made, %d held; want %d, 0", made, held, len(bufs))
	}
	odd := New(3 << 20)
	if b := odd.Get(); len(b) != 3<<20 || cap(b) != 3<<20 {
		t.Errorf("a 3 MiB pool lent %d bytes (capacity %d)", len(b), cap(b))
	}
}

// TestHugePageMapped: where the kernel has transparent huge pages ("always" or "madvise"), the
// memory of a buffer, once written, is mapped as a huge page (/proc/self/smaps says
// AnonHugePages for the mapping that holds it), unless the kernel says it had none to give
// (thp_fault_fallback in /proc/vmstat).
func TestHugePageMapped(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("transparent huge pages are off here (%q, %v): papyrad uses ordinary pages", mode, err)
	}
	fallbacks := vmstat(t, "thp_fault_fallback")
	p := New(1 << 20)
	b, c := p.Get(), p.Get()
	for i := 0; i < len(b); i += 4096 {
		b[i], c[i] = 1, 1
	}
	huge, err := anonHugeKiB(uintptr(unsafe.Pointer(&b[0])))
	if err != nil {
		t.Fatal(err)
	}
	if huge < hugePageSize>>10 {
		if n := vmstat(t, "thp_fault_fallback"); n > fallbacks {
			t.Logf("the kernel had no huge page to give (%d fallbacks): the buffer has ordinary pages", n-fallbacks)
		} else {
			t.Errorf("the mapping that holds a written buffer has %d KiB of huge pages, want at least %d", huge, hugePageSize>>10)
		}
	}
	p.Put(b)
	p.Put(c)
}

// vmstat returns the counter name of /proc/vmstat.
func vmstat(t *testing.T, name string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == name {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("/proc/vmstat: %s %q: %v", k, v, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/vmstat has no %s", name)
	return 0
}

// anonHugeKiB returns the AnonHugePages of the mapping of /proc/self/smaps that holds addr.
func anonHugeKiB(addr uintptr) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if rest, ok := strings.CutPrefix(fields[0], "AnonHugePages:"); ok && rest == "" && in && len(fields) > 1 {
			return strconv.Atoi(fields[1])
		}
		// A mapping's first line starts with its address range, "from-to" in hex.
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok {
			from, err1 := strconv.ParseUint(lo, 16, 64)
			to, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= from && uint64(addr) < to
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no mapping in /proc/self/smaps holds %#x", addr)
}

// TestIdleRelease: once no buffer is taken or given back for IdleRelease, the pools let go of
// the buffers they hold, and a buffer lent meanwhile is kept again when it comes back.
func TestIdleRelease(t *testing.T) {
	idleFor.Store(int64(50 * time.Millisecond))
	defer idleFor.Store(0)
	setTimer(0) // a timer set by an earlier test goes off now, and comes back at the new time
	p := New(512 << 10)
	lent, back := p.Get(), p.Get()
	p.Put(back)
	if _, held := p.Stats(); held == 0 {
		t.Fatal("the pool holds nothing after a Put")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, held := p.Stats(); held == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pool still holds buffers 10 s after its last use")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Put(lent)
	if _, held := p.Stats(); held != 1 {
		t.Errorf("after the lent buffer came back the pool holds %d, want 1", held)
	}
	if b := p.Get(); &b[0] != &lent[0] {
		t.Error("the buffer given back after the release was not handed out again")
	}
}
