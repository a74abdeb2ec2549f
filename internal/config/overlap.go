package config

import (
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// fileSet is the names a file store reads in its directory: one name for a json store; the
// active file and its numbered suffixes for a rotating set with suffix naming; the numbered
// files for a sequence.
type fileSet struct {
	dir      string
	base     string // json, suffix: the file's name
	seq      bool
	stem     string // sequence: events.ndjson reads events-0001.ndjson, ...
	ext      string
	rotating bool
}

func fileSetOf(s *Store) fileSet {
	fs := fileSet{dir: filepath.Dir(s.Path), base: filepath.Base(s.Path), rotating: s.Backend == BackendRotating}
	if fs.rotating && s.Rotation.Naming == NamingSequence {
		fs.seq = true
		fs.ext = filepath.Ext(fs.base)
		fs.stem = strings.TrimSuffix(fs.base, fs.ext)
	}
	return fs
}

// claims reports whether the store reads (or, for a set, would read) the file name in its
// directory.
func (fs fileSet) claims(name string) bool {
	switch {
	case fs.seq:
		mid, ok := strings.CutPrefix(name, fs.stem+"-")
		if !ok {
			return false
		}
		mid, ok = strings.CutSuffix(mid, fs.ext)
		return ok && digits(mid)
	case fs.rotating:
		if name == fs.base {
			return true
		}
		rest, ok := strings.CutPrefix(name, fs.base+".")
		return ok && digits(rest) && rest[0] != '0'
	}
	return name == fs.base
}

// names are the store's own file names (for a set, its first files), to check against another
// store's claims.
func (fs fileSet) names() []string {
	switch {
	case fs.seq:
		return []string{fs.stem + "-0001" + fs.ext, fs.stem + "-1" + fs.ext}
	case fs.rotating:
		return []string{fs.base, fs.base + ".1"}
	}
	return []string{fs.base}
}

func digits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// describe says what name is to the store that claims it.
func (fs fileSet) describe(name string) string {
	switch {
	case fs.seq:
		return "a numbered file of the set"
	case fs.rotating && name != fs.base:
		return "a rotated segment"
	}
	return "the file"
}

// overlaps reports the first name both stores would read, if any.
func (fs fileSet) overlaps(other fileSet) (string, bool) {
	if fs.dir != other.dir {
		return "", false
	}
	for _, n := range other.names() {
		if fs.claims(n) {
			return n, true
		}
	}
	for _, n := range fs.names() {
		if other.claims(n) {
			return n, true
		}
	}
	return "", false
}

// checkFiles reports file stores that read each other's files, and directories papyrad writes
// (quarantine, archive: <dir>/<store>/<date>/...) that a store would read as one of its files.
func (r *reader) checkFiles(stores []Store, fields []field) {
	sets := make([]fileSet, len(stores))
	for i := range stores {
		sets[i] = fileSetOf(&stores[i])
	}
	for j := range stores {
		b := &stores[j]
		if !b.Backend.IsFile() || b.Path == "" {
			continue
		}
		for i := 0; i < j; i++ {
			a := &stores[i]
			if !a.Backend.IsFile() || a.Path == "" || a.Path == b.Path {
				continue // a shared path is reported on its own
			}
			n, ok := sets[i].overlaps(sets[j])
			switch {
			case !ok:
			case n == sets[j].base && sets[j].claims(n):
				r.add(fields[j].key("path"), "%s is %s of %s", b.Path, sets[i].describe(n), fields[i].label)
			default:
				r.add(fields[j].key("path"), "%s would be %s of this store and %s of %s; two stores must not share files",
					filepath.Join(sets[i].dir, n), sets[j].describe(n), sets[i].describe(n), fields[i].label)
			}
		}
	}
	for j := range stores {
		b := &stores[j]
		dirs := []struct{ key, dir string }{{"quarantine_dir", b.QuarantineDir}}
		if b.Archive != nil && b.Archive.Dir != "" {
			dirs = append(dirs, struct{ key, dir string }{"archive", b.Archive.Dir})
		}
		for _, d := range dirs {
			if d.dir == "" {
				continue
			}
			f := fields[j].key(d.key)
			if d.key == "archive" {
				f = f.key("dir")
			}
			for i := range stores {
				a := &stores[i]
				if !a.Backend.IsFile() || a.Path == "" {
					continue
				}
				for _, written := range []string{d.dir, filepath.Join(d.dir, b.Name)} {
					if filepath.Dir(written) == sets[i].dir && sets[i].claims(filepath.Base(written)) {
						r.add(f, "%s is named like %s of %s (%s): Papyra and papyrad would read it as one",
							written, sets[i].describe(filepath.Base(written)), fields[i].label, a.Path)
					}
				}
			}
		}
	}
}

// streamsKey identifies the server and database a redis URL points at, whatever the spelling
// (default port, database in the path or the query, user and password left out), so that two
// stores on the same streams are found.
func streamsKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	db := strings.Trim(u.Path, "/")
	addr := u.Host
	if u.Scheme == "unix" {
		addr, db = u.Path, ""
	}
	if q := u.Query().Get("db"); q != "" {
		db = q
	}
	if n, err := strconv.Atoi(db); err == nil {
		db = strconv.Itoa(n)
	} else if db == "" {
		db = "0"
	}
	if u.Scheme != "unix" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			host, port = addr, "6379"
		}
		addr = net.JoinHostPort(strings.ToLower(host), port)
	}
	return addr + "/" + db
}
