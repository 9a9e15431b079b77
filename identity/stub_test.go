package identity_test

import (
	"context"
	"errors"

	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/provider"
)

// stubIDP is a Provider whose Lookup and Refresh are functions.
type stubIDP struct {
	lookup  func(ctx context.Context, token string) (*provider.User, error)
	refresh func(ctx context.Context, refreshToken string) (*oauth2.Token, error)
}

func (s *stubIDP) AuthCodeURL(state, verifier string) string {
	return "https://idp.example.org/authorize?state=" + state
}
func (s *stubIDP) Exchange(context.Context, string, string) (*oauth2.Token, error) {
	return nil, errors.New("not used")
}
func (s *stubIDP) Ready(context.Context) error { return nil }
func (s *stubIDP) Lookup(ctx context.Context, token string) (*provider.User, error) {
	return s.lookup(ctx, token)
}
func (s *stubIDP) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	return s.refresh(ctx, refreshToken)
}
