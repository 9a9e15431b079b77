package access_test

import (
	"testing"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/provider"
)

func TestAccessScopes(t *testing.T) {
	cases := []struct {
		held, wanted []string
		ok           bool
	}{
		{[]string{"access:services"}, []string{"access:services!service=gate"}, true},
		{[]string{"access:services!service=gate"}, []string{"access:services", "access:services!service=gate"}, true},
		{[]string{"access:services!service=other"}, []string{"access:services!service=gate"}, false},
		{nil, []string{"access:services!service=gate"}, false},
	}
	for _, c := range cases {
		u := &provider.User{Name: "x", Kind: "user", Scopes: c.held}
		if got := (access.Rules{RequiredScopes: c.wanted}).Decide(u, access.Narrowing{}).Allow; got != c.ok {
			t.Errorf("held %v wanted %v: Allow = %v", c.held, c.wanted, got)
		}
	}
}

func TestDecide(t *testing.T) {
	rules := access.Rules{BlockedUsers: []string{"eve"}, AllowedUsers: []string{"bob"}, AllowedGroups: []string{"staff"}, AdminUsers: []string{"root", "eve"}}
	staff := access.Narrowing{Groups: []string{"staff"}}
	for _, c := range []struct {
		name  string
		u     provider.User
		n     access.Narrowing
		allow bool
		admin bool
	}{
		{"allowed user", provider.User{Name: "bob", Kind: "user"}, access.Narrowing{}, true, false},
		{"allowed group", provider.User{Name: "ann", Kind: "user", Groups: []string{"staff"}}, access.Narrowing{}, true, false},
		{"neither", provider.User{Name: "ann", Kind: "user"}, access.Narrowing{}, false, false},
		{"admin_users pass the allowed lists", provider.User{Name: "root", Kind: "user"}, access.Narrowing{}, true, true},
		{"the provider's admin too", provider.User{Name: "ann", Kind: "user", Admin: true}, access.Narrowing{}, true, true},
		{"blocked, admin or not", provider.User{Name: "eve", Kind: "user"}, access.Narrowing{}, false, true},
		{"the provider's own rule", provider.User{Name: "bob", Kind: "user", Denied: "not a member"}, access.Narrowing{}, false, false},
		{"a service's token", provider.User{Name: "bob", Kind: "service"}, access.Narrowing{}, false, false},
		{"narrowed in", provider.User{Name: "ann", Kind: "user", Groups: []string{"staff"}}, staff, true, false},
		{"narrowed out", provider.User{Name: "bob", Kind: "user"}, staff, false, false},
		{"admins are narrowed too", provider.User{Name: "root", Kind: "user"}, staff, false, true},
	} {
		u := c.u
		if d := rules.Decide(&u, c.n); d.Allow != c.allow || d.Admin != c.admin {
			t.Errorf("%s: %+v, want allow %v admin %v", c.name, d, c.allow, c.admin)
		}
	}
}
