//go:build integration

package integration

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Django suite: hubgate with HUBGATE_PROVIDER=django in front of the
// upstream echo app, against a real Django 3.2 + django-oauth-toolkit 1.7
// (see django.go). Each top-level test runs its own Django site, in parallel
// with the others; gates that need the same Django settings share one site.

// djangoSessionCookie is hubgate's default session cookie name.
const djangoSessionCookie = "_hubgate"

// djangoGateSpec describes one hubgate configuration against a Django site.
type djangoGateSpec struct {
	name string
	// introspection: identity from /o/introspect/ (HUBGATE_USERDATA_URL
	// empty) instead of the userdata view.
	introspection bool
	clientAuth    djangoClientAuth
	// allowedGroups is HUBGATE_ALLOWED_GROUPS (userdata mode only: hubgate
	// refuses it where the provider gives no groups).
	allowedGroups string
	// extra HUBGATE_* variables.
	env map[string]string
}

func (s djangoGateSpec) environment() map[string]string {
	env := map[string]string{"HUBGATE_CLIENT_AUTH": string(s.clientAuth)}
	if s.introspection {
		env["HUBGATE_USERDATA_URL"] = ""
	}
	if s.allowedGroups != "" {
		env["HUBGATE_ALLOWED_GROUPS"] = s.allowedGroups
	}
	for k, v := range s.env {
		env[k] = v
	}
	return env
}

// djangoGates starts Django with cfg, registering a callback for each spec
// (addresses chosen first, so no redirect URI is added afterwards), then one
// hubgate per spec in front of a shared upstream.
func djangoGates(t *testing.T, cfg DjangoConfig, specs ...djangoGateSpec) (*Django, []*Gate) {
	t.Helper()
	addrs := make([]string, len(specs))
	for i := range specs {
		addrs[i] = freeAddr(t)
		cfg.RedirectURIs = append(cfg.RedirectURIs, DjangoGateRedirectURL(addrs[i]))
	}
	dj := StartDjango(t, cfg)
	up := StartUpstream(t)
	gates := make([]*Gate, len(specs))
	for i, s := range specs {
		gates[i] = StartDjangoGate(t, dj, up, addrs[i], s.environment())
	}
	return dj, gates
}

// djangoIdentity is what the upstream should be told. Empty Groups and Email
// must arrive empty (or absent): hubgate must not invent them.
type djangoIdentity struct {
	User, Groups, Email, Admin string
}

// identityOf returns who alice (or bob) is, as told by the identity mode.
func (s djangoGateSpec) identityOf(dj *Django, user string) djangoIdentity {
	if s.introspection {
		// DOT's introspection answer has only active, scope, exp, client_id
		// and username: no groups, email or staff flag.
		return djangoIdentity{User: user, Admin: "false"}
	}
	for _, u := range dj.users {
		if u.Name == user {
			admin := "false"
			if u.Staff {
				admin = "true"
			}
			return djangoIdentity{User: u.Name, Groups: strings.Join(u.Groups, ","), Email: u.Email, Admin: admin}
		}
	}
	return djangoIdentity{User: user}
}

// djangoCheckIdentity compares the identity headers the upstream received.
func djangoCheckIdentity(t testing.TB, e EchoedRequest, want djangoIdentity, context string) {
	t.Helper()
	for _, h := range []struct{ name, want string }{
		{"X-Forwarded-User", want.User},
		{"X-Forwarded-Groups", want.Groups},
		{"X-Forwarded-Email", want.Email},
		{"X-Forwarded-Admin", want.Admin},
	} {
		got := e.HeaderValues(h.name)
		switch {
		case h.want == "" && (len(got) == 0 || (len(got) == 1 && got[0] == "")):
		case len(got) == 1 && got[0] == h.want:
		default:
			t.Errorf("%s: upstream got %s %q, want %q", context, h.name, got, h.want)
		}
	}
	if _, ok := e.Cookies[djangoSessionCookie]; ok {
		t.Errorf("%s: hubgate's session cookie reached the upstream", context)
	}
}

