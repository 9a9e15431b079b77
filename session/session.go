// Package session keeps hubgate's browser state: the session (the user's access
// token) and the short-lived login state (OAuth state, PKCE), in signed, encrypted
// cookies. With Redis the session itself lives server-side and its cookie holds only
// a ticket to it. Store keeps what both share; where the session itself is kept is
// a backend, chosen once in NewStore: cookie.go or redis.go. The login state stays a
// cookie either way.
package session

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/internal/seal"
)

// LoginMaxAge bounds how long a browser may take at the provider's login page.
const LoginMaxAge = 10 * time.Minute

// Session is what the session cookie holds: the token, not the user record, so a
// user's groups and access are looked up (and re-checked) rather than frozen in.
type Session struct {
	AccessToken  string `json:"t"`
	Expires      int64  `json:"e"`           // unix seconds: the session ends
	RefreshToken string `json:"r,omitempty"` // providers that issue one (DOT)
	TokenExpiry  int64  `json:"x,omitempty"` // unix seconds: the access token needs refreshing
	// IDToken is the OpenID Connect ID token of the login (or the latest refresh): its
	// verified claims complete userinfo, and sign-out hands it to the issuer.
	IDToken string `json:"i,omitempty"`

	// ticket is the server-side session this one was loaded from (Redis only), so
	// that saving it after a refresh rewrites that entry rather than starting another.
	ticket *ticket
}

// NeedsRefresh reports whether the access token has expired (or is about to) and a
// refresh token can replace it.
func (s Session) NeedsRefresh(now time.Time) bool {
	return s.RefreshToken != "" && s.TokenExpiry != 0 && now.Unix() >= s.TokenExpiry-refreshEarly
}

// refreshEarly refreshes a little before expiry, so a token doesn't die in flight.
const refreshEarly = 5

// Login is the state of one login in progress, kept in its own cookie until the callback.
type Login struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Redirect string `json:"r"` // where to go afterwards, already validated
	// Started is when the login began, in unix nanoseconds, so that SaveLogin can
	// drop a browser's oldest logins: securecookie's own timestamp is whole seconds,
	// and a page can start many logins in one second. Logins saved before this field
	// existed read as 0, the oldest.
	Started int64 `json:"c"`
}

// Options configures a Store.
type Options struct {
	Name string // session cookie name; login cookies add a suffix
	Path string // cookie path (the service prefix)
	// Domain, when set, is a parent domain every cookie is for (cookie_domain): one
	// login for apps on several of its hosts. "" keeps cookies to the host.
	Domain  string
	Secrets []string      // first encodes, all decode
	Expire  time.Duration // longest session
	// Redis keeps sessions server-side, so that signing out ends them everywhere;
	// nil keeps them in the cookie.
	Redis *redis.Client
	// Secure reports whether the browser reached us over https, which makes every
	// cookie Secure; nil: never.
	Secure func(*http.Request) bool
}

// Store reads and writes hubgate's sessions (in cookies, or in Redis) and login state.
// What both stores share lives here: the cookies' names and attributes, the login
// state and the session's lifetime. Where the session itself is kept is the backend,
// chosen once in NewStore.
type Store struct {
	name, path string
	domain     string
	secure     func(*http.Request) bool
	expire     time.Duration
	login      []securecookie.Codec
	backend    backend
}

// backend keeps the session itself, given the session cookie's value: in the cookie
// (cookieBackend, cookie.go) or in Redis, the cookie holding a ticket to it
// (redisBackend, redis.go).
type backend interface {
	// load returns the session the cookie value names. A value that does not decode
	// is no session; the error is for a store that cannot answer (ErrUnavailable).
	load(ctx context.Context, value string) (Session, bool, error)
	// save stores sess and returns the session cookie's new value and lifetime
	// (negative: expire the cookie).
	save(ctx context.Context, sess Session) (value string, maxAge time.Duration, err error)
	// revoke ends the server-side session the cookie value names, if there is one.
	revoke(ctx context.Context, value string) error
	// ready reports whether the store can answer.
	ready(ctx context.Context) error
}

