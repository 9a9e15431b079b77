package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

// Config is hubgate's whole configuration, validated. main builds it once and passes
// it down to app.New; no other package reads flags or the environment.
type Config struct {
	Listen   string
	Upstream string // http(s) URL or unix:/path; "" with Routes
	// Routes are the apps behind hubgate (the routes key), each with its own
	// upstream and rules; nil when there is only Upstream (see AppRoutes).
	Routes              []*Route
	routeSpecs          []map[string]interface{} // the routes key as read, for normalizeRoutes
	Provider            string
	ProviderURL         string // django
	OAuth               OAuth  // endpoints and userdata mapping of non-JupyterHub providers
	OIDC                OIDC   // provider oidc
	HubURL              string // browser-facing Hub base without trailing slash; may be a path ("" = same origin)
	HubAPIURL           string // server-side API base, e.g. http://127.0.0.1:8081/hub/api
	ClientID            string
	ClientSecret        string
	RedirectURL         string // absolute, or a path the browser resolves (Hub-managed services)
	CookieSecrets       []string
	CookieName          string
	CookieDomain        string // "" host-only; else a parent domain, no leading dot
	CookieExpire        time.Duration
	CacheTTL            time.Duration
	CacheSize           int
	LoginService        string
	SkipSignInPage      bool
	AllowedUsers        []string
	BlockedUsers        []string
	AllowedGroups       []string
	AllowedOrgs         []string // github
	HostedDomains       []string // google
	UsernameLocal       bool
	UsernameLower       bool
	UsernameMap         map[string]string
	AdminUsers          []string
	RequiredScopes      []string
	ServicePrefix       string // always starts and ends with "/"
	Prefix              string // starts with "/", no trailing slash
	PassAccessToken     bool
	PassUserHeaders     bool
	PreferEmailToUser   bool
	PassBasicAuth       bool
	BasicAuthPassword   string // a secret, like ClientSecret
	SetXAuthRequest     bool
	UpstreamHeaders     map[string]string // header name → identity field
	PassHostHeader      bool
	HubLogout           bool
	ProviderTimeout     time.Duration
	UpstreamTimeout     time.Duration
	HeaderTimeout       time.Duration
	BodyIdleTimeout     time.Duration
	SkipAuthRoutes      []SkipRoute
	SkipAuthPreflight   bool
	CrossOrigin         bool     // cross_origin_protection
	TrustedOrigins      []string // pages of these origins may act with the session cookie
	WhitelistDomains    []string // hosts besides ours a login may return to
	StaleIfError        time.Duration
	ProviderMaxInFlight int
	MetricsListen       string
	SessionStore        SessionStore
	CacheStore          CacheStore
	Redis               Redis
	AuthMode            AuthMode
	TrustedProxies      []netip.Prefix // whose X-Forwarded-* headers are believed
	TLSCertFile         string
	TLSKeyFile          string
	LogFormat           LogFormat
	LogLevel            LogLevel

	// Managed is true when the JUPYTERHUB_* service environment supplied settings.
	Managed bool
	// Set from the Hub's service environment only (see hubServiceDefaults):
	// PublicScheme ("https" or "http", from JUPYTERHUB_PUBLIC_URL) is how browsers
	// reach the service, which decides the cookies' Secure flag; "" lets each request say.
	PublicScheme string
	// CookiePath is the cookies' path: ServicePrefix, or "/" for a __Host- cookie.
	CookiePath string
	// HubTLS is the client side of the Hub's internal_ssl; its zero value is plain TLS.
	HubTLS HubTLS
	// InternalTLS: the listener's TLS (internal_ssl) is the hop from the Hub's proxy,
	// so a TLS connection says nothing about the browser's scheme.
	InternalTLS bool
}

// The settings with fixed choices; config rejects any other value.
type (
	// AuthMode is what <prefix>/auth answers a browser that is not logged in.
	AuthMode string
	// SessionStore is where sessions live.
	SessionStore string
	// CacheStore is where user lookups are cached.
	CacheStore string
	// LogFormat is how log lines are written.
	LogFormat string
	// LogLevel is the least severe level logged.
	LogLevel string
)

