package identity_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/provider"
)

// fakeProvider answers Lookup from a function and counts the calls.
type fakeProvider struct {
	calls  atomic.Int64
	lookup func(ctx context.Context, token string) (*provider.User, error)
}

func (f *fakeProvider) AuthCodeURL(state, verifier string) string { return "" }
func (f *fakeProvider) Exchange(context.Context, string, string) (*oauth2.Token, error) {
	return nil, errors.New("not used")
}
func (f *fakeProvider) Ready(context.Context) error { return nil }
func (f *fakeProvider) Lookup(ctx context.Context, token string) (*provider.User, error) {
	f.calls.Add(1)
	return f.lookup(ctx, token)
}

// users answers every token with a user named after it; "bad" tokens are invalid and
// "down" ones unavailable.
func users() *fakeProvider {
	return &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		switch token {
		case "bad":
			return nil, provider.ErrInvalidToken
		case "down":
			return nil, &provider.UnavailableError{Err: errors.New("hub down")}
		}
		return &provider.User{Name: "user-" + token, Kind: "user"}, nil
	}}
}

func lookup(t *testing.T, c *identity.Cache, token string) (*provider.User, bool, error) {
	t.Helper()
	return c.Lookup(context.Background(), token)
}

func TestCacheSingleFlight(t *testing.T) {
	const n = 64
	var started sync.WaitGroup
	started.Add(n)
	allStarted := make(chan struct{})
	go func() { started.Wait(); close(allStarted) }()
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		// Hold the call until every caller is at the cache, then a little longer so
		// that they are all waiting on it.
		select {
		case <-allStarted:
		case <-time.After(5 * time.Second):
			return nil, &provider.UnavailableError{Err: errors.New("not all callers started")}
		}
		time.Sleep(100 * time.Millisecond)
		return &provider.User{Name: "alice"}, nil
	}}
	c := identity.NewCache(p, 100, time.Minute, 10*time.Second)

	var wg sync.WaitGroup
	results := make([]*provider.User, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			results[i], _, errs[i] = c.Lookup(context.Background(), "new-token")
		}()
	}
	wg.Wait()
	if got := p.calls.Load(); got != 1 {
		t.Errorf("%d provider calls for one token, want 1", got)
	}
	for i := range results {
		if errs[i] != nil || results[i] == nil || results[i].Name != "alice" {
			t.Fatalf("caller %d: %+v, %v", i, results[i], errs[i])
		}
	}

	u, hit, err := lookup(t, c, "new-token")
	if err != nil || !hit || u.Name != "alice" {
		t.Errorf("second lookup = %+v, hit %v, %v; want a hit", u, hit, err)
	}
	if got := p.calls.Load(); got != 1 {
		t.Errorf("hit made a provider call (%d)", got)
	}
}

func TestCacheHitAndMiss(t *testing.T) {
	p := users()
	c := identity.NewCache(p, 100, time.Minute, time.Second)
	u, hit, err := lookup(t, c, "a")
	if err != nil || hit || u.Name != "user-a" {
		t.Fatalf("first = %+v, %v, %v", u, hit, err)
	}
	u, hit, err = lookup(t, c, "a")
	if err != nil || !hit || u.Name != "user-a" {
		t.Fatalf("second = %+v, %v, %v", u, hit, err)
	}
	// Another token is another entry.
	u, hit, err = lookup(t, c, "b")
	if err != nil || hit || u.Name != "user-b" {
		t.Fatalf("other token = %+v, %v, %v", u, hit, err)
	}
	if got := p.calls.Load(); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
}

func TestCacheTTL(t *testing.T) {
	p := users()
	c := identity.NewCache(p, 100, 100*time.Millisecond, time.Second)
	lookup(t, c, "a")
	if _, hit, _ := lookup(t, c, "a"); !hit {
		t.Fatal("no hit right after the lookup")
	}
	time.Sleep(300 * time.Millisecond)
	u, hit, err := lookup(t, c, "a")
	if err != nil || hit || u.Name != "user-a" {
		t.Errorf("after TTL = %+v, %v, %v; want a fresh call", u, hit, err)
	}
	if got := p.calls.Load(); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
}

