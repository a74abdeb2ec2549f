package app

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/scheduler"
)

// forwardEvery is how often the forwarder visits a store a run left pending: lines a writer
// adds to a replaced file reach the store within about this long.
const forwardEvery = time.Second

// forwardable is what stores whose runs can leave replaced files pending (file stores) offer.
type forwardable interface {
	Forward(ctx context.Context) (pending int, err error)
}

// forwarder keeps forwarding, between runs, what writers still add to the replaced files of
// the stores runs left pending, until the kernel proves nobody holds them. Without it, late
// records would wait for the store's next run, which may be a day away.
type forwarder struct {
	log     *zap.Logger
	publish func(job string, pending int) // the store's pending_files gauge

	mu      sync.Mutex
	stores  map[string]forwardable // job → store, as configured now
	pending map[string]forwardable // job → store, while it has pending files
}

func newForwarder(log *zap.Logger, publish func(string, int)) *forwarder {
	return &forwarder{log: log, publish: publish, stores: map[string]forwardable{}, pending: map[string]forwardable{}}
}

// setJobs makes js the configured stores. A store dropped from the configuration stays
// pending until its replaced files are let go: papyrad left them there.
func (f *forwarder) setJobs(js []scheduler.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stores = map[string]forwardable{}
	for _, j := range js {
		if s, ok := j.Store.(forwardable); ok {
			f.stores[j.Name] = s
		}
	}
}

// mark has the forwarder visit job's store, whose last run left pending files.
func (f *forwarder) mark(job string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.stores[job]; ok {
		f.pending[job] = s
	}
}

// all forwards every configured file store once (at start: journals of runs that died,
// forwards a stop left pending), and marks those still pending.
func (f *forwarder) all(ctx context.Context) {
	f.mu.Lock()
	batch := maps.Clone(f.stores)
	f.mu.Unlock()
	for job, s := range batch {
		f.visit(ctx, job, s)
	}
}

// visit forwards job's store once and keeps it marked while files are still pending.
func (f *forwarder) visit(ctx context.Context, job string, s forwardable) {
	n, err := s.Forward(ctx)
	switch {
	case errors.Is(err, errs.ErrLocked):
		return // a run holds it: its report says what is pending
	case err != nil:
		if ctx.Err() == nil {
			f.log.Warn("forwarding late lines failed", zap.String("store", job), zap.Error(err))
		}
		return // kept marked: tried again
	}
	f.publish(job, n)
	f.mu.Lock()
	defer f.mu.Unlock()
	if n > 0 {
		f.pending[job] = s
	} else {
		delete(f.pending, job)
	}
}

// run visits the pending stores every forwardEvery until ctx is done.
func (f *forwarder) run(ctx context.Context) {
	t := time.NewTicker(forwardEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		batch := maps.Clone(f.pending)
		f.mu.Unlock()
		for job, s := range batch {
			if ctx.Err() != nil {
				return
			}
			f.visit(ctx, job, s)
		}
	}
}
