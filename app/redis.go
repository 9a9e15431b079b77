package app

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/hubgate/hubgate/config"
)

// redisLogger puts go-redis's own messages into hubgate's log, at debug level.
type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

// newRedis connects to the Redis the stores share, or returns nil when none uses it.
// Timeouts are short unless redis_url sets its own (dial_timeout=, read_timeout=...):
// a Redis that does not answer must turn into a quick 503 or a fallback, not a hang.
func newRedis(r config.Redis) (*redis.Client, error) {
	if r.URL == "" {
		return nil, nil
	}
	o, err := redis.ParseURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("redis_url: %w", err)
	}
	q := map[string]bool{}
	if u, err := url.Parse(r.URL); err == nil {
		for k := range u.Query() {
			q[k] = true
		}
	}
	if !q["dial_timeout"] {
		o.DialTimeout = time.Second
	}
	if !q["read_timeout"] {
		o.ReadTimeout = time.Second
	}
	if !q["write_timeout"] {
		o.WriteTimeout = time.Second
	}
	if !q["max_retries"] {
		o.MaxRetries = 1
	}
	// go-redis otherwise dials 5 times, 100 ms apart, per attempt: a Redis that
	// refuses connections would cost every request ~0.8 s instead of a quick 503.
	o.DialerRetries = 1
	if len(r.SentinelAddrs) == 0 {
		return redis.NewClient(o), nil
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    r.SentinelMaster,
		SentinelAddrs: r.SentinelAddrs,
		Username:      o.Username,
		Password:      o.Password,
		DB:            o.DB,
		TLSConfig:     o.TLSConfig,
		DialTimeout:   o.DialTimeout,
		ReadTimeout:   o.ReadTimeout,
		WriteTimeout:  o.WriteTimeout,
		MaxRetries:    o.MaxRetries,
		DialerRetries: o.DialerRetries,
	}), nil
}

// storeRedis is the Redis a store keeps its state in: the shared client when the
// store's setting says redis, none otherwise (a Redis configured for the other store
// is not this one's).
func storeRedis(useRedis bool, rdb *redis.Client) *redis.Client {
	if !useRedis {
		return nil
	}
	return rdb
}