// NewStore derives an HMAC-SHA256 key and an AES-256 key from each secret. Keeping a
// list lets operators rotate secrets: put the new one first and old cookies still work.
func NewStore(o Options) (*Store, error) {
	if len(o.Secrets) == 0 {
		return nil, errors.New("session: no cookie secret")
	}
	s := &Store{name: o.Name, path: o.Path, domain: o.Domain, expire: o.Expire, secure: o.Secure}
	if s.secure == nil {
		s.secure = func(*http.Request) bool { return false }
	}
	var sessions, tickets []securecookie.Codec
	for _, secret := range o.Secrets {
		key := func(purpose string) []byte { return seal.DeriveKey([]byte(secret), nil, purpose) }
		hashKey, blockKey := key("hubgate cookie hmac"), key("hubgate cookie aes")
		sessions = append(sessions, codec(hashKey, blockKey, o.Expire))
		s.login = append(s.login, codec(hashKey, blockKey, LoginMaxAge))
		// Tickets get keys of their own, so a cookie from one store is never read by
		// the other when an operator switches session_store: it is simply no session.
		tickets = append(tickets, codec(key("hubgate ticket hmac"), key("hubgate ticket aes"), o.Expire))
	}
	if o.Redis != nil {
		s.backend = &redisBackend{name: o.Name, expire: o.Expire, rdb: o.Redis, codecs: tickets}
	} else {
		s.backend = &cookieBackend{name: o.Name, expire: o.Expire, codecs: sessions}
	}
	return s, nil
}

func codec(hashKey, blockKey []byte, maxAge time.Duration) securecookie.Codec {
	c := securecookie.New(hashKey, blockKey)
	c.SetSerializer(securecookie.JSONEncoder{})
	c.MaxAge(int(maxAge / time.Second))
	return c
}

// Owns reports whether a cookie name is one of hubgate's, so it can be kept from the upstream.
func (s *Store) Owns(name string) bool {
	return name == s.name || strings.HasPrefix(name, s.name+"_")
}

// ErrUnavailable means the session store (Redis) did not answer: whether the
// request has a session is unknown, which is not the same as having none.
var ErrUnavailable = errors.New("session store unavailable")

// ErrEnded means a session was ended (signed out, expired) while a request still
// held it, so saving it would bring it back.
var ErrEnded = errors.New("session: ended meanwhile")

// Load returns the request's session. Any cookie that fails to decode, or has
// expired, is simply no session: the user logs in again, never a 500. The error is
// for a store that cannot answer (ErrUnavailable), never for a bad cookie.
func (s *Store) Load(r *http.Request) (Session, bool, error) {
	value, ok := cookieValue(r, s.name)
	if !ok {
		return Session{}, false, nil // nor a Redis call
	}
	return s.backend.load(r.Context(), value)
}

// Start makes a session for a fresh token. The session ends with the token or after
// the configured expiry, whichever is first.
func (s *Store) Start(tok *oauth2.Token) Session {
	return s.Continue(Session{Expires: time.Now().Add(s.expire).Unix()}, tok)
}

// Continue updates a session with refreshed tokens, keeping its end (and, with
// Redis, its ticket, so Save rewrites it in place). Without a refresh token the
// session cannot outlive its access token.
func (s *Store) Continue(prev Session, tok *oauth2.Token) Session {
	sess := Session{AccessToken: tok.AccessToken, Expires: prev.Expires, RefreshToken: tok.RefreshToken, IDToken: prev.IDToken, ticket: prev.ticket}
	if id, _ := tok.Extra("id_token").(string); id != "" {
		sess.IDToken = id
	}
	if !tok.Expiry.IsZero() {
		if sess.RefreshToken != "" {
			sess.TokenExpiry = tok.Expiry.Unix()
		} else if tok.Expiry.Unix() < sess.Expires {
			sess.Expires = tok.Expiry.Unix()
		}
	}
	return sess
}

// Save writes the session cookie and, with Redis, the session itself: a session from
// Start gets a new ticket, one from Load or Continue rewrites its entry (ErrEnded if
// that was deleted meanwhile). A session already over expires the cookie (and, with
// Redis, deletes the entry).
func (s *Store) Save(ctx context.Context, w http.ResponseWriter, r *http.Request, sess Session) error {
	secure := s.secure(r)
	value, maxAge, err := s.backend.save(ctx, sess)
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(s.name, value, maxAge, secure))
	return nil
}

// Clear ends the request's session: with Redis it deletes the server-side session,
// so every copy of the cookie dies with it, then the cookie. When Redis does not
// answer the cookie is kept and the error says so, so that signing out can be tried
// again rather than seeming to work.
func (s *Store) Clear(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if err := s.Revoke(ctx, r); err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(s.name, "", -1, s.secure(r)))
	return nil
}

// Revoke deletes the server-side session the request's cookie names, if any, and
// leaves the cookie alone. A login calls it before saving the new session, so a
// session planted in the browser beforehand (fixation) or left over ends there.
// Without Redis there is nothing to delete.
func (s *Store) Revoke(ctx context.Context, r *http.Request) error {
	value, ok := cookieValue(r, s.name)
	if !ok {
		return nil
	}
	return s.backend.revoke(ctx, value)
}

