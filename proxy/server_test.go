package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

// fakeHub is a provider.Provider with users keyed by token, and codes that exchange
// for tokens. It counts lookups.
type fakeHub struct {
	mu      sync.Mutex
	users   map[string]*provider.User // token → user
	codes   map[string]string         // code → token
	down    bool
	lookups atomic.Int64

	refreshes   atomic.Int64
	liveRefresh string
	generation  int
}

func newFakeHub() *fakeHub {
	return &fakeHub{
		users: map[string]*provider.User{
			"alice-token": {Name: "alice", Groups: []string{"staff"}, Kind: "user", Scopes: []string{"access:services!service=gate"}},
			"bob-token":   {Name: "bob", Groups: []string{}, Kind: "user", Scopes: []string{"access:services"}},
			"svc-token":   {Name: "cron", Kind: "service"},
		},
		codes: map[string]string{},
	}
}

func (f *fakeHub) AuthCodeURL(state, verifier string) string {
	return "http://hub.test/hub/api/oauth2/authorize?state=" + url.QueryEscape(state) +
		"&code_challenge=" + oauth2.S256ChallengeFromVerifier(verifier)
}

func (f *fakeHub) Exchange(_ context.Context, code, verifier string) (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, &provider.UnavailableError{Err: context.DeadlineExceeded}
	}
	tok, ok := f.codes[code]
	if !ok || code != "code-for-"+oauth2.S256ChallengeFromVerifier(verifier) {
		return nil, provider.ErrInvalidToken
	}
	delete(f.codes, code)
	return &oauth2.Token{AccessToken: tok, Expiry: time.Now().Add(time.Hour)}, nil
}

// issueCode plays the Hub's authorize step: it mints a code bound to the challenge.
func (f *fakeHub) issueCode(authorizeURL, token string) (code, state string) {
	u, _ := url.Parse(authorizeURL)
	code = "code-for-" + u.Query().Get("code_challenge")
	f.mu.Lock()
	f.codes[code] = token
	f.mu.Unlock()
	return code, u.Query().Get("state")
}

func (f *fakeHub) Lookup(_ context.Context, token string) (*provider.User, error) {
	f.lookups.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, &provider.UnavailableError{Err: context.DeadlineExceeded}
	}
	u, ok := f.users[token]
	if !ok {
		return nil, provider.ErrInvalidToken
	}
	return u, nil
}

// Refresh rotates refresh tokens like DOT: "rt-N" → access "alice-token", "rt-N+1";
// an old one is refused.
func (f *fakeHub) Refresh(_ context.Context, refreshToken string) (*oauth2.Token, error) {
	f.refreshes.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if refreshToken != f.liveRefresh {
		return nil, provider.ErrInvalidToken
	}
	f.generation++
	f.liveRefresh = fmt.Sprintf("rt-%d", f.generation)
	return &oauth2.Token{AccessToken: "alice-token", RefreshToken: f.liveRefresh, Expiry: time.Now().Add(time.Hour)}, nil
}

func (f *fakeHub) Ready(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return context.DeadlineExceeded
	}
	return nil
}

type fixture struct {
	hub      *fakeHub
	server   *Server
	logs     *observer.ObservedLogs
	upstream *httptest.Server
	seen     chan http.Header
}

func newFixture(t *testing.T, rules access.Rules) *fixture {
	t.Helper()
	return newFixtureWith(t, rules, fixtureOptions{})
}

// fixtureOptions make variants of the fixture: replicas sharing a Hub and a Redis.
type fixtureOptions struct {
	hub     *fakeHub          // nil: a new one
	redis   *redis.Client     // server-side sessions; nil keeps them in cookies
	refresh provider.Provider // what the Refresher calls; nil: the hub
	headers *upstream.Headers // for the forwarder and the Server, as app hands it; nil: the default
	// endSession is Options.EndSession (oidc_logout); nil: none.
	endSession func(idToken, postLogoutRedirect string) string
}

