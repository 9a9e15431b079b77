package proxy

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/upstream"
)

// credential finds the request's token: an Authorization header ("token X" or
// "Bearer X", as the Hub accepts) wins over the session cookie. An expired access
// token in the session is refreshed here, and the new session saved on w. An error
// wrapping session.ErrUnavailable means the session store did not answer.
func (s *Server) credential(w http.ResponseWriter, r *http.Request) (token, idToken string, fromHeader bool, err error) {
	if t, ok := headerToken(r); ok {
		return t, "", true, nil
	}
	sess, ok, err := s.o.Sessions.Load(r)
	if err != nil || !ok {
		return "", "", false, err
	}
	if sess.NeedsRefresh(time.Now()) {
		tok, err := s.o.Refresher.Refresh(r.Context(), sess.RefreshToken)
		switch {
		case errors.Is(err, provider.ErrInvalidToken):
			// Refresh tokens rotate: with server-side sessions another replica may
			// have refreshed this one first. Its result is in the store, not lost.
			if again, ok, loadErr := s.o.Sessions.Load(r); loadErr == nil && ok && again.RefreshToken != sess.RefreshToken && !again.NeedsRefresh(time.Now()) {
				return again.AccessToken, again.IDToken, false, nil
			}
			s.log.Info("session refresh refused; the user must log in again", zap.Error(err))
			return "", "", false, s.o.Sessions.Clear(r.Context(), w, r)
		case err != nil:
			return "", "", false, err
		}
		sess = s.o.Sessions.Continue(sess, tok)
		err = s.o.Sessions.Save(r.Context(), w, r, sess)
		if errors.Is(err, session.ErrEnded) {
			// Signed out while the refresh was in flight: it stays signed out.
			return "", "", false, s.o.Sessions.Clear(r.Context(), w, r)
		}
		if err != nil {
			return "", "", false, err
		}
	}
	return sess.AccessToken, sess.IDToken, false, nil
}

// headerToken is the token of an Authorization header "token X" or "Bearer X".
func headerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, value, ok := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	if ok && value != "" && (strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "bearer")) {
		return value, true
	}
	return "", false
}

// outcome of authenticating a request.
type outcome int

const (
	authenticated outcome = iota
	noCredential          // not logged in, or the session's token is no longer valid
	refusedToken          // an Authorization header token the provider refused
	forbidden             // logged in, not allowed
	providerDown          // nothing is known: the provider did not answer
	storeDown             // nothing is known: the session store did not answer
)

// A refused header token counts as unauthenticated: the metric's values predate it.
var outcomeNames = [...]string{authenticated: "authenticated", noCredential: "unauthenticated", refusedToken: "unauthenticated", forbidden: "forbidden", providerDown: "provider_down", storeDown: "store_down"}

// authenticate decides who the request is from and whether rules let them pass, and
// counts the decision.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, info *request, rules *access.Rules) (*provider.User, string, bool, outcome) {
	u, token, fromHeader, result := s.decide(w, r, info, rules)
	s.o.Metrics.Decision(outcomeNames[result])
	return u, token, fromHeader, result
}

// decide is authenticate's work. When the session's token is no longer valid, the
// session is cleared. When the session store does not answer, the session is left
// alone: it is not known to be over, so the user is neither logged out nor sent to
// log in.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, info *request, rules *access.Rules) (*provider.User, string, bool, outcome) {
	token, idToken, fromHeader, err := s.credential(w, r)
	switch {
	case errors.Is(err, session.ErrUnavailable):
		s.storeFailed(err)
		return nil, "", false, storeDown
	case err != nil:
		s.log.Error("session refresh failed", zap.Error(err))
		return nil, "", false, providerDown
	}
	if token == "" {
		return nil, "", false, noCredential
	}
	u, hit, err := s.o.Cache.Lookup(provider.WithIDToken(r.Context(), idToken), token)
	info.cache = "miss"
	if hit {
		info.cache = "hit"
	}
	switch {
	case errors.Is(err, provider.ErrInvalidToken):
		if fromHeader {
			// The session was never read, so it is not known to be over: it stays.
			return nil, "", true, refusedToken
		}
		if err := s.o.Sessions.Clear(r.Context(), w, r); err != nil {
			s.storeFailed(err)
			return nil, "", false, storeDown
		}
		return nil, "", false, noCredential
	case err != nil:
		s.log.Error("identity lookup failed", zap.Error(err))
		return nil, "", fromHeader, providerDown
	}
	info.user = u.Name
	if !rules.Decide(u, access.Narrowing{}).Allow {
		return u, token, fromHeader, forbidden
	}
	return u, token, fromHeader, authenticated
}

