// Command hubgate puts a JupyterHub login in front of any web service.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/logsink"
	"github.com/hubgate/hubgate/memlimit"
	"github.com/hubgate/hubgate/metrics"
	"github.com/hubgate/hubgate/oauth2proxy"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "hubgate:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	appFlags, serveFlags, checkFlags, healthFlags := config.Flags(), config.Flags(), config.Flags(), config.Flags()
	return &cli.App{
		Name:    "hubgate",
		Usage:   "put a JupyterHub login in front of any web service",
		Version: version,
		Flags:   appFlags,
		Before:  config.LoadFile(appFlags),
		Action:  serve,
		Commands: []*cli.Command{
			{Name: "serve", Usage: "run the proxy (the default)", Flags: serveFlags, Before: config.LoadFile(serveFlags), Action: serve},
			{Name: "check-config", Usage: "validate the configuration and exit", Flags: checkFlags, Before: config.LoadFile(checkFlags), Action: checkConfig},
			{Name: "healthcheck", Usage: "probe a running hubgate's /ping; exit 0 if it answers", Flags: healthFlags, Before: config.LoadFile(healthFlags), Action: healthcheck},
			{Name: "secret", Usage: "print a fresh random cookie secret", Action: printSecret},
			{
				Name:            "import-oauth2-proxy",
				Usage:           "print the hubgate YAML for an oauth2-proxy configuration: its flags, --config file and OAUTH2_PROXY_* environment",
				ArgsUsage:       "[--config oauth2-proxy.cfg] [oauth2-proxy flags]",
				SkipFlagParsing: true, // the flags are oauth2-proxy's
				Action:          importOAuth2Proxy,
			},
			{Name: "version", Usage: "print the version", Action: func(*cli.Context) error { fmt.Println(version); return nil }},
		},
	}
}

func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func checkConfig(c *cli.Context) error {
	cfg, err := config.FromCLI(c, environ())
	if err != nil {
		return err
	}
	mode := "standalone"
	if cfg.Managed {
		mode = "JupyterHub-managed service"
	}
	fmt.Printf("configuration OK (%s): provider %s, listen %s, upstream %s, endpoints under %s\n",
		mode, cfg.Provider, cfg.Listen, cfg.Upstream, cfg.Prefix)
	return nil
}

// importOAuth2Proxy writes the YAML to stdout and, on stderr, each option it did
// not carry over with the reason.
func importOAuth2Proxy(c *cli.Context) error {
	src, err := oauth2proxy.Load(c.Args().Slice(), environ(), os.ReadFile)
	if err != nil {
		return err
	}
	t, err := oauth2proxy.Translate(src, os.ReadFile)
	if err != nil {
		return fmt.Errorf("cannot import this configuration safely:\n%w", err)
	}
	from := "flags and environment"
	if src.File != "" {
		from = src.File + ", " + from
	}
	out, err := t.YAML(from)
	if err != nil {
		return err
	}
	for _, name := range src.Ignored {
		fmt.Fprintf(c.App.ErrWriter, "ignored: %s names no oauth2-proxy option\n", name)
	}
	for _, n := range t.Notes {
		fmt.Fprintln(c.App.ErrWriter, "note: "+n)
	}
	_, err = c.App.Writer.Write(out)
	return err
}

func printSecret(*cli.Context) error {
	b := make([]byte, 32)
	rand.Read(b)
	fmt.Println(base64.RawURLEncoding.EncodeToString(b))
	return nil
}

// newLogger builds the logger; stop flushes what it buffered and ends its writer.
func newLogger(format, level string) (log *zap.Logger, stop func(), err error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, nil, err
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil // every request gets its access line
	cfg.DisableStacktrace = true
	// One write(2) per access line costs more than the rest of a cached /auth
	// decision; a buffer written from its own goroutine every 100 ms does not.
	sink := logsink.New(os.Stderr, 64<<10, 100*time.Millisecond)
	log, err = cfg.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewCore(newEncoder(format), sink, cfg.Level)
	}))
	if err != nil {
		sink.Stop()
		return nil, nil, err
	}
	return log, func() { log.Sync(); sink.Stop() }, nil
}

