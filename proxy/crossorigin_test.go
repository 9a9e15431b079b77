package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/access"
)

// crossOriginCase is one request a page might make with alice's session cookie.
type crossOriginCase struct {
	name, method string
	remote       string            // "" is an untrusted client
	header       map[string]string // Origin, Sec-Fetch-*, Upgrade, ...
	refused      bool
}

// TestAttackCrossOriginWithSessionCookie: pages of other origins, same-site ones
// included (another port, a sibling subdomain), cannot act with the session cookie:
// unsafe methods and WebSocket handshakes get 403 and the upstream sees nothing.
func TestAttackCrossOriginWithSessionCookie(t *testing.T) {
	f := newFixture(t, access.Rules{})
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.test"}
	sameSite := map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://alice.gate.test"}
	ws := func(site, origin string) map[string]string {
		h := map[string]string{"Origin": origin, "Upgrade": "websocket", "Connection": "Upgrade",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
		if site != "" {
			h["Sec-Fetch-Site"], h["Sec-Fetch-Mode"] = site, "websocket"
		}
		return h
	}
	cases := []crossOriginCase{
		{name: "form POST from another site", method: "POST", header: cross, refused: true},
		{name: "POST from a sibling subdomain", method: "POST", header: sameSite, refused: true},
		{name: "PUT same-site", method: "PUT", header: sameSite, refused: true},
		{name: "PATCH same-site", method: "PATCH", header: sameSite, refused: true},
		{name: "DELETE cross-site", method: "DELETE", header: cross, refused: true},
		{name: "lower-case method", method: "post", header: cross, refused: true},
		{name: "made-up method", method: "PROPFIND", header: sameSite, refused: true},
		{name: "old browser, Origin of another host", method: "POST", header: map[string]string{"Origin": "http://evil.test"}, refused: true},
		{name: "old browser, Origin of another port", method: "POST", header: map[string]string{"Origin": "http://gate.test:8080"}, refused: true},
		{name: "old browser, Origin null (sandboxed frame)", method: "POST", header: map[string]string{"Origin": "null"}, refused: true},
		{name: "old browser, Origin https while we are http", method: "POST", header: map[string]string{"Origin": "https://gate.test"}, refused: true},
		{name: "Sec-Fetch-Site wins over a matching Origin", method: "POST", header: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://gate.test"}, refused: true},
		{name: "WebSocket from another site", method: "GET", header: ws("cross-site", "http://evil.test"), refused: true},
		{name: "WebSocket from another port", method: "GET", header: ws("same-site", "http://gate.test:8080"), refused: true},
		{name: "WebSocket, old browser, another origin", method: "GET", header: ws("", "http://evil.test"), refused: true},
		{name: "WebSocket, no Upgrade left by a proxy", method: "GET", header: map[string]string{"Sec-WebSocket-Key": "x", "Origin": "http://evil.test"}, refused: true},
		{name: "WebSocket, only Sec-Fetch-Mode", method: "GET", header: map[string]string{"Sec-Fetch-Mode": "websocket", "Sec-Fetch-Site": "cross-site"}, refused: true},
		{name: "WebSocket, Upgrade in a list", method: "GET", header: map[string]string{"Upgrade": "h2c, WebSocket", "Origin": "http://evil.test"}, refused: true},
		{name: "X-Forwarded-Host from a client is not believed", method: "POST", header: map[string]string{"Origin": "http://evil.test", "X-Forwarded-Host": "evil.test"}, refused: true},

		{name: "same-origin POST", method: "POST", header: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://gate.test"}},
		{name: "user-typed (none)", method: "POST", header: map[string]string{"Sec-Fetch-Site": "none"}},
		{name: "old browser, own Origin", method: "POST", header: map[string]string{"Origin": "http://gate.test"}},
		{name: "no browser headers at all", method: "POST"},
		{name: "cross-site GET is a link", method: "GET", header: cross},
		{name: "cross-site HEAD", method: "HEAD", header: cross},
		{name: "own WebSocket", method: "GET", header: ws("same-origin", "http://gate.test")},
		{name: "own WebSocket, old browser", method: "GET", header: ws("", "http://gate.test")},
		{name: "trusted proxy says https", method: "POST", remote: "127.0.0.1:5000",
			header: map[string]string{"Origin": "https://gate.test", "X-Forwarded-Proto": "https"}},
		{name: "trusted proxy's X-Forwarded-Host", method: "POST", remote: "127.0.0.1:5000",
			header: map[string]string{"Origin": "http://public.test", "X-Forwarded-Host": "public.test"}},
	}
	_, cookies := f.login(t, "/app", "alice-token")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := withCookies(httptest.NewRequest(c.method, "http://gate.test/app", nil), cookies)
			c.try(t, f, r, "/app", http.StatusOK)
		})
	}
}

// try sends r and checks that it is refused (403, nothing upstream) or passes with
// the status ok.
func (c crossOriginCase) try(t *testing.T, f *fixture, r *http.Request, path string, ok int) {
	t.Helper()
	if c.remote != "" {
		r.RemoteAddr = c.remote
	}
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	w := f.do(r)
	if !c.refused {
		if w.Code != ok {
			t.Fatalf("%s %s: status %d, want %d: %s", c.method, path, w.Code, ok, w.Body)
		}
		if ok == http.StatusOK {
			<-f.seen
		}
		return
	}
	if w.Code != http.StatusForbidden {
		t.Fatalf("%s %s: status %d, want 403", c.method, path, w.Code)
	}
	if !strings.Contains(w.Body.String(), "Cross-origin request refused") {
		t.Errorf("403 does not say why: %s", w.Body)
	}
	select {
	case <-f.seen:
		t.Fatal("the upstream saw a refused request")
	default:
	}
}