func newFixtureWith(t *testing.T, rules access.Rules, o fixtureOptions) *fixture {
	t.Helper()
	if o.hub == nil {
		o.hub = newFakeHub()
	}
	if o.refresh == nil {
		o.refresh = o.hub
	}
	f := &fixture{hub: o.hub, seen: make(chan http.Header, 100)}
	f.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("X-Seen-Uri", r.RequestURI)
		f.seen <- h
		w.Write([]byte("upstream:" + r.URL.Path))
	}))
	t.Cleanup(f.upstream.Close)
	browsers := trust.Policy{Proxies: trust.Loopback()} // as main builds it by default
	store, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/", Secrets: []string{strings.Repeat("s", 32)}, Expire: time.Hour, Redis: o.redis, Secure: browsers.Secure})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	f.logs = logs
	log := zap.New(core)
	fwd, err := upstream.New(upstream.Options{Target: f.upstream.URL, Timeout: 5 * time.Second, OwnCookie: store.Owns, ErrorHandler: UpstreamError(log), Headers: o.headers})
	if err != nil {
		t.Fatal(err)
	}
	f.server = New(Options{
		Logger:         log,
		Provider:       f.hub,
		Cache:          identity.NewCache(f.hub, 100, time.Minute, time.Second),
		Sessions:       store,
		Upstream:       fwd,
		Access:         rules,
		Refresher:      identity.NewRefresher(o.refresh, time.Second),
		SkipSignInPage: true,
		LoginService:   "JupyterHub",
		ServicePrefix:  "/",
		Prefix:         "/oauth2",
		RedirectURL:    "http://gate.test/oauth2/callback",
		CrossOrigin:    http.NewCrossOriginProtection(), // on, as main builds it by default
		Trust:          browsers,
		Headers:        o.headers,
		EndSession:     o.endSession,
	})
	return f
}

func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.server.ServeHTTP(w, r)
	return w
}

func navigation(target string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	return r
}

