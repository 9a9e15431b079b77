package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

var (
	testKeysOnce       sync.Once
	testRSA, otherRSA  *rsa.PrivateKey
	testEC             *ecdsa.PrivateKey
	testKeysGeneration error
)

func testKeys(t *testing.T) {
	t.Helper()
	testKeysOnce.Do(func() {
		if testRSA, testKeysGeneration = rsa.GenerateKey(rand.Reader, 2048); testKeysGeneration != nil {
			return
		}
		if otherRSA, testKeysGeneration = rsa.GenerateKey(rand.Reader, 2048); testKeysGeneration != nil {
			return
		}
		testEC, testKeysGeneration = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if testKeysGeneration != nil {
		t.Fatal(testKeysGeneration)
	}
}

// fakeIssuer is an OpenID Connect issuer on httptest: discovery, keys, a token
// endpoint answering with the ID token the test sets, and userinfo.
type fakeIssuer struct {
	srv        *httptest.Server
	issuer     string // what the discovery document names; srv.URL unless changed
	algs       []string
	noJWKS     bool
	endSession bool
	keys       []jose.JSONWebKey
	idToken    func(nonce string) string // the token endpoint's id_token
	userinfo   map[string]map[string]any // by access token
	nonce      atomic.Value
	jwksCalls  atomic.Int32
	infoCalls  atomic.Int32
	mu         sync.Mutex
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	testKeys(t)
	f := &fakeIssuer{
		keys:       []jose.JSONWebKey{{Key: &testRSA.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}, {Key: &testEC.PublicKey, KeyID: "e1", Algorithm: "ES256", Use: "sig"}},
		algs:       []string{"RS256", "ES256"},
		endSession: true,
		userinfo:   map[string]map[string]any{},
	}
	f.srv = httptest.NewUnstartedServer(f)
	return f
}

func (f *fakeIssuer) start(t *testing.T) *fakeIssuer {
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	if f.issuer == "" {
		f.issuer = f.srv.URL
	}
	return f
}

func (f *fakeIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	base := f.srv.URL
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		doc := map[string]any{
			"issuer": f.issuer, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
			"userinfo_endpoint": base + "/userinfo", "id_token_signing_alg_values_supported": f.algs,
		}
		if !f.noJWKS {
			doc["jwks_uri"] = base + "/jwks"
		}
		if f.endSession {
			doc["end_session_endpoint"] = base + "/logout"
		}
		json.NewEncoder(w).Encode(doc)
	case "/jwks":
		f.jwksCalls.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: f.keys})
	case "/token":
		r.ParseForm()
		resp := map[string]any{"access_token": "access-1", "token_type": "Bearer", "expires_in": 3600}
		if f.idToken != nil {
			if id := f.idToken(""); id != "" {
				resp["id_token"] = id
			}
		}
		json.NewEncoder(w).Encode(resp)
	case "/userinfo":
		f.infoCalls.Add(1)
		claims, ok := f.userinfo[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(claims)
	default:
		http.NotFound(w, r)
	}
}