// TestAttackCrossOriginAtAuthEndpoint: behind nginx, Traefik or Caddy the check is
// the original request's: its method as the trusted proxy says, its Origin and
// Sec-Fetch-* as nginx passes them.
func TestAttackCrossOriginAtAuthEndpoint(t *testing.T) {
	f := newFixture(t, access.Rules{})
	const proxy = "127.0.0.1:5000"
	cases := []crossOriginCase{
		{name: "Traefik/Caddy POST cross-site", remote: proxy, header: map[string]string{"X-Forwarded-Method": "POST", "Sec-Fetch-Site": "cross-site"}, refused: true},
		{name: "nginx PUT same-site", remote: proxy, header: map[string]string{"X-Original-Method": "PUT", "Sec-Fetch-Site": "same-site"}, refused: true},
		{name: "lower-case forwarded method", remote: proxy, header: map[string]string{"X-Forwarded-Method": "delete", "Sec-Fetch-Site": "same-site"}, refused: true},
		{name: "old browser's Origin", remote: proxy, header: map[string]string{"X-Original-Method": "POST", "Origin": "http://evil.test"}, refused: true},
		{name: "WebSocket, Upgrade dropped by nginx", remote: proxy, header: map[string]string{"Sec-WebSocket-Key": "x", "Origin": "http://evil.test"}, refused: true},
		{name: "forwarded host decides", remote: proxy, header: map[string]string{"X-Original-Method": "POST", "X-Forwarded-Host": "gate.test:8443", "Origin": "http://gate.test"}, refused: true},

		{name: "same-origin POST", remote: proxy, header: map[string]string{"X-Forwarded-Method": "POST", "Sec-Fetch-Site": "same-origin"}},
		{name: "POST from the forwarded host", remote: proxy, header: map[string]string{"X-Original-Method": "POST", "X-Forwarded-Host": "public.test:8443", "Origin": "http://public.test:8443"}},
		{name: "cross-site GET", remote: proxy, header: map[string]string{"X-Forwarded-Method": "GET", "Sec-Fetch-Site": "cross-site"}},
		// A client that is not a trusted proxy cannot make its request another's.
		{name: "untrusted X-Forwarded-Method", header: map[string]string{"X-Forwarded-Method": "POST", "Sec-Fetch-Site": "cross-site"}},
	}
	_, cookies := f.login(t, "/app", "alice-token")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := withCookies(httptest.NewRequest("GET", "http://gate.test/oauth2/auth", nil), cookies)
			c.try(t, f, r, "/oauth2/auth", http.StatusAccepted)
		})
	}
}

// TestCrossOriginNotForTokensOrWhenOff: an Authorization token is not cookie-borne; a
// listed origin may call in; cross_origin_protection: false turns the check off.
func TestCrossOriginNotForTokensOrWhenOff(t *testing.T) {
	f := newFixture(t, access.Rules{})
	_, cookies := f.login(t, "/app", "alice-token")
	cross := func(origin string) *http.Request {
		r := withCookies(httptest.NewRequest("POST", "http://gate.test/app", nil), cookies)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", origin)
		return r
	}
	r := cross("http://evil.test")
	r.Header.Set("Authorization", "token bob-token")
	if w := f.do(r); w.Code != http.StatusOK {
		t.Fatalf("cross-site POST with a token: %d, want 200", w.Code)
	}
	if h := <-f.seen; h.Get("X-Forwarded-User") != "bob" {
		t.Fatalf("identity %q, want the token's (bob)", h.Get("X-Forwarded-User"))
	}

	trusted, err := NewCrossOrigin([]string{"https://app.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	f.server.o.CrossOrigin = trusted
	if w := f.do(cross("https://app.example.org")); w.Code != http.StatusOK {
		t.Fatalf("POST from a trusted origin: %d, want 200", w.Code)
	}
	<-f.seen
	old := withCookies(httptest.NewRequest("POST", "http://gate.test/app", nil), cookies)
	old.Header.Set("Origin", "https://app.example.org")
	if w := f.do(old); w.Code != http.StatusOK {
		t.Fatalf("old browser's POST from a trusted origin: %d, want 200", w.Code)
	}
	<-f.seen
	for _, o := range []string{"http://app.example.org", "https://app.example.org:444", "https://evil.app.example.org"} {
		if w := f.do(cross(o)); w.Code != http.StatusForbidden {
			t.Fatalf("POST from %s, not the trusted origin: %d, want 403", o, w.Code)
		}
	}
	if _, err := NewCrossOrigin([]string{"app.example.org"}); err == nil {
		t.Error("an origin without a scheme was accepted")
	}

	f.server.o.CrossOrigin = nil
	if w := f.do(cross("http://evil.test")); w.Code != http.StatusOK {
		t.Fatalf("with the check off: %d, want 200", w.Code)
	}
	<-f.seen
}

// TestCrossOriginRefusalPage: browsers get a short page, everything else JSON.
func TestCrossOriginRefusalPage(t *testing.T) {
	f := newFixture(t, access.Rules{})
	_, cookies := f.login(t, "/app", "alice-token")
	for accept, ctype := range map[string]string{"text/html": "text/html", "application/json": "application/json", "": "application/json"} {
		r := withCookies(httptest.NewRequest("POST", "http://gate.test/app", nil), cookies)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		w := f.do(r)
		if w.Code != http.StatusForbidden || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) {
			t.Errorf("Accept %q: %d %s, want 403 %s", accept, w.Code, w.Header().Get("Content-Type"), ctype)
		}
	}
}