// djangoGateLogin opens gate.URL+path in a fresh browser as user, logging in
// with Django's form on the way, and checks the round trip: hubgate's 302 to
// DOT's authorize endpoint with PKCE S256 and a state, Django's login page,
// and the callback with that state. It returns the final page.
func djangoGateLogin(t *testing.T, dj *Django, gate *Gate, user, path string) (*Browser, *Page) {
	t.Helper()
	b := NewDjangoBrowser(t, dj, user)
	page := djangoOpen(b, gate.URL+path)
	if !page.LoggedIn {
		t.Fatalf("login as %s through %s: Django's login form never showed\n%s", user, gate.URL, page)
	}
	var state string
	for _, loc := range djangoTrailLocations(page) {
		if !strings.HasPrefix(loc, dj.AuthorizeURL()+"?") {
			continue
		}
		u, _ := url.Parse(loc)
		q := u.Query()
		state = q.Get("state")
		if q.Get("response_type") != "code" || q.Get("client_id") != dj.ClientID ||
			q.Get("redirect_uri") != DjangoGateRedirectURL(strings.TrimPrefix(gate.URL, "http://")) ||
			q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
			len(state) < 16 || !strings.Contains(" "+q.Get("scope")+" ", " read ") {
			t.Errorf("hubgate's authorize redirect lacks a parameter: %s", loc)
		}
		break
	}
	if state == "" {
		t.Fatalf("hubgate never redirected to %s\n%s", dj.AuthorizeURL(), page)
	}
	if !strings.Contains(strings.Join(page.Trail, "\n"), gate.URL+djangoGateCallbackPath+"?code=") ||
		!strings.Contains(strings.Join(page.Trail, "\n"), "state="+url.QueryEscape(state)) {
		t.Errorf("no callback to hubgate with the state on the way\n%s", page)
	}
	return b, page
}

// djangoRequest sends one request without a cookie jar or redirects.
func djangoRequest(t testing.TB, method, rawURL string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return resp, body
}

// djangoResponseCookie returns the cookie name set by resp, or nil.
func djangoResponseCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestDjangoGate runs hubgate against DOT with its defaults (no PKCE
// requirement, 10 h tokens) in each identity mode with each client-auth
// style: browser login through Django's form, the allowed-groups rule, and
// API clients with Bearer tokens.
func TestDjangoGate(t *testing.T) {
	RequireDjango(t, coreSuite)
	t.Parallel()
	specs := []djangoGateSpec{
		{name: "userdata, client auth header", clientAuth: djangoAuthHeader, allowedGroups: "staff"},
		{name: "userdata, client auth params", clientAuth: djangoAuthParams, allowedGroups: "staff"},
		{name: "introspection, client auth header", introspection: true, clientAuth: djangoAuthHeader},
		{name: "introspection, client auth params", introspection: true, clientAuth: djangoAuthParams},
	}
	dj, gates := djangoGates(t, DjangoConfig{}, specs...)
	aliceToken := dj.MintToken(t, "alice", time.Hour)
	bobToken := dj.MintToken(t, "bob", time.Hour)

	for i, spec := range specs {
		gate := gates[i]
		t.Run(spec.name, func(t *testing.T) {
			t.Parallel()
			t.Run("alice logs in through Django's form", func(t *testing.T) {
				b, page := djangoGateLogin(t, dj, gate, "alice", "/app/page?x=1")
				if page.StatusCode != http.StatusOK || page.URL.Path != "/app/page" || page.URL.RawQuery != "x=1" {
					t.Fatalf("after login: want the upstream's /app/page?x=1\n%s", page)
				}
				e := decodeEcho(t, page.Body, "after login")
				djangoCheckIdentity(t, e, spec.identityOf(dj, "alice"), "after login")

				// The session cookie alone now lets alice in, without Django.
				again := b.Do(djangoMustRequest(t, http.MethodGet, gate.URL+"/app/other"))
				if again.StatusCode != http.StatusOK || len(again.Trail) != 1 {
					t.Fatalf("second request with the session cookie\n%s", again)
				}
				djangoCheckIdentity(t, decodeEcho(t, again.Body, "second request"), spec.identityOf(dj, "alice"), "second request")
			})

			if spec.allowedGroups != "" {
				t.Run("bob, not in group staff, gets 403", func(t *testing.T) {
					_, page := djangoGateLogin(t, dj, gate, "bob", "/app/page")
					if page.StatusCode != http.StatusForbidden {
						t.Fatalf("bob with HUBGATE_ALLOWED_GROUPS=%s: status %d, want 403\n%s", spec.allowedGroups, page.StatusCode, page)
					}
					if strings.Contains(string(page.Body), `"method"`) {
						t.Errorf("bob's request reached the upstream\n%s", page)
					}
				})
			}

			t.Run("API client with a Bearer token", func(t *testing.T) {
				resp, body := djangoRequest(t, http.MethodGet, gate.URL+"/api/data", http.Header{
					"Authorization": {"Bearer " + aliceToken}, "Accept": {"application/json"},
				})
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /api/data with alice's Django token: status %d, want 200; body %s", resp.StatusCode, body)
				}
				djangoCheckIdentity(t, decodeEcho(t, body, "Bearer token"), spec.identityOf(dj, "alice"), "Bearer token")
				if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
					t.Errorf("a Bearer request got cookies: %q", sc)
				}

				resp, body = djangoRequest(t, http.MethodGet, gate.URL+"/api/data", http.Header{
					"Authorization": {"Bearer not-a-django-token"}, "Accept": {"application/json"},
				})
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("GET /api/data with a bad token: status %d, want 401; body %s", resp.StatusCode, body)
				}

				resp, body = djangoRequest(t, http.MethodGet, gate.URL+"/api/data", http.Header{
					"Authorization": {"Bearer " + bobToken}, "Accept": {"application/json"},
				})
				want := http.StatusOK
				if spec.allowedGroups != "" {
					want = http.StatusForbidden
				}
				if resp.StatusCode != want {
					t.Errorf("GET /api/data with bob's token: status %d, want %d; body %s", resp.StatusCode, want, body)
				}
			})
			gate.CheckLogOmits(t, map[string]string{
				"client secret": dj.ClientSecret, "alice's token": aliceToken, "bob's token": bobToken,
			})
		})
	}
}

