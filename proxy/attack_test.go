package proxy

// Attack tests, one per class of bug that auth proxies have shipped CVEs for. Each
// table names the attempt; each must fail on a build that lets it through.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/trust"
)

func TestAttackSkipAuthRouteBypass(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.SkipAuthRoutes = []SkipRoute{
		{Method: "GET", Path: regexp.MustCompile(`^/public/`)},
		{Path: regexp.MustCompile(`^/healthz$`)},
	}
	f.server = New(f.server.o) // routes are built from the options
	cases := []struct {
		name, method, target string
		skipped              bool
	}{
		{"public path", "GET", "/public/page", true},
		{"exact route", "GET", "/healthz", true},
		{"other method", "POST", "/public/page", false},
		{"query carries the public path", "GET", "/private?x=/public/", false},
		{"encoded fragment", "GET", "/private%23/public/", false},
		{"dot-dot out of public", "GET", "/public/../private", false},
		{"encoded dot-dot", "GET", "/public/%2e%2e/private", false},
		{"double slash", "GET", "//public/x", false},
		{"double slash inside", "GET", "/public//../private", false},
		{"encoded slash", "GET", "/public%2F..%2Fprivate", false},
		{"backslash", "GET", "/public/..\\private", false},
		{"trailing dot", "GET", "/public/.", false},
		{"healthz with suffix", "GET", "/healthz/../private", false},
		{"unanchored suffix", "GET", "/private/healthz", false},
		{"path parameter then dot-dot", "GET", "/public/..;/private", false},
		{"path parameter in a segment", "GET", "/public;jsessionid=x/page", false},
		{"path parameter, encoded", "GET", "/public/..%3B/private", false},
		{"path parameter at the end", "GET", "/healthz;x", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// As the server parses it: no dot segments resolved, nothing cleaned.
			r := httptest.NewRequest(c.method, "/", nil)
			u, err := url.ParseRequestURI(c.target)
			if err != nil {
				t.Fatal(err)
			}
			r.URL, r.RequestURI = u, c.target
			r.Header.Set("X-Forwarded-Uri", "/public/")
			w := f.do(r)
			if c.skipped {
				if w.Code != http.StatusOK {
					t.Fatalf("status %d, want the upstream without a login", w.Code)
				}
				if h := <-f.seen; h.Get("X-Forwarded-User") != "" {
					t.Error("a skipped route carried an identity")
				}
				return
			}
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s opened a protected path", w.Code, c.target)
			}
		})
	}
}

func TestAttackSkipAuthPreflight(t *testing.T) {
	f := newFixture(t, access.Rules{})
	preflight := func() *http.Request {
		r := httptest.NewRequest("OPTIONS", "/api", nil)
		r.Header.Set("Origin", "https://app.example.org")
		r.Header.Set("Access-Control-Request-Method", "POST")
		return r
	}
	if w := f.do(preflight()); w.Code != http.StatusUnauthorized {
		t.Fatalf("preflight without skip_auth_preflight: %d, want 401", w.Code)
	}
	f.server.o.SkipAuthPreflight = true
	f.server = New(f.server.o) // routes are built from the options
	if w := f.do(preflight()); w.Code != http.StatusOK {
		t.Fatalf("preflight with skip_auth_preflight: %d, want 200", w.Code)
	}
	<-f.seen
	r := httptest.NewRequest("OPTIONS", "/api", nil) // not a preflight: no Origin
	if w := f.do(r); w.Code != http.StatusUnauthorized {
		t.Fatalf("plain OPTIONS: %d, want 401", w.Code)
	}
}

// forgedIdentity sets every spelling of every identity header a client might try.
func forgedIdentity(r *http.Request) {
	for _, name := range []string{
		"X-Forwarded-User", "X_Forwarded_User", "x-forwarded-user", "X-FORWARDED-USER",
		"X-Forwarded-Groups", "X-Forwarded-Email", "X-Forwarded-Admin", "X-Forwarded-Preferred-Username",
		"X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Groups", "X_Auth_Request_Email",
	} {
		r.Header[name] = append(r.Header[name], "forged", "admin")
	}
}

