package trust

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
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

func TestDomains(t *testing.T) {
	ds, err := ParseDomains([]string{".Example.org", "app.test:8443", "any.test:*", "[::1]:9"})
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]bool{
		"https://example.org/": true, "https://sub.EXAMPLE.org/": true, "https://evilexample.org/": false,
		"https://sub.example.org:444/": false, "https://app.test:8443/": true, "https://app.test/": false,
		"http://any.test:1/": true, "http://[::1]:9/": true, "http://[::1]/": false, "https://example.org.evil/": false,
	} {
		u, _ := url.Parse(raw)
		if got := ds.Allow(u); got != want {
			t.Errorf("Allow(%s) = %v, want %v", raw, got, want)
		}
	}
	for _, bad := range []string{"https://example.org", "example.org/x", "example.org:http", ".", ":80", "a@b"} {
		if _, err := ParseDomains([]string{bad}); err == nil {
			t.Errorf("ParseDomains(%q) accepted it", bad)
		}
	}
}
