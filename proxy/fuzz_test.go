package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/hubgate/hubgate/trust"
)

// FuzzSafeRedirect: whatever comes in, what goes out is the fallback or a path a
// browser resolves on this origin: as it is, after the browser removes its dot
// segments, and after an upstream redirects it to itself with a "/" appended. It is
// plain ASCII, means what the input meant, and is escaped once.
func FuzzSafeRedirect(f *testing.F) {
	for _, seed := range []string{
		"/", "/app?x=1#y", "//evil.com", "/\\evil.com", "/%5Cevil", "/%09/evil", "https:evil.com", "javascript:alert(1)", "/%2F%2Fevil", "http://good@evil/",
		"/.//evil.com", "/x/..//evil.com", "/%2e//evil.com", "/%2e%2e//evil.com", "/./%2fevil.com", "/..%2f/evil.com", "/a/../../evil.com", "/.%2e/",
		"/x/%2E.//evil.com", "/x%2f..%2f/evil.com", "/x/..;//evil.com", "/café?q=é#é", "/a b\"<>`{|}^", "/a'b?c='d'#e#f", "/\xff",
	} {
		f.Add(seed)
	}
	base, _ := url.Parse("https://h.example/")
	encodedDot := regexp.MustCompile(`(?i)%2e`)
	// onHost reports whether a browser on base sent to loc stays on h.example.
	onHost := func(loc string) bool {
		ref, err := url.Parse(loc)
		return err != nil || base.ResolveReference(ref).Host == "h.example"
	}
	f.Fuzz(func(t *testing.T, rd string) {
		got := safeRedirect(rd, "/fallback")
		if got == "/fallback" {
			return
		}
		for _, c := range []byte(got) {
			if c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0 {
				t.Fatalf("safeRedirect(%q) = %q: %q is not plain ASCII a browser keeps", rd, got, c)
			}
		}
		if again := safeRedirect(got, "/fallback"); again != got {
			t.Fatalf("safeRedirect(%q) = %q, but of that %q: not escaped once", rd, got, again)
		}
		decoded, err := url.PathUnescape(got)
		if err != nil {
			t.Fatalf("accepted %q that does not decode", got)
		}
		if want, _ := url.PathUnescape(rd); decoded != want {
			t.Fatalf("safeRedirect(%q) = %q: decodes to %q, not %q", rd, got, decoded, want)
		}
		for _, s := range []string{got, decoded} {
			if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\") {
				t.Fatalf("accepted %q (decoded %q): another site to a browser", got, decoded)
			}
			for _, c := range []byte(s) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("accepted %q with a control character", got)
				}
			}
		}
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("accepted %q, which parses to host %q scheme %q", got, u.Host, u.Scheme)
		}
		if !onHost(got) {
			t.Fatalf("accepted %q, which a browser on h.example leaves", got)
		}
		resolved := base.ResolveReference(u)
		for _, loc := range []string{resolved.Path + "/", resolved.EscapedPath() + "/", path.Clean(resolved.Path) + "/"} {
			if !onHost(loc) {
				t.Fatalf("accepted %q: redirected to %q with a slash it leaves h.example", got, loc)
			}
		}
		// net/url removes dot segments unlike a browser ("/x/..//a" is "/a" to it,
		// "//a" to a browser), so they are also removed here by RFC 3986's own steps,
		// with %2e read as a dot, and with everything decoded.
		p := u.EscapedPath()
		for _, view := range []string{encodedDot.ReplaceAllString(p, "."), u.Path} {
			if r := rfc3986RemoveDotSegments(view); strings.HasPrefix(r, "//") || !onHost(r+"/") {
				t.Fatalf("accepted %q: with its dot segments removed it is %q, another site once a slash is appended", got, r)
			}
		}
	})
}

