package provider

import (
	"context"
	"errors"
	"time"

	"golang.org/x/oauth2"
)

// Instrumented times every call to a provider and tells Observe the operation
// (lookup, exchange, refresh, ready) and result (ok, invalid, error).
type Instrumented struct {
	Provider
	Observe func(op, result string, d time.Duration)
}

func (i Instrumented) done(op string, start time.Time, err error) {
	result := "ok"
	switch {
	case errors.Is(err, ErrInvalidToken):
		result = "invalid"
	case err != nil:
		result = "error"
	}
	i.Observe(op, result, time.Since(start))
}

// Lookup implements Provider.
func (i Instrumented) Lookup(ctx context.Context, token string) (*User, error) {
	start := time.Now()
	u, err := i.Provider.Lookup(ctx, token)
	i.done("lookup", start, err)
	return u, err
}

// Exchange implements Provider.
func (i Instrumented) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	start := time.Now()
	tok, err := i.Provider.Exchange(ctx, code, verifier)
	i.done("exchange", start, err)
	return tok, err
}

// Refresh implements Provider.
func (i Instrumented) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	start := time.Now()
	tok, err := i.Provider.Refresh(ctx, refreshToken)
	i.done("refresh", start, err)
	return tok, err
}

// Ready implements Provider.
func (i Instrumented) Ready(ctx context.Context) error {
	start := time.Now()
	err := i.Provider.Ready(ctx)
	i.done("ready", start, err)
	return err
}
