package provider

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// InvalidTTL is how long a rejected token stays rejected without asking again: long
// enough to shield the provider from a client retrying a bad token, short enough that
// a token minted a moment later works.
const InvalidTTL = 10 * time.Second

// Looker is the one thing a Cache needs of a provider.
type Looker interface {
	Lookup(ctx context.Context, token string) (*User, error)
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
}

type entry struct {
	user    *User
	fetched time.Time
}

// Cache answers lookups from memory for TTL. It is keyed by the token's SHA-256, never
// the token itself, and concurrent misses for one token share one provider call.
type Cache struct {
	lookup  func(context.Context, string) (*User, error)
	o       CacheOptions
	users   *expirable.LRU[[sha256.Size]byte, entry]
	invalid *expirable.LRU[[sha256.Size]byte, struct{}]
	flight  singleflight.Group
	slots   chan struct{}
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
	c := &Cache{lookup: p.Lookup, o: o, slots: make(chan struct{}, o.MaxInFlight)}
	onEvict := func([sha256.Size]byte, entry) {
		if c.o.OnEvict != nil {
			c.o.OnEvict()
		}
	}
	// Entries live TTL + StaleIfError; past TTL they are only a fallback.
	c.users = expirable.NewLRU[[sha256.Size]byte, entry](o.Size, onEvict, o.TTL+o.StaleIfError)
	c.invalid = expirable.NewLRU[[sha256.Size]byte, struct{}](max(o.Size/10, 100), nil, min(InvalidTTL, o.TTL))
	return c
}

func (c *Cache) observe(result string) {
	if c.o.Observe != nil {
		c.o.Observe(result)
	}
}

// fresh reports whether a cached identity is within its TTL.
func (c *Cache) fresh(e entry) bool {
	return c.o.StaleIfError == 0 || time.Since(e.fetched) < c.o.TTL
}

// Lookup returns the token's user; hit says whether the provider was spared a call.
func (c *Cache) Lookup(ctx context.Context, token string) (u *User, hit bool, err error) {
	key := sha256.Sum256([]byte(token))
	cached, found := c.users.Get(key)
	if found && c.fresh(cached) {
		c.observe("hit")
		return cached.user, true, nil
	}
	if _, ok := c.invalid.Get(key); ok {
		c.observe("hit")
		return nil, true, ErrInvalidToken
	}
	ch := c.flight.DoChan(string(key[:]), func() (interface{}, error) {
		// Another flight may have finished between our miss and now.
		if e, ok := c.users.Get(key); ok && c.fresh(e) {
			return e.user, nil
		}
		// One caller giving up must not fail the others waiting on this call.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.Timeout)
		defer cancel()
		select {
		case c.slots <- struct{}{}:
			defer func() { <-c.slots }()
		case <-callCtx.Done():
			return nil, &UnavailableError{Err: errors.New("too many identity lookups in flight")}
		}
		u, err := c.lookup(callCtx, token)
		switch {
		case err == nil:
			c.users.Add(key, entry{user: u, fetched: time.Now()})
		case errors.Is(err, ErrInvalidToken):
			c.users.Remove(key)
			c.invalid.Add(key, struct{}{})
		}
		return u, err
	})
	select {
	case <-ctx.Done():
		return nil, false, &UnavailableError{Err: ctx.Err()}
	case res := <-ch:
		var ue *UnavailableError
		switch {
		case res.Err == nil:
			c.observe("miss")
			return res.Val.(*User), false, nil
		case found && errors.As(res.Err, &ue):
			// The provider is down: within the grace, the last answer stands.
			c.observe("stale")
			return cached.user, true, nil
		}
		c.observe("miss")
		return nil, false, res.Err
	}
}

// Forget drops what is known about token, e.g. at sign-out.
func (c *Cache) Forget(token string) {
	key := sha256.Sum256([]byte(token))
	c.users.Remove(key)
	c.invalid.Remove(key)
}

// Len is the number of cached identities.
func (c *Cache) Len() int { return c.users.Len() }
