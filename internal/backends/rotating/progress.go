package rotating

// progress reports one phase of a run, in bytes of the set, to backends.Options.Progress: at
// its first line, every 65536 lines and at the end of every segment, as the json backend
// reports its file.
type progress struct {
	fn          func(phase string, done, total int64) // nil: nothing to report to
	phase       string
	base, total int64 // bytes before the current segment, and in the whole phase
	lines       int64
}

func newProgress(fn func(string, int64, int64), phase string, total int64) *progress {
	return &progress{fn: fn, phase: phase, total: total}
}

// at reports the phase's current segment read up to off.
func (p *progress) at(off int64) {
	if p.fn != nil {
		if p.lines++; p.lines == 1 || p.lines%65536 == 0 {
			p.fn(p.phase, min(p.base+off, p.total), p.total)
		}
	}
}

// done reports the phase's current segment, of size bytes, finished.
func (p *progress) done(size int64) {
	p.base += size
	if p.fn != nil {
		p.fn(p.phase, min(p.base, p.total), p.total)
	}
}
