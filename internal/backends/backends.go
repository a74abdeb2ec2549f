// Package backends holds what every store backend shares. Each kind of store has a package of
// its own below this one (jsonfile, memory, ...); only cmd/papyrad and the CLI wiring import
// them, everything else sees a store through the small interfaces it defines itself.
package backends

// Options modify one compaction run.
type Options struct {
	// DryRun reports what a run would do without writing anything.
	DryRun bool
	// Progress, if set, is called now and then with the phase, the bytes processed and the
	// total, for a progress display.
	Progress func(phase string, done, total int64)
}
