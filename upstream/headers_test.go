package upstream_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/upstream"
)

func newHeaders(t *testing.T, o upstream.HeaderOptions) *upstream.Headers {
	t.Helper()
	h, err := upstream.NewHeaders(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// grafana is upstream_headers as a Grafana auth.proxy setup writes it, plus a name
// shorter than X-Auth-Request-, which Scrub alone never looks at.
var grafana = map[string]string{"X-WEBAUTH-USER": "user", "X-WEBAUTH-EMAIL": "email", "X-U": "groups"}

// forgedMapped are a client's copies of the mapped names, in the spellings gateways
// read as the same header.
func forgedMapped() []string {
	var lines []string
	for _, name := range []string{"X-WEBAUTH-USER", "X-WEBAUTH-EMAIL", "X-U"} {
		for _, spelling := range []string{name, strings.ToLower(name), strings.ReplaceAll(name, "-", "_"),
			strings.ToLower(strings.ReplaceAll(name, "-", "_")), strings.ReplaceAll(name, "-", "."), "X.Webauth.User", "x~webauth~email"} {
			lines = append(lines, spelling+": mallory")
		}
	}
	return lines
}

// noMallory fails if a forged value reached the upstream under any name.
func noMallory(t *testing.T, s seen) {
	t.Helper()
	for name, values := range s.Header {
		for _, v := range values {
			if strings.Contains(v, "mallory") {
				t.Errorf("%s: %q reached the upstream", name, v)
			}
		}
	}
}

// TestAttackMappedHeaderSpellings: with upstream_headers configured, a client's copy
// of a mapped name never reaches the upstream, in any spelling, whether the request is
// logged in (hubgate's value is the only one) or passes without a login.
func TestAttackMappedHeaderSpellings(t *testing.T) {
	up := echoServer(t)
	ids := newHeaders(t, upstream.HeaderOptions{PassUser: true, Mapped: grafana})
	for _, c := range []struct {
		name string
		id   *upstream.Identity
	}{
		{"logged in", &upstream.Identity{User: "alice", Email: "alice@example.org", Groups: []string{"staff", "dev"}}},
		{"skip_auth route, no identity", nil},
	} {
		srv, _ := front(t, upstream.Options{Target: up.URL, Headers: ids}, c.id)
		s := rawRequest(t, srv.Listener.Addr().String(), "/", forgedMapped())
		noMallory(t, s)
		want := map[string]string{"X-Webauth-User": "alice", "X-Webauth-Email": "alice@example.org", "X-U": "staff,dev"}
		for name, v := range want {
			got := s.Header.Values(name)
			if c.id == nil && len(got) != 0 {
				t.Errorf("%s: %s = %q without a login", c.name, name, got)
			}
			if c.id != nil && (len(got) != 1 || got[0] != v) {
				t.Errorf("%s: %s = %q, want [%s]", c.name, name, got, v)
			}
		}
	}
}

// TestMappedHeaderOverridesAndEmpty: a mapping comes after the standard headers, so it
// may replace one; an empty field sends no header at all.
func TestMappedHeaderOverridesAndEmpty(t *testing.T) {
	up := echoServer(t)
	ids := newHeaders(t, upstream.HeaderOptions{PassUser: true, Mapped: map[string]string{
		"X-Forwarded-User": "email", "X-Webauth-Email": "email", "X-Webauth-Admin": "admin", "X-Name": "preferred_username"}})
	srv, _ := front(t, upstream.Options{Target: up.URL, Headers: ids}, &upstream.Identity{User: "alice", Admin: true})
	s := send(t, newRequest(t, srv.URL))
	if _, ok := s.Header["X-Forwarded-User"]; ok {
		t.Errorf("X-Forwarded-User %q: mapped to an empty e-mail, it must not be sent", s.Header["X-Forwarded-User"])
	}
	if _, ok := s.Header["X-Webauth-Email"]; ok {
		t.Error("X-Webauth-Email sent for a user without e-mail")
	}
	if s.Header.Get("X-Webauth-Admin") != "true" || s.Header.Get("X-Name") != "alice" {
		t.Errorf("mapped headers %v", s.Header)
	}
	srv, _ = front(t, upstream.Options{Target: up.URL, Headers: ids}, &upstream.Identity{User: "alice", Email: "a@example.org"})
	if got := send(t, newRequest(t, srv.URL)).Header.Values("X-Forwarded-User"); len(got) != 1 || got[0] != "a@example.org" {
		t.Errorf("X-Forwarded-User %q, want the mapping's e-mail", got)
	}
}

// TestPassUserHeadersOff: pass_user_headers false sends none of the standard identity
// headers, and a client's copies are still dropped.
func TestPassUserHeadersOff(t *testing.T) {
	up := echoServer(t)
	ids := newHeaders(t, upstream.HeaderOptions{Mapped: map[string]string{"X-Webauth-User": "user"}})
	srv, _ := front(t, upstream.Options{Target: up.URL, Headers: ids}, &upstream.Identity{User: "alice", Email: "a@example.org", Groups: []string{"g"}})
	req := newRequest(t, srv.URL)
	forge(req)
	s := send(t, req)
	for _, name := range []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "X-Forwarded-Admin", "X-Forwarded-Access-Token"} {
		if got := identityHeaderValues(s.Header, name); len(got) != 0 {
			t.Errorf("%s reached the upstream with pass_user_headers false: %v", name, got)
		}
	}
	if s.Header.Get("X-Webauth-User") != "alice" {
		t.Errorf("X-Webauth-User %q: upstream_headers go without pass_user_headers", s.Header.Get("X-Webauth-User"))
	}
}

// TestPreferEmailToUser: X-Forwarded-User is the e-mail and no X-Forwarded-Email is
// sent; without an e-mail it stays the username.
func TestPreferEmailToUser(t *testing.T) {
	up := echoServer(t)
	ids := newHeaders(t, upstream.HeaderOptions{PassUser: true, PreferEmail: true})
	for _, c := range []struct{ email, user string }{{"alice@example.org", "alice@example.org"}, {"", "alice"}} {
		srv, _ := front(t, upstream.Options{Target: up.URL, Headers: ids}, &upstream.Identity{User: "alice", Email: c.email})
		s := send(t, newRequest(t, srv.URL))
		if got := s.Header.Values("X-Forwarded-User"); len(got) != 1 || got[0] != c.user {
			t.Errorf("email %q: X-Forwarded-User %q, want [%s]", c.email, got, c.user)
		}
		if got := s.Header.Values("X-Forwarded-Email"); len(got) != 0 {
			t.Errorf("email %q: X-Forwarded-Email %q sent with prefer_email_to_user", c.email, got)
		}
		if s.Header.Get("X-Forwarded-Preferred-Username") != "alice" {
			t.Errorf("X-Forwarded-Preferred-Username %q, want the username", s.Header.Get("X-Forwarded-Preferred-Username"))
		}
	}
}

// TestBasicAuth: the upstream's Authorization is Basic user:password, whatever the
// client sent; with prefer_email_to_user the user is the e-mail.
func TestBasicAuth(t *testing.T) {
	up := echoServer(t)
	basic := func(userpass string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(userpass)) }
	for _, c := range []struct {
		prefer bool
		email  string
		want   string
	}{
		{false, "alice@example.org", basic("alice:pw")},
		{true, "alice@example.org", basic("alice@example.org:pw")},
		{true, "", basic("alice:pw")},
	} {
		ids := newHeaders(t, upstream.HeaderOptions{PassUser: true, PreferEmail: c.prefer, BasicAuth: "pw"})
		srv, _ := front(t, upstream.Options{Target: up.URL, Headers: ids}, &upstream.Identity{User: "alice", Email: c.email})
		req := newRequest(t, srv.URL)
		req.Header.Set("Authorization", basic("mallory:guess"))
		req.Header.Add("Authorization", "Bearer mallory")
		if got := send(t, req).Header.Values("Authorization"); len(got) != 1 || got[0] != c.want {
			t.Errorf("prefer %v email %q: Authorization %q, want [%s]", c.prefer, c.email, got, c.want)
		}
	}
	if basic("alice:pw") != "Basic YWxpY2U6cHc=" {
		t.Fatal("the test's own encoding is wrong")
	}
	// No Basic header without a password: hubgate's default.
	srv, _ := front(t, upstream.Options{Target: up.URL}, &upstream.Identity{User: "alice", DropAuthorization: true})
	req := newRequest(t, srv.URL)
	req.Header.Set("Authorization", "token alice-token")
	if got := send(t, req).Header.Values("Authorization"); len(got) != 0 {
		t.Errorf("Authorization %q without pass_basic_auth", got)
	}
}

