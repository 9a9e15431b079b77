package provider_test

import (
	"context"
	"errors"
	"testing"

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

func TestRenamed(t *testing.T) {
	tests := []struct {
		name       string
		in         provider.User
		names      provider.Usernames
		wantName   string
		wantDenied bool
	}{
		{name: "no rules", in: provider.User{Name: "Alice@Example.org"}, wantName: "Alice@Example.org"},
		{name: "local part", in: provider.User{Name: "first.last@example.org"}, names: provider.Usernames{LocalPart: true}, wantName: "first.last"},
		{name: "local part of a plain name", in: provider.User{Name: "alice"}, names: provider.Usernames{LocalPart: true}, wantName: "alice"},
		{name: "local part, multi-@", in: provider.User{Name: "a@b@example.org"}, names: provider.Usernames{LocalPart: true}, wantDenied: true},
		{name: "local part, empty", in: provider.User{Name: "@example.org"}, names: provider.Usernames{LocalPart: true}, wantDenied: true},
		{name: "lowercase", in: provider.User{Name: "Alice"}, names: provider.Usernames{Lowercase: true}, wantName: "alice"},
		{name: "local part and lowercase", in: provider.User{Name: "First.Last@Example.ORG"}, names: provider.Usernames{LocalPart: true, Lowercase: true}, wantName: "first.last"},
		{name: "map", in: provider.User{Name: "bob"}, names: provider.Usernames{Map: map[string]string{"bob": "robert"}}, wantName: "robert"},
		{name: "map misses", in: provider.User{Name: "carol"}, names: provider.Usernames{Map: map[string]string{"bob": "robert"}}, wantName: "carol"},
		{name: "map after lowercase", in: provider.User{Name: "Bob"}, names: provider.Usernames{Lowercase: true, Map: map[string]string{"bob": "robert"}}, wantName: "robert"},
		{name: "map keyed by the original case misses", in: provider.User{Name: "Bob"}, names: provider.Usernames{Lowercase: true, Map: map[string]string{"Bob": "robert"}}, wantName: "bob"},
		{name: "map is not applied twice", in: provider.User{Name: "a"}, names: provider.Usernames{Map: map[string]string{"a": "b", "b": "c"}}, wantName: "b"},
		{name: "all three", in: provider.User{Name: "Bob.Smith@Example.org"}, names: provider.Usernames{LocalPart: true, Lowercase: true, Map: map[string]string{"bob.smith": "bsmith"}}, wantName: "bsmith"},
		{name: "provider's denial kept", in: provider.User{Name: "Eve@evil.org", Denied: "not in an allowed domain"}, names: provider.Usernames{LocalPart: true, Lowercase: true}, wantName: "eve", wantDenied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotToken string
			inner := &stubIDP{lookup: func(_ context.Context, token string) (*provider.User, error) {
				gotToken = token
				u := tt.in
				u.Kind = "user"
				u.Groups = []string{"staff"}
				u.Email = "mail@example.org"
				return &u, nil
			}}
			r := provider.Renamed{Provider: inner, Names: tt.names}
			u, err := r.Lookup(context.Background(), "tok")
			if err != nil {
				t.Fatal(err)
			}
			if gotToken != "tok" {
				t.Errorf("inner Lookup got token %q", gotToken)
			}
			if (u.Denied != "") != tt.wantDenied {
				t.Errorf("Denied = %q, want denied=%v (name %q)", u.Denied, tt.wantDenied, u.Name)
			}
			if !tt.wantDenied && u.Name == "" {
				t.Error("an allowed user with an empty name")
			}
			if tt.wantName != "" && u.Name != tt.wantName {
				t.Errorf("Name = %q, want %q", u.Name, tt.wantName)
			}
			if u.Kind != "user" || u.Email != "mail@example.org" || !sameStrings(u.Groups, []string{"staff"}) {
				t.Errorf("other fields changed: %+v", *u)
			}
		})
	}
}

func TestRenamedErrorsPassThrough(t *testing.T) {
	unavailable := &provider.UnavailableError{Err: errors.New("down")}
	for _, want := range []error{provider.ErrInvalidToken, unavailable, context.DeadlineExceeded} {
		t.Run(want.Error(), func(t *testing.T) {
			inner := &stubIDP{lookup: func(context.Context, string) (*provider.User, error) { return nil, want }}
			r := provider.Renamed{Provider: inner, Names: provider.Usernames{LocalPart: true, Lowercase: true, Map: map[string]string{"a": "b"}}}
			u, err := r.Lookup(context.Background(), "tok")
			if u != nil {
				t.Errorf("user %+v with an error", *u)
			}
			if err != want {
				t.Errorf("err = %v (%T), want %v untouched", err, err, want)
			}
		})
	}
}

func TestRenamedDelegates(t *testing.T) {
	r := provider.Renamed{Provider: &stubIDP{}, Names: provider.Usernames{Lowercase: true}}
	if got := r.AuthCodeURL("S", "v"); got != "https://idp.example.org/authorize?state=S" {
		t.Errorf("AuthCodeURL = %q, want the inner provider's", got)
	}
}
