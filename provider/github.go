package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// GitHubPreset is GitHub's endpoints and fields; with organizations to check, the
// read:org scope their membership needs. GitHub takes the client's credentials in the
// form only.
func GitHubPreset(orgs bool) Preset {
	p := Preset{
		LoginService: "GitHub",
		AuthorizeURL: "https://github.com/login/oauth/authorize",
		TokenURL:     "https://github.com/login/oauth/access_token",
		UserdataURL:  "https://api.github.com/user",
		UsernameKey:  "login",
		EmailKey:     "email",
		ClientAuth:   ClientAuthParams,
	}
	if orgs {
		p.ExtraScopes = []string{"read:org"}
	}
	return p
}

// NewGitHub returns the GitHub provider: user = login; with orgs, only members of one
// of them pass, and the organizations they are in become their groups.
func NewGitHub(o GenericOptions, orgs []string) *Generic {
	o.Header = o.Header.Clone() // the caller's map stays as it was
	if o.Header == nil {
		o.Header = http.Header{}
	}
	o.Header.Set("User-Agent", "hubgate") // GitHub refuses API calls without one
	o.Header.Set("Accept", "application/json")
	g := NewGeneric(o)
	if len(orgs) == 0 {
		return g
	}
	api := strings.TrimSuffix(strings.TrimSuffix(o.UserdataURL, "/"), "/user")
	// A non-member gets a redirect to the public-members check; don't follow it.
	noRedirect := *g.Client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	g.check = func(ctx context.Context, token string, _ map[string]interface{}, u *User) error {
		inAny := false // not len(u.Groups): a groups_key may have filled them already
		for _, org := range orgs {
			member, err := githubMember(ctx, &noRedirect, api, org, u.Name, token, o.Header)
			if err != nil {
				return err
			}
			if member {
				u.Groups = append(u.Groups, org)
				inAny = true
			}
		}
		if !inAny {
			u.Denied = "not a member of an allowed GitHub organization"
		}
		return nil
	}
	return g
}

// githubMember asks GET /orgs/{org}/members/{user} with the user's own token (scope
// read:org): 204 member, 302 or 404 not.
func githubMember(ctx context.Context, client *http.Client, api, org, user, token string, header http.Header) (bool, error) {
	target := api + "/orgs/" + url.PathEscape(org) + "/members/" + url.PathEscape(user)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false, &UnavailableError{Err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false, &UnavailableError{Err: redactURL(err)}
	}
	drain(resp)
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return true, nil
	case rateLimited(resp):
		// Not an answer about the user: caching "not a member" would lock members
		// out for a whole cache_ttl.
		return false, &UnavailableError{Err: fmt.Errorf("GitHub organization check: rate limited (HTTP %d)", resp.StatusCode)}
	}
	switch resp.StatusCode {
	case http.StatusFound, http.StatusNotFound, http.StatusForbidden:
		return false, nil
	case http.StatusUnauthorized:
		return false, ErrInvalidToken
	}
	return false, &UnavailableError{Err: fmt.Errorf("GitHub organization check: HTTP %d", resp.StatusCode)}
}

// rateLimited reports GitHub's rate-limit answers: 403 or 429 with no requests
// left in the window, or with Retry-After (the secondary limits).
func rateLimited(resp *http.Response) bool {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return false
	}
	return resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""
}
