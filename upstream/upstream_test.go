package upstream_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

func TestScrub(t *testing.T) {
	remove := []string{
		"X-Forwarded-User", "x-forwarded-user", "X_Forwarded_User", "X_FORWARDED_USER", "x_forwarded-USER",
		"X-Forwarded-Groups", "X-Forwarded-Email", "X-Forwarded-Preferred-Username",
		"X-Forwarded-Admin", "X-Forwarded-Access-Token", "x_forwarded_access_token",
		"X-Auth-Request-User", "X-Auth-Request-Groups", "X-Auth-Request-Email", "x-auth-request-email",
		"X_Auth_Request_Email", "X-Auth-Request-Preferred-Username", "X-Auth-Request-Admin",
		"X-Auth-Request-Access-Token",
		// Every byte that is not a letter or digit reads as "-" to some gateway
		// (CGI and FastCGI make them all "_"), and the whole X-Auth-Request-* family.
		"X.Forwarded.User", "X~Forwarded~User", "x+forwarded+user", "X-Forwarded.Groups", "X*Forwarded!Admin",
		"X'Forwarded'Email", "X|Forwarded|Access|Token", "x^forwarded`preferred#username", "X-Forwarded\x80User",
		"X-Auth-Request-Redirect", "x.auth.request.anything", "X_AUTH_REQUEST_X",
	}
	keep := []string{
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Userx",
		"X-Forwarded-Use", "X-Forwarded-User-Agent", "XX-Forwarded-User",
		"X-Auth-Request", "Authorization", "Cookie", "User-Agent", "X-Real-Ip",
	}
	h := http.Header{}
	for _, k := range remove {
		h[k] = []string{"forged-1", "forged-2"}
	}
	for _, k := range keep {
		h[k] = []string{"keep-" + k}
	}
	upstream.Scrub(h)
	for _, k := range remove {
		if v, ok := h[k]; ok {
			t.Errorf("%s kept: %q", k, v)
		}
	}
	for _, k := range keep {
		if got := h[k]; !reflect.DeepEqual(got, []string{"keep-" + k}) {
			t.Errorf("%s = %q, want it kept", k, got)
		}
	}
	if len(h) != len(keep) {
		t.Errorf("%d headers left, want %d: %v", len(h), len(keep), h)
	}
}

func TestScrubEmpty(t *testing.T) {
	h := http.Header{}
	upstream.Scrub(h)
	if len(h) != 0 {
		t.Errorf("Scrub added %v", h)
	}
}

// seen is what the echo upstream saw of a request.
type seen struct {
	Method string
	Path   string
	Query  string
	Host   string
	Header http.Header
}

// echoUpstream answers every request with a JSON description of it.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, Header: r.Header})
}

// errorRecorder is an ErrorHandler that remembers what it was given.
type errorRecorder struct {
	mu     sync.Mutex
	status int
	err    error
}

func (e *errorRecorder) handle(w http.ResponseWriter, r *http.Request, status int, err error) {
	e.mu.Lock()
	e.status, e.err = status, err
	e.mu.Unlock()
	http.Error(w, "upstream error", status)
}

func (e *errorRecorder) get() (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status, e.err
}

// client bounds every request, so a regression fails the test instead of hanging it.
var client = &http.Client{Timeout: 10 * time.Second}

func owns(name string) bool { return name == "_hubgate" || strings.HasPrefix(name, "_hubgate_") }

// front starts hubgate's side: the proxy to target, with id attached to every request
// from a trusted proxy (the test's loopback client), as the HTTP surface decides.
func front(t *testing.T, o upstream.Options, id *upstream.Identity) (*httptest.Server, *errorRecorder) {
	t.Helper()
	hop := &upstream.Hop{TrustedPeer: true}
	if id != nil {
		hop.Identity = *id
	}
	return frontHop(t, o, hop)
}

// frontHop is front with the whole Hop given.
func frontHop(t *testing.T, o upstream.Options, hop *upstream.Hop) (*httptest.Server, *errorRecorder) {
	t.Helper()
	er := &errorRecorder{}
	if o.ErrorHandler == nil {
		o.ErrorHandler = er.handle
	}
	if o.OwnCookie == nil {
		o.OwnCookie = owns
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	rp, err := upstream.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.ServeHTTP(w, r.WithContext(upstream.WithHop(r.Context(), hop)))
	}))
	t.Cleanup(srv.Close)
	return srv, er
}