func newEncoder(format string) zapcore.Encoder {
	if format == "console" {
		return zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	}
	return zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
}

// publicScheme is how every browser reaches hubgate, when the configuration says so:
// the Hub's JUPYTERHUB_PUBLIC_URL, or an https redirect_url (browsers come back
// there, so they use https). "" lets each request say.
func publicScheme(cfg *config.Config) string {
	if cfg.PublicScheme != "" {
		return cfg.PublicScheme
	}
	if u, err := url.Parse(cfg.RedirectURL); err == nil && u.Scheme == "https" {
		return "https"
	}
	return ""
}

// newProvider builds the configured identity provider, with the username rules that
// apply to all of them.
func newProvider(cfg *config.Config, hubTLS *tls.Config) provider.Provider {
	var p provider.Provider
	if cfg.Provider == "jupyterhub" {
		p = provider.NewJupyterHub(provider.JupyterHubOptions{
			HubURL:       cfg.HubURL,
			APIURL:       cfg.HubAPIURL,
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Timeout:      cfg.ProviderTimeout,
			TLS:          hubTLS,
		})
	} else {
		o := cfg.OAuth
		opts := provider.GenericOptions{
			AuthorizeURL:         o.AuthorizeURL,
			TokenURL:             o.TokenURL,
			UserdataURL:          o.UserdataURL,
			UserdataMethod:       o.UserdataMethod,
			UserdataParams:       o.UserdataParams,
			UserdataTokenMethod:  o.UserdataTokenMethod,
			IntrospectURL:        o.IntrospectURL,
			UsernameKey:          o.UsernameKey,
			GroupsKey:            o.GroupsKey,
			EmailKey:             o.EmailKey,
			AdminKey:             o.AdminKey,
			Scopes:               o.Scopes,
			TokenParams:          o.TokenParams,
			ExtraAuthorizeParams: o.ExtraAuthorizeParams,
			ClientAuth:           o.ClientAuth,
			ClientID:             cfg.ClientID,
			ClientSecret:         cfg.ClientSecret,
			RedirectURL:          cfg.RedirectURL,
			Timeout:              cfg.ProviderTimeout,
		}
		switch cfg.Provider {
		case "github":
			p = provider.NewGitHub(opts, cfg.AllowedOrgs)
		case "google":
			p = provider.NewGoogle(opts, cfg.HostedDomains)
		default: // django, generic
			p = provider.NewGeneric(opts)
		}
	}
	names := provider.Usernames{LocalPart: cfg.UsernameLocal, Lowercase: cfg.UsernameLower, Map: cfg.UsernameMap}
	if names.LocalPart || names.Lowercase || len(names.Map) > 0 {
		p = provider.Renamed{Provider: p, Names: names}
	}
	return provider.Scoped{Provider: p, Required: cfg.RequiredScopes}
}

func skipRoutes(routes []config.Route) []proxy.SkipRoute {
	out := make([]proxy.SkipRoute, len(routes))
	for i, r := range routes {
		out[i] = proxy.SkipRoute{Method: r.Method, Path: r.Path}
	}
	return out
}

