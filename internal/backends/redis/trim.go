package redis

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/errs"
)

// maxStep bounds how far the approximate trim's LIMIT is raised when a step frees nothing.
const maxStep = 1 << 20

const (
	// trimTarget is how long one trim step should take, as the run measures it: a client
	// that sends a command meanwhile waits about that long. Freeing a step's nodes takes the
	// server longer now and then (its allocator returning memory), so the target leaves room.
	trimTarget = 200 * time.Microsecond
	// readTarget is how long one page of reads should take, from sending the XRANGE to
	// holding its reply: the server's part and the transfer.
	readTarget = 500 * time.Microsecond
	// firstStep is the size of the first trim step or page, before any has been measured.
	firstStep = 200
)

// pacer chooses how many entries each read page or trim step covers from the time the ones
// before took, so that each takes about its target; with pause set it also waits after each
// step as long as the step took, so that the server spends at most half its time on the run
// and other clients are served in between. The time an entry takes is a decaying maximum of
// what the steps measured: a slow step shrinks the next ones at once, fast ones grow them
// back slowly, as a step that happened to run fast says little about the next.
type pacer struct {
	step     int64   // the next step's size
	min, max int64   // its bounds
	perEntry float64 // nanoseconds an entry takes, as estimated so far
	target   time.Duration
	pause    bool
	sleep    func(context.Context, time.Duration) error
}

func newPacer(lo, hi int64, target time.Duration, pause bool) *pacer {
	lo = max(lo, 1)
	hi = max(hi, lo)
	return &pacer{step: min(max(firstStep, lo), hi), min: lo, max: hi, target: target, pause: pause, sleep: sleepCtx}
}