func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	t.Cleanup(srv.Close)
	return srv
}

// send makes req through the proxy and decodes what the upstream saw.
func send(t *testing.T, req *http.Request) seen {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// identityHeaderValues returns, for every header the upstream saw whose name folds to
// one of the identity headers, the name and its values.
func identityHeaderValues(h http.Header, name string) map[string][]string {
	fold := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	out := map[string][]string{}
	for k, v := range h {
		if fold(k) == fold(name) {
			out[k] = v
		}
	}
	return out
}

var forgedSpellings = []string{
	"X-Forwarded-User", "x-forwarded-user", "X_Forwarded_User", "X_FORWARDED_USER", "x_forwarded_user",
}

func forge(req *http.Request) {
	for _, k := range forgedSpellings {
		req.Header[k] = []string{"mallory", "eve"}
	}
	for _, k := range []string{"X-Forwarded-Groups", "X_Forwarded_Groups", "X-Forwarded-Email", "X-Forwarded-Admin",
		"X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token", "X-Auth-Request-User", "X_Auth_Request_Email"} {
		req.Header[k] = []string{"forged"}
	}
}

func TestIdentityHeaders(t *testing.T) {
	tests := []struct {
		name    string
		id      *upstream.Identity
		want    map[string]string // header → only value
		absent  []string
		authz   string // Authorization the upstream should see ("" = none)
		noForge bool
	}{
		{
			name: "user with groups and admin",
			id:   &upstream.Identity{User: "alice", Groups: []string{"staff", "physics lab"}, Admin: true},
			want: map[string]string{
				"X-Forwarded-User": "alice", "X-Forwarded-Preferred-Username": "alice",
				"X-Forwarded-Groups": "staff,physics lab", "X-Forwarded-Admin": "true",
			},
			absent: []string{"X-Forwarded-Email", "X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Email"},
			authz:  "token client-credential",
		},
		{
			name:   "no groups, not admin",
			id:     &upstream.Identity{User: "bob"},
			want:   map[string]string{"X-Forwarded-User": "bob", "X-Forwarded-Groups": "", "X-Forwarded-Admin": "false"},
			absent: []string{"X-Forwarded-Email"},
			authz:  "token client-credential",
		},
		{
			name:  "email",
			id:    &upstream.Identity{User: "carol", Email: "carol@example.org"},
			want:  map[string]string{"X-Forwarded-User": "carol", "X-Forwarded-Email": "carol@example.org"},
			authz: "token client-credential",
		},
		{
			name:  "access token (pass_access_token)",
			id:    &upstream.Identity{User: "dave", AccessToken: "dave-token"},
			want:  map[string]string{"X-Forwarded-User": "dave", "X-Forwarded-Access-Token": "dave-token"},
			authz: "token client-credential",
		},
		{
			name:   "no access token",
			id:     &upstream.Identity{User: "erin"},
			absent: []string{"X-Forwarded-Access-Token"},
			authz:  "token client-credential",
		},
		{
			name:  "DropAuthorization",
			id:    &upstream.Identity{User: "frank", DropAuthorization: true},
			want:  map[string]string{"X-Forwarded-User": "frank"},
			authz: "",
		},
		{
			name:   "no identity",
			id:     nil,
			absent: []string{"X-Forwarded-User", "X-Forwarded-Groups", "X-Forwarded-Admin", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Email"},
			authz:  "token client-credential",
		},
		{
			name:    "no forgery",
			id:      &upstream.Identity{User: "gina", Groups: []string{"a"}},
			want:    map[string]string{"X-Forwarded-User": "gina", "X-Forwarded-Groups": "a"},
			authz:   "token client-credential",
			noForge: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := echoServer(t)
			srv, _ := front(t, upstream.Options{Target: up.URL}, tt.id)
			req := newRequest(t, srv.URL+"/page?q=1")
			req.Header.Set("Authorization", "token client-credential")
			if !tt.noForge {
				forge(req)
			}
			s := send(t, req)
			for name, value := range tt.want {
				got := identityHeaderValues(s.Header, name)
				want := map[string][]string{name: {value}}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: upstream saw %q, want %q", name, got, want)
				}
			}
			for _, name := range tt.absent {
				if got := identityHeaderValues(s.Header, name); len(got) != 0 {
					t.Errorf("%s: upstream saw %q, want none", name, got)
				}
			}
			if got := s.Header.Get("Authorization"); got != tt.authz {
				t.Errorf("Authorization = %q, want %q", got, tt.authz)
			}
			for k, v := range s.Header {
				for _, x := range v {
					if x == "mallory" || x == "eve" || x == "forged" {
						t.Errorf("forged %s: %q reached the upstream", k, x)
					}
				}
			}
			if s.Path != "/page" || s.Query != "q=1" {
				t.Errorf("path %q query %q", s.Path, s.Query)
			}
		})
	}
}

