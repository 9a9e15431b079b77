package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/hubgate/hubgate/internal/seal"
	"github.com/hubgate/hubgate/lease"
	"github.com/hubgate/hubgate/provider"
)

// refreshedTTL keeps a refresh's result for requests that still carry the old
// cookie: providers that rotate refresh tokens (DOT) would refuse the old one.
const refreshedTTL = time.Minute

// refusedTTL keeps a refused refresh in Redis long enough for the replicas waiting
// on it to see the refusal instead of each trying again.
const refusedTTL = InvalidTTL

// RefresherOptions configures a Refresher.
type RefresherOptions struct {
	Timeout time.Duration // bounds the provider call
	// Redis, when set, makes a refresh happen once across the replicas sharing it:
	// one holds a lock while the others wait for its result.
	Redis *redis.Client
	// Lease is how long the lock outlives a replica that died while refreshing; a live
	// one renews it every Lease/3. Zero means 5 s.
	Lease time.Duration
	// Logger is told, at most once a minute, that Redis fails and each replica
	// refreshes on its own. Nil logs nothing.
	Logger *zap.Logger
}

// Refresher refreshes each refresh token once, however many requests need it at once.
type Refresher struct {
	p       provider.Provider
	timeout time.Duration
	flight  singleflight.Group
	recent  *expirable.LRU[[sha256.Size]byte, *oauth2.Token]
	shared  *lease.Shared // nil without Redis
}

// NewRefresher returns a Refresher for p, within this process only.
func NewRefresher(p provider.Provider, timeout time.Duration) *Refresher {
	return NewRefresherWith(p, RefresherOptions{Timeout: timeout})
}

// NewRefresherWith returns a Refresher for p.
func NewRefresherWith(p provider.Provider, o RefresherOptions) *Refresher {
	return &Refresher{
		p:       p,
		timeout: o.Timeout,
		recent:  expirable.NewLRU[[sha256.Size]byte, *oauth2.Token](10000, nil, refreshedTTL),
		shared:  lease.New(o.Redis, o.Logger, "Redis unavailable, refreshing sessions without the other replicas", o.Lease),
	}
}

// Refresh returns fresh tokens for refreshToken.
func (r *Refresher) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	key := sha256.Sum256([]byte(refreshToken))
	if tok, ok := r.recent.Get(key); ok {
		return tok, nil
	}
	ch := r.flight.DoChan(string(key[:]), func() (interface{}, error) {
		if tok, ok := r.recent.Get(key); ok {
			return tok, nil
		}
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		if r.shared.Up() {
			if tok, done, err := r.refreshShared(callCtx, key, refreshToken); done {
				return tok, err
			}
		}
		return r.refresh(callCtx, key, refreshToken)
	})
	select {
	case <-ctx.Done():
		return nil, &provider.UnavailableError{Err: ctx.Err()}
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*oauth2.Token), nil
	}
}

// refresh asks the provider and remembers a success.
func (r *Refresher) refresh(ctx context.Context, key [sha256.Size]byte, refreshToken string) (*oauth2.Token, error) {
	tok, err := r.p.Refresh(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	r.recent.Add(key, tok)
	return tok, nil
}

// refreshShared makes the refresh for every replica under a lock in Redis, or waits
// for the replica that holds it and takes its result. done is false when Redis
// failed and the caller is on its own.
func (r *Refresher) refreshShared(ctx context.Context, key [sha256.Size]byte, refreshToken string) (tok *oauth2.Token, done bool, err error) {
	h := hex.EncodeToString(key[:])
	valKey, lockKey := "hubgate:refreshed:"+h, "hubgate:refresh-lock:"+h
	val, l, err := r.shared.Claim(ctx, valKey, lockKey)
	switch {
	case errors.Is(err, lease.ErrWaitTimeout):
		return nil, true, &provider.UnavailableError{Err: err}
	case err != nil:
		r.shared.Failed(err)
		return nil, false, nil
	case l == nil:
		sr, err := openRefreshed(refreshToken, valKey, val)
		if err != nil {
			return nil, false, nil // not ours to read: refresh here
		}
		if sr.Refused {
			return nil, true, fmt.Errorf("%w: another replica's refresh was refused", provider.ErrInvalidToken)
		}
		tok := sr.token()
		r.recent.Add(key, tok)
		return tok, true, nil
	}
	tok, err = r.refresh(ctx, key, refreshToken)
	var sr sharedRefresh
	ttl := time.Duration(0)
	switch {
	case err == nil:
		sr = sharedRefresh{Access: tok.AccessToken, Refresh: tok.RefreshToken, Type: tok.TokenType, Expiry: tok.Expiry}
		ttl = refreshedTTL
	case errors.Is(err, provider.ErrInvalidToken):
		sr, ttl = sharedRefresh{Refused: true}, refusedTTL
	}
	// An unavailable provider stores nothing: the waiters try it themselves. A refusal
	// never replaces a result: it may be DOT refusing a token another replica
	// already rotated, after this one's lease lapsed.
	sealed := ""
	if ttl > 0 {
		sealed = sealRefreshed(refreshToken, valKey, sr)
	}
	if now := l.Release(valKey, sealed, ttl, sr.Refused); sr.Refused && now != "" && now != sealed {
		if other, err := openRefreshed(refreshToken, valKey, now); err == nil && !other.Refused {
			tok = other.token()
			r.recent.Add(key, tok)
			return tok, true, nil
		}
	}
	return tok, true, err
}

// sharedRefresh is a refresh's result as the replicas pass it on.
type sharedRefresh struct {
	Access  string    `json:"a,omitempty"`
	Refresh string    `json:"r,omitempty"`
	Type    string    `json:"t,omitempty"`
	Expiry  time.Time `json:"e,omitzero"`
	Refused bool      `json:"x,omitempty"`
}

func (s sharedRefresh) token() *oauth2.Token {
	return &oauth2.Token{AccessToken: s.Access, RefreshToken: s.Refresh, TokenType: s.Type, Expiry: s.Expiry}
}

// refreshedBox seals under a key derived from the old refresh token: only a
// replica holding that token can read its result, so a Redis dump reveals none.
func refreshedBox(refreshToken string) *seal.Box {
	return seal.Derive([]byte(refreshToken), nil, "hubgate refreshed tokens v1")
}

// sealRefreshed encrypts sr, bound to the Redis key it is stored at.
func sealRefreshed(refreshToken, valKey string, sr sharedRefresh) string {
	return sealJSON(refreshedBox(refreshToken), valKey, sr)
}

func openRefreshed(refreshToken, valKey, sealed string) (sharedRefresh, error) {
	var sr sharedRefresh
	err := openJSON(refreshedBox(refreshToken), valKey, sealed, &sr)
	return sr, err
}

// sealJSON encrypts v's JSON, bound to the Redis key it is stored at (so it cannot
// be moved to another key).
func sealJSON(box *seal.Box, valKey string, v any) string {
	plain, _ := json.Marshal(v)
	return string(box.Seal(plain, []byte(valKey)))
}

func openJSON(box *seal.Box, valKey, sealed string, v any) error {
	plain, err := box.Open([]byte(sealed), []byte(valKey))
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, v)
}
