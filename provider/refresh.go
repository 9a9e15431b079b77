package provider

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// refreshedTTL keeps a refresh's result for requests that still carry the old
// cookie: providers that rotate refresh tokens (DOT) would refuse the old one.
const refreshedTTL = time.Minute

// Refresher refreshes each refresh token once, however many requests need it at once.
type Refresher struct {
	p       Provider
	timeout time.Duration
	flight  singleflight.Group
	recent  *expirable.LRU[[sha256.Size]byte, *oauth2.Token]
}

// NewRefresher returns a Refresher for p.
func NewRefresher(p Provider, timeout time.Duration) *Refresher {
	return &Refresher{p: p, timeout: timeout, recent: expirable.NewLRU[[sha256.Size]byte, *oauth2.Token](10000, nil, refreshedTTL)}
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
		tok, err := r.p.Refresh(callCtx, refreshToken)
		if err != nil {
			return nil, err
		}
		r.recent.Add(key, tok)
		return tok, nil
	})
	select {
	case <-ctx.Done():
		return nil, &UnavailableError{Err: ctx.Err()}
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*oauth2.Token), nil
	}
}
