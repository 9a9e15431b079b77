// Package config turns flags, HUBGATE_* environment variables, a YAML file and the
// environment JupyterHub gives its managed services into one validated Config.
package config

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
	"gopkg.in/yaml.v3"
)

// Defaults, also documented in config.example.yaml.
const (
	DefaultListen     = "127.0.0.1:4180"
	DefaultCookieName = "_hubgate"
	DefaultCacheTTL   = 300 * time.Second
	DefaultCacheSize  = 10000
)

// EnvName is the environment variable that sets a key: cache_ttl → HUBGATE_CACHE_TTL.
func EnvName(key string) string { return "HUBGATE_" + strings.ToUpper(key) }

// flagName is the command-line spelling of a key: cache_ttl → --cache-ttl.
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// Flags returns a fresh set of flags, one per configuration key, plus --config.
// Each command needs its own set: urfave/cli flags keep state once applied.
func Flags() []cli.Flag {
	s := func(key, value, usage string) cli.Flag {
		return altsrc.NewStringFlag(&cli.StringFlag{Name: flagName(key), Value: value, Usage: usage, EnvVars: []string{EnvName(key)}})
	}
	list := func(key, usage string) cli.Flag {
		return altsrc.NewStringSliceFlag(&cli.StringSliceFlag{Name: flagName(key), Usage: usage, EnvVars: []string{EnvName(key)}})
	}
	dur := func(key string, value time.Duration, usage string) cli.Flag {
		return altsrc.NewDurationFlag(&cli.DurationFlag{Name: flagName(key), Value: value, Usage: usage, EnvVars: []string{EnvName(key)}})
	}
	boolean := func(key, usage string) cli.Flag {
		return altsrc.NewBoolFlag(&cli.BoolFlag{Name: flagName(key), Usage: usage, EnvVars: []string{EnvName(key)}})
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML file with configuration keys", EnvVars: []string{"HUBGATE_CONFIG"}},
		s("listen", DefaultListen, "address to serve on: host:port or unix:/path/to.sock"),
		s("upstream", "", "the protected service: http(s)://host:port or unix:/path/to.sock"),
		s("provider", "jupyterhub", "identity provider"),
		s("provider_url", "", "django: the site's base URL (endpoints under <provider_url>/o/)"),
		s("authorize_url", "", "OAuth2 authorize endpoint (generic; overrides a preset's)"),
		s("token_url", "", "OAuth2 token endpoint (generic; overrides a preset's)"),
		s("userdata_url", "", "URL that returns the user's JSON for a token"),
		s("userdata_method", "GET", "GET or POST"),
		list("userdata_params", "extra parameters for the userdata request (key=value)"),
		s("userdata_token_method", "header", "how the token goes to the userdata URL: header or url"),
		s("introspect_url", "", "RFC 7662 introspection endpoint, used when there is no userdata_url"),
		s("username_key", "", "userdata field holding the username (dotted path; default by provider)"),
		s("groups_key", "", "userdata field holding the user's groups"),
		s("email_key", "", "userdata field holding the email"),
		s("admin_key", "", "userdata field that is true for admins"),
		list("scope", "OAuth2 scopes to request"),
		list("token_params", "extra token request parameters (key=value)"),
		list("extra_authorize_params", "extra authorize parameters (key=value)"),
		s("client_auth", "auto", "how the client authenticates at the token endpoint: auto, header or params"),
		s("login_service", "", "name on the sign-in button (default by provider)"),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: flagName("skip_sign_in_page"), Value: true, Usage: "go straight to the provider instead of showing a sign-in page", EnvVars: []string{EnvName("skip_sign_in_page")}}),
		list("allowed_organizations", "github: only members of these organizations"),
		list("hosted_domain", "google: only accounts of these Google Workspace domains"),
		boolean("username_local_part", "use the part of an email username before @"),
		list("blocked_users", "these users never pass"),
		boolean("username_lowercase", "lower-case usernames"),
		list("username_map", "rename users (provider_name=local_name)"),
		s("hub_url", "", "browser-facing base URL of JupyterHub, e.g. https://hub.example.org"),
		s("hub_api_url", "", "server-side JupyterHub API URL (default <hub_url>/hub/api)"),
		s("client_id", "", "OAuth client id (for JupyterHub: service-NAME)"),
		s("client_secret", "", "OAuth client secret (for JupyterHub: the service's api_token)"),
		s("redirect_url", "", "OAuth callback URL registered with the provider"),
		list("cookie_secret", "cookie secrets (>= 32 characters); the first signs, all verify"),
		s("cookie_name", DefaultCookieName, "session cookie name"),
		dur("cookie_expire", 168*time.Hour, "longest a session lives"),
		dur("cache_ttl", DefaultCacheTTL, "how long a user lookup is trusted"),
		altsrc.NewIntFlag(&cli.IntFlag{Name: flagName("cache_size"), Value: DefaultCacheSize, Usage: "most user lookups kept in memory", EnvVars: []string{EnvName("cache_size")}}),
		list("allowed_users", "only these users may pass"),
		list("allowed_groups", "only members of these groups may pass"),
		list("admin_users", "users treated as admins (X-Forwarded-Admin: true)"),
		list("required_scopes", "a user needs one of these scopes (JupyterHub access scopes)"),
		s("service_prefix", "/", "URL path hubgate serves under; also the cookie path"),
		s("prefix", "", "path of hubgate's own endpoints (default <service_prefix>oauth2)"),
		boolean("pass_access_token", "send the user's token upstream in X-Forwarded-Access-Token"),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: flagName("pass_host_header"), Value: true, Usage: "send the client's Host header upstream (X-Forwarded-Host is always set)", EnvVars: []string{EnvName("pass_host_header")}}),
		boolean("hub_logout", "sign_out continues to the Hub's logout page"),
		dur("provider_timeout", 10*time.Second, "timeout of each call to the provider"),
		dur("upstream_timeout", 60*time.Second, "how long to wait for the upstream's response headers"),
		dur("header_timeout", 10*time.Second, "how long a client may take to send the request line and headers"),
		dur("body_idle_timeout", 30*time.Second, "longest pause while a client sends a request body; an upload that keeps sending is never cut"),
		s("auth_mode", "request", "what <prefix>/auth answers an unauthenticated browser: request (401, for nginx auth_request) or forward (a login redirect, for Traefik/Caddy forward auth)"),
		altsrc.NewStringSliceFlag(&cli.StringSliceFlag{Name: flagName("trusted_proxies"), Value: cli.NewStringSlice("127.0.0.0/8", "::1"), Usage: "proxies whose X-Forwarded-* headers are believed (addresses or CIDR ranges)", EnvVars: []string{EnvName("trusted_proxies")}}),
		s("tls_cert_file", "", "serve HTTPS with this certificate (PEM)"),
		s("tls_key_file", "", "the certificate's private key (PEM)"),
		list("skip_auth_routes", "paths that need no login: METHOD=regex or regex, matched on the clean path"),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: flagName("cross_origin_protection"), Value: true, Usage: "refuse unsafe requests (POST, PUT, ...) and WebSocket handshakes that pages of other origins send with the session cookie", EnvVars: []string{EnvName("cross_origin_protection")}}),
		list("trusted_origins", "origins (scheme://host[:port]) whose pages may send unsafe requests with the session cookie all the same"),
		boolean("skip_auth_preflight", "let CORS preflight requests (OPTIONS) through without a login"),
		dur("stale_if_error", 0, "serve a cached identity this long past cache_ttl while the provider is down (0: never)"),
		altsrc.NewIntFlag(&cli.IntFlag{Name: flagName("provider_max_inflight"), Value: 64, Usage: "most concurrent identity lookups at the provider", EnvVars: []string{EnvName("provider_max_inflight")}}),
		s("session_store", "cookie", "where sessions live: cookie (the whole session, encrypted, in the browser) or redis (an opaque ticket in the cookie, the session in Redis)"),
		s("cache_store", "memory", "where user lookups are cached: memory (this process) or redis (shared by replicas, memory in front)"),
		s("redis_url", "", "Redis for session_store/cache_store redis: redis://[:password@]host:port/db or rediss:// for TLS"),
		list("redis_sentinel_addrs", "Redis Sentinel addresses (host:port); with them, redis_url gives only password, db and TLS"),
		s("redis_sentinel_master", "", "the Sentinel master name (needed with redis_sentinel_addrs)"),
		s("metrics_listen", "", "serve Prometheus metrics at /metrics on this address (host:port); empty: off"),
		s("log_format", "json", "json or console"),
		s("log_level", "info", "debug, info, warn or error"),
	}
}