func withCookies(r *http.Request, cookies []*http.Cookie) *http.Request {
	for _, c := range cookies {
		if c.MaxAge >= 0 {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return r
}

// browser stands in for a browser's cookie store: it applies every Set-Cookie,
// deletions included, and sends what it holds, older cookies first.
type browser struct {
	jar  *cookiejar.Jar
	site *url.URL // where the browser thinks hubgate is
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{jar: jar, site: &url.URL{Scheme: "http", Host: "gate.test", Path: "/"}}
}

// do sends r with the browser's cookies and keeps what the answer sets.
func (b *browser) do(f *fixture, r *http.Request) *httptest.ResponseRecorder {
	for _, c := range b.jar.Cookies(b.site) {
		r.AddCookie(c)
	}
	w := f.do(r)
	b.jar.SetCookies(b.site, w.Result().Cookies())
	return w
}

// cookieHeader is the Cookie header the browser would send now.
func (b *browser) cookieHeader() string {
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range b.jar.Cookies(b.site) {
		r.AddCookie(c)
	}
	return r.Header.Get("Cookie")
}

// loginCookies counts the login state cookies the browser holds.
func (b *browser) loginCookies() int {
	n := 0
	for _, c := range b.jar.Cookies(b.site) {
		if strings.HasPrefix(c.Name, "_hubgate_login_") {
			n++
		}
	}
	return n
}

// callback is the provider's redirect back to hubgate for the login that start began.
func (f *fixture) callback(start *httptest.ResponseRecorder, token string) *http.Request {
	code, state := f.hub.issueCode(start.Header().Get("Location"), token)
	return navigation("/oauth2/callback?code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state))
}

// login runs the browser flow against the fake Hub and returns the session cookies.
func (f *fixture) login(t *testing.T, target, token string) (*httptest.ResponseRecorder, []*http.Cookie) {
	t.Helper()
	w := f.do(navigation(target))
	if w.Code != http.StatusFound {
		t.Fatalf("navigation to %s: status %d, want 302", target, w.Code)
	}
	code, state := f.hub.issueCode(w.Header().Get("Location"), token)
	cb := navigation("/oauth2/callback?code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state))
	cb = withCookies(cb, w.Result().Cookies())
	w = f.do(cb)
	return w, w.Result().Cookies()
}

func TestNavigationRedirectsToLogin(t *testing.T) {
	f := newFixture(t, access.Rules{})
	w := f.do(navigation("/app/page?x=1"))
	if w.Code != http.StatusFound {
		t.Fatalf("status %d, want 302", w.Code)
	}
	loc := w.Header().Get("Location")
	if !strings.HasPrefix(loc, "http://hub.test/hub/api/oauth2/authorize?") || !strings.Contains(loc, "code_challenge=") {
		t.Fatalf("Location %q is not the Hub's authorize URL with PKCE", loc)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || !strings.HasPrefix(cookies[0].Name, "_hubgate_login_") || !cookies[0].HttpOnly || cookies[0].MaxAge != 600 {
		t.Fatalf("want one HttpOnly login cookie with Max-Age 600, got %+v", cookies)
	}
}

func TestNonBrowserGets401NotRedirect(t *testing.T) {
	f := newFixture(t, access.Rules{})
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/api/data", nil),
		httptest.NewRequest("POST", "/api/data", nil),
		func() *http.Request { r := navigation("/ws"); r.Header.Set("Upgrade", "websocket"); return r }(),
	} {
		w := f.do(r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s: status %d, want 401", r.Method, r.URL, w.Code)
		}
		if w.Header().Get("WWW-Authenticate") == "" || w.Header().Get("Location") != "" {
			t.Errorf("%s %s: want WWW-Authenticate and no Location, got %v", r.Method, r.URL, w.Header())
		}
	}
}

func TestBrowserLoginFlow(t *testing.T) {
	f := newFixture(t, access.Rules{})
	w, cookies := f.login(t, "/app/page?x=1", "alice-token")
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/app/page?x=1" {
		t.Fatalf("callback: status %d Location %q, want 302 to /app/page?x=1", w.Code, w.Header().Get("Location"))
	}
	var sessionCookie *http.Cookie
	loginDeleted := false
	for _, c := range cookies {
		if c.Name == "_hubgate" {
			sessionCookie = c
		}
		if strings.HasPrefix(c.Name, "_hubgate_login_") && c.MaxAge < 0 {
			loginDeleted = true
		}
	}
	if sessionCookie == nil || !sessionCookie.HttpOnly || sessionCookie.SameSite != http.SameSiteLaxMode || sessionCookie.Path != "/" {
		t.Fatalf("session cookie missing or weak: %+v", sessionCookie)
	}
	if !loginDeleted {
		t.Fatal("login state cookie was not deleted at the callback")
	}
	if strings.Contains(sessionCookie.Value, "alice-token") {
		t.Fatal("session cookie holds the token in the clear")
	}
}

func TestSessionCookieReachesUpstreamAsIdentity(t *testing.T) {
	f := newFixture(t, access.Rules{AdminUsers: []string{"alice"}})
	_, cookies := f.login(t, "/", "alice-token")
	r := withCookies(navigation("/app"), cookies)
	r.Header.Add("Cookie", "theirs=1")
	r.Header["X-Forwarded-User"] = []string{"admin"}
	r.Header["X_forwarded_user"] = []string{"admin"}
	w := f.do(r)
	if w.Code != http.StatusOK || w.Body.String() != "upstream:/app" {
		t.Fatalf("status %d body %q", w.Code, w.Body)
	}
	h := <-f.seen
	if got := h.Values("X-Forwarded-User"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("X-Forwarded-User = %q, want [alice]", got)
	}
	if _, ok := h["X_forwarded_user"]; ok {
		t.Error("the underscore spelling reached the upstream")
	}
	if h.Get("X-Forwarded-Groups") != "staff" || h.Get("X-Forwarded-Admin") != "true" {
		t.Errorf("groups %q admin %q", h.Get("X-Forwarded-Groups"), h.Get("X-Forwarded-Admin"))
	}
	if c := h.Get("Cookie"); strings.Contains(c, "_hubgate") || !strings.Contains(c, "theirs=1") {
		t.Errorf("upstream Cookie header %q: hubgate's cookie must go, others stay", c)
	}
}

func TestAPITokenWithoutRedirect(t *testing.T) {
	f := newFixture(t, access.Rules{})
	for _, auth := range []string{"token alice-token", "Bearer alice-token", "bearer alice-token"} {
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header.Set("Authorization", auth)
		w := f.do(r)
		if w.Code != http.StatusOK {
			t.Fatalf("%q: status %d, want 200", auth, w.Code)
		}
		h := <-f.seen
		if h.Get("X-Forwarded-User") != "alice" || h.Get("Authorization") != "" {
			t.Errorf("%q: upstream saw user %q Authorization %q", auth, h.Get("X-Forwarded-User"), h.Get("Authorization"))
		}
	}
	if n := f.hub.lookups.Load(); n != 1 {
		t.Errorf("%d Hub lookups for one token, want 1 (cached)", n)
	}
	r := httptest.NewRequest("GET", "/api", nil)
	r.Header.Set("Authorization", "token wrong")
	if w := f.do(r); w.Code != http.StatusUnauthorized {
		t.Errorf("bad token: status %d, want 401", w.Code)
	}
}

func TestAccessRules(t *testing.T) {
	f := newFixture(t, access.Rules{AllowedGroups: []string{"staff"}, RequiredScopes: []string{"access:services!service=gate"}})
	for token, want := range map[string]int{"alice-token": 200, "bob-token": 403, "svc-token": 403} {
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header.Set("Authorization", "token "+token)
		if w := f.do(r); w.Code != want {
			t.Errorf("%s: status %d, want %d", token, w.Code, want)
		} else if want == 200 {
			<-f.seen
		}
	}
	// Not allowed at login: a 403 page and no session.
	w, cookies := f.login(t, "/", "bob-token")
	if w.Code != http.StatusForbidden {
		t.Fatalf("bob's callback: status %d, want 403", w.Code)
	}
	for _, c := range cookies {
		if c.Name == "_hubgate" && c.MaxAge >= 0 {
			t.Fatal("a session was set for a user who is not allowed")
		}
	}
}

func TestRevokedSessionLogsOut(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.hub.users["temp-token"] = &provider.User{Name: "carol", Kind: "user"}
	_, cookies := f.login(t, "/", "temp-token")
	f.hub.mu.Lock()
	delete(f.hub.users, "temp-token")
	f.hub.mu.Unlock()
	f.server.o.Cache.Forget("temp-token") // the TTL passing, without the wait
	w := f.do(withCookies(navigation("/app"), cookies))
	if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "http://hub.test/") {
		t.Fatalf("status %d Location %q, want a new login", w.Code, w.Header().Get("Location"))
	}
	cleared := false
	for _, c := range w.Result().Cookies() {
		cleared = cleared || (c.Name == "_hubgate" && c.MaxAge < 0)
	}
	if !cleared {
		t.Error("the dead session cookie was not cleared")
	}
	r := withCookies(httptest.NewRequest("GET", "/api", nil), cookies)
	if w := f.do(r); w.Code != http.StatusUnauthorized {
		t.Errorf("API request with dead session: %d, want 401", w.Code)
	}
}

func TestCallbackRejects(t *testing.T) {
	f := newFixture(t, access.Rules{})
	start := f.do(navigation("/app"))
	code, state := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
	stateCookies := start.Result().Cookies()
	cases := []struct {
		name    string
		query   string
		cookies []*http.Cookie
		want    int
	}{
		{"provider error", "error=access_denied&state=" + state, stateCookies, 403},
		{"provider other error", "error=invalid_scope", stateCookies, 400},
		{"missing state", "code=" + code, stateCookies, 400},
		{"missing code", "state=" + state, stateCookies, 400},
		{"wrong state", "code=" + code + "&state=x" + state, stateCookies, 403},
		{"no state cookie", "code=" + code + "&state=" + state, nil, 403},
		{"bad code", "code=nope&state=" + state, stateCookies, 403},
	}
	for _, c := range cases {
		w := f.do(withCookies(navigation("/oauth2/callback?"+c.query), c.cookies))
		if w.Code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, w.Code, c.want)
		}
		if w.Header().Get("Location") != "" {
			t.Errorf("%s: redirected to %q; a failed login must not redirect", c.name, w.Header().Get("Location"))
		}
	}
}

