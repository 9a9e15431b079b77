package config

import (
	"time"

	"github.com/hubgate/hubgate/provider"
)

// Defaults, also documented in config.example.yaml.
const (
	DefaultListen     = "127.0.0.1:4180"
	DefaultCookieName = "_hubgate"
	DefaultCacheTTL   = 300 * time.Second
	DefaultCacheSize  = 10000
)

// keys is every configuration key, each bound to the field of c it fills: the one
// place a key's name, type, default and help are written. The order is --help's.
func keys(c *Config) []Key {
	o, r, oidc := &c.OAuth, &c.Redis, &c.OIDC
	return []Key{
		str("listen", &c.Listen, DefaultListen, "address to serve on: host:port or unix:/path/to.sock"),
		str("upstream", &c.Upstream, "", "the protected service: http(s)://host:port or unix:/path/to.sock"),
		routes("routes", &c.routeSpecs, "several apps: a list of routes, each with path (a prefix; the longest wins), optional host, name, upstream, strip_prefix, public and its own rules and header settings (see README, Routes)"),
		str("provider", &c.Provider, "jupyterhub", "identity provider"),
		str("provider_url", &c.ProviderURL, "", "django: the site's base URL (endpoints under <provider_url>/o/)"),
		str("oidc_issuer_url", &oidc.IssuerURL, "", "oidc: the issuer; endpoints and keys come from <issuer>/.well-known/openid-configuration"),
		str("username_claim", &oidc.UsernameClaim, "preferred_username", "oidc: the claim holding the username (sub only when set so)"),
		str("groups_claim", &oidc.GroupsClaim, "groups", "oidc: the claim listing the user's groups"),
		str("email_claim", &oidc.EmailClaim, "email", "oidc: the claim holding the e-mail address (kept only when email_verified is true)"),
		list("oidc_extra_audiences", &oidc.ExtraAudiences, "oidc: audiences accepted in tokens besides client_id"),
		boolean("oidc_allow_unverified_email", &oidc.AllowUnverifiedEmail, false, "oidc: keep e-mail addresses the issuer does not mark email_verified (Entra ID never does)"),
		boolean("skip_jwt_bearer_tokens", &oidc.SkipJWTBearerTokens, false, "oidc: verify Bearer JWTs locally against the issuer's keys, with no call to the issuer"),
		parsed("extra_jwt_issuers", &oidc.ExtraJWTIssuers, parseJWTIssuers, nil, "oidc: more issuers whose Bearer JWTs are accepted: issuer_url=audience"),
		boolean("oidc_logout", &oidc.Logout, false, "oidc: sign_out continues to the issuer's end_session_endpoint"),
		duration("oidc_jwks_max_age", &oidc.KeysMaxAge, 10*time.Minute, "oidc, google: how long fetched signing keys are used before fetching them again (a key removed at the issuer stops working within this)"),
		str("authorize_url", &o.AuthorizeURL, "", "OAuth2 authorize endpoint (generic; overrides a preset's)"),
		str("token_url", &o.TokenURL, "", "OAuth2 token endpoint (generic; overrides a preset's)"),
		str("userdata_url", &o.UserdataURL, "", "URL that returns the user's JSON for a token"),
		str("userdata_method", &o.UserdataMethod, "GET", "GET or POST"),
		pairs("userdata_params", &o.UserdataParams, "extra parameters for the userdata request (key=value)"),
		choice("userdata_token_method", &o.UserdataTokenMethod, provider.TokenInHeader, "how the token goes to the userdata URL: header or url", provider.TokenMethods...),
		str("introspect_url", &o.IntrospectURL, "", "RFC 7662 introspection endpoint, used when there is no userdata_url"),
		str("username_key", &o.UsernameKey, "", "userdata field holding the username (dotted path; default by provider)"),
		str("groups_key", &o.GroupsKey, "", "userdata field holding the user's groups"),
		str("email_key", &o.EmailKey, "", "userdata field holding the email"),
		str("admin_key", &o.AdminKey, "", "userdata field that is true for admins"),
		list("scope", &o.Scopes, "OAuth2 scopes to request"),
		pairs("token_params", &o.TokenParams, "extra token request parameters (key=value)"),
		pairs("extra_authorize_params", &o.ExtraAuthorizeParams, "extra authorize parameters (key=value)"),
		choice("client_auth", &o.ClientAuth, provider.ClientAuthAuto, "how the client authenticates at the token endpoint: auto, header or params", provider.ClientAuths...),
		str("login_service", &c.LoginService, "", "name on the sign-in button (default by provider)"),
		boolean("skip_sign_in_page", &c.SkipSignInPage, true, "go straight to the provider instead of showing a sign-in page"),
		list("allowed_organizations", &c.AllowedOrgs, "github: only members of these organizations"),
		list("hosted_domain", &c.HostedDomains, "google: only accounts of these Google Workspace domains"),
		boolean("username_local_part", &c.UsernameLocal, false, "use the part of an email username before @"),
		list("blocked_users", &c.BlockedUsers, "these users never pass"),
		boolean("username_lowercase", &c.UsernameLower, false, "lower-case usernames"),
		pairs("username_map", &c.UsernameMap, "rename users (provider_name=local_name)"),
		str("hub_url", &c.HubURL, "", "browser-facing base URL of JupyterHub, e.g. https://hub.example.org"),
		str("hub_api_url", &c.HubAPIURL, "", "server-side JupyterHub API URL (default <hub_url>/hub/api)"),
		str("client_id", &c.ClientID, "", "OAuth client id (for JupyterHub: service-NAME)"),
		str("client_secret", &c.ClientSecret, "", "OAuth client secret (for JupyterHub: the service's api_token)"),
		str("redirect_url", &c.RedirectURL, "", "OAuth callback URL registered with the provider"),
		list("cookie_secret", &c.CookieSecrets, "cookie secrets (>= 32 characters); the first signs, all verify"),
		str("cookie_name", &c.CookieName, DefaultCookieName, "session cookie name"),
		str("cookie_domain", &c.CookieDomain, "", "a parent domain (example.org) whose hosts all get the session cookie: one login for routes on several hosts"),
		duration("cookie_expire", &c.CookieExpire, 168*time.Hour, "longest a session lives"),
		duration("cache_ttl", &c.CacheTTL, DefaultCacheTTL, "how long a user lookup is trusted"),
		number("cache_size", &c.CacheSize, DefaultCacheSize, "most user lookups kept in memory"),
		list("allowed_users", &c.AllowedUsers, "only these users may pass"),
		list("allowed_groups", &c.AllowedGroups, "only members of these groups may pass"),
		list("admin_users", &c.AdminUsers, "users treated as admins (X-Forwarded-Admin: true)"),
		list("required_scopes", &c.RequiredScopes, "a user needs one of these scopes (JupyterHub access scopes)"),
		str("service_prefix", &c.ServicePrefix, "/", "URL path hubgate serves under; also the cookie path"),
		str("prefix", &c.Prefix, "", "path of hubgate's own endpoints (default <service_prefix>oauth2)"),
		boolean("pass_access_token", &c.PassAccessToken, false, "send the user's token upstream in X-Forwarded-Access-Token"),
		boolean("pass_user_headers", &c.PassUserHeaders, true, "send X-Forwarded-User, -Email, -Groups, -Preferred-Username and -Admin upstream"),
		boolean("prefer_email_to_user", &c.PreferEmailToUser, false, "X-Forwarded-User (and the Basic user) is the e-mail when known, and no X-Forwarded-Email is sent"),
		boolean("pass_basic_auth", &c.PassBasicAuth, false, "send Authorization: Basic user:basic_auth_password upstream, replacing the client's"),
		str("basic_auth_password", &c.BasicAuthPassword, "", "the password of pass_basic_auth (a secret; set it in the environment or the file)"),
		boolean("set_xauthrequest", &c.SetXAuthRequest, true, "<prefix>/auth's 202 carries X-Auth-Request-User, -Email, -Groups, -Preferred-Username"),
		pairs("upstream_headers", &c.UpstreamHeaders, "more identity headers, upstream and on <prefix>/auth's 202 (Header-Name=field: user, email, groups, preferred_username, admin)"),
		boolean("pass_host_header", &c.PassHostHeader, true, "send the client's Host header upstream (X-Forwarded-Host is always set)"),
		boolean("hub_logout", &c.HubLogout, false, "sign_out continues to the Hub's logout page"),
		duration("provider_timeout", &c.ProviderTimeout, 10*time.Second, "timeout of each call to the provider"),
		duration("upstream_timeout", &c.UpstreamTimeout, 60*time.Second, "how long to wait for the upstream's response headers"),
		duration("header_timeout", &c.HeaderTimeout, 10*time.Second, "how long a client may take to send the request line and headers"),
		duration("body_idle_timeout", &c.BodyIdleTimeout, 30*time.Second, "longest pause while a client sends a request body; an upload that keeps sending is never cut"),
		choice("auth_mode", &c.AuthMode, AuthRequest, "what <prefix>/auth answers an unauthenticated browser: request (401, for nginx auth_request) or forward (a login redirect, for Traefik/Caddy forward auth)", AuthRequest, AuthForward),
		parsed("trusted_proxies", &c.TrustedProxies, parseProxies, []string{"127.0.0.0/8", "::1"}, "proxies whose X-Forwarded-* headers are believed (addresses or CIDR ranges)"),
		str("tls_cert_file", &c.TLSCertFile, "", "serve HTTPS with this certificate (PEM)"),
		str("tls_key_file", &c.TLSKeyFile, "", "the certificate's private key (PEM)"),
		parsed("skip_auth_routes", &c.SkipAuthRoutes, parseSkipRoutes, nil, "paths that need no login: METHOD=regex or regex, matched on the clean path"),
		boolean("cross_origin_protection", &c.CrossOrigin, true, "refuse unsafe requests (POST, PUT, ...) and WebSocket handshakes that pages of other origins send with the session cookie"),
		list("whitelist_domains", &c.WhitelistDomains, "hosts besides this one a login may return to, as oauth2-proxy reads them: example.org, .example.org (and its subdomains), host:port, host:*"),
		list("trusted_origins", &c.TrustedOrigins, "origins (scheme://host[:port]) whose pages may send unsafe requests with the session cookie all the same"),
		boolean("skip_auth_preflight", &c.SkipAuthPreflight, false, "let CORS preflight requests (OPTIONS) through without a login"),
		duration("stale_if_error", &c.StaleIfError, 0, "serve a cached identity this long past cache_ttl while the provider is down (0: never)"),
		number("provider_max_inflight", &c.ProviderMaxInFlight, 64, "most concurrent identity lookups at the provider"),
		choice("session_store", &c.SessionStore, SessionCookie, "where sessions live: cookie (the whole session, encrypted, in the browser) or redis (an opaque ticket in the cookie, the session in Redis)", SessionCookie, SessionRedis),
		choice("cache_store", &c.CacheStore, CacheMemory, "where user lookups are cached: memory (this process) or redis (shared by replicas, memory in front)", CacheMemory, CacheRedis),
		str("redis_url", &r.URL, "", "Redis for session_store/cache_store redis: redis://[:password@]host:port/db or rediss:// for TLS"),
		list("redis_sentinel_addrs", &r.SentinelAddrs, "Redis Sentinel addresses (host:port); with them, redis_url gives only password, db and TLS"),
		str("redis_sentinel_master", &r.SentinelMaster, "", "the Sentinel master name (needed with redis_sentinel_addrs)"),
		str("metrics_listen", &c.MetricsListen, "", "serve Prometheus metrics at /metrics on this address (host:port); empty: off"),
		choice("log_format", &c.LogFormat, LogJSON, "json or console", LogJSON, LogConsole),
		choice("log_level", &c.LogLevel, LogInfo, "debug, info, warn or error", LogDebug, LogInfo, LogWarn, LogError),
	}
}
