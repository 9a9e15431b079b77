package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/internal/redistest"
)

// Tests of session_store: redis. Each fixture is one hubgate; several built on one
// fakeHub and one Redis are replicas behind a load balancer.

func sessionKeys(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "hubgate:session:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// sessionCookieSet reports what a response did to the session cookie: "" nothing,
// "set" or "cleared".
func sessionCookieSet(w *httptest.ResponseRecorder) string {
	for _, c := range w.Result().Cookies() {
		if c.Name == "_hubgate" {
			if c.MaxAge < 0 {
				return "cleared"
			}
			return "set"
		}
	}
	return ""
}

func apiRequest(target string, cookies []*http.Cookie) *http.Request {
	return withCookies(httptest.NewRequest("GET", target, nil), cookies)
}

func TestRedisSessionsAcrossReplicas(t *testing.T) {
	rdb := redistest.Start(t).Client()
	hub := newFakeHub()
	a := newFixtureWith(t, access.Rules{}, fixtureOptions{hub: hub, redis: rdb})
	b := newFixtureWith(t, access.Rules{}, fixtureOptions{hub: hub, redis: rdb})

	w, cookies := a.login(t, "/app", "alice-token")
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/app" {
		t.Fatalf("callback on A: %d %q", w.Code, w.Header().Get("Location"))
	}
	if n := len(sessionKeys(t, rdb)); n != 1 {
		t.Fatalf("%d sessions in Redis after one login", n)
	}
	for _, c := range cookies {
		if strings.Contains(c.Value, "alice-token") {
			t.Fatal("the cookie holds the token in the clear")
		}
	}
	if w := b.do(withCookies(navigation("/app"), cookies)); w.Code != http.StatusOK {
		t.Fatalf("B with A's cookie: %d, want 200", w.Code)
	}
	if h := <-b.seen; h.Get("X-Forwarded-User") != "alice" {
		t.Errorf("B sent user %q upstream", h.Get("X-Forwarded-User"))
	}

	// Sign out on A: the same cookie (another tab, or a stolen copy) is dead on B.
	if w := a.do(withCookies(navigation("/oauth2/sign_out"), cookies)); w.Code != http.StatusOK || sessionCookieSet(w) != "cleared" {
		t.Fatalf("sign_out on A: %d, cookie %q", w.Code, sessionCookieSet(w))
	}
	if keys := sessionKeys(t, rdb); len(keys) != 0 {
		t.Errorf("sign-out left %q in Redis", keys)
	}
	if w := b.do(withCookies(navigation("/app"), cookies)); w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "http://hub.test/") {
		t.Errorf("B after sign-out, browser: %d %q, want a new login", w.Code, w.Header().Get("Location"))
	}
	if w := b.do(apiRequest("/api", cookies)); w.Code != http.StatusUnauthorized {
		t.Errorf("B after sign-out, API: %d, want 401", w.Code)
	}
}

