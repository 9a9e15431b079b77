package proxy

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// safeRedirect returns rd if it is a path on this origin, else fallback. Browsers read
// "//host", "/\host" and a tab or newline between slashes as another site, so anything
// but a plain absolute path is refused, raw (what the browser reads) and decoded (so
// that percent-encoding cannot hide "//" or a backslash).
//
// A path can also become "//host" later: the browser removes dot segments ("." and
// "..", also spelled %2e) before it asks for the page, so "/x/..//evil.com" is asked
// for as "//evil.com", and an upstream that answers "/p" with a redirect to "/p/"
// then sends the browser to evil.com. Such a path is refused too, not rewritten:
// none of its readings is clearly the one meant, and a real page never links its
// login like that. rd is returned with what a browser would encode itself (bytes
// >= 0x80, spaces, quotes) percent-encoded, so the Location means one thing.
func safeRedirect(rd, fallback string) string {
	if !isLocalPath(rd) {
		return fallback
	}
	decoded, err := url.PathUnescape(rd)
	if err != nil || !isLocalPath(decoded) {
		return fallback
	}
	u, err := url.Parse(rd)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	p := rd
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if resolvesToNetworkPath(p) {
		return fallback
	}
	return escapeLocation(rd)
}

func isLocalPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// resolvesToNetworkPath reports whether the absolute path p, its escapes valid, starts
// with "//" once its dot segments are removed the way anyone on the way might: the
// browser (%2e is a dot, %2f is not a slash), a server that decodes first (%2f is a
// slash too), one that decodes what the browser sent, and a servlet container (";..."
// dropped from each segment).
func resolvesToNetworkPath(p string) bool {
	decoded, _ := url.PathUnescape(p)
	browser := removeDotSegments(p, false)
	browserDecoded, _ := url.PathUnescape(browser)
	// A server that removes only literal dot segments (net/url, Go's ServeMux) and
	// decodes afterwards: "/.//%2e%2e" is "//.." to it.
	literal, _ := url.PathUnescape(dotSegments(p, false, false))
	for _, view := range []string{browser, removeDotSegments(decoded, false), removeDotSegments(browserDecoded, false), removeDotSegments(decoded, true), literal} {
		if strings.HasPrefix(view, "//") {
			return true
		}
	}
	return false
}

// removeDotSegments resolves "." and ".." in the absolute path p like a browser's URL
// parser (WHATWG, which matches RFC 3986 §5.2.4 on absolute paths): ".." never climbs
// above the root, and a dot segment at the end leaves a trailing slash.
// dropParams first cuts each segment at ';', as servlet containers do.
func removeDotSegments(p string, dropParams bool) string { return dotSegments(p, dropParams, true) }

// dotSegments is removeDotSegments, reading %2e as a dot only when encoded is set.
func dotSegments(p string, dropParams, encoded bool) string {
	segments := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segments))
	for i, seg := range segments {
		if dropParams {
			seg, _, _ = strings.Cut(seg, ";")
		}
		last := i == len(segments)-1
		name := seg
		if encoded {
			name = strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
		}
		switch name {
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case ".":
		default:
			out = append(out, seg)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}

// escapeLocation percent-encodes the bytes of a URL that a browser would encode
// itself before using it: controls, space, bytes >= 0x80 (so "/café" is
// "/caf%C3%A9"), `"<>\^{|}` and the backtick, a "'" in the query, and any '#' after
// the first. What is left is plain ASCII that every browser reads the same. '%' is
// left alone, so escapes already there stay as they are and a second call changes
// nothing. A non-ASCII host ends up percent-encoded, which browsers decode before
// IDNA-mapping it.
func escapeLocation(loc string) string {
	const hex = "0123456789ABCDEF"
	var b []byte // nil until something needs encoding
	inQuery, inFragment := false, false
	for i := 0; i < len(loc); i++ {
		c := loc[i]
		escape := c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0
		switch {
		case c == '#' && inFragment, c == '\'' && inQuery:
			escape = true
		case c == '#':
			inFragment, inQuery = true, false
		case c == '?' && !inFragment:
			inQuery = true
		}
		if !escape {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = make([]byte, i, len(loc)+16)
			copy(b, loc)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return loc
	}
	return string(b)
}

// ownHost is the host the browser used: what a trusted proxy reports, else the
// request's own.
func (s *Server) ownHost(r *http.Request) string {
	if fwd := s.o.Trust.Proxies.Forwarded(r); fwd.Host != "" {
		return fwd.Host
	}
	return r.Host
}

// returnTo is where a login sends the browser back to: rd or, without one, what a
// trusted proxy says in X-Auth-Request-Redirect (oauth2-proxy's nginx examples set
// it). A path on this origin passes as safeRedirect lets it; an absolute http(s) URL
// only on this very host (as a trusted proxy reports it) or a whitelist_domains
// entry; anything else is service_prefix.
func (s *Server) returnTo(r *http.Request, rd string) string {
	if rd == "" {
		rd = s.o.Trust.Proxies.Forwarded(r).Redirect
	}
	own := s.ownHost(r)
	if u, ok := absoluteReturn(rd); ok {
		if strings.EqualFold(u.Host, own) || s.o.ReturnDomains.Allow(u) {
			return escapeLocation(rd)
		}
		return s.o.ServicePrefix
	}
	return safeRedirect(rd, s.o.ServicePrefix)
}

// absoluteReturn parses rd as an absolute http(s) URL a browser reads the same way:
// no credentials, no backslash, space or control byte anywhere (browsers read "\"
// as "/" and drop tabs and newlines, so the host might not be the one parsed).
func absoluteReturn(rd string) (*url.URL, bool) {
	lower := strings.ToLower(rd)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return nil, false
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return nil, false
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" || !plainHost(u) {
		return nil, false
	}
	return u, true
}

// plainHost: a DNS name or IP address and an optional numeric port, nothing that a
// browser might decode or read as another host ('"', "%", "@").
func plainHost(u *url.URL) bool {
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		_, err := netip.ParseAddr(host)
		if err != nil {
			return false
		}
	} else if host == "" || strings.Trim(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return false
	}
	return strings.Trim(u.Port(), "0123456789") == ""
}
