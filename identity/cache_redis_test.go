package identity_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/internal/redistest"
	"github.com/hubgate/hubgate/provider"
)

// replicas is n caches ("replicas") sharing one Redis and one provider.
func replicas(t *testing.T, n int, p identity.Looker, rdb *redis.Client, o identity.CacheOptions) []*identity.Cache {
	t.Helper()
	o.Redis = rdb
	if o.Size == 0 {
		o.Size = 100
	}
	if o.TTL == 0 {
		o.TTL = time.Minute
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	cs := make([]*identity.Cache, n)
	for i := range cs {
		cs[i] = identity.NewCacheWith(p, o)
	}
	return cs
}

func userKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return "hubgate:user:" + hex.EncodeToString(h[:])
}

// TestSharedCacheOneCallAcrossReplicas: 3 replicas × 64 concurrent first lookups of
// one token make one provider call, and every caller gets its answer.
func TestSharedCacheOneCallAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	const perReplica = 64
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		time.Sleep(200 * time.Millisecond) // long enough for every caller to arrive
		return &provider.User{Name: "alice", Groups: []string{"staff"}}, nil
	}}
	cs := replicas(t, 3, p, srv.Client(), identity.CacheOptions{})

	var wg sync.WaitGroup
	start := make(chan struct{})
	var failed atomic.Int64
	for _, c := range cs {
		for range perReplica {
			wg.Go(func() {
				<-start
				u, _, err := c.Lookup(context.Background(), "new-token")
				if err != nil || u.Name != "alice" {
					t.Errorf("lookup = %+v, %v", u, err)
					failed.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d provider calls for one token across 3 replicas, want 1", n)
	}
	for i, c := range cs {
		if _, hit, err := c.Lookup(context.Background(), "new-token"); !hit || err != nil {
			t.Errorf("replica %d: hit %v, %v after the shared lookup", i, hit, err)
		}
	}
}

// TestSharedCacheServesOtherReplica: an identity looked up by one replica is another's
// without a provider call, every field intact.
func TestSharedCacheServesOtherReplica(t *testing.T) {
	srv := redistest.Start(t)
	want := &provider.User{Name: "alice", Groups: []string{"staff", "ops"}, Email: "alice@example.org",
		Admin: true, Scopes: []string{"access:services!service=x"}, Kind: "user", Denied: ""}
	p := &fakeProvider{lookup: func(context.Context, string) (*provider.User, error) {
		u := *want
		return &u, nil
	}}
	var results []string
	var mu sync.Mutex
	cs := replicas(t, 2, p, srv.Client(), identity.CacheOptions{
		Observe: func(r string) { mu.Lock(); results = append(results, r); mu.Unlock() }})
	if _, hit, err := cs[0].Lookup(context.Background(), "tok"); hit || err != nil {
		t.Fatalf("A: hit %v, %v", hit, err)
	}
	u, hit, err := cs[1].Lookup(context.Background(), "tok")
	if err != nil || !hit {
		t.Fatalf("B: hit %v, %v; want the identity A looked up", hit, err)
	}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("B got %+v, want %+v", u, want)
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
	if _, hit, _ := cs[1].Lookup(context.Background(), "tok"); !hit {
		t.Error("B's second lookup was not a hit")
	}
	mu.Lock()
	if fmt.Sprint(results) != "[miss hit hit]" {
		t.Errorf("observed %v, want [miss hit hit]", results)
	}
	mu.Unlock()
	// The stored value is keyed by the token's hash and does not hold the token.
	val, err := srv.Client().Get(context.Background(), userKey("tok")).Result()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := srv.Client().Keys(context.Background(), "*").Result()
	for _, k := range append(keys, val) {
		if k == "tok" || len(k) < 20 {
			t.Errorf("Redis holds %q", k)
		}
	}
}

// TestSharedCacheExpiresAtFetchPlusTTL: an identity read from Redis is trusted until
// its first fetch + TTL, not for a TTL of its own on the replica that read it.
func TestSharedCacheExpiresAtFetchPlusTTL(t *testing.T) {
	srv := redistest.Start(t)
	p := users()
	const ttl = time.Second
	cs := replicas(t, 2, p, srv.Client(), identity.CacheOptions{TTL: ttl})
	fetched := time.Now()
	cs[0].Lookup(context.Background(), "a")
	time.Sleep(ttl / 2)
	if _, hit, err := cs[1].Lookup(context.Background(), "a"); !hit || err != nil {
		t.Fatalf("B within the TTL: hit %v, %v", hit, err)
	}
	time.Sleep(time.Until(fetched.Add(ttl + 100*time.Millisecond)))
	if _, hit, err := cs[1].Lookup(context.Background(), "a"); hit || err != nil {
		t.Errorf("B past A's fetch + TTL: hit %v, %v; want a new provider call", hit, err)
	}
	if n := p.calls.Load(); n != 2 {
		t.Errorf("%d provider calls, want 2", n)
	}
	// Redis keeps the entry no longer than the TTL either.
	if ms, _ := srv.Client().PTTL(context.Background(), userKey("a")).Result(); ms > ttl || ms <= 0 {
		t.Errorf("PTTL = %v, want within (0, %v]", ms, ttl)
	}
}

// TestSharedCacheInvalidToken: a rejection is shared too, for the short invalid TTL.
func TestSharedCacheInvalidToken(t *testing.T) {
	srv := redistest.Start(t)
	p := users()
	cs := replicas(t, 3, p, srv.Client(), identity.CacheOptions{})
	if _, hit, err := cs[0].Lookup(context.Background(), "bad"); hit || !errors.Is(err, provider.ErrInvalidToken) {
		t.Fatalf("A: hit %v, %v", hit, err)
	}
	for i, c := range cs[1:] {
		if u, hit, err := c.Lookup(context.Background(), "bad"); u != nil || !hit || !errors.Is(err, provider.ErrInvalidToken) {
			t.Errorf("replica %d: %+v, hit %v, %v; want the shared rejection", i+1, u, hit, err)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
	if ms, _ := srv.Client().PTTL(context.Background(), userKey("bad")).Result(); ms > identity.InvalidTTL || ms <= 0 {
		t.Errorf("rejection PTTL = %v, want within (0, %v]", ms, identity.InvalidTTL)
	}
}

// TestSharedCacheUnavailableNotShared: a provider that cannot answer leaves nothing in
// Redis, and the next lookup asks again.
func TestSharedCacheUnavailableNotShared(t *testing.T) {
	srv := redistest.Start(t)
	p := users()
	cs := replicas(t, 2, p, srv.Client(), identity.CacheOptions{})
	for _, c := range cs {
		var ue *provider.UnavailableError
		if _, _, err := c.Lookup(context.Background(), "down"); !errors.As(err, &ue) {
			t.Fatalf("err = %v, want *UnavailableError", err)
		}
	}
	if n := p.calls.Load(); n != 2 {
		t.Errorf("%d provider calls, want 2", n)
	}
	if keys, _ := srv.Client().Keys(context.Background(), "*").Result(); len(keys) != 0 {
		t.Errorf("Redis holds %v after failed lookups", keys)
	}
}

// TestSharedCacheHolderFails: when the replica making the call gets no answer, one
// waiting on it makes its own instead of waiting out the timeout.
func TestSharedCacheHolderFails(t *testing.T) {
	srv := redistest.Start(t)
	p := &fakeProvider{}
	p.lookup = func(ctx context.Context, token string) (*provider.User, error) {
		time.Sleep(150 * time.Millisecond)
		if p.calls.Load() == 1 {
			return nil, &provider.UnavailableError{Err: errors.New("first call fails")}
		}
		return &provider.User{Name: "alice"}, nil
	}
	cs := replicas(t, 2, p, srv.Client(), identity.CacheOptions{Timeout: 3 * time.Second})
	errs := make([]error, 2)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range cs {
		wg.Go(func() { _, _, errs[i] = c.Lookup(context.Background(), "tok") })
	}
	wg.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("lookups took %v: a waiter sat out the failed holder", d)
	}
	if n := p.calls.Load(); n != 2 {
		t.Errorf("%d provider calls, want 2 (the failed one and the waiter's own)", n)
	}
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("errors %v, want one failure (the holder) and one success (the waiter)", errs)
	}
}

// TestSharedCacheDeadHolder: a lock left by a replica that died ends with its lease,
// and the waiter makes the call.
func TestSharedCacheDeadHolder(t *testing.T) {
	srv := redistest.Start(t)
	p := users()
	cs := replicas(t, 1, p, srv.Client(), identity.CacheOptions{})
	h := sha256.Sum256([]byte("tok"))
	lock := "hubgate:user-lock:" + hex.EncodeToString(h[:])
	if err := srv.Client().Set(context.Background(), lock, "dead-replica", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	u, _, err := cs[0].Lookup(context.Background(), "tok")
	if err != nil || u.Name != "user-tok" {
		t.Fatalf("lookup = %+v, %v", u, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("lookup took %v: it did not wait for the lock", d)
	}
}

// TestSharedCacheWaitBounded: a waiter gives up at the call timeout.
func TestSharedCacheWaitBounded(t *testing.T) {
	srv := redistest.Start(t)
	p := users()
	cs := replicas(t, 1, p, srv.Client(), identity.CacheOptions{Timeout: 200 * time.Millisecond})
	h := sha256.Sum256([]byte("tok"))
	srv.Client().Set(context.Background(), "hubgate:user-lock:"+hex.EncodeToString(h[:]), "busy", time.Minute)
	start := time.Now()
	_, _, err := cs[0].Lookup(context.Background(), "tok")
	var ue *provider.UnavailableError
	if !errors.As(err, &ue) {
		t.Errorf("err = %v, want *UnavailableError", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v with a 200 ms timeout", d)
	}
	if n := p.calls.Load(); n != 0 {
		t.Errorf("%d provider calls while another replica held the lock", n)
	}
}

// TestSharedCacheRedisDown: without Redis the cache is today's in-process one, the
// outage is logged once, and sharing resumes when Redis is back.
func TestSharedCacheRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	core, logs := observer.New(zap.InfoLevel)
	p := users()
	cs := replicas(t, 2, p, srv.Client(), identity.CacheOptions{Logger: zap.New(core)})
	srv.Stop()

	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			tok := fmt.Sprintf("tok-%d", i)
			if u, _, err := cs[0].Lookup(context.Background(), tok); err != nil || u.Name != "user-"+tok {
				t.Errorf("lookup %d with Redis down = %+v, %v", i, u, err)
			}
		})
	}
	wg.Wait()
	if n := p.calls.Load(); n != 32 {
		t.Errorf("%d provider calls, want 32", n)
	}
	if _, hit, err := cs[0].Lookup(context.Background(), "tok-1"); !hit || err != nil {
		t.Errorf("in-process cache with Redis down: hit %v, %v", hit, err)
	}
	if n := logs.FilterMessageSnippet("Redis unavailable").Len(); n != 1 {
		t.Errorf("%d warnings for one burst, want 1: %v", n, logs.All())
	}

	srv.Restart()
	time.Sleep(1100 * time.Millisecond) // Redis is left alone for a second after it failed
	if _, _, err := cs[0].Lookup(context.Background(), "after"); err != nil {
		t.Fatal(err)
	}
	before := p.calls.Load()
	if _, hit, err := cs[1].Lookup(context.Background(), "after"); !hit || err != nil {
		t.Errorf("B after Redis came back: hit %v, %v; want A's identity", hit, err)
	}
	if n := p.calls.Load(); n != before {
		t.Errorf("B made a provider call: sharing did not resume")
	}
	if n := logs.FilterMessage("Redis is available again").Len(); n != 1 {
		t.Errorf("%d recovery messages, want 1", n)
	}
}

// TestSharedCacheStaleIfError keeps working with Redis: a replica's own expired copy
// stands in while the provider is down.
func TestSharedCacheStaleIfError(t *testing.T) {
	srv := redistest.Start(t)
	var down atomic.Bool
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		if down.Load() {
			return nil, &provider.UnavailableError{Err: errors.New("down")}
		}
		return &provider.User{Name: "alice"}, nil
	}}
	for _, grace := range []time.Duration{0, time.Minute} {
		srv.Client().FlushDB(context.Background())
		down.Store(false)
		cs := replicas(t, 1, p, srv.Client(), identity.CacheOptions{TTL: 100 * time.Millisecond, StaleIfError: grace})
		cs[0].Lookup(context.Background(), "tok")
		down.Store(true)
		time.Sleep(150 * time.Millisecond)
		u, _, err := cs[0].Lookup(context.Background(), "tok")
		switch {
		case grace == 0 && err == nil:
			t.Error("no grace: an expired identity was served during an outage")
		case grace > 0 && (err != nil || u.Name != "alice"):
			t.Errorf("grace: %+v, %v; want the stale identity", u, err)
		}
	}
}

