// Package lease lets replicas sharing a Redis do a piece of work once between them:
// one holds a renewed lock while it works, the others wait for the result it stores.
package lease

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

const (
	// defaultLease is how long a lock in Redis outlives a holder that died; a live
	// holder renews it every lease/3.
	defaultLease = 5 * time.Second
	// retryAfter is how long Redis is left alone after it failed, so that a hung
	// Redis costs one lookup its timeout, not every lookup.
	retryAfter = time.Second
	// OpTimeout bounds the writes that follow the work, whose own context may be
	// spent by then.
	OpTimeout = 2 * time.Second
	// warnEvery is how often an unavailable Redis is logged.
	warnEvery = time.Minute
)

// claimScript returns the value at KEYS[1] if there is one, else takes the lock
// KEYS[2] for ARGV[1] for ARGV[2] ms and returns 1, else (another holds it) 0. Atomic,
// so a holder's result and its lock's release can't both be missed between two calls.
var claimScript = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if v then return v end
if redis.call("SET", KEYS[2], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
return 0`)

// renewScript extends the lock KEYS[1] to ARGV[2] ms if ARGV[1] still holds it.
var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0`)

// releaseScript stores ARGV[2] at KEYS[2] for ARGV[3] ms (when ARGV[3] > 0; only if
// there is none when ARGV[4] is "nx") and then deletes the lock KEYS[1] if ARGV[1]
// still holds it: waiters find the result before they find the lock gone. It
// returns what KEYS[2] holds then ("" for nothing).
var releaseScript = redis.NewScript(`
if tonumber(ARGV[3]) > 0 then
	if ARGV[4] == "nx" then redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[3], "NX")
	else redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[3]) end
end
if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("DEL", KEYS[1]) end
return redis.call("GET", KEYS[2]) or ""`)

// Shared is the Redis that replicas share, for one user of it (the cache, the
// refresher). Its failures turn into a fallback to the in-process state and a
// warning at most once a minute.
type Shared struct {
	rdb       *redis.Client
	log       *zap.Logger
	fallback  string // the warning, saying what hubgate does without Redis
	lease     time.Duration
	warned    atomic.Int64 // unix ns of the last warning
	downUntil atomic.Int64 // unix ns; Redis is not asked before then
	failing   atomic.Bool
}

// New returns nil when there is no Redis. fallback is the warning that says what
// hubgate does while Redis fails; lease is how long a lock outlives a holder that
// died (zero: 5 s).
func New(rdb *redis.Client, log *zap.Logger, fallback string, lease time.Duration) *Shared {
	if rdb == nil {
		return nil
	}
	if log == nil {
		log = zap.NewNop()
	}
	if lease <= 0 {
		lease = defaultLease
	}
	return &Shared{rdb: rdb, log: log, fallback: fallback, lease: lease}
}

// Up reports whether Redis is worth asking; false for a nil Shared.
func (s *Shared) Up() bool {
	return s != nil && time.Now().UnixNano() >= s.downUntil.Load()
}

// Failed records that Redis did not answer: it is left alone for a second, and the
// first failure of each minute is logged.
func (s *Shared) Failed(err error) {
	now := time.Now().UnixNano()
	s.downUntil.Store(now + int64(retryAfter))
	s.failing.Store(true)
	last := s.warned.Load()
	if now-last >= int64(warnEvery) && s.warned.CompareAndSwap(last, now) {
		s.log.Warn(s.fallback, zap.Error(err))
	}
}

// ok records that Redis answered, and says so once after failures.
func (s *Shared) ok() {
	if s.failing.Load() && s.failing.CompareAndSwap(true, false) {
		s.log.Info("Redis is available again")
	}
}

// Delete removes key, e.g. a result no longer true.
func (s *Shared) Delete(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), OpTimeout)
	defer cancel()
	if err := s.rdb.Del(ctx, key).Err(); err != nil {
		s.Failed(err)
	}
}

// ErrWaitTimeout is an unfinished wait for another replica.
var ErrWaitTimeout = errors.New("timed out waiting for another hubgate replica")

// Claim returns the value at valKey, or takes lockKey and returns the held Lease,
// waiting while another holder has it. A holder that dies leaves the lock to its
// lease's end. The error is ctx's end (as ErrWaitTimeout) or Redis failing.
func (s *Shared) Claim(ctx context.Context, valKey, lockKey string) (val string, held *Lease, err error) {
	id := rand.Text() // random, so only its taker can renew or release the lock
	for {
		res, err := claimScript.Run(ctx, s.rdb, []string{valKey, lockKey}, id, s.lease.Milliseconds()).Result()
		if err != nil {
			if ctx.Err() != nil {
				return "", nil, fmt.Errorf("%w: %w", ErrWaitTimeout, ctx.Err())
			}
			return "", nil, err
		}
		s.ok()
		switch v := res.(type) {
		case string:
			return v, nil, nil
		case int64:
			if v == 1 {
				return "", s.keep(lockKey, id), nil
			}
		default:
			return "", nil, fmt.Errorf("redis: unexpected claim answer %T", res)
		}
		// Another replica is at it: look again shortly, off step with the others.
		wait := time.NewTimer(10*time.Millisecond + mrand.N(15*time.Millisecond))
		select {
		case <-ctx.Done():
			wait.Stop()
			return "", nil, fmt.Errorf("%w: %w", ErrWaitTimeout, ctx.Err())
		case <-wait.C:
		}
	}
}

// Lease is a lock in Redis kept alive while its holder works.
type Lease struct {
	s       *Shared
	key, id string
	stop    chan struct{}
	done    chan struct{}
}

// keep renews the held lock key every lease/3 until Release.
func (s *Shared) keep(key, id string) *Lease {
	l := &Lease{s: s, key: key, id: id, stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew()
	return l
}

func (l *Lease) renew() {
	defer close(l.done)
	every := max(l.s.lease/3, time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		n, err := renewScript.Run(ctx, l.s.rdb, []string{l.key}, l.id, l.s.lease.Milliseconds()).Int()
		cancel()
		if err == nil && n == 0 {
			return // lost (expired while Redis was away): another replica may hold it now
		}
		// An error is tried again next tick, while the lease still runs.
	}
}

// Release stops the renewal, stores val at valKey for ttl (nothing when ttl <= 0; not
// over an existing value when keep) and gives the lock up. It returns the value at
// valKey then: another replica's, when keep kept it.
func (l *Lease) Release(valKey, val string, ttl time.Duration, keep bool) string {
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), OpTimeout)
	defer cancel()
	ms := int64(0)
	if ttl > 0 {
		ms = max(ttl.Milliseconds(), 1)
	}
	nx := ""
	if keep {
		nx = "nx"
	}
	now, err := releaseScript.Run(ctx, l.s.rdb, []string{l.key, valKey}, l.id, val, ms, nx).Text()
	if err != nil {
		// The lease ends the lock anyway; the others look the answer up themselves.
		l.s.Failed(err)
	}
	return now
}
