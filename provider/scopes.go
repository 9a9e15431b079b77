package provider

import (
	"context"
	"strings"
)

// Scoped keeps of each user's scopes only those that can satisfy Required, before
// the user is cached. A JupyterHub user holds a dozen scopes or more and the cache
// keeps every user it has seen: the rest would only take memory.
type Scoped struct {
	Provider
	Required []string
}

// Lookup implements Provider.
func (s Scoped) Lookup(ctx context.Context, token string) (*User, error) {
	u, err := s.Provider.Lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	u.Scopes = KeepScopes(u.Scopes, s.Required)
	return u, nil
}

// KeepScopes returns the scopes of held that cover one of wanted, nil if none does.
func KeepScopes(held, wanted []string) []string {
	var kept []string
	for _, h := range held {
		for _, w := range wanted {
			if Covers(h, w) {
				kept = append(kept, h)
				break
			}
		}
	}
	return kept
}

// Covers reports whether holding scope held grants wanted. A scope without a filter
// covers its filtered forms: access:services covers access:services!service=NAME.
func Covers(held, wanted string) bool {
	base, _, _ := strings.Cut(wanted, "!")
	return held == wanted || held == base
}
