package proxy_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
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

// The benchmarks here measure one request through proxy.Server.ServeHTTP, wired as
// main wires it (metrics on, an info-level JSON access log, required scopes), with the
// network left out: the log goes to io.Discard and the upstream is answered from
// memory. A JupyterHub API token is 32 hex digits.
const benchToken = "4f1f8c6b2d9a4e1c8f0b7a6d5c4e3f2a"

// benchHub is a provider.Provider that knows every token and counts its lookups.
type benchHub struct{ lookups atomic.Int64 }

func (h *benchHub) AuthCodeURL(state, _ string) string {
	return "http://hub.test/hub/api/oauth2/authorize?state=" + state
}
func (h *benchHub) Exchange(context.Context, string, string) (*oauth2.Token, error) {
	return nil, errors.New("not used")
}
func (h *benchHub) Refresh(context.Context, string) (*oauth2.Token, error) {
	return nil, errors.New("not used")
}
func (h *benchHub) Ready(context.Context) error { return nil }
func (h *benchHub) Lookup(_ context.Context, token string) (*provider.User, error) {
	h.lookups.Add(1)
	return &provider.User{Name: "alice", Groups: []string{"staff", "physics"}, Kind: "user",
		Scopes: []string{"access:services!service=bench"}}, nil
}

// benchUpstream answers round trips from memory.
type benchUpstream struct{}

func (benchUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: http.NoBody, Request: r}, nil
}

type benchGate struct {
	server *proxy.Server
	// calls counts what the provider was asked over the network (or, for benchHub,
	// at all).
	calls  *atomic.Int64
	cookie *http.Cookie // a session for benchToken
}

func newBenchGate(b *testing.B) *benchGate {
	b.Helper()
	hub := &benchHub{}
	return newBenchGateFor(b, hub, &hub.lookups, time.Hour, access.Rules{RequiredScopes: []string{"access:services!service=bench"}})
}

// newBenchGateFor is the bench gate in front of p, caching identities for ttl.
func newBenchGateFor(b *testing.B, p provider.Provider, calls *atomic.Int64, ttl time.Duration, rules access.Rules) *benchGate {
	b.Helper()
	m := metrics.New()
	idp := provider.Instrumented{Provider: p, Observe: m.ProviderCall}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zap.InfoLevel))
	store, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/",
		Secrets: []string{"bench-secret-0123456789abcdef0123456789"}, Expire: 168 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	fwd, err := upstream.New(upstream.Options{Target: "http://127.0.0.1:8080", Timeout: time.Minute,
		PassHostHeader: true, OwnCookie: store.Owns, Observe: m.Upstream, ErrorHandler: proxy.UpstreamError(log)})
	if err != nil {
		b.Fatal(err)
	}
	fwd.Transport = benchUpstream{}
	srv := proxy.New(proxy.Options{
		Logger:   log,
		Provider: idp,
		Cache: identity.NewCacheWith(idp, identity.CacheOptions{Size: 10000, TTL: ttl, Timeout: time.Second,
			Observe: m.CacheLookup, OnEvict: m.Eviction}),
		Refresher:      identity.NewRefresher(idp, time.Second),
		Sessions:       store,
		Upstream:       fwd,
		Access:         rules,
		ServicePrefix:  "/",
		Prefix:         "/oauth2",
		RedirectURL:    "http://gate.test/oauth2/callback",
		LoginService:   "JupyterHub",
		SkipSignInPage: true,
		Trust:          trust.Policy{Proxies: trust.Loopback()},
		CrossOrigin:    http.NewCrossOriginProtection(), // on, as app builds it
		Metrics:        m,
	})
	rec := httptest.NewRecorder()
	if err := store.Save(b.Context(), rec, httptest.NewRequest("GET", "/", nil), store.Start(&oauth2.Token{AccessToken: benchToken})); err != nil {
		b.Fatal(err)
	}
	return &benchGate{server: srv, calls: calls, cookie: rec.Result().Cookies()[0]}
}

func benchRequest(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "127.0.0.1:54321"
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
	r.Header.Set("Accept", "*/*")
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	r.Header.Set("X-Forwarded-Proto", "https")
	return r
}

// run serves r b.N times, checks the status and that the provider was not asked, and
// reports the decision's own allocations: allocs/op less what the ResponseRecorder
// itself allocates to record the same answer (net-allocs/op).
func (g *benchGate) run(b *testing.B, r *http.Request, want int) {
	b.Helper()
	serve := func() int {
		rec := httptest.NewRecorder()
		g.server.ServeHTTP(rec, r)
		return rec.Code
	}
	if code := serve(); code != want { // warm the cache
		b.Fatalf("status %d, want %d", code, want)
	}
	g.calls.Store(0)
	b.ReportAllocs()
	for b.Loop() {
		if code := serve(); code != want {
			b.Fatalf("status %d, want %d", code, want)
		}
	}
	b.StopTimer()
	calls := g.calls.Load()
	b.ReportMetric(float64(calls)/float64(b.N), "provider-calls/op")
	if calls != 0 {
		b.Fatalf("%d provider calls for a cached identity", calls)
	}
	// The recorder's share: its header map, and the snapshot it takes of it at
	// WriteHeader, for a response with as many headers as hubgate's.
	probe := httptest.NewRecorder()
	g.server.ServeHTTP(probe, r)
	values := make([][]string, 0, len(probe.Header()))
	names := make([]string, 0, len(probe.Header()))
	for k, v := range probe.Header() {
		names, values = append(names, k), append(values, v)
	}
	body := probe.Body.Bytes()
	recorder := testing.AllocsPerRun(1000, func() {
		rec := httptest.NewRecorder()
		h := rec.Header()
		for i, k := range names {
			h[k] = values[i]
		}
		rec.WriteHeader(want)
		if len(body) > 0 {
			rec.Write(body)
		}
	})
	total := testing.AllocsPerRun(1000, func() { serve() })
	b.ReportMetric(total-recorder, "net-allocs/op")
}

