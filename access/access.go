// Package access decides who may pass once a provider has said who they are.
package access

import (
	"context"
	"slices"

	"github.com/hubgate/hubgate/provider"
)

// Rules say who may pass once authenticated. The provider is asked again when a cached
// lookup expires, so a user taken out of a group loses access within the cache TTL.
type Rules struct {
	BlockedUsers  []string // never pass, admins included
	AllowedUsers  []string
	AllowedGroups []string
	AdminUsers    []string
	// RequiredScopes: the user needs at least one of them, like JupyterHub's HubAuth
	// access_scopes. Empty means no scope is required.
	RequiredScopes []string
}

// Narrowing is one location's own allowed users and groups (the auth request's query):
// it can only narrow what Rules allow, and admins are not exempt.
type Narrowing struct {
	Users, Groups []string
}

// Decision is what Decide answers.
type Decision struct {
	Allow bool
	Admin bool // counts as an admin upstream
}

// Decide is the one place that says whether u may pass: the provider's own rule
// (User.Denied: GitHub organization, Google domain, username form), blocked users,
// required scopes, the allowed users and groups, then n.
func (r Rules) Decide(u *provider.User, n Narrowing) Decision {
	admin := r.IsAdmin(u)
	return Decision{Allow: r.allow(u, admin) && n.allow(u), Admin: admin}
}

// IsAdmin reports whether the user counts as an admin upstream.
func (r Rules) IsAdmin(u *provider.User) bool {
	return u.Admin || slices.Contains(r.AdminUsers, u.Name)
}

func (r Rules) allow(u *provider.User, admin bool) bool {
	if u.Kind != "user" || u.Denied != "" || slices.Contains(r.BlockedUsers, u.Name) {
		return false
	}
	if len(r.RequiredScopes) > 0 && !hasAnyScope(u.Scopes, r.RequiredScopes) {
		return false
	}
	if len(r.AllowedUsers) == 0 && len(r.AllowedGroups) == 0 {
		return true
	}
	return admin || slices.Contains(r.AllowedUsers, u.Name) || inAny(u.Groups, r.AllowedGroups)
}

func (n Narrowing) allow(u *provider.User) bool {
	if len(n.Users) == 0 && len(n.Groups) == 0 {
		return true
	}
	return slices.Contains(n.Users, u.Name) || inAny(u.Groups, n.Groups)
}

func inAny(groups, allowed []string) bool {
	for _, g := range groups {
		if slices.Contains(allowed, g) {
			return true
		}
	}
	return false
}

// Scoped keeps of each user's scopes only those that can satisfy the rules'
// RequiredScopes, before the user is cached. A JupyterHub user holds a dozen scopes
// or more and the cache keeps every user it has seen: the rest would only take memory.
type Scoped struct {
	provider.Provider
	Rules Rules
}

// Lookup implements provider.Provider.
func (s Scoped) Lookup(ctx context.Context, token string) (*provider.User, error) {
	u, err := s.Provider.Lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	u.Scopes = KeepScopes(u.Scopes, s.Rules.RequiredScopes)
	return u, nil
}
