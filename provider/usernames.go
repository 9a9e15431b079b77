package provider

import (
	"context"
	"strings"
)

// Usernames are the rules that turn a provider's username into the local one, the
// same for every provider.
type Usernames struct {
	LocalPart bool              // first.last@example.org → first.last
	Lowercase bool              // Alice → alice
	Map       map[string]string // applied last
}

// Renamed applies Usernames to a provider's answers, before they are cached.
type Renamed struct {
	Provider
	Names Usernames
}

// Lookup implements Provider.
func (r Renamed) Lookup(ctx context.Context, token string) (*User, error) {
	u, err := r.Provider.Lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	r.Names.apply(u)
	return u, nil
}

func (n Usernames) apply(u *User) {
	if n.LocalPart {
		local, _, ok := strings.Cut(u.Name, "@")
		if ok && (local == "" || strings.Count(u.Name, "@") != 1) {
			u.Denied = "the username is not a valid email address"
			return
		}
		u.Name = local
	}
	if n.Lowercase {
		u.Name = strings.ToLower(u.Name)
	}
	if to, ok := n.Map[u.Name]; ok {
		u.Name = to
	}
}
