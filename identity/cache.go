// Package identity spares the identity provider repeated calls: it caches who each
// token belongs to and refreshes each refresh token once, across replicas sharing a Redis.
package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/hubgate/hubgate/internal/seal"
	"github.com/hubgate/hubgate/lease"
	"github.com/hubgate/hubgate/provider"
)

// InvalidTTL is how long a rejected token stays rejected without asking again: long
// enough to shield the provider from a client retrying a bad token, short enough that
// a token minted a moment later works.
const InvalidTTL = 10 * time.Second

// Looker is the one thing a Cache needs of a provider.
type Looker interface {
	Lookup(ctx context.Context, token string) (*provider.User, error)
}

// CacheOptions configures a Cache.
type CacheOptions struct {
	Size    int
	TTL     time.Duration
	Timeout time.Duration // bounds the shared provider call
	// StaleIfError serves an identity up to this long past its TTL while the provider
	// cannot answer. Zero (the default) never serves a stale identity.
	StaleIfError time.Duration
	// MaxInFlight bounds concurrent provider calls, so a slow provider does not
	// collect an unbounded pile of them. Zero means 64.
	MaxInFlight int
	// Observe is told "hit", "miss" or "stale" for every lookup; OnEvict of every
	// identity that leaves the cache. Either may be nil.
	Observe func(result string)
	OnEvict func()
	// Redis, when set, is behind the in-process cache: replicas sharing it make one
	// provider call per token and TTL between them. Nil keeps identities in this
	// process only.
	Redis *redis.Client
	// Logger is told, at most once a minute, that Redis fails and the cache makes do
	// without it. Nil logs nothing.
	Logger *zap.Logger
	// Secret (the cookie secret, shared by the replicas) keys what Redis holds with
	// the token: an entry can be neither read nor forged without both, so write
	// access to Redis does not let someone give their own token another identity.
	Secret []byte
}

type entry struct {
	user    *provider.User
	fetched time.Time
	// shared marks an identity read from Redis: fetched elsewhere, earlier than its
	// time in this LRU says.
	shared bool
}

// Cache answers lookups from memory for TTL. It is keyed by the token's SHA-256, never
// the token itself, and concurrent misses for one token share one provider call.
type Cache struct {
	lookup     func(context.Context, string) (*provider.User, error)
	o          CacheOptions
	users      *expirable.LRU[[sha256.Size]byte, entry]
	invalid    *expirable.LRU[[sha256.Size]byte, time.Time] // when the provider said so
	flight     singleflight.Group
	slots      chan struct{}
	shared     *lease.Shared // nil without Redis
	invalidTTL time.Duration
}

// NewCache puts a cache of size entries and the given TTL in front of p.
func NewCache(p Looker, size int, ttl, timeout time.Duration) *Cache {
	return NewCacheWith(p, CacheOptions{Size: size, TTL: ttl, Timeout: timeout})
}

// NewCacheWith puts a cache in front of p.
func NewCacheWith(p Looker, o CacheOptions) *Cache {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	c := &Cache{lookup: p.Lookup, o: o, slots: make(chan struct{}, o.MaxInFlight), invalidTTL: min(InvalidTTL, o.TTL)}
	c.shared = lease.New(o.Redis, o.Logger, "Redis unavailable, using the in-process identity cache only", 0)
	onEvict := func([sha256.Size]byte, entry) {
		if c.o.OnEvict != nil {
			c.o.OnEvict()
		}
	}
	// Entries live TTL + StaleIfError; past TTL they are only a fallback.
	c.users = expirable.NewLRU[[sha256.Size]byte, entry](o.Size, onEvict, o.TTL+o.StaleIfError)
	c.invalid = expirable.NewLRU[[sha256.Size]byte, time.Time](max(o.Size/10, 100), nil, c.invalidTTL)
	return c
}

func (c *Cache) observe(result string) {
	if c.o.Observe != nil {
		c.o.Observe(result)
	}
}

// fresh reports whether a cached identity is within its TTL. The LRU's own expiry
// says so, unless it keeps entries past TTL as a stale fallback or the entry came
// from Redis.
func (c *Cache) fresh(e entry) bool {
	if e.user.Ended() {
		return false // the credential itself has ended (a JWT's exp)
	}
	return (c.o.StaleIfError == 0 && !e.shared) || time.Since(e.fetched) < c.o.TTL
}

