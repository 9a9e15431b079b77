package identity_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/internal/redistest"
	"github.com/hubgate/hubgate/provider"
)

// benchLooker answers any token with a user of its own and counts the calls.
type benchLooker struct{ calls atomic.Int64 }

func (l *benchLooker) Lookup(_ context.Context, token string) (*provider.User, error) {
	l.calls.Add(1)
	return &provider.User{Name: "user-" + token, Groups: []string{"staff"}, Kind: "user",
		Scopes: []string{"access:services!service=bench"}}, nil
}

// benchCache is a cache holding n identities, tokens "tok-0" … "tok-<n-1>".
func benchCache(b *testing.B, n int) (*identity.Cache, *benchLooker, []string) {
	b.Helper()
	l := &benchLooker{}
	c := identity.NewCacheWith(l, identity.CacheOptions{
		Size: max(n, 10000), TTL: time.Hour, Timeout: time.Second,
		Observe: func(string) {}, OnEvict: func() {},
	})
	tokens := make([]string, n)
	for i := range tokens {
		// A JupyterHub API token is 32 hex digits.
		tokens[i] = fmt.Sprintf("%08x4f1f8c6b2d9a4e1c8f0b7a6d", i)
		if _, _, err := c.Lookup(context.Background(), tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
	l.calls.Store(0)
	return c, l, tokens
}

// BenchmarkCacheHit is one cached identity looked up again and again.
func BenchmarkCacheHit(b *testing.B) {
	c, l, tokens := benchCache(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, hit, err := c.Lookup(ctx, tokens[0]); !hit || err != nil {
			b.Fatalf("hit %v, err %v", hit, err)
		}
	}
	if n := l.calls.Load(); n != 0 {
		b.Fatalf("%d provider calls on cached lookups", n)
	}
}

// BenchmarkCacheHitParallel is cached lookups of many identities from every core, as
// under load (the LRU takes a lock on every hit).
func BenchmarkCacheHitParallel(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			c, l, tokens := benchCache(b, n)
			ctx := context.Background()
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919))
				for pb.Next() {
					i = (i + 1) % len(tokens)
					if _, hit, err := c.Lookup(ctx, tokens[i]); !hit || err != nil {
						b.Errorf("hit %v, err %v", hit, err)
						return
					}
				}
			})
			if n := l.calls.Load(); n != 0 {
				b.Fatalf("%d provider calls on cached lookups", n)
			}
		})
	}
}

// BenchmarkCacheHitShared is BenchmarkCacheHit on a replica that read the identity
// from Redis: a hit is still the in-process LRU's, plus the age check such an
// identity needs.
func BenchmarkCacheHitShared(b *testing.B) {
	srv := redistest.Start(b)
	l := &benchLooker{}
	o := identity.CacheOptions{
		Size: 10000, TTL: time.Hour, Timeout: time.Second,
		Observe: func(string) {}, OnEvict: func() {}, Redis: srv.Client(),
	}
	other, c := identity.NewCacheWith(l, o), identity.NewCacheWith(l, o)
	ctx := context.Background()
	const token = "000000004f1f8c6b2d9a4e1c8f0b7a6d"
	for _, c := range []*identity.Cache{other, c} {
		if _, _, err := c.Lookup(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, hit, err := c.Lookup(ctx, token); !hit || err != nil {
			b.Fatalf("hit %v, err %v", hit, err)
		}
	}
	if n := l.calls.Load(); n != 1 {
		b.Fatalf("%d provider calls, want 1", n)
	}
}
