// Package app assembles hubgate from a validated Config: the provider stack, the
// stores, the forwarder and the proxy behind one handler, and the servers that run it.
package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/metrics"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

// App is one hubgate: built by New, run by Serve, released by Close.
type App struct {
	cfg     *config.Config
	log     *zap.Logger
	rdb     *redis.Client // nil without redis_url
	metrics *metrics.Metrics
	proxy   *proxy.Server
	handler http.Handler
	tls     *tls.Config        // nil: plain HTTP
	stop    context.CancelFunc // ends background work (OpenID Connect discovery retries)
}

// New builds every part cfg asks for. It opens no listener and dials nothing but an
// OpenID Connect issuer's discovery document (once; a wrong one is an error naming
// the key): the Redis client connects on first use, so a Redis that is down shows in
// Ready, as does an issuer that cannot be reached.
func New(cfg *config.Config, log *zap.Logger) (*App, error) {
	ctx, stop := context.WithCancel(context.Background())
	a := &App{cfg: cfg, log: log, metrics: metrics.New(), stop: stop}
	var err error
	if a.rdb, err = newRedis(cfg.Redis); err != nil {
		stop()
		return nil, err
	}
	if a.rdb != nil {
		// go-redis logs every failed dial on its own; hubgate already says, once a
		// minute, what Redis being down means. Its lines go to debug.
		redis.SetLogger(redisLogger{log.Named("redis")})
	}
	if a.proxy, err = a.newProxy(ctx); err != nil {
		a.Close()
		return nil, err
	}
	// No ReadTimeout on the server (see Serve): a body is bounded per pause instead.
	a.handler = proxy.BodyIdleHandler(a.proxy, cfg.BodyIdleTimeout)
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("tls_cert_file/tls_key_file: %w", err)
		}
		a.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return a, nil
}

// Handler is everything hubgate serves on its listen address.
func (a *App) Handler() http.Handler { return a.handler }

// Ready reports what /ready answers: nil when the identity provider and the session
// store can be reached.
func (a *App) Ready(ctx context.Context) error { return a.proxy.Ready(ctx) }

// Close stops background work and releases the Redis client. Serve must have returned.
func (a *App) Close() error {
	a.stop()
	if a.rdb == nil {
		return nil
	}
	return a.rdb.Close()
}

// newProxy builds the provider stack, the stores and the forwarder, and the proxy
// over them.
func (a *App) newProxy(ctx context.Context) (*proxy.Server, error) {
	cfg, log, m := a.cfg, a.log, a.metrics
	// The Hub's internal_ssl: its API wants our client certificate (JUPYTERHUB_SSL_*).
	hubTLS, err := provider.HubClientTLS(cfg.HubTLS.CAFile, cfg.HubTLS.CertFile, cfg.HubTLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("JUPYTERHUB_SSL_CERTFILE, _KEYFILE, _CLIENT_CA: %w", err)
	}
	base, oidc, err := newProvider(ctx, cfg, hubTLS, log)
	if err != nil {
		return nil, err
	}
	idp := provider.Provider(provider.Instrumented{Provider: base, Observe: m.ProviderCall})
	sessionRedis := storeRedis(cfg.SessionStore == config.SessionRedis, a.rdb) // nil: sessions live in the cookie
	browsers := browserTrust(cfg)
	sessions, err := session.NewStore(session.Options{
		Name:    cfg.CookieName,
		Path:    cfg.CookiePath,
		Domain:  cfg.CookieDomain,
		Secrets: cfg.CookieSecrets,
		Expire:  cfg.CookieExpire,
		Redis:   sessionRedis,
		Secure:  browsers.Secure,
	})
	if err != nil {
		return nil, err
	}
	routes, err := newRoutes(cfg, sessions.Owns, m, log)
	if err != nil {
		return nil, err
	}
	crossOrigin, err := a.crossOrigin()
	if err != nil {
		return nil, err
	}
	o := proxyOptions(cfg)
	o.Logger, o.Metrics, o.Trust = log, m, browsers
	// config has checked the entries; the error is still handled, never dropped.
	// Every host the session cookie reaches (cookie_domain) may be returned to too.
	returnTo := cfg.WhitelistDomains
	if cfg.CookieDomain != "" {
		returnTo = append(slices.Clone(returnTo), "."+cfg.CookieDomain)
	}
	if o.ReturnDomains, err = trust.ParseDomains(returnTo); err != nil {
		return nil, fmt.Errorf("whitelist_domains, cookie_domain: %w", err)
	}
	o.Provider, o.Sessions, o.CrossOrigin = idp, sessions, crossOrigin
	if len(cfg.Routes) > 0 {
		o.Routes = routes
	} else {
		// The one route of a configuration without routes, as hubgate always had it.
		o.Upstream, o.Headers = routes[0].Upstream, routes[0].Headers
	}
	if cfg.OIDC.Logout {
		o.EndSession = oidc.EndSessionURL
	}
	o.Cache = identity.NewCacheWith(idp, identity.CacheOptions{
		Size:         cfg.CacheSize,
		TTL:          cfg.CacheTTL,
		Timeout:      cfg.ProviderTimeout,
		StaleIfError: cfg.StaleIfError,
		MaxInFlight:  cfg.ProviderMaxInFlight,
		Observe:      m.CacheLookup,
		OnEvict:      m.Eviction,
		Redis:        storeRedis(cfg.CacheStore == config.CacheRedis, a.rdb), // nil: this process only
		Logger:       log,
		Secret:       []byte(cfg.CookieSecrets[0]),
	})
	// With Redis for either store, a refresh happens once across the replicas:
	// with session_store redis they share one session.
	o.Refresher = identity.NewRefresherWith(idp, identity.RefresherOptions{Timeout: cfg.ProviderTimeout, Redis: a.rdb, Logger: log})
	return proxy.New(o), nil
}

