package upstream

import (
	"net"
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