func TestCacheInvalidToken(t *testing.T) {
	p := users()
	c := identity.NewCache(p, 100, 100*time.Millisecond, time.Second)
	for i, wantHit := range []bool{false, true} {
		u, hit, err := lookup(t, c, "bad")
		if !errors.Is(err, provider.ErrInvalidToken) || u != nil || hit != wantHit {
			t.Fatalf("lookup %d = %+v, hit %v, %v", i, u, hit, err)
		}
	}
	if got := p.calls.Load(); got != 1 {
		t.Errorf("%d calls, want the invalid answer cached", got)
	}
	if c.Len() != 0 {
		t.Errorf("Len = %d: an invalid token counted as an identity", c.Len())
	}
	time.Sleep(300 * time.Millisecond) // the invalid TTL is min(InvalidTTL, ttl)
	if _, hit, err := lookup(t, c, "bad"); hit || !errors.Is(err, provider.ErrInvalidToken) {
		t.Errorf("after TTL: hit %v, %v; want a new call", hit, err)
	}
	if got := p.calls.Load(); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
}

func TestCacheInvalidTokenLongTTL(t *testing.T) {
	// With a long TTL a rejected token is still cached (for InvalidTTL, too long to
	// wait for here), and it does not affect another token's answer.
	p := users()
	c := identity.NewCache(p, 100, time.Hour, time.Second)
	lookup(t, c, "bad")
	lookup(t, c, "bad")
	lookup(t, c, "good")
	if got := p.calls.Load(); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
	if identity.InvalidTTL > time.Minute || identity.InvalidTTL <= 0 {
		t.Errorf("InvalidTTL = %v", identity.InvalidTTL)
	}
}

func TestCacheUnavailableNotCached(t *testing.T) {
	p := users()
	c := identity.NewCache(p, 100, time.Minute, time.Second)
	for i := 0; i < 2; i++ {
		u, hit, err := lookup(t, c, "down")
		var ue *provider.UnavailableError
		if !errors.As(err, &ue) || hit || u != nil {
			t.Fatalf("lookup %d = %+v, %v, %v", i, u, hit, err)
		}
	}
	if got := p.calls.Load(); got != 2 {
		t.Errorf("%d calls, want 2 (unavailable must not be cached)", got)
	}
}

func TestCacheRecoversAfterOutage(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		if down.Load() {
			return nil, &provider.UnavailableError{Err: errors.New("down")}
		}
		return &provider.User{Name: "alice"}, nil
	}}
	c := identity.NewCache(p, 100, time.Minute, time.Second)
	if _, _, err := lookup(t, c, "tok"); err == nil {
		t.Fatal("no error while down")
	}
	down.Store(false)
	if u, _, err := lookup(t, c, "tok"); err != nil || u.Name != "alice" {
		t.Fatalf("after outage = %+v, %v", u, err)
	}
}

func TestCacheForget(t *testing.T) {
	p := users()
	c := identity.NewCache(p, 100, time.Minute, time.Second)
	lookup(t, c, "a")
	lookup(t, c, "b")
	lookup(t, c, "bad")
	c.Forget("a")
	c.Forget("bad")
	c.Forget("never-seen")
	if _, hit, _ := lookup(t, c, "a"); hit {
		t.Error("forgotten token still a hit")
	}
	if _, hit, _ := lookup(t, c, "bad"); hit {
		t.Error("forgotten invalid token still a hit")
	}
	if _, hit, _ := lookup(t, c, "b"); !hit {
		t.Error("Forget dropped another token")
	}
	if got := p.calls.Load(); got != 5 {
		t.Errorf("%d calls, want 5", got)
	}
}