// took adjusts the step to one of size limit that covered n entries in d, then pauses.
func (p *pacer) took(ctx context.Context, limit, n int64, d time.Duration) error {
	if n > 0 && d > 0 {
		p.perEntry = max(float64(d)/float64(n), p.perEntry*0.9)
		// By at most a factor of two either way: one step slowed down by the machine being
		// busy elsewhere must not collapse the step.
		next := int64(float64(p.target) / p.perEntry)
		p.step = min(max(next, limit/2, p.min), 2*limit, p.max)
	}
	if !p.pause {
		return ctx.Err()
	}
	return p.sleep(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// trimmer removes the entries of one stream below a target in bounded steps.
type trimmer struct {
	r   *run
	key string
	// limit returns the highest target allowed right now (the consumer groups' floor), read
	// again before every step so that a group that appears during the trim is respected.
	limit func(ctx context.Context) (id, error)

	target  id    // lowered by limit, never raised
	deleted int64 // entries the server reported removed
	steps   int
}

// run trims to t.target. With MINID (Redis 6.2+): approximate steps `XTRIM key MINID ~ target
// LIMIT step` free whole radix-tree nodes below the target, at most step entries each, until
// one frees nothing; then the entries left below the target sit in the one node that also holds
// the target, and a single exact `XTRIM key MINID target` removes them. Older servers have no
// MINID: entries are read and removed by ID with XDEL in batches instead.
func (t *trimmer) run(ctx context.Context) error {
	if t.r.sv.atLeast(6, 2) {
		return t.minID(ctx)
	}
	return t.xdel(ctx)
}

// lower applies the groups' current limit to the target.
func (t *trimmer) lower(ctx context.Context) error {
	if t.limit == nil {
		return nil
	}
	lim, err := t.limit(ctx)
	if err != nil {
		return err
	}
	t.target = minID(t.target, lim)
	return nil
}

func (t *trimmer) minID(ctx context.Context) error {
	r := t.r
	node := max(r.sv.nodeEntries, 1)
	pace := newPacer(node, int64(r.s.cfg.TrimStep), trimTarget, true)
	for {
		if err := r.step(ctx, "trim-step", t.key); err != nil {
			return err
		}
		if err := t.lower(ctx); err != nil {
			return err
		}
		step := pace.step
		start := time.Now()
		n, err := r.c.XTrimMinIDApprox(ctx, t.key, t.target.String(), step).Result()
		if err != nil {
			return fmt.Errorf("XTRIM %s MINID ~ %s LIMIT %d: %w", t.key, t.target, step, err)
		}
		t.steps++
		t.deleted += n
		r.trimProgress(t.deleted)
		if err := pace.took(ctx, step, n, time.Since(start)); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		// Nothing freed: either the head node also holds the target (the boundary), or the
		// head node holds more entries than step, which an approximate trim never splits.
		below, err := t.countBelow(ctx, node+1)
		if err != nil {
			return err
		}
		if below == 0 {
			return nil
		}
		if below <= node || pace.step >= maxStep {
			if below > node {
				r.s.log.Warn("approximate trims free nothing; finishing with one exact trim",
					zap.String("key", t.key), zap.Int64("step", step))
			}
			if err := r.step(ctx, "trim-exact", t.key); err != nil {
				return err
			}
			if err := t.lower(ctx); err != nil {
				return err
			}
			n, err := r.c.XTrimMinID(ctx, t.key, t.target.String()).Result()
			if err != nil {
				return fmt.Errorf("XTRIM %s MINID %s: %w", t.key, t.target, err)
			}
			t.steps++
			t.deleted += n
			r.trimProgress(t.deleted)
			return nil
		}
		// The head node is larger than the step: an approximate trim never splits a node, so
		// the step must cover it.
		r.s.log.Debug("raising the trim step to the node size", zap.String("key", t.key), zap.Int64("from", step))
		pace.step = min(max(step*2, node), maxStep)
		pace.max = max(pace.max, pace.step)
	}
}

// countBelow counts the entries below the target, up to limit.
func (t *trimmer) countBelow(ctx context.Context, limit int64) (int64, error) {
	end, ok := t.target.prev()
	if !ok {
		return 0, nil
	}
	msgs, err := t.r.c.XRangeN(ctx, t.key, "-", end.String(), limit).Result()
	if err != nil {
		return 0, fmt.Errorf("XRANGE %s - %s: %w", t.key, end, err)
	}
	return int64(len(msgs)), nil
}

// xdel removes the entries below the target by ID, in batches, for servers without MINID.
func (t *trimmer) xdel(ctx context.Context) error {
	r := t.r
	batch := min(max(int64(r.s.cfg.TrimStep), 1), 1000)
	for {
		if err := r.step(ctx, "trim-step", t.key); err != nil {
			return err
		}
		if err := t.lower(ctx); err != nil {
			return err
		}
		end, ok := t.target.prev()
		if !ok {
			return nil
		}
		msgs, err := r.c.XRangeN(ctx, t.key, "-", end.String(), batch).Result()
		if err != nil {
			return fmt.Errorf("XRANGE %s - %s: %w", t.key, end, err)
		}
		if len(msgs) == 0 {
			return nil
		}
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		n, err := r.c.XDel(ctx, t.key, ids...).Result()
		if err != nil {
			return fmt.Errorf("XDEL %s (%d entries): %w", t.key, len(ids), err)
		}
		t.steps++
		t.deleted += n
		r.trimProgress(t.deleted)
	}
}

// verify checks that the stream's head is at or above the target: nothing below it is left.
func (t *trimmer) verify(ctx context.Context) (head id, empty bool, err error) {
	msgs, err := t.r.c.XRangeN(ctx, t.key, "-", "+", 1).Result()
	if err != nil {
		return id{}, false, fmt.Errorf("XRANGE %s - + COUNT 1: %w", t.key, err)
	}
	if len(msgs) == 0 {
		return id{}, true, nil
	}
	if head, err = parseID(msgs[0].ID); err != nil {
		return id{}, false, err
	}
	if head.less(t.target) {
		return head, false, fmt.Errorf("%s: head %s is below %s after the trim: %w", t.key, head, t.target, errs.ErrTrimIncomplete)
	}
	return head, false, nil
}
