package app

import (
	"context"
	"testing"
	"time"

	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/internal/redistest"
	"github.com/hubgate/hubgate/provider"
)

// With redis_sentinel_addrs, hubgate finds the master through a real Sentinel.
func TestNewRedisThroughSentinel(t *testing.T) {
	master := redistest.Start(t)
	sentinel := master.StartSentinel("hubgate-master")
	rdb, err := newRedis(config.Redis{URL: "redis:///0", SentinelAddrs: []string{sentinel}, SentinelMaster: "hubgate-master"})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "through-sentinel", "yes", 0).Err(); err != nil {
		t.Fatalf("SET through the sentinel: %v", err)
	}
	if got, err := master.Client().Get(ctx, "through-sentinel").Result(); err != nil || got != "yes" {
		t.Fatalf("the master holds %q, %v; want the value written through the sentinel", got, err)
	}
}

// rediss:// turns on TLS; the URL's own timeouts win over hubgate's short ones.
func TestNewRedisOptions(t *testing.T) {
	rdb, err := newRedis(config.Redis{URL: "rediss://:pw@127.0.0.1:6380/2"})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	o := rdb.Options()
	if o.TLSConfig == nil || o.DB != 2 || o.Password != "pw" || o.DialTimeout.Seconds() != 1 || o.DialerRetries != 1 {
		t.Errorf("rediss:// options: TLS %v, db %d, dial timeout %v, dialer retries %d", o.TLSConfig != nil, o.DB, o.DialTimeout, o.DialerRetries)
	}
	rdb, err = newRedis(config.Redis{URL: "redis://127.0.0.1:6379/0?dial_timeout=7s"})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if o := rdb.Options(); o.TLSConfig != nil || o.DialTimeout.Seconds() != 7 {
		t.Errorf("redis:// with dial_timeout=7s: TLS %v, dial timeout %v", o.TLSConfig != nil, o.DialTimeout)
	}
	if rdb, _ := newRedis(config.Redis{}); rdb != nil {
		t.Error("a client without redis_url")
	}
}

// TestCacheStoreMemoryIgnoresRedis: cache_store memory with a Redis configured (for
// sessions) keeps identities in the process.
func TestCacheStoreMemoryIgnoresRedis(t *testing.T) {
	rdb := redistest.Start(t).Client()
	p := looker{}
	o := identity.CacheOptions{Size: 10, TTL: time.Minute, Timeout: time.Second, Redis: storeRedis(false, rdb)}
	a, b := identity.NewCacheWith(p, o), identity.NewCacheWith(p, o)
	a.Lookup(context.Background(), "a")
	if _, hit, _ := b.Lookup(context.Background(), "a"); hit {
		t.Error("a memory cache was served another's identity")
	}
	if keys, _ := rdb.Keys(context.Background(), "*").Result(); len(keys) != 0 {
		t.Errorf("a memory cache wrote %v to Redis", keys)
	}
	if storeRedis(true, rdb) != rdb {
		t.Error("cache_store redis: the cache got no Redis")
	}
}

type looker struct{}

func (looker) Lookup(_ context.Context, token string) (*provider.User, error) {
	return &provider.User{Name: token, Kind: "user"}, nil
}