func TestAttackHeaderSpoofing(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.SkipAuthRoutes = []SkipRoute{{Path: regexp.MustCompile(`^/public/`)}}
	f.server = New(f.server.o) // routes are built from the options
	kinds := []struct {
		name string
		req  func() *http.Request
		user string
	}{
		{"protected", func() *http.Request {
			r := httptest.NewRequest("GET", "/app", nil)
			r.Header.Set("Authorization", "token alice-token")
			return r
		}, "alice"},
		{"skipped", func() *http.Request { return httptest.NewRequest("GET", "/public/x", nil) }, ""},
		{"websocket", func() *http.Request {
			r := httptest.NewRequest("GET", "/ws", nil)
			r.Header.Set("Authorization", "token alice-token")
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		}, "alice"},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.req()
			forgedIdentity(r)
			f.do(r)
			h := <-f.seen
			for name, values := range h {
				folded := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
				if !strings.HasPrefix(folded, "x-forwarded-") && !strings.HasPrefix(folded, "x-auth-request-") {
					continue
				}
				for _, v := range values {
					if v == "forged" || v == "admin" {
						t.Errorf("%s: %s: %q reached the upstream", k.name, name, v)
					}
				}
			}
			if got := h.Values("X-Forwarded-User"); (k.user == "" && len(got) != 0) || (k.user != "" && (len(got) != 1 || got[0] != k.user)) {
				t.Errorf("%s: X-Forwarded-User %q, want %q", k.name, got, k.user)
			}
		})
	}
	t.Run("auth endpoint", func(t *testing.T) {
		r := authRequestWith("alice-token", "")
		forgedIdentity(r)
		w := f.do(r)
		if got := w.Header().Values("X-Auth-Request-User"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("X-Auth-Request-User %q, want [alice]", got)
		}
		r = authRequestWith("", "")
		forgedIdentity(r)
		if w := f.do(r); w.Code != http.StatusUnauthorized || w.Header().Get("X-Auth-Request-User") != "" {
			t.Errorf("anonymous with forged headers: %d %v", w.Code, w.Header())
		}
	})
}

func TestAttackHealthEndpointsOnlyOnTheirPaths(t *testing.T) {
	f := newFixture(t, access.Rules{})
	for _, target := range []string{"/ping/../app", "/app/ping", "/ping/x", "/ready/", "/app?/ping", "/PING"} {
		for _, ua := range []string{"kube-probe/1.29", "ELB-HealthChecker/2.0", "GoogleHC/1.0", "curl/8"} {
			r := httptest.NewRequest("GET", "/", nil)
			u, err := url.ParseRequestURI(target)
			if err != nil {
				t.Fatal(err)
			}
			r.URL, r.RequestURI = u, target
			r.Header.Set("User-Agent", ua)
			if w := f.do(r); w.Code != http.StatusUnauthorized {
				t.Errorf("%s as %s: %d, want 401 (only /ping and /ready are open)", target, ua, w.Code)
			}
		}
	}
}

func TestAttackSessionFixation(t *testing.T) {
	f := newFixture(t, access.Rules{})
	// The attacker plants their own valid session in the victim's browser.
	_, planted := f.login(t, "/", "bob-token")
	start := f.do(withCookies(navigation("/oauth2/start?rd=/app"), planted))
	code, state := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
	jar := append(planted, start.Result().Cookies()...)
	cb := f.do(withCookies(navigation("/oauth2/callback?code="+code+"&state="+state), jar))
	var fresh *http.Cookie
	for _, c := range cb.Result().Cookies() {
		if c.Name == "_hubgate" {
			fresh = c
		}
	}
	if fresh == nil {
		t.Fatal("the login did not replace the planted session cookie")
	}
	for _, c := range planted {
		if c.Name == "_hubgate" && c.Value == fresh.Value {
			t.Fatal("the planted session survived the login")
		}
	}
	r := httptest.NewRequest("GET", "/whoami", nil)
	r.AddCookie(&http.Cookie{Name: "_hubgate", Value: fresh.Value})
	f.do(r)
	if got := (<-f.seen).Get("X-Forwarded-User"); got != "alice" {
		t.Fatalf("after logging in as alice the upstream sees %q", got)
	}
}