// LoadFile is a cli.BeforeFunc: it applies the --config YAML file to every flag that
// neither the command line nor the environment set. Unknown keys and values of the
// wrong type are errors naming the key; a list key may be written as a single string.
func LoadFile(flags []cli.Flag) cli.BeforeFunc {
	return func(c *cli.Context) error {
		path := c.String("config")
		if path == "" {
			return nil
		}
		src, err := readFile(path, flags)
		if err != nil {
			return err
		}
		if err := altsrc.ApplyInputSourceValues(c, src, flags); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
		return nil
	}
}

func readFile(path string, flags []cli.Flag) (altsrc.InputSourceContext, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	byName := map[string]cli.Flag{}
	for _, f := range flags {
		byName[f.Names()[0]] = f
	}
	values := map[interface{}]interface{}{}
	for key, v := range raw {
		name := flagName(key)
		f, ok := byName[name]
		if !ok || name == "config" || strings.Contains(key, "-") {
			return nil, fmt.Errorf("config file %s: unknown key %q (see config.example.yaml)", path, key)
		}
		if v == nil {
			continue
		}
		v, err := checkValue(f, v)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %s: %w", path, key, err)
		}
		values[name] = v
	}
	return altsrc.NewMapInputSource(path, values), nil
}

// mapKeys are lists of key=value pairs, written as a YAML mapping in the file.
var mapKeys = map[string]bool{
	"userdata-params": true, "token-params": true, "extra-authorize-params": true, "username-map": true,
}

