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
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

var (
	testKeysOnce       sync.Once
	testRSA, otherRSA  *rsa.PrivateKey
	testEC             *ecdsa.PrivateKey
	testKeysGeneration error
)

func testKeys(t testing.TB) {
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

const (
	oidcKid      = "k1"
	oidcECKid    = "ec1"
	oidcClientID = "hubgate-client"
	oidcAccess   = "access-TOKEN-4b2e"
	oidcSub      = "alice-sub"
)

// issuerFake is an OpenID Connect issuer on httptest: discovery, a JWKS (counted),
// a token endpoint answering the ID token the test sets, and userinfo (counted).
type issuerFake struct {
	srv *httptest.Server
	URL string

	mu        sync.Mutex
	editDoc   func(doc map[string]any) // changes the discovery document
	rawDoc    string                   // served instead of the document when set
	jwks      string                   // the JWKS served
	jwksDown  bool                     // the JWKS answers 503
	idToken   string                   // in the token response; "" leaves it out
	userinfo  map[string]string        // access token → userinfo JSON
	jwksCalls atomic.Int64
	infoCalls atomic.Int64
}

func newIssuerFake(t testing.TB) *issuerFake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newIssuerFakeOn(t, ln)
}

// newIssuerFakeOn serves the issuer on ln, so a test can pick the address first.
func newIssuerFakeOn(t testing.TB, ln net.Listener) *issuerFake {
	t.Helper()
	testKeys(t)
	f := &issuerFake{userinfo: map[string]string{}}
	f.setKeys(rsaJWK(testRSA, oidcKid), ecJWK(testEC, oidcECKid))
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Listener.Close()
	f.srv.Listener = ln
	// Known before the first request: a provider retrying discovery may send one
	// the moment the server starts.
	f.URL = "http://" + ln.Addr().String()
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *issuerFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		if f.rawDoc != "" {
			io.WriteString(w, f.rawDoc)
			return
		}
		doc := map[string]any{
			"issuer":                                f.URL,
			"authorization_endpoint":                f.URL + "/authorize",
			"token_endpoint":                        f.URL + "/token",
			"userinfo_endpoint":                     f.URL + "/userinfo",
			"jwks_uri":                              f.URL + "/jwks",
			"end_session_endpoint":                  f.URL + "/logout",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		}
		if f.editDoc != nil {
			f.editDoc(doc)
		}
		json.NewEncoder(w).Encode(doc)
	case "/jwks":
		f.jwksCalls.Add(1)
		if f.jwksDown {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, f.jwks)
	case "/token":
		resp := map[string]any{"access_token": oidcAccess, "token_type": "Bearer", "expires_in": 3600}
		if f.idToken != "" {
			resp["id_token"] = f.idToken
		}
		json.NewEncoder(w).Encode(resp)
	case "/userinfo":
		f.infoCalls.Add(1)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		info, ok := f.userinfo[tok]
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_token"}`)
			return
		}
		io.WriteString(w, info)
	default:
		http.NotFound(w, r)
	}
}

