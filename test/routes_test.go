//go:build integration

package integration

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// routeApps are the three apps of the routes tests, each behind its own route:
// staff (the echo app, group staff only), chat (the echo app with its WebSocket,
// strip_prefix, groups students and staff) and docs (a static site, public, at /).
type routeApps struct{ staff, chat, docs *routeApp }

// The docs site's pages.
const (
	docsHome  = "<h1>hubgate routes test: docs home</h1>\n"
	docsGuide = "<h1>hubgate routes test: getting started</h1>\n"
)

func startRouteApps(t testing.TB) routeApps {
	return routeApps{
		staff: startEchoApp(t),
		chat:  startEchoApp(t),
		docs:  startStaticSite(t, map[string]string{"index.html": docsHome, "docs/index.html": docsGuide}),
	}
}

// routesYAML is the routes key (HUBGATE_ROUTES) for the three apps.
func (a routeApps) routesYAML() string {
	return fmt.Sprintf(`
- name: staff
  path: /staff
  upstream: %s
  allowed_groups: [staff]
- name: chat
  path: /chat
  upstream: %s
  strip_prefix: true
  allowed_groups: [students, staff]
- name: docs
  path: /
  upstream: %s
  public: true
`, a.staff.URL, a.chat.URL, a.docs.URL)
}

// counts is how many requests each app has received.
func (a routeApps) counts() [3]int { return [3]int{a.staff.Count(), a.chat.Count(), a.docs.Count()} }

// startRoutesHub starts a Hub with alice in group staff, bob in group students and
// carol in none, and one service "gate" whose OAuth callback is callback.
func startRoutesHub(t testing.TB, callback string) (*Hub, HubService) {
	hub := StartHub(t, HubConfig{
		Users:    []string{"alice", "bob", "carol"},
		Groups:   map[string][]string{"staff": {"alice"}, "students": {"bob"}},
		Services: []HubService{{Name: "gate", OAuthRedirectURI: callback, OAuthNoConfirm: true}},
	})
	return hub, hub.Service(t, "gate")
}

// routesGateEnv is the environment of a hubgate serving apps' routes for the Hub
// service s, with its callback at callback. With routes there is no top-level
// upstream; the access log is JSON, to be read field by field.
func routesGateEnv(hub *Hub, s HubService, apps routeApps, callback string, extra map[string]string) map[string]string {
	env := jupyterhubEnv(hub, s, &Upstream{URL: apps.staff.URL}, "", extra)
	delete(env, "HUBGATE_UPSTREAM")
	env["HUBGATE_REDIRECT_URL"] = callback
	env["HUBGATE_ROUTES"] = apps.routesYAML()
	env["HUBGATE_LOG_FORMAT"] = "json"
	return env
}

// identityHeaders are the headers that carry an identity to an app, hubgate's and
// nginx's; forgedIdentity is a client's copy of each, in several spellings.
var (
	identityHeaders = []string{
		"X-Forwarded-User", "X-Forwarded-Groups", "X-Forwarded-Email", "X-Forwarded-Preferred-Username",
		"X-Forwarded-Admin", "X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Groups",
	}
	forgedIdentity = http.Header{
		"X-Forwarded-User":    {"mallory"},
		"x-forwarded-user":    {"mallory"},
		"X_Forwarded_User":    {"mallory"},
		"X-Forwarded-Groups":  {"mallory-staff"},
		"X-Forwarded-Email":   {"mallory@example.org"},
		"X-Forwarded-Admin":   {"mallory-true"},
		"X-Auth-Request-User": {"mallory"},
	}
)

// checkNoIdentity fails if the app saw an identity header or a client's forged
// copy of one (any header value with "mallory").
func checkNoIdentity(t testing.TB, what string, e EchoedRequest) {
	t.Helper()
	for _, name := range identityHeaders {
		if got := e.HeaderValues(name); len(got) != 0 {
			t.Errorf("%s: the app received %s %q, want none", what, name, got)
		}
	}
	for name, values := range e.Header {
		for _, v := range values {
			if strings.Contains(v, "mallory") {
				t.Errorf("%s: the client's %s: %q reached the app", what, name, v)
			}
		}
	}
}