// protected serves a path of rt that needs a login.
func (s *Server) protected(w http.ResponseWriter, r *http.Request, info *request, rt *Route) {
	if s.crossOrigin(r, r.Method) {
		s.refuseCrossOrigin(w, r)
		return
	}
	u, token, fromHeader, result := s.authenticate(w, r, info, &rt.Access)
	switch result {
	case noCredential:
		s.unauthenticated(w, r)
		return
	case refusedToken:
		s.invalidToken(w, r)
		return
	case providerDown:
		s.providerDown(w, r)
		return
	case storeDown:
		s.storeDown(w, r)
		return
	case forbidden:
		s.notAllowed(w, r, u)
		return
	}
	hop := &upstream.Hop{
		Identity: upstream.Identity{
			User:              u.Name,
			Groups:            u.Groups,
			Email:             u.Email,
			Admin:             rt.Access.IsAdmin(u),
			DropAuthorization: fromHeader,
		},
		TrustedPeer: s.o.Trust.Proxies.Contains(r.RemoteAddr),
	}
	if rt.PassAccessToken {
		hop.AccessToken = token
	}
	rt.Upstream.ServeHTTP(w, r.WithContext(upstream.WithHop(r.Context(), hop)))
}

// unauthenticated sends a browser to log in; anything else gets a 401, because a script
// or API client can't follow an HTML login.
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if isNavigation(r) {
		if !s.o.SkipSignInPage {
			redirect(w, s.o.Prefix+"/sign_in?rd="+url.QueryEscape(r.URL.RequestURI()))
			return
		}
		s.beginLogin(w, r, r.URL.RequestURI())
		return
	}
	w.Header().Set("WWW-Authenticate", challengeLogin)
	writePage(w, r, http.StatusUnauthorized, "Login required",
		"Send a "+s.o.LoginService+" token (Authorization: Bearer ...) or log in with a browser.")
}

// Challenges of a 401 (RFC 6750 §3): with no credential, just the realm; for a token
// that was sent and refused, invalid_token, so the client knows that a login page
// would not help it and does not retry the token.
const (
	challengeLogin        = `Bearer realm="hubgate"`
	challengeInvalidToken = `Bearer realm="hubgate", error="invalid_token"`
)

// invalidToken answers a request whose Authorization token the provider refused:
// 401 whatever its Accept says. A client that sends a token is a script, or a page
// calling an API; a login redirect would neither fix its token nor be followed.
func (s *Server) invalidToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", challengeInvalidToken)
	writePage(w, r, http.StatusUnauthorized, "Invalid token",
		"The "+s.o.LoginService+" token in the Authorization header was not accepted.")
}

func (s *Server) providerDown(w http.ResponseWriter, r *http.Request) {
	writePage(w, r, http.StatusBadGateway, "Login service unavailable",
		"The identity provider did not answer. Try again in a moment.")
}

// storeRetryAfter is the Retry-After of a 503 for an unreachable session store, in
// seconds: about when go-redis tries it again.
const storeRetryAfter = "5"

// storeDown answers a request whose session could not be read: 503, and the cookie
// kept, so the user is still logged in once the store is back.
func (s *Server) storeDown(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", storeRetryAfter)
	writePage(w, r, http.StatusServiceUnavailable, "Session store unavailable",
		"hubgate cannot reach its session store, so it cannot tell whether you are signed in. Try again in a moment.")
}

func (s *Server) notAllowed(w http.ResponseWriter, r *http.Request, u *provider.User) {
	why := "this service is not open to you"
	if u.Denied != "" {
		why = u.Denied
	}
	who := "You are signed in as " + u.Name
	if u.Name == "" { // the provider's answer named no one (User.Denied says why)
		who = "You are signed in"
	}
	writePage(w, r, http.StatusForbidden, "Access denied",
		who+", but "+why+". Ask the service's administrator for access.")
}

// isNavigation reports a browser loading a page, the only kind of request that may be
// redirected to an HTML login.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// userinfo answers who the caller is, as JSON.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request, info *request) {
	u, _, _, result := s.authenticate(w, r, info, &s.o.Access)
	if result != authenticated {
		refuseJSON(w, result)
		return
	}
	writeJSON(w, http.StatusOK, userinfoBody{User: u.Name, Groups: u.Groups, Email: u.Email, Admin: s.o.Access.IsAdmin(u)})
}

// userinfoBody is <prefix>/userinfo's answer, in oauth2-proxy's field names plus admin.
type userinfoBody struct {
	User   string   `json:"user"`
	Groups []string `json:"groups"`
	Email  string   `json:"email,omitempty"`
	Admin  bool     `json:"admin"`
}

// refuseJSON answers a decision other than authenticated, for API-style endpoints:
// 401 not logged in or a refused token, 403 not allowed, 502 provider down, 503
// session store down.
func refuseJSON(w http.ResponseWriter, result outcome) {
	switch result {
	case noCredential:
		w.Header().Set("WWW-Authenticate", challengeLogin)
		writeJSON(w, http.StatusUnauthorized, errorBody{http.StatusUnauthorized, "Login required"})
	case refusedToken:
		w.Header().Set("WWW-Authenticate", challengeInvalidToken)
		writeJSON(w, http.StatusUnauthorized, errorBody{http.StatusUnauthorized, "Invalid token"})
	case providerDown:
		writeJSON(w, http.StatusBadGateway, errorBody{http.StatusBadGateway, "Login service unavailable"})
	case storeDown:
		w.Header().Set("Retry-After", storeRetryAfter)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{http.StatusServiceUnavailable, "Session store unavailable"})
	default:
		writeJSON(w, http.StatusForbidden, errorBody{http.StatusForbidden, "Access denied"})
	}
}