func (f *issuerFake) set(fn func(f *issuerFake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// setKeys serves these JWKs (raw JSON objects) as the key set.
func (f *issuerFake) setKeys(keys ...string) {
	f.set(func(f *issuerFake) { f.jwks = `{"keys":[` + strings.Join(keys, ",") + `]}` })
}

func rsaJWK(k *rsa.PrivateKey, kid string) string {
	b, err := json.Marshal(jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func ecJWK(k *ecdsa.PrivateKey, kid string) string {
	b, err := json.Marshal(jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// claims are a valid ID token's for a login with verifier, edited by edit (a nil
// value deletes the claim).
func (f *issuerFake) claims(verifier string, edit map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":                f.URL,
		"sub":                oidcSub,
		"aud":                oidcClientID,
		"exp":                now.Add(5 * time.Minute).Unix(),
		"iat":                now.Unix(),
		"nonce":              loginNonce(verifier),
		"at_hash":            atHash(oidcAccess),
		"preferred_username": "alice",
	}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// signJWT signs claims with key as alg, with kid in the header ("" for none).
func signJWT(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func signRS(t testing.TB, claims map[string]any) string {
	return signJWT(t, jose.RS256, testRSA, oidcKid, claims)
}

func atHash(access string) string {
	sum := sha256.Sum256([]byte(access))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// unsigned is claims as an alg "none" JWT: header.payload. with no signature.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(b) + "."
}

// tamper changes sub in a signed JWT's payload and keeps the signature.
func tamper(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c["sub"], c["preferred_username"] = "mallory-sub", "mallory"
	b, _ = json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// options are the provider's settings against f.
func (f *issuerFake) options() OIDCOptions {
	return OIDCOptions{
		IssuerURL:     f.URL,
		ClientID:      oidcClientID,
		ClientSecret:  "hubgate-secret",
		RedirectURL:   "http://127.0.0.1:4180/oauth2/callback",
		Scopes:        []string{"openid", "email", "profile"},
		UsernameClaim: "preferred_username",
		GroupsClaim:   "groups",
		EmailClaim:    "email",
		Timeout:       2 * time.Second,
	}
}

// startOIDC discovers f with o; the background retry ends with the test.
func startOIDC(t testing.TB, o OIDCOptions) *OIDC {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p, err := NewOIDC(ctx, o)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return p
}

func isInvalid(err error) bool {
	var ue *UnavailableError
	return errors.Is(err, ErrInvalidToken) && !errors.As(err, &ue)
}

func isUnavailable(err error) bool {
	var ue *UnavailableError
	return errors.As(err, &ue) && !errors.Is(err, ErrInvalidToken)
}

func TestOIDCAuthCodeURLBindsNonceToVerifier(t *testing.T) {
	f := newIssuerFake(t)
	p := startOIDC(t, f.options())
	if err := p.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	const verifier = "verifier-0123456789-0123456789-0123456789-abcdef"
	raw := p.AuthCodeURL("state-xyz", verifier)
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(raw, f.URL+"/authorize?") {
		t.Fatalf("AuthCodeURL = %q (%v)", raw, err)
	}
	q := u.Query()
	want := map[string]string{
		"code_challenge_method": "S256",
		"state":                 "state-xyz",
		"scope":                 "openid email profile",
		"client_id":             oidcClientID,
		"response_type":         "code",
		"nonce":                 loginNonce(verifier),
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	// The nonce must not be derivable from what the URL shows: not the challenge.
	if q.Get("code_challenge") == "" || q.Get("nonce") == q.Get("code_challenge") {
		t.Errorf("nonce %q, code_challenge %q: want both set and different", q.Get("nonce"), q.Get("code_challenge"))
	}
	if loginNonce(verifier) == loginNonce(verifier+"x") {
		t.Error("loginNonce does not depend on the verifier")
	}
}

func TestOIDCDiscoveryRefusesWrongDocuments(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(doc map[string]any)
		raw     string
		mention string // the error must say this
	}{
		{name: "issuer with trailing slash", edit: func(d map[string]any) { d["issuer"] = d["issuer"].(string) + "/" }, mention: "issuer"},
		{name: "another issuer", edit: func(d map[string]any) { d["issuer"] = "https://evil.example.org" }, mention: "https://evil.example.org"},
		{name: "no jwks_uri", edit: func(d map[string]any) { delete(d, "jwks_uri") }, mention: "jwks_uri"},
		{name: "jwks_uri not a URL", edit: func(d map[string]any) { d["jwks_uri"] = "file:///etc/keys" }, mention: "jwks_uri"},
		{name: "no token_endpoint", edit: func(d map[string]any) { delete(d, "token_endpoint") }, mention: "token_endpoint"},
		{name: "no userinfo_endpoint", edit: func(d map[string]any) { delete(d, "userinfo_endpoint") }, mention: "userinfo_endpoint"},
		{name: "not JSON", raw: "<html>Welcome</html>", mention: "not a discovery document"},
		{name: "only HS256", edit: func(d map[string]any) { d["id_token_signing_alg_values_supported"] = []string{"HS256"} }, mention: "HS256"},
		{name: "only none", edit: func(d map[string]any) { d["id_token_signing_alg_values_supported"] = []string{"none"} }, mention: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIssuerFake(t)
			f.set(func(f *issuerFake) { f.editDoc, f.rawDoc = tt.edit, tt.raw })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p, err := NewOIDC(ctx, f.options())
			var de *DiscoveryError
			if !errors.As(err, &de) {
				t.Fatalf("NewOIDC = %v, %v (%T); want a *DiscoveryError", p, err, err)
			}
			if de.Key != "oidc_issuer_url" {
				t.Errorf("Key = %q, want oidc_issuer_url", de.Key)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if strings.Contains(tt.name, "issuer") && !strings.Contains(err.Error(), f.URL) {
				t.Errorf("error %q does not name the configured issuer %s", err, f.URL)
			}
		})
	}
}

func TestOIDCRetriesUnreachableIssuer(t *testing.T) {
	// Reserve an address, free it: the issuer is down when hubgate starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := OIDCOptions{
		IssuerURL: "http://" + addr, ClientID: oidcClientID, ClientSecret: "s", RedirectURL: "http://127.0.0.1:4180/oauth2/callback",
		Scopes: []string{"openid"}, UsernameClaim: "preferred_username", Timeout: 2 * time.Second,
	}
	p, err := NewOIDC(ctx, o)
	if err != nil {
		t.Fatalf("NewOIDC with the issuer down = %v; want the provider, retrying", err)
	}
	if err := p.Ready(ctx); err == nil || !strings.Contains(err.Error(), "oidc_issuer_url") {
		t.Errorf("Ready = %v; want an error naming oidc_issuer_url", err)
	}
	if u := p.AuthCodeURL("state", "verifier"); u != "" {
		t.Errorf("AuthCodeURL = %q before discovery, want \"\"", u)
	}
	if _, err := p.Exchange(ctx, "code", "verifier"); !isUnavailable(err) {
		t.Errorf("Exchange = %v (%T), want *UnavailableError", err, err)
	}
	if _, err := p.Lookup(ctx, "opaque"); !isUnavailable(err) {
		t.Errorf("Lookup = %v (%T), want *UnavailableError", err, err)
	}

	// The issuer comes up on the very address configured.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	f := newIssuerFakeOn(t, ln)
	if f.URL != o.IssuerURL {
		t.Fatalf("issuer at %s, configured %s", f.URL, o.IssuerURL)
	}
	deadline := time.Now().Add(6 * time.Second)
	for p.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready 6 s after the issuer came up: %v", p.Ready(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if u := p.AuthCodeURL("state", "verifier"); !strings.HasPrefix(u, f.URL+"/authorize?") {
		t.Errorf("AuthCodeURL after discovery = %q", u)
	}
}

func TestOIDCExchangeRefusesBadIDTokens(t *testing.T) {
	testKeys(t)
	const verifier = "login-verifier-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	pubDER, err := x509.MarshalPKIXPublicKey(&testRSA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	now := time.Now()
	tests := []struct {
		name    string
		token   func(f *issuerFake) string // "" leaves id_token out of the response
		invalid bool                       // refused as ErrInvalidToken
		unavail bool                       // refused as *UnavailableError
	}{
		{name: "valid", token: func(f *issuerFake) string { return signRS(t, f.claims(verifier, nil)) }},
		{name: "valid for an extra audience", token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"aud": "api://extra"}))
		}},
		{name: "valid ES256", token: func(f *issuerFake) string {
			return signJWT(t, jose.ES256, testEC, oidcECKid, f.claims(verifier, nil))
		}},
		{name: "valid without at_hash", token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"at_hash": nil}))
		}},
		{name: "valid, two audiences, azp is us", token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"aud": []string{oidcClientID, "other"}, "azp": oidcClientID}))
		}},
		{name: "expired 30 s ago, within leeway", token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"exp": now.Add(-30 * time.Second).Unix(), "iat": now.Add(-time.Hour).Unix()}))
		}},
		{name: "forged: another key with the same kid", invalid: true, token: func(f *issuerFake) string {
			return signJWT(t, jose.RS256, otherRSA, oidcKid, f.claims(verifier, nil))
		}},
		{name: "forged: unknown kid", invalid: true, token: func(f *issuerFake) string {
			return signJWT(t, jose.RS256, otherRSA, "nobody-knows", f.claims(verifier, nil))
		}},
		{name: "forged: alg none", invalid: true, token: func(f *issuerFake) string { return unsigned(t, f.claims(verifier, nil)) }},
		{name: "forged: HS256 keyed with the public key", invalid: true, token: func(f *issuerFake) string {
			return signJWT(t, jose.HS256, pubPEM, oidcKid, f.claims(verifier, nil))
		}},
		{name: "forged: HS256 keyed with the public key DER", invalid: true, token: func(f *issuerFake) string {
			return signJWT(t, jose.HS256, pubDER, oidcKid, f.claims(verifier, nil))
		}},
		{name: "forged: tampered payload", invalid: true, token: func(f *issuerFake) string {
			return tamper(t, signRS(t, f.claims(verifier, nil)))
		}},
		{name: "wrong iss", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"iss": "https://evil.example.org"}))
		}},
		{name: "aud of another client", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"aud": "other-client"}))
		}},
		{name: "expired 2 minutes ago", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"exp": now.Add(-2 * time.Minute).Unix(), "iat": now.Add(-time.Hour).Unix()}))
		}},
		{name: "iat 5 minutes in the future", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"iat": now.Add(5 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}))
		}},
		{name: "nonce missing", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"nonce": nil}))
		}},
		{name: "nonce of another login", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"nonce": loginNonce("another-login-verifier")}))
		}},
		{name: "nonce is the raw verifier", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"nonce": verifier}))
		}},
		{name: "at_hash of another access token", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"at_hash": atHash("another-access-token")}))
		}},
		{name: "azp of another client, two audiences", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, f.claims(verifier, map[string]any{"aud": []string{oidcClientID, "other"}, "azp": "other"}))
		}},
		{name: "no id_token in the response", unavail: true, token: func(f *issuerFake) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIssuerFake(t)
			o := f.options()
			o.ExtraAudiences = []string{"api://extra"}
			p := startOIDC(t, o)
			idt := tt.token(f)
			f.set(func(f *issuerFake) { f.idToken = idt })
			tok, err := p.Exchange(context.Background(), "the-code", verifier)
			switch {
			case tt.invalid:
				if !isInvalid(err) {
					t.Errorf("Exchange = %v, %v (%T); want ErrInvalidToken", tok, err, err)
				}
			case tt.unavail:
				if !isUnavailable(err) {
					t.Errorf("Exchange = %v, %v (%T); want *UnavailableError", tok, err, err)
				}
			default:
				if err != nil {
					t.Fatalf("Exchange: %v", err)
				}
				if tok.AccessToken != oidcAccess || tok.Extra("id_token") != idt {
					t.Errorf("token = %q, id_token %v", tok.AccessToken, tok.Extra("id_token"))
				}
			}
		})
	}
}

