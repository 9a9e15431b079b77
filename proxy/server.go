// Package proxy is hubgate's HTTP surface: it routes hubgate's own endpoints, decides
// whether each request is authenticated and allowed, and passes allowed ones upstream.
package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/metrics"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

// Options are the parts a Server is built from; main wires them from the Config.
type Options struct {
	Logger    *zap.Logger
	Provider  provider.Provider
	Cache     *identity.Cache
	Sessions  *session.Store
	Refresher *identity.Refresher
	// Routes are the apps served, each with its upstream and rules. Without them
	// there is one, serving ServicePrefix: Upstream, Access, PassAccessToken,
	// Headers, SkipAuthRoutes and SkipAuthPreflight.
	Routes   []*Route
	Upstream http.Handler
	// Access is who may pass: the one route's rules without Routes, else the rules
	// of <prefix>/userinfo and of a login whose return address is no route's.
	Access access.Rules

	ServicePrefix string // "/" or "/services/NAME/"
	Prefix        string // hubgate's endpoints, e.g. /oauth2
	RedirectURL   string // the OAuth callback; its path is served as the callback too
	HubURL        string // for the optional Hub logout
	HubLogout     bool
	// EndSession, when set, is where sign-out sends the browser to end the session
	// at the identity provider too (OpenID Connect RP-initiated logout): given the
	// session's ID token and the address to come back to, "" when there is none.
	EndSession      func(idToken, postLogoutRedirect string) string
	PassAccessToken bool
	// Headers writes the auth endpoint's identity headers; the forwarder in Upstream
	// must be built with the same. nil is upstream.DefaultHeaders.
	Headers        *upstream.Headers
	LoginService   string // the provider's name on the sign-in page
	SkipSignInPage bool   // browsers go straight to the provider
	// ReturnDomains are the hosts besides our own that a login may return to
	// (whitelist_domains).
	ReturnDomains trust.Domains
	// AuthMode is what <prefix>/auth answers a browser that is not logged in.
	AuthMode config.AuthMode
	// Trust is what is believed about the browser's request: which peers'
	// X-Forwarded-* count, and whether it came over https. The session store's
	// cookies ask the same Policy.
	Trust trust.Policy
	// SkipAuthRoutes pass without a login (and without identity headers);
	// SkipAuthPreflight lets CORS preflight requests through.
	SkipAuthRoutes    []SkipRoute
	SkipAuthPreflight bool
	// CrossOrigin refuses unsafe requests and WebSocket handshakes that pages of
	// other origins send with the session cookie; nil checks nothing.
	CrossOrigin *http.CrossOriginProtection
	// Metrics counts requests and decisions; nil counts nothing.
	Metrics *metrics.Metrics
}

// Server is the http.Handler in front of the upstream.
type Server struct {
	o            Options
	log          *zap.Logger
	access       *zap.Logger // the access log: one line per request
	accessFields sync.Pool   // *[7]zap.Field for its lines
	callbackPath string
	storeLogged  atomic.Int64 // unix seconds: the last session store failure logged
	routes       *routes
	// named: Options.Routes were given, so <prefix>/auth must be told, or shown,
	// which route it answers for; with the one implicit route it always knows.
	named bool
	only  *Route // the one route, when !named
	// callbackHost is redirect_url's host (requestHost's form), "" for a path.
	callbackHost string
}

// New returns a Server.
func New(o Options) *Server {
	if o.AuthMode == "" {
		o.AuthMode = config.AuthRequest
	}
	if o.Headers == nil {
		o.Headers = upstream.DefaultHeaders()
	}
	s := &Server{o: o, log: o.Logger, callbackPath: o.Prefix + "/callback", named: len(o.Routes) > 0}
	list := o.Routes
	if !s.named {
		list = []*Route{{
			Path:     strings.TrimSuffix(o.ServicePrefix, "/"),
			Upstream: o.Upstream, Access: o.Access, Headers: o.Headers, PassAccessToken: o.PassAccessToken,
			SkipAuthRoutes: o.SkipAuthRoutes, SkipAuthPreflight: o.SkipAuthPreflight,
		}}
		if list[0].Path == "" {
			list[0].Path = "/"
		}
	}
	for _, r := range list {
		if r.Headers == nil {
			r.Headers = o.Headers
		}
	}
	s.routes = newRoutes(list)
	if !s.named {
		s.only = list[0]
	}
	// The access line's caller is always ServeHTTP: finding it again per request
	// costs a runtime.Caller and an allocation for nothing.
	s.access = o.Logger.WithOptions(zap.WithCaller(false))
	if u, err := url.Parse(o.RedirectURL); err == nil && u.Path != "" {
		s.callbackPath = u.Path
		s.callbackHost = requestHost(u.Host)
	}
	return s
}