func TestAttackCallbackCSRF(t *testing.T) {
	f := newFixture(t, access.Rules{})
	// Another client's login: its state cookie and its code.
	other := f.do(navigation("/app"))
	otherCode, otherState := f.hub.issueCode(other.Header().Get("Location"), "bob-token")
	mine := f.do(navigation("/app"))
	myCode, myState := f.hub.issueCode(mine.Header().Get("Location"), "alice-token")
	cases := []struct {
		name    string
		query   string
		cookies []*http.Cookie
	}{
		{"missing state", "code=" + myCode, mine.Result().Cookies()},
		{"wrong state", "code=" + myCode + "&state=" + myState + "x", mine.Result().Cookies()},
		{"another client's state, my cookie", "code=" + otherCode + "&state=" + otherState, mine.Result().Cookies()},
		{"my state with another client's cookie", "code=" + myCode + "&state=" + myState, other.Result().Cookies()},
		{"a code from another login", "code=" + otherCode + "&state=" + myState, mine.Result().Cookies()},
	}
	for _, c := range cases {
		w := f.do(withCookies(navigation("/oauth2/callback?"+c.query), c.cookies))
		if w.Code < 400 {
			t.Errorf("%s: status %d, want a refusal", c.name, w.Code)
		}
		for _, ck := range w.Result().Cookies() {
			if ck.Name == "_hubgate" && ck.MaxAge > 0 {
				t.Errorf("%s: a session was set", c.name)
			}
		}
	}
}

func TestAttackCookieTampering(t *testing.T) {
	f := newFixture(t, access.Rules{})
	_, cookies := f.login(t, "/", "alice-token")
	var value string
	for _, c := range cookies {
		if c.Name == "_hubgate" {
			value = c.Value
		}
	}
	// Another user's session, sealed with a key hubgate does not have.
	wrongKey := securecookie.New([]byte(strings.Repeat("w", 32)), []byte(strings.Repeat("w", 32)))
	wrongKey.SetSerializer(securecookie.JSONEncoder{})
	forged, _ := wrongKey.Encode("_hubgate", session.Session{AccessToken: "bob-token", Expires: time.Now().Add(time.Hour).Unix()})
	// An expired session, sealed with the right key.
	expiredStore, _ := session.NewStore(session.Options{Name: "_hubgate", Path: "/", Secrets: []string{strings.Repeat("s", 32)}, Expire: time.Hour})
	rec := httptest.NewRecorder()
	expiredStore.Save(t.Context(), rec, httptest.NewRequest("GET", "/", nil), session.Session{AccessToken: "alice-token", Expires: time.Now().Add(-time.Minute).Unix()})
	expired := rec.Result().Cookies()[0].Value
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 0x01
		return string(b)
	}
	cases := map[string]string{
		"flipped bit at start":  flip(value, 0),
		"flipped bit in middle": flip(value, len(value)/2),
		"flipped bit at end":    flip(value, len(value)-1),
		"truncated":             value[:len(value)/2],
		"empty":                 "",
		"garbage":               "not-a-cookie",
		"re-signed, wrong key":  forged,
		"expired, replayed":     expired,
	}
	for name, v := range cases {
		r := httptest.NewRequest("GET", "/api", nil)
		r.AddCookie(&http.Cookie{Name: "_hubgate", Value: v})
		if w := f.do(r); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, w.Code)
		}
	}
}

func TestAttackTokensInQueryNotForwardedOrLogged(t *testing.T) {
	f := newFixture(t, access.Rules{})
	r := httptest.NewRequest("GET", "/app?token=secret-in-url&access_token=secret-too&page=2", nil)
	r.Header.Set("Authorization", "token alice-token")
	f.do(r)
	if uri := (<-f.seen).Get("X-Seen-Uri"); strings.Contains(uri, "secret") || !strings.Contains(uri, "page=2") {
		t.Errorf("the upstream saw %q: tokens in the query must go, the rest stay", uri)
	}
	for _, e := range f.logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, "secret-") {
				t.Errorf("log field %s = %q", k, s)
			}
		}
	}
}

// TestAttackConnectAndTrace: CONNECT (a tunnel) and TRACE (an echo of the request,
// cookies included) get 405 in any case, with or without a login, and never reach
// the upstream.
func TestAttackConnectAndTrace(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.SkipAuthRoutes = []SkipRoute{{Path: regexp.MustCompile(`^/public/`)}}
	f.server = New(f.server.o) // routes are built from the options
	for _, m := range []string{"CONNECT", "TRACE", "trace", "Connect", "TRACK"} {
		for _, target := range []string{"/app", "/public/x", "/oauth2/auth", "/ping"} {
			r := httptest.NewRequest(m, target, nil)
			r.Header.Set("Authorization", "token alice-token")
			if w := f.do(r); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") == "" {
				t.Errorf("%s %s: %d, want 405 with Allow", m, target, w.Code)
			}
		}
	}
	// CONNECT's request target is an authority, not a path.
	r := httptest.NewRequest("GET", "/", nil)
	r.Method, r.URL, r.RequestURI = "CONNECT", &url.URL{Host: "evil.example.org:443"}, "evil.example.org:443"
	r.Header.Set("Authorization", "token alice-token")
	if w := f.do(r); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT evil.example.org:443: %d, want 405", w.Code)
	}
	select {
	case h := <-f.seen:
		t.Errorf("a refused method reached the upstream: %v", h)
	default:
	}
}