// sign makes a JWT of claims signed by key (kid names it).
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// claimsFor are an ID token's claims for client "app" from f, for the nonce.
func (f *fakeIssuer) claimsFor(nonce string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": f.issuer, "sub": "u-1", "aud": "app", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"preferred_username": "alice", "groups": []string{"staff"}, "email": "alice@example.org", "email_verified": true,
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

func newTestOIDC(t *testing.T, f *fakeIssuer, change func(*OIDCOptions)) *OIDC {
	t.Helper()
	o := OIDCOptions{
		IssuerURL: f.issuer, ClientID: "app", ClientSecret: "secret", RedirectURL: "http://127.0.0.1/cb",
		Scopes: []string{"openid", "email", "profile"}, UsernameClaim: "preferred_username", GroupsClaim: "groups",
		EmailClaim: "email", Timeout: 5 * time.Second,
	}
	if change != nil {
		change(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p, err := NewOIDC(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOIDCAuthCodeURL(t *testing.T) {
	f := newFakeIssuer(t).start(t)
	p := newTestOIDC(t, f, nil)
	verifier := oauth2.GenerateVerifier()
	u, err := url.Parse(p.AuthCodeURL("st", verifier))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	switch {
	case u.Path != "/authorize" || q.Get("state") != "st" || q.Get("scope") != "openid email profile":
		t.Errorf("authorize URL %s", u)
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") != challenge:
		t.Errorf("PKCE: %s", u)
	case q.Get("nonce") != loginNonce(verifier) || q.Get("nonce") == challenge || q.Get("nonce") == "":
		t.Errorf("nonce %q: want loginNonce(verifier), unlike the challenge", q.Get("nonce"))
	}
}

func TestOIDCDiscoveryErrorsNameTheKey(t *testing.T) {
	for name, change := range map[string]func(f *fakeIssuer){
		"issuer mismatch":   func(f *fakeIssuer) { f.issuer = "https://elsewhere.example" },
		"no jwks_uri":       func(f *fakeIssuer) { f.noJWKS = true },
		"only HS256 tokens": func(f *fakeIssuer) { f.algs = []string{"HS256"} },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeIssuer(t)
			change(f)
			f.start(t)
			_, err := NewOIDC(context.Background(), OIDCOptions{IssuerURL: f.srv.URL, ClientID: "app", UsernameClaim: "preferred_username", Timeout: 5 * time.Second})
			var de *DiscoveryError
			if !errors.As(err, &de) || de.Key != "oidc_issuer_url" || !strings.HasPrefix(err.Error(), "oidc_issuer_url: ") {
				t.Fatalf("err %v, want a *DiscoveryError naming oidc_issuer_url", err)
			}
		})
	}
	t.Run("not a discovery document", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
		defer srv.Close()
		_, err := NewOIDC(context.Background(), OIDCOptions{IssuerURL: srv.URL, ClientID: "app", Timeout: 5 * time.Second})
		var de *DiscoveryError
		if !errors.As(err, &de) {
			t.Fatalf("err %v, want a *DiscoveryError", err)
		}
	})
}

// TestOIDCIssuerDownAtStart: hubgate serves, says why it is not ready, and
// discovers the issuer once it is up.
func TestOIDCIssuerDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	f := newFakeIssuer(t)
	f.issuer = "http://" + addr
	p := newTestOIDC(t, f, nil)
	if err := p.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "oidc_issuer_url") {
		t.Errorf("Ready = %v, want an error naming oidc_issuer_url", err)
	}
	if got := p.AuthCodeURL("s", "v"); got != "" {
		t.Errorf("AuthCodeURL = %q, want none before discovery", got)
	}
	var ue *UnavailableError
	if _, err := p.Lookup(context.Background(), "tok"); !errors.As(err, &ue) {
		t.Errorf("Lookup = %v, want unavailable", err)
	}
	if _, err := p.Exchange(context.Background(), "code", "v"); !errors.As(err, &ue) {
		t.Errorf("Exchange = %v, want unavailable", err)
	}
	if ln, err = net.Listen("tcp", addr); err != nil {
		t.Skipf("the address was taken meanwhile: %v", err) // not a hubgate failure
	}
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.start(t)
	deadline := time.Now().Add(8 * time.Second)
	for p.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready 8 s after the issuer came up: %v", p.Ready(context.Background()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p.AuthCodeURL("s", "v") == "" {
		t.Error("no authorize URL once discovered")
	}
}

