package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/upstream"
)

func TestRouteMatch(t *testing.T) {
	list := []*Route{
		{Name: "root", Path: "/"},
		{Name: "docs", Path: "/docs"},
		{Name: "private", Path: "/docs/private"},
		{Name: "grafana", Host: "grafana.example.org", Path: "/"},
		{Name: "grafana-api", Host: "grafana.example.org", Path: "/api"},
		{Name: "apps", Host: "*.apps.example.org", Path: "/"},
		{Name: "org", Host: "*.example.org", Path: "/x"},
	}
	rs := newRoutes(list)
	for _, c := range []struct{ host, path, want string }{
		{"", "/", "root"},
		{"", "/docs", "docs"},
		{"", "/docs/", "docs"},
		{"", "/docs/a/b", "docs"},
		{"", "/docsx", "root"},
		{"", "/docs/private", "private"},
		{"", "/docs/private/x", "private"},
		{"", "/docs/privatex", "docs"},
		{"grafana.example.org", "/", "grafana"},
		{"grafana.example.org", "/api/x", "grafana-api"},
		{"grafana.example.org", "/docs", "grafana"}, // an exact host's routes come first
		{"a.apps.example.org", "/x", "apps"},        // the longest wildcard first
		{"apps.example.org", "/x", "org"},           // *.apps.example.org is not apps.example.org
		{"b.example.org", "/x/y", "org"},
		{"b.example.org", "/y", "root"},
		{"example.org", "/x", "root"},
		{"evilexample.org", "/x", "root"},
	} {
		got := rs.match(c.host, c.path)
		if got == nil || got.Name != c.want {
			t.Errorf("%s%s: %v, want %s", c.host, c.path, got, c.want)
		}
	}
	if r := newRoutes([]*Route{{Name: "a", Path: "/a"}}).match("", "/b"); r != nil {
		t.Errorf("/b matched %s with no catch-all", r.Name)
	}
}