// listen opens host:port, or unix:/path (replacing a socket left by a previous run).
func listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return net.Listen("tcp", addr)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// Reachable by the owner and its group (a web server in front), not everyone.
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// healthcheck probes /ping on the configured listen address: a container image has no
// curl, so HEALTHCHECK runs hubgate itself.
func healthcheck(c *cli.Context) error {
	addr := c.String("listen")
	scheme := "http"
	if c.String("tls-cert-file") != "" {
		scheme = "https"
	}
	transport := &http.Transport{
		// The probe talks to this very process; the certificate is for its public name.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}
	host := addr
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
		host = "hubgate"
	} else if h, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			host = net.JoinHostPort("127.0.0.1", port)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	resp, err := client.Get(scheme + "://" + host + "/ping")
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /ping answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// redisLogger puts go-redis's own messages into hubgate's log, at debug level.
type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

// newRedis connects to the Redis the stores share, or returns nil when none uses it.
// Timeouts are short unless redis_url sets its own (dial_timeout=, read_timeout=...):
// a Redis that does not answer must turn into a quick 503 or a fallback, not a hang.
func newRedis(r config.Redis) (*redis.Client, error) {
	if r.URL == "" {
		return nil, nil
	}
	o, err := redis.ParseURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("redis_url: %w", err)
	}
	q := map[string]bool{}
	if u, err := url.Parse(r.URL); err == nil {
		for k := range u.Query() {
			q[k] = true
		}
	}
	if !q["dial_timeout"] {
		o.DialTimeout = time.Second
	}
	if !q["read_timeout"] {
		o.ReadTimeout = time.Second
	}
	if !q["write_timeout"] {
		o.WriteTimeout = time.Second
	}
	if !q["max_retries"] {
		o.MaxRetries = 1
	}
	// go-redis otherwise dials 5 times, 100 ms apart, per attempt: a Redis that
	// refuses connections would cost every request ~0.8 s instead of a quick 503.
	o.DialerRetries = 1
	if len(r.SentinelAddrs) == 0 {
		return redis.NewClient(o), nil
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    r.SentinelMaster,
		SentinelAddrs: r.SentinelAddrs,
		Username:      o.Username,
		Password:      o.Password,
		DB:            o.DB,
		TLSConfig:     o.TLSConfig,
		DialTimeout:   o.DialTimeout,
		ReadTimeout:   o.ReadTimeout,
		WriteTimeout:  o.WriteTimeout,
		MaxRetries:    o.MaxRetries,
		DialerRetries: o.DialerRetries,
	}), nil
}

