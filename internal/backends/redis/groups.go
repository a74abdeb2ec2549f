package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// groupFloor is the lowest entry ID a consumer group still needs: entries at or above it have
// not been delivered to the group (or, with GroupsAcked, are delivered but not acknowledged).
type groupFloor struct {
	name  string
	floor id
}

// floors reads the floor of every consumer group of a stream (nil with GroupsIgnore). It uses
// XINFO GROUPS' name and last-delivered-id, which every server with streams has, and the
// summary form of XPENDING.
func (r *run) floors(ctx context.Context, key string) ([]groupFloor, error) {
	mode := r.s.cfg.ConsumerGroups
	if mode == GroupsIgnore {
		return nil, nil
	}
	groups, err := r.c.XInfoGroups(ctx, key).Result()
	if err != nil {
		if isNoSuchKey(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("XINFO GROUPS %s: %w", key, err)
	}
	out := make([]groupFloor, 0, len(groups))
	for _, g := range groups {
		ld, err := parseID(g.LastDeliveredID)
		if err != nil {
			return nil, fmt.Errorf("group %s of %s: %w", g.Name, key, err)
		}
		f, ok := ld.next()
		if !ok {
			f = maxID
		}
		if mode == GroupsAcked && g.Pending > 0 {
			p, err := r.c.XPending(ctx, key, g.Name).Result()
			if err != nil && err != goredis.Nil {
				return nil, fmt.Errorf("XPENDING %s %s: %w", key, g.Name, err)
			}
			if p != nil && p.Count > 0 {
				lo, err := parseID(p.Lower)
				if err != nil {
					return nil, fmt.Errorf("group %s of %s: %w", g.Name, key, err)
				}
				f = minID(f, lo)
			}
		}
		out = append(out, groupFloor{name: g.Name, floor: f})
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

// groupNotes explains to the operator what the groups did to a stream's cut: entries they held
// back (unreclaimed) and entries retention trimmed past a group's floor after the override age.
func (r *run) groupNotes(sp *streamPlan, fl []groupFloor, retCut, final cut) (notes []string, overridden bool) {
	mode := r.s.cfg.ConsumerGroups
	verb := "been delivered"
	if mode == GroupsAcked {
		verb = "acknowledged"
	}
	if final.pos < retCut.pos {
		var names []string
		for _, g := range fl {
			if g.floor.less(retCut.target) {
				names = append(names, g.name)
			}
		}
		notes = append(notes, fmt.Sprintf("%s: %d entries that retention drops are kept for consumer group(s) %s (consumer_groups: %s)",
			sp.key, retCut.pos-final.pos, strings.Join(names, ", "), mode))
	}
	for _, g := range fl {
		if !g.floor.less(final.target) {
			continue
		}
		n := final.pos - sp.ids.search(g.floor)
		if n <= 0 {
			continue
		}
		overridden = true
		notes = append(notes, fmt.Sprintf("%s: consumer group %s had not %s %d trimmed entries older than consumer_group_max_age %v: retention won",
			sp.key, g.name, verb, n, r.s.cfg.ConsumerGroupMaxAge.Round(time.Second)))
	}
	return notes, overridden
}