// TestDjangoPKCERequired runs the main login scenario against DOT with
// PKCE_REQUIRED = True, after checking that DOT does refuse an authorize
// request without a code challenge.
func TestDjangoPKCERequired(t *testing.T) {
	RequireDjango(t, fullSuite)
	t.Parallel()
	spec := djangoGateSpec{name: "userdata", clientAuth: djangoAuthHeader, allowedGroups: "staff"}
	dj, gates := djangoGates(t, DjangoConfig{PKCERequired: true}, spec)
	gate := gates[0]

	b, page := djangoGateLogin(t, dj, gate, "alice", "/pkce")
	if page.StatusCode != http.StatusOK || page.URL.Path != "/pkce" {
		t.Fatalf("after login: want the upstream's /pkce\n%s", page)
	}
	djangoCheckIdentity(t, decodeEcho(t, page.Body, "after login"), spec.identityOf(dj, "alice"), "after login")

	// The setting is live: without a challenge DOT sends an error back.
	noPKCE := dj.AuthorizeURL() + "?" + url.Values{
		"response_type": {"code"},
		"client_id":     {dj.ClientID},
		"redirect_uri":  {DjangoGateRedirectURL(strings.TrimPrefix(gate.URL, "http://"))},
		"state":         {"no-pkce"},
		"scope":         {"read"},
	}.Encode()
	resp, _ := djangoRequestWithJar(t, b, noPKCE)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "error=invalid_request") {
		t.Errorf("authorize without code_challenge under PKCE_REQUIRED: status %d Location %q, want a redirect with error=invalid_request",
			resp.StatusCode, loc)
	}
}

// djangoRequestWithJar GETs rawURL with the browser's cookies, not following
// redirects.
func djangoRequestWithJar(t testing.TB, b *Browser, rawURL string) (*http.Response, []byte) {
	t.Helper()
	header := http.Header{"Accept": {navigationAccept}}
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var cookies []string
	for _, c := range b.Client().Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if len(cookies) > 0 {
		header.Set("Cookie", strings.Join(cookies, "; "))
	}
	return djangoRequest(t, http.MethodGet, rawURL, header)
}