func TestOIDCLookupUserinfo(t *testing.T) {
	tests := []struct {
		name       string
		info       string
		allowUnver bool
		emailAsKey bool // UsernameClaim is the e-mail claim
		wantName   string
		wantGroups []string
		wantEmail  string
		wantDenied bool
	}{
		{name: "verified e-mail", info: `{"sub":"alice-sub","preferred_username":"alice","groups":["staff","ops"],"email":"alice@example.org","email_verified":true}`,
			wantName: "alice", wantGroups: []string{"staff", "ops"}, wantEmail: "alice@example.org"},
		{name: "unverified e-mail dropped", info: `{"sub":"alice-sub","preferred_username":"alice","email":"alice@example.org","email_verified":false}`,
			wantName: "alice"},
		{name: "email_verified missing: dropped", info: `{"sub":"alice-sub","preferred_username":"alice","email":"alice@example.org"}`,
			wantName: "alice"},
		{name: "email_verified \"false\": dropped", info: `{"sub":"alice-sub","preferred_username":"alice","email":"alice@example.org","email_verified":"false"}`,
			wantName: "alice"},
		{name: "unverified kept when allowed", allowUnver: true, info: `{"sub":"alice-sub","preferred_username":"alice","email":"alice@example.org","email_verified":false}`,
			wantName: "alice", wantEmail: "alice@example.org"},
		{name: "e-mail as username, unverified: denied", emailAsKey: true, info: `{"sub":"alice-sub","email":"alice@example.org","email_verified":false}`,
			wantName: "alice@example.org", wantDenied: true},
		{name: "e-mail as username, verified", emailAsKey: true, info: `{"sub":"alice-sub","email":"alice@example.org","email_verified":true}`,
			wantName: "alice@example.org", wantEmail: "alice@example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIssuerFake(t)
			f.set(func(f *issuerFake) { f.userinfo[oidcAccess] = tt.info })
			o := f.options()
			o.AllowUnverifiedEmail = tt.allowUnver
			if tt.emailAsKey {
				o.UsernameClaim = "email"
			}
			u, err := startOIDC(t, o).Lookup(context.Background(), oidcAccess)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if u.Name != tt.wantName || u.Email != tt.wantEmail || !sameList(u.Groups, tt.wantGroups) {
				t.Errorf("user = %+v, want name %q, email %q, groups %v", *u, tt.wantName, tt.wantEmail, tt.wantGroups)
			}
			if (u.Denied != "") != tt.wantDenied {
				t.Errorf("Denied = %q, want denied %v", u.Denied, tt.wantDenied)
			}
			if n := f.infoCalls.Load(); n != 1 {
				t.Errorf("%d userinfo calls, want 1", n)
			}
		})
	}
}