// rfc3986RemoveDotSegments is RFC 3986 §5.2.4, step by step.
func rfc3986RemoveDotSegments(in string) string {
	var out string
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			out = out[:max(strings.LastIndex(out, "/"), 0)]
		case in == "/..":
			in = "/"
			out = out[:max(strings.LastIndex(out, "/"), 0)]
		case in == "." || in == "..":
			in = ""
		default:
			i := strings.IndexByte(in[1:], '/') + 1
			if i == 0 {
				i = len(in)
			}
			out, in = out+in[:i], in[i:]
		}
	}
	return out
}

// FuzzSkipAuthPath: a request skips the login only when its path, cleaned the way
// any upstream would, is still inside the skipped prefix.
func FuzzSkipAuthPath(f *testing.F) {
	for _, seed := range []string{"/public/x", "/public/../private", "/public/%2e%2e/private", "//public/x", "/public%2F..%2Fprivate", "/private?x=/public/", "/public/./x", "/public/x/", "/private%23/public/", "/public/..;/private", "/public;x/y", "/public/.;/x", "/public/a;b=c/../../private"} {
		f.Add(seed)
	}
	rt := &Route{SkipAuthRoutes: []SkipRoute{{Path: regexp.MustCompile(`^/public/`)}}}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = u
		if !rt.skipsAuth(r) {
			return
		}
		cleaned := path.Clean(u.Path)
		if u.RawPath != "" || (cleaned != u.Path && cleaned+"/" != u.Path) || !strings.HasPrefix(cleaned+"/", "/public/") {
			t.Fatalf("%q skipped the login; an upstream would see %q", target, cleaned)
		}
		// A servlet container strips ";..." from each segment, then resolves "..".
		segments := strings.Split(u.Path, "/")
		for i, seg := range segments {
			segments[i], _, _ = strings.Cut(seg, ";")
		}
		if servlet := path.Clean(strings.Join(segments, "/")); !strings.HasPrefix(servlet+"/", "/public/") || strings.Contains(u.Path, ";") {
			t.Fatalf("%q skipped the login; a servlet container would see %q", target, servlet)
		}
	})
}