// TestSharedCacheForget: sign-out removes the identity from Redis too.
func TestSharedCacheForget(t *testing.T) {
	srv := redistest.Start(t)
	p := users()
	cs := replicas(t, 2, p, srv.Client(), identity.CacheOptions{})
	cs[0].Lookup(context.Background(), "a")
	cs[0].Forget("a")
	if _, hit, _ := cs[1].Lookup(context.Background(), "a"); hit {
		t.Error("B was served a forgotten identity")
	}
	if n := p.calls.Load(); n != 2 {
		t.Errorf("%d provider calls, want 2", n)
	}
}

// TestSharedCacheEntriesAreSealed: what Redis holds about a token opens only with
// that token and the replicas' secret. Write access to Redis gives neither the
// names in it nor a way to plant an identity for a token (say, an admin one for
// the attacker's own token): a planted or foreign entry is ignored and the provider
// asked.
func TestSharedCacheEntriesAreSealed(t *testing.T) {
	srv := redistest.Start(t)
	p := &fakeProvider{lookup: func(ctx context.Context, token string) (*provider.User, error) {
		return &provider.User{Name: "mallory", Email: "mallory@example.org", Kind: "user"}, nil
	}}
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := replicas(t, 1, p, srv.Client(), identity.CacheOptions{Secret: secret})[0]
	if _, _, err := a.Lookup(context.Background(), "tok-mallory"); err != nil {
		t.Fatal(err)
	}
	val, err := srv.Client().Get(context.Background(), userKey("tok-mallory")).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"mallory", "example.org", "user"} {
		if strings.Contains(val, clear) {
			t.Errorf("Redis holds %q in clear: %q", clear, val)
		}
	}

	// Another secret (another deployment sharing the Redis, or a forger): no hit.
	other := replicas(t, 1, p, srv.Client(), identity.CacheOptions{Secret: []byte("another-secret-another-secret-xx")})[0]
	if u, hit, err := other.Lookup(context.Background(), "tok-mallory"); err != nil || hit || u.Name != "mallory" {
		t.Errorf("a replica with another secret: %+v hit=%v %v; want the provider's answer, no hit", u, hit, err)
	}

	// A planted entry in the format of the clear JSON, claiming admin.
	planted := fmt.Sprintf(`{"n":"admin","a":true,"k":"user","t":%d}`, time.Now().UnixMilli())
	srv.Client().Set(context.Background(), userKey("tok-mallory2"), planted, time.Minute)
	b := replicas(t, 1, p, srv.Client(), identity.CacheOptions{Secret: secret})[0]
	calls := p.calls.Load()
	u, hit, err := b.Lookup(context.Background(), "tok-mallory2")
	if err != nil || hit || u.Name != "mallory" || u.Admin || p.calls.Load() != calls+1 {
		t.Errorf("a planted entry: %+v hit=%v %v; want it ignored and the provider asked", u, hit, err)
	}
}