// Ready reports whether the store can answer: a PING with Redis, always with cookies.
func (s *Store) Ready(ctx context.Context) error { return s.backend.ready(ctx) }

// NewLogin makes fresh login state: a 256-bit state and a PKCE verifier.
func NewLogin(redirect string) Login {
	return Login{State: rand.Text() + rand.Text(), Verifier: oauth2.GenerateVerifier(), Redirect: redirect, Started: time.Now().UnixNano()}
}

// maxPendingLogins bounds the logins one browser has in progress. Every login has
// its own cookie, so that logins in parallel tabs don't collide, and a page that
// forces many navigations would otherwise grow the Cookie header past a proxy's
// limit (nginx's 8 KB buffer). Three keep a few tabs' logins working while the
// header stays at about three login cookies.
const maxPendingLogins = 3

// loginCookieName gives each login its own cookie, so logins started in parallel tabs
// don't overwrite each other's state.
func (s *Store) loginCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return s.loginPrefix() + hex.EncodeToString(sum[:8])
}

func (s *Store) loginPrefix() string { return s.name + "_login_" }

// isLoginCookie reports whether name is exactly one of this store's login cookie
// names: the prefix and 16 hex digits, as loginCookieName makes them. Nothing else
// (the session cookie, other apps' cookies) is ever expired in its place.
func (s *Store) isLoginCookie(name string) bool {
	suffix, ok := strings.CutPrefix(name, s.loginPrefix())
	return ok && len(suffix) == 16 && strings.Trim(suffix, "0123456789abcdef") == ""
}

// SaveLogin writes the login state cookie. When r already carries maxPendingLogins
// or more logins, it expires the oldest, so that the new one makes maxPendingLogins:
// first those that no longer decode (tampered, another secret, expired), then by
// Login.Started, ties in the order the browser sent them (older cookies first).
func (s *Store) SaveLogin(w http.ResponseWriter, r *http.Request, l Login) error {
	secure := s.secure(r)
	name := s.loginCookieName(l.State)
	value, err := securecookie.EncodeMulti(name, l, s.login...)
	if err != nil {
		return fmt.Errorf("session: encode login: %w", err)
	}
	for _, old := range s.oldestLogins(r, name, maxPendingLogins-1) {
		http.SetCookie(w, s.cookie(old, "", -1, secure))
	}
	http.SetCookie(w, s.cookie(name, value, LoginMaxAge, secure))
	return nil
}

// oldestLogins returns the names of r's login cookies beyond the newest keep, other
// than the one named except (about to be overwritten).
func (s *Store) oldestLogins(r *http.Request, except string, keep int) []string {
	type pending struct {
		name    string
		valid   bool
		started int64
	}
	var logins []pending
	seen := map[string]bool{except: true}
	for _, c := range r.Cookies() {
		if seen[c.Name] || !s.isLoginCookie(c.Name) {
			continue
		}
		seen[c.Name] = true
		p := pending{name: c.Name}
		var l Login
		if securecookie.DecodeMulti(c.Name, c.Value, &l, s.login...) == nil {
			p.valid, p.started = true, l.Started
		}
		logins = append(logins, p)
	}
	if len(logins) <= keep {
		return nil
	}
	// Stable: equal times keep the browser's order.
	slices.SortStableFunc(logins, func(a, b pending) int {
		if a.valid != b.valid {
			if !a.valid {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.started, b.started)
	})
	names := make([]string, len(logins)-keep)
	for i := range names {
		names[i] = logins[i].name
	}
	return names
}

// ErrNoLogin means the callback's state matches no login this browser started: it
// expired, was already used, was dropped for newer logins (SaveLogin), or the
// callback came from elsewhere (CSRF).
var ErrNoLogin = errors.New("no login in progress matches this callback")

// TakeLogin finds the login for state, checks it exactly, and deletes its cookie so it
// can be used once only.
func (s *Store) TakeLogin(w http.ResponseWriter, r *http.Request, state string) (Login, error) {
	name := s.loginCookieName(state)
	c, err := r.Cookie(name)
	if err != nil {
		return Login{}, ErrNoLogin
	}
	http.SetCookie(w, s.cookie(name, "", -1, s.secure(r)))
	var l Login
	if err := securecookie.DecodeMulti(name, c.Value, &l, s.login...); err != nil {
		return Login{}, ErrNoLogin
	}
	if subtle.ConstantTimeCompare([]byte(l.State), []byte(state)) != 1 {
		return Login{}, ErrNoLogin
	}
	return l, nil
}

func (s *Store) cookie(name, value string, maxAge time.Duration, secure bool) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     s.path,
		Domain:   s.domain,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
		if c.MaxAge == 0 {
			c.MaxAge = 1
		}
	}
	return c
}