// TestAttackForwardedProtoList: behind a TLS ingress configurable-http-proxy sends
// "https,http"; from a trusted proxy the first element decides, so cookies are
// Secure. From anyone else the header means nothing.
func TestAttackForwardedProtoList(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.RedirectURL = "/oauth2/callback" // not https by itself
	cases := []struct {
		remote, proto string
		secure        bool
	}{
		{"127.0.0.1:5000", "https,http", true},
		{"127.0.0.1:5000", "https, http", true},
		{"127.0.0.1:5000", "HTTPS", true},
		{"127.0.0.1:5000", "http,https", false},
		{"127.0.0.1:5000", "http", false},
		{"192.0.2.7:5000", "https,http", false},
		{"192.0.2.7:5000", "https", false},
	}
	for _, c := range cases {
		r := navigation("/app")
		r.RemoteAddr = c.remote
		r.Header.Set("X-Forwarded-Proto", c.proto)
		w := f.do(r)
		cookies := w.Result().Cookies()
		if len(cookies) == 0 {
			t.Fatalf("%s from %s: no login cookie", c.proto, c.remote)
		}
		if cookies[0].Secure != c.secure {
			t.Errorf("X-Forwarded-Proto %q from %s: Secure %v, want %v", c.proto, c.remote, cookies[0].Secure, c.secure)
		}
	}
}