func TestCacheCancelledCallerDoesNotFailOthers(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		close(entered)
		select {
		case <-release:
			return &provider.User{Name: "alice"}, nil
		case <-ctx.Done():
			return nil, &provider.UnavailableError{Err: ctx.Err()}
		}
	}}
	c := identity.NewCache(p, 100, time.Minute, 10*time.Second)

	ctxA, cancelA := context.WithCancel(context.Background())
	type result struct {
		u   *provider.User
		err error
	}
	resA, resB := make(chan result, 1), make(chan result, 1)
	go func() {
		u, _, err := c.Lookup(ctxA, "tok")
		resA <- result{u, err}
	}()
	<-entered
	go func() {
		u, _, err := c.Lookup(context.Background(), "tok")
		resB <- result{u, err}
	}()
	time.Sleep(100 * time.Millisecond) // let B join the flight
	cancelA()
	// A gives up at once, without waiting for the shared call.
	select {
	case r := <-resA:
		if r.err == nil {
			t.Fatal("A's cancelled lookup succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("A kept waiting after its context was cancelled")
	}
	time.Sleep(100 * time.Millisecond) // a call tied to A's context would end now
	close(release)

	select {
	case r := <-resB:
		if r.err != nil || r.u == nil || r.u.Name != "alice" {
			t.Fatalf("B = %+v, %v; A's cancellation failed B", r.u, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B never returned")
	}
	if got := p.calls.Load(); got != 1 {
		t.Errorf("%d calls, want 1", got)
	}
}

func TestCacheCallTimeout(t *testing.T) {
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		<-ctx.Done()
		return nil, &provider.UnavailableError{Err: ctx.Err()}
	}}
	c := identity.NewCache(p, 100, time.Minute, 100*time.Millisecond)
	start := time.Now()
	_, _, err := lookup(t, c, "tok")
	var ue *provider.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("shared call not bounded by the timeout: %v", elapsed)
	}
}

func TestCacheSizeBound(t *testing.T) {
	p := users()
	c := identity.NewCache(p, 2, time.Minute, time.Second)
	for _, tok := range []string{"a", "b", "c"} {
		lookup(t, c, tok)
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	// "a" was least recently used: evicted; "c" is still there.
	if _, hit, _ := lookup(t, c, "c"); !hit {
		t.Error("newest entry evicted")
	}
	if _, hit, _ := lookup(t, c, "a"); hit {
		t.Error("oldest entry kept beyond the size")
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d after refill, want 2", c.Len())
	}
}

func TestCacheSimilarTokensDistinct(t *testing.T) {
	// Keys are hashes of the whole token: tokens sharing a prefix, or differing only
	// in case, are different entries.
	p := users()
	c := identity.NewCache(p, 100, time.Minute, time.Second)
	for _, tok := range []string{"abc", "abcd", "ABC", "abc "} {
		u, hit, err := lookup(t, c, tok)
		if err != nil || hit || u.Name != "user-"+tok {
			t.Errorf("%q = %+v, hit %v, %v", tok, u, hit, err)
		}
	}
}

func TestCacheDropsUserPastItsExpires(t *testing.T) {
	// A JWT's exp ends the credential: the cache must not keep vouching for it until
	// its own (much longer) TTL passes.
	expires := time.Now().Add(150 * time.Millisecond)
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		return &provider.User{Name: "alice", Kind: "user", Expires: expires}, nil
	}}
	c := identity.NewCache(p, 100, time.Hour, time.Second)
	if u, hit, err := lookup(t, c, "jwt"); err != nil || hit || u.Name != "alice" {
		t.Fatalf("first = %+v, hit %v, %v", u, hit, err)
	}
	if _, hit, err := lookup(t, c, "jwt"); err != nil || !hit {
		t.Fatalf("before Expires: hit %v, %v; want a hit", hit, err)
	}
	time.Sleep(time.Until(expires) + 50*time.Millisecond)
	if _, hit, err := lookup(t, c, "jwt"); err != nil || hit {
		t.Errorf("past Expires: hit %v, %v; want the provider asked again", hit, err)
	}
	if got := p.calls.Load(); got != 2 {
		t.Errorf("%d provider calls, want 2 (one before, one after Expires)", got)
	}
}