func TestRequestHost(t *testing.T) {
	for in, want := range map[string]string{
		"App.Example.ORG": "app.example.org", "app.example.org:8443": "app.example.org",
		"app.example.org.": "app.example.org", "[::1]:4180": "[::1]", "[::1]": "[::1]", "": "",
	} {
		if got := requestHost(in); got != want {
			t.Errorf("requestHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every spelling of a path that an upstream could read as another route's is
// refused; spellings that stay in one route pass.
func TestRouteFindAmbiguous(t *testing.T) {
	rs := newRoutes([]*Route{{Name: "public", Path: "/public", Public: true}, {Name: "staff", Path: "/staff"}, {Name: "root", Path: "/"}})
	for _, c := range []struct {
		target string
		want   string // "" refused (400)
	}{
		{"/public/x", "public"},
		{"/public/a/../b", "public"},
		{"/public/%2e/x", "public"},
		{"/staff/a%2Fb", "staff"},
		{"/Public/x", ""}, // root as written, public to a case-blind upstream
		{"/public/../staff/x", ""},
		{"/public/%2e%2e/staff/x", ""},
		{"/public/%2E%2E/staff/x", ""},
		{"/public%2F..%2Fstaff/x", ""},
		{"/public/..%2Fstaff/x", ""},
		{"/public/..;/staff/x", ""},
		{"/public/..\\staff/x", ""},
		{"/public/..%5Cstaff/x", ""},
		{"/public/%252e%252e/staff/x", ""},
		{"//staff/x", ""},
		{"/public/./../staff", ""},
		{"/public/..", ""},
		{"/staff/../public/x", ""},
		{"/x/../staff", ""},
	} {
		u, err := url.ParseRequestURI(c.target)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := rs.find("", u)
		got := ""
		if ok && r != nil {
			got = r.Name
		}
		if got != c.want {
			t.Errorf("%s: route %q (ok %v), want %q", c.target, got, ok, c.want)
		}
	}
}

// FuzzRouteFind: whatever the spelling, a path is sent to a route only if every
// way of reading it (resolved as a browser, a servlet container or a case-blind
// server would, decoded once more) lands in that route.
func FuzzRouteFind(f *testing.F) {
	for _, seed := range []string{"/public/x", "/public/../staff", "/public/%2e%2e/staff", "/public%2F..%2Fstaff", "/public/..;/staff", "/PUBLIC/x", "/public/%252e%252e/staff"} {
		f.Add(seed)
	}
	rs := newRoutes([]*Route{{Name: "public", Path: "/public"}, {Name: "staff", Path: "/staff"}})
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r, ok := rs.find("", u)
		if !ok || r == nil {
			return
		}
		p := strings.ReplaceAll(u.Path, `\`, "/")
		if twice, err := url.PathUnescape(p); err == nil {
			p = twice
		}
		segments := strings.Split(p, "/")
		for i, seg := range segments {
			segments[i], _, _ = strings.Cut(seg, ";")
		}
		resolved := strings.ToLower(dotSegments("/"+strings.TrimLeft(strings.Join(segments, "/"), "/"), false, false))
		if got := rs.match("", resolved); got != r {
			t.Fatalf("%q went to %s; read as %q it is %v's", target, r.Name, resolved, got)
		}
	})
}

// routesFixture is the fixture with three apps, each upstream saying which it is.
func routesFixture(t *testing.T) *fixture {
	f := newFixture(t, access.Rules{})
	app := func(name string, strip string) http.Handler {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Clone()
			h.Set("X-Seen-Uri", r.RequestURI)
			h.Set("X-App", name)
			f.seen <- h
			fmt.Fprintf(w, "%s:%s", name, r.URL.Path)
		}))
		t.Cleanup(srv.Close)
		fwd, err := upstream.New(upstream.Options{Target: srv.URL, OwnCookie: f.server.o.Sessions.Owns, ErrorHandler: UpstreamError(f.server.log), StripPrefix: strip})
		if err != nil {
			t.Fatal(err)
		}
		return fwd
	}
	o := f.server.o
	o.Routes = []*Route{
		{Name: "staff", Path: "/staff", Upstream: app("staff", ""), Access: access.Rules{AllowedGroups: []string{"staff"}}, PassAccessToken: true},
		{Name: "chat", Path: "/chat", Upstream: app("chat", "/chat"), Access: access.Rules{AllowedUsers: []string{"bob", "alice"}}},
		{Name: "docs", Path: "/", Upstream: app("docs", ""), Public: true},
		{Name: "api", Path: "/api", Upstream: app("api", ""), Access: access.Rules{AllowedGroups: []string{"staff"}}, SkipAuthRoutes: []SkipRoute{{Method: "GET", Path: regexp.MustCompile(`^/api/health$`)}}},
	}
	f.server = New(o)
	return f
}

func TestRoutesDecideEachRequest(t *testing.T) {
	f := routesFixture(t)
	for _, c := range []struct {
		token, path string
		status      int
		app         string
	}{
		{"alice-token", "/staff/page", 200, "staff"},
		{"bob-token", "/staff/page", 403, ""},
		{"bob-token", "/chat/room", 200, "chat"},
		{"", "/chat/room", 401, ""},
		{"", "/docs/intro", 200, "docs"},
		{"bob-token", "/", 200, "docs"},
		{"", "/api/health", 200, "api"},
		{"", "/api/data", 401, ""},
		{"", "/api/health/../data", 401, ""}, // not clean: no skip
		{"", "/staff/../docs", 400, ""},
	} {
		r := httptest.NewRequest("GET", c.path, nil)
		if c.token != "" {
			r.Header.Set("Authorization", "token "+c.token)
		}
		forgedIdentity(r)
		w := f.do(r)
		if w.Code != c.status {
			t.Errorf("%s %s: status %d, want %d", c.token, c.path, w.Code, c.status)
			continue
		}
		if c.app == "" {
			continue
		}
		h := <-f.seen
		if h.Get("X-App") != c.app {
			t.Errorf("%s: reached %s, want %s", c.path, h.Get("X-App"), c.app)
		}
		user := map[string]string{"alice-token": "alice", "bob-token": "bob"}[c.token]
		if c.app == "docs" || c.app == "api" {
			user = "" // public and skipped: no identity, and the forged one removed
		}
		if got := h.Values("X-Forwarded-User"); len(got) > 1 || h.Get("X-Forwarded-User") != user {
			t.Errorf("%s: X-Forwarded-User %q, want %q", c.path, got, user)
		}
		if tok := h.Get("X-Forwarded-Access-Token"); (tok != "") != (c.app == "staff") {
			t.Errorf("%s: X-Forwarded-Access-Token %q (pass_access_token is the staff route's)", c.path, tok)
		}
	}
	select {
	case h := <-f.seen:
		t.Errorf("a refused request reached %s", h.Get("X-App"))
	default:
	}
}

func TestRoutesStripPrefix(t *testing.T) {
	f := routesFixture(t)
	for path, want := range map[string]string{"/chat/room?x=1": "/room?x=1", "/chat": "/", "/chat/": "/", "/chat/a%2Fb": "/a%2Fb"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "token bob-token")
		r.Header.Set("X-Forwarded-Prefix", "/evil")
		if w := f.do(r); w.Code != 200 {
			t.Fatalf("%s: %d", path, w.Code)
		}
		h := <-f.seen
		if h.Get("X-Seen-Uri") != want || h.Get("X-Forwarded-Prefix") != "/chat" {
			t.Errorf("%s: upstream saw %q with X-Forwarded-Prefix %q, want %q and /chat", path, h.Get("X-Seen-Uri"), h.Get("X-Forwarded-Prefix"), want)
		}
	}
}

func TestRoutesNotFound(t *testing.T) {
	f := newFixture(t, access.Rules{})
	o := f.server.o
	o.Routes = []*Route{{Name: "a", Path: "/a", Upstream: o.Upstream}}
	f.server = New(o)
	for _, path := range []string{"/", "/b", "/ab", "/A"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "token alice-token")
		if w := f.do(r); w.Code != http.StatusNotFound && w.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 404", path, w.Code)
		}
	}
	if len(f.seen) > 0 {
		t.Errorf("a request no route serves reached the upstream")
	}
}

// One login serves every route; a user some route lets in may log in, one no
// route lets in may not.
func TestRoutesOneLogin(t *testing.T) {
	f := routesFixture(t)
	_, cookies := f.login(t, "/staff/", "bob-token") // bob may not see staff, but may chat
	if len(cookies) == 0 {
		t.Fatal("no session for a user the chat route lets in")
	}
	for path, want := range map[string]int{"/staff/": 403, "/chat/": 200, "/": 200} {
		if w := f.do(withCookies(httptest.NewRequest("GET", path, nil), cookies)); w.Code != want {
			t.Errorf("%s with the session: %d, want %d", path, w.Code, want)
		}
	}
	f.hub.mu.Lock()
	f.hub.users["carol-token"] = &provider.User{Name: "carol", Kind: "user"}
	f.hub.mu.Unlock()
	w, cookies := f.login(t, "/chat/", "carol-token")
	for _, c := range cookies {
		if c.Name == "_hubgate" && c.MaxAge >= 0 {
			t.Errorf("carol, whom no route lets in, got a session")
		}
	}
	if w.Code != http.StatusForbidden {
		t.Errorf("carol's login: status %d, want 403", w.Code)
	}
}

func TestRoutesAuthEndpoint(t *testing.T) {
	f := routesFixture(t)
	for _, c := range []struct {
		name   string
		query  string
		hdr    map[string]string
		remote string
		token  string
		status int
	}{
		{"route=staff allowed", "?route=staff", nil, "", "alice-token", 202},
		{"route=staff refused", "?route=staff", nil, "", "bob-token", 403},
		{"route=chat", "?route=chat", nil, "", "bob-token", 202},
		{"route=docs public", "?route=docs", nil, "", "", 202},
		{"route=nosuch", "?route=nosuch", nil, "", "alice-token", 404},
		{"no route named", "", nil, "", "alice-token", 404},
		{"trusted X-Forwarded-Uri", "", map[string]string{"X-Forwarded-Uri": "/staff/x"}, "127.0.0.1:1234", "bob-token", 403},
		{"trusted X-Original-Uri", "", map[string]string{"X-Original-Uri": "/chat/x"}, "127.0.0.1:1234", "bob-token", 202},
		{"ambiguous X-Forwarded-Uri", "", map[string]string{"X-Forwarded-Uri": "/docs/../staff/x"}, "127.0.0.1:1234", "bob-token", 400},
		{"encoded X-Forwarded-Uri", "", map[string]string{"X-Forwarded-Uri": "/chat%2F..%2Fstaff/x"}, "127.0.0.1:1234", "bob-token", 400},
		{"untrusted X-Forwarded-Uri chooses nothing", "", map[string]string{"X-Forwarded-Uri": "/"}, "203.0.113.9:1234", "", 404},
		{"narrowing still applies", "?route=chat&allowed_users=alice", nil, "", "bob-token", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/oauth2/auth"+c.query, nil)
			if c.remote != "" {
				r.RemoteAddr = c.remote
			}
			for k, v := range c.hdr {
				r.Header.Set(k, v)
			}
			if c.token != "" {
				r.Header.Set("Authorization", "token "+c.token)
			}
			w := f.do(r)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.status == 202 && c.token == "" && w.Header().Get("X-Auth-Request-User") != "" {
				t.Errorf("a public route's answer names a user")
			}
		})
	}
}

// A login that begins on another route host than the callback's comes back to it.
func TestRoutesLoginAcrossHosts(t *testing.T) {
	f := newFixture(t, access.Rules{})
	o := f.server.o
	o.Routes = []*Route{
		{Name: "b", Host: "b.gate.test", Path: "/", Upstream: o.Upstream},
		{Name: "main", Path: "/", Upstream: o.Upstream},
	}
	f.server = New(o)
	for target, want := range map[string]string{
		"http://b.gate.test/page?x=1": "http://b.gate.test/page?x=1",
		"http://gate.test/page":       "/page", // the callback's own host
		"http://other.test/page":      "/page", // no route's host: never made absolute
	} {
		w := f.do(navigation(target))
		cb := withCookies(f.callback(w, "alice-token"), w.Result().Cookies())
		if got := f.do(cb).Header().Get("Location"); got != want {
			t.Errorf("login from %s returned to %q, want %q", target, got, want)
		}
	}
}

// hubgate's own paths are never an app's: a path under the prefix that is no
// endpoint is 404, not the catch-all route's; nginx's escaped
// auth_request /oauth2/auth?route=NAME is the auth endpoint with that query.
func TestRoutesOwnPrefix(t *testing.T) {
	f := routesFixture(t)
	for _, c := range []struct {
		target, token string
		status        int
	}{
		{"/oauth2/nosuch", "", 404},
		{"/oauth2", "", 404},
		{"/oauth2/auth%3Froute=staff", "bob-token", 403},
		{"/oauth2/auth%3Froute=staff", "alice-token", 202},
		{"/oauth2/auth%3froute=chat", "bob-token", 202},
		{"/oauth2/auth%3Froute=staff&allowed_users=bob", "alice-token", 403},
		{"/oauth2/auth%3Froute=nosuch", "alice-token", 404},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		u, err := url.ParseRequestURI(c.target)
		if err != nil {
			t.Fatal(err)
		}
		r.URL, r.RequestURI = u, c.target
		if c.token != "" {
			r.Header.Set("Authorization", "token "+c.token)
		}
		if w := f.do(r); w.Code != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.target, w.Code, c.status, w.Body)
		}
	}
	if len(f.seen) > 0 {
		h := <-f.seen
		t.Errorf("%s reached an app", h.Get("X-Seen-Uri"))
	}
}

// A WebSocket upgrade through a route is logged and counted as 101, not 200.
func TestRoutesUpgradeLoggedAs101(t *testing.T) {
	f := newFixture(t, access.Rules{})
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
	}))
	t.Cleanup(ws.Close)
	fwd, err := upstream.New(upstream.Options{Target: ws.URL, ErrorHandler: UpstreamError(f.server.log)})
	if err != nil {
		t.Fatal(err)
	}
	o := f.server.o
	o.Routes = []*Route{{Name: "chat", Path: "/chat", Upstream: fwd}}
	f.server = New(o)
	gate := httptest.NewServer(f.server)
	t.Cleanup(gate.Close)
	c, err := net.Dial("tcp", gate.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /chat/ws HTTP/1.1\r\nHost: gate.test\r\nAuthorization: token alice-token\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101") {
		t.Fatalf("answer %q, %v", line, err)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range f.logs.FilterMessage("request").All() {
			if e.ContextMap()["route"] == "chat" {
				if got := e.ContextMap()["status"]; got != int64(101) {
					t.Fatalf("logged status %v, want 101", got)
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no access log line for the upgrade")
}

// With cookie_domain, a login that begins on one route host and calls back on
// another leaves a session both hosts send: the login cookie reaches the callback's
// host, and the session cookie the route's.
func TestRoutesCookieDomainAcrossHosts(t *testing.T) {
	f := newFixture(t, access.Rules{})
	o := f.server.o
	store, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/", Domain: "gate.test", Secrets: []string{strings.Repeat("s", 32)}, Expire: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	o.Sessions, o.RedirectURL = store, "http://a.gate.test/oauth2/callback"
	o.Routes = []*Route{
		{Name: "b", Host: "b.gate.test", Path: "/", Upstream: o.Upstream},
		{Name: "a", Host: "a.gate.test", Path: "/", Upstream: o.Upstream},
	}
	f.server = New(o)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(r *http.Request) *httptest.ResponseRecorder {
		for _, c := range jar.Cookies(r.URL) {
			r.AddCookie(c)
		}
		w := f.do(r)
		jar.SetCookies(r.URL, w.Result().Cookies())
		return w
	}
	start := send(navigation("http://b.gate.test/page"))
	code, state := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
	back := send(navigation("http://a.gate.test/oauth2/callback?code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state)))
	if back.Code != http.StatusFound || back.Header().Get("Location") != "http://b.gate.test/page" {
		t.Fatalf("callback: %d to %q: %s", back.Code, back.Header().Get("Location"), back.Body)
	}
	for _, host := range []string{"b.gate.test", "a.gate.test"} {
		if w := send(navigation("http://" + host + "/page")); w.Code != http.StatusOK {
			t.Errorf("%s after the login: %d, want 200", host, w.Code)
		} else {
			<-f.seen
		}
	}
	if w := send(navigation("http://other.test/page")); w.Code != http.StatusNotFound {
		t.Errorf("a host no route serves: %d, want 404", w.Code)
	}
}