const (
	AuthRequest AuthMode = "request" // 401, for nginx auth_request
	AuthForward AuthMode = "forward" // a login redirect, for Traefik/Caddy forward auth

	SessionCookie SessionStore = "cookie" // the whole session, encrypted, in the cookie
	SessionRedis  SessionStore = "redis"  // an opaque ticket in the cookie, the session in Redis

	CacheMemory CacheStore = "memory" // this process
	CacheRedis  CacheStore = "redis"  // shared by replicas, memory in front

	LogJSON    LogFormat = "json"
	LogConsole LogFormat = "console"

	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// HubTLS is what a Hub with internal_ssl gives its services for the API: a client
// certificate and the CA that signed the Hub's certificate (PEM files).
type HubTLS struct {
	CAFile, CertFile, KeyFile string
}

// OAuth holds the settings of the OAuth2 providers other than JupyterHub, in the shape
// of JupyterHub's GenericOAuthenticator.
type OAuth struct {
	AuthorizeURL         string
	TokenURL             string
	UserdataURL          string
	UserdataMethod       string // GET or POST
	UserdataParams       map[string]string
	UserdataTokenMethod  provider.TokenMethod
	IntrospectURL        string
	UsernameKey          string
	GroupsKey            string
	EmailKey             string
	AdminKey             string
	Scopes               []string
	TokenParams          map[string]string
	ExtraAuthorizeParams map[string]string
	ClientAuth           provider.ClientAuth
}

// OIDC holds the settings of provider oidc.
type OIDC struct {
	IssuerURL            string
	UsernameClaim        string
	GroupsClaim          string
	EmailClaim           string
	ExtraAudiences       []string
	AllowUnverifiedEmail bool
	SkipJWTBearerTokens  bool
	ExtraJWTIssuers      []provider.JWTIssuer
	Logout               bool
	KeysMaxAge           time.Duration
}

// Redis is where session_store/cache_store redis keep shared state.
type Redis struct {
	URL            string   // redis:// or rediss://; "" when nothing uses Redis
	SentinelAddrs  []string // optional: find the master through Sentinel
	SentinelMaster string
}

// Error names the configuration key at fault, so the message tells the user what to fix.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return e.Key + ": " + e.Msg }

func bad(key, format string, args ...interface{}) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// FromCLI reads the parsed flags (which already hold the environment and the YAML file),
// fills what is still unset from the JupyterHub service environment env, and validates.
func FromCLI(c *cli.Context, env map[string]string) (*Config, error) {
	hub := hubServiceDefaults(env)
	cfg, err := read(c, &hub.defaults)
	if err != nil {
		return nil, err
	}
	cfg.Managed, cfg.HubTLS, cfg.InternalTLS = hub.managed, hub.tls, hub.internalTLS
	cfg.setCookieScope(hub)
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Read is what the flags, the environment and the file say, unvalidated and without
// the JupyterHub service environment: for a command that needs a key or two.
func Read(c *cli.Context) (*Config, error) { return read(c, &Config{}) }

// Parse reads args as the hubgate command reads its flags ("--listen", ":4180", ...;
// --config names a YAML file; HUBGATE_* variables apply), with env as the JupyterHub
// service environment, and validates: a program that embeds hubgate gets the same
// defaults as the binary.
func Parse(args []string, env map[string]string) (*Config, error) {
	flags := Flags()
	var cfg *Config
	app := &cli.App{
		Name:      "hubgate",
		Flags:     flags,
		Before:    LoadFile(flags),
		Writer:    io.Discard,
		ErrWriter: io.Discard,
		Action: func(c *cli.Context) (err error) {
			cfg, err = FromCLI(c, env)
			return err
		},
	}
	if err := app.Run(append([]string{"hubgate"}, args...)); err != nil {
		return nil, err
	}
	if cfg == nil { // --help or --version
		return nil, fmt.Errorf("no configuration from %q", args)
	}
	return cfg, nil
}

// parsePairs reads key=value items.
func parsePairs(key string, items []string) (map[string]string, error) {
	m := map[string]string{}
	for _, item := range items {
		k, v, ok := strings.Cut(item, "=")
		if !ok || k == "" {
			return nil, bad(key, "%q is not key=value", item)
		}
		m[k] = v
	}
	return m, nil
}

// SkipRoute is a skip_auth_routes entry: "GET=^/public/" or "^/health$" (oauth2-proxy's
// form), an optional method and a regular expression on the path.
type SkipRoute struct {
	Method string // "" for any
	Path   *regexp.Regexp
}

func parseSkipRoutes(key string, specs []string) ([]SkipRoute, error) {
	var routes []SkipRoute
	for _, spec := range specs {
		method, expr := "", spec
		if m, rest, ok := strings.Cut(spec, "="); ok && m != "" && strings.ToUpper(m) == m && !strings.ContainsAny(m, "^/") {
			method, expr = m, rest
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, bad(key, "%q is not METHOD=regex or a regular expression: %v", spec, err)
		}
		routes = append(routes, SkipRoute{Method: method, Path: re})
	}
	return routes, nil
}

// parseProxies reads addresses and CIDR ranges.
func parseProxies(key string, items []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range items {
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, bad(key, "%q is not an IP address or CIDR range", item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// splitList accepts both repeated values and comma-separated ones, and drops blanks.
func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

type hubEnv struct {
	managed     bool
	defaults    Config // the keys the Hub's environment sets
	scheme      string // of JUPYTERHUB_PUBLIC_URL
	hostPrefix  bool   // JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED
	tls         HubTLS
	internalTLS bool
}

// hubServiceDefaults maps the environment JupyterHub gives a managed service onto
// configuration keys (docs/peers.md, "The environment of a managed service"). It only fills keys left unset elsewhere;
// a zero value in defaults fills nothing.
func hubServiceDefaults(env map[string]string) hubEnv {
	h := hubEnv{}
	d := &h.defaults
	token := env["JUPYTERHUB_API_TOKEN"]
	if token == "" || env["JUPYTERHUB_API_URL"] == "" || env["JUPYTERHUB_CLIENT_ID"] == "" {
		return h
	}
	h.managed = true
	d.ClientSecret = token
	d.HubAPIURL = env["JUPYTERHUB_API_URL"]
	d.ClientID = env["JUPYTERHUB_CLIENT_ID"]
	d.RedirectURL = env["JUPYTERHUB_OAUTH_CALLBACK_URL"]
	d.ServicePrefix = env["JUPYTERHUB_SERVICE_PREFIX"]
	if u, err := url.Parse(env["JUPYTERHUB_SERVICE_URL"]); err == nil && u.Host != "" {
		d.Listen = u.Host
	}
	// The browser-facing Hub: 5.0 says it outright; before that it is host + base URL,
	// which is a bare path (same origin as the Hub's proxy) when host is empty.
	if v := env["JUPYTERHUB_PUBLIC_HUB_URL"]; v != "" {
		d.HubURL = strings.TrimSuffix(strings.TrimSuffix(v, "/"), "/hub")
	} else {
		d.HubURL = strings.TrimSuffix(env["JUPYTERHUB_HOST"]+env["JUPYTERHUB_BASE_URL"], "/")
	}
	for _, name := range []string{"JUPYTERHUB_OAUTH_ACCESS_SCOPES", "JUPYTERHUB_OAUTH_SCOPES"} {
		var scopes []string
		if err := json.Unmarshal([]byte(env[name]), &scopes); err == nil && len(scopes) > 0 {
			d.RequiredScopes = scopes
			break
		}
	}
	d.CookieSecrets = []string{DeriveCookieSecret(token)}
	// 5.0+: where browsers reach the service; https there means Secure cookies even
	// when the hop from the Hub's proxy is plain http.
	if u, err := url.Parse(env["JUPYTERHUB_PUBLIC_URL"]); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
		h.scheme = u.Scheme
	}
	// 4.1+: the Hub wants __Host- cookies (HubOAuth names its cookie __Host-<name>, path /).
	switch strings.ToLower(env["JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED"]) {
	case "1", "true", "yes":
		h.hostPrefix = true
	}
	// internal_ssl: the API wants this client certificate and is signed by this CA,
	// and the Hub's proxy speaks https to an https service URL, with the same certificate.
	if cert, key := env["JUPYTERHUB_SSL_CERTFILE"], env["JUPYTERHUB_SSL_KEYFILE"]; cert != "" && key != "" {
		h.tls = HubTLS{CAFile: env["JUPYTERHUB_SSL_CLIENT_CA"], CertFile: cert, KeyFile: key}
		if strings.HasPrefix(env["JUPYTERHUB_SERVICE_URL"], "https:") {
			d.TLSCertFile, d.TLSKeyFile = cert, key
			h.internalTLS = true
		}
	}
	return h
}

// setCookieScope applies what the Hub's environment says about cookies. A __Host-
// cookie must be Secure with path / and no Domain, so the prefix applies only when
// browsers are known to come over https; over http HubOAuth's browsers would drop it.
func (c *Config) setCookieScope(h hubEnv) {
	c.PublicScheme = h.scheme
	if h.hostPrefix && h.scheme == "https" && !strings.HasPrefix(c.CookieName, "__Host-") {
		c.CookieName = "__Host-" + c.CookieName
		c.CookiePath = "/"
	}
}

// DeriveCookieSecret turns the Hub API token into a stable cookie secret, so a managed
// service needs no secret of its own. Rotating the API token logs everyone out.
func DeriveCookieSecret(apiToken string) string {
	mac := hmac.New(sha256.New, []byte(apiToken))
	mac.Write([]byte("hubgate cookie secret v1"))
	return hex.EncodeToString(mac.Sum(nil))
}

// reservedCookie reports cookie names that belong to JupyterHub or Django: browsers
// send cookies to every port of a host, so sharing a name would clobber theirs.
func reservedCookie(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, "jupyterhub-") || lower == "sessionid" || lower == "csrftoken" ||
		strings.HasPrefix(lower, "_xsrf")
}

// normalize validates, and fills the defaults that depend on other keys. The keys
// with fixed choices were checked as they were read.
func (c *Config) normalize() error {
	c.OAuth.UserdataMethod = strings.ToUpper(c.OAuth.UserdataMethod)
	for _, step := range []func() error{
		c.checkServing, c.normalizeProvider, c.checkClient, c.normalizePaths, c.checkCookies, c.checkLimits, c.normalizeOrigins, c.checkWhitelistDomains, c.checkHeaders, c.normalizeRoutes,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// checkServing validates where hubgate listens, what it keeps its state in, and
// what it protects.
func (c *Config) checkServing() error {
	if c.Listen == "" {
		return bad("listen", "is empty; use host:port, e.g. %s", DefaultListen)
	}
	if path, ok := strings.CutPrefix(c.Listen, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			return bad("listen", "%q: a unix socket needs an absolute path, e.g. unix:/run/hubgate.sock", c.Listen)
		}
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", "%q is not host:port or unix:/path", c.Listen)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return bad("tls_key_file", "tls_cert_file and tls_key_file go together")
	}
	if c.StaleIfError < 0 {
		return bad("stale_if_error", "must not be negative")
	}
	if err := c.checkStores(); err != nil {
		return err
	}
	if c.ProviderMaxInFlight <= 0 {
		return bad("provider_max_inflight", "must be positive")
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return bad("metrics_listen", "%q is not host:port", c.MetricsListen)
		}
		if c.MetricsListen == c.Listen {
			return bad("metrics_listen", "must differ from listen: metrics are not for the public")
		}
	}
	if len(c.routeSpecs) > 0 {
		return nil // each route's upstream is checked with the route
	}
	return checkUpstream(c.Upstream)
}

// checkClient validates the OAuth client and the username rules.
func (c *Config) checkClient() error {
	if c.ClientID == "" {
		return bad("client_id", "is required (the OAuth client id registered with the provider)")
	}
	if c.ClientSecret == "" {
		return bad("client_secret", "is required (the OAuth client secret registered with the provider)")
	}
	for _, u := range c.UsernameMap {
		if u == "" {
			return bad("username_map", "maps a user to an empty name")
		}
	}
	return nil
}

// normalizePaths fills and validates the paths hubgate serves, its cookies' path,
// and the OAuth callback.
func (c *Config) normalizePaths() error {
	if c.ServicePrefix == "" {
		c.ServicePrefix = "/"
	}
	if !strings.HasPrefix(c.ServicePrefix, "/") {
		return bad("service_prefix", "%q must start with /", c.ServicePrefix)
	}
	if !strings.HasSuffix(c.ServicePrefix, "/") {
		c.ServicePrefix += "/"
	}
	if c.CookiePath == "" {
		c.CookiePath = c.ServicePrefix
	}
	if c.Prefix == "" {
		c.Prefix = c.ServicePrefix + "oauth2"
	}
	c.Prefix = strings.TrimSuffix(c.Prefix, "/")
	if !strings.HasPrefix(c.Prefix, "/") || c.Prefix == "" {
		return bad("prefix", "%q must be a path like /oauth2", c.Prefix)
	}
	if c.RedirectURL == "" {
		return bad("redirect_url", "is required: the callback URL registered with the provider, e.g. http://127.0.0.1:4180%s/callback", c.Prefix)
	}
	if u, err := url.Parse(c.RedirectURL); err != nil || u.Path == "" || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https") {
		return bad("redirect_url", "%q is not an http(s) URL or an absolute path", c.RedirectURL)
	}
	return nil
}

func (c *Config) checkCookies() error {
	if len(c.CookieSecrets) == 0 {
		return bad("cookie_secret", "is required; generate one with: hubgate secret")
	}
	for i, s := range c.CookieSecrets {
		if len(s) < 32 {
			return bad("cookie_secret", "secret %d is %d characters; use at least 32 (generate one with: hubgate secret)", i+1, len(s))
		}
	}
	if c.CookieName == "" || strings.ContainsAny(c.CookieName, " ;,=\t\r\n\"") {
		return bad("cookie_name", "%q is not a valid cookie name", c.CookieName)
	}
	if reservedCookie(c.CookieName) {
		return bad("cookie_name", "%q clashes with JupyterHub's or Django's cookies; pick another", c.CookieName)
	}
	return nil
}

// checkLimits: lifetimes, sizes and timeouts must be positive.
func (c *Config) checkLimits() error {
	for _, l := range []struct {
		key      string
		positive bool
		hint     string
	}{
		{"cookie_expire", c.CookieExpire > 0, ""},
		{"cache_ttl", c.CacheTTL > 0, ", e.g. 300s"},
		{"cache_size", c.CacheSize > 0, ""},
		{"provider_timeout", c.ProviderTimeout > 0, ""},
		{"upstream_timeout", c.UpstreamTimeout > 0, ""},
		{"header_timeout", c.HeaderTimeout > 0, ""},
		{"body_idle_timeout", c.BodyIdleTimeout > 0, ""},
	} {
		if !l.positive {
			return bad(l.key, "must be positive%s", l.hint)
		}
	}
	return nil
}

// checkWhitelistDomains: each entry must be one trust.ParseDomains reads.
func (c *Config) checkWhitelistDomains() error {
	if _, err := trust.ParseDomains(c.WhitelistDomains); err != nil {
		return bad("whitelist_domains", "%v", err)
	}
	return nil
}

// checkHeaders: upstream_headers must be names and fields upstream.NewHeaders
// accepts, and pass_basic_auth needs its password.
func (c *Config) checkHeaders() error {
	if c.PassBasicAuth && c.BasicAuthPassword == "" {
		return bad("basic_auth_password", "is required with pass_basic_auth: an empty password makes apps try, and fail, a password login")
	}
	if _, err := upstream.NewHeaders(c.HeaderOptions()); err != nil {
		return bad("upstream_headers", "%v", err)
	}
	return nil
}

// HeaderOptions are the identity-header switches, for upstream.NewHeaders.
func (c *Config) HeaderOptions() upstream.HeaderOptions {
	o := upstream.HeaderOptions{
		PassUser:    c.PassUserHeaders,
		PreferEmail: c.PreferEmailToUser,
		AuthRequest: c.SetXAuthRequest,
		Mapped:      c.UpstreamHeaders,
	}
	if c.PassBasicAuth {
		o.BasicAuth = c.BasicAuthPassword
	}
	return o
}

// normalizeOrigins writes each trusted origin as browsers send Origin: lower case, no
// trailing slash; anything else is never matched, so it is an error.
func (c *Config) normalizeOrigins() error {
	check := http.NewCrossOriginProtection()
	for i, o := range c.TrustedOrigins {
		o = strings.ToLower(strings.TrimSuffix(o, "/"))
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || check.AddTrustedOrigin(o) != nil {
			return bad("trusted_origins", "%q is not an origin; write it as https://host or https://host:port, without a path", c.TrustedOrigins[i])
		}
		c.TrustedOrigins[i] = o
	}
	return nil
}

func (c *Config) normalizeHub() error {
	c.HubURL = strings.TrimSuffix(c.HubURL, "/")
	if c.HubURL != "" {
		u, err := url.Parse(c.HubURL)
		if err != nil || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https") || (u.Scheme != "") != (u.Host != "") {
			return bad("hub_url", "%q is not an http(s) URL or a path", c.HubURL)
		}
	}
	if c.HubAPIURL == "" {
		if !strings.HasPrefix(c.HubURL, "http") {
			return bad("hub_url", "is required (the JupyterHub address browsers use, e.g. http://127.0.0.1:8000)")
		}
		c.HubAPIURL = c.HubURL + "/hub/api"
	}
	c.HubAPIURL = strings.TrimSuffix(c.HubAPIURL, "/")
	if u, err := url.Parse(c.HubAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("hub_api_url", "%q is not an http(s) URL", c.HubAPIURL)
	}
	return nil
}

func checkUpstream(raw string) error {
	if raw == "" {
		return bad("upstream", "is required: the service to protect, e.g. http://127.0.0.1:8080 or unix:/run/app.sock")
	}
	if path, ok := strings.CutPrefix(raw, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			return bad("upstream", "%q: a unix socket needs an absolute path, e.g. unix:/run/app.sock", raw)
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("upstream", "%q is not an http(s) URL or unix:/path", raw)
	}
	return nil
}

// checkStores validates the Redis that session_store and cache_store may need.
func (c *Config) checkStores() error {
	r := &c.Redis
	if !c.UsesRedis() {
		if r.URL != "" || len(r.SentinelAddrs) > 0 || r.SentinelMaster != "" {
			return bad("redis_url", "is set, but neither session_store nor cache_store is redis")
		}
		return nil
	}
	if r.URL == "" {
		return bad("redis_url", "is required with session_store or cache_store redis, e.g. redis://127.0.0.1:6379/0")
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || (u.Host == "" && len(r.SentinelAddrs) == 0) {
		return bad("redis_url", "%s is not redis://host:port/db or rediss://host:port/db", redactURL(r.URL))
	}
	if len(r.SentinelAddrs) > 0 && r.SentinelMaster == "" {
		return bad("redis_sentinel_master", "is required with redis_sentinel_addrs")
	}
	if r.SentinelMaster != "" && len(r.SentinelAddrs) == 0 {
		return bad("redis_sentinel_addrs", "is required with redis_sentinel_master")
	}
	for _, a := range r.SentinelAddrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return bad("redis_sentinel_addrs", "%q is not host:port", a)
		}
	}
	return nil
}

// UsesRedis reports whether a store is kept in Redis.
func (c *Config) UsesRedis() bool {
	return c.SessionStore == SessionRedis || c.CacheStore == CacheRedis
}

// redactURL hides a password, so an error message can quote the URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the value"
	}
	return u.Redacted()
}
