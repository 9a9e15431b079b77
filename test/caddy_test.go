//go:build integration

package integration

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCaddyOAuth2ProxyDocs runs oauth2-proxy's documented Caddy forward_auth block
// (test/testdata/oauth2-proxy-Caddyfile: addresses changed, copy_headers turned on)
// in front of hubgate with its defaults and the real Hub. Caddy sends every 401 to
// /oauth2/sign_in?rd={scheme}://{host}{uri}, rd unescaped and without the port, so
// Caddy serves on port 80 of its own loopback address, as a site would.
func TestCaddyOAuth2ProxyDocs(t *testing.T) {
	RequireHub(t, fullSuite)
	t.Parallel()
	requireCaddy(t)
	up := StartUpstream(t)
	caddyAddr, gateAddr := defaultPortAddr(t), freeAddr(t)
	site := "http://" + strings.TrimSuffix(caddyAddr, ":80")
	callback := site + "/oauth2/callback"
	hub := StartHub(t, HubConfig{Services: []HubService{{Name: "caddy-gate", OAuthRedirectURI: callback, OAuthNoConfirm: true}}})
	svc := hub.Service(t, "caddy-gate")
	StartHubgate(t, gateAddr, jupyterhubEnv(hub, svc, up, gateAddr, map[string]string{"HUBGATE_REDIRECT_URL": callback}))
	caddy := StartCaddy(t, caddyAddr, CaddySite{Site: site, Hubgate: gateAddr, App: mustParseURL(t, up.URL).Host,
		Caddyfile: filepath.Join("testdata", "oauth2-proxy-Caddyfile")})
	const page = "/report?x=1&y=a%26b+c"
	alice := NewBrowser(t, "alice")
	aliceToken := hub.CreateToken(t, "alice")

	t.Run("login through the Hub returns to the page and query", func(t *testing.T) {
		p := alice.Open(caddy.URL + page)
		if p.StatusCode != http.StatusOK || !p.LoggedIn {
			t.Fatalf("want 200 after a Hub login\n%s", p)
		}
		if got := p.URL.String(); got != caddy.URL+page {
			t.Errorf("after login the browser is at %s, want %s", got, caddy.URL+page)
		}
		checkHop(t, p, "GET "+caddy.URL+page, "302", "/oauth2/sign_in?rd=")
		e := decodeEcho(t, p.Body, "after login")
		if e.Path+"?"+e.RawQuery != page {
			t.Errorf("the app saw %s?%s, want %s", e.Path, e.RawQuery, page)
		}
		checkCaddyUser(t, e, "alice")
		again := alice.Open(caddy.URL + "/again")
		if again.StatusCode != http.StatusOK || again.LoggedIn || len(again.Trail) != 1 {
			t.Fatalf("a second visit should be served from the session\n%s", again)
		}
		checkCaddyUser(t, decodeEcho(t, again.Body, "second visit"), "alice")
	})

	t.Run("forged identity headers are replaced", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, caddy.URL+"/forged", nil)
		req.Header.Set("X-Auth-Request-User", "admin")
		req.Header.Set("X-Forwarded-User", "admin")
		req.Header.Set("X-Auth-Request-Email", "admin@example.org")
		p := alice.Do(req)
		if p.StatusCode != http.StatusOK {
			t.Fatalf("status %d\n%s", p.StatusCode, p)
		}
		e := decodeEcho(t, p.Body, "forged")
		checkCaddyUser(t, e, "alice")
		// hubgate names every identity header in its 202, empty when unknown (the
		// Hub has no e-mail addresses): Caddy before 2.10 keeps a client's copy of a
		// header the answer lacks, or sets its own unexpanded placeholder.
		if got := e.HeaderValues("X-Auth-Request-Email"); !slices.Equal(got, []string{""}) {
			t.Errorf("the app got X-Auth-Request-Email %q, want it empty", got)
		}
	})

	t.Run("API clients pass with a Hub token, without a redirect", func(t *testing.T) {
		for _, scheme := range []string{"token", "Bearer"} {
			resp, body := get(t, caddy.URL+"/api/data?q=1", scheme+" "+aliceToken.Token)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("Authorization: %s <alice's token>: status %d, want 200; body %s", scheme, resp.StatusCode, body)
			}
			e := decodeEcho(t, body, scheme)
			if e.Path != "/api/data" || e.RawQuery != "q=1" {
				t.Errorf("the app saw %s?%s, want /api/data?q=1", e.Path, e.RawQuery)
			}
			checkCaddyUser(t, e, "alice")
		}
	})

	t.Run("a bad token gets 401 invalid_token, never the Hub's login", func(t *testing.T) {
		// Caddy's block turns hubgate's 401 into a redirect to sign_in; there
		// hubgate answers an API client 401 again.
		resp, _ := get(t, caddy.URL+"/api/data", "Bearer not-a-real-token-0123456789")
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/oauth2/sign_in?rd=") {
			t.Fatalf("status %d Location %q, want Caddy's 302 to /oauth2/sign_in", resp.StatusCode, loc)
		}
		req, _ := http.NewRequest(http.MethodGet, caddy.URL+resp.Header.Get("Location"), nil)
		req.Header.Set("Authorization", "Bearer not-a-real-token-0123456789")
		resp, body := readAll(t, noRedirects, req)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("sign_in for an API client: status %d, Location %q, WWW-Authenticate %q, want 401 invalid_token; body %s",
				resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("WWW-Authenticate"), body)
		}
		var answer map[string]any
		if err := json.Unmarshal(body, &answer); err != nil || answer["status"] != nil {
			t.Errorf("sign_in's JSON %s: want a message and no status (%v)", body, err)
		}
	})

	t.Run("sign-out ends the session", func(t *testing.T) {
		p := alice.Open(caddy.URL + "/oauth2/sign_out")
		if p.StatusCode >= 400 {
			t.Fatalf("sign out failed\n%s", p)
		}
		// The Hub's own session still stands, so the browser comes back logged
		// in; the way went through a new login.
		p = alice.Open(caddy.URL + "/after")
		checkHop(t, p, "GET "+caddy.URL+"/after", "302", "/oauth2/sign_in?rd=")
		if p.StatusCode != http.StatusOK || p.URL.String() != caddy.URL+"/after" {
			t.Errorf("after a new login the browser should be back at /after\n%s", p)
		}
	})
}