// TestForgedRawSpellings sends the forged headers over a raw connection, so no client
// library canonicalizes or merges them on the way.
func TestForgedRawSpellings(t *testing.T) {
	up := echoServer(t)
	srv, _ := front(t, upstream.Options{Target: up.URL}, &upstream.Identity{User: "alice"})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: gate.example.org\r\nConnection: close\r\n")
	for _, k := range append(forgedSpellings, "X-FORWARDED-USER", "x_Forwarded-user") {
		fmt.Fprintf(&b, "%s: mallory\r\n", k)
	}
	b.WriteString("X-Forwarded-User: eve\r\n\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	got := identityHeaderValues(s.Header, "X-Forwarded-User")
	if want := map[string][]string{"X-Forwarded-User": {"alice"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

func TestCookies(t *testing.T) {
	tests := []struct {
		name string
		in   []string // Cookie header lines
		want []string // nil: no Cookie header
	}{
		{"middle", []string{"a=1; _hubgate=x; b=2"}, []string{"a=1; b=2"}},
		{"first", []string{"_hubgate=x; a=1"}, []string{"a=1"}},
		{"last", []string{"a=1; _hubgate=x"}, []string{"a=1"}},
		{"login cookies", []string{"a=1; _hubgate_login_0123=s; b=2; _hubgate_login_4567=t"}, []string{"a=1; b=2"}},
		{"only hubgate", []string{"_hubgate=x; _hubgate_login_0123=s"}, nil},
		{"only session", []string{"_hubgate=x"}, nil},
		{"no hubgate", []string{"a=1;b=2;  c=3"}, []string{"a=1;b=2;  c=3"}},
		{"lookalikes kept", []string{"_hubgatex=1; x_hubgate=2; _hubgate=3"}, []string{"_hubgatex=1; x_hubgate=2"}},
		{"odd spacing kept", []string{"a=1;b=2; _hubgate=x;c=\"q; r\""}, []string{"a=1;b=2;c=\"q; r\""}},
		{"jupyterhub cookies kept", []string{"jupyterhub-session-id=abc; _hubgate=x; _xsrf=2|abc"}, []string{"jupyterhub-session-id=abc; _xsrf=2|abc"}},
		{"two lines", []string{"a=1; _hubgate=x", "_hubgate_login_1=y", "b=2"}, []string{"a=1", "b=2"}},
	}
	up := echoServer(t)
	srv, _ := front(t, upstream.Options{Target: up.URL}, &upstream.Identity{User: "alice"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, srv.URL+"/")
			req.Header["Cookie"] = tt.in
			s := send(t, req)
			if got := s.Header["Cookie"]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Cookie = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCookiesWithoutOwnCookie(t *testing.T) {
	up := echoServer(t)
	rp, err := upstream.New(upstream.Options{Target: up.URL, Timeout: 5 * time.Second, ErrorHandler: (&errorRecorder{}).handle})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rp)
	defer srv.Close()
	req := newRequest(t, srv.URL+"/")
	req.Header.Set("Cookie", "a=1; _hubgate=x")
	if s := send(t, req); !reflect.DeepEqual(s.Header["Cookie"], []string{"a=1; _hubgate=x"}) {
		t.Errorf("Cookie = %q", s.Header["Cookie"])
	}
}

func TestForwardedHeaders(t *testing.T) {
	up := echoServer(t)
	cases := []struct {
		name, remote      string
		wantFor, wantHost string
		wantProto         string
	}{
		// A client that is not a loopback proxy can't choose what the upstream is told.
		{"untrusted client", "192.0.2.7:5555", "192.0.2.7", "gate.example.org", "http"},
		// A proxy on loopback (the Hub's, nginx) knows the real client and scheme.
		{"loopback proxy", "", "203.0.113.9, 127.0.0.1", "hub.example.org", "https"},
	}
	for _, c := range cases {
		for _, passHost := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/PassHostHeader=%v", c.name, passHost), func(t *testing.T) {
				rp, err := upstream.New(upstream.Options{Target: up.URL, PassHostHeader: passHost, Timeout: 10 * time.Second, OwnCookie: owns, ErrorHandler: (&errorRecorder{}).handle})
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if c.remote != "" {
						r.RemoteAddr = c.remote
					}
					hop := &upstream.Hop{Identity: upstream.Identity{User: "alice"}, TrustedPeer: trust.Loopback().Contains(r.RemoteAddr)}
					rp.ServeHTTP(w, r.WithContext(upstream.WithHop(r.Context(), hop)))
				}))
				defer srv.Close()
				req := newRequest(t, srv.URL+"/x")
				req.Host = "gate.example.org"
				req.Header.Set("X-Forwarded-For", "203.0.113.9")
				req.Header.Set("X-Forwarded-Host", "hub.example.org")
				req.Header.Set("X-Forwarded-Proto", "https")
				req.Header.Set("Forwarded", "host=evil.example.org")
				s := send(t, req)
				if got := s.Header.Get("X-Forwarded-For"); got != c.wantFor {
					t.Errorf("X-Forwarded-For = %q, want %q", got, c.wantFor)
				}
				if got := s.Header["X-Forwarded-Host"]; !reflect.DeepEqual(got, []string{c.wantHost}) {
					t.Errorf("X-Forwarded-Host = %q, want %q", got, c.wantHost)
				}
				if got := s.Header["X-Forwarded-Proto"]; !reflect.DeepEqual(got, []string{c.wantProto}) {
					t.Errorf("X-Forwarded-Proto = %q, want %q", got, c.wantProto)
				}
				if got := s.Header.Get("Forwarded"); got != "" {
					t.Errorf("Forwarded = %q, want it dropped", got)
				}
				wantHost := strings.TrimPrefix(up.URL, "http://")
				if passHost {
					wantHost = "gate.example.org"
				}
				if s.Host != wantHost {
					t.Errorf("Host = %q, want %q", s.Host, wantHost)
				}
			})
		}
	}
}