func TestStateCookieIsSingleUse(t *testing.T) {
	f := newFixture(t, access.Rules{})
	start := f.do(navigation("/app"))
	code, state := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
	cb := "/oauth2/callback?code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state)
	if w := f.do(withCookies(navigation(cb), start.Result().Cookies())); w.Code != http.StatusFound {
		t.Fatalf("first callback: %d", w.Code)
	}
	// A replay with the same (captured) state cookie fails on the code; one with a
	// fresh code for the old state fails on the browser having deleted the cookie.
	code2, _ := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
	if w := f.do(withCookies(navigation("/oauth2/callback?code="+url.QueryEscape(code2)+"&state="+url.QueryEscape(state)), nil)); w.Code != http.StatusForbidden {
		t.Fatalf("replayed state: %d, want 403", w.Code)
	}
}

func TestParallelLoginsDoNotCollide(t *testing.T) {
	// As many tabs as hubgate keeps logins for, finished out of order.
	f := newFixture(t, access.Rules{})
	b := newBrowser(t)
	targets := []string{"/a", "/b", "/c"}
	starts := map[string]*httptest.ResponseRecorder{}
	for _, target := range targets {
		starts[target] = b.do(f, navigation(target))
	}
	if n := b.loginCookies(); n != len(targets) {
		t.Fatalf("%d login cookies after %d logins started, want %d", n, len(targets), len(targets))
	}
	for _, target := range []string{"/b", "/c", "/a"} {
		w := b.do(f, f.callback(starts[target], "alice-token"))
		if w.Code != http.StatusFound || w.Header().Get("Location") != target {
			t.Errorf("tab %s: status %d Location %q", target, w.Code, w.Header().Get("Location"))
		}
	}
	if n := b.loginCookies(); n != 0 {
		t.Errorf("%d login cookies left after every login finished", n)
	}
}

