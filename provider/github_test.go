package provider_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/provider"
)

// fakeGitHub serves GitHub's token endpoint and REST API (docs/peers.md, "GitHub and Google") under base,
// "" for api.github.com, "/api/v3" for GitHub Enterprise Server.
type fakeGitHub struct {
	*fakeIDP
	base string
}

func newFakeGitHub(t *testing.T, base, user string) *fakeGitHub {
	g := &fakeGitHub{fakeIDP: newFakeIDP(t), base: base}
	g.handle("/user", reply(200, user))
	return g
}

func (g *fakeGitHub) handle(path string, h http.HandlerFunc) {
	if !strings.HasPrefix(path, "/login/") {
		path = g.base + path
	}
	g.fakeIDP.handle(path, h)
}

func (g *fakeGitHub) requests(path string) []idpRequest { return g.fakeIDP.requests(g.base + path) }

// options are what config's github preset gives, with the URLs pointed here.
func (g *fakeGitHub) options() provider.GenericOptions {
	return provider.GenericOptions{
		AuthorizeURL:        g.srv.URL + "/login/oauth/authorize",
		TokenURL:            g.srv.URL + "/login/oauth/access_token",
		UserdataURL:         g.srv.URL + g.base + "/user",
		UserdataMethod:      http.MethodGet,
		UserdataTokenMethod: "header",
		UsernameKey:         "login",
		EmailKey:            "email",
		ClientAuth:          "params",
		ClientID:            "Iv1.0123456789abcdef",
		ClientSecret:        "github-client-secret",
		RedirectURL:         "http://127.0.0.1:4180/oauth2/callback",
		Scopes:              []string{"read:org"},
		Timeout:             5 * time.Second,
	}
}

const githubAlice = `{"login":"alice","id":1,"node_id":"MDQ6VXNlcjE=","name":"Alice Liddell","email":null,"type":"User"}`

// checkGitHubHeaders: GitHub refuses API calls without a User-Agent, and answers JSON.
func checkGitHubHeaders(t *testing.T, r idpRequest) {
	t.Helper()
	if ua := r.Header.Get("User-Agent"); ua == "" || strings.HasPrefix(ua, "Go-http-client") {
		t.Errorf("%s: User-Agent = %q, want hubgate's own", r.Path, ua)
	}
	if a := r.Header.Get("Accept"); a != "application/json" {
		t.Errorf("%s: Accept = %q, want application/json", r.Path, a)
	}
	if a := r.Header.Get("Authorization"); a != "Bearer "+userToken {
		t.Errorf("%s: Authorization = %q, want the user's token", r.Path, a)
	}
}

func TestGitHubAPIHeaders(t *testing.T) {
	for _, base := range []string{"", "/api/v3"} {
		t.Run("base="+base, func(t *testing.T) {
			g := newFakeGitHub(t, base, githubAlice)
			g.handle("/orgs/hub-org/members/alice", reply(204, ""))
			if _, err := provider.NewGitHub(g.options(), []string{"hub-org"}).Lookup(context.Background(), userToken); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/user", "/orgs/hub-org/members/alice"} {
				reqs := g.requests(path)
				if len(reqs) != 1 {
					t.Fatalf("%d requests to %s%s, want 1", len(reqs), base, path)
				}
				checkGitHubHeaders(t, reqs[0])
				if reqs[0].Method != http.MethodGet {
					t.Errorf("%s: method %s", path, reqs[0].Method)
				}
			}
		})
	}
}

