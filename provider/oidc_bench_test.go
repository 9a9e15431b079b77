package provider

import (
	"context"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkOIDCVerifyJWT is what a JWT bearer token costs the first time hubgate
// sees it: the signature (RS256, 2048 bits) and the claims checked, the identity
// read; later requests within cache_ttl are answered by the identity cache.
func BenchmarkOIDCVerifyJWT(b *testing.B) {
	testKeys(b)
	f := newFakeIssuer(b)
	f.srv.Start()
	b.Cleanup(f.srv.Close)
	f.issuer = f.srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	p, err := NewOIDC(ctx, OIDCOptions{IssuerURL: f.issuer, ClientID: "app", UsernameClaim: "preferred_username", GroupsClaim: "groups", Timeout: 5e9, JWTBearer: true})
	if err != nil {
		b.Fatal(err)
	}
	tok := sign(b, jose.RS256, testRSA, "k1", f.claimsFor(""))
	if _, err := p.Lookup(ctx, tok); err != nil {
		b.Fatal(err)
	}
	calls := f.jwksCalls.Load() + f.infoCalls.Load()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Lookup(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := f.jwksCalls.Load() + f.infoCalls.Load() - calls; n != 0 {
		b.Fatalf("%d calls to the issuer while verifying", n)
	}
	b.ReportMetric(0, "provider-calls/op")
}
