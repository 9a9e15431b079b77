package trust

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestProxiesContains(t *testing.T) {
	p := NewProxies([]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")})
	for addr, want := range map[string]bool{
		"10.1.2.3:5000": true, "[::ffff:10.1.2.3]:5000": true, "10.2.0.1:5000": false,
		"127.0.0.1:5000": false, "@": true, "": true, "/run/hubgate.sock": true, "not-an-address": false,
	} {
		if got := p.Contains(addr); got != want {
			t.Errorf("Contains(%q) = %v, want %v", addr, got, want)
		}
	}
	if !Loopback().Contains("[::1]:80") || !Loopback().Contains("127.9.9.9:80") || Loopback().Contains("192.0.2.1:80") {
		t.Error("Loopback is not 127.0.0.0/8 and ::1")
	}
	var none Proxies
	if none.Contains("127.0.0.1:80") {
		t.Error("the zero Proxies trusts loopback")
	}
}

func TestForwardedFromTrustedOnly(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Forwarded-Proto", "HTTPS, http")
	r.Header.Set("X-Forwarded-Host", "hub.example.org, 10.0.0.1")
	r.Header.Set("X-Original-Method", "POST")
	r.Header.Set("X-Forwarded-Uri", "/app?x=1")
	r.RemoteAddr = "127.0.0.1:5000"
	want := Forwarded{Proto: "https", Host: "hub.example.org", Method: "POST", URI: "/app?x=1"}
	if got := Loopback().Forwarded(r); got != want {
		t.Errorf("from a trusted proxy: %+v, want %+v", got, want)
	}
	r.RemoteAddr = "192.0.2.1:5000"
	if got := Loopback().Forwarded(r); got != (Forwarded{}) {
		t.Errorf("from a client: %+v, want nothing", got)
	}
}

func TestPolicySecure(t *testing.T) {
	plain := httptest.NewRequest("GET", "/", nil)
	plain.RemoteAddr = "127.0.0.1:5000"
	viaTLS := plain.Clone(plain.Context())
	viaTLS.TLS = &tls.ConnectionState{}
	proxied := plain.Clone(plain.Context())
	proxied.Header.Set("X-Forwarded-Proto", "https,http")
	client := proxied.Clone(plain.Context())
	client.RemoteAddr = "192.0.2.1:5000"
	cases := []struct {
		name   string
		policy Policy
		r      *http.Request
		want   bool
	}{
		{"plain", Policy{Proxies: Loopback()}, plain, false},
		{"own TLS", Policy{Proxies: Loopback()}, viaTLS, true},
		{"internal_ssl TLS says nothing", Policy{Proxies: Loopback(), InternalTLS: true}, viaTLS, false},
		{"trusted proxy says https", Policy{Proxies: Loopback()}, proxied, true},
		{"client says https", Policy{Proxies: Loopback()}, client, false},
		{"public https wins", Policy{Proxies: Loopback(), PublicScheme: "https"}, plain, true},
		{"public http wins", Policy{Proxies: Loopback(), PublicScheme: "http"}, proxied, false},
	}
	for _, c := range cases {
		if got := c.policy.Secure(c.r); got != c.want {
			t.Errorf("%s: Secure = %v, want %v", c.name, got, c.want)
		}
		if scheme := c.policy.Scheme(c.r); (scheme == "https") != c.want {
			t.Errorf("%s: Scheme = %q", c.name, scheme)
		}
	}
}
