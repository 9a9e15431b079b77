package provider

import (
	"testing"
)

// BenchmarkOIDCVerifyJWT is what a JWT bearer token costs the first time hubgate
// sees it: the signature (RS256, 2048 bits) and the claims checked, the identity
// read; later requests within cache_ttl are answered by the identity cache.
func BenchmarkOIDCVerifyJWT(b *testing.B) {
	f := newIssuerFake(b)
	o := f.options()
	o.JWTBearer = true
	p := startOIDC(b, o)
	tok := signRS(b, f.claims("", map[string]any{"nonce": nil, "at_hash": nil}))
	if _, err := p.Lookup(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	calls := f.jwksCalls.Load() + f.infoCalls.Load()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Lookup(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := f.jwksCalls.Load() + f.infoCalls.Load() - calls
	b.ReportMetric(float64(n)/float64(b.N), "provider-calls/op")
	if n != 0 {
		b.Fatalf("%d calls to the issuer while verifying", n)
	}
}
