package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// CopyXattrs gives dst, a file papyrad has just created, the extended attributes of src, the
// file it will replace: POSIX ACLs (system.posix_acl_access), user.*, security.* and, for
// root, trusted.*. Each value is written on the descriptor and read back. An attribute dst got
// on its own (a default ACL of the directory) that src lacks is removed, security.* aside: the
// security module labels a new file itself, and a label that already matches is not written.
//
// It runs after dst's owner and mode are set: setting an ACL sets the group bits of the mode
// to the ACL's mask, while a chmod after it would set the mask to the mode's group bits.
//
// A filesystem without extended attributes, or a src without any, is no error. An attribute
// that cannot be copied (EPERM, or ENOTSUP where src had it) is: the error names it.
func CopyXattrs(src, dst *os.File) error {
	names, err := listXattrs(src)
	if err != nil {
		return fmt.Errorf("list the extended attributes of %s: %w", src.Name(), err)
	}
	have, err := listXattrs(dst)
	if err != nil && len(names) > 0 {
		return fmt.Errorf("list the extended attributes of %s: %w", dst.Name(), err)
	}
	for _, name := range have {
		if slices.Contains(names, name) || strings.HasPrefix(name, "security.") {
			continue
		}
		if err := check(OpSetxattr, dst.Name()); err != nil {
			return xattrError("remove", dst.Name(), name, err)
		}
		if err := unix.Fremovexattr(int(dst.Fd()), name); err != nil && !errors.Is(err, unix.ENODATA) {
			return xattrError("remove", dst.Name(), name, err)
		}
	}
	for _, name := range names {
		val, err := getXattr(src, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since the listing
		}
		if err != nil {
			return fmt.Errorf("read extended attribute %s of %s: %w", name, src.Name(), err)
		}
		if cur, err := getXattr(dst, name); err == nil && bytes.Equal(cur, val) {
			continue
		}
		if err := check(OpSetxattr, dst.Name()); err != nil {
			return xattrError("set", dst.Name(), name, err)
		}
		if err := unix.Fsetxattr(int(dst.Fd()), name, val, 0); err != nil {
			return xattrError("set", dst.Name(), name, err)
		}
		got, err := getXattr(dst, name)
		if err != nil {
			return xattrError("read back", dst.Name(), name, err)
		}
		if !bytes.Equal(got, val) {
			return xattrError("set", dst.Name(), name, fmt.Errorf("read back %d bytes that differ from the %d written", len(got), len(val)))
		}
	}
	return nil
}

func xattrError(what, file, name string, err error) error {
	return fmt.Errorf("%s extended attribute %s on %s: %w", what, name, file, &os.PathError{Op: "setxattr", Path: file, Err: err})
}

// listXattrs returns the names of f's extended attributes that this process may see; none on
// a filesystem without extended attributes.
func listXattrs(f *os.File) ([]string, error) {
	buf, err := sized(func(b []byte) (int, error) { return unix.Flistxattr(int(f.Fd()), b) })
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range bytes.Split(buf, []byte{0}) {
		if len(n) > 0 {
			names = append(names, string(n))
		}
	}
	return names, nil
}

func getXattr(f *os.File, name string) ([]byte, error) {
	return sized(func(b []byte) (int, error) { return unix.Fgetxattr(int(f.Fd()), name, b) })
}

// sized calls get, which fills b as the *xattr calls do, with a buffer of the size it asks
// for, again when the value grew in between (ERANGE).
func sized(get func(b []byte) (int, error)) ([]byte, error) {
	for range 8 {
		n, err := get(nil)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		b := make([]byte, n)
		n, err = get(b)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return b[:n], nil
	}
	return nil, unix.ERANGE
}
