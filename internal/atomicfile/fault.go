package atomicfile

import "sync/atomic"

// Op names one operation of this package.
type Op string

// The operations a fault can be injected into.
const (
	OpCreate   Op = "create"
	OpWrite    Op = "write"
	OpSync     Op = "sync"
	OpSyncDir  Op = "syncdir"
	OpRename   Op = "rename"
	OpExchange Op = "exchange"
	OpLink     Op = "link"
	OpRemove   Op = "remove"
	OpMkdir    Op = "mkdir"
	OpSetxattr Op = "setxattr" // setting or removing an extended attribute
	OpReserve  Op = "reserve"  // allocating space ahead of a write
	OpTruncate Op = "truncate"
)

// fault is consulted before every operation; it is nil in production. An atomic pointer
// because a test injects while goroutines of the run it started may be reading it.
var fault atomic.Pointer[func(op Op, name string) error]

// check returns the error a test injected into operation op on name, or nil.
func check(op Op, name string) error {
	if f := fault.Load(); f != nil {
		return (*f)(op, name)
	}
	return nil
}

// InjectFaults makes every operation of this package call f first, with the operation and the
// file's name, until the test ends; a non-nil error from f is returned by the operation
// (wrapped as the real error would be) and the operation does not happen, except that a
// *Torn returned for a write makes it write part of its bytes first. For tests only.
//
// The name is the file the operation acts on: the temp file for create, write, sync and
// setxattr, the directory for syncdir and mkdir, and for rename, exchange and link the name
// that receives the file (the second name).
func InjectFaults(t interface {
	Helper()
	Cleanup(func())
}, f func(op Op, name string) error) {
	t.Helper()
	prev := fault.Swap(&f)
	t.Cleanup(func() { fault.Store(prev) })
}