// FuzzCrossOrigin: whatever a page's request says, a cookie-borne action (an unsafe
// method or a WebSocket handshake) passes only when the browser says same-origin, or,
// without Sec-Fetch-Site, when its Origin is absent or exactly ours; nothing else is
// ever refused.
func FuzzCrossOrigin(f *testing.F) {
	for _, seed := range [][4]string{
		{"POST", "cross-site", "http://evil.test", ""}, {"POST", "same-site", "http://gate.test:8080", ""},
		{"POST", "same-origin", "http://gate.test", ""}, {"POST", "none", "", ""}, {"POST", "", "null", ""},
		{"POST", "", "https://gate.test", ""}, {"POST", "", "http://gate.test", ""}, {"PUT", "", "", ""},
		{"GET", "cross-site", "http://evil.test", "websocket"}, {"GET", "", "http://evil.test", "h2c, WebSocket"},
		{"GET", "cross-site", "http://evil.test", ""}, {"post", "Cross-Site", "HTTP://GATE.TEST", ""},
		{"DELETE", "", "http://gate.test:80", ""}, {"PATCH", "", "http://user@gate.test", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	s := New(Options{Logger: zap.NewNop(), CrossOrigin: http.NewCrossOriginProtection()})
	f.Fuzz(func(t *testing.T, method, site, origin, upgrade string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		r := httptest.NewRequest("GET", "http://gate.test/app", nil)
		r.Method = method
		for k, v := range map[string]string{"Sec-Fetch-Site": site, "Origin": origin, "Upgrade": upgrade} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		acts := unsafeMethod(method) || isWebSocket(r)
		refused := s.crossOrigin(r, method)
		if refused && !acts {
			t.Fatalf("%s with Sec-Fetch-Site %q, Origin %q, Upgrade %q refused: it cannot act", method, site, origin, upgrade)
		}
		if refused || !acts {
			return
		}
		switch site {
		case "same-origin", "none":
			return
		case "":
		default:
			t.Fatalf("%s with Sec-Fetch-Site %q passed", method, site)
		}
		if origin == "" {
			return
		}
		if o, err := url.Parse(origin); err != nil || o.Scheme != "http" || o.Host != "gate.test" {
			t.Fatalf("%s with Origin %q (no Sec-Fetch-Site) passed", method, origin)
		}
	})
}

// FuzzReturnTo: whatever rd or X-Auth-Request-Redirect says, a login returns to
// service_prefix, to a path safeRedirect lets through, or to an absolute URL on this
// host or a whitelisted one, in plain ASCII a browser parses the same way.
func FuzzReturnTo(f *testing.F) {
	for _, seed := range [][2]string{
		{"/app?x=1", ""}, {"", "/from-header"}, {"http://gate.test/x", ""}, {"", "https://sub.example.org/"},
		{"https://evil.com/", ""}, {"http://gate.test@evil.com/", ""}, {"http://evil.com\\@gate.test/", ""},
		{"http://evil.com#@gate.test/", ""}, {"HTTP://GATE.TEST:80/", ""}, {"http://gate.test%2eevil.com/", ""},
		{"https://app.test:8443/é", ""}, {"http://[::1]:1/", ""}, {"https://example.org./", ""}, {"//evil.com", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	domains, err := trust.ParseDomains([]string{".example.org", "app.test:8443"})
	if err != nil {
		f.Fatal(err)
	}
	s := New(Options{Logger: zap.NewNop(), ServicePrefix: "/", ReturnDomains: domains, Trust: trust.Policy{Proxies: trust.Loopback()}})
	f.Fuzz(func(t *testing.T, rd, header string) {
		r := httptest.NewRequest("GET", "http://gate.test/oauth2/start", nil)
		r.RemoteAddr = "127.0.0.1:5000" // a trusted proxy: its header counts
		r.Header.Set("X-Auth-Request-Redirect", header)
		checkReturnAddress(t, s, s.returnTo(r, rd), fmt.Sprintf("returnTo(%q, %q)", rd, header))
	})
}

// FuzzSignInQuery: the raw query of <prefix>/sign_in or /start, rd escaped or not (as
// Caddy's and nginx's documented configurations write it), never returns elsewhere.
func FuzzSignInQuery(f *testing.F) {
	for _, seed := range []string{
		"rd=http://gate.test/report?x=1&y=a%26b+c", "rd=/p?x=1&y=2", "rd=%2Fa%3Fb%3D1&foo=bar",
		"rd=https://evil.com/?x=1&y=2", "rd=//evil.com/?a&b", "rd=http://gate.test@evil.com/?a=1&b",
		"x=1&rd=http://evil.com/?a", "rd=http://gate.test%2eevil.com/?a&b", "rd=/%2F%2Fevil.com?a&b",
	} {
		f.Add(seed)
	}
	s := New(Options{Logger: zap.NewNop(), ServicePrefix: "/", Trust: trust.Policy{Proxies: trust.Loopback()}})
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "http://gate.test/oauth2/start", nil)
		r.URL.RawQuery = query
		checkReturnAddress(t, s, s.returnTo(r, rdParam(r)), fmt.Sprintf("the query %q", query))
	})
}

// checkReturnAddress fails unless got is a path on this origin or a plain http(s)
// URL of this host or a whitelisted one.
func checkReturnAddress(t *testing.T, s *Server, got, from string) {
	t.Helper()
	if got == "/" || got == safeRedirect(got, "\x00") {
		if !strings.HasPrefix(got, "//") && strings.HasPrefix(got, "/") {
			return // a path on this origin (FuzzSafeRedirect holds those)
		}
	}
	for _, c := range []byte(got) {
		if c <= ' ' || c >= 0x7f || c == '\\' {
			t.Fatalf("%s returns to %q: byte %q a browser reads otherwise", from, got, c)
		}
	}
	u, err := url.Parse(got)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		t.Fatalf("%s returns to %q: not a path and not a plain http(s) URL", from, got)
	}
	if !strings.EqualFold(u.Host, "gate.test") && !s.o.ReturnDomains.Allow(u) {
		t.Fatalf("%s returns to %q: host %q is neither ours nor whitelisted", from, got, u.Host)
	}
}
