package proxy

import (
	"net/http"
	"slices"
	"strings"

	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/provider"
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
	if result == authenticated && !narrowedAllow(u, r) {
		result = forbidden
	}
	if result != authenticated {
		refuseJSON(w, result)
		return
	}
	h := w.Header()
	name := []string{u.Name} // one slice for both: the headers are only read
	h["X-Auth-Request-User"] = name
	h["X-Auth-Request-Preferred-Username"] = name
	h["X-Auth-Request-Groups"] = []string{strings.Join(u.Groups, ",")}
	if u.Email != "" {
		h["X-Auth-Request-Email"] = []string{u.Email}
	}
	if s.o.PassAccessToken {
		h["X-Auth-Request-Access-Token"] = []string{token}
	}
	w.WriteHeader(http.StatusAccepted)
}

// narrowedAllow applies the per-location rules of <prefix>/auth?allowed_users=a,b&
// allowed_groups=g: they come from the proxy's configuration (the auth request's own
// URL), and can only narrow what the global rules allow.
func narrowedAllow(u *provider.User, r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return true // most locations narrow nothing; skip parsing an empty query
	}
	q := r.URL.Query()
	users, groups := splitComma(q.Get("allowed_users")), splitComma(q.Get("allowed_groups"))
	if len(users) == 0 && len(groups) == 0 {
		return true
	}
	if slices.Contains(users, u.Name) {
		return true
	}
	for _, g := range u.Groups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
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