func TestRedisLoginEndsThePreviousSession(t *testing.T) {
	rdb := redistest.Start(t).Client()
	f := newFixtureWith(t, access.Rules{}, fixtureOptions{redis: rdb})
	_, first := f.login(t, "/", "bob-token") // say, planted by someone else
	start := f.do(withCookies(navigation("/oauth2/start?rd=/x"), first))
	code, state := f.hub.issueCode(start.Header().Get("Location"), "alice-token")
	jar := append(append([]*http.Cookie{}, first...), start.Result().Cookies()...)
	w := f.do(withCookies(navigation("/oauth2/callback?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(state)), jar))
	if w.Code != http.StatusFound || sessionCookieSet(w) != "set" {
		t.Fatalf("second login: %d, cookie %q", w.Code, sessionCookieSet(w))
	}
	if keys := sessionKeys(t, rdb); len(keys) != 1 {
		t.Errorf("%d sessions in Redis after a login that replaced one, want 1", len(keys))
	}
	if w := f.do(apiRequest("/api", first)); w.Code != http.StatusUnauthorized {
		t.Errorf("the replaced session: %d, want 401", w.Code)
	}
	if second := f.do(apiRequest("/api", w.Result().Cookies())); second.Code != http.StatusOK {
		t.Errorf("the new session: %d, want 200", second.Code)
	} else if h := <-f.seen; h.Get("X-Forwarded-User") != "alice" {
		t.Errorf("the new session is %q's", h.Get("X-Forwarded-User"))
	}
}

func TestRedisRevokedTokenDeletesTheSession(t *testing.T) {
	rdb := redistest.Start(t).Client()
	f := newFixtureWith(t, access.Rules{}, fixtureOptions{redis: rdb})
	_, cookies := f.login(t, "/", "bob-token")
	f.hub.mu.Lock()
	delete(f.hub.users, "bob-token")
	f.hub.mu.Unlock()
	f.server.o.Cache.Forget("bob-token")
	if w := f.do(apiRequest("/api", cookies)); w.Code != http.StatusUnauthorized || sessionCookieSet(w) != "cleared" {
		t.Fatalf("revoked token: %d, cookie %q; want 401 and the cookie cleared", w.Code, sessionCookieSet(w))
	}
	if keys := sessionKeys(t, rdb); len(keys) != 0 {
		t.Errorf("the dead session stayed in Redis: %q", keys)
	}
}

func TestRedisRefreshSharedAcrossReplicas(t *testing.T) {
	rdb := redistest.Start(t).Client()
	hub := newFakeHub()
	hub.liveRefresh = "rt-0"
	a := newFixtureWith(t, access.Rules{}, fixtureOptions{hub: hub, redis: rdb})
	b := newFixtureWith(t, access.Rules{}, fixtureOptions{hub: hub, redis: rdb})
	cookies := a.expiredSession(t, "rt-0")
	if w := a.do(apiRequest("/api", cookies)); w.Code != http.StatusOK {
		t.Fatalf("A: %d", w.Code)
	}
	<-a.seen
	// B is given the cookie from before the refresh: it finds the refreshed tokens.
	if w := b.do(apiRequest("/api", cookies)); w.Code != http.StatusOK {
		t.Fatalf("B: %d", w.Code)
	}
	<-b.seen
	if n := hub.refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes for one session on two replicas, want 1", n)
	}
}

// refreshAfter runs first, once, before the Hub sees the refresh: another replica
// refreshing the same session in the meantime.
type refreshAfter struct {
	*fakeHub
	once  sync.Once
	first func()
}

func (r *refreshAfter) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	r.once.Do(r.first)
	return r.fakeHub.Refresh(ctx, refreshToken)
}

func TestRedisRefreshRaceAcrossReplicasKeepsTheSession(t *testing.T) {
	rdb := redistest.Start(t).Client()
	hub := newFakeHub()
	hub.liveRefresh = "rt-0"
	a := newFixtureWith(t, access.Rules{}, fixtureOptions{hub: hub, redis: rdb})
	cookies := a.expiredSession(t, "rt-0")
	race := &refreshAfter{fakeHub: hub, first: func() {
		if w := a.do(apiRequest("/api", cookies)); w.Code != http.StatusOK {
			t.Errorf("A: %d", w.Code)
		}
		<-a.seen
	}}
	b := newFixtureWith(t, access.Rules{}, fixtureOptions{hub: hub, redis: rdb, refresh: race})
	// B loaded the session with rt-0 before A rotated it, so the Hub refuses B's
	// refresh: B must take A's result, not end the session.
	w := b.do(apiRequest("/api", cookies))
	if w.Code != http.StatusOK || sessionCookieSet(w) == "cleared" {
		t.Fatalf("B: %d, cookie %q; want 200 and the session kept", w.Code, sessionCookieSet(w))
	}
	<-b.seen
	if keys := sessionKeys(t, rdb); len(keys) != 1 {
		t.Errorf("%d sessions in Redis, want the one", len(keys))
	}
	if n := hub.refreshes.Load(); n != 2 {
		t.Errorf("%d refreshes at the Hub, want A's and B's refused one", n)
	}
}

// downClient is a client like main's (1 s timeouts, one retry) whose pool gives up
// dialling after the first failure, so that a Redis kept down fails each call at
// once rather than after a round of dial attempts.
func downClient(t *testing.T, srv *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1, PoolSize: 1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisDownAnswers503(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixtureWith(t, access.Rules{}, fixtureOptions{redis: downClient(t, srv)})
	_, cookies := f.login(t, "/", "alice-token")
	anonymous := f.do(navigation("/app")) // a login started before Redis went down
	srv.Stop()

	for name, r := range map[string]*http.Request{
		"browser":       withCookies(navigation("/app"), cookies),
		"API":           apiRequest("/api", cookies),
		"auth":          apiRequest("/oauth2/auth", cookies),
		"auth, forward": withCookies(navigation("/oauth2/auth?mode=forward"), cookies),
		"userinfo":      apiRequest("/oauth2/userinfo", cookies),
		"sign_out":      withCookies(navigation("/oauth2/sign_out"), cookies),
	} {
		w := f.do(r)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: %d, want 503", name, w.Code)
		}
		if loc := w.Header().Get("Location"); loc != "" {
			t.Errorf("%s: redirected to %q with Redis down", name, loc)
		}
		if c := sessionCookieSet(w); c != "" {
			t.Errorf("%s: session cookie %s with Redis down", name, c)
		}
		if !strings.Contains(w.Body.String(), "Session store unavailable") {
			t.Errorf("%s: body %q does not say what is wrong", name, w.Body)
		}
		wantType := "application/json"
		if isNavigation(r) && r.URL.Path != "/oauth2/auth" {
			wantType = "text/html"
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
			t.Errorf("%s: Content-Type %q, want %s", name, ct, wantType)
		}
	}
	if w := f.do(httptest.NewRequest("GET", "/ready", nil)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("/ready with Redis down: %d, want 503", w.Code)
	}

	// A login cannot be saved: 503 with a way to start again, and no session.
	code, state := f.hub.issueCode(anonymous.Header().Get("Location"), "alice-token")
	cb := f.do(withCookies(navigation("/oauth2/callback?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(state)), anonymous.Result().Cookies()))
	if cb.Code != http.StatusServiceUnavailable || sessionCookieSet(cb) != "" || !strings.Contains(cb.Body.String(), "/oauth2/start") {
		t.Errorf("callback with Redis down: %d, cookie %q, body %s", cb.Code, sessionCookieSet(cb), cb.Body)
	}

	// What needs no session still works: API tokens, and the way to a login.
	r := httptest.NewRequest("GET", "/api", nil)
	r.Header.Set("Authorization", "token alice-token")
	if w := f.do(r); w.Code != http.StatusOK {
		t.Errorf("API token with Redis down: %d, want 200", w.Code)
	} else {
		<-f.seen
	}
	if w := f.do(navigation("/app")); w.Code != http.StatusFound {
		t.Errorf("browser without a session: %d, want 302 to log in", w.Code)
	}

	if n := f.logs.FilterMessageSnippet("session store unavailable").Len(); n != 1 {
		t.Errorf("%d log lines about the session store, want 1 (once a minute)", n)
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := f.do(httptest.NewRequest("GET", "/ready", nil))
		if w.Code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready 5s after Redis came back: %d", w.Code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