func serve(c *cli.Context) error {
	cfg, err := config.FromCLI(c, environ())
	if err != nil {
		return err
	}
	log, stopLog, err := newLogger(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	defer stopLog()

	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
		// go-redis logs every failed dial on its own; hubgate already says, once a
		// minute, what Redis being down means. Its lines go to debug.
		redis.SetLogger(redisLogger{log.Named("redis")})
	}

	// The Hub's internal_ssl: its API wants our client certificate (JUPYTERHUB_SSL_*).
	hubTLS, err := provider.HubClientTLS(cfg.HubTLS.CAFile, cfg.HubTLS.CertFile, cfg.HubTLS.KeyFile)
	if err != nil {
		return fmt.Errorf("JUPYTERHUB_SSL_CERTFILE, _KEYFILE, _CLIENT_CA: %w", err)
	}
	m := metrics.New()
	idp := provider.Provider(provider.Instrumented{Provider: newProvider(cfg, hubTLS), Observe: m.ProviderCall})
	var sessionRedis *redis.Client // nil: sessions live in the cookie
	if cfg.SessionStore == "redis" {
		sessionRedis = rdb
	}
	browsers := trust.Policy{
		Proxies:      trust.NewProxies(cfg.TrustedProxies),
		PublicScheme: publicScheme(cfg),
		InternalTLS:  cfg.InternalTLS,
	}
	sessions, err := session.NewStore(session.Options{
		Name:    cfg.CookieName,
		Path:    cfg.CookiePath,
		Secrets: cfg.CookieSecrets,
		Expire:  cfg.CookieExpire,
		Redis:   sessionRedis,
		Secure:  browsers.Secure,
	})
	if err != nil {
		return err
	}
	forward, err := upstream.New(upstream.Options{
		Target:         cfg.Upstream,
		Timeout:        cfg.UpstreamTimeout,
		PassHostHeader: cfg.PassHostHeader,
		OwnCookie:      sessions.Owns,
		Observe:        m.Upstream,
		ErrorHandler:   proxy.UpstreamError(log),
	})
	if err != nil {
		return err
	}
	var crossOrigin *http.CrossOriginProtection
	if cfg.CrossOrigin {
		if crossOrigin, err = proxy.NewCrossOrigin(cfg.TrustedOrigins); err != nil {
			return fmt.Errorf("trusted_origins: %w", err)
		}
	} else {
		log.Warn("cross_origin_protection is off: any page the browser opens can send POST, PUT and DELETE requests and open WebSockets with the user's session; turn it back on and list the origins that must call in under trusted_origins")
	}
	handler := proxy.New(proxy.Options{
		Logger:   log,
		Provider: idp,
		Cache: provider.NewCacheWith(idp, provider.CacheOptions{
			Size:         cfg.CacheSize,
			TTL:          cfg.CacheTTL,
			Timeout:      cfg.ProviderTimeout,
			StaleIfError: cfg.StaleIfError,
			MaxInFlight:  cfg.ProviderMaxInFlight,
			Observe:      m.CacheLookup,
			OnEvict:      m.Eviction,
			Store:        cfg.CacheStore, // "redis": Redis behind the in-process cache
			Redis:        rdb,
			Logger:       log,
			Secret:       []byte(cfg.CookieSecrets[0]),
		}),
		// With Redis for either store, a refresh happens once across the replicas:
		// with session_store redis they share one session.
		Refresher: provider.NewRefresherWith(idp, provider.RefresherOptions{Timeout: cfg.ProviderTimeout, Redis: rdb, Logger: log}),
		Sessions:  sessions,
		Upstream:  forward,
		Access: proxy.Access{
			BlockedUsers:   cfg.BlockedUsers,
			AllowedUsers:   cfg.AllowedUsers,
			AllowedGroups:  cfg.AllowedGroups,
			AdminUsers:     cfg.AdminUsers,
			RequiredScopes: cfg.RequiredScopes,
		},
		ServicePrefix:     cfg.ServicePrefix,
		Prefix:            cfg.Prefix,
		RedirectURL:       cfg.RedirectURL,
		HubURL:            cfg.HubURL,
		HubLogout:         cfg.HubLogout,
		PassAccessToken:   cfg.PassAccessToken,
		LoginService:      cfg.LoginService,
		SkipSignInPage:    cfg.SkipSignInPage,
		AuthMode:          cfg.AuthMode,
		Trust:             browsers,
		SkipAuthRoutes:    skipRoutes(cfg.SkipAuthRoutes),
		SkipAuthPreflight: cfg.SkipAuthPreflight,
		CrossOrigin:       crossOrigin,
		Metrics:           m,
	})

	server := &http.Server{
		// No ReadTimeout: it bounds a whole request, uploads too. A body is bounded
		// per pause instead.
		Handler:           proxy.BodyIdleHandler(handler, cfg.BodyIdleTimeout),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("tls_cert_file/tls_key_file: %w", err)
		}
		server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := listen(cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("hubgate started",
		zap.String("version", version),
		zap.String("listen", ln.Addr().String()),
		zap.String("upstream", cfg.Upstream),
		zap.String("provider", cfg.Provider),
		zap.String("prefix", cfg.Prefix),
		zap.Bool("managed", cfg.Managed),
	)

	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if !memlimit.UserSet() {
		go memlimit.Run(ctx, memlimit.Options{})
	}
	errc := make(chan error, 2)
	if cfg.MetricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", m.Handler())
		metricsServer := &http.Server{Addr: cfg.MetricsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics_listen: %w", err)
		}
		go func() { errc <- metricsServer.Serve(mln) }()
		defer metricsServer.Close()
		log.Info("metrics at /metrics", zap.String("listen", mln.Addr().String()))
	}
	go func() {
		if server.TLSConfig != nil {
			errc <- server.ServeTLS(ln, "", "")
		} else {
			errc <- server.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
