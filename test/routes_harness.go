//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// The apps behind hubgate's routes (routes_test.go): each notes every request it
// receives, so a test can tell which app a request reached, if any.

// routeApp is one app behind a route.
type routeApp struct {
	URL  string
	Addr string // host:port, for nginx's upstream blocks

	mu   sync.Mutex
	seen []EchoedRequest
}

// startRouteApp serves h on 127.0.0.1, noting each request before h answers it;
// it stops with the test.
func startRouteApp(t testing.TB, h http.Handler) *routeApp {
	t.Helper()
	a := &routeApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := EchoedRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
			Header: r.Header.Clone(), Cookies: map[string]string{}}
		for _, c := range r.Cookies() {
			e.Cookies[c.Name] = c.Value
		}
		a.mu.Lock()
		a.seen = append(a.seen, e)
		a.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a.URL, a.Addr = srv.URL, srv.Listener.Addr().String()
	return a
}

// startEchoApp is the echo upstream (serveUpstream: JSON echo, WebSocket echo at
// .../ws) as a routeApp.
func startEchoApp(t testing.TB) *routeApp {
	return startRouteApp(t, http.HandlerFunc(serveUpstream))
}

// startStaticSite serves files (path -> content) from a temp dir with
// http.FileServer, as a documentation site would be.
func startStaticSite(t testing.TB, files map[string]string) *routeApp {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return startRouteApp(t, http.FileServer(http.Dir(dir)))
}

// Seen returns the requests the app received so far.
func (a *routeApp) Seen() []EchoedRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]EchoedRequest(nil), a.seen...)
}

// Count is how many requests the app received so far.
func (a *routeApp) Count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}

// Last is the latest request the app received; it fails the test if none came.
func (a *routeApp) Last(t testing.TB) EchoedRequest {
	t.Helper()
	seen := a.Seen()
	if len(seen) == 0 {
		t.Fatalf("the app at %s received no request", a.URL)
	}
	return seen[len(seen)-1]
}

// rawGet sends "GET target HTTP/1.1" to addr with target written as is, byte for
// byte: no client cleans the dot segments or re-encodes it. header is sent too
// (Host is addr's unless header has one). It returns the response and its body.
func rawGet(t testing.TB, addr, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", target)
	if header.Get("Host") == "" {
		fmt.Fprintf(&b, "Host: %s\r\n", addr)
	}
	for name, values := range header {
		for _, v := range values {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatalf("write to %s: %v", addr, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s at %s: %v", target, addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// waitLogLines waits (hubgate writes its log in batches) until hubgate has logged
// a line with every one of parts, and returns those lines.
func waitLogLines(t testing.TB, g *Gate, parts ...string) []string {
	t.Helper()
	var lines []string
	err := waitFor(5*time.Second, g.proc, func() error {
		if lines = logLinesNow(g, parts...); len(lines) == 0 {
			return fmt.Errorf("no log line with all of %q", parts)
		}
		return nil
	})
	if err != nil {
		t.Errorf("hubgate's log: %v\n%s", err, tail(g.Log(), 8<<10))
	}
	return lines
}

// routesNginxSite is what testdata/routes-nginx.conf.tmpl is rendered with.
type routesNginxSite struct {
	Listen, Hubgate, Staff, Chat, Docs string
	// AuthHeaders and AppHeaders are the absolute paths of the snippets it includes.
	AuthHeaders, AppHeaders string
}

// startRoutesNginx renders testdata/routes-nginx.conf.tmpl for site and runs it
// (StartNginx, which takes it as a template without actions).
func startRoutesNginx(t testing.TB, site routesNginxSite) *Nginx {
	t.Helper()
	for _, f := range []struct {
		dst  *string
		name string
	}{{&site.AuthHeaders, "routes-nginx-auth.conf"}, {&site.AppHeaders, "routes-nginx-app.conf"}} {
		p, err := filepath.Abs(filepath.Join("testdata", f.name))
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = p
	}
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "routes-nginx.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tmpl.Option("missingkey=error").Execute(&b, site); err != nil {
		t.Fatal(err)
	}
	rendered := filepath.Join(t.TempDir(), "routes-nginx.conf")
	if err := os.WriteFile(rendered, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return StartNginx(t, NginxSite{Listen: site.Listen, Hubgate: site.Hubgate, Template: rendered})
}
