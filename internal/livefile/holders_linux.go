package livefile

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Holder is a process that has a file open.
type Holder struct {
	PID   int
	Comm  string
	Write bool
}

func (h Holder) String() string {
	return "pid " + strconv.Itoa(h.PID) + " (" + h.Comm + ")"
}

// procRoot is where process information is read from. Overridden by tests.
var procRoot = "/proc"

// openers lists the processes other than this one that have the inode (dev, ino) open, found
// by walking /proc/<pid>/fd. nameHint is a path the file was known under; descriptors whose
// link text does not mention its base name are not stat'ed, which keeps the walk cheap. complete
// is false when some process's descriptors could not be read (another user's, without
// privilege), so a missing holder proves nothing.
func openers(dev, ino uint64, nameHint string) (hs []Holder, complete bool) {
	// With /proc mounted hidepid (systemd's ProtectProc=), other users' processes are not
	// listed at all: their absence proves nothing.
	complete = !procHidesPIDs()
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, false
	}
	self := os.Getpid()
	base := nameHint
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		fdDir := procRoot + "/" + e.Name() + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			if os.IsPermission(err) {
				complete = false
			}
			continue // the process may have exited
		}
		for _, fd := range fds {
			link := fdDir + "/" + fd.Name()
			target, err := os.Readlink(link)
			if err != nil || !strings.HasPrefix(target, "/") {
				continue
			}
			// The link names whichever dentry the file was opened through, possibly with
			// " (deleted)": the store's own name or one of papyrad's hidden names for it.
			if base != "" && !strings.Contains(target, base) {
				continue
			}
			var st syscall.Stat_t
			if err := syscall.Stat(link, &st); err != nil {
				continue
			}
			if uint64(st.Dev) != dev || st.Ino != ino {
				continue
			}
			hs = append(hs, Holder{PID: pid, Comm: comm(pid), Write: fdWritable(pid, fd.Name())})
		}
	}
	return hs, complete
}

var (
	hidepidOnce sync.Once
	hidepid     bool
)

// procHidesPIDs reports whether /proc is mounted with a hidepid option that hides other users'
// processes.
func procHidesPIDs() bool {
	hidepidOnce.Do(func() {
		b, err := os.ReadFile(procRoot + "/self/mountinfo")
		if err != nil {
			hidepid = true // cannot tell: assume the worst
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 5 || f[4] != "/proc" {
				continue
			}
			for _, opt := range strings.Split(strings.Join(f[5:], ","), ",") {
				if v, ok := strings.CutPrefix(opt, "hidepid="); ok && v != "0" && v != "off" {
					hidepid = true
				}
			}
		}
	})
	return hidepid
}

// writers filters holders down to those that can write.
func writers(hs []Holder) []Holder {
	var out []Holder
	for _, h := range hs {
		if h.Write {
			out = append(out, h)
		}
	}
	return out
}

func comm(pid int) string {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return string(bytes.TrimSpace(b))
}

// fdWritable reads the descriptor's open flags from fdinfo. When they cannot be read the
// descriptor is assumed writable: a false "writer" only makes the drain wait longer.
func fdWritable(pid int, fd string) bool {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/fdinfo/" + fd)
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "flags:")
		if !ok {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
		if err != nil {
			return true
		}
		return flags&syscall.O_ACCMODE != syscall.O_RDONLY
	}
	return true
}
