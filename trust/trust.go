// Package trust decides what hubgate believes about a request's browser: which peers'
// X-Forwarded-* headers count, what they say, whether the browser used https, and
// which other hosts a login may send it back to.
package trust

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Proxies are the peers whose X-Forwarded-* headers are believed: a proxy in front of
// hubgate (nginx, Traefik, JupyterHub's) that knows the real client. The zero value
// trusts only unix socket peers.
type Proxies struct {
	prefixes []netip.Prefix
}

// NewProxies trusts peers in these address ranges.
func NewProxies(prefixes []netip.Prefix) Proxies {
	return Proxies{prefixes: append([]netip.Prefix(nil), prefixes...)}
}

// Loopback trusts proxies on the same machine, the default of trusted_proxies.
func Loopback() Proxies {
	return NewProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")})
}

// Contains reports whether a request's RemoteAddr is a trusted proxy. A unix socket
// peer (RemoteAddr "@" or empty) is local, so it is trusted like loopback.
func (p Proxies) Contains(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if host == "" || host == "@" || strings.HasPrefix(remoteAddr, "/") {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, prefix := range p.prefixes {
		if prefix.Contains(a) {
			return true
		}
	}
	return false
}

// Forwarded is what a trusted proxy in front says about the browser's request. Every
// field is empty when the peer is not a trusted proxy, or said nothing.
type Forwarded struct {
	// Proto and Host are the first element of X-Forwarded-Proto and -Host: proxies
	// append to them (configurable-http-proxy behind a TLS ingress sends
	// "https,http"), so the first is the browser's. Proto is lower-case.
	Proto, Host string
	// Method and URI are the original request's, at an auth endpoint: Traefik and
	// Caddy send X-Forwarded-Method and -Uri, the nginx example X-Original-*.
	Method, URI string
	// Redirect is where the browser should return after login: oauth2-proxy's nginx
	// examples set X-Auth-Request-Redirect on its /oauth2/ location.
	Redirect string
}

// Forwarded returns what r's peer says, if it is a trusted proxy.
func (p Proxies) Forwarded(r *http.Request) Forwarded {
	if !p.Contains(r.RemoteAddr) {
		return Forwarded{}
	}
	h := r.Header
	return Forwarded{
		Proto:    strings.ToLower(firstElement(h.Get("X-Forwarded-Proto"))),
		Host:     firstElement(h.Get("X-Forwarded-Host")),
		Method:   firstOf(h, "X-Forwarded-Method", "X-Original-Method"),
		URI:      firstOf(h, "X-Forwarded-Uri", "X-Original-Uri"),
		Redirect: h.Get("X-Auth-Request-Redirect"),
	}
}

// Policy is everything hubgate believes about how browsers reach it. Built once from
// the configuration; the HTTP surface and the session store's cookies both ask it.
type Policy struct {
	Proxies Proxies
	// PublicScheme, when known ("https" or "http": JUPYTERHUB_PUBLIC_URL's, or an
	// https redirect_url's), is how every browser reaches hubgate; "" lets each
	// request say.
	PublicScheme string
	// InternalTLS: the listener's TLS is the hop from the Hub's proxy (internal_ssl),
	// so a TLS connection says nothing about the browser's scheme.
	InternalTLS bool
}

// Secure reports whether the browser reached us over https, which decides the
// cookies' Secure flag: a known public scheme, else our own TLS, else what a trusted
// proxy says in X-Forwarded-Proto.
func (p Policy) Secure(r *http.Request) bool {
	if p.PublicScheme != "" {
		return p.PublicScheme == "https"
	}
	if r.TLS != nil && !p.InternalTLS {
		return true
	}
	return p.Proxies.Forwarded(r).Proto == "https"
}

// Scheme is Secure as a URL scheme.
func (p Policy) Scheme(r *http.Request) string {
	if p.Secure(r) {
		return "https"
	}
	return "http"
}

// firstElement is the first item of a comma-separated header value.
func firstElement(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

func firstOf(h http.Header, names ...string) string {
	for _, name := range names {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// Domains are the hosts besides our own that a login may send the browser back to:
// whitelist_domains, read as oauth2-proxy reads them.
type Domains struct {
	entries []domain
}

type domain struct {
	host       string // lower case, without a leading "."
	subdomains bool   // ".example.org": it and every subdomain
	port       string // "" the scheme's default only, "*" any, else that one
}

// ParseDomains reads entries "example.org", ".example.org", "example.org:8443" and
// "example.org:*". An entry with a scheme, path or anything else but a host and a
// port is an error: it would never match.
func ParseDomains(entries []string) (Domains, error) {
	var ds Domains
	for _, e := range entries {
		if strings.ContainsAny(e, "/@?#\\ ") {
			return Domains{}, fmt.Errorf("%q is not a host; write example.org, .example.org or example.org:8443, without a scheme or path", e)
		}
		d := domain{host: strings.ToLower(e)}
		if i := strings.LastIndexByte(d.host, ':'); i >= 0 && !strings.HasSuffix(d.host, "]") {
			d.host, d.port = d.host[:i], d.host[i+1:]
			if _, err := strconv.ParseUint(d.port, 10, 16); d.port != "*" && err != nil {
				return Domains{}, fmt.Errorf("%q: the port after \":\" must be a number or *", e)
			}
		}
		d.host, d.subdomains = strings.TrimPrefix(d.host, "."), strings.HasPrefix(d.host, ".")
		d.host = strings.Trim(d.host, "[]")
		if d.host == "" {
			return Domains{}, fmt.Errorf("%q names no host", e)
		}
		ds.entries = append(ds.entries, d)
	}
	return ds, nil
}

// Allow reports whether u's host is one of ds: "example.org" is that host,
// ".example.org" it and its subdomains; an entry's port must match, "*" is any port,
// and an entry without one allows only the scheme's default port.
func (ds Domains) Allow(u *url.URL) bool {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	for _, d := range ds.entries {
		if host != d.host && !(d.subdomains && strings.HasSuffix(host, "."+d.host)) {
			continue
		}
		if d.port == "*" || d.port == port {
			return true
		}
	}
	return false
}
