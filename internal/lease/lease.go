// Package lease asks the kernel whether anybody has a file open, through file leases
// (fcntl F_SETLEASE). Unlike a walk of /proc, the answer covers every process: other users'
// that papyrad may not inspect, and processes in other PID namespaces that it cannot see.
//
// A read lease is granted only while no open file description of the inode is open for
// writing, and a write lease only while the caller's descriptor is the only one open at all.
// Once granted, an open that conflicts breaks the lease: the kernel marks it (Broken reports
// it) and holds the opener back until the lease is released, or for fs.lease-break-time
// seconds at most. The opener is delayed, never refused (unless it opened with O_NONBLOCK),
// so a lease is held only across a short, bounded critical section and released at once.
//
// A lease needs the caller to own the file or to have CAP_LEASE; without either, or on a
// filesystem without leases, Take fails with errs.ErrNoLease and the caller must assume the
// worst.
package lease

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
)

// Kind is the kind of a lease.
type Kind int

const (
	// Read is granted while nobody has the file open for writing; it breaks when someone
	// opens it for writing (or truncates it).
	Read Kind = unix.F_RDLCK
	// Write is granted while nobody else has the file open at all; it breaks when someone
	// opens it, for reading or writing.
	Write Kind = unix.F_WRLCK
)

func (k Kind) String() string {
	if k == Write {
		return "write lease"
	}
	return "read lease"
}

// Lease is a lease held on an open file. Its methods are safe for concurrent use.
type Lease struct {
	mu   sync.Mutex
	f    *os.File
	kind Kind
	held bool
}

// Take asks for a lease of the given kind on f, which must be open read-only for a read lease
// (the kernel's rule) and may be for a write lease. It returns an error wrapping errs.ErrHeld
// when a conflicting open exists, and errs.ErrNoLease when no lease can be had on this file
// by this process; either way the system error is wrapped too.
func Take(f *os.File, kind Kind) (*Lease, error) {
	if err := setLease(f, int(kind)); err != nil {
		return nil, classify(f.Name(), kind, err)
	}
	return &Lease{f: f, kind: kind, held: true}, nil
}

// Broken reports whether a conflicting open has broken the lease since it was taken (or since
// the last Downgrade). A broken lease must be released promptly: the opener waits for it.
func (l *Lease) Broken() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return true, nil
	}
	v, err := unix.FcntlInt(l.f.Fd(), unix.F_GETLEASE, 0)
	if err != nil {
		return true, fmt.Errorf("%s on %s: get: %w", l.kind, l.f.Name(), err)
	}
	// During a break the kernel reports the type the lease is being broken to.
	return Kind(v) != l.kind, nil
}

// Downgrade turns a write lease into a read lease, letting readers in while writers still
// break it. It fails if the write lease was broken.
func (l *Lease) Downgrade() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held || l.kind != Write {
		return fmt.Errorf("downgrade %s on %s: not a held write lease", l.kind, l.f.Name())
	}
	v, err := unix.FcntlInt(l.f.Fd(), unix.F_GETLEASE, 0)
	if err != nil {
		return fmt.Errorf("downgrade lease on %s: %w", l.f.Name(), err)
	}
	if Kind(v) != Write {
		return fmt.Errorf("downgrade lease on %s: broken by another open: %w", l.f.Name(), errs.ErrHeld)
	}
	if err := setLease(l.f, unix.F_RDLCK); err != nil {
		return fmt.Errorf("downgrade lease on %s: %w", l.f.Name(), err)
	}
	l.kind = Read
	return nil
}

// Release gives the lease back, letting any opener it held back proceed. It is idempotent.
func (l *Lease) Release() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return nil
	}
	l.held = false
	if err := setLease(l.f, unix.F_UNLCK); err != nil && !errors.Is(err, unix.EBADF) {
		return fmt.Errorf("release %s on %s: %w", l.kind, l.f.Name(), err)
	}
	return nil
}

// OpenForWriting reports whether anybody, in any process, has the file f refers to open for
// writing at this instant, by taking a read lease and giving it back. f must be open
// read-only. The answer is only as old as the call: use a held lease to cover a critical
// section.
func OpenForWriting(f *os.File) (bool, error) {
	l, err := Take(f, Read)
	if errors.Is(err, errs.ErrHeld) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, l.Release()
}

func setLease(f *os.File, arg int) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, arg)
	return err
}

func classify(name string, kind Kind, err error) error {
	switch {
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%s on %s: %w: %w", kind, name, errs.ErrHeld, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM), errors.Is(err, unix.EINVAL):
		// EACCES: neither the owner nor CAP_LEASE. EINVAL: not a regular file, a filesystem
		// without leases, leases disabled, or a read lease on a descriptor open for writing.
		return fmt.Errorf("%s on %s: %w: %w", kind, name, errs.ErrNoLease, err)
	}
	return fmt.Errorf("%s on %s: %w", kind, name, err)
}