func TestStartRedirectValidation(t *testing.T) {
	f := newFixture(t, access.Rules{})
	for rd, want := range map[string]string{"/x?y=1": "/x?y=1", "//evil.com": "/", "https://evil.com": "/"} {
		w := f.do(navigation("/oauth2/start?rd=" + url.QueryEscape(rd)))
		if w.Code != http.StatusFound {
			t.Fatalf("start: %d", w.Code)
		}
		code, state := f.hub.issueCode(w.Header().Get("Location"), "alice-token")
		cb := f.do(withCookies(navigation("/oauth2/callback?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(state)), w.Result().Cookies()))
		if got := cb.Header().Get("Location"); got != want {
			t.Errorf("rd %q: landed on %q, want %q", rd, got, want)
		}
	}
}

func TestSignOut(t *testing.T) {
	f := newFixture(t, access.Rules{})
	_, cookies := f.login(t, "/", "alice-token")
	w := f.do(withCookies(navigation("/oauth2/sign_out?rd=//evil.com"), cookies))
	if w.Code != http.StatusOK || w.Header().Get("Location") != "" {
		t.Fatalf("sign_out with a foreign rd: status %d Location %q, want the signed-out page", w.Code, w.Header().Get("Location"))
	}
	cleared := false
	for _, c := range w.Result().Cookies() {
		cleared = cleared || (c.Name == "_hubgate" && c.MaxAge < 0)
	}
	if !cleared {
		t.Fatal("sign_out did not clear the session cookie")
	}
	w = f.do(withCookies(navigation("/oauth2/sign_out?rd=/bye"), cookies))
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/bye" {
		t.Errorf("sign_out?rd=/bye: status %d Location %q", w.Code, w.Header().Get("Location"))
	}
}

// TestSignOutEndsTheProviderSession: with oidc_logout, a signed-in browser goes on
// to the issuer's end-session endpoint, which sends it back to our own sign_out
// (this host as the trusted proxy reports it); without a session there is
// nothing to end there.
func TestSignOutEndsTheProviderSession(t *testing.T) {
	var backs []string
	f := newFixtureWith(t, access.Rules{}, fixtureOptions{endSession: func(idToken, back string) string {
		backs = append(backs, back)
		return "https://issuer.test/logout?post_logout_redirect_uri=" + url.QueryEscape(back)
	}})
	_, cookies := f.login(t, "/", "alice-token")
	r := withCookies(navigation("/oauth2/sign_out?rd=https://evil.example/"), cookies)
	r.RemoteAddr = "127.0.0.1:4000" // a trusted proxy
	r.Header.Set("X-Forwarded-Host", "app.example.org")
	r.Header.Set("X-Forwarded-Proto", "https")
	w := f.do(r)
	if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "https://issuer.test/logout?") {
		t.Fatalf("sign_out: %d Location %q, want the issuer's end-session endpoint", w.Code, w.Header().Get("Location"))
	}
	if len(backs) != 1 || backs[0] != "https://app.example.org/oauth2/sign_out" {
		t.Errorf("post-logout address %q, want our own sign_out", backs)
	}
	w = f.do(navigation("/oauth2/sign_out"))
	if w.Code != http.StatusOK || len(backs) != 1 {
		t.Errorf("back from the issuer without a session: %d, end-session asked %d times; want the signed-out page", w.Code, len(backs))
	}
}

func TestUserinfo(t *testing.T) {
	f := newFixture(t, access.Rules{})
	r := httptest.NewRequest("GET", "/oauth2/userinfo", nil)
	r.Header.Set("Authorization", "token alice-token")
	w := f.do(r)
	var got userinfoBody
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 || got.User != "alice" || len(got.Groups) != 1 {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	if w := f.do(httptest.NewRequest("GET", "/oauth2/userinfo", nil)); w.Code != http.StatusUnauthorized {
		t.Errorf("anonymous userinfo: %d, want 401", w.Code)
	}
}

func TestProviderDown(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.hub.down = true
	r := httptest.NewRequest("GET", "/api", nil)
	r.Header.Set("Authorization", "token alice-token")
	w := f.do(r)
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Header().Get("Content-Type"), "json") {
		t.Fatalf("status %d type %q, want 502 JSON", w.Code, w.Header().Get("Content-Type"))
	}
	// Nothing is cached from a failure: the next request asks again.
	f.do(r)
	if n := f.hub.lookups.Load(); n != 2 {
		t.Errorf("%d lookups, want 2", n)
	}
	if w := f.do(httptest.NewRequest("GET", "/ready", nil)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("/ready with the Hub down: %d, want 503", w.Code)
	}
	f.hub.down = false
	if w := f.do(httptest.NewRequest("GET", "/ready", nil)); w.Code != http.StatusOK {
		t.Errorf("/ready: %d, want 200", w.Code)
	}
}

func TestTamperedCookieMeansLoggedOut(t *testing.T) {
	f := newFixture(t, access.Rules{})
	_, cookies := f.login(t, "/", "alice-token")
	for _, c := range cookies {
		if c.Name == "_hubgate" {
			c.Value = c.Value[:len(c.Value)-3] + "AAA"
		}
	}
	w := f.do(withCookies(httptest.NewRequest("GET", "/api", nil), cookies))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("tampered cookie: %d, want 401", w.Code)
	}
}

