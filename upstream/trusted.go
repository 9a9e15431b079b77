package upstream

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the peers whose X-Forwarded-* headers are believed: a proxy in
// front of hubgate (nginx, Traefik, JupyterHub's) that knows the real client.
type TrustedProxies []netip.Prefix

// Loopback is the default: proxies on the same machine.
var Loopback = TrustedProxies{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Contains reports whether a request's RemoteAddr is a trusted proxy. A unix socket
// peer (RemoteAddr "@" or empty) is local, so it is trusted like loopback.
func (t TrustedProxies) Contains(remoteAddr string) bool {
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
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Forwarded is what a trusted proxy in front says about the browser's request. It is
// the one place where hubgate decides whether to believe those headers: every field
// is empty when the peer is not a trusted proxy, or said nothing.
type Forwarded struct {
	// Proto and Host are the first element of X-Forwarded-Proto and -Host: proxies
	// append to them (configurable-http-proxy behind a TLS ingress sends
	// "https,http"), so the first is the browser's. Proto is lower-case.
	Proto, Host string
	// Method and URI are the original request's, at an auth endpoint: Traefik and
	// Caddy send X-Forwarded-Method and -Uri, the nginx example X-Original-*.
	Method, URI string
}

// Forwarded returns what r's peer says, if it is a trusted proxy.
func (t TrustedProxies) Forwarded(r *http.Request) Forwarded {
	if !t.Contains(r.RemoteAddr) {
		return Forwarded{}
	}
	h := r.Header
	return Forwarded{
		Proto:  strings.ToLower(firstElement(h.Get("X-Forwarded-Proto"))),
		Host:   firstElement(h.Get("X-Forwarded-Host")),
		Method: firstOf(h, "X-Forwarded-Method", "X-Original-Method"),
		URI:    firstOf(h, "X-Forwarded-Uri", "X-Original-Uri"),
	}
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
