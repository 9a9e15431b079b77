package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testClock is a keySet's now that a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bearerOIDC is a JWTBearer provider for f whose key set runs on a clock of the
// test's: JWT bearer tokens go straight to the key set, with no userinfo.
func bearerOIDC(t *testing.T, f *issuerFake, maxAge time.Duration) (*OIDC, *testClock) {
	t.Helper()
	o := f.options()
	o.JWTBearer = true
	o.KeysMaxAge = maxAge
	p := startOIDC(t, o)
	clock := &testClock{t: time.Now()}
	p.found[0].keys.now = clock.now // set before any verification: no race
	return p, clock
}

// bearerJWT is a valid JWT bearer token for f, signed by key under kid.
func bearerJWT(t *testing.T, f *issuerFake, key any, kid string) string {
	t.Helper()
	return signJWT(t, jose.RS256, key, kid, f.claims("", map[string]any{"nonce": nil, "at_hash": nil}))
}

func randomKid(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// A stream of tokens with made-up kids must not become a stream of requests to the
// issuer's jwks_uri; a minute later one refetch is allowed, and picks up a new key.
func TestKeySetUnknownKidRefetchAtMostOncePerMinute(t *testing.T) {
	f := newIssuerFake(t)
	p, clock := bearerOIDC(t, f, 0)
	for i := range 20 {
		_, err := p.Lookup(context.Background(), bearerJWT(t, f, otherRSA, randomKid(t)))
		if !isInvalid(err) {
			t.Fatalf("token %d with an unknown kid: %v (%T), want ErrInvalidToken", i, err, err)
		}
	}
	if n := f.jwksCalls.Load(); n < 1 || n > 2 {
		t.Errorf("%d JWKS fetches for 20 unknown kids, want 1 or 2 (the first included)", n)
	}

	// The issuer rotates in a new key; a minute on, its first token may refetch.
	f.setKeys(rsaJWK(testRSA, oidcKid), rsaJWK(otherRSA, "rotated-in"))
	before := f.jwksCalls.Load()
	clock.add(61 * time.Second)
	if u, err := p.Lookup(context.Background(), bearerJWT(t, f, otherRSA, "rotated-in")); err != nil || u.Name != "alice" {
		t.Errorf("the new key after 61 s: %+v, %v; want alice", u, err)
	}
	if got := f.jwksCalls.Load(); got != before+1 {
		t.Errorf("JWKS fetches %d → %d a minute later, want exactly one more", before, got)
	}
	// And the refetch budget is spent again: more made-up kids fetch nothing.
	before = f.jwksCalls.Load()
	for range 5 {
		p.Lookup(context.Background(), bearerJWT(t, f, otherRSA, randomKid(t)))
	}
	if got := f.jwksCalls.Load(); got != before {
		t.Errorf("JWKS fetches %d → %d for unknown kids right after a refetch, want none", before, got)
	}
}

// A key the issuer removed (leaked, rotated out) keeps verifying only until the
// fetched set is KeysMaxAge old.
func TestKeySetRemovedKeyStopsAfterMaxAge(t *testing.T) {
	f := newIssuerFake(t)
	const maxAge = 200 * time.Millisecond
	p, clock := bearerOIDC(t, f, maxAge)
	tok := bearerJWT(t, f, testRSA, oidcKid)
	if _, err := p.Lookup(context.Background(), tok); err != nil {
		t.Fatalf("before removal: %v", err)
	}
	f.setKeys(rsaJWK(otherRSA, "k2"))

	// Within maxAge the fetched set still stands.
	clock.add(maxAge / 2)
	if _, err := p.Lookup(context.Background(), tok); err != nil {
		t.Errorf("removed key within KeysMaxAge: %v; want still accepted", err)
	}
	if n := f.jwksCalls.Load(); n != 1 {
		t.Errorf("%d JWKS fetches within KeysMaxAge, want 1", n)
	}

	// The clock moves rather than the test sleeping: past maxAge, and past the key
	// set's one-fetch-a-second throttle (config keeps KeysMaxAge ≥ 1 s anyway).
	clock.add(2 * time.Second)
	if _, err := p.Lookup(context.Background(), tok); !isInvalid(err) {
		t.Errorf("removed key past KeysMaxAge: %v (%T), want ErrInvalidToken", err, err)
	}
	if n := f.jwksCalls.Load(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2 (the set refetched once it was stale)", n)
	}
	if _, err := p.Lookup(context.Background(), bearerJWT(t, f, otherRSA, "k2")); err != nil {
		t.Errorf("the key that replaced it: %v", err)
	}
}

// A key set with a key go-jose cannot read (an unknown kty, Ed448) is not a broken
// set: the keys it can read still verify.
func TestKeySetSkipsKeysOfUnknownType(t *testing.T) {
	f := newIssuerFake(t)
	f.setKeys(
		`{"kty":"XYZ","kid":"odd","use":"sig","x":"AAAA"}`,
		`{"kty":"OKP","crv":"Ed448","kid":"ed448","use":"sig","x":"X9dEm1m0Yf0s54fsYWrUah2hNCSFpw4fig6nXYDpZ3jt8SR2m0bHBhvWeD3x5Q9s0foavq_oJWGA"}`,
		rsaJWK(testRSA, oidcKid),
	)
	p, _ := bearerOIDC(t, f, 0)
	if u, err := p.Lookup(context.Background(), bearerJWT(t, f, testRSA, oidcKid)); err != nil || u.Name != "alice" {
		t.Errorf("Lookup = %+v, %v; want alice verified by the good key", u, err)
	}
	// A key marked for encryption signs nothing.
	f2 := newIssuerFake(t)
	f2.setKeys(`{"kty":"RSA","kid":"enc","use":"enc","n":"` + jwkN(t) + `","e":"AQAB"}`)
	p2, _ := bearerOIDC(t, f2, 0)
	if _, err := p2.Lookup(context.Background(), bearerJWT(t, f2, testRSA, "enc")); !isInvalid(err) {
		t.Errorf("a token verified by a use=enc key: %v, want ErrInvalidToken", err)
	}
}

// jwkN is testRSA's modulus as a JWK's n.
func jwkN(t *testing.T) string {
	t.Helper()
	b, err := jose.JSONWebKey{Key: &testRSA.PublicKey}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		N string `json:"n"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return k.N
}

// The jwks_uri going down after the keys were fetched turns no token away: the keys
// known keep verifying, even once they are past KeysMaxAge.
func TestKeySetKeepsKeysWhenJWKSDown(t *testing.T) {
	f := newIssuerFake(t)
	p, clock := bearerOIDC(t, f, time.Minute)
	tok := bearerJWT(t, f, testRSA, oidcKid)
	if _, err := p.Lookup(context.Background(), tok); err != nil {
		t.Fatalf("first lookup: %v", err)
	}
	f.set(func(f *issuerFake) { f.jwksDown = true })
	if _, err := p.Lookup(context.Background(), tok); err != nil {
		t.Errorf("JWKS down, keys fresh: %v", err)
	}
	clock.add(2 * time.Minute)
	if _, err := p.Lookup(context.Background(), tok); err != nil {
		t.Errorf("JWKS down, keys past KeysMaxAge: %v; want the known keys kept", err)
	}
	if n := f.jwksCalls.Load(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2 (the stale set was tried again)", n)
	}
	// A forged token is still refused meanwhile.
	if _, err := p.Lookup(context.Background(), bearerJWT(t, f, otherRSA, oidcKid)); !isInvalid(err) {
		t.Errorf("forged token with the JWKS down: %v, want ErrInvalidToken", err)
	}
}

// With no keys ever fetched (jwks_uri down), nothing is known about a token: that is
// an *UnavailableError (retry later; nothing cached), not ErrInvalidToken (the token
// is bad, and the identity cache remembers it as such). Each case is a provider's
// first verification, so the key set's fetch throttle plays no part.
func TestKeySetUnavailableWhenKeysNeverFetched(t *testing.T) {
	const verifier = "jwks-down-verifier-cccccccccccccccccccccccccccccc"
	for name, call := range map[string]func(p *OIDC, f *issuerFake) error{
		"JWT bearer": func(p *OIDC, f *issuerFake) error {
			_, err := p.Lookup(context.Background(), bearerJWT(t, f, testRSA, oidcKid))
			return err
		},
		"Exchange": func(p *OIDC, f *issuerFake) error {
			idt := signRS(t, f.claims(verifier, nil))
			f.set(func(f *issuerFake) { f.idToken = idt })
			_, err := p.Exchange(context.Background(), "code", verifier)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newIssuerFake(t)
			f.set(func(f *issuerFake) { f.jwksDown = true })
			p, _ := bearerOIDC(t, f, 0)
			if err := call(p, f); !isUnavailable(err) {
				t.Errorf("JWKS never fetched: err = %v (%T), want *UnavailableError "+
					"(oidc.go:399 verify: go-oidc wraps the key set's error with %%v, so errors.Is(err, errKeysUnavailable) never matches)", err, err)
			}
		})
	}
}

// The key set itself: a second verification right after a failed first fetch knows
// no more than the first (no keys at all), so it too must say the keys are
// unavailable, not that the signature matches none of them.
func TestKeySetThrottledFetchAfterFailureStillUnavailable(t *testing.T) {
	f := newIssuerFake(t)
	f.set(func(f *issuerFake) { f.jwksDown = true })
	k := newKeySet(f.URL+"/jwks", NewHTTPClient(2*time.Second), time.Minute)
	tok := bearerJWT(t, f, testRSA, oidcKid)
	for i := range 2 {
		if _, err := k.VerifySignature(context.Background(), tok); !errors.Is(err, errKeysUnavailable) {
			t.Errorf("verification %d with no keys ever fetched: err = %v, want errKeysUnavailable "+
				"(keyset.go:127 fetch: within a second of the failed try it returns nil without fetching, so current reports no error and VerifySignature says the signature matches none of the keys)", i+1, err)
		}
	}
	if n := f.jwksCalls.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1 (the throttle holds)", n)
	}
}

// Many requests arriving with a stale set make one fetch, not one each.
func TestKeySetConcurrentStaleFetchOnce(t *testing.T) {
	f := newIssuerFake(t)
	p, _ := bearerOIDC(t, f, 0)
	tok := bearerJWT(t, f, testRSA, oidcKid)
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.Lookup(context.Background(), tok)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := f.jwksCalls.Load(); n != 1 {
		t.Errorf("%d JWKS fetches for 32 concurrent first lookups, want 1", n)
	}
}