func TestGitHubUser(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantName  string
		wantEmail string
		want      errKind
	}{
		{name: "email null", body: githubAlice, wantName: "alice"},
		{name: "public email", body: `{"login":"Bob-Smith","id":2,"name":null,"email":"bob@example.org"}`, wantName: "Bob-Smith", wantEmail: "bob@example.org"},
		{name: "no login", body: `{"id":3,"email":"x@example.org"}`, want: kindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGitHub(t, "", tt.body)
			u, err := provider.NewGitHub(g.options(), nil).Lookup(context.Background(), userToken)
			checkKind(t, err, tt.want)
			if tt.want != kindOK {
				return
			}
			if u.Name != tt.wantName || u.Email != tt.wantEmail || u.Kind != "user" {
				t.Errorf("user = %+v, want %s <%s>", *u, tt.wantName, tt.wantEmail)
			}
			if u.Denied != "" || len(u.Groups) != 0 || u.Admin {
				t.Errorf("without organizations: Denied %q, Groups %q, Admin %v", u.Denied, u.Groups, u.Admin)
			}
			checkGitHubHeaders(t, g.one(t, "/user"))
			if n := g.count(); n != 1 {
				t.Errorf("%d requests without organizations, want only /user", n)
			}
		})
	}
}

func TestGitHubUserErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    errKind
	}{
		{"bad credentials 401", reply(401, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`), kindInvalid},
		{"500", reply(500, `{}`), kindUnavailable},
		{"503 unicorn", reply(503, `<html>unicorn</html>`), kindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGitHub(t, "", githubAlice)
			g.handle("/user", tt.handler)
			_, err := provider.NewGitHub(g.options(), []string{"hub-org"}).Lookup(context.Background(), userToken)
			checkKind(t, err, tt.want)
			if n := len(g.requests("/orgs/hub-org/members/alice")); n != 0 {
				t.Errorf("membership checked %d times after /user failed", n)
			}
		})
	}
}

func TestGitHubOrganizations(t *testing.T) {
	// GET /orgs/{org}/members/{user}: 204 member; 302 to public_members when the
	// requester is no member (not to be followed: the public check answers 204 for
	// public members of any organization); 404 no member.
	redirect := func(org string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/orgs/"+org+"/public_members/alice", http.StatusFound)
		}
	}
	tests := []struct {
		name       string
		hub, other http.HandlerFunc
		wantGroups []string
		denied     bool
		want       errKind
	}{
		{name: "member of the first", hub: reply(204, ""), other: reply(404, `{"message":"Not Found"}`), wantGroups: []string{"hub-org"}},
		{name: "member of the second", hub: reply(404, `{"message":"Not Found"}`), other: reply(204, ""), wantGroups: []string{"other"}},
		{name: "member of both", hub: reply(204, ""), other: reply(204, ""), wantGroups: []string{"hub-org", "other"}},
		{name: "404 from both", hub: reply(404, `{}`), other: reply(404, `{}`), denied: true},
		{name: "302 not followed", hub: redirect("hub-org"), other: redirect("other"), denied: true},
		{name: "302 and member of other", hub: redirect("hub-org"), other: reply(204, ""), wantGroups: []string{"other"}},
		{name: "403 (app restricted by the organization)", hub: reply(403, `{}`), other: reply(404, `{}`), denied: true},
		{name: "401 from the check", hub: reply(401, `{"message":"Bad credentials"}`), other: reply(204, ""), want: kindInvalid},
		{name: "500 from the check", hub: reply(500, `{}`), other: reply(204, ""), want: kindUnavailable},
		{name: "502 from the second", hub: reply(204, ""), other: reply(502, ``), want: kindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGitHub(t, "", githubAlice)
			g.handle("/orgs/hub-org/members/alice", tt.hub)
			g.handle("/orgs/other/members/alice", tt.other)
			for _, org := range []string{"hub-org", "other"} {
				g.handle("/orgs/"+org+"/public_members/alice", reply(204, ""))
			}
			u, err := provider.NewGitHub(g.options(), []string{"hub-org", "other"}).Lookup(context.Background(), userToken)
			for _, org := range []string{"hub-org", "other"} {
				if n := len(g.requests("/orgs/" + org + "/public_members/alice")); n != 0 {
					t.Errorf("followed the redirect to %s's public_members", org)
				}
			}
			checkKind(t, err, tt.want)
			if tt.want != kindOK {
				if u != nil {
					t.Errorf("user %+v with an error", *u)
				}
				return
			}
			if u.Name != "alice" {
				t.Errorf("Name = %q", u.Name)
			}
			if !sameStrings(u.Groups, tt.wantGroups) {
				t.Errorf("Groups = %q, want %q", u.Groups, tt.wantGroups)
			}
			if (u.Denied != "") != tt.denied {
				t.Errorf("Denied = %q, want denied=%v", u.Denied, tt.denied)
			}
			for _, r := range g.requests("/orgs/hub-org/members/alice") {
				checkGitHubHeaders(t, r)
			}
		})
	}
}

// Groups read from userdata (a groups_key set for GitHub) must not stand in for
// organization membership.
func TestGitHubOrganizationsIgnoreUserdataGroups(t *testing.T) {
	g := newFakeGitHub(t, "", `{"login":"alice","company":"@hub-org","email":null}`)
	g.handle("/orgs/hub-org/members/alice", reply(404, `{}`))
	o := g.options()
	o.GroupsKey = "company"
	u, err := provider.NewGitHub(o, []string{"hub-org"}).Lookup(context.Background(), userToken)
	if err != nil {
		t.Fatal(err)
	}
	if u.Denied == "" {
		t.Errorf("user %+v not denied though a member of no allowed organization", *u)
	}
}

func TestGitHubExchange(t *testing.T) {
	g := newFakeGitHub(t, "", githubAlice)
	g.handle("/login/oauth/access_token", reply(200, `{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","scope":"read:org","token_type":"bearer"}`))
	o := g.options()
	p := provider.NewGitHub(o, []string{"hub-org"})
	tok, err := p.Exchange(context.Background(), "github-code", verifier)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "gho_16C7e42F292c6912E7710c838347Ae178B4a" || tok.RefreshToken != "" || !tok.Expiry.IsZero() {
		t.Errorf("token = %+v, want GitHub's, without refresh or expiry", tok)
	}
	r := g.one(t, "/login/oauth/access_token")
	if a := r.Header.Get("Accept"); a != "application/json" {
		t.Errorf("Accept = %q: GitHub answers form-encoded without application/json", a)
	}
	if r.Form.Get("code_verifier") != verifier || r.Form.Get("code") != "github-code" {
		t.Errorf("token request %q", r.Body)
	}
	checkClientAuth(t, r, o, false)

	authURL := p.AuthCodeURL("st", verifier)
	if !strings.HasPrefix(authURL, o.AuthorizeURL+"?") || !strings.Contains(authURL, "scope=read%3Aorg") {
		t.Errorf("AuthCodeURL = %s, want the authorize URL with scope read:org", authURL)
	}
}

func TestGitHubExchangeErrorWith200(t *testing.T) {
	g := newFakeGitHub(t, "", githubAlice)
	g.handle("/login/oauth/access_token", reply(200, `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}`))
	tok, err := provider.NewGitHub(g.options(), nil).Exchange(context.Background(), "stale-code", verifier)
	if tok != nil {
		t.Errorf("token %+v from an error answer", tok)
	}
	checkKind(t, err, kindInvalid)
}

// A rate-limited membership check says nothing about the user: the provider is
// unavailable (nothing cached), not "not a member".
func TestGitHubOrganizationRateLimit(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"primary": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"message":"API rate limit exceeded for user ID 1."}`))
		},
		"secondary": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"message":"You have exceeded a secondary rate limit."}`))
		},
		"429": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := newFakeGitHub(t, "", githubAlice)
			g.handle("/orgs/hub-org/members/alice", h)
			u, err := provider.NewGitHub(g.options(), []string{"hub-org"}).Lookup(context.Background(), userToken)
			var ue *provider.UnavailableError
			if !errors.As(err, &ue) {
				t.Fatalf("Lookup = %+v, %v; want an UnavailableError", u, err)
			}
		})
	}
	// A plain 403 (no read:org, or SAML enforcement) still denies: fail closed.
	g := newFakeGitHub(t, "", githubAlice)
	g.handle("/orgs/hub-org/members/alice", reply(403, `{"message":"Resource protected by organization SAML enforcement."}`))
	u, err := provider.NewGitHub(g.options(), []string{"hub-org"}).Lookup(context.Background(), userToken)
	if err != nil || u.Denied == "" {
		t.Fatalf("plain 403: Lookup = %+v, %v; want a denied user", u, err)
	}
}
