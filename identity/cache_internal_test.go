package identity

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/provider"
)

type stubProvider struct{}

func (stubProvider) AuthCodeURL(string, string) string { return "" }
func (stubProvider) Exchange(context.Context, string, string) (*oauth2.Token, error) {
	return nil, nil
}
func (stubProvider) Ready(context.Context) error { return nil }
func (stubProvider) Lookup(_ context.Context, token string) (*provider.User, error) {
	if token == "rejected-token" {
		return nil, provider.ErrInvalidToken
	}
	return &provider.User{Name: "alice"}, nil
}

// TestCacheKeysAreHashes checks that the cache holds the token's SHA-256, never the
// token itself.
func TestCacheKeysAreHashes(t *testing.T) {
	c := NewCache(stubProvider{}, 10, time.Minute, time.Second)
	const token = "raw-secret-token-value"
	if _, _, err := c.Lookup(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	c.Lookup(context.Background(), "rejected-token")

	want := sha256.Sum256([]byte(token))
	keys := c.users.Keys()
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("user keys = %x, want [%x]", keys, want)
	}
	bad := sha256.Sum256([]byte("rejected-token"))
	if ik := c.invalid.Keys(); len(ik) != 1 || ik[0] != bad {
		t.Fatalf("invalid keys = %x, want [%x]", ik, bad)
	}
	for _, k := range append(keys, c.invalid.Keys()...) {
		if strings.Contains(string(k[:]), "raw-secret") || strings.Contains(string(k[:]), "rejected") {
			t.Errorf("key %x holds the token", k)
		}
	}
	for _, e := range c.users.Values() {
		if u := e.user; strings.Contains(u.Name+strings.Join(u.Groups, ""), token) {
			t.Errorf("cached user %+v holds the token", u)
		}
	}
}
