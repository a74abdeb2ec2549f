package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/units"
)

// groupFloor is the lowest entry ID a consumer group still needs: entries at or above it have
// not been delivered to the group (or, with GroupsAcked, are delivered but not acknowledged).
type groupFloor struct {
	name  string
	floor id
}

// groupInfo is what XINFO GROUPS says of one consumer group.
type groupInfo struct {
	name          string
	lastDelivered id
	pending       int64
}

// groups reads the consumer groups of a stream (none for a missing key), with XINFO GROUPS'
// name, last-delivered-id and pending, which every server with streams has.
func (r *run) groups(ctx context.Context, key string) ([]groupInfo, error) {
	gs, err := r.c.XInfoGroups(ctx, key).Result()
	if err != nil {
		if isNoSuchKey(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("XINFO GROUPS %s: %w", key, err)
	}
	out := make([]groupInfo, 0, len(gs))
	for _, g := range gs {
		ld, err := parseID(g.LastDeliveredID)
		if err != nil {
			return nil, fmt.Errorf("group %s of %s: %w", g.Name, key, err)
		}
		out = append(out, groupInfo{name: g.Name, lastDelivered: ld, pending: g.Pending})
	}
	return out, nil
}

// floors reads the floor of every consumer group of a stream (nil with GroupsIgnore), with the
// summary form of XPENDING for GroupsAcked.
func (r *run) floors(ctx context.Context, key string) ([]groupFloor, error) {
	mode := r.s.cfg.ConsumerGroups
	if mode == GroupsIgnore {
		return nil, nil
	}
	groups, err := r.groups(ctx, key)
	if err != nil {
		return nil, err
	}
	out := make([]groupFloor, 0, len(groups))
	for _, g := range groups {
		f, ok := g.lastDelivered.next()
		if !ok {
			f = maxID
		}
		if mode == GroupsAcked && g.pending > 0 {
			p, err := r.c.XPending(ctx, key, g.name).Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				return nil, fmt.Errorf("XPENDING %s %s: %w", key, g.name, err)
			}
			if p != nil && p.Count > 0 {
				lo, err := parseID(p.Lower)
				if err != nil {
					return nil, fmt.Errorf("group %s of %s: %w", g.name, key, err)
				}
				f = minID(f, lo)
			}
		}
		out = append(out, groupFloor{name: g.name, floor: f})
	}
	return out, nil
}

// overrideID is the ID below which retention wins over consumer groups: entries older (by
// their ID's time) than ConsumerGroupMaxAge. The zero id when groups always win.
func (r *run) overrideID() id {
	age := r.s.cfg.ConsumerGroupMaxAge
	if age <= 0 {
		return id{}
	}
	t := r.start.Add(-age).UnixMilli()
	if t <= 0 {
		return id{}
	}
	return id{uint64(t), 0}
}

// limit returns the highest MINID the groups allow: the lowest floor, raised to the override
// point when consumer_group_max_age is set.
func (r *run) limit(fl []groupFloor) (id, bool) {
	if len(fl) == 0 {
		return maxID, false
	}
	lo := maxID
	for _, g := range fl {
		lo = minID(lo, g.floor)
	}
	return maxOf(lo, r.overrideID()), true
}

// unacked is what one consumer group had not acknowledged of the entries a run is about to
// trim, read just before the trim (in a dry run, after the plan): every entry above its
// last-delivered ID, and the pending entries (delivered, not acknowledged) among those the run
// read below its planned cut. Whatever the mode, the run counts and reports the entries it
// trims out of these.
type unacked struct {
	name          string
	lastDelivered id
	pending       []int // positions in the stream's idLog, ascending
}

// pendingPage is how many pending entries each XPENDING reads.
const pendingPage = 1000