// TestOIDCExchangeVerifiesTheIDToken tries each way an ID token can be wrong.
func TestOIDCExchangeVerifiesTheIDToken(t *testing.T) {
	f := newFakeIssuer(t).start(t)
	p := newTestOIDC(t, f, func(o *OIDCOptions) { o.ExtraAudiences = []string{"other-app"} })
	verifier := oauth2.GenerateVerifier()
	nonce := loginNonce(verifier)
	good := func(change func(c map[string]any)) string {
		c := f.claimsFor(nonce)
		if change != nil {
			change(c)
		}
		return sign(t, jose.RS256, testRSA, "k1", c)
	}
	tamper := func(tok string) string {
		parts := strings.Split(tok, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload = []byte(strings.Replace(string(payload), `"alice"`, `"admin"`, 1))
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		return strings.Join(parts, ".")
	}
	none := func() string {
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`))
		body, _ := json.Marshal(f.claimsFor(nonce))
		return head + "." + base64.RawURLEncoding.EncodeToString(body) + "."
	}
	hmacWithPublicKey := func() string {
		der, _ := x509.MarshalPKIXPublicKey(&testRSA.PublicKey)
		return sign(t, jose.HS256, der, "k1", f.claimsFor(nonce))
	}
	atHash := func(access string) string {
		sum := sha256.Sum256([]byte(access))
		return base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	cases := []struct {
		name string
		tok  func() string
		ok   bool
	}{
		{"valid", func() string { return good(nil) }, true},
		{"an extra audience", func() string { return good(func(c map[string]any) { c["aud"] = "other-app" }) }, true},
		{"ES256", func() string { return sign(t, jose.ES256, testEC, "e1", f.claimsFor(nonce)) }, true},
		{"expired 30 s ago, within the leeway", func() string {
			return good(func(c map[string]any) { c["exp"] = time.Now().Add(-30 * time.Second).Unix() })
		}, true},
		{"matching at_hash", func() string { return good(func(c map[string]any) { c["at_hash"] = atHash("access-1") }) }, true},
		{"another key, same kid", func() string { return sign(t, jose.RS256, otherRSA, "k1", f.claimsFor(nonce)) }, false},
		{"unknown kid", func() string { return sign(t, jose.RS256, otherRSA, "nope", f.claimsFor(nonce)) }, false},
		{"alg none", none, false},
		{"HS256 keyed with the public key", hmacWithPublicKey, false},
		{"tampered payload", func() string { return tamper(good(nil)) }, false},
		{"another issuer", func() string { return good(func(c map[string]any) { c["iss"] = "https://evil.example" }) }, false},
		{"another client's", func() string { return good(func(c map[string]any) { c["aud"] = "someone-else" }) }, false},
		{"expired 2 minutes ago", func() string {
			return good(func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })
		}, false},
		{"issued in the future", func() string {
			return good(func(c map[string]any) { c["iat"] = time.Now().Add(5 * time.Minute).Unix() })
		}, false},
		{"no nonce", func() string { return good(func(c map[string]any) { delete(c, "nonce") }) }, false},
		{"another login's nonce", func() string {
			return good(func(c map[string]any) { c["nonce"] = loginNonce("another verifier") })
		}, false},
		{"at_hash of another access token", func() string {
			return good(func(c map[string]any) { c["at_hash"] = atHash("access-2") })
		}, false},
		{"azp of another client", func() string {
			return good(func(c map[string]any) { c["aud"] = []string{"app", "x"}; c["azp"] = "x" })
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.tok()
			f.mu.Lock()
			f.idToken = func(string) string { return tok }
			f.mu.Unlock()
			_, err := p.Exchange(context.Background(), "code", verifier)
			switch {
			case c.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !c.ok && !errors.Is(err, ErrInvalidToken):
				t.Errorf("err %v, want ErrInvalidToken", err)
			}
		})
	}
	t.Run("no id_token", func(t *testing.T) {
		f.mu.Lock()
		f.idToken = nil
		f.mu.Unlock()
		var ue *UnavailableError
		if _, err := p.Exchange(context.Background(), "code", verifier); !errors.As(err, &ue) {
			t.Errorf("err %v, want unavailable", err)
		}
	})
}

// TestOIDCUnknownKeyRefetchIsBounded: made-up kids do not become a stream of
// requests for the issuer's keys.
func TestOIDCUnknownKeyRefetchIsBounded(t *testing.T) {
	f := newFakeIssuer(t).start(t)
	p := newTestOIDC(t, f, func(o *OIDCOptions) { o.JWTBearer = true })
	now := time.Now()
	p.main.keys.now = func() time.Time { return now }
	for i := range 20 {
		tok := sign(t, jose.RS256, otherRSA, "kid-"+string(rune('a'+i)), f.claimsFor(""))
		if _, err := p.Lookup(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	if n := f.jwksCalls.Load(); n > 2 {
		t.Errorf("%d key fetches for 20 unknown kids, want at most 2", n)
	}
	before := f.jwksCalls.Load()
	now = now.Add(61 * time.Second)
	p.Lookup(context.Background(), sign(t, jose.RS256, otherRSA, "later", f.claimsFor("")))
	if f.jwksCalls.Load() != before+1 {
		t.Errorf("a minute later an unknown kid should fetch once more (%d → %d)", before, f.jwksCalls.Load())
	}
}

// TestOIDCRemovedKeyStopsVerifying: rotation at the issuer. A removed key stops
// working once the keys are older than KeysMaxAge; a new one is picked up.
func TestOIDCRemovedKeyStopsVerifying(t *testing.T) {
	f := newFakeIssuer(t).start(t)
	p := newTestOIDC(t, f, func(o *OIDCOptions) { o.JWTBearer = true; o.KeysMaxAge = time.Second })
	old := sign(t, jose.RS256, testRSA, "k1", f.claimsFor(""))
	if _, err := p.Lookup(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.keys = []jose.JSONWebKey{{Key: &otherRSA.PublicKey, KeyID: "k2", Algorithm: "RS256", Use: "sig"}, {Key: &testRSA.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}
	f.mu.Unlock()
	time.Sleep(1100 * time.Millisecond)
	newer := sign(t, jose.RS256, otherRSA, "k2", f.claimsFor(""))
	for _, tok := range []string{old, newer} {
		if _, err := p.Lookup(context.Background(), tok); err != nil {
			t.Fatalf("with both keys published: %v", err)
		}
	}
	f.mu.Lock()
	f.keys = f.keys[:1]
	f.mu.Unlock()
	time.Sleep(1100 * time.Millisecond)
	if _, err := p.Lookup(context.Background(), old); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("the removed key still verifies: %v", err)
	}
	if _, err := p.Lookup(context.Background(), newer); err != nil {
		t.Errorf("the new key: %v", err)
	}
}

func TestOIDCLookupFromUserinfo(t *testing.T) {
	f := newFakeIssuer(t).start(t)
	f.userinfo["verified"] = map[string]any{"sub": "u-1", "preferred_username": "alice", "groups": []any{"staff", "x"}, "email": "a@example.org", "email_verified": true}
	f.userinfo["unverified"] = map[string]any{"sub": "u-2", "preferred_username": "bob", "email": "b@example.org"}
	f.userinfo["nameless"] = map[string]any{"sub": "u-3"}
	f.userinfo["groups only"] = map[string]any{"sub": "u-1", "groups": []any{"from-userinfo"}, "nickname": "al"}
	p := newTestOIDC(t, f, nil)
	ctx := context.Background()
	u, err := p.Lookup(ctx, "verified")
	if err != nil || u.Name != "alice" || u.Email != "a@example.org" || strings.Join(u.Groups, ",") != "staff,x" {
		t.Errorf("verified: %+v %v", u, err)
	}
	if u, err := p.Lookup(ctx, "unverified"); err != nil || u.Email != "" || u.Denied != "" {
		t.Errorf("an unverified e-mail should be dropped: %+v %v", u, err)
	}
	if u, err := newTestOIDC(t, f, func(o *OIDCOptions) { o.AllowUnverifiedEmail = true }).Lookup(ctx, "unverified"); err != nil || u.Email != "b@example.org" {
		t.Errorf("AllowUnverifiedEmail: %+v %v", u, err)
	}
	if u, err := newTestOIDC(t, f, func(o *OIDCOptions) { o.UsernameClaim = "email" }).Lookup(ctx, "unverified"); err != nil || u.Denied == "" {
		t.Errorf("an unverified e-mail as the username must deny: %+v %v", u, err)
	}
	var ue *UnavailableError
	if _, err := p.Lookup(ctx, "nameless"); !errors.As(err, &ue) {
		t.Errorf("no username claim: %v, want unavailable", err)
	}
	if _, err := p.Lookup(ctx, "unknown"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("userinfo 401: %v", err)
	}

	// The session's ID token: its claims first, userinfo fills in.
	id := sign(t, jose.RS256, testRSA, "k1", map[string]any{"iss": f.issuer, "sub": "u-1", "aud": "app", "exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix(), "preferred_username": "alice", "groups": []string{"from-id-token"}})
	u, err = p.Lookup(WithIDToken(ctx, id), "groups only")
	if err != nil || u.Name != "alice" || strings.Join(u.Groups, ",") != "from-id-token" {
		t.Errorf("with the (old) ID token: %+v %v", u, err)
	}
	other := sign(t, jose.RS256, testRSA, "k1", map[string]any{"iss": f.issuer, "sub": "u-9", "aud": "app", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "preferred_username": "mallory"})
	if _, err := p.Lookup(WithIDToken(ctx, other), "groups only"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("an ID token of another subject: %v", err)
	}
	forged := sign(t, jose.RS256, otherRSA, "k1", map[string]any{"iss": f.issuer, "sub": "u-1", "aud": "app", "exp": time.Now().Add(time.Hour).Unix(), "preferred_username": "root"})
	if _, err := p.Lookup(WithIDToken(ctx, forged), "groups only"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a forged ID token: %v", err)
	}
}

// TestOIDCJWTBearer: JWTs are verified here, with no call to the issuer.
func TestOIDCJWTBearer(t *testing.T) {
	f := newFakeIssuer(t).start(t)
	extra := newFakeIssuer(t).start(t)
	f.userinfo["opaque"] = map[string]any{"sub": "u-1", "preferred_username": "alice"}
	p := newTestOIDC(t, f, func(o *OIDCOptions) {
		o.JWTBearer = true
		o.ExtraJWTIssuers = []JWTIssuer{{Issuer: extra.issuer, Audience: "api"}}
	})
	ctx := context.Background()
	claims := func(iss string, change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": iss, "sub": "u-1", "aud": "app", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "preferred_username": "alice", "scope": "read write"}
		if change != nil {
			change(c)
		}
		return c
	}
	exp := time.Now().Add(time.Hour).Unix()
	tok := sign(t, jose.RS256, testRSA, "k1", claims(f.issuer, func(c map[string]any) { c["exp"] = exp }))
	u, err := p.Lookup(ctx, tok)
	if err != nil || u.Name != "alice" || strings.Join(u.Scopes, " ") != "read write" || u.Expires.Unix() != exp {
		t.Fatalf("valid JWT: %+v %v", u, err)
	}
	if u, err := p.Lookup(ctx, sign(t, jose.RS256, testRSA, "k1", claims(f.issuer, func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"a", "b"} }))); err != nil || strings.Join(u.Scopes, " ") != "a b" {
		t.Errorf("scp: %+v %v", u, err)
	}
	if n := f.infoCalls.Load(); n != 0 {
		t.Errorf("%d userinfo calls for JWTs, want none", n)
	}
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
	body, _ := json.Marshal(claims(f.issuer, nil))
	for name, bad := range map[string]string{
		"expired":             sign(t, jose.RS256, testRSA, "k1", claims(f.issuer, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })),
		"wrong aud":           sign(t, jose.RS256, testRSA, "k1", claims(f.issuer, func(c map[string]any) { c["aud"] = "api" })),
		"wrong iss":           sign(t, jose.RS256, testRSA, "k1", claims("https://unknown.example", nil)),
		"unsigned":            head + "." + base64.RawURLEncoding.EncodeToString(body) + ".",
		"tampered":            tok[:len(tok)-4] + "AAAA",
		"extra iss, main aud": sign(t, jose.RS256, testRSA, "k1", claims(extra.issuer, nil)),
	} {
		if _, err := p.Lookup(ctx, bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	if u, err := p.Lookup(ctx, sign(t, jose.RS256, testRSA, "k1", claims(extra.issuer, func(c map[string]any) { c["aud"] = "api" }))); err != nil || u.Name != "alice" {
		t.Errorf("extra issuer with its audience: %+v %v", u, err)
	}
	if u, err := p.Lookup(ctx, "opaque"); err != nil || u.Name != "alice" || f.infoCalls.Load() != 1 {
		t.Errorf("an opaque token goes to userinfo: %+v %v (%d calls)", u, err, f.infoCalls.Load())
	}
	off := newTestOIDC(t, f, nil)
	if _, err := off.Lookup(ctx, tok); !errors.Is(err, ErrInvalidToken) || f.infoCalls.Load() != 2 {
		t.Errorf("without JWTBearer a JWT is asked about at userinfo: %v (%d calls)", err, f.infoCalls.Load())
	}
}

func TestOIDCEndSessionURL(t *testing.T) {
	f := newFakeIssuer(t).start(t)
	p := newTestOIDC(t, f, nil)
	u, err := url.Parse(p.EndSessionURL("id.tok.en", "https://app.example.org/oauth2/sign_out"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/logout" || q.Get("id_token_hint") != "id.tok.en" || q.Get("client_id") != "app" || q.Get("post_logout_redirect_uri") != "https://app.example.org/oauth2/sign_out" {
		t.Errorf("end session URL %s", u)
	}
	g := newFakeIssuer(t)
	g.endSession = false
	g.start(t)
	if got := newTestOIDC(t, g, nil).EndSessionURL("x", "y"); got != "" {
		t.Errorf("without end_session_endpoint: %q, want none", got)
	}
}