// BenchmarkAuthCachedToken is the whole <prefix>/auth decision for an API token whose
// identity is cached: 202 with X-Auth-Request-*, no provider call.
func BenchmarkAuthCachedToken(b *testing.B) {
	g := newBenchGate(b)
	r := benchRequest("/oauth2/auth")
	r.Header.Set("Authorization", "token "+benchToken)
	g.run(b, r, http.StatusAccepted)
}

// BenchmarkAuthCachedSession is the same decision for a browser's session cookie.
func BenchmarkAuthCachedSession(b *testing.B) {
	g := newBenchGate(b)
	r := benchRequest("/oauth2/auth")
	r.AddCookie(g.cookie)
	g.run(b, r, http.StatusAccepted)
}

// BenchmarkAuthNoCredential is <prefix>/auth without a credential: 401.
func BenchmarkAuthNoCredential(b *testing.B) {
	g := newBenchGate(b)
	g.run(b, benchRequest("/oauth2/auth"), http.StatusUnauthorized)
}

// BenchmarkProtectedSession is a browser request with a session cookie, decided and
// forwarded (the upstream answered from memory).
func BenchmarkProtectedSession(b *testing.B) {
	g := newBenchGate(b)
	r := benchRequest("/app/page?x=1")
	r.AddCookie(&http.Cookie{Name: "_ga", Value: "GA1.2.1234567890.1700000000"})
	r.AddCookie(g.cookie)
	g.run(b, r, http.StatusOK)
	if !strings.HasPrefix(g.cookie.Value, "MT") {
		b.Logf("session cookie %q", g.cookie.Value[:8])
	}
}

// BenchmarkProtectedToken is an API client's request with a token, decided and
// forwarded.
func BenchmarkProtectedToken(b *testing.B) {
	g := newBenchGate(b)
	r := benchRequest("/app/api/items")
	r.Header.Set("Authorization", "token "+benchToken)
	g.run(b, r, http.StatusOK)
}

// newBenchIssuer is an OpenID Connect issuer on loopback (discovery, keys, a userinfo
// that knows no token), counting every request it gets, and a JWT it signed for the
// client "bench", valid for an hour.
func newBenchIssuer(b *testing.B) (issuer, jwt string, requests *atomic.Int64) {
	b.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	requests = &atomic.Int64{}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize",
				"token_endpoint": srv.URL + "/token", "userinfo_endpoint": srv.URL + "/userinfo", "jwks_uri": srv.URL + "/jwks"})
		case "/jwks":
			json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	b.Cleanup(srv.Close)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		b.Fatal(err)
	}
	claims, _ := json.Marshal(map[string]any{"iss": srv.URL, "aud": "bench", "sub": "u-1", "preferred_username": "alice",
		"groups": []string{"staff", "physics"}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	jws, err := signer.Sign(claims)
	if err != nil {
		b.Fatal(err)
	}
	if jwt, err = jws.CompactSerialize(); err != nil {
		b.Fatal(err)
	}
	return srv.URL, jwt, requests
}

// newJWTBenchGate is the bench gate with provider oidc and skip_jwt_bearer_tokens,
// its identities cached for ttl.
func newJWTBenchGate(b *testing.B, ttl time.Duration) (*benchGate, string) {
	b.Helper()
	issuer, jwt, requests := newBenchIssuer(b)
	p, err := provider.NewOIDC(b.Context(), provider.OIDCOptions{IssuerURL: issuer, ClientID: "bench", ClientSecret: "s",
		RedirectURL: "http://gate.test/oauth2/callback", UsernameClaim: "preferred_username", GroupsClaim: "groups",
		Timeout: time.Second, JWTBearer: true})
	if err != nil {
		b.Fatal(err)
	}
	return newBenchGateFor(b, p, requests, ttl, access.Rules{AllowedGroups: []string{"staff"}}), jwt
}

// BenchmarkAuthJWTBearer is the <prefix>/auth decision for a JWT bearer token
// (skip_jwt_bearer_tokens) seen before: verified once, then cached like an opaque
// token's identity (never past the JWT's exp). No call to the issuer.
func BenchmarkAuthJWTBearer(b *testing.B) {
	g, jwt := newJWTBenchGate(b, time.Hour)
	r := benchRequest("/oauth2/auth")
	r.Header.Set("Authorization", "Bearer "+jwt)
	g.run(b, r, http.StatusAccepted)
}
