package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

// authRequest answers nginx auth_request, Traefik forwardAuth and Caddy forward_auth
// with oauth2-proxy's conventions: 202 and X-Auth-Request-* when allowed, 401 when not
// logged in, 403 when logged in but not allowed.
func (s *Server) authRequest(w http.ResponseWriter, r *http.Request, info *request) {
	fwd := s.o.Trust.Proxies.Forwarded(r)
	rt, status, why := s.authRoute(r, fwd)
	if rt == nil {
		writeJSON(w, status, errorBody{status, why})
		return
	}
	info.name = rt.Name
	if rt.Public {
		w.WriteHeader(http.StatusAccepted) // no login, and no identity to tell
		return
	}
	method := r.Method
	if fwd.Method != "" {
		method = strings.ToUpper(fwd.Method)
	}
	if s.crossOrigin(r, method) {
		s.refuseCrossOrigin(w, r)
		return
	}
	u, token, _, result := s.authenticate(w, r, info, &rt.Access)
	if result == noCredential && isNavigation(r) && (s.o.AuthMode == config.AuthForward || r.URL.Query().Get("mode") == "forward") {
		// Traefik and Caddy hand this answer to the browser as it is.
		s.beginLogin(w, r, fwd.URI)
		return
	}
	// Decided again with the location's narrowing: the decision metric counted the
	// global rules' answer, as it always has.
	if result == authenticated && !rt.Access.Decide(u, narrowing(r)).Allow {
		result = forbidden
	}
	if result != authenticated {
		refuseJSON(w, result)
		return
	}
	id := upstream.Identity{User: u.Name, Groups: u.Groups, Email: u.Email, Admin: rt.Access.IsAdmin(u)}
	if rt.PassAccessToken {
		id.AccessToken = token
	}
	rt.Headers.AuthAnswer(w.Header(), &id)
	w.WriteHeader(http.StatusAccepted)
}

// authRoute is the route an auth request asks about: ?route=NAME, which the
// proxy's own configuration writes, else the route of the original request as a
// trusted proxy reports it (X-Forwarded-Host and -Uri). A client's own copies of
// those headers are never read (trust.Proxies.Forwarded), so they choose nothing.
// With no routes configured there is one, always. Otherwise the route is nil, with
// the status and message to answer.
func (s *Server) authRoute(r *http.Request, fwd trust.Forwarded) (*Route, int, string) {
	if !s.named {
		return s.only, 0, ""
	}
	if r.URL.RawQuery != "" {
		if q := r.URL.Query(); q.Has("route") {
			if rt := s.routes.byName[q.Get("route")]; rt != nil {
				return rt, 0, ""
			}
			return nil, http.StatusNotFound, "No such route; the route parameter names a route's name"
		}
	}
	if fwd.URI == "" {
		return nil, http.StatusNotFound, "Which route? Add ?route=NAME to the auth URL, or have the proxy send X-Forwarded-Uri"
	}
	u, err := url.ParseRequestURI(fwd.URI)
	if err != nil {
		return nil, http.StatusBadRequest, "X-Forwarded-Uri is not a request URI"
	}
	rt, ok := s.routes.find(s.routeHost(r), u)
	switch {
	case !ok:
		return nil, http.StatusBadRequest, "The original path reads as more than one place"
	case rt == nil:
		return nil, http.StatusNotFound, "No route serves the original request"
	}
	return rt, 0, ""
}

// narrowing reads the per-location rules of <prefix>/auth?allowed_users=a,b&
// allowed_groups=g: they come from the proxy's configuration (the auth request's own
// URL), and can only narrow what the global rules allow.
func narrowing(r *http.Request) access.Narrowing {
	if r.URL.RawQuery == "" {
		return access.Narrowing{} // most locations narrow nothing; skip parsing an empty query
	}
	q := r.URL.Query()
	return access.Narrowing{Users: splitComma(q.Get("allowed_users")), Groups: splitComma(q.Get("allowed_groups"))}
}

func splitComma(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
