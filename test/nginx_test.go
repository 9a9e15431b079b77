//go:build integration

package integration

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNginxAuthRequest runs a real nginx with examples/nginx/hubgate.conf.tmpl in
// front of the echo app, with hubgate answering its auth_request subrequests and
// a real JupyterHub 3.0 as the OAuth provider. The subtests share the Hub,
// hubgate and nginx, and run in order: alice's browser logs in in the first one.
// The last subtest drives hubgate's forward mode directly, as Traefik's
// forwardAuth or Caddy's forward_auth would.
func TestNginxAuthRequest(t *testing.T) {
	RequireHub(t, fullSuite)
	t.Parallel()
	requireNginx(t)
	up := StartUpstream(t)
	nginxAddr, gateAddr, forwardAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	nginxURL := "http://" + nginxAddr
	callback := nginxURL + "/oauth2/callback"
	hub := StartHub(t, HubConfig{Services: []HubService{
		// The browser reaches hubgate's callback through nginx.
		{Name: "gate", OAuthRedirectURI: callback, OAuthNoConfirm: true},
		// A second hubgate in forward mode, with nothing in front of it.
		{Name: "gate-forward", OAuthRedirectURI: "http://" + forwardAddr + "/oauth2/callback", OAuthNoConfirm: true},
	}})
	gateService := hub.Service(t, "gate")
	// hubgate's upstream is unused for auth_request; skip_auth_routes makes the
	// forged-X-Forwarded-Uri checks below meaningful: hubgate would let /public/
	// through unauthenticated in its own proxy mode.
	gate := StartHubgate(t, gateAddr, jupyterhubEnv(hub, gateService, up, gateAddr, map[string]string{
		"HUBGATE_REDIRECT_URL":     callback,
		"HUBGATE_SKIP_AUTH_ROUTES": "^/public/",
	}))
	ngx := StartNginx(t, NginxSite{Listen: nginxAddr, Hubgate: gateAddr, App: mustParseURL(t, up.URL).Host})

	authorizeURL := hub.PublicURL + "/hub/api/oauth2/authorize"
	// The Hub has groups but no e-mail addresses.
	aliceID := nginxIdentity{User: "alice", Groups: []string{"staff"}}
	bobID := nginxIdentity{User: "bob"}
	alice := NewBrowser(t, "alice")
	aliceToken := hub.CreateToken(t, "alice")
	bobToken := hub.CreateToken(t, "bob")
	aliceLoggedIn := false

	t.Run("unauthenticated navigation is sent to the Hub's login", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, ngx.URL+"/some/page?x=1", nil)
		req.Header.Set("Accept", navigationAccept)
		resp := send(t, noRedirects, req)
		checkLoginRedirect(t, resp, authorizeURL, gateService.ClientID(), callback)
	})

	t.Run("browser login through nginx lands on the page with the identity", func(t *testing.T) {
		page := alice.Open(ngx.URL + "/some/page?x=1")
		if page.StatusCode != http.StatusOK || !page.LoggedIn {
			t.Fatalf("want 200 after a Hub login\n%s", page)
		}
		if got, want := page.URL.String(), ngx.URL+"/some/page?x=1"; got != want {
			t.Errorf("landed on %s, want %s", got, want)
		}
		// The first hop is nginx's own answer to the page (auth_request 401 ->
		// error_page -> hubgate's login redirect), and hubgate's callback behind
		// nginx sends the browser back to the exact page.
		checkHop(t, page, "GET "+ngx.URL+"/some/page?x=1", "302", authorizeURL+"?")
		checkHop(t, page, "GET "+ngx.URL+"/oauth2/callback?", "302", "/some/page?x=1")
		e := decodeEcho(t, page.Body, "after login")
		if e.Path != "/some/page" || e.RawQuery != "x=1" {
			t.Errorf("upstream saw %s?%s, want /some/page?x=1", e.Path, e.RawQuery)
		}
		checkNginxIdentity(t, e, aliceID)
		for name := range e.Cookies {
			if strings.HasPrefix(name, "_hubgate_") {
				t.Errorf("a login state cookie %s is still around after the login", name)
			}
		}

		again := alice.Open(ngx.URL + "/again")
		if again.StatusCode != http.StatusOK || again.LoggedIn || len(again.Trail) != 1 {
			t.Fatalf("second request should be served from the session without the Hub\n%s", again)
		}
		checkNginxIdentity(t, decodeEcho(t, again.Body, "second request"), aliceID)
		aliceLoggedIn = true
	})

	t.Run("API clients get 401, never a login redirect, and pass with a Hub token", func(t *testing.T) {
		resp, body := get(t, ngx.URL+"/api/data", "")
		checkAPI401(t, "GET /api/data without credentials", resp, body)

		req, _ := http.NewRequest(http.MethodPost, ngx.URL+"/api/data", strings.NewReader(`{"a":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, body = readAll(t, noRedirects, req)
		checkAPI401(t, "POST /api/data without credentials", resp, body)

		resp, body = get(t, ngx.URL+"/api/data", "token not-a-real-token-0123456789")
		checkAPI401(t, "GET /api/data with a bad token", resp, body)

		for _, scheme := range []string{"token", "Bearer"} {
			resp, body := get(t, ngx.URL+"/api/data?q=1", scheme+" "+aliceToken.Token)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("Authorization: %s <alice's token>: status %d, want 200; body %s", scheme, resp.StatusCode, body)
			}
			e := decodeEcho(t, body, scheme)
			if e.Path != "/api/data" || e.RawQuery != "q=1" {
				t.Errorf("upstream saw %s?%s, want /api/data?q=1", e.Path, e.RawQuery)
			}
			checkNginxIdentity(t, e, aliceID)
		}

		req, _ = http.NewRequest(http.MethodPost, ngx.URL+"/api/data", strings.NewReader(`{"a":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "token "+aliceToken.Token)
		resp, body = readAll(t, noRedirects, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST with alice's token: status %d, want 200; body %s", resp.StatusCode, body)
		}
		if e := decodeEcho(t, body, "POST with a token"); e.Method != http.MethodPost {
			t.Errorf("upstream saw %s, want POST", e.Method)
		}
	})

	t.Run("cross-origin POSTs with the session are refused through nginx", func(t *testing.T) {
		if !aliceLoggedIn {
			t.Fatal("needs alice's browser login from the earlier subtest")
		}
		// An older browser sends Origin without Sec-Fetch-Site: hubgate compares it
		// with the host nginx reports (X-Forwarded-Host $http_host keeps the port,
		// which nginx's $host drops).
		cases := []struct {
			name, method string
			header       map[string]string
			status       int
		}{
			{"own origin, no Sec-Fetch-Site", "POST", map[string]string{"Origin": nginxURL, "X-Forwarded-Host": "evil.test"}, http.StatusOK},
			{"Sec-Fetch-Site same-origin", "DELETE", map[string]string{"Origin": nginxURL, "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
			{"another port, no Sec-Fetch-Site", "POST", map[string]string{"Origin": "http://" + gateAddr}, http.StatusForbidden},
			{"Sec-Fetch-Site same-site", "PUT", map[string]string{"Origin": nginxURL, "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
			{"client's X-Forwarded-Method is replaced", "POST", map[string]string{"Sec-Fetch-Site": "cross-site", "X-Forwarded-Method": "GET", "X-Original-Method": "GET"}, http.StatusForbidden},
			{"client's X-Forwarded-Host is replaced", "POST", map[string]string{"Origin": "http://evil.test", "X-Forwarded-Host": "evil.test"}, http.StatusForbidden},
			{"WebSocket from another origin", "GET", map[string]string{"Origin": "http://evil.test", "Upgrade": "websocket", "Connection": "Upgrade",
				"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}, http.StatusForbidden},
		}
		for _, c := range cases {
			req, _ := http.NewRequest(c.method, ngx.URL+"/form/target", strings.NewReader("x=1"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			page := alice.Do(req)
			if page.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d\n%s", c.name, page.StatusCode, c.status, page)
			}
			// The app echoes every request as JSON: a refusal is nginx's page.
			if c.status == http.StatusOK {
				e := decodeEcho(t, page.Body, c.name)
				if e.Method != c.method {
					t.Errorf("%s: the app saw %s, want %s", c.name, e.Method, c.method)
				}
				if got := e.Header["X-Forwarded-Host"]; !slices.Equal(got, []string{nginxAddr}) {
					t.Errorf("%s: the app saw X-Forwarded-Host %q, want nginx's %q", c.name, got, nginxAddr)
				}
			} else if strings.Contains(string(page.Body), `"method"`) {
				t.Errorf("%s: refused, but the app answered: %s", c.name, page.Body)
			}
		}
	})

	t.Run("only staff pass at /staff/", func(t *testing.T) {
		if !aliceLoggedIn {
			t.Fatal("needs alice's browser login from the earlier subtest")
		}
		// The return address survives "&", "%26" and "+" in the query.
		const staffPage = "/staff/report?a=1&b=x%26y+z"
		bob := NewBrowser(t, "bob")
		page := bob.Open(ngx.URL + staffPage)
		if page.StatusCode != http.StatusForbidden || !page.LoggedIn {
			t.Errorf("bob (not in staff): want 403 after the login\n%s", page)
		}
		if got, want := page.URL.String(), ngx.URL+staffPage; got != want {
			t.Errorf("bob landed on %s, want %s", got, want)
		}
		page = bob.Open(ngx.URL + "/bob/home")
		if page.StatusCode != http.StatusOK || len(page.Trail) != 1 {
			t.Fatalf("bob outside /staff/: want 200 from his session\n%s", page)
		}
		checkNginxIdentity(t, decodeEcho(t, page.Body, "bob outside /staff/"), bobID)

		page = alice.Open(ngx.URL + staffPage)
		if page.StatusCode != http.StatusOK || len(page.Trail) != 1 {
			t.Fatalf("alice (staff): want 200 from her session\n%s", page)
		}
		e := decodeEcho(t, page.Body, "alice at /staff/")
		if e.Path != "/staff/report" || e.RawQuery != "a=1&b=x%26y+z" {
			t.Errorf("upstream saw %s?%s, want %s", e.Path, e.RawQuery, staffPage)
		}
		checkNginxIdentity(t, e, aliceID)

		if resp, body := get(t, ngx.URL+"/staff/api", "token "+bobToken.Token); resp.StatusCode != http.StatusForbidden {
			t.Errorf("bob's token at /staff/: status %d, want 403; body %s", resp.StatusCode, body)
		}
		resp, body := get(t, ngx.URL+"/staff/api", "token "+aliceToken.Token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("alice's token at /staff/: status %d, want 200; body %s", resp.StatusCode, body)
		}
		checkNginxIdentity(t, decodeEcho(t, body, "alice's token at /staff/"), aliceID)
		if resp, body := get(t, ngx.URL+"/staff/api", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("no credentials at /staff/: status %d, want 401; body %s", resp.StatusCode, body)
		}
	})

	t.Run("forged headers unlock nothing and change no identity", func(t *testing.T) {
		if !aliceLoggedIn {
			t.Fatal("needs alice's browser login from the earlier subtest")
		}
		forged := http.Header{
			"X-Forwarded-Uri":                   {"/public/"},
			"X-Original-Uri":                    {"/public/"},
			"X-Forwarded-User":                  {"admin"},
			"x-forwarded-user":                  {"admin"},
			"X_Forwarded_User":                  {"admin"},
			"X-Forwarded-Groups":                {"admins,staff"},
			"X-Forwarded-Email":                 {"admin@example.org"},
			"X-Forwarded-Preferred-Username":    {"admin"},
			"X-Forwarded-Admin":                 {"true"},
			"X-Forwarded-Access-Token":          {"forged-token"},
			"X-Auth-Request-User":               {"admin"},
			"X-Auth-Request-Groups":             {"admins"},
			"X-Auth-Request-Email":              {"admin@example.org"},
			"X-Auth-Request-Preferred-Username": {"admin"},
			"X-Auth-Request-Access-Token":       {"forged-token"},
		}
		withForged := func(method, rawURL string) *http.Request {
			req, _ := http.NewRequest(method, rawURL, nil)
			for k, vs := range forged {
				req.Header[k] = vs
			}
			return req
		}

		// alice's session: the app sees alice and nothing forged.
		for _, path := range []string{"/forged", "/staff/forged"} {
			page := alice.Do(withForged(http.MethodGet, ngx.URL+path))
			if page.StatusCode != http.StatusOK {
				t.Fatalf("alice with forged headers at %s: want 200\n%s", path, page)
			}
			checkNginxIdentity(t, decodeEcho(t, page.Body, "forged headers at "+path), aliceID)
		}
		// bob's token with forged staff membership and a /public/ URI still
		// gets 403 at /staff/.
		req := withForged(http.MethodGet, ngx.URL+"/staff/forged")
		req.Header.Set("Authorization", "token "+bobToken.Token)
		if resp, body := readAll(t, noRedirects, req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("bob's token with forged headers at /staff/: status %d, want 403; body %s", resp.StatusCode, body)
		}

		// Anonymous: the API gets 401, a browser the login, whatever it claims.
		for _, path := range []string{"/public/", "/secret", "/staff/secret"} {
			req := withForged(http.MethodGet, ngx.URL+path)
			req.Header.Set("Accept", "application/json")
			resp, body := readAll(t, noRedirects, req)
			checkAPI401(t, "anonymous API call with forged headers at "+path, resp, body)

			req = withForged(http.MethodGet, ngx.URL+path)
			req.Header.Set("Accept", navigationAccept)
			checkLoginRedirect(t, send(t, noRedirects, req), authorizeURL, gateService.ClientID(), callback)
		}

		// Straight at hubgate, from loopback (a trusted proxy): the auth answer
		// does not depend on the original URI, even one under skip_auth_routes.
		if resp, body := get(t, gate.URL+"/public/x", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("hubgate's own proxy should let /public/ through (skip_auth_routes): status %d; body %s",
				resp.StatusCode, body)
		}
		for _, mode := range []string{"", "?mode=forward"} {
			req := withForged(http.MethodGet, gate.URL+"/oauth2/auth"+mode)
			req.Header.Set("Accept", "application/json")
			resp, body := readAll(t, noRedirects, req)
			checkAPI401(t, "hubgate /oauth2/auth"+mode+" with forged headers", resp, body)
		}

		// A new browser sending the forged X-Forwarded-Uri still comes back to
		// the page it asked for, byte for byte.
		const deepPage = "/deep/page%20two?x=1&y=a+b%26c&z=%2Fpublic%2F"
		page := openWithHeader(NewBrowser(t, "alice"), ngx.URL+deepPage, forged)
		if page.StatusCode != http.StatusOK || !page.LoggedIn {
			t.Fatalf("login with forged headers: want 200 after a Hub login\n%s", page)
		}
		if got, want := page.URL.String(), ngx.URL+deepPage; got != want {
			t.Errorf("landed on %s, want %s\n%s", got, want, page)
		}
		e := decodeEcho(t, page.Body, "after a login with forged headers")
		if e.Path != "/deep/page two" || e.RawQuery != "x=1&y=a+b%26c&z=%2Fpublic%2F" {
			t.Errorf("upstream saw path %q query %q, want %s", e.Path, e.RawQuery, deepPage)
		}
		checkNginxIdentity(t, e, aliceID)
	})

	t.Run("websockets pass through nginx with the identity, and need a login", func(t *testing.T) {
		if !aliceLoggedIn {
			t.Skip("the login subtest failed")
		}
		cookies := http.Header{}
		for _, c := range alice.Cookies(ngx.URL + "/") {
			cookies.Add("Cookie", c.String())
		}
		checkWebSocketEcho(t, "browser session", ngx.URL+"/ws", "alice", cookies)
		checkWebSocketEcho(t, "Hub token", ngx.URL+"/ws", "alice", http.Header{"Authorization": {"token " + aliceToken.Token}})
		checkWebSocketEcho(t, "staff location", ngx.URL+"/staff/ws", "alice", cookies)
		if _, resp, err := dialWebSocket(ngx.URL+"/ws", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Errorf("a websocket without a login: status %d (%v), want 401", status, err)
		}
		if _, resp, err := dialWebSocket(ngx.URL+"/staff/ws", http.Header{"Authorization": {"token " + bobToken.Token}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("bob's websocket at /staff/: %v, want 403", err)
		}
	})

	t.Run("sign out through nginx", func(t *testing.T) {
		if !aliceLoggedIn {
			t.Fatal("needs alice's browser login from the earlier subtest")
		}
		req, _ := http.NewRequest(http.MethodGet, ngx.URL+"/oauth2/sign_out", nil)
		if page := alice.Do(req); page.StatusCode >= 400 {
			t.Fatalf("sign out failed\n%s", page)
		}
		req, _ = http.NewRequest(http.MethodGet, ngx.URL+"/after-sign-out", nil)
		req.Header.Set("Accept", "application/json")
		if page := alice.Do(req); page.StatusCode != http.StatusUnauthorized {
			t.Errorf("after sign out: want 401\n%s", page)
		}
	})

	t.Run("forward mode for Traefik and Caddy, without nginx", func(t *testing.T) {
		// What Traefik's forwardAuth sends along (Caddy's forward_auth too).
		traefik := func(authURL, uri, accept string) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, authURL, nil)
			req.Header.Set("Accept", accept)
			req.Header.Set("X-Forwarded-Method", http.MethodGet)
			req.Header.Set("X-Forwarded-Proto", "http")
			req.Header.Set("X-Forwarded-Host", mustParseURL(t, authURL).Host)
			req.Header.Set("X-Forwarded-Uri", uri)
			req.Header.Set("X-Forwarded-For", loopback)
			return req
		}

		// The nginx-facing hubgate stays in request mode: a browser gets 401
		// unless the auth URL asks for forward mode.
		resp, body := readAll(t, noRedirects, traefik(gate.URL+"/oauth2/auth", "/app/page", navigationAccept))
		checkAPI401(t, "request mode, browser navigation", resp, body)
		resp = send(t, noRedirects, traefik(gate.URL+"/oauth2/auth?mode=forward", "/app/page", navigationAccept))
		checkLoginRedirect(t, resp, authorizeURL, gateService.ClientID(), callback)
		resp, body = readAll(t, noRedirects, traefik(gate.URL+"/oauth2/auth?mode=forward", "/app/page", "application/json"))
		checkAPI401(t, "?mode=forward, API client", resp, body)

		// HUBGATE_AUTH_MODE=forward, completing the login.
		forwardService := hub.Service(t, "gate-forward")
		fwd := StartHubgate(t, forwardAddr, jupyterhubEnv(hub, forwardService, up, forwardAddr,
			map[string]string{"HUBGATE_AUTH_MODE": "forward"}))
		fwdCallback := fwd.URL + "/oauth2/callback"
		const appPage = "/traefik/app%20x?z=1&w=a%26b"

		resp, body = readAll(t, noRedirects, traefik(fwd.URL+"/oauth2/auth", appPage, "application/json"))
		checkAPI401(t, "forward mode, API client", resp, body)

		resp = send(t, noRedirects, traefik(fwd.URL+"/oauth2/auth", appPage, navigationAccept))
		checkLoginRedirect(t, resp, authorizeURL, forwardService.ClientID(), fwdCallback)
		// Traefik hands the 302 and its state cookie to the browser as they are.
		browser := NewBrowser(t, "alice")
		browser.Client().Jar.SetCookies(mustParseURL(t, fwd.URL), resp.Cookies())
		page := browser.Open(resp.Header.Get("Location"))
		if page.StatusCode != http.StatusOK || !page.LoggedIn {
			t.Fatalf("forward-mode login: want 200 after a Hub login\n%s", page)
		}
		if got, want := page.URL.String(), fwd.URL+appPage; got != want {
			t.Errorf("forward-mode login landed on %s, want the forwarded URI %s\n%s", got, want, page)
		}
		e := decodeEcho(t, page.Body, "after a forward-mode login")
		if e.Path != "/traefik/app x" || e.RawQuery != "z=1&w=a%26b" {
			t.Errorf("upstream saw path %q query %q, want %s", e.Path, e.RawQuery, appPage)
		}
		checkIdentity(t, e, "alice", "staff", "false")

		// The next check with the browser's session cookie passes, with the identity.
		req := traefik(fwd.URL+"/oauth2/auth", appPage, navigationAccept)
		for _, c := range browser.Cookies(fwd.URL) {
			req.AddCookie(c)
		}
		resp, body = readAll(t, noRedirects, req)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("forward auth with alice's session: status %d, want 202; body %s", resp.StatusCode, body)
		}
		for name, want := range map[string]string{
			"X-Auth-Request-User":               "alice",
			"X-Auth-Request-Preferred-Username": "alice",
			"X-Auth-Request-Groups":             "staff",
		} {
			if got := resp.Header.Values(name); !slices.Equal(got, []string{want}) {
				t.Errorf("202 %s = %q, want [%q]", name, got, want)
			}
		}
		fwd.CheckLogOmits(t, map[string]string{"client secret": forwardService.APIToken})
	})

	t.Run("logs hold no secrets", func(t *testing.T) {
		secrets := map[string]string{
			"client secret":     gateService.APIToken,
			"alice's API token": aliceToken.Token,
			"bob's API token":   bobToken.Token,
		}
		for _, c := range alice.Cookies(ngx.URL) {
			secrets["cookie "+c.Name] = c.Value
		}
		gate.CheckLogOmits(t, secrets)
	})
}

// TestNginxSessionRefresh runs the same nginx example against a real Django
// with django-oauth-toolkit issuing 2-second access tokens and refresh tokens.
// The auth subrequest refreshes an expired session and its 202 carries the new
// session cookie, which nginx must hand to the browser (auth_request_set
// $hubgate_cookie $upstream_http_set_cookie; add_header Set-Cookie). DOT
// rotates refresh tokens, so a browser left with the old cookie would be
// logged out at the next expiry: the second round checks that too.
func TestNginxSessionRefresh(t *testing.T) {
	RequireDjango(t, fullSuite)
	t.Parallel()
	requireNginx(t)
	const tokenSeconds = 2
	pastExpiry := tokenSeconds*time.Second + 500*time.Millisecond
	nginxAddr, gateAddr := freeAddr(t), freeAddr(t)
	callback := "http://" + nginxAddr + "/oauth2/callback"
	dj := StartDjango(t, DjangoConfig{AccessTokenExpireSeconds: tokenSeconds, RedirectURIs: []string{callback}})
	up := StartUpstream(t)
	gate := StartDjangoGate(t, dj, up, gateAddr, map[string]string{
		"HUBGATE_REDIRECT_URL": callback,
		"HUBGATE_CACHE_TTL":    "1s",
	})
	ngx := StartNginx(t, NginxSite{Listen: nginxAddr, Hubgate: gateAddr, App: mustParseURL(t, up.URL).Host})
	aliceID := nginxIdentity{User: "alice", Groups: []string{"staff"}, Email: "alice@example.org"}

	b := NewDjangoBrowser(t, dj, "alice")
	page := djangoOpen(b, ngx.URL+"/start?x=1")
	if page.StatusCode != http.StatusOK || !page.LoggedIn {
		t.Fatalf("login through nginx with Django: want 200 after Django's login\n%s", page)
	}
	if got, want := page.URL.String(), ngx.URL+"/start?x=1"; got != want {
		t.Errorf("landed on %s, want %s", got, want)
	}
	checkNginxIdentity(t, decodeEcho(t, page.Body, "after login"), aliceID)

	session := func() string {
		for _, c := range b.Cookies(ngx.URL) {
			if c.Name == djangoSessionCookie {
				return c.Value
			}
		}
		t.Fatalf("the browser has no %s cookie for %s", djangoSessionCookie, ngx.URL)
		return ""
	}
	for round := 1; round <= 2; round++ {
		before := session()
		djangoWait(t, pastExpiry, "the access token expires")
		counts := dj.TokenCounts(t, "alice")
		req, _ := http.NewRequest(http.MethodGet, ngx.URL+"/after-expiry", nil)
		req.Header.Set("Accept", "application/json")
		page := b.Do(req)
		if page.StatusCode != http.StatusOK {
			t.Fatalf("round %d, after expiry: want 200 (a refreshed session)\n%s", round, page)
		}
		checkNginxIdentity(t, decodeEcho(t, page.Body, "after expiry"), aliceID)
		if got := dj.TokenCounts(t, "alice").Refresh - counts.Refresh; got != 1 {
			t.Errorf("round %d: %d refreshes at DOT, want 1", round, got)
		}
		var set *http.Cookie
		for _, c := range (&http.Response{Header: page.Header}).Cookies() {
			if c.Name == djangoSessionCookie {
				set = c
			}
		}
		if set == nil || set.Value == "" || set.MaxAge < 0 || set.Value == before {
			t.Fatalf("round %d: nginx did not pass the refreshed %s cookie from the auth subrequest; Set-Cookie: %q",
				round, djangoSessionCookie, page.Header.Values("Set-Cookie"))
		}
		if session() != set.Value {
			t.Fatalf("round %d: the browser did not keep the refreshed cookie", round)
		}
	}
	gate.CheckLogOmits(t, map[string]string{"client secret": dj.ClientSecret})
}

// nginxIdentity is who the app behind nginx should be told about.
type nginxIdentity struct {
	User   string
	Groups []string
	Email  string
}

// checkNginxIdentity checks what the app behind nginx received: the identity
// from hubgate's auth answer (copied by auth_request_set), exactly once, and
// none of the headers a client could have forged or that hubgate's answer does
// not carry (admin flag, access token, X-Auth-Request-*, the Hub token).
func checkNginxIdentity(t testing.TB, e EchoedRequest, want nginxIdentity) {
	t.Helper()
	for _, name := range []string{"X-Forwarded-User", "X-Forwarded-Preferred-Username"} {
		if got := e.HeaderValues(name); !slices.Equal(got, []string{want.User}) {
			t.Errorf("upstream %s (any spelling) = %q, want exactly [%q]; headers %v", name, got, want.User, e.Header)
		}
	}
	got := e.HeaderValues("X-Forwarded-Groups")
	switch {
	case len(want.Groups) == 0 && len(got) != 0:
		t.Errorf("upstream X-Forwarded-Groups = %q, want none for a user without groups", got)
	case len(want.Groups) > 0 && (len(got) != 1 || !slices.Equal(splitList(got[0]), want.Groups)):
		t.Errorf("upstream X-Forwarded-Groups = %q, want one value %q", got, strings.Join(want.Groups, ","))
	}
	if got, wantEmail := e.HeaderValues("X-Forwarded-Email"), []string{want.Email}; want.Email == "" && len(got) != 0 ||
		want.Email != "" && !slices.Equal(got, wantEmail) {
		t.Errorf("upstream X-Forwarded-Email = %q, want %q", got, want.Email)
	}
	for _, name := range []string{
		"X-Forwarded-Admin",
		"X-Forwarded-Access-Token",
		"X-Auth-Request-User",
		"X-Auth-Request-Groups",
		"X-Auth-Request-Email",
		"X-Auth-Request-Preferred-Username",
		"X-Auth-Request-Access-Token",
		"Authorization",
	} {
		if got := e.HeaderValues(name); len(got) != 0 {
			t.Errorf("upstream received %s = %q, want none", name, got)
		}
	}
}

// checkLoginRedirect checks a 302 that starts a login at the Hub: the authorize
// URL with hubgate's client and callback, PKCE, a login state cookie, no-store.
func checkLoginRedirect(t testing.TB, resp *http.Response, authorizeURL, clientID, callback string) {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("%s %s: status %d, want 302 to the Hub's login", resp.Request.Method, resp.Request.URL, resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != authorizeURL {
		t.Errorf("%s: redirect to %s, want %s", resp.Request.URL, got, authorizeURL)
	}
	q := loc.Query()
	for k, want := range map[string]string{
		"client_id":             clientID,
		"redirect_uri":          callback,
		"response_type":         "code",
		"code_challenge_method": "S256",
	} {
		if q.Get(k) != want {
			t.Errorf("%s: authorize parameter %s = %q, want %q (Location %s)", resp.Request.URL, k, q.Get(k), want, loc)
		}
	}
	if len(q.Get("state")) < 16 || len(q.Get("code_challenge")) < 43 {
		t.Errorf("state %q / code_challenge %q look too short", q.Get("state"), q.Get("code_challenge"))
	}
	if !slices.ContainsFunc(resp.Cookies(), func(c *http.Cookie) bool { return strings.HasPrefix(c.Name, "_hubgate") }) {
		t.Errorf("%s: no _hubgate login state cookie; Set-Cookie: %q", resp.Request.URL, resp.Header.Values("Set-Cookie"))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("%s: Cache-Control %q on the login redirect, want no-store", resp.Request.URL, cc)
	}
}

// checkAPI401 checks hubgate's answer to a client that is not logged in and is
// not a browser loading a page: 401 JSON with WWW-Authenticate, no redirect.
func checkAPI401(t testing.TB, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Errorf("%s: status %d (Location %q), want 401 without a redirect; body %s",
			what, resp.StatusCode, resp.Header.Get("Location"), truncate(string(body), 500))
		return
	}
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s: 401 without WWW-Authenticate", what)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("%s: 401 Content-Type %q, want JSON; body %s", what, ct, truncate(string(body), 500))
	}
}

// checkHop checks that the navigation made the request starting with request
// and that its answer had status and a Location starting with location.
func checkHop(t testing.TB, p *Page, request, status, location string) {
	t.Helper()
	for _, hop := range p.Trail {
		if strings.HasPrefix(hop, request) {
			if !strings.Contains(hop, " -> "+status+" ") || !strings.Contains(hop, "(Location: "+location) {
				t.Errorf("hop %q, want status %s and a Location starting with %s", hop, status, location)
			}
			return
		}
	}
	t.Errorf("no request %s in the navigation\n%s", request, p)
}

// openWithHeader is Browser.Open with extra headers on the first request (Go's
// client repeats them on the redirects that follow it, not on form posts).
func openWithHeader(b *Browser, rawURL string, header http.Header) *Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return b.OpenRequest(req)
}

// readAll does req with client and returns the response and its body.
func readAll(t testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func mustParseURL(t testing.TB, rawURL string) *url.URL {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
