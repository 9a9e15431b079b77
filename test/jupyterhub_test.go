//go:build integration

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestJupyterHub runs hubgate in front of the echo upstream, with a real
// JupyterHub 3.0 as the OAuth provider (external service mode). The subtests
// share one Hub and, in order, one logged-in browser for alice.
func TestJupyterHub(t *testing.T) {
	RequireHub(t, coreSuite)
	up := StartUpstream(t)
	gateAddr, staffAddr := freeAddr(t), freeAddr(t)
	hub := StartHub(t, HubConfig{Services: []HubService{
		{Name: "gate", OAuthRedirectURI: "http://" + gateAddr + "/oauth2/callback", OAuthNoConfirm: true},
		// No oauth_no_confirm: the Hub shows its "Authorize access" page.
		{Name: "gate-staff", OAuthRedirectURI: "http://" + staffAddr + "/oauth2/callback"},
	}})
	gateService := hub.Service(t, "gate")
	gate := StartHubgate(t, gateAddr, jupyterhubEnv(hub, gateService, up, gateAddr, nil))

	alice := NewBrowser(t, "alice")
	aliceToken := hub.CreateToken(t, "alice")
	// secrets must never show up in the log of the main hubgate.
	secrets := map[string]string{
		"client secret":     gateService.APIToken,
		"alice's API token": aliceToken.Token,
	}
	rememberCookies := func() {
		for _, u := range []string{gate.URL, hub.PublicURL} {
			for _, c := range alice.Cookies(u) {
				secrets["cookie "+c.Name+" for "+u] = c.Value
			}
		}
	}

	t.Run("unauthenticated navigation redirects to the Hub", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, gate.URL+"/hello", nil)
		req.Header.Set("Accept", navigationAccept)
		resp := send(t, noRedirects, req)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET /hello as a browser: status %d, want 302", resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := loc.Scheme+"://"+loc.Host+loc.Path, hub.PublicURL+"/hub/api/oauth2/authorize"; got != want {
			t.Errorf("redirect to %s, want %s", got, want)
		}
		q := loc.Query()
		for k, want := range map[string]string{
			"client_id":             gateService.ClientID(),
			"redirect_uri":          "http://" + gateAddr + "/oauth2/callback",
			"response_type":         "code",
			"code_challenge_method": "S256",
		} {
			if q.Get(k) != want {
				t.Errorf("authorize parameter %s = %q, want %q (Location %s)", k, q.Get(k), want, loc)
			}
		}
		if len(q.Get("state")) < 16 || len(q.Get("code_challenge")) < 43 {
			t.Errorf("state %q / code_challenge %q look too short", q.Get("state"), q.Get("code_challenge"))
		}
		if !slices.ContainsFunc(resp.Cookies(), func(c *http.Cookie) bool { return strings.HasPrefix(c.Name, "_hubgate") }) {
			t.Errorf("no _hubgate state cookie set; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
		}
	})

	t.Run("browser login as alice", func(t *testing.T) {
		page := alice.Open(gate.URL + "/hello?x=1")
		if page.StatusCode != http.StatusOK || !page.LoggedIn {
			t.Fatalf("want 200 after a Hub login\n%s", page)
		}
		if page.URL.Host != gateAddr || page.URL.Path != "/hello" || page.URL.RawQuery != "x=1" {
			t.Errorf("landed on %s, want http://%s/hello?x=1", page.URL, gateAddr)
		}
		e := decodeEcho(t, page.Body, "after login")
		if e.Path != "/hello" || e.RawQuery != "x=1" {
			t.Errorf("upstream saw %s?%s, want /hello?x=1", e.Path, e.RawQuery)
		}
		checkIdentity(t, e, "alice", "staff", "false")

		again := alice.Open(gate.URL + "/again")
		if again.StatusCode != http.StatusOK || again.LoggedIn || len(again.Trail) != 1 {
			t.Fatalf("second request should be served from the session without the Hub\n%s", again)
		}
		checkIdentity(t, decodeEcho(t, again.Body, "second request"), "alice", "staff", "false")
		rememberCookies()
	})

	t.Run("userinfo", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, gate.URL+"/oauth2/userinfo", nil)
		req.Header.Set("Accept", "application/json")
		page := alice.Do(req)
		var info struct {
			User   string   `json:"user"`
			Groups []string `json:"groups"`
			Admin  bool     `json:"admin"`
		}
		if page.StatusCode != http.StatusOK || json.Unmarshal(page.Body, &info) != nil {
			t.Fatalf("want userinfo JSON\n%s", page)
		}
		if info.User != "alice" || !slices.Contains(info.Groups, "staff") || info.Admin {
			t.Errorf("userinfo %+v, want alice in staff, not admin", info)
		}
	})

	t.Run("forged identity headers and hubgate cookies never reach the upstream", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, gate.URL+"/forged", nil)
		req.Header["X-Forwarded-User"] = []string{"admin"}
		req.Header["X_Forwarded_User"] = []string{"admin"}
		req.Header["x-forwarded-user"] = []string{"admin"}
		req.Header["X-Forwarded-Groups"] = []string{"admins"}
		req.Header["x_forwarded_groups"] = []string{"admins"}
		req.Header["X-Forwarded-Admin"] = []string{"true"}
		req.Header["X_FORWARDED_ADMIN"] = []string{"true"}
		page := alice.Do(req)
		if page.StatusCode != http.StatusOK {
			t.Fatalf("want 200\n%s", page)
		}
		e := decodeEcho(t, page.Body, "forged headers")
		checkIdentity(t, e, "alice", "staff", "false")
		for name := range e.Cookies {
			if strings.HasPrefix(name, "_hubgate") {
				t.Errorf("upstream received hubgate's cookie %s", name)
			}
		}
	})

	t.Run("API token in the Authorization header", func(t *testing.T) {
		for _, scheme := range []string{"token", "Bearer"} {
			resp, body := get(t, gate.URL+"/api/data", scheme+" "+aliceToken.Token)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("Authorization: %s <alice's token>: status %d, want 200; body %s", scheme, resp.StatusCode, body)
			}
			checkIdentity(t, decodeEcho(t, body, scheme), "alice", "staff", "false")
		}
		resp, body := get(t, gate.URL+"/api/data", "token not-a-real-token-0123456789")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("bad token: status %d, want 401; body %s", resp.StatusCode, body)
		}
		resp, body = get(t, gate.URL+"/api/data", "")
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
			t.Errorf("no credentials, not a navigation: status %d (Location %q), want 401 without redirect; body %s",
				resp.StatusCode, resp.Header.Get("Location"), body)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("401 Content-Type %q, want JSON", ct)
		}
	})

	t.Run("websocket echo", func(t *testing.T) {
		cookies := make([]string, 0)
		for _, c := range alice.Cookies(gate.URL) {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		for name, header := range map[string]http.Header{
			"token header":   {"Authorization": {"token " + aliceToken.Token}},
			"session cookie": {"Cookie": {strings.Join(cookies, "; ")}},
		} {
			checkWebSocketEcho(t, name, gate.URL+"/ws", "alice", header)
		}
	})

	t.Run("ready", func(t *testing.T) {
		if err := httpStatusIs(gate.URL+"/ready", http.StatusOK)(); err != nil {
			t.Error(err)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		page := alice.Open(gate.URL + "/oauth2/sign_out")
		if page.StatusCode >= 400 {
			t.Fatalf("sign out failed\n%s", page)
		}
		req, _ := http.NewRequest(http.MethodGet, gate.URL+"/after-sign-out", nil)
		req.Header.Set("Accept", "application/json")
		if after := alice.Do(req); after.StatusCode != http.StatusUnauthorized {
			t.Errorf("after sign out: want 401\n%s", after)
		}
	})

	t.Run("only staff may pass", func(t *testing.T) {
		staffService := hub.Service(t, "gate-staff")
		staff := StartHubgate(t, staffAddr, jupyterhubEnv(hub, staffService, up, staffAddr,
			map[string]string{"HUBGATE_ALLOWED_GROUPS": "staff"}))

		page := NewBrowser(t, "bob").Open(staff.URL + "/hello")
		if page.StatusCode != http.StatusForbidden || !page.LoggedIn || !page.Authorized {
			t.Errorf("bob (not in staff): want 403 after login and consent\n%s", page)
		}
		page = NewBrowser(t, "alice").Open(staff.URL + "/hello")
		if page.StatusCode != http.StatusOK || !page.LoggedIn || !page.Authorized {
			t.Fatalf("alice (staff): want 200 after login and consent\n%s", page)
		}
		checkIdentity(t, decodeEcho(t, page.Body, "alice via gate-staff"), "alice", "staff", "false")

		bobToken := hub.CreateToken(t, "bob")
		if resp, body := get(t, staff.URL+"/api", "token "+bobToken.Token); resp.StatusCode != http.StatusForbidden {
			t.Errorf("bob's token: status %d, want 403; body %s", resp.StatusCode, body)
		}
		staff.CheckLogOmits(t, map[string]string{"client secret": staffService.APIToken, "bob's token": bobToken.Token})
	})

	t.Run("revoked token is refused within the cache TTL", func(t *testing.T) {
		const ttl = 2 * time.Second
		addr := freeAddr(t)
		g := StartHubgate(t, addr, jupyterhubEnv(hub, gateService, up, addr,
			map[string]string{"HUBGATE_CACHE_TTL": ttl.String()}))
		tok := hub.CreateToken(t, "alice")
		if resp, body := get(t, g.URL+"/cached", "token "+tok.Token); resp.StatusCode != http.StatusOK {
			t.Fatalf("fresh token: status %d, want 200; body %s", resp.StatusCode, body)
		}
		hub.RevokeToken(t, tok)
		revoked := time.Now()
		var last int
		for time.Since(revoked) < ttl+3*time.Second {
			resp, _ := get(t, g.URL+"/cached", "token "+tok.Token)
			if last == 0 {
				// 200 (served from the cache) or 401 are both fine here.
				t.Logf("right after revocation: status %d", resp.StatusCode)
			}
			last = resp.StatusCode
			if last == http.StatusUnauthorized {
				t.Logf("revoked token refused %v after revocation (TTL %v)", time.Since(revoked).Round(10*time.Millisecond), ttl)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if last != http.StatusUnauthorized {
			t.Errorf("revoked token still gets %d after %v (TTL %v), want 401", last, time.Since(revoked).Round(time.Millisecond), ttl)
		}
		g.CheckLogOmits(t, map[string]string{"revoked token": tok.Token})
	})

	t.Run("concurrent first requests share one Hub lookup", func(t *testing.T) {
		const n = 64
		counter := StartCountingProxy(t, hub.APIURL)
		addr := freeAddr(t)
		g := StartHubgate(t, addr, jupyterhubEnv(hub, gateService, up, addr,
			map[string]string{"HUBGATE_HUB_API_URL": counter.URL + "/hub/api"}))
		tok := hub.CreateToken(t, "alice")

		start := make(chan struct{})
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequest(http.MethodGet, g.URL+"/burst", nil)
				req.Header.Set("Authorization", "token "+tok.Token)
				req.Header.Set("Accept", "application/json")
				resp, err := concurrentClient.Do(req)
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		close(start)
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusOK {
				t.Errorf("request %d: status %d, want 200", i, s)
			}
		}
		if got := counter.Count(http.MethodGet, "/hub/api/user", tok.Token); got != 1 {
			t.Errorf("%d concurrent requests made %d GET /hub/api/user calls with the token, want 1\nall calls:\n%s",
				n, got, counter.Summary())
		}
		g.CheckLogOmits(t, map[string]string{"burst token": tok.Token})
	})

	t.Run("Hub down gives 502", func(t *testing.T) {
		addr := freeAddr(t)
		deadHub := "http://" + freeAddr(t) + "/hub/api" // nothing listens there
		g := StartHubgate(t, addr, jupyterhubEnv(hub, gateService, up, addr,
			map[string]string{"HUBGATE_HUB_API_URL": deadHub}))
		if resp, body := get(t, g.URL+"/api", "token "+aliceToken.Token); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("token request with the Hub down: status %d, want 502; body %s", resp.StatusCode, body)
		}
		if resp, _ := get(t, g.URL+"/ready", ""); resp.StatusCode == http.StatusOK {
			t.Errorf("/ready is 200 with the Hub down")
		}
	})

	t.Run("logs hold no secrets", func(t *testing.T) {
		rememberCookies()
		gate.CheckLogOmits(t, secrets)
	})
}

// TestJupyterHubManagedService lets the Hub start hubgate as its managed
// service "gate" with only HUBGATE_UPSTREAM (and the log format) set: the
// browser goes through the Hub's proxy at /services/gate/.
func TestJupyterHubManagedService(t *testing.T) {
	RequireHub(t, coreSuite)
	up := StartUpstream(t)
	bin := HubgateBinary(t)
	serviceAddr := freeAddr(t)
	hub := StartHub(t, HubConfig{Services: []HubService{{
		Name:           "gate",
		URL:            "http://" + serviceAddr,
		Command:        []string{bin},
		OAuthNoConfirm: true,
		Environment: map[string]string{
			"HUBGATE_UPSTREAM":   up.URL,
			"HUBGATE_LOG_FORMAT": "console",
		},
	}}})
	if err := waitFor(hubgateStartTimeout, hub.proc, httpStatusIs("http://"+serviceAddr+"/ping", http.StatusOK)); err != nil {
		t.Fatalf("managed hubgate did not come up at %s: %v", serviceAddr, err)
	}

	t.Run("browser login through the Hub's proxy", func(t *testing.T) {
		page := NewBrowser(t, "alice").Open(hub.PublicURL + "/services/gate/hello")
		if page.StatusCode != http.StatusOK || !page.LoggedIn {
			t.Fatalf("want 200 after a Hub login\n%s", page)
		}
		if got, want := page.URL.String(), hub.PublicURL+"/services/gate/hello"; got != want {
			t.Errorf("landed on %s, want %s", got, want)
		}
		e := decodeEcho(t, page.Body, "managed service")
		if e.Path != "/services/gate/hello" {
			t.Errorf("upstream saw path %s, want /services/gate/hello", e.Path)
		}
		checkIdentity(t, e, "alice", "staff", "false")
	})

	t.Run("API token and websocket through the Hub's proxy", func(t *testing.T) {
		tok := hub.CreateToken(t, "alice")
		resp, body := get(t, hub.PublicURL+"/services/gate/api", "token "+tok.Token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token request: status %d, want 200; body %s", resp.StatusCode, body)
		}
		checkIdentity(t, decodeEcho(t, body, "managed, token"), "alice", "staff", "false")
		checkWebSocketEcho(t, "managed", hub.PublicURL+"/services/gate/ws", "alice",
			http.Header{"Authorization": {"token " + tok.Token}})
	})
}

// jupyterhubEnv is the environment of an external hubgate for a Hub service.
// HUBGATE_REDIRECT_URL must match the service's oauth_redirect_uri for
// browser logins; token-only instances may reuse another service's client.
func jupyterhubEnv(hub *Hub, s HubService, up *Upstream, addr string, extra map[string]string) map[string]string {
	env := map[string]string{
		"HUBGATE_UPSTREAM":      up.URL,
		"HUBGATE_PROVIDER":      "jupyterhub",
		"HUBGATE_HUB_URL":       hub.PublicURL,
		"HUBGATE_HUB_API_URL":   hub.APIURL,
		"HUBGATE_CLIENT_ID":     s.ClientID(),
		"HUBGATE_CLIENT_SECRET": s.APIToken,
		"HUBGATE_REDIRECT_URL":  "http://" + addr + "/oauth2/callback",
		"HUBGATE_COOKIE_SECRET": randomSecret(),
		"HUBGATE_LOG_FORMAT":    "console",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}
