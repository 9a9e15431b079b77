package access_test

import (
	"context"
	"slices"
	"testing"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/provider"
)

type fixedUser struct {
	provider.Provider
	u provider.User
}

func (f fixedUser) Lookup(context.Context, string) (*provider.User, error) {
	u := f.u
	return &u, nil
}

func TestScopedKeepsOnlyScopesThatCanGrantAccess(t *testing.T) {
	held := []string{"access:services!service=gate", "read:users:name!user=alice", "access:servers!user=alice", "access:services"}
	for _, c := range []struct {
		required, want []string
	}{
		{nil, nil},
		{[]string{"access:services!service=gate"}, []string{"access:services!service=gate", "access:services"}},
		{[]string{"access:services!service=other"}, []string{"access:services"}},
		{[]string{"read:users"}, nil},
		{[]string{"access:servers!user=alice", "read:users:name!user=alice"}, []string{"read:users:name!user=alice", "access:servers!user=alice"}},
	} {
		p := access.Scoped{Provider: fixedUser{u: provider.User{Name: "alice", Scopes: held}}, Rules: access.Rules{RequiredScopes: c.required}}
		u, err := p.Lookup(context.Background(), "t")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(u.Scopes, c.want) {
			t.Errorf("required %v: kept %v, want %v", c.required, u.Scopes, c.want)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		held, wanted string
		want         bool
	}{
		{"access:services", "access:services!service=gate", true},
		{"access:services!service=gate", "access:services!service=gate", true},
		{"access:services!service=gate", "access:services", false},
		{"access:services!service=gatex", "access:services!service=gate", false},
		{"access:servicesx", "access:services!service=gate", false},
	} {
		if got := access.Covers(c.held, c.wanted); got != c.want {
			t.Errorf("Covers(%q, %q) = %v", c.held, c.wanted, got)
		}
	}
}