func TestTargetBasePath(t *testing.T) {
	up := echoServer(t)
	srv, _ := front(t, upstream.Options{Target: up.URL + "/base/"}, nil)
	s := send(t, newRequest(t, srv.URL+"/services/gate/page?a=b"))
	if s.Path != "/base/services/gate/page" || s.Query != "a=b" {
		t.Errorf("upstream saw %q ? %q", s.Path, s.Query)
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	for _, target := range []string{"", "ftp://x", "http://", "127.0.0.1:8080", "://x"} {
		if _, err := upstream.New(upstream.Options{Target: target}); err == nil {
			t.Errorf("New(%q) succeeded", target)
		}
	}
}

func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUpstreamDown(t *testing.T) {
	srv, er := front(t, upstream.Options{Target: "http://" + deadAddress(t)}, &upstream.Identity{User: "alice"})
	resp, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	status, uerr := er.get()
	if status != http.StatusBadGateway || uerr == nil {
		t.Errorf("ErrorHandler got %d, %v; want 502", status, uerr)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("client got %d", resp.StatusCode)
	}
}

func TestUnixSocketDown(t *testing.T) {
	srv, er := front(t, upstream.Options{Target: "unix:" + filepath.Join(t.TempDir(), "none.sock")}, nil)
	resp, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if status, _ := er.get(); status != http.StatusBadGateway {
		t.Errorf("ErrorHandler got %d, want 502", status)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer up.Close()
	defer close(release)
	srv, er := front(t, upstream.Options{Target: up.URL, Timeout: 150 * time.Millisecond}, nil)
	start := time.Now()
	resp, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if status, uerr := er.get(); status != http.StatusGatewayTimeout {
		t.Errorf("ErrorHandler got %d (%v), want 504", status, uerr)
	}
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("client got %d", resp.StatusCode)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v with a 150ms timeout", elapsed)
	}
}

func TestTimeoutIsForHeadersOnly(t *testing.T) {
	// A response whose headers come in time may take longer than Timeout to finish.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "start ")
		w.(http.Flusher).Flush()
		time.Sleep(400 * time.Millisecond)
		io.WriteString(w, "end")
	}))
	defer up.Close()
	srv, er := front(t, upstream.Options{Target: up.URL, Timeout: 150 * time.Millisecond}, nil)
	resp, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "start end" || resp.StatusCode != 200 {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	if status, _ := er.get(); status != 0 {
		t.Errorf("ErrorHandler called with %d", status)
	}
}

func socketDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 80 { // sun_path holds 108 bytes
		var err error
		if dir, err = os.MkdirTemp("", "hg"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	return dir
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(socketDir(t), "app.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	up := &http.Server{Handler: http.HandlerFunc(echoHandler)}
	go up.Serve(ln)
	defer up.Close()

	for _, passHost := range []bool{false, true} {
		srv, er := front(t, upstream.Options{Target: "unix:" + path, PassHostHeader: passHost}, &upstream.Identity{User: "alice"})
		req := newRequest(t, srv.URL+"/over/socket?x=1")
		req.Header.Set("X-Forwarded-User", "mallory")
		s := send(t, req)
		if s.Path != "/over/socket" || s.Query != "x=1" {
			t.Errorf("upstream saw %q ? %q", s.Path, s.Query)
		}
		if got := s.Header["X-Forwarded-User"]; !reflect.DeepEqual(got, []string{"alice"}) {
			t.Errorf("X-Forwarded-User = %q", got)
		}
		wantHost := "unix"
		if passHost {
			wantHost = strings.TrimPrefix(srv.URL, "http://")
		}
		if s.Host != wantHost {
			t.Errorf("Host = %q, want %q", s.Host, wantHost)
		}
		if status, err := er.get(); status != 0 {
			t.Errorf("ErrorHandler: %d %v", status, err)
		}
	}
}

func TestEventStream(t *testing.T) {
	release := make(chan struct{})
	done := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: second\n\n")
	}))
	defer up.Close()
	srv, _ := front(t, upstream.Options{Target: up.URL, Timeout: 5 * time.Second}, &upstream.Identity{User: "alice"})

	resp, err := client.Get(srv.URL + "/events")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- line
		}
	}()
	select {
	case line := <-lines:
		if line != "data: first\n" {
			t.Errorf("first line %q", line)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("first event not delivered while the upstream holds the response open")
	}
	select {
	case <-done:
		t.Fatal("upstream finished before release")
	default:
	}
	close(release)
	var rest []string
	for line := range lines {
		rest = append(rest, line)
	}
	if want := []string{"\n", "data: second\n", "\n"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("rest = %q, want %q", rest, want)
	}
}

