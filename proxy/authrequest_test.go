package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/access"
)

func authRequestWith(token, query string) *http.Request {
	r := httptest.NewRequest("GET", "/oauth2/auth"+query, nil)
	if token != "" {
		r.Header.Set("Authorization", "token "+token)
	}
	return r
}

func TestAuthRequest(t *testing.T) {
	f := newFixture(t, access.Rules{AllowedGroups: []string{"staff"}, AllowedUsers: []string{"bob"}})
	cases := []struct {
		name, token, query string
		want               int
	}{
		{"allowed", "alice-token", "", 202},
		{"no credential", "", "", 401},
		{"bad token", "wrong", "", 401},
		{"globally not allowed", "svc-token", "", 403},
		{"location narrows to a group alice is in", "alice-token", "?allowed_groups=staff", 202},
		{"location narrows to a group alice is not in", "alice-token", "?allowed_groups=admins", 403},
		{"location narrows to users", "bob-token", "?allowed_users=bob", 202},
		{"location narrows to other users", "bob-token", "?allowed_users=carol&allowed_groups=staff", 403},
	}
	for _, c := range cases {
		w := f.do(authRequestWith(c.token, c.query))
		if w.Code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, w.Code, c.want)
		}
		if w.Header().Get("Location") != "" {
			t.Errorf("%s: auth_request must never redirect, got Location %q", c.name, w.Header().Get("Location"))
		}
	}
	w := f.do(authRequestWith("alice-token", ""))
	h := w.Header()
	if h.Get("X-Auth-Request-User") != "alice" || h.Get("X-Auth-Request-Groups") != "staff" || h.Get("X-Auth-Request-Preferred-Username") != "alice" {
		t.Errorf("202 headers %v", h)
	}
	if h.Get("X-Auth-Request-Access-Token") != "" {
		t.Error("the access token was sent without pass_access_token")
	}
	f.server.o.PassAccessToken = true
	f.server = New(f.server.o) // routes are built from the options
	if got := f.do(authRequestWith("alice-token", "")).Header().Get("X-Auth-Request-Access-Token"); got != "alice-token" {
		t.Errorf("X-Auth-Request-Access-Token = %q with pass_access_token", got)
	}
}

func TestAuthRequestBrowserGets401InRequestMode(t *testing.T) {
	f := newFixture(t, access.Rules{})
	r := navigation("/oauth2/auth")
	if w := f.do(r); w.Code != http.StatusUnauthorized || w.Header().Get("Location") != "" {
		t.Fatalf("status %d Location %q, want 401 (nginx turns it into the login)", w.Code, w.Header().Get("Location"))
	}
}

func TestAuthRequestForwardMode(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.server.o.AuthMode = "forward"
	login := func(remote, uri string) string {
		r := navigation("/oauth2/auth")
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-Uri", uri)
		w := f.do(r)
		if w.Code != http.StatusFound {
			t.Fatalf("forward mode: status %d, want 302 to the login", w.Code)
		}
		code, state := f.hub.issueCode(w.Header().Get("Location"), "alice-token")
		cb := f.do(withCookies(navigation("/oauth2/callback?code="+code+"&state="+state), w.Result().Cookies()))
		return cb.Header().Get("Location")
	}
	if got := login("127.0.0.1:5000", "/app/page?x=1"); got != "/app/page?x=1" {
		t.Errorf("from a trusted proxy: landed on %q, want /app/page?x=1", got)
	}
	if got := login("192.0.2.9:5000", "/app/page"); got != "/" {
		t.Errorf("X-Forwarded-Uri from an untrusted client was used: landed on %q", got)
	}
	if got := login("127.0.0.1:5000", "//evil.com/"); got != "/" {
		t.Errorf("a foreign X-Forwarded-Uri was followed: %q", got)
	}
	// An API client behind forward auth still gets 401, never an HTML login.
	if w := f.do(authRequestWith("", "")); w.Code != http.StatusUnauthorized {
		t.Errorf("API client in forward mode: %d, want 401", w.Code)
	}
	// A query flag asks for forward mode per request.
	f.server.o.AuthMode = "request"
	if w := f.do(navigation("/oauth2/auth?mode=forward")); w.Code != http.StatusFound {
		t.Errorf("?mode=forward: %d, want 302", w.Code)
	}
}

func TestAuthRequestDecisionIgnoresForwardedURI(t *testing.T) {
	f := newFixture(t, access.Rules{AllowedGroups: []string{"admins"}})
	for _, uri := range []string{"/public/", "/oauth2/start", "/ping"} {
		r := authRequestWith("alice-token", "")
		r.Header.Set("X-Forwarded-Uri", uri)
		r.Header.Set("X-Original-Uri", uri)
		if w := f.do(r); w.Code != http.StatusForbidden {
			t.Errorf("X-Forwarded-Uri %q changed the decision: %d", uri, w.Code)
		}
	}
}

func TestAuthRequestPassesRefreshedCookie(t *testing.T) {
	f := newFixture(t, access.Rules{})
	f.hub.liveRefresh = "rt-0"
	cookies := f.expiredSession(t, "rt-0")
	w := f.do(withCookies(httptest.NewRequest("GET", "/oauth2/auth", nil), cookies))
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202", w.Code)
	}
	if sc := w.Header().Get("Set-Cookie"); !strings.HasPrefix(sc, "_hubgate=") {
		t.Errorf("Set-Cookie %q: the refreshed session must reach nginx", sc)
	}
}