// checkNoHubgateCookie fails if hubgate passed one of its cookies to the app.
func checkNoHubgateCookie(t testing.TB, what string, e EchoedRequest) {
	t.Helper()
	for name := range e.Cookies {
		if strings.HasPrefix(name, "_hubgate") {
			t.Errorf("%s: the app received hubgate's cookie %s", what, name)
		}
	}
}

// openDocs opens a page of the docs site with b and checks that it is the site's
// page want, served from b's session or without one (no login on the way), and that
// the docs app was told no identity.
func openDocs(t testing.TB, b *Browser, rawURL, want string, docs *routeApp) {
	t.Helper()
	page := b.Open(rawURL)
	if page.StatusCode != http.StatusOK || page.LoggedIn || string(page.Body) != want {
		t.Errorf("%s at %s: want the docs site's page %q\n%s", b.Username, rawURL, want, page)
		return
	}
	checkNoIdentity(t, b.Username+" at "+rawURL, docs.Last(t))
}

// forgedGet is a GET for rawURL with Accept accept and forgedIdentity's headers.
func forgedGet(rawURL, accept string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	for k, vs := range forgedIdentity {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", accept)
	return req
}

// checkWebSocketRefused checks that a websocket handshake at rawURL with header is
// answered status.
func checkWebSocketRefused(t testing.TB, name, rawURL string, header http.Header, status int) {
	t.Helper()
	_, resp, err := dialWebSocket(rawURL, header)
	if err == nil || resp == nil || resp.StatusCode != status {
		t.Errorf("%s: %v, want %d", name, err, status)
	}
}

// pathTricks are request targets that read as /docs/ or /chat/ to a naive
// prefix match and as /staff/ once dot segments, encoded dots or slashes,
// backslashes, ";" parameters or a second decoding are taken into account.
var pathTricks = []string{
	"/docs/../staff/report",
	"/docs/./../staff/report",
	"/docs/%2e%2e/staff/report",
	"/docs/%2E%2E/staff/report",
	"/docs/.%2e/staff/report",
	"/docs/..%2Fstaff/report",
	"/docs%2F..%2Fstaff%2Freport",
	"/docs/..%5Cstaff/report",
	"/docs/..;/staff/report",
	"/docs/%252e%252e/staff/report",
	"/chat/../staff/report",
	"/chat/%2e%2e/staff/report",
	"/chat/..%2Fstaff/report",
}

// TestRoutesHub runs one hubgate in front of three apps with a real JupyterHub:
// staff (group staff), chat (a WebSocket app, strip_prefix, groups students and
// staff) and docs (a static site at /, public). One login serves every route, each
// route decides for itself, and a path that reads as another route is refused.
// The subtests run in order and share the browsers.
func TestRoutesHub(t *testing.T) {
	RequireHub(t, coreSuite)
	t.Parallel()
	apps := startRouteApps(t)
	gateAddr, metricsAddr := freeAddr(t), freeAddr(t)
	callback := "http://" + gateAddr + "/oauth2/callback"
	hub, svc := startRoutesHub(t, callback)
	gate := StartHubgate(t, gateAddr, routesGateEnv(hub, svc, apps, callback, map[string]string{
		"HUBGATE_METRICS_LISTEN": metricsAddr,
	}))
	authorizeURL := hub.PublicURL + "/hub/api/oauth2/authorize"
	alice, bob := NewBrowser(t, "alice"), NewBrowser(t, "bob")
	aliceIn, bobIn := false, false

	t.Run("staff: one login reaches /staff, /chat and its websocket, and /", func(t *testing.T) {
		page := staffAfterLogin(t, alice, gate.URL+"/staff/report?x=1")
		e := decodeEcho(t, page.Body, "alice at /staff/")
		if e.Path != "/staff/report" || e.RawQuery != "x=1" {
			t.Errorf("the staff app saw %s?%s, want /staff/report?x=1 (no strip_prefix)", e.Path, e.RawQuery)
		}
		checkIdentity(t, e, "alice", "staff", "false")
		if got := apps.staff.Last(t); got.Path != "/staff/report" {
			t.Errorf("the staff app's last request is %s, want /staff/report", got.Path)
		}
		aliceIn = true

		before := apps.counts()
		page = alice.Open(gate.URL + "/chat/room/1?y=2")
		if page.StatusCode != http.StatusOK || page.LoggedIn || len(page.Trail) != 1 {
			t.Fatalf("alice at /chat/: want 200 from her session, without another login\n%s", page)
		}
		e = decodeEcho(t, page.Body, "alice at /chat/")
		if e.Path != "/room/1" || e.RawQuery != "y=2" {
			t.Errorf("the chat app saw %s?%s, want /room/1?y=2 (strip_prefix)", e.Path, e.RawQuery)
		}
		if got := e.HeaderValues("X-Forwarded-Prefix"); !slices.Equal(got, []string{"/chat"}) {
			t.Errorf("the chat app saw X-Forwarded-Prefix %q, want [/chat]", got)
		}
		checkIdentity(t, e, "alice", "staff", "false")
		if after := apps.counts(); after != [3]int{before[0], before[1] + 1, before[2]} {
			t.Errorf("requests per app (staff, chat, docs) went from %v to %v, want one more at chat", before, after)
		}

		checkWebSocketEcho(t, "alice at /chat/ws", gate.URL+"/chat/ws", "alice",
			http.Header{"Cookie": {faultCookieHeader(alice, gate.URL)}})
		if got := apps.chat.Last(t); got.Path != "/ws" {
			t.Errorf("the chat app's handshake came to %s, want /ws", got.Path)
		}

		openDocs(t, alice, gate.URL+"/", docsHome, apps.docs)
		checkNoHubgateCookie(t, "alice at the public /", apps.docs.Last(t))
	})

	t.Run("student: 403 at /staff, in at /chat, its websocket and /docs/", func(t *testing.T) {
		before := apps.staff.Count()
		page := bob.Open(gate.URL + "/staff/report")
		if page.StatusCode != http.StatusForbidden || !page.LoggedIn {
			t.Errorf("bob (students) at /staff/: want 403 after the login\n%s", page)
		}
		if got, want := page.URL.String(), gate.URL+"/staff/report"; got != want {
			t.Errorf("bob landed on %s, want %s", got, want)
		}
		if n := apps.staff.Count(); n != before {
			t.Errorf("the staff app received %d requests for bob, want none", n-before)
		}

		e := chatFromSession(t, bob, gate.URL)
		checkIdentity(t, e, "bob", "students", "false")
		bobIn = true

		checkWebSocketEcho(t, "bob at /chat/ws", gate.URL+"/chat/ws", "bob",
			http.Header{"Cookie": {faultCookieHeader(bob, gate.URL)}})
		checkWebSocketRefused(t, "bob's websocket at /staff/ws", gate.URL+"/staff/ws",
			http.Header{"Cookie": {faultCookieHeader(bob, gate.URL)}}, http.StatusForbidden)

		openDocs(t, bob, gate.URL+"/docs/", docsGuide, apps.docs)
		checkNoHubgateCookie(t, "bob at the public /docs/", apps.docs.Last(t))
	})

	t.Run("a user no protected route lets in is refused at the login; docs stay open", func(t *testing.T) {
		carol := NewBrowser(t, "carol")
		before := apps.counts()
		page := carol.Open(gate.URL + "/chat/hello")
		if page.StatusCode != http.StatusForbidden || !page.LoggedIn {
			t.Errorf("carol (no group) at /chat/: want 403 after the login\n%s", page)
		}
		openDocs(t, carol, gate.URL+"/docs/", docsGuide, apps.docs)
		if after := apps.counts(); after != [3]int{before[0], before[1], before[2] + 1} {
			t.Errorf("requests per app (staff, chat, docs) went from %v to %v, want only one more at docs", before, after)
		}
	})

	t.Run("without a session: docs served without identity, forged headers stripped; the rest asks for a login", func(t *testing.T) {
		for _, accept := range []string{navigationAccept, "application/json"} {
			resp, body := readAll(t, noRedirects, forgedGet(gate.URL+"/docs/", accept))
			if resp.StatusCode != http.StatusOK || string(body) != docsGuide {
				t.Errorf("GET /docs/ without a session (Accept %s): status %d, body %q, want the docs page", accept, resp.StatusCode, body)
			}
			checkNoIdentity(t, "anonymous at /docs/ with forged headers", apps.docs.Last(t))
		}

		before := apps.counts()
		for _, path := range []string{"/staff/report", "/chat/hello"} {
			checkLoginRedirect(t, send(t, noRedirects, forgedGet(gate.URL+path, navigationAccept)), authorizeURL, svc.ClientID(), callback)
			resp, body := get(t, gate.URL+path, "")
			checkAPI401(t, "GET "+path+" without a session", resp, body)
		}
		checkWebSocketRefused(t, "a websocket at /chat/ws without a session", gate.URL+"/chat/ws", nil, http.StatusUnauthorized)
		if after := apps.counts(); after != before {
			t.Errorf("requests per app (staff, chat, docs) went from %v to %v without a session, want no change", before, after)
		}
	})

	t.Run("a path that reads as /staff/ another way is 400 and reaches no app", func(t *testing.T) {
		if !bobIn {
			t.Fatal("needs bob's login from an earlier subtest")
		}
		before := apps.counts()
		sessions := map[string]http.Header{
			"no session":      {"Accept": {"application/json"}},
			"bob's session":   {"Accept": {"application/json"}, "Cookie": {faultCookieHeader(bob, gate.URL)}},
			"a browser's nav": {"Accept": {navigationAccept}},
		}
		for _, target := range pathTricks {
			for who, header := range sessions {
				resp, body := rawGet(t, gateAddr, target, header)
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("GET %s (%s): status %d, want 400; body %s", target, who, resp.StatusCode, truncate(string(body), 300))
				}
			}
		}
		if after := apps.counts(); after != before {
			t.Errorf("requests per app (staff, chat, docs) went from %v to %v, want no change: %v", before, after, seenPaths(apps))
		}

		// A prefix is matched at "/" boundaries: /staffroom is the docs site's.
		resp, _ := rawGet(t, gateAddr, "/staffroom/", http.Header{"Accept": {"application/json"}})
		if resp.StatusCode != http.StatusNotFound || apps.docs.Last(t).Path != "/staffroom/" || apps.staff.Count() != before[0] {
			t.Errorf("GET /staffroom/: status %d, docs app's last path %s, want the docs site's 404", resp.StatusCode, apps.docs.Last(t).Path)
		}
	})

	t.Run("metrics count requests by route_name", func(t *testing.T) {
		if !aliceIn || !bobIn {
			t.Fatal("needs the logins of the earlier subtests")
		}
		m := scrapeFault(t, metricsAddr)
		for _, c := range []struct {
			labels map[string]string
			min    float64
		}{
			{map[string]string{"route_name": "staff", "route": "protected", "code": "200"}, 1},
			{map[string]string{"route_name": "staff", "route": "protected", "code": "403"}, 2}, // bob's page and websocket
			{map[string]string{"route_name": "staff", "route": "protected", "code": "302"}, 2}, // alice's login, the anonymous page
			{map[string]string{"route_name": "chat", "route": "protected", "code": "200"}, 2},
			{map[string]string{"route_name": "chat", "route": "protected", "code": "401"}, 2},
			{map[string]string{"route_name": "docs", "route": "skipped", "code": "200"}, 5},
			{map[string]string{"route_name": "docs", "route": "skipped", "code": "404"}, 1},
		} {
			if got, ok := m.Get("hubgate_requests_total", c.labels); !ok || got < c.min {
				t.Errorf("hubgate_requests_total%v = %v (present %v), want at least %v", c.labels, got, ok, c.min)
			}
		}
		// Two websocket handshakes, counted as what they answered: 101.
		if got, _ := m.Get("hubgate_requests_total", map[string]string{"route_name": "chat", "code": "101"}); got < 2 {
			t.Errorf(`hubgate_requests_total{route_name="chat",code="101"} = %v, want at least 2`, got)
		}
		want := float64(len(pathTricks) * 3)
		if got, _ := m.Get("hubgate_requests_total", map[string]string{"route_name": "", "code": "400"}); got != want {
			t.Errorf(`hubgate_requests_total{route_name="",code="400"} = %v, want %v (the path tricks)`, got, want)
		}
		if t.Failed() {
			t.Logf("hubgate metrics:\n%s", m.Grep("hubgate_requests_total"))
		}
	})

	t.Run("the access log names the route", func(t *testing.T) {
		// A request no route serves has no route field.
		for _, c := range []struct{ path, route, user, status string }{
			{"/staff/report", "staff", `"alice"`, "200"},
			{"/staff/report", "staff", `"bob"`, "403"},
			{"/chat/room/1", "chat", `"alice"`, "200"},
			{"/chat/ws", "chat", `"bob"`, "101"},
			{"/docs/", "docs", "", "200"},
			{"/docs/../staff/report", "", "", "400"},
		} {
			parts := []string{`"msg":"request"`, `"path":"` + c.path + `"`}
			if c.route != "" {
				parts = append(parts, `"route":"`+c.route+`"`)
			}
			if c.status != "" {
				parts = append(parts, `"status":`+c.status+`,`)
			}
			if c.user != "" {
				parts = append(parts, `"user":`+c.user)
			}
			waitLogLines(t, gate, parts...)
		}
	})

	t.Run("logs hold no secrets", func(t *testing.T) {
		secrets := map[string]string{"client secret": svc.APIToken}
		for _, b := range []*Browser{alice, bob} {
			for _, c := range b.Cookies(gate.URL) {
				secrets[b.Username+"'s cookie "+c.Name] = c.Value
			}
		}
		gate.CheckLogOmits(t, secrets)
	})
}

