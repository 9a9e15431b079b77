package upstream

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchBrowserHeaders is what a browser (Chrome) sends through a proxy in front of
// hubgate: the common case, with nothing for Scrub to remove.
func benchBrowserHeaders() http.Header {
	return http.Header{
		"Accept":                    {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"},
		"Accept-Encoding":           {"gzip, deflate, br"},
		"Accept-Language":           {"en-US,en;q=0.9,de;q=0.8"},
		"Cache-Control":             {"max-age=0"},
		"Connection":                {"keep-alive"},
		"Cookie":                    {benchCookieLine},
		"Referer":                   {"https://gate.example.org/dashboard/"},
		"Sec-Ch-Ua":                 {`"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"`},
		"Sec-Ch-Ua-Mobile":          {"?0"},
		"Sec-Ch-Ua-Platform":        {`"Linux"`},
		"Sec-Fetch-Dest":            {"document"},
		"Sec-Fetch-Mode":            {"navigate"},
		"Sec-Fetch-Site":            {"same-origin"},
		"Sec-Fetch-User":            {"?1"},
		"Upgrade-Insecure-Requests": {"1"},
		"User-Agent":                {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"},
		"X-Forwarded-For":           {"203.0.113.7"},
		"X-Forwarded-Host":          {"gate.example.org"},
		"X-Forwarded-Proto":         {"https"},
		"X-Real-Ip":                 {"203.0.113.7"},
	}
}

// benchForged are client-sent identity headers in the spellings an attacker tries.
var benchForged = map[string][]string{
	"X-Forwarded-User":    {"admin"},
	"X_forwarded_groups":  {"admins"},
	"x-auth-request-user": {"admin"},
}

// benchCookieLine holds a hubgate session (about the size of a real one) among the
// site's own cookies.
var benchCookieLine = "_ga=GA1.2.1234567890.1700000000; _hubgate=" + strings.Repeat("A", 236) +
	"; jupyterhub-session-id=6f1e2d3c4b5a69788796a5b4c3d2e1f0; _xsrf=2|1a2b3c4d|5e6f7a8b9c0d1e2f|1700000000"

func benchOwns(name string) bool { return name == "_hubgate" || strings.HasPrefix(name, "_hubgate_") }

// BenchmarkScrub is the common case: a browser's headers, none of them forged.
func BenchmarkScrub(b *testing.B) {
	h := benchBrowserHeaders()
	b.ReportAllocs()
	for b.Loop() {
		Scrub(h)
	}
	if len(h) != len(benchBrowserHeaders()) {
		b.Fatal("Scrub removed a header it should keep")
	}
}

// BenchmarkScrubForged is the same with three forged identity headers to remove.
func BenchmarkScrubForged(b *testing.B) {
	h := benchBrowserHeaders()
	b.ReportAllocs()
	for b.Loop() {
		for k, v := range benchForged {
			h[k] = v
		}
		Scrub(h)
	}
	if len(h) != len(benchBrowserHeaders()) {
		b.Fatal("Scrub left a forged header")
	}
}

// BenchmarkScrubForwarder is BenchmarkScrub as the forwarder runs it: the default
// Headers, no upstream_headers.
func BenchmarkScrubForwarder(b *testing.B) {
	benchScrubWith(b, HeaderOptions{PassUser: true, AuthRequest: true})
}

// BenchmarkScrubMapped is the same with Grafana's upstream_headers configured:
// X-WEBAUTH-USER is shorter than X-Auth-Request-, so scrub compares more keys.
func BenchmarkScrubMapped(b *testing.B) {
	benchScrubWith(b, HeaderOptions{PassUser: true, Mapped: map[string]string{"X-WEBAUTH-USER": "user", "X-WEBAUTH-EMAIL": "email"}})
}

func benchScrubWith(b *testing.B, o HeaderOptions) {
	ids, err := NewHeaders(o)
	if err != nil {
		b.Fatal(err)
	}
	h := benchBrowserHeaders()
	b.ReportAllocs()
	for b.Loop() {
		ids.scrub(h)
	}
	if len(h) != len(benchBrowserHeaders()) {
		b.Fatal("scrub removed a header it should keep")
	}
}

// BenchmarkStripCookies removes the session cookie from a browser's Cookie header.
func BenchmarkStripCookies(b *testing.B) {
	h := http.Header{}
	line := []string{benchCookieLine}
	b.ReportAllocs()
	for b.Loop() {
		h["Cookie"] = line
		stripCookies(h, benchOwns)
	}
	if strings.Contains(h.Get("Cookie"), "_hubgate") || !strings.Contains(h.Get("Cookie"), "_xsrf=") {
		b.Fatalf("Cookie after stripping: %q", h.Get("Cookie"))
	}
}

// BenchmarkStripCookiesNone is an API client's or another site's cookies: nothing of
// hubgate's to remove.
func BenchmarkStripCookiesNone(b *testing.B) {
	h := http.Header{}
	line := []string{"_ga=GA1.2.1234567890.1700000000; jupyterhub-session-id=6f1e2d3c4b5a69788796a5b4c3d2e1f0"}
	b.ReportAllocs()
	for b.Loop() {
		h["Cookie"] = line
		stripCookies(h, benchOwns)
	}
}

// benchTransport answers every round trip from memory, so a benchmark measures the
// forwarder and not the network.
type benchTransport struct{}

func (benchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		Body:          http.NoBody,
		ContentLength: 0,
		Request:       r,
	}, nil
}

// BenchmarkForward is the forwarder's whole Rewrite (X-Forwarded-*, scrub, cookie
// stripping, identity headers) and httputil.ReverseProxy's own work, on a browser
// request, with the network replaced by a stub.
func BenchmarkForward(b *testing.B) {
	rp, err := New(Options{
		Target: "http://127.0.0.1:8080", Timeout: time.Minute, PassHostHeader: true, OwnCookie: benchOwns,
		ErrorHandler: func(http.ResponseWriter, *http.Request, int, error) { b.Error("upstream error") },
	})
	if err != nil {
		b.Fatal(err)
	}
	rp.Transport = benchTransport{}
	hop := &Hop{Identity: Identity{User: "alice", Groups: []string{"staff", "physics"}}, TrustedPeer: true}
	r := httptest.NewRequest(http.MethodGet, "http://gate.example.org/dashboard/page?x=1", nil)
	r.Header = benchBrowserHeaders()
	r.RemoteAddr = "127.0.0.1:54321"
	r = r.WithContext(WithHop(r.Context(), hop))
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		rp.ServeHTTP(w, r)
	}
	if w.code != http.StatusOK {
		b.Fatalf("status %d", w.code)
	}
}

// benchWriter is a reusable ResponseWriter, so only the forwarder's allocations count.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) { return io.Discard.Write(p) }