func TestAccessLogHasNoSecrets(t *testing.T) {
	f := newFixture(t, access.Rules{})
	_, cookies := f.login(t, "/app?token=alice-token", "alice-token")
	f.do(withCookies(navigation("/app?token=alice-token"), cookies))
	<-f.seen
	entries := f.logs.FilterMessage("request").All()
	if len(entries) < 3 {
		t.Fatalf("%d access log lines, want one per request", len(entries))
	}
	last := entries[len(entries)-1].ContextMap()
	if last["user"] != "alice" || last["cache"] != "hit" || last["status"] != int64(200) || last["path"] != "/app" {
		t.Errorf("access line %v", last)
	}
	secrets := []string{"alice-token", "code-for-"}
	for _, c := range cookies {
		if c.Value != "" {
			secrets = append(secrets, c.Value)
		}
	}
	for _, e := range f.logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		for _, secret := range secrets {
			if strings.Contains(string(line)+e.Message, secret) {
				t.Errorf("log line %s contains a secret", line)
			}
		}
	}
}

func TestOutsideServicePrefixIs404(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.ServicePrefix = "/services/gate/"
	f.server = New(f.server.o) // routes are built from the options
	if w := f.do(navigation("/elsewhere")); w.Code != http.StatusNotFound {
		t.Errorf("outside the prefix: %d, want 404", w.Code)
	}
	if w := f.do(navigation("/services/gate/x")); w.Code != http.StatusFound {
		t.Errorf("inside the prefix: %d, want 302 to login", w.Code)
	}
}

func TestStaleCallbackWhenLoggedInGoesHome(t *testing.T) {
	f := newFixture(t, access.Rules{})
	_, cookies := f.login(t, "/app", "alice-token")
	w := f.do(withCookies(navigation("/oauth2/callback?code=old&state=old"), cookies))
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/" {
		t.Fatalf("status %d Location %q, want 302 to /", w.Code, w.Header().Get("Location"))
	}
}

// expiredSession makes a session cookie whose access token has expired.
func (f *fixture) expiredSession(t *testing.T, refreshToken string) []*http.Cookie {
	t.Helper()
	w := httptest.NewRecorder()
	sess := session.Session{AccessToken: "stale", RefreshToken: refreshToken, TokenExpiry: time.Now().Add(-time.Minute).Unix(), Expires: time.Now().Add(time.Hour).Unix()}
	if err := f.server.o.Sessions.Save(t.Context(), w, httptest.NewRequest("GET", "/", nil), sess); err != nil {
		t.Fatal(err)
	}
	return w.Result().Cookies()
}

func TestRefreshOncePerSessionUnderConcurrency(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.hub.liveRefresh = "rt-0"
	cookies := f.expiredSession(t, "rt-0")
	const n = 16
	var wg sync.WaitGroup
	codes := make(chan int, n)
	renewed := make(chan bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := f.do(withCookies(httptest.NewRequest("GET", "/api", nil), cookies))
			codes <- w.Code
			fresh := false
			for _, c := range w.Result().Cookies() {
				fresh = fresh || (c.Name == "_hubgate" && c.MaxAge > 0)
			}
			renewed <- fresh
		}()
	}
	wg.Wait()
	close(codes)
	close(renewed)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("status %d, want 200 for every request during the refresh", code)
		}
		<-f.seen
	}
	for fresh := range renewed {
		if !fresh {
			t.Error("a response did not carry the refreshed session cookie")
		}
	}
	if got := f.hub.refreshes.Load(); got != 1 {
		t.Errorf("%d refreshes for one session, want 1", got)
	}
}