// checkValue checks a YAML value against its flag's type before altsrc sees it, so the
// error can say what was expected.
func checkValue(f cli.Flag, v interface{}) (interface{}, error) {
	switch f.(type) {
	case *altsrc.StringSliceFlag:
		if m, ok := v.(map[string]interface{}); ok && mapKeys[f.Names()[0]] {
			var pairs []interface{}
			for k, val := range m {
				s, ok := val.(string)
				if !ok {
					return nil, fmt.Errorf("expected string values, got %v for %q", val, k)
				}
				pairs = append(pairs, k+"="+s)
			}
			return pairs, nil
		}
		if s, ok := v.(string); ok {
			return []interface{}{s}, nil
		}
		list, ok := v.([]interface{})
		if !ok {
			return nil, fmt.Errorf("expected a list of strings, got %v", v)
		}
		for _, item := range list {
			if _, ok := item.(string); !ok {
				return nil, fmt.Errorf("expected a list of strings, got %v", item)
			}
		}
	case *altsrc.DurationFlag:
		s, ok := v.(string)
		if _, err := time.ParseDuration(s); !ok || err != nil {
			return nil, fmt.Errorf("expected a duration such as 300s or 5m, got %v", v)
		}
	case *altsrc.IntFlag:
		if _, ok := v.(int); !ok {
			return nil, fmt.Errorf("expected a whole number, got %v", v)
		}
	case *altsrc.BoolFlag:
		if _, ok := v.(bool); !ok {
			return nil, fmt.Errorf("expected true or false, got %v", v)
		}
	default:
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("expected a string, got %v", v)
		}
	}
	return v, nil
}
