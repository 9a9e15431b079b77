package proxy

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/session"
)

// start begins a login on request: <prefix>/start?rd=/where/to/go.
func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	s.beginLogin(w, r, rdParam(r))
}

// signIn shows a page with one button that starts the login, or with
// skip_sign_in_page (oauth2-proxy's skip_provider_button) starts it. Proxies in
// front send their 401s here and may re-status the answer (nginx's error_page 401
// =403 /oauth2/sign_in), so no body here states a status that could disagree.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if !isNavigation(r) {
		// An API client whose 401 a proxy turned into this page: never a login.
		challenge, msg := challengeLogin, "Login required"
		if r.Header.Get("Authorization") != "" {
			// A good token would not have been sent here.
			challenge, msg = challengeInvalidToken, "Invalid token"
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, http.StatusUnauthorized, errorBody{Message: msg})
		return
	}
	if s.o.SkipSignInPage {
		s.beginLogin(w, r, rdParam(r))
		return
	}
	rd := s.returnTo(r, rdParam(r))
	writePageLink(w, r, http.StatusOK, "Sign in", "This service uses your "+s.o.LoginService+" account.",
		s.o.Prefix+"/start?rd="+url.QueryEscape(rd), "Sign in with "+s.o.LoginService)
}

// rdParam is the return address of <prefix>/sign_in and /start. Caddy's and nginx's
// documented configurations write it unescaped (rd={scheme}://{host}{uri},
// rd=$scheme://$host$request_uri), so the page's own query arrives as more
// parameters and with its escapes undone. An rd that comes first and holds a
// literal "?" is therefore the rest of the raw query, as it is; an escaped one
// (%3F) is read as usual. Either way returnTo decides whether it may be used.
func rdParam(r *http.Request) string {
	raw := r.URL.RawQuery
	if strings.HasPrefix(raw, "rd=") {
		first, _, _ := strings.Cut(raw, "&")
		if strings.Contains(first, "?") {
			return raw[len("rd="):]
		}
	}
	return r.URL.Query().Get("rd")
}

// beginLogin saves fresh login state in its own cookie and sends the browser to the
// provider. rd is validated here (returnTo), so only an allowed address is stored.
func (s *Server) beginLogin(w http.ResponseWriter, r *http.Request, rd string) {
	login := session.NewLogin(s.acrossHosts(r, s.returnTo(r, rd)))
	if err := s.o.Sessions.SaveLogin(w, r, login); err != nil {
		s.log.Error("saving login state", zap.Error(err))
		writePage(w, r, http.StatusInternalServerError, "Login failed", "hubgate could not start the login.")
		return
	}
	target := s.o.Provider.AuthCodeURL(login.State, login.Verifier)
	if target == "" {
		// The provider's endpoints are not known yet (OpenID Connect discovery).
		s.providerDown(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	redirectToLogin(w, r, target, s.o.LoginService)
}

// acrossHosts makes a return path absolute when the login began on a route's host
// other than the callback's: the browser comes back on redirect_url's host, and a
// bare path would leave it there.
func (s *Server) acrossHosts(r *http.Request, back string) string {
	if s.callbackHost == "" || !strings.HasPrefix(back, "/") {
		return back
	}
	host := s.ownHost(r)
	if h := requestHost(host); h == s.callbackHost || !s.routes.servesHost(h) {
		return back
	}
	return s.o.Trust.Scheme(r) + "://" + host + back
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
	idToken, _ := tok.Extra("id_token").(string)
	u, hit, err := s.o.Cache.Lookup(provider.WithIDToken(r.Context(), idToken), tok.AccessToken)
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
	if !s.routes.allowsSomewhere(u, &s.o.Access) {
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
	if ok && s.o.EndSession != nil {
		// The issuer ends its session too and sends the browser back here, where
		// there is no session left: the signed-out page.
		back := s.o.Trust.Scheme(r) + "://" + s.ownHost(r) + s.o.Prefix + "/sign_out"
		if target := s.o.EndSession(sess.IDToken, back); target != "" {
			redirect(w, target)
			return
		}
	}
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

// redirectToLogin is redirect to the provider's login, able to survive a proxy in
// front that serves it with another status (nginx's error_page 401 =403, Traefik's
// errors middleware): browsers follow a Refresh header and show the page's link
// whatever the status, where a bare 302 would leave them on an empty page.
func redirectToLogin(w http.ResponseWriter, r *http.Request, location, service string) {
	to := escapeLocation(location)
	w.Header().Set("Location", to)
	w.Header().Set("Refresh", "0; url="+to)
	writePageLink(w, r, http.StatusFound, "Signing in", "On to "+service+"'s login.", to, "Continue")
}
