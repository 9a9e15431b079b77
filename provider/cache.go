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

// Cache answers lookups from memory for TTL. It is keyed by the token's SHA-256, never
// the token itself, and concurrent misses for one token share one provider call.
type Cache struct {
	lookup  func(context.Context, string) (*User, error)
	timeout time.Duration
	users   *expirable.LRU[[sha256.Size]byte, *User]
	invalid *expirable.LRU[[sha256.Size]byte, struct{}]
	flight  singleflight.Group
}

// Looker is the one thing a Cache needs of a provider.
type Looker interface {
	Lookup(ctx context.Context, token string) (*User, error)
}

// NewCache puts a cache of size entries and the given TTL in front of p. timeout bounds
// the shared provider call, which outlives any single caller's cancellation.
func NewCache(p Looker, size int, ttl, timeout time.Duration) *Cache {
	invalidTTL := min(InvalidTTL, ttl)
	return &Cache{
		lookup:  p.Lookup,
		timeout: timeout,
		users:   expirable.NewLRU[[sha256.Size]byte, *User](size, nil, ttl),
		invalid: expirable.NewLRU[[sha256.Size]byte, struct{}](max(size/10, 100), nil, invalidTTL),
	}
}

// Lookup returns the token's user; hit says whether the provider was spared a call.
func (c *Cache) Lookup(ctx context.Context, token string) (u *User, hit bool, err error) {
	key := sha256.Sum256([]byte(token))
	if u, ok := c.users.Get(key); ok {
		return u, true, nil
	}
	if _, ok := c.invalid.Get(key); ok {
		return nil, true, ErrInvalidToken
	}
	ch := c.flight.DoChan(string(key[:]), func() (interface{}, error) {
		// Another flight may have finished between our miss and now.
		if u, ok := c.users.Get(key); ok {
			return u, nil
		}
		// One caller giving up must not fail the others waiting on this call.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		u, err := c.lookup(callCtx, token)
		switch {
		case err == nil:
			c.users.Add(key, u)
		case errors.Is(err, ErrInvalidToken):
			c.invalid.Add(key, struct{}{})
		}
		return u, err
	})
	select {
	case <-ctx.Done():
		return nil, false, &UnavailableError{Err: ctx.Err()}
	case res := <-ch:
		if res.Err != nil {
			return nil, false, res.Err
		}
		return res.Val.(*User), false, nil
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
