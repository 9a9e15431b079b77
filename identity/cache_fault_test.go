package identity_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/provider"
)

// TestCacheStaleIfError: with a grace, a provider outage serves the last answer past
// its TTL; without one, the outage is an error once the TTL passes.
func TestCacheStaleIfError(t *testing.T) {
	var down atomic.Bool
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		if down.Load() {
			return nil, &provider.UnavailableError{Err: context.DeadlineExceeded}
		}
		return &provider.User{Name: "alice"}, nil
	}}
	for _, grace := range []time.Duration{0, time.Minute} {
		down.Store(false)
		var results []string
		var mu sync.Mutex
		c := identity.NewCacheWith(p, identity.CacheOptions{Size: 10, TTL: 50 * time.Millisecond, Timeout: time.Second, StaleIfError: grace,
			Observe: func(r string) { mu.Lock(); results = append(results, r); mu.Unlock() }})
		if _, _, err := c.Lookup(context.Background(), "tok"); err != nil {
			t.Fatal(err)
		}
		down.Store(true)
		time.Sleep(80 * time.Millisecond)
		u, _, err := c.Lookup(context.Background(), "tok")
		if grace == 0 {
			if err == nil {
				t.Errorf("no grace: an expired identity was served during an outage")
			}
			continue
		}
		if err != nil || u.Name != "alice" {
			t.Errorf("grace %v: %v, %v; want the stale identity", grace, u, err)
		}
		mu.Lock()
		if results[len(results)-1] != "stale" {
			t.Errorf("results %v, want the last to be stale", results)
		}
		mu.Unlock()
		// Once the provider answers again, the identity is fresh again.
		down.Store(false)
		if _, hit, err := c.Lookup(context.Background(), "tok"); err != nil || hit {
			t.Errorf("after the outage: hit %v err %v, want a fresh lookup", hit, err)
		}
	}
}

// TestCacheStaleIfErrorNotForRevokedTokens: a token the provider rejects is never
// served from the stale copy.
func TestCacheStaleIfErrorNotForRevokedTokens(t *testing.T) {
	var revoked atomic.Bool
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		if revoked.Load() {
			return nil, provider.ErrInvalidToken
		}
		return &provider.User{Name: "alice"}, nil
	}}
	c := identity.NewCacheWith(p, identity.CacheOptions{Size: 10, TTL: 30 * time.Millisecond, Timeout: time.Second, StaleIfError: time.Minute})
	c.Lookup(context.Background(), "tok")
	revoked.Store(true)
	time.Sleep(50 * time.Millisecond)
	if _, _, err := c.Lookup(context.Background(), "tok"); err == nil {
		t.Fatal("a revoked token was served from the stale copy")
	}
}

// TestCacheBoundsInFlightCalls: a slow provider never has more than MaxInFlight
// calls at once, and callers beyond that fail within the timeout.
func TestCacheBoundsInFlightCalls(t *testing.T) {
	var now, peak atomic.Int64
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		n := now.Add(1)
		defer now.Add(-1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		select {
		case <-time.After(200 * time.Millisecond):
			return &provider.User{Name: token}, nil
		case <-ctx.Done():
			return nil, &provider.UnavailableError{Err: ctx.Err()}
		}
	}}
	c := identity.NewCacheWith(p, identity.CacheOptions{Size: 100, TTL: time.Minute, Timeout: 300 * time.Millisecond, MaxInFlight: 4})
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, _, err := c.Lookup(context.Background(), string(rune('a'+i))); err != nil {
				failed.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if peak.Load() > 4 {
		t.Errorf("%d provider calls at once, want at most 4", peak.Load())
	}
	if failed.Load() == 0 {
		t.Error("20 distinct tokens, 4 slots of 200 ms and a 300 ms timeout: some lookups must fail")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("lookups took %v: callers must give up within the timeout", d)
	}
}

func TestCacheObservesAndEvicts(t *testing.T) {
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		return &provider.User{Name: token}, nil
	}}
	var results []string
	var evictions atomic.Int64
	c := identity.NewCacheWith(p, identity.CacheOptions{Size: 1, TTL: time.Minute, Timeout: time.Second,
		Observe: func(r string) { results = append(results, r) }, OnEvict: func() { evictions.Add(1) }})
	c.Lookup(context.Background(), "a")
	c.Lookup(context.Background(), "a")
	c.Lookup(context.Background(), "b") // evicts a
	if got := results; len(got) != 3 || got[0] != "miss" || got[1] != "hit" || got[2] != "miss" {
		t.Errorf("observed %v, want [miss hit miss]", got)
	}
	if evictions.Load() != 1 {
		t.Errorf("%d evictions, want 1", evictions.Load())
	}
}