// TestDjangoRefresh runs hubgate against DOT with 2-second access tokens:
// an expired session token is refreshed (once, however many requests need
// it at the same time, since DOT rotates refresh tokens) and the new tokens
// go back into the cookie; a revoked refresh token means logging in again.
func TestDjangoRefresh(t *testing.T) {
	RequireDjango(t, fullSuite)
	t.Parallel()
	const tokenSeconds = 2
	pastExpiry := tokenSeconds*time.Second + 500*time.Millisecond
	spec := djangoGateSpec{name: "userdata", clientAuth: djangoAuthHeader,
		env: map[string]string{"HUBGATE_CACHE_TTL": "1s"}}
	dj, gates := djangoGates(t, DjangoConfig{AccessTokenExpireSeconds: tokenSeconds}, spec)
	gate := gates[0]
	alice := spec.identityOf(dj, "alice")

	b, page := djangoGateLogin(t, dj, gate, "alice", "/start")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("login\n%s", page)
	}
	djangoCheckIdentity(t, decodeEcho(t, page.Body, "after login"), alice, "after login")

	// sessionCookie is the browser's hubgate cookie, as a Cookie header.
	sessionCookie := func() string {
		v := djangoCookie(b, gate.URL, djangoSessionCookie)
		if v == "" {
			t.Fatalf("the browser has no %s cookie for %s", djangoSessionCookie, gate.URL)
		}
		return djangoSessionCookie + "=" + v
	}

	t.Run("an expired access token is refreshed", func(t *testing.T) {
		before := sessionCookie()
		djangoWait(t, pastExpiry, "the access token expires")
		resp, body := djangoRequest(t, http.MethodGet, gate.URL+"/after-expiry", http.Header{
			"Cookie": {before}, "Accept": {navigationAccept},
		})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("after expiry: status %d, want 200; Location %q body %s", resp.StatusCode, resp.Header.Get("Location"), truncate(string(body), 2000))
		}
		djangoCheckIdentity(t, decodeEcho(t, body, "after expiry"), alice, "after expiry")
		c := djangoResponseCookie(resp, djangoSessionCookie)
		if c == nil || c.Value == "" || djangoSessionCookie+"="+c.Value == before || c.MaxAge < 0 {
			t.Fatalf("after a refresh, want a new %s cookie; Set-Cookie: %q", djangoSessionCookie, resp.Header.Values("Set-Cookie"))
		}
		// Keep the browser's jar up to date, as a browser would.
		u, _ := url.Parse(gate.URL)
		b.Client().Jar.SetCookies(u, []*http.Cookie{c})
	})

	var unused string // a cookie whose refresh token hubgate has not used yet
	t.Run("concurrent requests after expiry refresh once", func(t *testing.T) {
		cookie := sessionCookie()
		djangoWait(t, pastExpiry, "the access token expires")
		before := dj.TokenCounts(t, "alice")
		const n = 16
		type result struct {
			status int
			body   []byte
			cookie *http.Cookie
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				req, err := http.NewRequest(http.MethodGet, gate.URL+"/concurrent", nil)
				if err != nil {
					results[i].body = []byte(err.Error())
					return
				}
				req.Header.Set("Cookie", cookie)
				req.Header.Set("Accept", "application/json")
				resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
				if err != nil {
					results[i].body = []byte(err.Error())
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				results[i] = result{resp.StatusCode, body, djangoResponseCookie(resp, djangoSessionCookie)}
			})
		}
		close(start)
		wg.Wait()
		failed := 0
		for i, r := range results {
			if r.status != http.StatusOK {
				failed++
				t.Errorf("concurrent request %d: status %d, want 200; body %s", i, r.status, truncate(string(r.body), 500))
				continue
			}
			djangoCheckIdentity(t, decodeEcho(t, r.body, "concurrent request"), alice, "concurrent request")
			if r.cookie != nil && r.cookie.MaxAge >= 0 && unused == "" {
				unused = djangoSessionCookie + "=" + r.cookie.Value
			}
		}
		after := dj.TokenCounts(t, "alice")
		if got := after.Refresh - before.Refresh; got != 1 {
			t.Errorf("%d requests after expiry made %d refreshes at DOT, want 1 (before %+v, after %+v)", n, got, before, after)
		}
		if unused == "" {
			t.Errorf("no refreshed-request response set a new %s cookie", djangoSessionCookie)
		}
		if failed > 0 {
			t.Logf("%d of %d concurrent requests failed", failed, n)
		}
	})

	t.Run("a revoked refresh token means logging in again", func(t *testing.T) {
		if unused == "" {
			t.Skip("no fresh session cookie from the previous step")
		}
		if n := dj.RevokeRefreshTokens(t, "alice"); n == 0 {
			t.Fatalf("alice had no live refresh token to revoke")
		}
		djangoWait(t, pastExpiry, "the access token expires (and hubgate's cache entry)")

		resp, body := djangoRequest(t, http.MethodGet, gate.URL+"/after-revoke", http.Header{
			"Cookie": {unused}, "Accept": {navigationAccept},
		})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, dj.AuthorizeURL()+"?") {
			t.Errorf("browser navigation with a revoked refresh token: status %d Location %q, want 302 to %s; body %s",
				resp.StatusCode, loc, dj.AuthorizeURL(), truncate(string(body), 500))
		} else if q := djangoMustParseURL(t, loc).Query(); q.Get("code_challenge_method") != "S256" || q.Get("state") == "" {
			t.Errorf("login redirect without PKCE or state: %s", loc)
		}

		resp, body = djangoRequest(t, http.MethodGet, gate.URL+"/api/after-revoke", http.Header{
			"Cookie": {unused}, "Accept": {"application/json"},
		})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("API request with a revoked refresh token: status %d, want 401; body %s", resp.StatusCode, truncate(string(body), 500))
		}
	})
	gate.CheckLogOmits(t, map[string]string{"client secret": dj.ClientSecret})
}

func djangoMustRequest(t testing.TB, method, rawURL string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func djangoMustParseURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