// Lookup returns the token's user; hit says whether the provider was spared a call.
// A hit allocates nothing: everything else is in miss.
func (c *Cache) Lookup(ctx context.Context, token string) (u *provider.User, hit bool, err error) {
	key := sha256.Sum256([]byte(token))
	cached, found := c.users.Get(key)
	if found && c.fresh(cached) {
		c.observe("hit")
		return cached.user, true, nil
	}
	if at, ok := c.invalid.Get(key); ok && time.Since(at) < c.invalidTTL {
		c.observe("hit")
		return nil, true, provider.ErrInvalidToken
	}
	return c.miss(ctx, key, token, cached, found)
}

// answer is a flight's result: the user, and whether another replica's lookup
// spared this one its provider call.
type answer struct {
	user   *provider.User
	shared bool
}

// miss asks for the token once for all concurrent callers in this process; cached is
// the expired identity, if found, that stale-if-error may still serve.
func (c *Cache) miss(ctx context.Context, key [sha256.Size]byte, token string, cached entry, found bool) (*provider.User, bool, error) {
	ch := c.flight.DoChan(string(key[:]), func() (any, error) {
		return c.fetch(ctx, key, token)
	})
	select {
	case <-ctx.Done():
		return nil, false, &provider.UnavailableError{Err: ctx.Err()}
	case res := <-ch:
		var ue *provider.UnavailableError
		switch {
		case res.Err == nil:
			a := res.Val.(answer)
			if a.shared {
				c.observe("hit")
			} else {
				c.observe("miss")
			}
			return a.user, a.shared, nil
		case errors.Is(res.Err, provider.ErrInvalidToken) && res.Val != nil && res.Val.(answer).shared:
			c.observe("hit")
			return nil, true, res.Err
		case found && c.o.StaleIfError > 0 && time.Since(cached.fetched) < c.o.TTL+c.o.StaleIfError && errors.As(res.Err, &ue) &&
			!cached.user.Ended():
			// The provider is down: within the grace, the last answer stands.
			c.observe("stale")
			return cached.user, true, nil
		}
		c.observe("miss")
		return nil, false, res.Err
	}
}

// fetch is one flight: Redis first when there is one, the provider otherwise.
func (c *Cache) fetch(ctx context.Context, key [sha256.Size]byte, token string) (answer, error) {
	// Another flight may have finished between our miss and now.
	if e, ok := c.users.Get(key); ok && c.fresh(e) {
		return answer{user: e.user}, nil
	}
	// One caller giving up must not fail the others waiting on this call.
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.Timeout)
	defer cancel()
	if c.shared.Up() {
		if a, done, err := c.fetchShared(callCtx, key, token); done {
			return a, err
		}
	}
	u, _, err := c.call(callCtx, key, token)
	return answer{user: u}, err
}

// call asks the provider, within the bound on calls in flight, and keeps the answer
// in memory.
func (c *Cache) call(ctx context.Context, key [sha256.Size]byte, token string) (*provider.User, time.Time, error) {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return nil, time.Time{}, &provider.UnavailableError{Err: errors.New("too many identity lookups in flight")}
	}
	u, err := c.lookup(ctx, token)
	now := time.Now()
	switch {
	case err == nil:
		c.users.Add(key, entry{user: u, fetched: now})
	case errors.Is(err, provider.ErrInvalidToken):
		c.users.Remove(key)
		c.invalid.Add(key, now)
	}
	return u, now, err
}

// sharedEntry is an identity (or a rejection) as Redis keeps it. provider.User's own JSON
// leaves fields out, so this spells every one.
type sharedEntry struct {
	Name    string   `json:"n,omitempty"`
	Groups  []string `json:"g,omitempty"`
	Email   string   `json:"e,omitempty"`
	Admin   bool     `json:"a,omitempty"`
	Scopes  []string `json:"s,omitempty"`
	Kind    string   `json:"k,omitempty"`
	Denied  string   `json:"d,omitempty"`
	Invalid bool     `json:"x,omitempty"`
	Expires int64    `json:"j,omitempty"` // unix ms: the credential's own end, when it has one
	Fetched int64    `json:"t"`           // unix ms of the provider's answer
}

