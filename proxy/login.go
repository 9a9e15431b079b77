package proxy

import (
	"errors"
	"net/http"
	"net/url"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/session"
)

// start begins a login on request: <prefix>/start?rd=/where/to/go.
func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	s.beginLogin(w, r, r.URL.Query().Get("rd"))
}

// signIn shows a page with one button that starts the login, or with
// skip_sign_in_page (oauth2-proxy's skip_provider_button) starts it.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if s.o.SkipSignInPage {
		s.beginLogin(w, r, r.URL.Query().Get("rd"))
		return
	}
	rd := s.returnTo(r, r.URL.Query().Get("rd"))
	writePageLink(w, r, http.StatusOK, "Sign in", "This service uses your "+s.o.LoginService+" account.",
		s.o.Prefix+"/start?rd="+url.QueryEscape(rd), "Sign in with "+s.o.LoginService)
}

// beginLogin saves fresh login state in its own cookie and sends the browser to the
// provider. rd is validated here (returnTo), so only an allowed address is stored.
func (s *Server) beginLogin(w http.ResponseWriter, r *http.Request, rd string) {
	login := session.NewLogin(s.returnTo(r, rd))
	if err := s.o.Sessions.SaveLogin(w, r, login); err != nil {
		s.log.Error("saving login state", zap.Error(err))
		writePage(w, r, http.StatusInternalServerError, "Login failed", "hubgate could not start the login.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	redirect(w, s.o.Provider.AuthCodeURL(login.State, login.Verifier))
}

// callback finishes a login: state checked exactly, code exchanged (with the PKCE
// verifier), user looked up and allowed, session set, browser sent on.
func (s *Server) callback(w http.ResponseWriter, r *http.Request, info *request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		status := http.StatusBadRequest
		if e == "access_denied" {
			status = http.StatusForbidden
		}
		s.log.Info("login refused by the provider", zap.String("error", e))
		s.retryPage(w, r, status, "Login refused", "The login service said: "+e+" "+q.Get("error_description"))
		return
	}
	state, code := q.Get("state"), q.Get("code")
	if state == "" || code == "" {
		s.retryPage(w, r, http.StatusBadRequest, "Login failed", "The login callback is missing its code or state.")
		return
	}
	login, err := s.o.Sessions.TakeLogin(w, r, state)
	if err != nil {
		s.unknownLogin(w, r)
		return
	}
	tok, ok := s.exchange(w, r, info, code, login.Verifier)
	if !ok {
		return
	}
	// A new login always replaces whatever session the browser had (fixation): the
	// old server-side one ends here, and the cookie is overwritten.
	err = s.o.Sessions.Revoke(r.Context(), r)
	if err == nil {
		err = s.o.Sessions.Save(r.Context(), w, r, s.o.Sessions.Start(tok))
	}
	switch {
	case errors.Is(err, session.ErrUnavailable):
		s.storeFailed(err)
		s.storeDownAtLogin(w, r)
		return
	case err != nil:
		s.log.Error("saving session", zap.Error(err))
		writePage(w, r, http.StatusInternalServerError, "Login failed", "hubgate could not save the session.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	redirect(w, login.Redirect)
}

// unknownLogin answers a callback whose state matches no login of this browser. A
// browser that is logged in got here by the back button: it goes home.
func (s *Server) unknownLogin(w http.ResponseWriter, r *http.Request) {
	_, ok, err := s.o.Sessions.Load(r)
	switch {
	case err != nil:
		s.storeFailed(err)
		s.storeDownAtLogin(w, r)
	case ok:
		redirect(w, s.o.ServicePrefix)
	default:
		s.retryPage(w, r, http.StatusForbidden, "Login expired",
			"This login was not started in this browser, was already used, took longer than 10 minutes, or was replaced by newer logins.")
	}
}

// exchange turns the callback's code into a token of a user who may pass; otherwise
// it has answered the browser and ok is false.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request, info *request, code, verifier string) (tok *oauth2.Token, ok bool) {
	tok, err := s.o.Provider.Exchange(r.Context(), code, verifier)
	if err != nil {
		s.log.Warn("code exchange failed", zap.Error(err))
		if errors.Is(err, provider.ErrInvalidToken) {
			s.retryPage(w, r, http.StatusForbidden, "Login failed", "The login service refused the login code.")
		} else {
			s.providerDown(w, r)
		}
		return nil, false
	}
	u, hit, err := s.o.Cache.Lookup(r.Context(), tok.AccessToken)
	info.cache = "miss"
	if hit {
		info.cache = "hit"
	}
	switch {
	case errors.Is(err, provider.ErrInvalidToken):
		s.retryPage(w, r, http.StatusForbidden, "Login failed", "The login service did not accept its own token.")
		return nil, false
	case err != nil:
		s.log.Error("identity lookup failed", zap.Error(err))
		s.providerDown(w, r)
		return nil, false
	}
	info.user = u.Name
	if !s.o.Access.Decide(u, access.Narrowing{}).Allow {
		s.notAllowed(w, r, u)
		return nil, false
	}
	return tok, true
}

// signOut ends the session here, and at the Hub too when hub_logout is on. With a
// session store that does not answer it ends nothing and says so: a sign-out that
// only seemed to work would leave the session alive on the server.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	sess, ok, err := s.o.Sessions.Load(r)
	if err == nil {
		if ok {
			s.o.Cache.Forget(sess.AccessToken)
		}
		err = s.o.Sessions.Clear(r.Context(), w, r)
	}
	if err != nil {
		s.storeFailed(err)
		w.Header().Set("Retry-After", storeRetryAfter)
		writePageLink(w, r, http.StatusServiceUnavailable, "Session store unavailable",
			"hubgate cannot reach its session store, so your session was not ended. Sign out again in a moment.",
			s.o.Prefix+"/sign_out", "Sign out again")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if s.o.HubLogout {
		redirect(w, s.o.HubURL+"/hub/logout")
		return
	}
	if rd := safeRedirect(r.URL.Query().Get("rd"), ""); rd != "" {
		redirect(w, rd)
		return
	}
	writePageLink(w, r, http.StatusOK, "Signed out", "You are signed out.", s.o.Prefix+"/start", "Sign in again")
}

// storeDownAtLogin answers a login that cannot be saved because the session store
// did not answer. The login state is used up, so the way on is a new login.
func (s *Server) storeDownAtLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", storeRetryAfter)
	s.retryPage(w, r, http.StatusServiceUnavailable, "Session store unavailable",
		"hubgate cannot reach its session store, so it could not save your login. Try again in a moment.")
}

// retryPage answers a failed login with a link to start over, never an automatic
// redirect: a broken provider must not turn into a redirect loop.
func (s *Server) retryPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	writePageLink(w, r, status, title, msg, s.o.Prefix+"/start", "Start the login again")
}

// redirect answers 302 to location. Every Location is escaped here, once, whatever
// it was built from (a return path, the provider's authorize URL, hub_url or
// service_prefix from the configuration), so none carries raw non-ASCII.
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", escapeLocation(location))
	w.WriteHeader(http.StatusFound)
}
