package backendtest

import (
	"context"
	"strconv"
	"time"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// Store is a file backend's store object, driven through its public methods only.
type Store interface {
	Compact(ctx context.Context, opts backends.Options) (report.Report, error)
	Recover(ctx context.Context) error
}

// Params are the settings the suite gives a store; the harness puts them in its backend's
// Config. They travel to the child process as JSON.
type Params struct {
	Path       string // a file store's path
	URL        string // a redis store's server
	Quarantine string // directory of quarantine files
	// StateDir is papyrad's own state directory, where a store keeps what runs learn (a
	// rotating set's segment summaries); it is deployed as the quarantine directory is.
	StateDir string
	Policy   retention.Policy
	// DrainTimeout bounds a run's wait for writers that still hold a replaced file, and
	// MinDrain is its shortest wait (livefile.DrainOptions); zero MinDrain is the default.
	DrainTimeout, MinDrain time.Duration
	// AllowHardLinks lets runs compact files that have more than one name.
	AllowHardLinks bool
}

// Harness is what a backend's test tells the suite about its kind of store.
type Harness struct {
	// Name tells the harnesses of one test binary apart (subtests, child processes).
	Name string
	// Create lays out a fresh store in the empty directory dir from segments, oldest first,
	// and returns the path its Config names. A single-file store holds them end to end.
	Create func(dir string, segs [][]byte) (path string, err error)
	// Files lists the store's files as Papyra reads them, oldest first.
	Files func(path string) ([]string, error)
	// Active returns the file the application appends to.
	Active func(path string) (string, error)
	// AddOldest, if set, adds a file holding b older than every file of the store (a
	// rotated segment). The store's writers are paused when it is called.
	AddOldest func(path string, b []byte) error
	// New builds the backend's store object with its public constructor.
	New func(p Params) Store
	// Writers are the writer styles that apply to this kind of store.
	Writers []WriterStyle
	// KeepsState is true when the store keeps what runs learn in Params.StateDir: the
	// deployment cases then check that it did, in every mode, so that what runs trust from
	// there is exercised beside every writer.
	KeepsState bool
}

// WriterStyle is one way an application appends to a store: papyrawriter's arguments.
type WriterStyle struct {
	Name string
	// Args are papyrawriter's arguments other than -writer and -stdin, for the store at path
	// whose active file is active.
	Args func(path, active string) []string
	// Holds is true when the writer keeps one descriptor open for good: once its file is
	// replaced, what it writes reaches the store only by forwarding, and every run ends with
	// the replaced file pending until the writer stops.
	Holds bool
}

// PerRecord is Papyra's JsonFilePersistence: open(O_APPEND)–write–close for every record.
var PerRecord = WriterStyle{Name: "per-record", Args: func(_, active string) []string {
	return []string{"-path", active, "-mode", "append", "-interval", "1ms"}
}}

// LongLived keeps one O_APPEND descriptor for every record, like a long-lived logger.
var LongLived = WriterStyle{Name: "long-lived", Holds: true, Args: func(_, active string) []string {
	return []string{"-path", active, "-mode", "hold", "-interval", "1ms"}
}}

// Rotating is Papyra's RotatingFilePersistence on a suffix-named set of maxFiles files: it
// rotates (exists, then rename) before a record would take the active file past maxBytes,
// and writes rate records a second, each with open–append–close.
func Rotating(maxFiles int, maxBytes int64, rate int) WriterStyle {
	return WriterStyle{Name: "rotating", Args: func(path, _ string) []string {
		return []string{"-path", path, "-mode", "papyra", "-max-bytes", strconv.FormatInt(maxBytes, 10),
			"-max-files", strconv.Itoa(maxFiles), "-rate", strconv.Itoa(rate)}
	}}
}
