package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/metrics"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

// BenchmarkServeRoutes is one request with a cached session through
// proxy.Server.ServeHTTP, wired as app wires it (metrics, an info-level JSON access
// log to io.Discard, required scopes, the upstream answered from memory), with one
// route (upstream only) and with 100 (routePaths, as the load scenario has).
// plain is routesPage, the common case of one reading; escaped spells a letter as a
// %-escape (the same page), so that the router looks up every reading of the path
// (dot segments, decoding, backslashes…).
func BenchmarkServeRoutes(b *testing.B) {
	for _, n := range []int{1, routeCount} {
		for _, path := range []struct{ name, target string }{
			{"plain", routesPage},
			{"escaped", "/app57/some/%70age"},
		} {
			b.Run(fmt.Sprintf("routes=%d/%s", n, path.name), func(b *testing.B) {
				srv, cookie := newRoutesGate(b, n)
				r := httptest.NewRequest(http.MethodGet, path.target, nil)
				r.RemoteAddr = "127.0.0.1:54321"
				r.Header.Set("Accept", "*/*")
				r.AddCookie(cookie)
				serve := func() int {
					rec := httptest.NewRecorder()
					srv.ServeHTTP(rec, r)
					return rec.Code
				}
				if code := serve(); code != http.StatusOK { // and the identity is cached
					b.Fatalf("%s: status %d, want 200", path.target, code)
				}
				b.ReportAllocs()
				for b.Loop() {
					if code := serve(); code != http.StatusOK {
						b.Fatalf("status %d", code)
					}
				}
			})
		}
	}
}

// newRoutesGate is a proxy.Server with n routes (n == 1: no Routes, the one
// implicit route of upstream) and a session cookie it accepts.
func newRoutesGate(b *testing.B, n int) (*proxy.Server, *http.Cookie) {
	b.Helper()
	m := metrics.New()
	hub := routesHub{}
	idp := provider.Instrumented{Provider: hub, Observe: m.ProviderCall}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zap.InfoLevel))
	store, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/",
		Secrets: []string{"bench-secret-0123456789abcdef0123456789"}, Expire: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	rules := access.Rules{RequiredScopes: []string{requiredScope}}
	forwarder := func() http.Handler {
		fwd, err := upstream.New(upstream.Options{Target: "http://127.0.0.1:8080", Timeout: time.Minute,
			PassHostHeader: true, OwnCookie: store.Owns, Observe: m.Upstream, ErrorHandler: proxy.UpstreamError(log)})
		if err != nil {
			b.Fatal(err)
		}
		fwd.Transport = memoryUpstream{}
		return fwd
	}
	o := proxy.Options{
		Logger:   log,
		Provider: idp,
		Cache: identity.NewCacheWith(idp, identity.CacheOptions{Size: 1000, TTL: time.Hour, Timeout: time.Second,
			Observe: m.CacheLookup, OnEvict: m.Eviction}),
		Refresher:      identity.NewRefresher(idp, time.Second),
		Sessions:       store,
		Access:         rules,
		ServicePrefix:  "/",
		Prefix:         "/oauth2",
		RedirectURL:    "http://gate.test/oauth2/callback",
		SkipSignInPage: true,
		Trust:          trust.Policy{Proxies: trust.Loopback()},
		CrossOrigin:    http.NewCrossOriginProtection(),
		Metrics:        m,
	}
	if n == 1 {
		o.Upstream = forwarder()
	} else {
		for _, p := range routePaths() {
			o.Routes = append(o.Routes, &proxy.Route{Name: p, Path: p, Upstream: forwarder(), Access: rules})
		}
	}
	srv := proxy.New(o)
	rec := httptest.NewRecorder()
	if err := store.Save(b.Context(), rec, httptest.NewRequest(http.MethodGet, "/", nil), store.Start(&oauth2.Token{AccessToken: "tok-routes"})); err != nil {
		b.Fatal(err)
	}
	return srv, rec.Result().Cookies()[0]
}

// routesHub knows every token as one user with the required scope.
type routesHub struct{}

func (routesHub) AuthCodeURL(state, _ string) string {
	return "http://hub.test/authorize?state=" + state
}
func (routesHub) Exchange(context.Context, string, string) (*oauth2.Token, error) {
	return nil, errors.New("not used")
}
func (routesHub) Refresh(context.Context, string) (*oauth2.Token, error) {
	return nil, errors.New("not used")
}
func (routesHub) Ready(context.Context) error { return nil }
func (routesHub) Lookup(context.Context, string) (*provider.User, error) {
	return &provider.User{Name: "bench", Kind: "user", Scopes: []string{requiredScope}}, nil
}

// memoryUpstream answers every round trip at once.
type memoryUpstream struct{}

func (memoryUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: http.NoBody, Request: r}, nil
}
