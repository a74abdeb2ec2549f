package rotating

// progress reports one phase of a run, in bytes of the set, to backends.Options.Progress: at
// the start of every segment and every 65536 lines within one, as the json backend does.
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
		if p.lines++; p.lines%65536 == 0 {
			p.fn(p.phase, min(p.base+off, p.total), p.total)
		}
	}
}

// segment reports a segment of size bytes begun (before its first line) or, with done set,
// finished.
func (p *progress) segment(size int64, done bool) {
	if done {
		p.base += size
	}
	if p.fn != nil {
		p.fn(p.phase, min(p.base, p.total), p.total)
	}
}