// checkCaddyUser wants exactly one X-Auth-Request-User, user, at the app: Caddy's
// copy_headers set it from hubgate's 202.
func checkCaddyUser(t testing.TB, e EchoedRequest, user string) {
	t.Helper()
	if got := e.HeaderValues("X-Auth-Request-User"); !slices.Equal(got, []string{user}) {
		t.Errorf("the app got X-Auth-Request-User %q, want %q", got, user)
	}
}

// TestCaddyExample runs examples/caddy/Caddyfile as shipped (its {$SITE}, {$HUBGATE}
// and {$APP} placeholders filled in) in front of hubgate's forward mode and the real
// Hub: a browser is sent to the Hub's login and back, a route narrowed to a group
// refuses others, API clients get 401, and client-sent identity headers never reach
// the app.
func TestCaddyExample(t *testing.T) {
	RequireHub(t, fullSuite)
	t.Parallel()
	requireCaddy(t)
	up := StartUpstream(t)
	caddyAddr, gateAddr := freeAddr(t), freeAddr(t)
	site := "http://" + caddyAddr
	callback := site + "/oauth2/callback"
	hub := StartHub(t, HubConfig{Services: []HubService{{Name: "caddy-example", OAuthRedirectURI: callback, OAuthNoConfirm: true}}})
	svc := hub.Service(t, "caddy-example")
	StartHubgate(t, gateAddr, jupyterhubEnv(hub, svc, up, gateAddr, map[string]string{"HUBGATE_REDIRECT_URL": callback}))
	caddy := StartCaddy(t, caddyAddr, CaddySite{Site: site, Hubgate: gateAddr, App: mustParseURL(t, up.URL).Host})
	aliceID := nginxIdentity{User: "alice", Groups: []string{"staff"}}
	alice, bob := NewBrowser(t, "alice"), NewBrowser(t, "bob")

	t.Run("login through the Hub returns to the page", func(t *testing.T) {
		const page = "/report?x=1&y=a%26b+c"
		p := alice.Open(caddy.URL + page)
		if p.StatusCode != http.StatusOK || !p.LoggedIn || p.URL.String() != caddy.URL+page {
			t.Fatalf("want 200 at %s after a Hub login\n%s", caddy.URL+page, p)
		}
		e := decodeEcho(t, p.Body, "after login")
		if e.Path+"?"+e.RawQuery != page {
			t.Errorf("the app saw %s?%s, want %s", e.Path, e.RawQuery, page)
		}
		checkCaddyIdentity(t, e, aliceID)
	})

	t.Run("client-sent identity headers never reach the app", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, caddy.URL+"/forged", nil)
		for _, name := range []string{"X-Forwarded-User", "X-Forwarded-Groups", "X-Forwarded-Email", "X-Forwarded-Admin",
			"X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Access-Token"} {
			req.Header.Set(name, "forged")
		}
		// Spellings that WSGI and CGI servers read as the same header.
		for _, name := range []string{"X_Forwarded_User", "x_forwarded_user", "X-Forwarded_User", "X_Forwarded-Groups",
			"X_Auth_Request_User", "X-Forwarded-Preferred_Username", "X-Auth-Request-Access_Token", "x-forwarded_email"} {
			req.Header[name] = []string{"forged"}
		}
		p := alice.Do(req)
		checkCaddyIdentity(t, decodeEcho(t, p.Body, "forged"), aliceID)
	})

	t.Run("a route narrowed to staff refuses others", func(t *testing.T) {
		if p := alice.Open(caddy.URL + "/staff/x"); p.StatusCode != http.StatusOK {
			t.Errorf("alice (staff) at /staff/x: %d\n%s", p.StatusCode, p)
		}
		if p := bob.Open(caddy.URL + "/staff/x"); p.StatusCode != http.StatusForbidden || !p.LoggedIn {
			t.Errorf("bob (not staff) at /staff/x: %d, want 403 after his login\n%s", p.StatusCode, p)
		}
	})

	t.Run("API clients: 401 without a redirect, 200 with a Hub token", func(t *testing.T) {
		resp, body := get(t, caddy.URL+"/api/data", "")
		checkAPI401(t, "no credentials", resp, body)
		resp, body = get(t, caddy.URL+"/api/data", "Bearer not-a-real-token-0123456789")
		checkAPI401(t, "a bad token", resp, body)
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("a bad token: WWW-Authenticate %q, want invalid_token", resp.Header.Get("WWW-Authenticate"))
		}
		resp, body = get(t, caddy.URL+"/api/data", "token "+hub.CreateToken(t, "alice").Token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("alice's token: %d %s", resp.StatusCode, body)
		}
		checkCaddyIdentity(t, decodeEcho(t, body, "token"), aliceID)
	})

	t.Run("sign-out ends the session", func(t *testing.T) {
		if p := alice.Open(caddy.URL + "/oauth2/sign_out"); p.StatusCode >= 400 {
			t.Fatalf("sign out failed\n%s", p)
		}
		p := alice.Open(caddy.URL + "/after")
		checkHop(t, p, "GET "+caddy.URL+"/after", "302", hub.PublicURL+"/hub/api/oauth2/authorize?")
	})
}

// checkCaddyIdentity is checkNginxIdentity for the shipped Caddyfile, whose
// copy_headers sets X-Forwarded-Email even when hubgate's answer has it empty (a
// user without an e-mail address); nginx leaves an empty header out.
func checkCaddyIdentity(t testing.TB, e EchoedRequest, want nginxIdentity) {
	t.Helper()
	if want.Email == "" {
		if got := e.HeaderValues("X-Forwarded-Email"); !slices.Equal(got, []string{""}) {
			t.Errorf("the app got X-Forwarded-Email %q, want it empty", got)
		}
		e.Header = http.Header(e.Header).Clone()
		http.Header(e.Header).Del("X-Forwarded-Email")
	}
	checkNginxIdentity(t, e, want)
}
