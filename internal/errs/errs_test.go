package errs

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestMarkKeepsTextAndBothChains(t *testing.T) {
	base := fmt.Errorf("dial tcp: %w", fs.ErrPermission)
	err := fmt.Errorf("store s: %w", Mark(base, ErrRedis))
	if err.Error() != "store s: dial tcp: permission denied" {
		t.Errorf("text changed: %q", err)
	}
	if !errors.Is(err, ErrRedis) || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("errors.Is lost a chain: redis %v, permission %v", errors.Is(err, ErrRedis), errors.Is(err, fs.ErrPermission))
	}
	if errors.Is(base, ErrRedis) {
		t.Error("Mark changed its argument")
	}
	if Mark(nil, ErrRedis) != nil {
		t.Error("Mark(nil) is not nil")
	}
}

func TestIsNoSpace(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("write: %w", syscall.ENOSPC), true},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}, true},
		{syscall.EIO, false},
		{nil, false},
	} {
		if got := IsNoSpace(tc.err); got != tc.want {
			t.Errorf("IsNoSpace(%v) = %v", tc.err, got)
		}
	}
}

func TestWrapNamesAPathOnce(t *testing.T) {
	pe := &fs.PathError{Op: "open", Path: "/x/events.ndjson", Err: syscall.ENOENT}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{Wrap("open lock file", "/x/events.ndjson", pe), "open lock file: open /x/events.ndjson: no such file or directory"},
		{Wrap("open", "/x/events.ndjson", pe), "open /x/events.ndjson: no such file or directory"},
		{Wrap("read", "/x/other", pe), "read /x/other: open /x/events.ndjson: no such file or directory"},
		{Wrap("write", "/x/t", syscall.ENOSPC), "write /x/t: no space left on device"},
		{Wrap("list", "", syscall.EIO), "list: input/output error"},
	} {
		if tc.err.Error() != tc.want {
			t.Errorf("got %q, want %q", tc.err, tc.want)
		}
		if !errors.Is(tc.err, syscall.ENOENT) && !errors.Is(tc.err, syscall.ENOSPC) && !errors.Is(tc.err, syscall.EIO) {
			t.Errorf("%q lost its cause", tc.err)
		}
	}
	if Wrap("x", "y", nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}