func TestUpgrade(t *testing.T) {
	upgradeReq := make(chan *http.Request, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgradeReq <- r
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", 400)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		// Echo whatever comes, upper-cased, so the test sees it passed through here.
		buf := make([]byte, 1024)
		for {
			n, err := brw.Read(buf)
			if n > 0 {
				conn.Write([]byte(strings.ToUpper(string(buf[:n]))))
			}
			if err != nil {
				return
			}
		}
	}))
	defer up.Close()
	srv, _ := front(t, upstream.Options{Target: up.URL}, &upstream.Identity{User: "alice", DropAuthorization: true})

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: gate.example.org\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Authorization: token secret\r\nX_Forwarded_User: mallory\r\nCookie: _hubgate=x; app=1\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}

	r := <-upgradeReq
	if got := identityHeaderValues(r.Header, "X-Forwarded-User"); !reflect.DeepEqual(got, map[string][]string{"X-Forwarded-User": {"alice"}}) {
		t.Errorf("upgrade request X-Forwarded-User = %q", got)
	}
	if r.Header.Get("Authorization") != "" {
		t.Error("Authorization reached the upstream on an upgrade")
	}
	if got := r.Header["Cookie"]; !reflect.DeepEqual(got, []string{"app=1"}) {
		t.Errorf("upgrade Cookie = %q", got)
	}

	for _, msg := range []string{"hello", "second message", strings.Repeat("x", 3000)} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("reading echo of %q: %v", msg[:min(len(msg), 20)], err)
		}
		if string(got) != strings.ToUpper(msg) {
			t.Errorf("echo %q, want %q", got[:min(len(got), 20)], strings.ToUpper(msg)[:min(len(msg), 20)])
		}
	}
}

func TestClientGoneIsNotAnError(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer up.Close()
	called := make(chan int, 1)
	srv, _ := front(t, upstream.Options{Target: up.URL, ErrorHandler: func(w http.ResponseWriter, r *http.Request, status int, err error) {
		called <- status
	}}, nil)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	conn.Close()
	select {
	case s := <-called:
		t.Errorf("ErrorHandler called with %d for a client that left", s)
	case <-time.After(300 * time.Millisecond):
	}
}

// Forwarders built from one Pool for the same upstream share its connections: a
// request through the second reuses the connection the first left idle. Without
// the pool, or with another timeout, each has its own.
func TestPoolSharesConnections(t *testing.T) {
	var mu sync.Mutex
	peers := map[string]bool{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers[r.RemoteAddr] = true
		mu.Unlock()
	}))
	defer app.Close()
	connections := func(pool *upstream.Pool, timeouts ...time.Duration) int {
		mu.Lock()
		clear(peers)
		mu.Unlock()
		for _, d := range timeouts {
			fwd, err := upstream.New(upstream.Options{Target: app.URL, Timeout: d, Pool: pool})
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			fwd.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return len(peers)
	}
	if n := connections(upstream.NewPool(), time.Second, time.Second); n != 1 {
		t.Errorf("one pool, same upstream and timeout: %d connections, want 1", n)
	}
	if n := connections(nil, time.Second, time.Second); n != 2 {
		t.Errorf("no pool: %d connections, want 2", n)
	}
	if n := connections(upstream.NewPool(), time.Second, 2*time.Second); n != 2 {
		t.Errorf("one pool, two timeouts: %d connections, want 2", n)
	}
}

// StripPrefix takes the route's path off, decoded and escaped alike, and says so
// in X-Forwarded-Prefix, after a trusted proxy's own prefix.
func TestStripPrefix(t *testing.T) {
	seen := make(chan *http.Request, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r }))
	defer app.Close()
	fwd, err := upstream.New(upstream.Options{Target: app.URL, StripPrefix: "/chat"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		target, prior string
		trusted       bool
		uri, prefix   string
	}{
		{"/chat/room?x=1", "", false, "/room?x=1", "/chat"},
		{"/chat", "", false, "/", "/chat"},
		{"/chat/a%2Fb", "", false, "/a%2Fb", "/chat"},
		{"/chat/x", "/hub/", true, "/x", "/hub/chat"},
		{"/chat/x", "/evil", false, "/x", "/chat"}, // a client's own is replaced
	} {
		r := httptest.NewRequest("GET", c.target, nil)
		r.Header.Set("X-Forwarded-Prefix", c.prior)
		fwd.ServeHTTP(httptest.NewRecorder(), r.WithContext(upstream.WithHop(r.Context(), &upstream.Hop{TrustedPeer: c.trusted})))
		got := <-seen
		if got.RequestURI != c.uri || got.Header.Get("X-Forwarded-Prefix") != c.prefix {
			t.Errorf("%s: upstream saw %q with X-Forwarded-Prefix %q, want %q and %q", c.target, got.RequestURI, got.Header.Get("X-Forwarded-Prefix"), c.uri, c.prefix)
		}
	}
}