// TestAuthAnswer: set_xauthrequest decides the X-Auth-Request-* headers of the 202;
// upstream_headers are on it either way.
func TestAuthAnswer(t *testing.T) {
	id := &upstream.Identity{User: "alice", Email: "alice@example.org", Groups: []string{"staff"}, AccessToken: "tok"}
	on := http.Header{}
	newHeaders(t, upstream.HeaderOptions{AuthRequest: true, PreferEmail: true}).AuthAnswer(on, id)
	for name, want := range map[string]string{"X-Auth-Request-User": "alice", "X-Auth-Request-Preferred-Username": "alice",
		"X-Auth-Request-Email": "alice@example.org", "X-Auth-Request-Groups": "staff", "X-Auth-Request-Access-Token": "tok"} {
		if got := on.Get(name); got != want {
			t.Errorf("%s = %q, want %q (prefer_email_to_user leaves X-Auth-Request-User the username)", name, got, want)
		}
	}
	off := http.Header{}
	newHeaders(t, upstream.HeaderOptions{PassUser: true, Mapped: grafana}).AuthAnswer(off, id)
	for name := range off {
		if strings.HasPrefix(name, "X-Auth-Request-") || strings.HasPrefix(name, "X-Forwarded-") {
			t.Errorf("%s on the 202 with set_xauthrequest false", name)
		}
	}
	if off.Get("X-Webauth-User") != "alice" || off.Get("X-Webauth-Email") != "alice@example.org" || off.Get("X-U") != "staff" || len(off) != 3 {
		t.Errorf("202 headers %v, want the three mapped ones", off)
	}
	// Without an e-mail address the e-mail headers are named, empty: Caddy's
	// copy_headers would otherwise keep a client's copy.
	noEmail := http.Header{}
	newHeaders(t, upstream.HeaderOptions{AuthRequest: true, Mapped: grafana}).AuthAnswer(noEmail, &upstream.Identity{User: "bob"})
	for _, name := range []string{"X-Auth-Request-Email", "X-Webauth-Email"} {
		if got := noEmail.Values(name); len(got) != 1 || got[0] != "" {
			t.Errorf("%s = %q without an e-mail address, want one empty value", name, got)
		}
	}
}

