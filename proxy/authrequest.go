package proxy

import (
	"net/http"
	"strings"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/upstream"
)

// authRequest answers nginx auth_request, Traefik forwardAuth and Caddy forward_auth
// with oauth2-proxy's conventions: 202 and X-Auth-Request-* when allowed, 401 when not
// logged in, 403 when logged in but not allowed.
func (s *Server) authRequest(w http.ResponseWriter, r *http.Request, info *request) {
	fwd := s.o.Trust.Proxies.Forwarded(r)
	method := r.Method
	if fwd.Method != "" {
		method = strings.ToUpper(fwd.Method)
	}
	if s.crossOrigin(r, method) {
		s.refuseCrossOrigin(w, r)
		return
	}
	u, token, _, result := s.authenticate(w, r, info)
	if result == noCredential && isNavigation(r) && (s.o.AuthMode == config.AuthForward || r.URL.Query().Get("mode") == "forward") {
		// Traefik and Caddy hand this answer to the browser as it is.
		s.beginLogin(w, r, fwd.URI)
		return
	}
	// Decided again with the location's narrowing: the decision metric counted the
	// global rules' answer, as it always has.
	if result == authenticated && !s.o.Access.Decide(u, narrowing(r)).Allow {
		result = forbidden
	}
	if result != authenticated {
		refuseJSON(w, result)
		return
	}
	id := upstream.Identity{User: u.Name, Groups: u.Groups, Email: u.Email, Admin: s.o.Access.IsAdmin(u)}
	if s.o.PassAccessToken {
		id.AccessToken = token
	}
	s.o.Headers.AuthAnswer(w.Header(), &id)
	w.WriteHeader(http.StatusAccepted)
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