func TestRevokedRefreshTokenLogsOut(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.hub.liveRefresh = "rt-live"
	cookies := f.expiredSession(t, "rt-revoked")
	w := f.do(withCookies(navigation("/app"), cookies))
	if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "http://hub.test/") {
		t.Fatalf("navigation: status %d Location %q, want a new login", w.Code, w.Header().Get("Location"))
	}
	if w := f.do(withCookies(httptest.NewRequest("GET", "/api", nil), cookies)); w.Code != http.StatusUnauthorized {
		t.Fatalf("API request: %d, want 401", w.Code)
	}
}

func TestSignInPage(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.SkipSignInPage = false
	f.server.o.LoginService = "Django"
	w := f.do(navigation("/app?x=1"))
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/oauth2/sign_in?rd="+url.QueryEscape("/app?x=1") {
		t.Fatalf("status %d Location %q", w.Code, w.Header().Get("Location"))
	}
	w = f.do(navigation(w.Header().Get("Location")))
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "Sign in with Django") || !strings.Contains(body, `href="/oauth2/start?rd=%2Fapp%3Fx%3D1"`) {
		t.Fatalf("sign-in page %d:\n%s", w.Code, body)
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("the sign-in page loads something from elsewhere")
	}
	w = f.do(navigation("/oauth2/sign_in?rd=//evil.com"))
	if strings.Contains(w.Body.String(), "evil.com") {
		t.Error("the sign-in page carried a foreign rd")
	}
}

// TestSignInForAPIClients: nginx's error_page and Caddy's handle_response send every
// 401 to sign_in, API calls too. They get 401 JSON, never a login, and no body
// states a status that a proxy's =403 would contradict.
func TestSignInForAPIClients(t *testing.T) {
	for _, skip := range []bool{true, false} {
		f := newFixture(t, access.Rules{})
		f.server.o.SkipSignInPage = skip
		for _, c := range []struct {
			name, accept, authorization, method, challenge string
		}{
			{"no Accept", "", "", "GET", challengeLogin},
			{"JSON", "application/json", "", "GET", challengeLogin},
			{"refused token", "application/json", "Bearer bad", "GET", challengeInvalidToken},
			{"a POST of a form", "text/html", "", "POST", challengeLogin},
		} {
			r := httptest.NewRequest(c.method, "/oauth2/sign_in?rd=%2Fapi%2Fx", nil)
			if c.accept != "" {
				r.Header.Set("Accept", c.accept)
			}
			if c.authorization != "" {
				r.Header.Set("Authorization", c.authorization)
			}
			w := f.do(r)
			if w.Code != http.StatusUnauthorized || w.Header().Get("Location") != "" || len(w.Result().Cookies()) != 0 {
				t.Errorf("skip %v, %s: status %d, Location %q, cookies %v; want 401 and no login",
					skip, c.name, w.Code, w.Header().Get("Location"), w.Result().Cookies())
			}
			if got := w.Header().Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("skip %v, %s: WWW-Authenticate %q, want %q", skip, c.name, got, c.challenge)
			}
			if body := w.Body.String(); strings.Contains(body, "status") || !strings.Contains(body, `"message"`) {
				t.Errorf("skip %v, %s: body %s, want a message and no status", skip, c.name, body)
			}
		}
	}
}

// TestSignInSurvivesRestatus: under nginx's error_page 401 =403 /oauth2/sign_in (or
// Traefik's errors middleware) the browser gets sign_in's answer with another
// status. The sign-in page states none; the login redirect also carries a Refresh
// header and a page with the same link, which browsers follow whatever the status.
func TestSignInSurvivesRestatus(t *testing.T) {
	f := newFixture(t, access.Rules{})
	w := f.do(navigation("/oauth2/sign_in?rd=%2Freport"))
	loc := w.Header().Get("Location")
	if w.Code != http.StatusFound || !strings.HasPrefix(loc, "http://hub.test/") {
		t.Fatalf("status %d Location %q, want 302 to the Hub", w.Code, loc)
	}
	if got := w.Header().Get("Refresh"); got != "0; url="+loc {
		t.Errorf("Refresh %q, want 0; url=<Location>", got)
	}
	if body := w.Body.String(); !strings.Contains(body, `href="`+html.EscapeString(loc)+`"`) || strings.Contains(body, "302") {
		t.Errorf("the redirect's page should link to the Location and state no status:\n%s", body)
	}
	f.server.o.SkipSignInPage = false
	w = f.do(navigation("/oauth2/sign_in?rd=%2Freport"))
	if body := w.Body.String(); w.Code != http.StatusOK || strings.Contains(body, "200") {
		t.Errorf("the sign-in page (%d) should state no status:\n%s", w.Code, body)
	}
}