// readUnacked reads what every consumer group of sp has not acknowledged below cut c.
func (r *run) readUnacked(ctx context.Context, sp *streamPlan, c cut) ([]unacked, error) {
	if c.pos == 0 {
		return nil, nil
	}
	groups, err := r.groups(ctx, sp.key)
	if err != nil {
		return nil, err
	}
	end, ok := c.target.prev()
	if !ok {
		return nil, nil
	}
	out := make([]unacked, 0, len(groups))
	for _, g := range groups {
		u := unacked{name: g.name, lastDelivered: g.lastDelivered}
		// Pending entries below the first one read were removed before this run (a dead
		// consumer's list can be long): the scan starts at the stream's head.
		start := sp.ids.at(0).String()
		for g.pending > 0 {
			if err := r.step(ctx, "pending", sp.key); err != nil {
				return nil, err
			}
			ps, err := r.c.XPendingExt(ctx, &goredis.XPendingExtArgs{Stream: sp.key, Group: g.name, Start: start, End: end.String(), Count: pendingPage}).Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				return nil, fmt.Errorf("XPENDING %s %s %s %s COUNT %d: %w", sp.key, g.name, start, end, pendingPage, err)
			}
			var x id
			for _, p := range ps {
				if x, err = parseID(p.ID); err != nil {
					return nil, fmt.Errorf("pending entry of group %s of %s: %w", g.name, sp.key, err)
				}
				// A pending entry above the last-delivered ID (moved back with XGROUP SETID)
				// is counted as not delivered; one the run did not read is gone already.
				if g.lastDelivered.less(x) {
					continue
				}
				if pos := sp.ids.search(x); pos < c.pos && sp.ids.at(pos) == x {
					u.pending = append(u.pending, pos)
				}
			}
			if len(ps) < pendingPage {
				break
			}
			next, ok := x.next()
			if !ok {
				break
			}
			start = next.String()
		}
		out = append(out, u)
	}
	return out, nil
}

// lost returns how many of the entries below cut c the group had not acknowledged: never
// delivered, and pending.
func (u *unacked) lost(sp *streamPlan, c cut) (undelivered, pending int64) {
	if nx, ok := u.lastDelivered.next(); ok {
		undelivered = int64(max(c.pos-sp.ids.search(nx), 0))
	}
	return undelivered, int64(sort.SearchInts(u.pending, c.pos))
}

// lostAny counts the entries below cut c that some group had not acknowledged, each once:
// those above the lowest last-delivered ID, and below it those pending in any group.
func lostAny(sp *streamPlan, us []unacked, c cut) int64 {
	if len(us) == 0 {
		return 0
	}
	lowest := maxID
	for _, u := range us {
		lowest = minID(lowest, u.lastDelivered)
	}
	from := c.pos
	if nx, ok := lowest.next(); ok {
		from = min(sp.ids.search(nx), c.pos)
	}
	var pos []int
	for _, u := range us {
		for _, p := range u.pending {
			if p >= from {
				break
			}
			pos = append(pos, p)
		}
	}
	slices.Sort(pos)
	return int64(c.pos-from) + int64(len(slices.Compact(pos)))
}

// heldNote explains the entries retention drops that the groups held back.
func (r *run) heldNote(sp *streamPlan, fl []groupFloor, retCut, final cut) (string, bool) {
	if final.pos >= retCut.pos {
		return "", false
	}
	var names []string
	for _, g := range fl {
		if g.floor.less(retCut.target) {
			names = append(names, g.name)
		}
	}
	return fmt.Sprintf("%s: %d entries that retention drops are kept for consumer group(s) %s (consumer_groups: %s)",
		sp.key, retCut.pos-final.pos, strings.Join(names, ", "), r.s.cfg.ConsumerGroups), true
}

// lostNotes names, for each group, the entries below cut c that it had not acknowledged and
// why they were trimmed all the same.
func (r *run) lostNotes(sp *streamPlan, us []unacked, c cut) []string {
	var notes []string
	for i := range us {
		u := &us[i]
		undelivered, pending := u.lost(sp, c)
		if undelivered+pending == 0 {
			continue
		}
		notes = append(notes, fmt.Sprintf("%s: trimmed %d entries consumer group %s had not acknowledged (%d never delivered, %d pending): %s",
			sp.key, undelivered+pending, u.name, undelivered, pending, r.lostReason(undelivered)))
	}
	return notes
}

// lostReason says why a run trimmed entries a group had not acknowledged.
func (r *run) lostReason(undelivered int64) string {
	cfg := &r.s.cfg
	past := "the group changed during the trim"
	if cfg.ConsumerGroupMaxAge > 0 {
		past = "older than consumer_group_max_age " + units.FormatDuration(cfg.ConsumerGroupMaxAge) + ", retention won"
	}
	switch cfg.ConsumerGroups {
	case GroupsIgnore:
		return "consumer_groups: ignore"
	case GroupsDelivered:
		if undelivered == 0 {
			return "consumer_groups: delivered does not wait for acknowledgements"
		}
		return "consumer_groups: delivered does not wait for acknowledgements; the entries never delivered were " + past
	}
	return past
}
