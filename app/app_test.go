package app_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hubgate/hubgate/app"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/internal/redistest"
)

// newApp builds an App as the hubgate command does, from flags, against hubURL.
func newApp(t *testing.T, hubURL string, args ...string) *app.App {
	t.Helper()
	cfg, err := config.Parse(append([]string{
		"--upstream", "http://127.0.0.1:9", "--hub-url", hubURL,
		"--client-id", "service-gate", "--client-secret", "secret-token",
		"--redirect-url", "https://127.0.0.1/oauth2/callback",
		"--cookie-secret", strings.Repeat("k", 32)}, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func fakeHub(t *testing.T) *httptest.Server {
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":"5.2.1"}`))
	}))
	t.Cleanup(hub.Close)
	return hub
}

// Ready asks what /ready asks: the Hub, and Redis when the sessions live there.
func TestReady(t *testing.T) {
	hub := fakeHub(t)
	ctx := context.Background()
	if err := newApp(t, hub.URL).Ready(ctx); err != nil {
		t.Errorf("Hub up, sessions in the cookie: %v", err)
	}
	if err := newApp(t, "http://"+closedAddr(t)).Ready(ctx); err == nil {
		t.Error("ready with the Hub down")
	}
	down := newApp(t, hub.URL, "--session-store", "redis", "--redis-url", "redis://"+closedAddr(t)+"/0")
	if err := down.Ready(ctx); err == nil || !strings.Contains(err.Error(), "session store") {
		t.Errorf("Redis down: %v, want the session store named", err)
	}
	srv := httptest.NewServer(down.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/ready with Redis down: %d, want 503", resp.StatusCode)
	}
	up := newApp(t, hub.URL, "--session-store", "redis", "--redis-url", "redis://"+redistest.Start(t).Addr+"/0")
	if err := up.Ready(ctx); err != nil {
		t.Errorf("Redis up: %v", err)
	}
}

// Serve answers until its context ends, then returns nil once the requests are done.
func TestServeShutsDownOnCancel(t *testing.T) {
	a := newApp(t, fakeHub(t).URL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/ping: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/ping"); err == nil {
		t.Error("still answering after shutdown")
	}
}

// A configuration error from a part names the key.
func TestNewNamesTheKey(t *testing.T) {
	cfg, err := config.Parse([]string{
		"--upstream", "http://127.0.0.1:9", "--hub-url", "http://127.0.0.1:9",
		"--client-id", "service-gate", "--client-secret", "secret-token",
		"--redirect-url", "https://127.0.0.1/oauth2/callback",
		"--cookie-secret", strings.Repeat("k", 32), "--tls-cert-file", "/nonexistent", "--tls-key-file", "/nonexistent"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.New(cfg, zap.NewNop()); err == nil || !strings.HasPrefix(err.Error(), "tls_cert_file/tls_key_file: ") {
		t.Errorf("missing certificate: %v", err)
	}
	var cerr *config.Error
	if _, err := config.Parse([]string{"--upstream", "ftp://x"}, nil); !errors.As(err, &cerr) {
		t.Errorf("config.Parse of a bad upstream: %v, want a *config.Error", err)
	}
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return ln.Addr().String()
}

// The cross-origin check is on by default, lets trusted_origins in, and turned off
// says so at start.
func TestCrossOriginWiring(t *testing.T) {
	hub := fakeHub(t)
	post := func(a *app.App, origin string) int {
		r := httptest.NewRequest("POST", "https://127.0.0.1/app", strings.NewReader("x=1"))
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		return w.Code
	}
	if code := post(newApp(t, hub.URL), "https://app.example.org"); code != http.StatusForbidden {
		t.Errorf("default: cross-site POST got %d, want 403", code)
	}
	if code := post(newApp(t, hub.URL, "--trusted-origins", "https://app.example.org"), "https://app.example.org"); code != http.StatusUnauthorized {
		t.Errorf("trusted origin: %d, want 401 (on to the login check)", code)
	}
	cfg, err := config.Parse([]string{"--upstream", "http://127.0.0.1:9", "--hub-url", hub.URL,
		"--client-id", "service-gate", "--client-secret", "secret-token", "--redirect-url", "https://127.0.0.1/oauth2/callback",
		"--cookie-secret", strings.Repeat("k", 32), "--cross-origin-protection=false"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	off, err := app.New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if code := post(off, "https://evil.example"); code != http.StatusUnauthorized {
		t.Errorf("cross_origin_protection false: %d, want 401", code)
	}
	if logs.FilterMessageSnippet("cross_origin_protection is off").Len() != 1 {
		t.Errorf("no warning at start with the check off: %v", logs.All())
	}
}