// seenPaths lists the paths each app received, for messages.
func seenPaths(apps routeApps) string {
	var b strings.Builder
	for name, a := range map[string]*routeApp{"staff": apps.staff, "chat": apps.chat, "docs": apps.docs} {
		var paths []string
		for _, e := range a.Seen() {
			paths = append(paths, e.Path)
		}
		fmt.Fprintf(&b, "%s: %q; ", name, paths)
	}
	return b.String()
}

// TestRoutesNginx runs the same three routes behind a real nginx
// (testdata/routes-nginx.conf.tmpl), with hubgate answering auth_request only:
// per location ?route=staff and ?route=chat, or no route parameter and hubgate
// choosing by the X-Forwarded-Uri and -Host nginx sets. A real JupyterHub logs
// the users in, through nginx. The subtests run in order and share the browsers.
func TestRoutesNginx(t *testing.T) {
	RequireHub(t, coreSuite)
	t.Parallel()
	requireNginx(t)
	apps := startRouteApps(t)
	nginxAddr, gateAddr := freeAddr(t), freeAddr(t)
	callback := "http://" + nginxAddr + "/oauth2/callback"
	hub, svc := startRoutesHub(t, callback)
	gate := StartHubgate(t, gateAddr, routesGateEnv(hub, svc, apps, callback, nil))
	ngx := startRoutesNginx(t, routesNginxSite{Listen: nginxAddr, Hubgate: gateAddr,
		Staff: apps.staff.Addr, Chat: apps.chat.Addr, Docs: apps.docs.Addr})
	authorizeURL := hub.PublicURL + "/hub/api/oauth2/authorize"
	aliceID := nginxIdentity{User: "alice", Groups: []string{"staff"}}
	bobID := nginxIdentity{User: "bob", Groups: []string{"students"}}
	alice, bob := NewBrowser(t, "alice"), NewBrowser(t, "bob")
	aliceIn, bobIn := false, false

	t.Run("staff: one login through nginx reaches /staff, /chat and its websocket, and /", func(t *testing.T) {
		page := staffAfterLogin(t, alice, ngx.URL+"/staff/report?x=1&y=a%26b")
		checkHop(t, page, "GET "+ngx.URL+"/staff/report", "302", authorizeURL+"?")
		e := decodeEcho(t, page.Body, "alice at /staff/")
		if e.Path != "/staff/report" || e.RawQuery != "x=1&y=a%26b" {
			t.Errorf("the staff app saw %s?%s, want /staff/report?x=1&y=a%%26b", e.Path, e.RawQuery)
		}
		checkNginxIdentity(t, e, aliceID)
		aliceIn = true

		page = alice.Open(ngx.URL + "/staff/by-uri/page")
		if page.StatusCode != http.StatusOK || len(page.Trail) != 1 {
			t.Fatalf("alice at /staff/by-uri/ (route from X-Forwarded-Uri): want 200 from her session\n%s", page)
		}
		checkNginxIdentity(t, decodeEcho(t, page.Body, "alice at /staff/by-uri/"), aliceID)

		before := apps.counts()
		page = alice.Open(ngx.URL + "/chat/room/1")
		if page.StatusCode != http.StatusOK || len(page.Trail) != 1 {
			t.Fatalf("alice at /chat/: want 200 from her session, without another login\n%s", page)
		}
		e = decodeEcho(t, page.Body, "alice at /chat/")
		if e.Path != "/room/1" {
			t.Errorf("the chat app saw %s, want /room/1 (nginx strips /chat/)", e.Path)
		}
		checkNginxIdentity(t, e, aliceID)
		if after := apps.counts(); after != [3]int{before[0], before[1] + 1, before[2]} {
			t.Errorf("requests per app (staff, chat, docs) went from %v to %v, want one more at chat", before, after)
		}
		checkWebSocketEcho(t, "alice at /chat/ws", ngx.URL+"/chat/ws", "alice",
			http.Header{"Cookie": {faultCookieHeader(alice, ngx.URL)}})

		openDocs(t, alice, ngx.URL+"/", docsHome, apps.docs)
	})

	t.Run("student: 403 at /staff, in at /chat, its websocket and /docs/", func(t *testing.T) {
		before := apps.staff.Count()
		page := bob.Open(ngx.URL + "/staff/report")
		if page.StatusCode != http.StatusForbidden || !page.LoggedIn {
			t.Errorf("bob (students) at /staff/: want 403 after the login\n%s", page)
		}
		page = bob.Open(ngx.URL + "/staff/by-uri/page")
		if page.StatusCode != http.StatusForbidden || len(page.Trail) != 1 {
			t.Errorf("bob at /staff/by-uri/: want 403 from his session\n%s", page)
		}
		if n := apps.staff.Count(); n != before {
			t.Errorf("the staff app received %d requests for bob, want none", n-before)
		}

		e := chatFromSession(t, bob, ngx.URL)
		checkNginxIdentity(t, e, bobID)
		bobIn = true
		cookie := http.Header{"Cookie": {faultCookieHeader(bob, ngx.URL)}}
		checkWebSocketEcho(t, "bob at /chat/ws", ngx.URL+"/chat/ws", "bob", cookie)
		checkWebSocketRefused(t, "bob's websocket at /staff/ws", ngx.URL+"/staff/ws", cookie, http.StatusForbidden)
		openDocs(t, bob, ngx.URL+"/docs/", docsGuide, apps.docs)
	})

	t.Run("without a session: docs open, forged headers stripped; the rest 401 or the login", func(t *testing.T) {
		resp, body := readAll(t, noRedirects, forgedGet(ngx.URL+"/docs/", navigationAccept))
		if resp.StatusCode != http.StatusOK || string(body) != docsGuide {
			t.Errorf("GET /docs/ without a session: status %d, body %q, want the docs page", resp.StatusCode, body)
		}
		checkNoIdentity(t, "anonymous at /docs/ through nginx, with forged headers", apps.docs.Last(t))

		before := apps.counts()
		for _, path := range []string{"/staff/report?a=1", "/staff/by-uri/x", "/chat/hello"} {
			resp, body := get(t, ngx.URL+path, "")
			checkAPI401(t, "GET "+path+" without a session", resp, body)
			checkLoginRedirect(t, send(t, noRedirects, forgedGet(ngx.URL+path, navigationAccept)), authorizeURL, svc.ClientID(), callback)
		}
		checkWebSocketRefused(t, "a websocket at /chat/ws without a session", ngx.URL+"/chat/ws", nil, http.StatusUnauthorized)
		if after := apps.counts(); after != before {
			t.Errorf("requests per app (staff, chat, docs) went from %v to %v without a session, want no change", before, after)
		}
	})

	t.Run("the auth endpoint: 202, 401, 403 by route; 404 for no such route", func(t *testing.T) {
		if !aliceIn || !bobIn {
			t.Fatal("needs the logins of the earlier subtests")
		}
		ask := func(query string, header http.Header) (*http.Response, []byte) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, gate.URL+"/oauth2/auth"+query, nil)
			req.Header.Set("Accept", "application/json")
			for k, vs := range header {
				req.Header[k] = vs
			}
			return readAll(t, noRedirects, req)
		}
		aliceCookie := http.Header{"Cookie": {faultCookieHeader(alice, ngx.URL)}}
		bobCookie := http.Header{"Cookie": {faultCookieHeader(bob, ngx.URL)}}
		uri := func(h http.Header, u string) http.Header {
			h = h.Clone()
			if h == nil {
				h = http.Header{}
			}
			h.Set("X-Forwarded-Uri", u)
			h.Set("X-Forwarded-Host", nginxAddr)
			return h
		}
		for _, c := range []struct {
			what, query string
			header      http.Header
			status      int
			user        string // X-Auth-Request-User of a 202
		}{
			{"alice, ?route=staff", "?route=staff", aliceCookie, http.StatusAccepted, "alice"},
			{"bob, ?route=staff", "?route=staff", bobCookie, http.StatusForbidden, ""},
			{"no session, ?route=staff", "?route=staff", nil, http.StatusUnauthorized, ""},
			{"bob, ?route=chat", "?route=chat", bobCookie, http.StatusAccepted, "bob"},
			{"no session, ?route=docs", "?route=docs", nil, http.StatusAccepted, ""},
			{"alice, ?route=docs", "?route=docs", aliceCookie, http.StatusAccepted, ""},
			{"alice, ?route=nosuch", "?route=nosuch", aliceCookie, http.StatusNotFound, ""},
			{"no session, ?route=nosuch", "?route=nosuch", nil, http.StatusNotFound, ""},
			{"alice, no route and no X-Forwarded-Uri", "", aliceCookie, http.StatusNotFound, ""},
			{"alice, X-Forwarded-Uri /staff/x", "", uri(aliceCookie, "/staff/x?q=1"), http.StatusAccepted, "alice"},
			{"bob, X-Forwarded-Uri /staff/x", "", uri(bobCookie, "/staff/x"), http.StatusForbidden, ""},
			{"bob, X-Forwarded-Uri /chat/x", "", uri(bobCookie, "/chat/x"), http.StatusAccepted, "bob"},
			{"no session, X-Forwarded-Uri /docs/", "", uri(nil, "/docs/"), http.StatusAccepted, ""},
			{"no session, X-Forwarded-Uri /docs/../staff/x", "", uri(nil, "/docs/../staff/x"), http.StatusBadRequest, ""},
			{"bob, X-Forwarded-Uri /chat/%2e%2e/staff/x", "", uri(bobCookie, "/chat/%2e%2e/staff/x"), http.StatusBadRequest, ""},
			// ?route= is the proxy's own configuration: it wins over the URI.
			{"bob, ?route=staff with X-Forwarded-Uri /chat/x", "?route=staff", uri(bobCookie, "/chat/x"), http.StatusForbidden, ""},
		} {
			resp, body := ask(c.query, c.header)
			if resp.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d; body %s", c.what, resp.StatusCode, c.status, truncate(string(body), 300))
				continue
			}
			if got := resp.Header.Values("X-Auth-Request-User"); c.user == "" && len(got) != 0 || c.user != "" && !slices.Equal(got, []string{c.user}) {
				t.Errorf("%s: X-Auth-Request-User %q, want %q", c.what, got, c.user)
			}
		}
		waitLogLines(t, gate, `"msg":"request"`, `"path":"/oauth2/auth"`, `"route":"staff"`, `"status":403,`)
		waitLogLines(t, gate, `"msg":"request"`, `"path":"/oauth2/auth"`, `"route":"docs"`, `"status":202,`)
	})

	t.Run("through nginx, no path trick or unknown route lets anyone in", func(t *testing.T) {
		if !bobIn {
			t.Fatal("needs bob's login from an earlier subtest")
		}
		before := apps.counts()
		bobCookie := faultCookieHeader(bob, ngx.URL)
		targets := append([]string{"/nosuch/x", "/literal/x"}, pathTricks...)
		for _, target := range targets {
			for who, header := range map[string]http.Header{
				"no session":    {"Accept": {"application/json"}},
				"bob's session": {"Accept": {"application/json"}, "Cookie": {bobCookie}},
			} {
				resp, body := rawGet(t, nginxAddr, target, header)
				if resp.StatusCode < 400 {
					t.Errorf("GET %s through nginx (%s): status %d, want a refusal; body %s", target, who, resp.StatusCode, truncate(string(body), 300))
				}
			}
		}
		if after := apps.counts(); after[0] != before[0] || after[1] != before[1] {
			t.Errorf("requests at (staff, chat, docs) went from %v to %v, want none at staff or chat: %v", before, after, seenPaths(apps))
		}
	})

	t.Run("auth_request /oauth2/auth?route=staff, written in one line, is the staff route", func(t *testing.T) {
		if !aliceIn || !bobIn {
			t.Fatal("needs the logins of the earlier subtests")
		}
		before := apps.staff.Count()
		resp, body := rawGet(t, nginxAddr, "/literal/x", http.Header{"Accept": {"application/json"}, "Cookie": {faultCookieHeader(alice, ngx.URL)}})
		if resp.StatusCode != http.StatusOK || apps.staff.Count() != before+1 {
			t.Errorf("alice at /literal/x: status %d, staff app requests %d → %d; want 200 from it: %s", resp.StatusCode, before, apps.staff.Count(), truncate(string(body), 300))
		}
		if resp, _ := rawGet(t, nginxAddr, "/literal/x", http.Header{"Accept": {"application/json"}, "Cookie": {faultCookieHeader(bob, ngx.URL)}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("bob (students) at /literal/x: status %d, want 403", resp.StatusCode)
		}
	})

	t.Run("X-Forwarded-Uri from a peer that is not a trusted proxy picks no route", func(t *testing.T) {
		addr := freeAddr(t)
		g := StartHubgate(t, addr, routesGateEnv(hub, svc, apps, callback, map[string]string{
			"HUBGATE_TRUSTED_PROXIES": "192.0.2.1",
		}))
		req, _ := http.NewRequest(http.MethodGet, g.URL+"/oauth2/auth", nil)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-Forwarded-Uri", "/docs/")
		req.Header.Set("X-Forwarded-Host", nginxAddr)
		if resp, body := readAll(t, noRedirects, req); resp.StatusCode != http.StatusNotFound {
			t.Errorf("X-Forwarded-Uri /docs/ from an untrusted peer: status %d, want 404; body %s", resp.StatusCode, body)
		}
	})

	t.Run("logs hold no secrets", func(t *testing.T) {
		secrets := map[string]string{"client secret": svc.APIToken}
		for _, b := range []*Browser{alice, bob} {
			for _, c := range b.Cookies(ngx.URL) {
				secrets[b.Username+"'s cookie "+c.Name] = c.Value
			}
		}
		gate.CheckLogOmits(t, secrets)
	})
}

// chatFromSession opens site's /chat/hello with the session of bob's login at
// /staff/: no second login, and the chat app sees the path without /chat.
func chatFromSession(t *testing.T, bob *Browser, site string) EchoedRequest {
	t.Helper()
	page := bob.Open(site + "/chat/hello")
	if page.StatusCode != http.StatusOK || page.LoggedIn || len(page.Trail) != 1 {
		t.Fatalf("bob at /chat/: want 200 from the session of his login at /staff/\n%s", page)
	}
	e := decodeEcho(t, page.Body, "bob at /chat/")
	if e.Path != "/hello" {
		t.Errorf("the chat app saw %s, want /hello", e.Path)
	}
	return e
}

// staffAfterLogin opens target on /staff/ with staff member b, who has no session
// yet: one Hub login, and back on target itself.
func staffAfterLogin(t *testing.T, b *Browser, target string) *Page {
	t.Helper()
	page := b.Open(target)
	if page.StatusCode != http.StatusOK || !page.LoggedIn {
		t.Fatalf("%s (staff) at /staff/: want 200 after a Hub login\n%s", b.Username, page)
	}
	if got := page.URL.String(); got != target {
		t.Errorf("landed on %s, want %s", got, target)
	}
	return page
}
