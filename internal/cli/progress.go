package cli

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress draws a long run's progress on a terminal: the store and phase, a bar, the bytes
// done of the total, the rate and the time left (github.com/schollz/progressbar), a few times
// a second at most, on one line that is cleared when the run ends.
type progress struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
	key string // the store and phase the bar shows
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

// progressThrottle is how often at most the bar is drawn again.
var progressThrottle = 200 * time.Millisecond

// callback is backends.Options.Progress for the runs of store.
func (p *progress) callback(store string) func(phase string, done, total int64) {
	return func(phase string, done, total int64) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if key := store + ": " + phase; p.bar == nil || p.key != key {
			p.clearLocked()
			p.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(key),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowCount(),
				progressbar.OptionShowTotalBytes(true),
				progressbar.OptionUseIECUnits(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(progressThrottle),
				progressbar.OptionUseANSICodes(true),
			)
			p.key = key
		}
		if total != p.bar.GetMax64() {
			p.bar.ChangeMax64(total)
		}
		_ = p.bar.Set64(done)
	}
}

// clear takes the progress line off the terminal.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *progress) clearLocked() {
	if p.bar != nil {
		_ = p.bar.Clear()
		_ = p.bar.Exit()
		p.bar, p.key = nil, ""
	}
}

// isTerminal reports whether f is a terminal, as isatty(3) does: a character device such as
// /dev/null is not one.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
