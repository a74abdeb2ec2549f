package jsonfile

import (
	"os"
	"syscall"
)

const noFollow = syscall.O_NOFOLLOW | syscall.O_CLOEXEC

// inode is fi's inode number.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
