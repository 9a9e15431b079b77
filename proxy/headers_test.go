package proxy

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/upstream"
)

func headersFixture(t *testing.T, o upstream.HeaderOptions) *fixture {
	t.Helper()
	ids, err := upstream.NewHeaders(o)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, access.Rules{}, fixtureOptions{headers: ids})
	f.hub.users["erin-token"] = &provider.User{Name: "erin", Email: "erin@example.org", Groups: []string{"staff", "dev"}, Kind: "user"}
	f.server.o.SkipAuthRoutes = []SkipRoute{{Path: regexp.MustCompile(`^/public/`)}}
	f.server = New(f.server.o) // routes are built from the options
	return f
}

var webauth = map[string]string{"X-WEBAUTH-USER": "user", "X-WEBAUTH-EMAIL": "email"}

// TestAttackMappedHeadersThroughServer: a client's X-WEBAUTH-USER, in any spelling,
// never reaches the upstream through the Server: logged in, it is replaced by the
// user's; on a skip_auth route, where no identity is sent, it is dropped.
func TestAttackMappedHeadersThroughServer(t *testing.T) {
	f := headersFixture(t, upstream.HeaderOptions{PassUser: true, AuthRequest: true, Mapped: webauth})
	for _, c := range []struct{ target, token, user string }{
		{"/app", "erin-token", "erin"},
		{"/public/page", "", ""},
	} {
		r := httptest.NewRequest("GET", c.target, nil)
		if c.token != "" {
			r.Header.Set("Authorization", "token "+c.token)
		}
		for _, name := range []string{"X-WEBAUTH-USER", "x_webauth_user", "X.Webauth.User", "x-webauth-user", "X_WEBAUTH_EMAIL", "x.webauth.email"} {
			r.Header[name] = []string{"admin-mallory"}
		}
		if w := f.do(r); w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", c.target, w.Code)
		}
		h := <-f.seen
		for name, values := range h {
			for _, v := range values {
				if strings.Contains(v, "mallory") {
					t.Errorf("%s: %s: %q reached the upstream", c.target, name, v)
				}
			}
		}
		if got := h.Values("X-Webauth-User"); c.user != "" && (len(got) != 1 || got[0] != c.user) {
			t.Errorf("%s: X-Webauth-User %q, want [%s]", c.target, got, c.user)
		}
		if c.user == "" && (h.Get("X-Webauth-User") != "" || h.Get("X-Webauth-Email") != "") {
			t.Errorf("%s: identity headers without a login: %v", c.target, h)
		}
	}
}

// TestAuthRequestHeaderSwitches: set_xauthrequest false leaves the X-Auth-Request-*
// headers (the access token too) off the 202; upstream_headers are on it either way.
func TestAuthRequestHeaderSwitches(t *testing.T) {
	f := headersFixture(t, upstream.HeaderOptions{PassUser: true, Mapped: webauth})
	f.server.o.PassAccessToken = true
	f.server = New(f.server.o) // routes are built from the options
	w := f.do(authRequestWith("erin-token", ""))
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	h := w.Header()
	for name := range h {
		if strings.HasPrefix(name, "X-Auth-Request-") {
			t.Errorf("%s on the 202 with set_xauthrequest false", name)
		}
	}
	if h.Get("X-Webauth-User") != "erin" || h.Get("X-Webauth-Email") != "erin@example.org" {
		t.Errorf("202 headers %v, want X-Webauth-User and -Email", h)
	}
	// alice has no e-mail: X-Webauth-Email is there, empty, so that a proxy copying
	// it (Caddy's copy_headers) replaces a client's copy.
	if h := f.do(authRequestWith("alice-token", "")).Header(); h.Get("X-Webauth-User") != "alice" || !slices.Equal(h.Values("X-Webauth-Email"), []string{""}) {
		t.Errorf("202 headers for a user without e-mail %v", h)
	}

	on := headersFixture(t, upstream.HeaderOptions{AuthRequest: true, PreferEmail: true, Mapped: webauth})
	h = on.do(authRequestWith("erin-token", "")).Header()
	if h.Get("X-Auth-Request-User") != "erin" || h.Get("X-Auth-Request-Email") != "erin@example.org" || h.Get("X-Auth-Request-Groups") != "staff,dev" || h.Get("X-Webauth-User") != "erin" {
		t.Errorf("202 headers with set_xauthrequest %v", h)
	}
}
