package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/quarantine"
	"github.com/papyrad/papyrad/internal/report"
)

// run is one compaction of a store.
type run struct {
	s     *Store
	c     *goredis.Client
	sv    server
	opts  backends.Options
	start time.Time
	rep   *report.Report
	lock  *lock // nil in a dry run
	runID string

	// Progress, in bytes of data fields: read or trimmed in earlier streams, and the total
	// (the streams' MEMORY USAGE while reading, the data to trim while trimming).
	done, total int64
	avg         float64 // data bytes per entry of the stream being trimmed

	reply replyBuffer // the raw reply of the last XRANGE (see xrange)
	page  page        // that reply decoded
}

// step is called before every command of a run that reads a page or trims: it stops a
// cancelled run and keeps the lock.
func (r *run) step(ctx context.Context, point, key string) error {
	if r.s.hook != nil {
		r.s.hook(point, key)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.lock.refresh(ctx)
}

func (r *run) progress(phase string, sp *streamPlan) {
	if r.opts.Progress != nil {
		done := r.done + sp.ids.total
		r.opts.Progress(phase, done, max(done, r.total))
	}
}

func (r *run) trimProgress(deleted int64) {
	if r.opts.Progress != nil {
		done := r.done + int64(float64(deleted)*r.avg)
		r.opts.Progress("trim", done, max(done, r.total))
	}
}

// streamResult is what happened to one stream.
type streamResult struct {
	sp      *streamPlan
	retCut  cut // what retention alone would remove
	final   cut // what the run removes (or would, in a dry run)
	floors  []groupFloor
	unacked []unacked // what each group had not acknowledged below final, before the trim
	trimmed int64     // entries the server reported removed
}

func (r *run) compact(ctx context.Context) error {
	s, rep := r.s, r.rep
	keys := s.Keys()
	exists, err := r.checkTypes(ctx, keys)
	if err != nil {
		// Nothing has been changed: a key of another type means a wrong prefix or system_id,
		// or something else writing there, and the run stops before touching any stream.
		return s.wrap("check keys", err)
	}
	memBefore, memOK := r.memory(ctx, keys)
	for _, m := range memBefore {
		r.total += m
	}
	if !memOK {
		rep.Warnings = append(rep.Warnings, "the server does not answer MEMORY USAGE: bytes_before and bytes_after add up the data fields of the entries read")
	}

	// Plan every stream before changing any, so that a failure leaves all three as they were.
	results := make([]*streamResult, len(keys))
	for i, k := range keys {
		sp := &streamPlan{key: k, exists: exists[i]}
		if sp.exists {
			if err := r.planStream(ctx, sp); err != nil {
				return s.wrap("read "+k, err)
			}
		} else {
			sp.plan = emptyPlan()
		}
		r.done += sp.ids.total
		res := &streamResult{sp: sp, retCut: sp.cutAt(sp.retCut)}
		res.final = res.retCut
		results[i] = res
	}
	// What the consumer groups allow, read once for the plan (and again before every trim
	// step).
	for _, res := range results {
		if !res.sp.exists || res.retCut.pos == 0 {
			continue
		}
		fl, err := r.floors(ctx, res.sp.key)
		if err != nil {
			return s.wrap("consumer groups", err)
		}
		res.floors = fl
		if lim, ok := r.limit(fl); ok && lim.less(res.final.target) {
			res.final = res.sp.cutBelow(lim)
		}
		if rep.DryRun {
			// What the run would trim that a group has not acknowledged (a real run reads
			// it again just before its trim).
			if res.unacked, err = r.readUnacked(ctx, res.sp, res.final); err != nil {
				return s.wrap("consumer groups", err)
			}
		}
	}

	if rep.DryRun && s.cfg.Archive != nil {
		defer func() { rep.RecordsArchived = rep.RecordsDropped }()
	}
	if !rep.DryRun {
		if err := r.quarantine(ctx, results); err != nil {
			return err
		}
		if s.cfg.Archive != nil {
			w, err := r.archive(ctx, results)
			if err != nil {
				return err
			}
			rep.RunID = r.runID
			// Whatever the trims do, publish what the streams lost (a trim that fails
			// part-way has removed a prefix).
			defer r.publishArchive(context.WithoutCancel(ctx), w)
		}
		r.done, r.total = 0, 0
		for _, res := range results {
			r.total += res.sp.ids.sizeBefore(res.final.pos)
		}
		for _, res := range results {
			if res.final.pos == 0 {
				continue
			}
			removed := res.sp.ids.sizeBefore(res.final.pos)
			r.avg = float64(removed) / float64(res.final.pos)
			if err := r.trim(ctx, res); err != nil {
				r.fill(results, memBefore, memOK, nil, false)
				return s.wrap("trim "+res.sp.key, err)
			}
			r.done += removed
		}
	}
	var memAfter []int64
	if memOK && !rep.DryRun {
		memAfter, memOK = r.memory(ctx, keys)
	}
	r.fill(results, memBefore, memOK, memAfter, true)
	return nil
}

// trim removes one stream's cut and checks the result.
func (r *run) trim(ctx context.Context, res *streamResult) error {
	sp := res.sp
	t := &trimmer{r: r, key: sp.key, target: res.final.target}
	if r.s.cfg.ConsumerGroups != GroupsIgnore {
		t.limit = func(ctx context.Context) (id, error) {
			fl, err := r.floors(ctx, sp.key)
			if err != nil {
				return id{}, err
			}
			res.floors = fl
			lim, _ := r.limit(fl)
			return lim, nil
		}
	}
	if r.s.hook != nil {
		r.s.hook("before-trim", sp.key)
	}
	// What the groups have not acknowledged, as the trim begins: what they lose if it goes.
	var err error
	if res.unacked, err = r.readUnacked(ctx, sp, res.final); err != nil {
		return fmt.Errorf("consumer groups: %w", err)
	}
	err = t.run(ctx)
	res.trimmed = t.deleted
	if t.target != res.final.target {
		// A group appeared or moved back during the trim: the trim stopped below the plan,
		// after removing what it had already removed from the head.
		pos := sp.ids.search(t.target)
		pos = max(pos, int(min(t.deleted, int64(res.final.pos))))
		res.final = sp.cutAt(pos)
	}
	r.s.log.Debug("trimmed", zap.String("key", sp.key), zap.Int64("entries", t.deleted), zap.Int("commands", t.steps),
		zap.Stringer("minid", t.target))
	if err != nil {
		return err
	}
	head, empty, err := t.verify(ctx)
	if err != nil {
		return err
	}
	if want := int64(res.final.pos); t.deleted != want {
		// Someone else (Papyra's recovery, an operator) removed entries meanwhile.
		r.rep.Warnings = append(r.rep.Warnings, fmt.Sprintf("%s: trimmed %d entries where %d were planned (removed by someone else meanwhile?)", sp.key, t.deleted, want))
	}
	if !empty && res.final.pos < sp.ids.len() && head != res.final.target {
		r.rep.Warnings = append(r.rep.Warnings, fmt.Sprintf("%s: the first kept entry %s is gone; the head is now %s (removed by someone else meanwhile?)", sp.key, res.final.target, head))
	}
	return nil
}

// quarantine writes the non-records of every cut to the run's quarantine file and makes it
// durable before anything is trimmed.
func (r *run) quarantine(ctx context.Context, results []*streamResult) error {
	s := r.s
	var q *quarantine.File
	runID := r.runID
	for _, res := range results {
		sp := res.sp
		for _, nr := range sp.nonRecords {
			if nr.pos >= res.final.pos {
				break
			}
			if s.cfg.Quarantine == "" {
				return fmt.Errorf("store %s: %s entry %s is not a record and no quarantine directory is configured: refusing to remove it", s.cfg.Name, sp.key, nr.id)
			}
			if q == nil {
				q = quarantine.New(s.cfg.Quarantine, s.cfg.Name, Redact(s.cfg.URL), runID, r.start)
				defer q.Discard()
			}
			// Read again by ID: only the few non-records were remembered, not their data.
			// (If it was removed by someone else since, there is nothing to add.)
			var addErr error
			_, _, _, err := r.xrange(ctx, sp.key, nr.id.String(), nr.id.String(), 1, func(e *entry) error {
				_, raw, _ := entryLine(nil, e, false)
				addErr = q.Add(raw, int64(nr.pos), fmt.Sprintf("%s entry %s: %s", sp.key, nr.id, nr.reason))
				return addErr
			})
			if addErr != nil {
				return fmt.Errorf("store %s: %w", s.cfg.Name, addErr)
			}
			if err != nil {
				return s.wrap("read "+sp.key+" "+nr.id.String()+" for quarantine", err)
			}
		}
	}
	if q == nil {
		return nil
	}
	final, err := q.Publish()
	if err != nil {
		return fmt.Errorf("store %s: %w", s.cfg.Name, err)
	}
	r.rep.QuarantineFile = final
	r.rep.RunID = runID
	return nil
}

// memory returns MEMORY USAGE of each key (the server's estimate from a sample of the
// stream's nodes; 0 for a missing key); ok is false when the server refuses the command.
func (r *run) memory(ctx context.Context, keys []string) (usage []int64, ok bool) {
	usage = make([]int64, len(keys))
	for i, k := range keys {
		n, err := r.c.MemoryUsage(ctx, k).Result()
		switch {
		case errors.Is(err, goredis.Nil):
		case err != nil:
			r.s.log.Debug("MEMORY USAGE refused; reporting data sizes instead", zap.Error(r.s.wrap("memory usage", err)))
			return nil, false
		default:
			usage[i] = n
		}
	}
	return usage, true
}

// fill writes the run's figures into the report. trimmed says whether the trims (or, in a dry
// run, the plan) completed.
func (r *run) fill(results []*streamResult, memBefore []int64, memOK bool, memAfter []int64, complete bool) {
	rep := r.rep
	var dataBefore, dataRemoved int64
	var leftNonRecords int64
	var lost []string
	for i, res := range results {
		sp := res.sp
		final := res.final
		if !rep.DryRun && !complete {
			// A failed trim removed what it reports, from the head.
			final = cut{pos: int(min(res.trimmed, int64(res.final.pos)))}
		}
		f := sp.figures(final)
		rep.RecordsBefore += f.records
		rep.RecordsDropped += f.dropped
		rep.DroppedByAge += f.byAge
		rep.DroppedByCount += f.byCount
		rep.DroppedByBytes += f.byBytes
		rep.RecordsQuarantined += f.quarantined
		rep.RecordsUnreclaimed += f.unreclaimed
		leftNonRecords += f.nonRecordsLeft
		dataBefore += f.dataBefore
		dataRemoved += f.dataRemoved
		if memOK {
			rep.BytesBefore += memBefore[i]
			if memAfter != nil {
				rep.BytesAfter += memAfter[i]
			} else if entries := sp.length; entries > 0 {
				// Not measured (a dry run, or a trim that failed): the share of the entries
				// that stay.
				rep.BytesAfter += memBefore[i] - memBefore[i]*min(int64(final.pos), entries)/entries
			}
		}
		if complete && len(res.floors) > 0 {
			if note, ok := r.heldNote(sp, res.floors, res.retCut, res.final); ok {
				rep.Warnings = append(rep.Warnings, note)
			}
		}
		// Entries a group had not acknowledged are lost to it once trimmed, also by a trim
		// that failed part-way.
		rep.RecordsTrimmedPastGroups += lostAny(sp, res.unacked, final)
		lost = append(lost, r.lostNotes(sp, res.unacked, final)...)
	}
	rep.RecordsAfter = rep.RecordsBefore - rep.RecordsDropped
	r.oldest(results, complete)
	if leftNonRecords > 0 && complete {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d entries that are not records stay in the streams after the first kept entry (papyrad scan lists them)", leftNonRecords))
	}
	if rep.RecordsUnreclaimed > 0 && complete {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d records that retention drops stay: a stream can only lose a prefix, and they follow a kept entry or are held by a consumer group", rep.RecordsUnreclaimed))
	}
	rep.Warnings = append(rep.Warnings, lost...)
	if !rep.DryRun {
		for _, w := range lost {
			r.s.log.Warn(w)
		}
	}
	if !memOK {
		// No MEMORY USAGE: the data fields' lengths, for the entries the run read.
		rep.BytesBefore = dataBefore
		rep.BytesAfter = dataBefore - dataRemoved
	}
}

// oldest reports the timestamp of the oldest record left in the streams, when the run knows
// it: every stream read whole, and nothing retention drops left in it (a record held back by
// a consumer group, or after a kept entry, could be older than every kept one).
func (r *run) oldest(results []*streamResult, complete bool) {
	if !complete {
		return
	}
	var oldest float64
	var have bool
	for _, res := range results {
		sp := res.sp
		if !sp.exists {
			continue
		}
		if sp.unread > 0 || res.final.pos != res.retCut.pos || sp.figures(res.final).unreclaimed > 0 {
			return
		}
		if c := sp.plan.Counts(); c.HasOldestKept && (!have || c.OldestKept < oldest) {
			oldest, have = c.OldestKept, true
		}
	}
	if have {
		r.rep.OldestRecordTimestamp = &oldest
	}
}