func sameList(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return slices.Equal(a, b)
}

func TestOIDCLookupRefusals(t *testing.T) {
	f := newIssuerFake(t)
	f.set(func(f *issuerFake) { f.userinfo["nameless"] = `{"sub":"x","email":"x@example.org"}` })
	p := startOIDC(t, f.options())
	// Userinfo does not know the token: revoked or forged.
	if _, err := p.Lookup(context.Background(), "unknown-token"); !isInvalid(err) {
		t.Errorf("userinfo 401: Lookup = %v (%T), want ErrInvalidToken", err, err)
	}
}

// Claims that name no user (no username_claim in the verified ID token nor in
// userinfo) are a refusal naming the claim, a 403: not an outage (502), since asking
// again changes nothing.
func TestOIDCNoUsernameClaimIsARefusal(t *testing.T) {
	testKeys(t)
	const verifier = "nameless-login-verifier-nnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	refused := func(t *testing.T, u *User, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("Lookup = %v (%T), want a user with Denied", err, err)
		}
		if !strings.Contains(u.Denied, "preferred_username") || !strings.Contains(u.Denied, "username_claim") || u.Name != "" {
			t.Errorf("user = %+v, want no name and Denied naming preferred_username and username_claim", *u)
		}
	}
	t.Run("userinfo", func(t *testing.T) {
		f := newIssuerFake(t)
		f.set(func(f *issuerFake) { f.userinfo["nameless"] = `{"sub":"x","email":"x@example.org"}` })
		u, err := startOIDC(t, f.options()).Lookup(context.Background(), "nameless")
		refused(t, u, err)
	})
	t.Run("login: ID token and userinfo", func(t *testing.T) {
		f := newIssuerFake(t)
		p := startOIDC(t, f.options())
		f.set(func(f *issuerFake) {
			f.idToken = signRS(t, f.claims(verifier, map[string]any{"preferred_username": nil}))
			f.userinfo[oidcAccess] = `{"sub":"alice-sub","groups":["staff"]}`
		})
		tok, err := p.Exchange(context.Background(), "code", verifier)
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		u, err := p.Lookup(WithIDToken(context.Background(), tok.Extra("id_token").(string)), tok.AccessToken)
		refused(t, u, err)
	})
	t.Run("JWT bearer", func(t *testing.T) {
		f := newIssuerFake(t)
		o := f.options()
		o.JWTBearer = true
		tok := signRS(t, f.claims("", map[string]any{"preferred_username": nil, "nonce": nil, "at_hash": nil}))
		u, err := startOIDC(t, o).Lookup(context.Background(), tok)
		refused(t, u, err)
	})
	t.Run("nested claim", func(t *testing.T) {
		f := newIssuerFake(t)
		f.set(func(f *issuerFake) { f.userinfo[oidcAccess] = `{"sub":"x","profile":{"login":""}}` })
		o := f.options()
		o.UsernameClaim = "profile.login"
		u, err := startOIDC(t, o).Lookup(context.Background(), oidcAccess)
		if err != nil || !strings.Contains(u.Denied, "profile.login") {
			t.Errorf("Lookup = %+v, %v; want Denied naming profile.login", u, err)
		}
	})
}