func TestDeniedAndBlockedUsers(t *testing.T) {
	f := newFixture(t, access.Rules{BlockedUsers: []string{"alice"}, AdminUsers: []string{"alice"}})
	f.hub.users["denied-token"] = &provider.User{Name: "dave", Kind: "user", Denied: "the Google account does not belong to an allowed domain"}
	for token, want := range map[string]int{"alice-token": 403, "denied-token": 403, "bob-token": 200} {
		r := navigation("/x")
		r.Header.Set("Authorization", "token "+token)
		w := f.do(r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", token, w.Code, want)
		}
		if want == 200 {
			<-f.seen
		}
		if token == "denied-token" && !strings.Contains(w.Body.String(), "allowed domain") {
			t.Errorf("the 403 page does not say why: %s", w.Body)
		}
	}
}

// A provider whose answer names no one (provider oidc without the username claim)
// refuses with User.Denied: the login and a bearer token get the 403 page saying why,
// not the 502 of a provider that is down, and no session begins.
func TestDeniedWithoutUsername(t *testing.T) {
	f := newFixture(t, access.Rules{})
	const why = "the issuer gave no preferred_username claim to name the account by (set username_claim to a claim the issuer sends)"
	f.hub.users["nameless-token"] = &provider.User{Kind: "user", Groups: []string{}, Denied: why}
	w, cookies := f.login(t, "/app", "nameless-token")
	if w.Code != http.StatusForbidden {
		t.Fatalf("login: status %d, want 403\n%s", w.Code, w.Body)
	}
	body := w.Body.String()
	if !strings.Contains(body, "Access denied") || !strings.Contains(body, "preferred_username") || strings.Contains(body, "signed in as ,") {
		t.Errorf("the 403 page does not say why (or names an empty user):\n%s", body)
	}
	for _, c := range cookies {
		if c.Name == "_hubgate" && c.MaxAge >= 0 && c.Value != "" {
			t.Errorf("a session cookie was set for a refused login: %+v", c)
		}
	}
	r := httptest.NewRequest("GET", "/app", nil)
	r.Header.Set("Authorization", "Bearer nameless-token")
	if w := f.do(r); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "preferred_username") {
		t.Errorf("bearer: status %d, want 403 saying why\n%s", w.Code, w.Body)
	}
}

// TestUpstreamToldWhatProxyDecided: the forwarder is told per request what the Server
// decided: the access token only with pass_access_token, and forwarding headers kept
// only from a trusted proxy, on protected and skipped routes alike.
func TestUpstreamToldWhatProxyDecided(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.SkipAuthRoutes = []SkipRoute{{Path: regexp.MustCompile(`^/public/`)}}
	f.server = New(f.server.o) // routes are built from the options
	send := func(target, remote string) http.Header {
		t.Helper()
		r := httptest.NewRequest("GET", target, nil)
		r.RemoteAddr = remote
		r.Header.Set("Authorization", "token alice-token")
		r.Header.Set("X-Forwarded-Host", "public.example.org")
		if w := f.do(r); w.Code != http.StatusOK {
			t.Fatalf("%s from %s: status %d", target, remote, w.Code)
		}
		return <-f.seen
	}
	if h := send("/app", "127.0.0.1:5000"); h.Get("X-Forwarded-Access-Token") != "" {
		t.Error("the access token went upstream without pass_access_token")
	}
	f.server.o.PassAccessToken = true
	f.server = New(f.server.o) // routes are built from the options
	if h := send("/app", "127.0.0.1:5000"); h.Get("X-Forwarded-Access-Token") != "alice-token" {
		t.Errorf("with pass_access_token: X-Forwarded-Access-Token %q", h.Get("X-Forwarded-Access-Token"))
	}
	for _, target := range []string{"/app", "/public/x"} {
		if h := send(target, "127.0.0.1:5000"); h.Get("X-Forwarded-Host") != "public.example.org" {
			t.Errorf("%s from a trusted proxy: X-Forwarded-Host %q, want the proxy's", target, h.Get("X-Forwarded-Host"))
		}
		if h := send(target, "192.0.2.7:5000"); h.Get("X-Forwarded-Host") == "public.example.org" {
			t.Errorf("%s from a client: its X-Forwarded-Host reached the upstream", target)
		}
	}
}