// TestNewHeadersRefuses: a mapping may only carry the identity, under a plain name.
func TestNewHeadersRefuses(t *testing.T) {
	for _, c := range []struct{ name, field, says string }{
		{"X_Webauth_User", "user", "letters, digits and '-'"},
		{"X Webauth", "user", "letters, digits and '-'"},
		{"", "user", "letters, digits and '-'"},
		{"authorization", "user", "pass_basic_auth"},
		{"Cookie", "user", "request's own"},
		{"set-cookie", "user", "request's own"},
		{"HOST", "user", "request's own"},
		{"Content-Length", "user", "request's own"},
		{"Content-Type", "user", "request's own"},
		{"Transfer-Encoding", "user", "request's own"},
		{"Connection", "user", "request's own"},
		{"Upgrade", "user", "request's own"},
		{"TE", "user", "request's own"},
		{"Trailer", "user", "request's own"},
		{"Keep-Alive", "user", "request's own"},
		{"Proxy-Authorization", "user", "Proxy-*"},
		{"proxy-anything", "user", "Proxy-*"},
		{"X-Forwarded-For", "user", "request's own"},
		{"x-forwarded-host", "user", "request's own"},
		{"X-Forwarded-Proto", "user", "request's own"},
		{"X-Real-Ip", "user", "request's own"},
		{"Forwarded", "user", "request's own"},
		{"X-Webauth-User", "access_token", "pass_access_token"},
		{"X-Webauth-User", "name", "user, email, groups, preferred_username, admin"},
	} {
		_, err := upstream.NewHeaders(upstream.HeaderOptions{Mapped: map[string]string{c.name: c.field}})
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %q: error %v, want one saying %q", c.name, c.field, err, c.says)
		}
	}
	_, err := upstream.NewHeaders(upstream.HeaderOptions{Mapped: map[string]string{"X-Webauth-User": "user", "x-webauth-user": "email"}})
	if err == nil || !strings.Contains(err.Error(), "same header") {
		t.Errorf("one header mapped twice: error %v", err)
	}
}
