package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/errs"
)

// The lock's value is "host:pid:token"; only the holder of the value may refresh or delete it.
var (
	refreshScript = goredis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)
	releaseScript = goredis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)
)

// lock is a store's lock in Redis: SET NX PX with a value of our own, refreshed while the run
// goes on and deleted at its end only if it is still ours. A papyrad that dies leaves it to
// expire after its TTL.
type lock struct {
	c     *goredis.Client
	key   string
	value string
	ttl   time.Duration
	last  time.Time // when the server last confirmed the lock
}

func acquireLock(ctx context.Context, c *goredis.Client, key string, ttl time.Duration) (*lock, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	l := &lock{c: c, key: key, ttl: ttl, value: fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))}
	at := time.Now()
	ok, err := c.SetNX(ctx, key, l.value, ttl).Result()
	if err != nil {
		return nil, err
	}
	if !ok {
		// A SET retried after a lost reply may have succeeded the first time.
		holder, err := c.Get(ctx, key).Result()
		if errors.Is(err, goredis.Nil) {
			return nil, fmt.Errorf("%w (it was released while we asked; try again)", errs.ErrLocked)
		}
		if err != nil {
			return nil, err
		}
		if holder != l.value {
			left, _ := c.PTTL(ctx, key).Result()
			return nil, fmt.Errorf("%w: held by %s, expires in %v", errs.ErrLocked, holderName(holder), left.Round(time.Millisecond))
		}
	}
	l.last = at
	return l, nil
}

// holderName drops the token from a lock value: host and process are enough to find the holder.
func holderName(v string) string {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ':' {
			return v[:i]
		}
	}
	return "another process"
}

// refresh extends the lock when a third of its TTL has passed since the server last confirmed
// it, and fails with errs.ErrLockLost when it is no longer ours. Called before every step of a run,
// it keeps the lock held at least two thirds of its TTL ahead of the step.
func (l *lock) refresh(ctx context.Context) error {
	if l == nil || time.Since(l.last) < l.ttl/3 {
		return nil
	}
	at := time.Now()
	n, err := refreshScript.Run(ctx, l.c, []string{l.key}, l.value, l.ttl.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("refresh lock %s: %w", l.key, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: %s expired or was taken over", errs.ErrLockLost, l.key)
	}
	l.last = at
	return nil
}

// release deletes the lock if it is still ours. It runs even when ctx is cancelled.
func (l *lock) release(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return releaseScript.Run(ctx, l.c, []string{l.key}, l.value).Err()
}