// TestAttackRefusedTokenIsNeverALoginRedirect: a request whose Authorization token
// the Hub refuses gets 401 with error="invalid_token" whatever its Accept says, on
// every endpoint that authenticates, and a session cookie sent with it is neither
// used nor cleared. A redirect would hand a script an HTML login and hide the
// refusal; using the cookie would let a page's bad token ride on the user's session.
func TestAttackRefusedTokenIsNeverALoginRedirect(t *testing.T) {
	f := newFixture(t, access.Rules{})
	_, session := f.login(t, "/", "alice-token")
	targets := []struct {
		name, target string
		authMode     config.AuthMode
	}{
		{"protected path", "/app/page", "request"},
		{"auth endpoint, auth_mode forward", "/oauth2/auth", "forward"},
		{"auth endpoint, ?mode=forward", "/oauth2/auth?mode=forward", "request"},
		{"auth endpoint, auth_mode request", "/oauth2/auth", "request"},
		{"userinfo", "/oauth2/userinfo", "request"},
	}
	for _, tc := range targets {
		for _, auth := range []string{"token wrong", "Bearer wrong", "bearer  wrong "} {
			for _, withSession := range []bool{false, true} {
				for _, accept := range []string{"text/html,application/xhtml+xml", "*/*", ""} {
					f.server.o.AuthMode = tc.authMode
					r := httptest.NewRequest("GET", tc.target, nil)
					r.Header.Set("Accept", accept)
					r.Header.Set("Authorization", auth)
					r.RemoteAddr = "127.0.0.1:5000"
					r.Header.Set("X-Forwarded-Uri", "/app/page")
					if withSession {
						r = withCookies(r, session)
					}
					w := f.do(r)
					what := tc.name + ", " + auth + ", Accept " + accept
					if withSession {
						what += ", with a valid session"
					}
					if w.Code != http.StatusUnauthorized || w.Header().Get("Location") != "" {
						t.Errorf("%s: status %d Location %q, want 401 and no redirect", what, w.Code, w.Header().Get("Location"))
					}
					if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="hubgate", error="invalid_token"` {
						t.Errorf("%s: WWW-Authenticate %q, want invalid_token", what, got)
					}
					if len(w.Result().Cookies()) != 0 {
						t.Errorf("%s: set cookies %v; the session must stay as it is", what, w.Result().Cookies())
					}
				}
			}
		}
	}
	select {
	case h := <-f.seen:
		t.Errorf("a refused token reached the upstream as %q", h.Get("X-Forwarded-User"))
	default:
	}
	// The session is still good afterwards.
	f.server.o.AuthMode = "request"
	if w := f.do(withCookies(navigation("/app"), session)); w.Code != http.StatusOK {
		t.Fatalf("the session after refused tokens: status %d, want 200", w.Code)
	}
	<-f.seen
	// Without any credential nothing changes: a navigation logs in, the rest get the
	// plain challenge.
	if w := f.do(navigation("/app")); w.Code != http.StatusFound {
		t.Errorf("navigation without a credential: status %d, want 302 to the login", w.Code)
	}
	for _, target := range []string{"/app", "/oauth2/auth", "/oauth2/userinfo"} {
		w := f.do(httptest.NewRequest("GET", target, nil))
		if got := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || got != `Bearer realm="hubgate"` {
			t.Errorf("%s without a credential: %d %q, want 401 with the plain challenge", target, w.Code, got)
		}
	}
	f.server.o.AuthMode = "forward"
	if w := f.do(navigation("/oauth2/auth")); w.Code != http.StatusFound {
		t.Errorf("forward mode without a credential: status %d, want 302 to the login", w.Code)
	}
}

// TestAttackReturnPathBecomesNetworkPath: a return path whose dot segments a browser
// (or a server after it) collapses to "//host" must not survive the login or the
// sign-out: once the browser asks for "//evil.com", an upstream that adds a trailing
// slash redirects it to "//evil.com/", another site.
func TestAttackReturnPathBecomesNetworkPath(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.SkipSignInPage = false
	for _, rd := range []string{
		"/.//evil.com", "/x/..//evil.com", "/%2e//evil.com", "/%2e%2e//evil.com", "/./%2fevil.com",
		"/..%2f/evil.com", "/x/.%2e//evil.com", "/x%2f..%2f/evil.com", "/x/..;//evil.com",
	} {
		start := f.do(navigation("/oauth2/start?rd=" + url.QueryEscape(rd)))
		code, state := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
		cb := f.do(withCookies(navigation("/oauth2/callback?code="+code+"&state="+state), start.Result().Cookies()))
		if loc := cb.Header().Get("Location"); loc != "/" {
			t.Errorf("login with rd=%s lands on %q, want / (service_prefix)", rd, loc)
		}
		page := f.do(navigation("/oauth2/sign_in?rd=" + url.QueryEscape(rd)))
		if want := "/oauth2/start?rd=%2F"; !strings.Contains(page.Body.String(), want+`"`) {
			t.Errorf("sign-in page for rd=%s does not link %s:\n%s", rd, want, page.Body)
		}
		if out := f.do(navigation("/oauth2/sign_out?rd=" + url.QueryEscape(rd))); out.Header().Get("Location") != "" {
			t.Errorf("sign-out with rd=%s redirects to %q", rd, out.Header().Get("Location"))
		}
	}
}

// TestAttackLocationIsASCII: no Location carries raw bytes a browser would encode
// itself, whether it comes from a return path or from the configuration.
func TestAttackLocationIsASCII(t *testing.T) {
	f := newFixture(t, access.Rules{})
	start := f.do(navigation("/oauth2/start?rd=" + url.QueryEscape("/café/a b?q=é#é")))
	code, state := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
	cb := f.do(withCookies(navigation("/oauth2/callback?code="+code+"&state="+state), start.Result().Cookies()))
	if loc, want := cb.Header().Get("Location"), "/caf%C3%A9/a%20b?q=%C3%A9#%C3%A9"; loc != want {
		t.Errorf("login lands on %q, want %q", loc, want)
	}
	if loc, want := f.do(navigation("/oauth2/sign_out?rd=/caf%C3%A9")).Header().Get("Location"), "/caf%C3%A9"; loc != want {
		t.Errorf("sign-out to an escaped path: Location %q, want %q (escaped once)", loc, want)
	}
	f.server.o.HubLogout, f.server.o.HubURL = true, "https://hub.example/jüpyter"
	if loc, want := f.do(navigation("/oauth2/sign_out")).Header().Get("Location"), "https://hub.example/j%C3%BCpyter/hub/logout"; loc != want {
		t.Errorf("Hub logout: Location %q, want %q", loc, want)
	}
}

// TestAttackLoginCookieFlood: a page that forces navigation after navigation starts
// a login each time. Were every login cookie kept, the Cookie header would pass
// nginx's 8 KB buffer within a few dozen and lock the browser out of the site.
func TestAttackLoginCookieFlood(t *testing.T) {
	f := newFixture(t, access.Rules{})
	b := newBrowser(t)
	var starts []*httptest.ResponseRecorder
	longest := 0
	for i := range 50 {
		w := b.do(f, navigation(fmt.Sprintf("/app/%d", i)))
		if w.Code != http.StatusFound {
			t.Fatalf("navigation %d: status %d, want 302 to the Hub", i, w.Code)
		}
		starts = append(starts, w)
		size := len(b.cookieHeader())
		longest = max(longest, size)
		if size >= 4096 {
			t.Fatalf("after %d navigations the Cookie header is %d bytes, want < 4 KB", i+1, size)
		}
		if n := b.loginCookies(); n > 3 {
			t.Fatalf("after %d navigations the browser holds %d login cookies, want at most 3", i+1, n)
		}
	}
	t.Logf("longest Cookie header over 50 navigations: %d bytes, %d login cookies", longest, b.loginCookies())

	// A dropped login fails as a login with an unknown state does.
	unknown := b.do(f, navigation("/oauth2/callback?code=nope&state="+url.QueryEscape(session.NewLogin("/").State)))
	dropped := b.do(f, f.callback(starts[0], "alice-token"))
	if dropped.Code != unknown.Code || dropped.Body.String() != unknown.Body.String() || dropped.Header().Get("Location") != "" {
		t.Errorf("dropped login's callback: %d %q; want %d and the page an unknown state gets", dropped.Code, dropped.Body.String(), unknown.Code)
	}
	if unknown.Code != http.StatusForbidden || !strings.Contains(unknown.Body.String(), "Login expired") || !strings.Contains(unknown.Body.String(), `href="/oauth2/start"`) {
		t.Errorf("unknown state's callback: %d %q; want 403 Login expired with a link to start again", unknown.Code, unknown.Body.String())
	}

	newest := b.do(f, f.callback(starts[49], "alice-token"))
	if newest.Code != http.StatusFound || newest.Header().Get("Location") != "/app/49" {
		t.Fatalf("newest login's callback: %d Location %q, want 302 to /app/49", newest.Code, newest.Header().Get("Location"))
	}
	if b.do(f, httptest.NewRequest("GET", "/app/49", nil)).Code != http.StatusOK {
		t.Fatal("no session after the newest login")
	}
	if got := (<-f.seen).Get("X-Forwarded-User"); got != "alice" {
		t.Errorf("the upstream sees %q, want alice", got)
	}
}

// returnAfterLogin starts a login with r (start or sign_in), completes it at the fake
// Hub and returns where the callback sends the browser.
func (f *fixture) returnAfterLogin(t *testing.T, r *http.Request) string {
	t.Helper()
	start := f.do(r)
	if start.Code != http.StatusFound {
		t.Fatalf("%s: status %d, want 302 to the Hub", r.URL, start.Code)
	}
	code, state := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
	cb := f.do(withCookies(navigation("/oauth2/callback?code="+code+"&state="+state), start.Result().Cookies()))
	return cb.Header().Get("Location")
}

// TestAttackAbsoluteReturnAddress: oauth2-proxy's nginx forms hand the return address
// as X-Auth-Request-Redirect or an absolute rd. Only this host (as a trusted proxy
// reports it) and whitelist_domains pass; every other spelling falls back to "/".
func TestAttackAbsoluteReturnAddress(t *testing.T) {
	f := newFixture(t, access.Rules{})
	domains, err := trust.ParseDomains([]string{".example.org", "app.test:8443", "any.test:*"})
	if err != nil {
		t.Fatal(err)
	}
	f.server.o.ReturnDomains = domains
	cases := []struct {
		name, rd, header, remote, fwdHost, want string
		raw                                     bool // rd written into the query unescaped
	}{
		{name: "unescaped rd, as Caddy and nginx write it", raw: true, rd: "http://gate.test/report?x=1&y=a%26b+c", want: "http://gate.test/report?x=1&y=a%26b+c"},
		{name: "unescaped path", raw: true, rd: "/report?x=1&y=2", want: "/report?x=1&y=2"},
		{name: "escaped rd and another parameter", raw: true, rd: "%2Fa%3Fb%3D1&foo=bar", want: "/a?b=1"},
		{name: "header from a trusted proxy", header: "/app/page?x=1&y=a%26b", remote: "127.0.0.1:5000", want: "/app/page?x=1&y=a%26b"},
		{name: "header from a client", header: "/app/page", remote: "192.0.2.7:5000", want: "/"},
		{name: "rd wins over the header", rd: "/from-rd", header: "/from-header", remote: "127.0.0.1:5000", want: "/from-rd"},
		{name: "absolute header, own host", header: "http://gate.test/app?x=1", remote: "127.0.0.1:5000", want: "http://gate.test/app?x=1"},
		{name: "own host", rd: "http://gate.test/app?x=1", want: "http://gate.test/app?x=1"},
		{name: "own host, upper case", rd: "HTTPS://GATE.TEST/a", want: "HTTPS://GATE.TEST/a"},
		{name: "own host, non-ASCII escaped", rd: "http://gate.test/café", want: "http://gate.test/caf%C3%A9"},
		{name: "forwarded host", rd: "https://public.test/x", remote: "127.0.0.1:5000", fwdHost: "public.test", want: "https://public.test/x"},
		{name: "forwarded host from a client", rd: "https://public.test/x", remote: "192.0.2.7:5000", fwdHost: "public.test", want: "/"},
		{name: "subdomain of a whitelisted domain", rd: "https://sub.example.org/x", want: "https://sub.example.org/x"},
		{name: "the whitelisted domain itself", rd: "https://example.org/", want: "https://example.org/"},
		{name: "whitelisted port", rd: "https://app.test:8443/", want: "https://app.test:8443/"},
		{name: "any port", rd: "http://any.test:1234/", want: "http://any.test:1234/"},

		{name: "another site", rd: "https://evil.com/"},
		{name: "another port of our host", rd: "http://gate.test:8080/"},
		{name: "suffix without a dot", rd: "https://evilexample.org/"},
		{name: "whitelisted domain, other port", rd: "https://sub.example.org:444/"},
		{name: "whitelisted host without its port", rd: "https://app.test/"},
		{name: "credentials before our host", rd: "http://gate.test@evil.com/"},
		{name: "our host as credentials", rd: "http://evil.com@gate.test/"},
		{name: "backslash", rd: "http://evil.com\\@gate.test/"},
		{name: "fragment", rd: "http://evil.com#@gate.test/"},
		{name: "our host as a prefix", rd: "http://gate.test.evil.com/"},
		{name: "encoded dot in the host", rd: "http://gate.test%2eevil.com/"},
		{name: "tab in the URL", rd: "http://gate.test\t.evil.com/"},
		{name: "quote in a whitelisted host (a fuzz find)", rd: "http://\"0000.example.org/"},
		{name: "percent in the host", rd: "https://sub%2eexample.org/"},
		{name: "scheme-relative", rd: "//evil.com/"},
		{name: "javascript", rd: "javascript://gate.test/%0aalert(1)"},
		{name: "other scheme", rd: "ftp://gate.test/"},
		{name: "header to another site", header: "https://evil.com/", remote: "127.0.0.1:5000"},
		{name: "unescaped, another site", raw: true, rd: "https://evil.com/?x=1&y=2"},
		{name: "unescaped, our host as credentials", raw: true, rd: "http://gate.test@evil.com/?x=1&y=2"},
		{name: "unescaped, scheme-relative", raw: true, rd: "//evil.com/?x=1&y=2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want == "" {
				want = "/"
			}
			for _, route := range []string{"/oauth2/start", "/oauth2/sign_in"} {
				target := route
				switch {
				case c.raw:
					target += "?rd=" + c.rd
				case c.rd != "":
					target += "?rd=" + url.QueryEscape(c.rd)
				}
				r := navigation(target)
				r.Host = "gate.test"
				if c.remote != "" {
					r.RemoteAddr = c.remote
				}
				if c.header != "" {
					r.Header.Set("X-Auth-Request-Redirect", c.header)
				}
				if c.fwdHost != "" {
					r.Header.Set("X-Forwarded-Host", c.fwdHost)
				}
				if got := f.returnAfterLogin(t, r); got != want {
					t.Errorf("%s: the login returns to %q, want %q", route, got, want)
				}
			}
		})
	}
}
