//go:build integration

package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// CountingProxy is a reverse proxy in front of a server (here the Hub API)
// that counts the requests going through it, per method, path and token.
type CountingProxy struct {
	// URL is the proxy's base URL; paths are passed on unchanged.
	URL string

	mu     sync.Mutex
	counts map[countKey]int
}

type countKey struct{ method, path, token string }

// StartCountingProxy proxies http://127.0.0.1:PORT/... to target (scheme and
// host of target are used; paths are kept). It stops with the test.
func StartCountingProxy(t testing.TB, target string) *CountingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	cp := &CountingProxy{counts: map[countKey]int{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := countKey{r.Method, r.URL.Path, tokenOf(r.Header.Get("Authorization"))}
		cp.mu.Lock()
		cp.counts[key]++
		cp.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cp.URL = srv.URL
	return cp
}

// Count returns how many METHOD PATH requests carried token (in an
// "Authorization: token|bearer TOKEN" header). An empty token counts
// requests without one.
func (cp *CountingProxy) Count(method, path, token string) int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.counts[countKey{method, path, token}]
}

// Summary lists all counts, for failure messages (tokens shortened).
func (cp *CountingProxy) Summary() string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var b strings.Builder
	for k, n := range cp.counts {
		tok := k.token
		if len(tok) > 6 {
			tok = tok[:6] + "..."
		}
		fmt.Fprintf(&b, "%s %s token=%q: %d\n", k.method, k.path, tok, n)
	}
	return b.String()
}

// tokenOf extracts the token from an Authorization header value.
func tokenOf(authorization string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !(strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "bearer")) {
		return ""
	}
	return strings.TrimSpace(token)
}