// crossOrigin is the cross-origin check, or nil (with a warning) when it is off.
func (a *App) crossOrigin() (*http.CrossOriginProtection, error) {
	if !a.cfg.CrossOrigin {
		a.log.Warn("cross_origin_protection is off: any page the browser opens can send POST, PUT and DELETE requests and open WebSockets with the user's session; turn it back on and list the origins that must call in under trusted_origins")
		return nil, nil
	}
	c, err := proxy.NewCrossOrigin(a.cfg.TrustedOrigins)
	if err != nil {
		return nil, fmt.Errorf("trusted_origins: %w", err)
	}
	return c, nil
}

// proxyOptions are the proxy's settings that come straight from cfg.
func proxyOptions(cfg *config.Config) proxy.Options {
	return proxy.Options{
		Access:            accessRules(cfg),
		ServicePrefix:     cfg.ServicePrefix,
		Prefix:            cfg.Prefix,
		RedirectURL:       cfg.RedirectURL,
		HubURL:            cfg.HubURL,
		HubLogout:         cfg.HubLogout,
		PassAccessToken:   cfg.PassAccessToken,
		LoginService:      cfg.LoginService,
		SkipSignInPage:    cfg.SkipSignInPage,
		AuthMode:          cfg.AuthMode,
		SkipAuthRoutes:    skipRoutes(cfg.SkipAuthRoutes),
		SkipAuthPreflight: cfg.SkipAuthPreflight,
	}
}

// newRoutes builds each app's forwarder, identity headers and rules. Forwarders to
// the same upstream share its pooled connections.
func newRoutes(cfg *config.Config, ownCookie func(string) bool, m *metrics.Metrics, log *zap.Logger) ([]*proxy.Route, error) {
	pool := upstream.NewPool()
	var out []*proxy.Route
	for _, rc := range cfg.AppRoutes() {
		// One writer of identity headers for the forwarder and the auth endpoint.
		ids, err := upstream.NewHeaders(rc.HeaderOptions())
		if err != nil {
			return nil, fmt.Errorf("upstream_headers: %w", err)
		}
		strip := ""
		if rc.StripPrefix && rc.Path != "/" {
			strip = rc.Path
		}
		forward, err := upstream.New(upstream.Options{
			Target:         rc.Upstream,
			Timeout:        rc.UpstreamTimeout,
			PassHostHeader: rc.PassHostHeader,
			OwnCookie:      ownCookie,
			Observe:        m.Upstream,
			ErrorHandler:   proxy.UpstreamError(log),
			Headers:        ids,
			StripPrefix:    strip,
			Pool:           pool,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, &proxy.Route{
			Name: rc.Name, Host: rc.Host, Path: rc.Path,
			Upstream: forward, Access: accessRules(&rc.Config), Headers: ids,
			PassAccessToken: rc.PassAccessToken, Public: rc.Public,
			SkipAuthRoutes: skipRoutes(rc.SkipAuthRoutes), SkipAuthPreflight: rc.SkipAuthPreflight,
		})
	}
	return out, nil
}

// keptScopes are the rules whose required scopes the provider stack keeps of each
// user: every route's.
func keptScopes(cfg *config.Config) access.Rules {
	var scopes []string
	for _, rc := range cfg.AppRoutes() {
		for _, sc := range rc.RequiredScopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	return access.Rules{RequiredScopes: scopes}
}

// accessRules are who may pass, for the proxy's decisions.
func accessRules(cfg *config.Config) access.Rules {
	return access.Rules{
		BlockedUsers:   cfg.BlockedUsers,
		AllowedUsers:   cfg.AllowedUsers,
		AllowedGroups:  cfg.AllowedGroups,
		AdminUsers:     cfg.AdminUsers,
		RequiredScopes: cfg.RequiredScopes,
	}
}

// browserTrust is what hubgate believes about how browsers reach it. The public scheme
// is the Hub's JUPYTERHUB_PUBLIC_URL's, or https when redirect_url is: browsers come
// back there.
func browserTrust(cfg *config.Config) trust.Policy {
	public := cfg.PublicScheme
	if u, err := url.Parse(cfg.RedirectURL); public == "" && err == nil && u.Scheme == "https" {
		public = "https"
	}
	return trust.Policy{Proxies: trust.NewProxies(cfg.TrustedProxies), PublicScheme: public, InternalTLS: cfg.InternalTLS}
}

func skipRoutes(routes []config.SkipRoute) []proxy.SkipRoute {
	out := make([]proxy.SkipRoute, len(routes))
	for i, r := range routes {
		out[i] = proxy.SkipRoute{Method: r.Method, Path: r.Path}
	}
	return out
}
