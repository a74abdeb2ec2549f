package scheduler

import (
	"fmt"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/units"
)

// Disk is a store's disk guard: free space must cover what a run writes × Factor + Reserve.
type Disk struct {
	Reserve int64
	Factor  float64
}

// diskGuard hands out space on each filesystem, so that concurrent runs on one filesystem
// reserve against each other.
type diskGuard struct {
	mu       sync.Mutex
	reserved map[uint64]int64 // by filesystem (device of the store's directory)
	statfs   func(path string) (free int64, dev uint64, err error)
}

func newDiskGuard() *diskGuard {
	return &diskGuard{reserved: map[uint64]int64{}, statfs: freeSpace}
}

func freeSpace(path string) (int64, uint64, error) {
	dir := filepath.Dir(path)
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, 0, err
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(fs.Bavail) * int64(fs.Bsize), uint64(st.Dev), nil
}

// reserver returns the Reserve hook a run of a store with guard d gets.
func (g *diskGuard) reserver(d Disk) func(path string, bytes int64) (func(), error) {
	return func(path string, bytes int64) (func(), error) {
		free, dev, err := g.statfs(path)
		if err != nil {
			return nil, fmt.Errorf("disk guard: %w", err)
		}
		factor := max(d.Factor, 1)
		need := int64(float64(bytes)*factor) + d.Reserve
		g.mu.Lock()
		defer g.mu.Unlock()
		others := g.reserved[dev]
		if free-others < need {
			return nil, fmt.Errorf("%w: a run writing %s needs %s free (×%.2f + %s reserve) on the filesystem of %s; %s free, %s reserved by other runs",
				errs.ErrDiskRefused, units.FormatSize(bytes), units.FormatSize(need), factor, units.FormatSize(d.Reserve),
				path, units.FormatSize(free), units.FormatSize(others))
		}
		g.reserved[dev] += need
		var once sync.Once
		return func() {
			once.Do(func() {
				g.mu.Lock()
				g.reserved[dev] -= need
				g.mu.Unlock()
			})
		}, nil
	}
}