// request is what one request's access log line and metrics say.
type request struct {
	route string // the route class, for metrics
	name  string // the app's route, "" for hubgate's own endpoints
	user  string
	// cache is "hit" or "miss" once the request needed an identity lookup.
	cache string
}

// ServeHTTP routes a request and logs one line for it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	info := &request{}
	s.route(rec, r, info)
	d := time.Since(start)
	s.o.Metrics.Request(info.route, info.name, rec.status, d)
	if ce := s.access.Check(zap.InfoLevel, "request"); ce != nil {
		// The fields escape into the core: from a pool, they are not 384 bytes of
		// garbage per request. The encoder is done with them when Write returns.
		f, _ := s.accessFields.Get().(*[7]zap.Field)
		if f == nil {
			f = new([7]zap.Field)
		}
		f[0] = zap.String("method", r.Method)
		f[1] = zap.String("path", r.URL.Path) // never the query: it may carry codes or tokens
		f[2] = zap.Int("status", rec.status)
		f[3] = zap.Duration("duration", d)
		f[4] = zap.String("user", info.user)
		f[5] = zap.String("cache", info.cache)
		f[6] = zap.Skip() // without routes, or at hubgate's own endpoints: nothing to say
		if info.name != "" {
			f[6] = zap.String("route", info.name)
		}
		ce.Write(f[:]...)
		*f = [7]zap.Field{} // drop the strings before the array waits in the pool
		s.accessFields.Put(f)
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, info *request) {
	p := r.URL.Path
	switch {
	case refusedMethod(r.Method):
		info.route = "method"
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		writePage(w, r, http.StatusMethodNotAllowed, "Method not allowed", r.Method+" is not served here.")
	case p == "/ping":
		info.route = "health"
		s.ping(w, r)
	case p == "/ready":
		info.route = "health"
		s.ready(w, r)
	case p == s.o.Prefix+"/auth":
		info.route = "auth"
		s.authRequest(w, r, info)
	case strings.HasPrefix(p, s.o.Prefix+"/auth?"):
		// nginx's auth_request /oauth2/auth?route=NAME sends the "?" escaped, as
		// part of the path: it is the auth endpoint with that query.
		info.route = "auth"
		s.authRequest(w, withEscapedQuery(r), info)
	case p == s.callbackPath || p == s.o.Prefix+"/callback":
		info.route = "login"
		s.callback(w, r, info)
	case p == s.o.Prefix+"/start":
		info.route = "login"
		s.start(w, r)
	case p == s.o.Prefix+"/sign_in":
		info.route = "login"
		s.signIn(w, r)
	case p == s.o.Prefix+"/sign_out":
		info.route = "sign_out"
		s.signOut(w, r)
	case p == s.o.Prefix+"/userinfo":
		info.route = "userinfo"
		s.userinfo(w, r, info)
	case p == s.o.Prefix || strings.HasPrefix(p, s.o.Prefix+"/"):
		// hubgate's own path: never an app's, whatever route / would say.
		info.route = "not_found"
		writePage(w, r, http.StatusNotFound, "Not found", "hubgate has no such endpoint.")
	default:
		s.app(w, r, info)
	}
}