func sharedKeys(key [sha256.Size]byte) (val, lock string) {
	h := hex.EncodeToString(key[:])
	return "hubgate:user:" + h, "hubgate:user-lock:" + h
}

// fetchShared takes the token's answer from Redis, or makes the provider call for
// every replica under a lock in Redis while the others wait for it. done is false
// when Redis failed and the caller is on its own.
func (c *Cache) fetchShared(ctx context.Context, key [sha256.Size]byte, token string) (a answer, done bool, err error) {
	valKey, lockKey := sharedKeys(key)
	val, l, err := c.shared.Claim(ctx, valKey, lockKey)
	switch {
	case errors.Is(err, lease.ErrWaitTimeout):
		return answer{}, true, &provider.UnavailableError{Err: err}
	case err != nil:
		c.shared.Failed(err)
		return answer{}, false, nil
	case l == nil:
		return c.fromShared(key, token, valKey, val)
	}
	u, fetched, err := c.call(ctx, key, token)
	se := sharedEntry{Fetched: fetched.UnixMilli()}
	ttl := time.Duration(0)
	switch {
	case err == nil:
		se.Name, se.Groups, se.Email, se.Admin, se.Scopes, se.Kind, se.Denied = u.Name, u.Groups, u.Email, u.Admin, u.Scopes, u.Kind, u.Denied
		ttl = c.o.TTL - time.Since(fetched)
		if !u.Expires.IsZero() {
			se.Expires = u.Expires.UnixMilli()
			ttl = min(ttl, time.Until(u.Expires))
		}
	case errors.Is(err, provider.ErrInvalidToken):
		se.Invalid = true
		ttl = c.invalidTTL - time.Since(fetched)
	}
	val = ""
	if ttl > 0 { // an unavailable provider stores nothing: the waiters try themselves
		val = sealJSON(c.identityBox(token), valKey, se)
	}
	l.Release(valKey, val, ttl, false)
	return answer{user: u}, true, err
}

// fromShared is another replica's answer, trusted until its own fetch time + TTL
// here too: a revocation takes effect within the TTL on every replica.
func (c *Cache) fromShared(key [sha256.Size]byte, token, valKey, val string) (answer, bool, error) {
	var se sharedEntry
	if err := openJSON(c.identityBox(token), valKey, val, &se); err != nil {
		return answer{}, false, nil // not ours to read (another secret, tampered): ask the provider
	}
	// A replica whose clock runs ahead must not stretch the TTL here.
	fetched := time.UnixMilli(se.Fetched)
	if now := time.Now(); fetched.After(now) {
		fetched = now
	}
	if se.Invalid {
		c.users.Remove(key)
		if time.Since(fetched) < c.invalidTTL {
			c.invalid.Add(key, fetched)
		}
		return answer{shared: true}, true, provider.ErrInvalidToken
	}
	if time.Since(fetched) >= c.o.TTL {
		return answer{}, false, nil // a clock apart, or about to expire: ask again
	}
	u := &provider.User{Name: se.Name, Groups: se.Groups, Email: se.Email, Admin: se.Admin, Scopes: se.Scopes, Kind: se.Kind, Denied: se.Denied}
	if se.Expires != 0 {
		if u.Expires = time.UnixMilli(se.Expires); u.Ended() {
			return answer{}, false, nil
		}
	}
	c.users.Add(key, entry{user: u, fetched: fetched, shared: true})
	return answer{user: u, shared: true}, true, nil
}

// identityBox seals a token's identity in Redis: the key needs the token and the
// secret, so a dump reveals no names or e-mails, and no entry can be forged.
func (c *Cache) identityBox(token string) *seal.Box {
	return seal.Derive([]byte(token), c.o.Secret, "hubgate identity v1")
}

// Forget drops what is known about token, e.g. at sign-out: here, and in Redis for
// the replicas that have not read it yet.
func (c *Cache) Forget(token string) {
	key := sha256.Sum256([]byte(token))
	c.users.Remove(key)
	c.invalid.Remove(key)
	if c.shared.Up() {
		valKey, _ := sharedKeys(key)
		c.shared.Delete(valKey)
	}
}

// Len is the number of cached identities.
func (c *Cache) Len() int { return c.users.Len() }
