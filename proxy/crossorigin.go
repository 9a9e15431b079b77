package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// NewCrossOrigin builds the check that keeps pages of other origins from acting with
// the session cookie (CSRF, cross-site WebSocket hijacking). SameSite=Lax alone stops
// only other sites: a user server or a shared server on a sibling subdomain, or
// another port of the same host, is the same site and its requests carry the cookie.
// trusted are origins ("https://app.example.org") allowed to call in all the same.
func NewCrossOrigin(trusted []string) (*http.CrossOriginProtection, error) {
	c := http.NewCrossOriginProtection()
	for _, o := range trusted {
		if err := c.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// crossOrigin reports whether a request the session cookie would authenticate was
// sent by a page of another origin to act: an unsafe method (at <prefix>/auth, the
// original request's, as the trusted proxy in front says) or a WebSocket handshake,
// which is a GET that a page of any origin may open. Requests carrying a token in
// Authorization are not cookie-borne: a page cannot add that header cross-origin
// without a CORS preflight the upstream would have to allow.
func (s *Server) crossOrigin(r *http.Request, method string) bool {
	if s.o.CrossOrigin == nil {
		return false
	}
	ws := isWebSocket(r)
	if !ws && !unsafeMethod(method) {
		return false // a plain GET, HEAD or OPTIONS acts on nothing
	}
	if _, ok := headerToken(r); ok {
		return false
	}
	if ws {
		method = http.MethodPost // checked as the action it is
	}
	host := s.ownHost(r)
	// net/http's check on the request as the browser made it: Sec-Fetch-Site when the
	// browser sends it, else Origin's host against the host the browser used, and the
	// trusted origins. A shallow copy: Check reads only the method, Host and headers.
	probe := *r
	probe.Method, probe.Host = method, host
	if s.o.CrossOrigin.Check(&probe) != nil {
		return true
	}
	// Without Sec-Fetch-Site the check compares hosts only; an http page is still
	// another origin than our https one (and the other way round).
	origin := r.Header.Get("Origin")
	if origin == "" || r.Header.Get("Sec-Fetch-Site") != "" {
		return false
	}
	o, err := url.Parse(origin)
	if err != nil || o.Host != host || o.Scheme == s.o.Trust.Scheme(r) {
		return false
	}
	probe.Host = "" // no Origin matches it: the trusted origins alone answer
	return s.o.CrossOrigin.Check(&probe) != nil
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// isWebSocket recognizes a WebSocket handshake by each header a layer in front may
// leave: nginx drops Upgrade on its way to an auth_request, but passes
// Sec-WebSocket-Key, and browsers say Sec-Fetch-Mode: websocket.
func isWebSocket(r *http.Request) bool {
	// Canonical spellings ("Websocket"): Get would otherwise allocate to fold them.
	return r.Header.Get("Sec-Websocket-Key") != "" ||
		strings.EqualFold(r.Header.Get("Sec-Fetch-Mode"), "websocket") ||
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// refuseCrossOrigin answers a request crossOrigin refused: 403, and the upstream never
// sees it.
func (s *Server) refuseCrossOrigin(w http.ResponseWriter, r *http.Request) {
	s.o.Metrics.Decision("cross_origin")
	s.log.Info("cross-origin request refused", zap.String("method", r.Method), zap.String("path", r.URL.Path),
		zap.String("origin", r.Header.Get("Origin")), zap.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")))
	writePage(w, r, http.StatusForbidden, "Cross-origin request refused",
		"A page of another origin sent this request with your session. If that origin should be allowed, its administrator can add it to hubgate's trusted_origins.")
}