func TestOIDCLookupWithIDToken(t *testing.T) {
	testKeys(t)
	now := time.Now()
	tests := []struct {
		name      string
		info      string
		idToken   func(f *issuerFake) string
		invalid   bool
		wantName  string
		wantGroup []string
		wantEmail string
	}{
		{name: "ID token's claims win, userinfo fills in",
			info: `{"sub":"alice-sub","preferred_username":"alice-from-userinfo","groups":["staff"]}`,
			idToken: func(f *issuerFake) string {
				return signRS(t, f.claims("", map[string]any{"email": "alice@example.org", "email_verified": true}))
			},
			wantName: "alice", wantGroup: []string{"staff"}, wantEmail: "alice@example.org"},
		{name: "userinfo lacks the username: the ID token has it",
			info:     `{"sub":"alice-sub","groups":["staff","ops"]}`,
			idToken:  func(f *issuerFake) string { return signRS(t, f.claims("", nil)) },
			wantName: "alice", wantGroup: []string{"staff", "ops"}},
		{name: "ID token long expired still says who logged in",
			info: `{"sub":"alice-sub","groups":["staff"]}`,
			idToken: func(f *issuerFake) string {
				return signRS(t, f.claims("", map[string]any{"exp": now.Add(-2 * time.Hour).Unix(), "iat": now.Add(-3 * time.Hour).Unix()}))
			},
			wantName: "alice", wantGroup: []string{"staff"}},
		{name: "userinfo about another subject", invalid: true,
			info:    `{"sub":"bob-sub","preferred_username":"bob"}`,
			idToken: func(f *issuerFake) string { return signRS(t, f.claims("", nil)) }},
		{name: "userinfo without sub", invalid: true,
			info:    `{"preferred_username":"bob","groups":["admins"]}`,
			idToken: func(f *issuerFake) string { return signRS(t, f.claims("", nil)) }},
		{name: "userinfo with an empty sub", invalid: true,
			info:    `{"sub":"","groups":["admins"]}`,
			idToken: func(f *issuerFake) string { return signRS(t, f.claims("", nil)) }},
		{name: "userinfo sub not a string", invalid: true,
			info:    `{"sub":12345,"groups":["admins"]}`,
			idToken: func(f *issuerFake) string { return signRS(t, f.claims("", map[string]any{"sub": "12345"})) }},
		{name: "userinfo sub differs in case", invalid: true,
			info:    `{"sub":"Alice-Sub","groups":["admins"]}`,
			idToken: func(f *issuerFake) string { return signRS(t, f.claims("", nil)) }},
		{name: "forged ID token: another key", invalid: true,
			info: `{"sub":"alice-sub","groups":["staff"]}`,
			idToken: func(f *issuerFake) string {
				return signJWT(t, jose.RS256, otherRSA, oidcKid, f.claims("", map[string]any{"preferred_username": "admin"}))
			}},
		{name: "forged ID token: tampered", invalid: true,
			info:    `{"sub":"alice-sub","groups":["staff"]}`,
			idToken: func(f *issuerFake) string { return tamper(t, signRS(t, f.claims("", nil))) }},
		{name: "forged ID token: alg none", invalid: true,
			info:    `{"sub":"alice-sub","groups":["staff"]}`,
			idToken: func(f *issuerFake) string { return unsigned(t, f.claims("", nil)) }},
		{name: "ID token of another issuer", invalid: true,
			info: `{"sub":"alice-sub","groups":["staff"]}`,
			idToken: func(f *issuerFake) string {
				return signRS(t, f.claims("", map[string]any{"iss": "https://evil.example.org"}))
			}},
		{name: "ID token of another client", invalid: true,
			info: `{"sub":"alice-sub","groups":["staff"]}`,
			idToken: func(f *issuerFake) string {
				return signRS(t, f.claims("", map[string]any{"aud": "other-client"}))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIssuerFake(t)
			f.set(func(f *issuerFake) { f.userinfo[oidcAccess] = tt.info })
			p := startOIDC(t, f.options())
			u, err := p.Lookup(WithIDToken(context.Background(), tt.idToken(f)), oidcAccess)
			if tt.invalid {
				if !isInvalid(err) {
					t.Errorf("Lookup = %+v, %v (%T); want ErrInvalidToken", u, err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if u.Name != tt.wantName || u.Email != tt.wantEmail || !sameList(u.Groups, tt.wantGroup) {
				t.Errorf("user = %+v, want name %q, email %q, groups %v", *u, tt.wantName, tt.wantEmail, tt.wantGroup)
			}
		})
	}
}

// An issuer that signs with ES256 (it says so in discovery, and Exchange accepts its
// ID tokens) must have the same ID tokens accepted when Lookup gets them back from
// the session.
func TestOIDCLookupAcceptsES256IDTokenInContext(t *testing.T) {
	f := newIssuerFake(t)
	f.set(func(f *issuerFake) {
		f.userinfo[oidcAccess] = `{"sub":"alice-sub","groups":["staff"]}`
		f.editDoc = func(d map[string]any) { d["id_token_signing_alg_values_supported"] = []string{"ES256"} }
	})
	p := startOIDC(t, f.options())
	const verifier = "es256-login-verifier-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	idt := signJWT(t, jose.ES256, testEC, oidcECKid, f.claims(verifier, nil))
	f.set(func(f *issuerFake) { f.idToken = idt })
	if _, err := p.Exchange(context.Background(), "code", verifier); err != nil {
		t.Fatalf("Exchange of an ES256 ID token: %v", err)
	}
	u, err := p.Lookup(WithIDToken(context.Background(), idt), oidcAccess)
	if err != nil {
		t.Errorf("Lookup with the same ES256 ID token the login accepted = %v; want alice "+
			"(oidc.go verify: the checkTimes=false verifier has no SupportedSigningAlgs, so go-oidc allows RS256 only)", err)
		return
	}
	if u.Name != "alice" {
		t.Errorf("user = %+v, want alice", *u)
	}
}

func TestOIDCJWTBearerCases(t *testing.T) {
	testKeys(t)
	now := time.Now()
	exp := now.Add(10 * time.Minute).Truncate(time.Second)
	bearer := func(f *issuerFake, edit map[string]any) map[string]any {
		c := f.claims("", map[string]any{"nonce": nil, "at_hash": nil, "exp": exp.Unix(), "groups": []string{"api"}})
		for k, v := range edit {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	tests := []struct {
		name       string
		token      func(f *issuerFake) string
		invalid    bool
		wantScopes []string
	}{
		{name: "scope claim", wantScopes: []string{"read", "write"}, token: func(f *issuerFake) string {
			return signRS(t, bearer(f, map[string]any{"scope": "read write"}))
		}},
		{name: "scp list", wantScopes: []string{"read", "admin"}, token: func(f *issuerFake) string {
			return signRS(t, bearer(f, map[string]any{"scp": []string{"read", "admin"}}))
		}},
		{name: "ES256", token: func(f *issuerFake) string {
			return signJWT(t, jose.ES256, testEC, oidcECKid, bearer(f, nil))
		}},
		{name: "expired", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, bearer(f, map[string]any{"exp": now.Add(-5 * time.Minute).Unix()}))
		}},
		{name: "wrong aud", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, bearer(f, map[string]any{"aud": "another-api"}))
		}},
		{name: "issuer not configured", invalid: true, token: func(f *issuerFake) string {
			return signRS(t, bearer(f, map[string]any{"iss": "https://evil.example.org"}))
		}},
		{name: "unsigned", invalid: true, token: func(f *issuerFake) string { return unsigned(t, bearer(f, nil)) }},
		{name: "tampered", invalid: true, token: func(f *issuerFake) string { return tamper(t, signRS(t, bearer(f, nil))) }},
		{name: "another key", invalid: true, token: func(f *issuerFake) string {
			return signJWT(t, jose.RS256, otherRSA, oidcKid, bearer(f, nil))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIssuerFake(t)
			o := f.options()
			o.JWTBearer = true
			p := startOIDC(t, o)
			tok := tt.token(f)
			u, err := p.Lookup(context.Background(), tok)
			if n := f.infoCalls.Load(); n != 0 {
				t.Errorf("%d userinfo calls for a JWT bearer token, want 0", n)
			}
			if tt.invalid {
				if !isInvalid(err) {
					t.Errorf("Lookup = %+v, %v (%T); want ErrInvalidToken", u, err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if u.Name != "alice" || !sameList(u.Groups, []string{"api"}) || !sameList(u.Scopes, tt.wantScopes) {
				t.Errorf("user = %+v, want alice in [api] with scopes %v", *u, tt.wantScopes)
			}
			if !u.Expires.Equal(exp) {
				t.Errorf("Expires = %v, want the JWT's exp %v", u.Expires, exp)
			}
		})
	}
}

func TestOIDCBearerTokensNotVerifiedLocallyGoToUserinfo(t *testing.T) {
	testKeys(t)
	for _, tt := range []struct {
		name      string
		jwtBearer bool
		jwt       bool
	}{
		{name: "opaque token, JWTBearer on", jwtBearer: true},
		{name: "JWT, JWTBearer off", jwt: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newIssuerFake(t)
			tok := "opaque-token-9c1f"
			if tt.jwt {
				tok = signRS(t, f.claims("", map[string]any{"preferred_username": "from-jwt"}))
			}
			f.set(func(f *issuerFake) { f.userinfo[tok] = `{"sub":"alice-sub","preferred_username":"from-userinfo"}` })
			o := f.options()
			o.JWTBearer = tt.jwtBearer
			u, err := startOIDC(t, o).Lookup(context.Background(), tok)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if u.Name != "from-userinfo" || f.infoCalls.Load() != 1 {
				t.Errorf("user %q after %d userinfo calls; want from-userinfo after 1", u.Name, f.infoCalls.Load())
			}
		})
	}
}

func TestOIDCExtraJWTIssuerAudiencePerIssuer(t *testing.T) {
	testKeys(t)
	f := newIssuerFake(t)
	other := newIssuerFake(t)
	// The other issuer signs with a key of its own.
	other.setKeys(rsaJWK(otherRSA, "other-k1"))
	o := f.options()
	o.JWTBearer = true
	o.ExtraJWTIssuers = []JWTIssuer{{Issuer: other.URL, Audience: "api://hubgate"}}
	p := startOIDC(t, o)
	claims := func(iss, aud string) map[string]any {
		return f.claims("", map[string]any{"iss": iss, "aud": aud, "nonce": nil, "at_hash": nil})
	}
	tests := []struct {
		name    string
		token   string
		invalid bool
	}{
		{name: "extra issuer, its audience", token: signJWT(t, jose.RS256, otherRSA, "other-k1", claims(other.URL, "api://hubgate"))},
		{name: "main issuer, client id", token: signRS(t, claims(f.URL, oidcClientID))},
		{name: "extra issuer, the main client id", invalid: true, token: signJWT(t, jose.RS256, otherRSA, "other-k1", claims(other.URL, oidcClientID))},
		{name: "main issuer, the extra issuer's audience", invalid: true, token: signRS(t, claims(f.URL, "api://hubgate"))},
		// The main issuer's key must not vouch for tokens naming the extra issuer.
		{name: "extra issuer's iss, main issuer's key", invalid: true, token: signJWT(t, jose.RS256, testRSA, "other-k1", claims(other.URL, "api://hubgate"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := p.Lookup(context.Background(), tt.token)
			if tt.invalid {
				if !isInvalid(err) {
					t.Errorf("Lookup = %+v, %v (%T); want ErrInvalidToken", u, err, err)
				}
				return
			}
			if err != nil || u.Name != "alice" {
				t.Errorf("Lookup = %+v, %v; want alice", u, err)
			}
		})
	}
	if n := f.infoCalls.Load() + other.infoCalls.Load(); n != 0 {
		t.Errorf("%d userinfo calls, want 0", n)
	}
}

func TestOIDCEndSessionURLEncodesRedirect(t *testing.T) {
	f := newIssuerFake(t)
	p := startOIDC(t, f.options())
	const back = "https://hub.example.org/signed-out?x=1&y=a b"
	raw := p.EndSessionURL("the.id.token", back)
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(raw, f.URL+"/logout?") {
		t.Fatalf("EndSessionURL = %q (%v)", raw, err)
	}
	q := u.Query()
	for k, v := range map[string]string{"id_token_hint": "the.id.token", "client_id": oidcClientID, "post_logout_redirect_uri": back} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	// The redirect is one encoded parameter, not parameters of the logout URL.
	if strings.Contains(u.RawQuery, "x=1&y") || q.Has("y") {
		t.Errorf("post_logout_redirect_uri not encoded: %q", u.RawQuery)
	}

	none := newIssuerFake(t)
	none.set(func(f *issuerFake) { f.editDoc = func(d map[string]any) { delete(d, "end_session_endpoint") } })
	if got := startOIDC(t, none.options()).EndSessionURL("the.id.token", back); got != "" {
		t.Errorf("EndSessionURL without end_session_endpoint = %q, want \"\"", got)
	}
}

// A signed bearer JWT refused for its audience alone is logged, once a minute, with
// the fix: oidc_extra_audiences (Keycloak's access tokens say aud "account").
func TestOIDCOtherAudienceHint(t *testing.T) {
	f := newIssuerFake(t)
	core, logs := observer.New(zap.InfoLevel)
	o := f.options()
	o.JWTBearer, o.Logger = true, zap.New(core)
	p := startOIDC(t, o)
	account := signRS(t, f.claims("", map[string]any{"aud": "account", "nonce": nil, "at_hash": nil}))
	for range 3 {
		if _, err := p.Lookup(context.Background(), account); !isInvalid(err) {
			t.Fatalf("Lookup: %v, want ErrInvalidToken", err)
		}
	}
	tampered := signRS(t, f.claims("", map[string]any{"nonce": nil, "at_hash": nil}))
	if _, err := p.Lookup(context.Background(), tampered[:len(tampered)-4]+"AAAA"); !isInvalid(err) {
		t.Fatalf("tampered: %v", err)
	}
	hints := logs.FilterMessageSnippet("oidc_extra_audiences").All()
	if len(hints) != 1 || !strings.Contains(fmt.Sprint(hints[0].ContextMap()["error"]), "account") {
		t.Errorf("%d hints (%v), want one naming the audience", len(hints), hints)
	}
}