// app serves a request for one of the apps: its route's, or 404 when it has none.
func (s *Server) app(w http.ResponseWriter, r *http.Request, info *request) {
	rt, ok := s.routes.find(s.routeHost(r), r.URL)
	switch {
	case !ok:
		info.route = "not_found"
		writePage(w, r, http.StatusBadRequest, "Bad request", "The path reads as more than one place; send it without dot segments or encoded slashes.")
	case rt == nil:
		info.route = "not_found"
		writePage(w, r, http.StatusNotFound, "Not found", s.notFoundHint())
	case rt.Public || rt.skipsAuth(r):
		info.route, info.name = "skipped", rt.Name
		hop := &upstream.Hop{TrustedPeer: s.o.Trust.Proxies.Contains(r.RemoteAddr)}
		rt.Upstream.ServeHTTP(w, r.WithContext(upstream.WithHop(r.Context(), hop)))
	default:
		info.route, info.name = "protected", rt.Name
		s.protected(w, r, info, rt)
	}
}

func (s *Server) notFoundHint() string {
	if s.named {
		return "No app is served at this address."
	}
	return "hubgate serves " + s.o.ServicePrefix + " only."
}

// withEscapedQuery is r with a path "<p>?<q>" read as path p and query q, which
// nginx's auth_request sends escaped ("%3F"): the query stays as it was written.
func withEscapedQuery(r *http.Request) *http.Request {
	escaped := r.URL.EscapedPath()
	i := strings.Index(strings.ToUpper(escaped), "%3F")
	if i < 0 {
		return r
	}
	u := *r.URL
	u.Path, _, _ = strings.Cut(u.Path, "?")
	u.RawPath = ""
	u.RawQuery = escaped[i+3:]
	if r.URL.RawQuery != "" {
		u.RawQuery += "&" + r.URL.RawQuery
	}
	r2 := r.WithContext(r.Context()) // a shallow copy
	r2.URL = &u
	return r2
}

// refusedMethod: CONNECT would turn hubgate into a tunnel and TRACE echoes the
// request (cookies included) back; neither ever reaches the upstream. Some servers
// read methods without regard to case, so neither does this.
func refusedMethod(m string) bool {
	return strings.EqualFold(m, http.MethodConnect) || strings.EqualFold(m, http.MethodTrace) || strings.EqualFold(m, "TRACK")
}

func (s *Server) ping(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK\n"))
}

// Ready reports what /ready answers: whether the identity provider and the session
// store (Redis, when sessions live there) can be reached.
func (s *Server) Ready(ctx context.Context) error {
	if err := s.o.Provider.Ready(ctx); err != nil {
		return &notReady{err, "identity provider unreachable", "The identity provider cannot be reached."}
	}
	if err := s.o.Sessions.Ready(ctx); err != nil {
		return &notReady{err, "session store unreachable; check that Redis (redis_url) is up", "The session store cannot be reached."}
	}
	return nil
}

// notReady is a failed readiness check, worded for the log and for the page.
type notReady struct {
	err       error
	log, page string
}

func (e *notReady) Error() string { return e.log + ": " + e.err.Error() }
func (e *notReady) Unwrap() error { return e.err }

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	var nr *notReady
	if err := s.Ready(r.Context()); errors.As(err, &nr) {
		s.log.Warn("not ready: "+nr.log, zap.Error(nr.err))
		writePage(w, r, http.StatusServiceUnavailable, "Not ready", nr.page)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK\n"))
}

// storeFailed logs a session store failure at most once a minute: while Redis is
// down every request with a session fails alike, and the access log counts them.
func (s *Server) storeFailed(err error) {
	now, last := time.Now().Unix(), s.storeLogged.Load()
	if now-last < 60 || !s.storeLogged.CompareAndSwap(last, now) {
		return
	}
	s.log.Error("session store unavailable: requests with a session get 503 until Redis (redis_url) answers again", zap.Error(err))
}

// statusRecorder remembers the status for the access log. Unwrap lets
// http.ResponseController reach Flush and Hijack (streaming, websockets).
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.status, w.wrote = code, true
	} else if code == http.StatusSwitchingProtocols {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack is the WebSocket upgrade: httputil.ReverseProxy writes its 101 on the
// taken-over connection, past WriteHeader, so the status is noted here.
func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.status, w.wrote = http.StatusSwitchingProtocols, true
	}
	return c, rw, err
}
