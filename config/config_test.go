package config_test

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hubgate/hubgate/config"
)

// validSecret is 32+ characters.
const validSecret = "0123456789abcdef0123456789abcdef"

// standalone is a complete, valid set of flags for a non-managed hubgate.
var standalone = []string{
	"--upstream", "http://127.0.0.1:8080",
	"--hub-url", "http://127.0.0.1:8000",
	"--client-id", "service-gate",
	"--client-secret", "api-token-1234",
	"--redirect-url", "http://127.0.0.1:4180/oauth2/callback",
	"--cookie-secret", validSecret,
}

// hubEnv3 is the environment JupyterHub 3.0.0 gives a managed service "gate"
// (docs/peers.md, "The environment of a managed service").
func hubEnv3() map[string]string {
	return map[string]string{
		"JUPYTERHUB_API_TOKEN":                   "hub-api-token-for-gate",
		"JUPYTERHUB_API_URL":                     "http://127.0.0.1:8081/hub/api",
		"JUPYTERHUB_BASE_URL":                    "/",
		"JUPYTERHUB_CLIENT_ID":                   "service-gate",
		"JUPYTERHUB_HOST":                        "",
		"JUPYTERHUB_OAUTH_ACCESS_SCOPES":         `["access:services", "access:services!service=gate"]`,
		"JUPYTERHUB_OAUTH_SCOPES":                `["access:services", "access:services!service=gate"]`,
		"JUPYTERHUB_OAUTH_CALLBACK_URL":          "/services/gate/oauth_callback",
		"JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES": "[]",
		"JUPYTERHUB_SERVICE_NAME":                "gate",
		"JUPYTERHUB_SERVICE_PREFIX":              "/services/gate/",
		"JUPYTERHUB_SERVICE_URL":                 "http://127.0.0.1:10101",
		"JUPYTERHUB_SERVER_NAME":                 "",
		"JUPYTERHUB_USER":                        "",
	}
}

// clearEnv removes every HUBGATE_* variable the test process inherited, restoring
// them when the test ends.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "HUBGATE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// load runs a cli.App built like main's with args and the JupyterHub environment env.
func load(t *testing.T, args []string, env map[string]string) (*config.Config, error) {
	t.Helper()
	flags := config.Flags()
	var (
		cfg    *config.Config
		cfgErr error
		ran    bool
	)
	app := &cli.App{
		Name:      "hubgate",
		Flags:     flags,
		Before:    config.LoadFile(flags),
		Writer:    io.Discard,
		ErrWriter: io.Discard,
		Action: func(c *cli.Context) error {
			ran = true
			cfg, cfgErr = config.FromCLI(c, env)
			return nil
		},
	}
	if err := app.Run(append([]string{"hubgate"}, args...)); err != nil {
		return nil, err
	}
	if !ran {
		t.Fatalf("action did not run for args %q", args)
	}
	return cfg, cfgErr
}

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hubgate.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, args []string, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := load(t, args, env)
	if err != nil {
		t.Fatalf("load(%q): %v", args, err)
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	clearEnv(t)
	cfg := mustLoad(t, standalone, nil)
	want := config.Config{
		Listen:          config.DefaultListen,
		Upstream:        "http://127.0.0.1:8080",
		Provider:        "jupyterhub",
		HubURL:          "http://127.0.0.1:8000",
		HubAPIURL:       "http://127.0.0.1:8000/hub/api",
		ClientID:        "service-gate",
		ClientSecret:    "api-token-1234",
		RedirectURL:     "http://127.0.0.1:4180/oauth2/callback",
		CookieSecrets:   []string{validSecret},
		CookieName:      config.DefaultCookieName,
		CookieExpire:    168 * time.Hour,
		CacheTTL:        config.DefaultCacheTTL,
		CacheSize:       config.DefaultCacheSize,
		ServicePrefix:   "/",
		CookiePath:      "/",
		Prefix:          "/oauth2",
		PassHostHeader:  true,
		PassUserHeaders: true,
		SetXAuthRequest: true,
		ProviderTimeout: 10 * time.Second,
		UpstreamTimeout: 60 * time.Second,
		HeaderTimeout:   10 * time.Second,
		BodyIdleTimeout: 30 * time.Second,
		LogFormat:       "json",
		LogLevel:        "info",
	}
	want = jupyterHubDefaults(want)
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("config =\n%+v\nwant\n%+v", *cfg, want)
	}
}

// Parse is what the hubgate command does: the same Config, errors that name the key.
func TestParse(t *testing.T) {
	clearEnv(t)
	cfg, err := config.Parse(standalone, hubEnv3())
	if want := mustLoad(t, standalone, hubEnv3()); err != nil || !reflect.DeepEqual(cfg, want) {
		t.Errorf("Parse = %+v, %v\nwant %+v", cfg, err, want)
	}
	var cerr *config.Error
	if _, err := config.Parse(append(standalone, "--cache-ttl", "-1s"), nil); !errors.As(err, &cerr) || cerr.Key != "cache_ttl" {
		t.Errorf("Parse with a negative cache_ttl: %v, want an error naming cache_ttl", err)
	}
}

// TestPrecedence checks flag > env > YAML > JupyterHub env > default, one layer at a
// time: at each level the named source and all lower ones give a value, and the
// highest must win.
func TestPrecedence(t *testing.T) {
	type source struct {
		flag []string // command-line arguments
		env  string   // HUBGATE_<KEY> value
		yaml string   // YAML line
	}
	keys := []struct {
		key    string
		src    source
		get    func(*config.Config) string
		want   [5]string // flag, env, yaml, hub, default
		hasHub bool      // whether the JupyterHub env sets this key
	}{
		{
			key:    "listen",
			src:    source{flag: []string{"--listen", "127.0.0.1:1001"}, env: "127.0.0.1:1002", yaml: "listen: 127.0.0.1:1003"},
			get:    func(c *config.Config) string { return c.Listen },
			want:   [5]string{"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003", "127.0.0.1:10101", config.DefaultListen},
			hasHub: true,
		},
		{
			key:    "client_id",
			src:    source{flag: []string{"--client-id", "from-flag"}, env: "from-env", yaml: "client_id: from-yaml"},
			get:    func(c *config.Config) string { return c.ClientID },
			want:   [5]string{"from-flag", "from-env", "from-yaml", "service-gate", "standalone-id"},
			hasHub: true,
		},
		{
			key: "required_scopes",
			src: source{
				flag: []string{"--required-scopes", "flag-a", "--required-scopes", "flag-b"},
				env:  "env-a,env-b",
				yaml: "required_scopes: [yaml-a, yaml-b]",
			},
			get:    func(c *config.Config) string { return strings.Join(c.RequiredScopes, "|") },
			want:   [5]string{"flag-a|flag-b", "env-a|env-b", "yaml-a|yaml-b", "access:services|access:services!service=gate", ""},
			hasHub: true,
		},
		{
			key: "cookie_secret",
			src: source{
				flag: []string{"--cookie-secret", "F" + validSecret},
				env:  "E" + validSecret,
				yaml: "cookie_secret: Y" + validSecret,
			},
			get:    func(c *config.Config) string { return strings.Join(c.CookieSecrets, "|") },
			want:   [5]string{"F" + validSecret, "E" + validSecret, "Y" + validSecret, config.DeriveCookieSecret(hubEnv3()["JUPYTERHUB_API_TOKEN"]), ""},
			hasHub: true,
		},
		{
			key:  "cache_ttl",
			src:  source{flag: []string{"--cache-ttl", "11s"}, env: "12s", yaml: "cache_ttl: 13s"},
			get:  func(c *config.Config) string { return c.CacheTTL.String() },
			want: [5]string{"11s", "12s", "13s", "", config.DefaultCacheTTL.String()},
		},
		{
			key:  "cache_size",
			src:  source{flag: []string{"--cache-size", "11"}, env: "12", yaml: "cache_size: 13"},
			get:  func(c *config.Config) string { return fmt.Sprint(c.CacheSize) },
			want: [5]string{"11", "12", "13", "", fmt.Sprint(config.DefaultCacheSize)},
		},
		{
			key:  "pass_host_header",
			src:  source{flag: []string{"--pass-host-header=false"}, env: "true", yaml: "pass_host_header: false"},
			get:  func(c *config.Config) string { return fmt.Sprint(c.PassHostHeader) },
			want: [5]string{"false", "true", "false", "", "true"},
		},
	}
	levels := []string{"flag", "env", "yaml", "hub", "default"}
	for _, k := range keys {
		for level, name := range levels {
			if name == "hub" && !k.hasHub || name == "default" && k.key == "cookie_secret" {
				continue // no such layer for this key
			}
			t.Run(k.key+"/"+name, func(t *testing.T) {
				clearEnv(t)
				var args []string
				var env map[string]string
				if level <= 3 && k.hasHub || name == "hub" {
					env = hubEnv3()
					args = []string{"--upstream", "http://127.0.0.1:8080"}
				} else {
					// Standalone, with the defaults of the keys under test left alone.
					args = []string{
						"--upstream", "http://127.0.0.1:8080",
						"--hub-url", "http://127.0.0.1:8000",
						"--client-secret", "api-token-1234",
						"--redirect-url", "http://127.0.0.1:4180/oauth2/callback",
					}
					if k.key != "client_id" {
						args = append(args, "--client-id", "standalone-id")
					}
					if k.key != "cookie_secret" {
						args = append(args, "--cookie-secret", validSecret)
					}
				}
				if name == "default" && k.key == "client_id" {
					args = append(args, "--client-id", "standalone-id") // required: no default
				}
				if level <= 2 {
					args = append(args, "--config", writeYAML(t, k.src.yaml+"\n"))
				}
				if level <= 1 {
					t.Setenv(config.EnvName(k.key), k.src.env)
				}
				if level == 0 {
					args = append(args, k.src.flag...)
				}
				cfg := mustLoad(t, args, env)
				if got := k.get(cfg); got != k.want[level] {
					t.Errorf("%s at level %s = %q, want %q", k.key, name, got, k.want[level])
				}
			})
		}
	}
}

func TestLists(t *testing.T) {
	tests := []struct {
		name string
		env  string // HUBGATE_ALLOWED_GROUPS
		yaml string
		args []string
		want []string
	}{
		{name: "env comma-separated", env: "staff, admins,,physics ", want: []string{"staff", "admins", "physics"}},
		{name: "env single", env: "staff", want: []string{"staff"}},
		{name: "yaml list", yaml: "allowed_groups:\n  - staff\n  - admins\n", want: []string{"staff", "admins"}},
		{name: "yaml flow list", yaml: "allowed_groups: [staff, admins]\n", want: []string{"staff", "admins"}},
		{name: "yaml single string", yaml: "allowed_groups: staff\n", want: []string{"staff"}},
		{name: "yaml comma string", yaml: "allowed_groups: staff,admins\n", want: []string{"staff", "admins"}},
		{name: "yaml null", yaml: "allowed_groups:\n", want: nil},
		{name: "flag repeated", args: []string{"--allowed-groups", "staff", "--allowed-groups", "admins"}, want: []string{"staff", "admins"}},
		{name: "flag comma-separated", args: []string{"--allowed-groups", "staff,admins"}, want: []string{"staff", "admins"}},
		{name: "unset", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			args := append([]string{}, standalone...)
			args = append(args, tt.args...)
			if tt.env != "" {
				t.Setenv("HUBGATE_ALLOWED_GROUPS", tt.env)
			}
			if tt.yaml != "" {
				args = append(args, "--config", writeYAML(t, tt.yaml))
			}
			cfg := mustLoad(t, args, nil)
			if !reflect.DeepEqual(cfg.AllowedGroups, tt.want) {
				t.Errorf("AllowedGroups = %q, want %q", cfg.AllowedGroups, tt.want)
			}
		})
	}
}

func TestYAMLAllKeys(t *testing.T) {
	clearEnv(t)
	path := writeYAML(t, `
listen: 0.0.0.0:9000
upstream: unix:/run/app.sock
provider: jupyterhub
hub_url: https://hub.example.org/
hub_api_url: http://10.0.0.1:8081/hub/api/
client_id: service-app
client_secret: secret-token
redirect_url: https://app.example.org/oauth2/callback
cookie_secret: [`+validSecret+`, old`+validSecret+`]
cookie_name: _app
cookie_expire: 1h
cache_ttl: 30s
cache_size: 50
allowed_users: [alice, bob]
allowed_groups: staff
admin_users: [alice]
required_scopes: ["access:services!service=app"]
service_prefix: /app
prefix: /app/auth/
pass_access_token: true
pass_host_header: false
hub_logout: true
provider_timeout: 3s
upstream_timeout: 4s
header_timeout: 5s
body_idle_timeout: 6s
cross_origin_protection: false
trusted_origins: [https://App.example.org/, "http://127.0.0.1:8888"]
log_format: console
log_level: debug
`)
	cfg := mustLoad(t, []string{"--config", path}, nil)
	want := config.Config{
		Listen:          "0.0.0.0:9000",
		Upstream:        "unix:/run/app.sock",
		Provider:        "jupyterhub",
		HubURL:          "https://hub.example.org",
		HubAPIURL:       "http://10.0.0.1:8081/hub/api",
		ClientID:        "service-app",
		ClientSecret:    "secret-token",
		RedirectURL:     "https://app.example.org/oauth2/callback",
		CookieSecrets:   []string{validSecret, "old" + validSecret},
		CookieName:      "_app",
		CookieExpire:    time.Hour,
		CacheTTL:        30 * time.Second,
		CacheSize:       50,
		AllowedUsers:    []string{"alice", "bob"},
		AllowedGroups:   []string{"staff"},
		AdminUsers:      []string{"alice"},
		RequiredScopes:  []string{"access:services!service=app"},
		ServicePrefix:   "/app/",
		CookiePath:      "/app/",
		Prefix:          "/app/auth",
		PassAccessToken: true,
		PassHostHeader:  false,
		PassUserHeaders: true,
		SetXAuthRequest: true,
		HubLogout:       true,
		ProviderTimeout: 3 * time.Second,
		HeaderTimeout:   5 * time.Second,
		BodyIdleTimeout: 6 * time.Second,
		TrustedOrigins:  []string{"https://app.example.org", "http://127.0.0.1:8888"},
		UpstreamTimeout: 4 * time.Second,
		LogFormat:       "console",
		LogLevel:        "debug",
	}
	want = jupyterHubDefaults(want)
	want.CrossOrigin = false // cross_origin_protection: false
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("config =\n%+v\nwant\n%+v", *cfg, want)
	}
}

func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{name: "unknown key", yaml: "upstreem: http://x\n", want: []string{`"upstreem"`, "unknown key"}},
		{name: "dashed spelling", yaml: "cache-ttl: 5s\n", want: []string{`"cache-ttl"`, "unknown key"}},
		{name: "config key", yaml: "config: other.yaml\n", want: []string{`"config"`, "unknown key"}},
		{name: "duration word", yaml: "cache_ttl: abc\n", want: []string{"cache_ttl", "duration"}},
		{name: "duration number", yaml: "cache_ttl: 300\n", want: []string{"cache_ttl", "duration"}},
		{name: "int string", yaml: `cache_size: "x"` + "\n", want: []string{"cache_size", "whole number"}},
		{name: "int float", yaml: "cache_size: 1.5\n", want: []string{"cache_size", "whole number"}},
		{name: "bool string", yaml: `pass_access_token: "true"` + "\n", want: []string{"pass_access_token", "true or false"}},
		{name: "string int", yaml: "upstream: 8080\n", want: []string{"upstream", "string"}},
		{name: "string list", yaml: "client_id: [a, b]\n", want: []string{"client_id", "string"}},
		{name: "list of ints", yaml: "allowed_users: [1, 2]\n", want: []string{"allowed_users", "list of strings"}},
		{name: "list map", yaml: "allowed_users: {a: b}\n", want: []string{"allowed_users", "list of strings"}},
		{name: "not a map", yaml: "- a\n- b\n", want: []string{"config file"}},
		{name: "bad yaml", yaml: "a: [\n", want: []string{"config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			path := writeYAML(t, tt.yaml)
			_, err := load(t, append(append([]string{}, standalone...), "--config", path), nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestYAMLErrorsHideValues: a secret of the wrong YAML type (client_secret: 12345
// reads as a number) is named by its key and its type, never shown.
func TestYAMLErrorsHideValues(t *testing.T) {
	for _, yaml := range []string{
		"client_secret: 987654321\n",
		"client_secret: [s3cr3t-in-a-list]\n",
		"basic_auth_password: {s3cr3t-in-a-map: x}\n",
		"cookie_secret: [s3cr3t-0123456789abcdef0123456789abcdef, 987654321]\n",
		"token_params: {client_assertion: 987654321}\n",
	} {
		clearEnv(t)
		_, err := load(t, append(append([]string{}, standalone...), "--config", writeYAML(t, yaml)), nil)
		key, _, _ := strings.Cut(yaml, ":")
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("%q: err %v, want one naming %s", yaml, err, key)
		}
		for _, secret := range []string{"987654321", "s3cr3t"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%q: the error shows the value: %v", yaml, err)
			}
		}
	}
}

func TestMissingFile(t *testing.T) {
	clearEnv(t)
	_, err := load(t, append(append([]string{}, standalone...), "--config", filepath.Join(t.TempDir(), "nope.yaml")), nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

// without returns standalone minus the flag for key (and its value).
func without(key string) []string {
	flag := "--" + strings.ReplaceAll(key, "_", "-")
	var out []string
	for i := 0; i < len(standalone); i += 2 {
		if standalone[i] != flag {
			out = append(out, standalone[i], standalone[i+1])
		}
	}
	return out
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantKey string
	}{
		{"missing upstream", without("upstream"), "upstream"},
		{"missing hub_url", without("hub_url"), "hub_url"},
		{"missing client_id", without("client_id"), "client_id"},
		{"missing client_secret", without("client_secret"), "client_secret"},
		{"missing redirect_url", without("redirect_url"), "redirect_url"},
		{"missing cookie_secret", without("cookie_secret"), "cookie_secret"},
		{"short cookie secret", append(without("cookie_secret"), "--cookie-secret", validSecret[:31]), "cookie_secret"},
		{"short second cookie secret", append(without("cookie_secret"), "--cookie-secret", validSecret+","+"short"), "cookie_secret"},
		{"reserved cookie jupyterhub-session-id", append(standalone, "--cookie-name", "jupyterhub-session-id"), "cookie_name"},
		{"reserved cookie mixed case", append(standalone, "--cookie-name", "JupyterHub-Hub-Login"), "cookie_name"},
		{"reserved cookie sessionid", append(standalone, "--cookie-name", "sessionid"), "cookie_name"},
		{"reserved cookie csrftoken", append(standalone, "--cookie-name", "csrftoken"), "cookie_name"},
		{"reserved cookie _xsrf", append(standalone, "--cookie-name", "_xsrf"), "cookie_name"},
		{"invalid cookie name", append(standalone, "--cookie-name", "a;b"), "cookie_name"},
		{"empty cookie name", append(standalone, "--cookie-name", ""), "cookie_name"},
		{"upstream ftp", append(without("upstream"), "--upstream", "ftp://x"), "upstream"},
		{"upstream unix relative", append(without("upstream"), "--upstream", "unix:relative.sock"), "upstream"},
		{"upstream no host", append(without("upstream"), "--upstream", "http://"), "upstream"},
		{"upstream bare host", append(without("upstream"), "--upstream", "127.0.0.1:8080"), "upstream"},
		{"hub_url ftp", append(without("hub_url"), "--hub-url", "ftp://hub"), "hub_url"},
		{"hub_url path without api url", append(without("hub_url"), "--hub-url", "/jh"), "hub_url"},
		{"hub_api_url relative", append(standalone, "--hub-api-url", "/hub/api"), "hub_api_url"},
		{"listen without port", append(standalone, "--listen", "localhost"), "listen"},
		{"listen empty", append(standalone, "--listen", ""), "listen"},
		{"provider", append(standalone, "--provider", "nope"), "provider"},
		{"redirect_url ftp", append(without("redirect_url"), "--redirect-url", "ftp://x/cb"), "redirect_url"},
		{"redirect_url no path", append(without("redirect_url"), "--redirect-url", "http://x"), "redirect_url"},
		{"service_prefix relative", append(standalone, "--service-prefix", "app/"), "service_prefix"},
		{"prefix relative", append(standalone, "--prefix", "oauth2"), "prefix"},
		{"cache_ttl zero", append(standalone, "--cache-ttl", "0s"), "cache_ttl"},
		{"session_store unknown", append(standalone, "--session-store", "memcached"), "session_store"},
		{"cache_store unknown", append(standalone, "--cache-store", "disk"), "cache_store"},
		{"redis_url missing", append(standalone, "--session-store", "redis"), "redis_url"},
		{"redis_url missing for cache", append(standalone, "--cache-store", "redis"), "redis_url"},
		{"redis_url scheme", append(standalone, "--cache-store", "redis", "--redis-url", "http://127.0.0.1:6379"), "redis_url"},
		{"redis_url unused", append(standalone, "--redis-url", "redis://127.0.0.1:6379"), "redis_url"},
		{"redis_sentinel_master missing", append(standalone, "--session-store", "redis", "--redis-url", "redis://", "--redis-sentinel-addrs", "127.0.0.1:26379"), "redis_sentinel_master"},
		{"redis_sentinel_addrs bad", append(standalone, "--session-store", "redis", "--redis-url", "redis://", "--redis-sentinel-master", "m", "--redis-sentinel-addrs", "nohost"), "redis_sentinel_addrs"},
		{"cache_size zero", append(standalone, "--cache-size", "0"), "cache_size"},
		{"cookie_expire negative", append(standalone, "--cookie-expire", "-1h"), "cookie_expire"},
		{"provider_timeout zero", append(standalone, "--provider-timeout", "0s"), "provider_timeout"},
		{"upstream_timeout zero", append(standalone, "--upstream-timeout", "0s"), "upstream_timeout"},
		{"header_timeout zero", append(standalone, "--header-timeout", "0s"), "header_timeout"},
		{"body_idle_timeout negative", append(standalone, "--body-idle-timeout", "-1s"), "body_idle_timeout"},
		{"whitelist_domains with a scheme", append(standalone, "--whitelist-domains", "https://app.example.org"), "whitelist_domains"},
		{"whitelist_domains with a bad port", append(standalone, "--whitelist-domains", "app.example.org:http"), "whitelist_domains"},
		{"whitelist_domains only a dot", append(standalone, "--whitelist-domains", "."), "whitelist_domains"},
		{"trusted_origins without a scheme", append(standalone, "--trusted-origins", "app.example.org"), "trusted_origins"},
		{"trusted_origins with a path", append(standalone, "--trusted-origins", "https://app.example.org/app"), "trusted_origins"},
		{"trusted_origins not http", append(standalone, "--trusted-origins", "ftp://app.example.org"), "trusted_origins"},
		{"trusted_origins with a query", append(standalone, "--trusted-origins", "https://app.example.org?x"), "trusted_origins"},
		{"log_format", append(standalone, "--log-format", "xml"), "log_format"},
		{"log_level", append(standalone, "--log-level", "trace"), "log_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			_, err := load(t, tt.args, nil)
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *config.Error", err, err)
			}
			if ce.Key != tt.wantKey {
				t.Errorf("Key = %q, want %q (%v)", ce.Key, tt.wantKey, err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantKey+": ") {
				t.Errorf("message %q does not start with the key", err)
			}
		})
	}
}

func TestValidUpstreams(t *testing.T) {
	for _, up := range []string{"http://127.0.0.1:8080", "https://app.internal", "http://app:80/base/", "unix:/run/app.sock"} {
		t.Run(up, func(t *testing.T) {
			clearEnv(t)
			cfg := mustLoad(t, append(without("upstream"), "--upstream", up), nil)
			if cfg.Upstream != up {
				t.Errorf("Upstream = %q, want %q", cfg.Upstream, up)
			}
		})
	}
}

func TestManagedJupyterHub3(t *testing.T) {
	clearEnv(t)
	cfg := mustLoad(t, []string{"--upstream", "http://127.0.0.1:8080"}, hubEnv3())
	want := config.Config{
		Listen:          "127.0.0.1:10101",
		Upstream:        "http://127.0.0.1:8080",
		Provider:        "jupyterhub",
		HubURL:          "",
		HubAPIURL:       "http://127.0.0.1:8081/hub/api",
		ClientID:        "service-gate",
		ClientSecret:    "hub-api-token-for-gate",
		RedirectURL:     "/services/gate/oauth_callback",
		CookieSecrets:   []string{config.DeriveCookieSecret("hub-api-token-for-gate")},
		CookieName:      config.DefaultCookieName,
		CookieExpire:    168 * time.Hour,
		CacheTTL:        config.DefaultCacheTTL,
		CacheSize:       config.DefaultCacheSize,
		RequiredScopes:  []string{"access:services", "access:services!service=gate"},
		ServicePrefix:   "/services/gate/",
		CookiePath:      "/services/gate/",
		Prefix:          "/services/gate/oauth2",
		PassHostHeader:  true,
		PassUserHeaders: true,
		SetXAuthRequest: true,
		ProviderTimeout: 10 * time.Second,
		UpstreamTimeout: 60 * time.Second,
		HeaderTimeout:   10 * time.Second,
		BodyIdleTimeout: 30 * time.Second,
		LogFormat:       "json",
		LogLevel:        "info",
		Managed:         true,
	}
	want = jupyterHubDefaults(want)
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("config =\n%+v\nwant\n%+v", *cfg, want)
	}
	if s := cfg.CookieSecrets[0]; len(s) < 32 || strings.Contains(s, "hub-api-token-for-gate") {
		t.Errorf("derived cookie secret %q is short or contains the token", s)
	}
}

func TestManagedOnlyOldScopesVariable(t *testing.T) {
	clearEnv(t)
	env := hubEnv3()
	delete(env, "JUPYTERHUB_OAUTH_ACCESS_SCOPES")
	env["JUPYTERHUB_OAUTH_SCOPES"] = `["access:services!service=gate"]`
	cfg := mustLoad(t, []string{"--upstream", "http://127.0.0.1:8080"}, env)
	if want := []string{"access:services!service=gate"}; !reflect.DeepEqual(cfg.RequiredScopes, want) {
		t.Errorf("RequiredScopes = %q, want %q", cfg.RequiredScopes, want)
	}
}

func TestDeriveCookieSecret(t *testing.T) {
	a1, a2, b := config.DeriveCookieSecret("token-a"), config.DeriveCookieSecret("token-a"), config.DeriveCookieSecret("token-b")
	if a1 != a2 {
		t.Errorf("same token gave %q and %q", a1, a2)
	}
	if a1 == b {
		t.Errorf("different tokens gave the same secret %q", a1)
	}
	if len(a1) < 32 {
		t.Errorf("secret %q is shorter than 32", a1)
	}

	// The same through FromCLI: stable across runs, and following the token.
	clearEnv(t)
	args := []string{"--upstream", "http://127.0.0.1:8080"}
	env := hubEnv3()
	first := mustLoad(t, args, env).CookieSecrets
	second := mustLoad(t, args, env).CookieSecrets
	env["JUPYTERHUB_API_TOKEN"] = "another-token"
	other := mustLoad(t, args, env).CookieSecrets
	if !reflect.DeepEqual(first, second) {
		t.Errorf("cookie secret not stable: %q vs %q", first, second)
	}
	if reflect.DeepEqual(first, other) {
		t.Errorf("cookie secret did not change with the API token: %q", first)
	}
}

func TestManagedHubURL(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"3.0 relative", nil, ""},
		{"public hub url", map[string]string{"JUPYTERHUB_PUBLIC_HUB_URL": "https://hub.example.org/hub/"}, "https://hub.example.org"},
		{"public hub url with base", map[string]string{"JUPYTERHUB_BASE_URL": "/jh/", "JUPYTERHUB_PUBLIC_HUB_URL": "https://hub.example.org/jh/hub/"}, "https://hub.example.org/jh"},
		{"base url path", map[string]string{"JUPYTERHUB_BASE_URL": "/jh/"}, "/jh"},
		{"host and base", map[string]string{"JUPYTERHUB_HOST": "https://hub.example.org", "JUPYTERHUB_BASE_URL": "/"}, "https://hub.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			env := hubEnv3()
			for k, v := range tt.set {
				env[k] = v
			}
			cfg := mustLoad(t, []string{"--upstream", "http://127.0.0.1:8080"}, env)
			if cfg.HubURL != tt.want {
				t.Errorf("HubURL = %q, want %q", cfg.HubURL, tt.want)
			}
			if cfg.HubAPIURL != "http://127.0.0.1:8081/hub/api" {
				t.Errorf("HubAPIURL = %q, want the Hub's API URL", cfg.HubAPIURL)
			}
		})
	}
}

func TestExplicitBeatsHubEnv(t *testing.T) {
	tests := []struct {
		env  string
		val  string
		get  func(*config.Config) string
		want string
	}{
		{"HUBGATE_HUB_URL", "https://public.example.org", func(c *config.Config) string { return c.HubURL }, "https://public.example.org"},
		{"HUBGATE_LISTEN", "0.0.0.0:9999", func(c *config.Config) string { return c.Listen }, "0.0.0.0:9999"},
		{"HUBGATE_CLIENT_ID", "service-other", func(c *config.Config) string { return c.ClientID }, "service-other"},
		{"HUBGATE_CLIENT_SECRET", "explicit-secret", func(c *config.Config) string { return c.ClientSecret }, "explicit-secret"},
		{"HUBGATE_HUB_API_URL", "http://10.1.1.1:8081/hub/api", func(c *config.Config) string { return c.HubAPIURL }, "http://10.1.1.1:8081/hub/api"},
		{"HUBGATE_REDIRECT_URL", "https://gate.example.org/cb", func(c *config.Config) string { return c.RedirectURL }, "https://gate.example.org/cb"},
		{"HUBGATE_SERVICE_PREFIX", "/other/", func(c *config.Config) string { return c.ServicePrefix + " " + c.Prefix }, "/other/ /other/oauth2"},
		{"HUBGATE_COOKIE_SECRET", "X" + validSecret, func(c *config.Config) string { return strings.Join(c.CookieSecrets, ",") }, "X" + validSecret},
		{"HUBGATE_REQUIRED_SCOPES", "custom:scope", func(c *config.Config) string { return strings.Join(c.RequiredScopes, ",") }, "custom:scope"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.env, tt.val)
			cfg := mustLoad(t, []string{"--upstream", "http://127.0.0.1:8080"}, hubEnv3())
			if got := tt.get(cfg); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !cfg.Managed {
				t.Error("Managed = false, want true")
			}
		})
	}
}

func TestNotManagedWithoutHubEnv(t *testing.T) {
	for _, missing := range []string{"JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_CLIENT_ID"} {
		t.Run(missing, func(t *testing.T) {
			clearEnv(t)
			env := hubEnv3()
			delete(env, missing)
			cfg := mustLoad(t, standalone, env)
			if cfg.Managed {
				t.Error("Managed = true with an incomplete Hub environment")
			}
			if cfg.Listen != config.DefaultListen || cfg.ServicePrefix != "/" || cfg.RequiredScopes != nil {
				t.Errorf("Hub env leaked into a standalone config: %+v", cfg)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := config.EnvName("cache_ttl"); got != "HUBGATE_CACHE_TTL" {
		t.Errorf("EnvName = %q", got)
	}
}

func TestErrorMessage(t *testing.T) {
	e := &config.Error{Key: "cache_ttl", Msg: "must be positive"}
	if e.Error() != "cache_ttl: must be positive" {
		t.Errorf("Error() = %q", e.Error())
	}
}

// oidcDefaults are provider oidc's settings as every configuration has them.
func oidcDefaults() config.OIDC {
	return config.OIDC{
		UsernameClaim: "preferred_username",
		GroupsClaim:   "groups",
		EmailClaim:    "email",
		KeysMaxAge:    10 * time.Minute,
	}
}

// jupyterHubDefaults adds what every JupyterHub config has for the other providers'
// settings.
func jupyterHubDefaults(c config.Config) config.Config {
	c.OAuth = config.OAuth{
		UserdataMethod:       "GET",
		UserdataTokenMethod:  "header",
		ClientAuth:           "auto",
		UserdataParams:       map[string]string{},
		TokenParams:          map[string]string{},
		ExtraAuthorizeParams: map[string]string{},
	}
	c.OIDC = oidcDefaults()
	c.LoginService = "JupyterHub"
	c.SkipSignInPage = true
	c.CrossOrigin = true
	if c.AuthMode == "" {
		c.AuthMode = "request"
	}
	if c.ProviderMaxInFlight == 0 {
		c.ProviderMaxInFlight = 64
	}
	if c.SessionStore == "" {
		c.SessionStore = "cookie"
	}
	if c.CacheStore == "" {
		c.CacheStore = "memory"
	}
	if c.TrustedProxies == nil {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	c.UsernameMap = map[string]string{}
	if c.UpstreamHeaders == nil {
		c.UpstreamHeaders = map[string]string{}
	}
	return c
}

// TestManagedCookiesAndTLS: what 4.1+ and 5.x Hubs add to a service's environment.
func TestManagedCookiesAndTLS(t *testing.T) {
	tests := []struct {
		name                 string
		set                  map[string]string
		scheme, cookie, path string
		tlsCert, clientCert  string
		internalTLS          bool
	}{
		{"3.0: nothing new", nil, "", "_hubgate", "/services/gate/", "", "", false},
		{"https public URL", map[string]string{"JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/services/gate/"},
			"https", "_hubgate", "/services/gate/", "", "", false},
		{"http public URL, host prefix asked: no prefix", map[string]string{
			"JUPYTERHUB_PUBLIC_URL": "http://hub.example.org/services/gate/", "JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "1"},
			"http", "_hubgate", "/services/gate/", "", "", false},
		{"host prefix without a public URL: no prefix", map[string]string{"JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "1"},
			"", "_hubgate", "/services/gate/", "", "", false},
		{"https public URL and host prefix", map[string]string{
			"JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/services/gate/", "JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "1"},
			"https", "__Host-_hubgate", "/", "", "", false},
		{"host prefix 0", map[string]string{
			"JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/services/gate/", "JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "0"},
			"https", "_hubgate", "/services/gate/", "", "", false},
		{"internal_ssl", map[string]string{
			"JUPYTERHUB_SERVICE_URL": "https://127.0.0.1:10101", "JUPYTERHUB_SSL_CERTFILE": "/certs/gate.crt",
			"JUPYTERHUB_SSL_KEYFILE": "/certs/gate.key", "JUPYTERHUB_SSL_CLIENT_CA": "/certs/ca.crt"},
			"", "_hubgate", "/services/gate/", "/certs/gate.crt", "/certs/gate.crt", true},
		{"client certificate, plain http service URL", map[string]string{
			"JUPYTERHUB_SSL_CERTFILE": "/certs/gate.crt", "JUPYTERHUB_SSL_KEYFILE": "/certs/gate.key"},
			"", "_hubgate", "/services/gate/", "", "/certs/gate.crt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			env := hubEnv3()
			for k, v := range tt.set {
				env[k] = v
			}
			cfg := mustLoad(t, []string{"--upstream", "http://127.0.0.1:8080"}, env)
			if cfg.PublicScheme != tt.scheme || cfg.CookieName != tt.cookie || cfg.CookiePath != tt.path {
				t.Errorf("scheme %q cookie %q path %q, want %q %q %q", cfg.PublicScheme, cfg.CookieName, cfg.CookiePath,
					tt.scheme, tt.cookie, tt.path)
			}
			if cfg.TLSCertFile != tt.tlsCert || cfg.HubTLS.CertFile != tt.clientCert || cfg.InternalTLS != tt.internalTLS {
				t.Errorf("listener cert %q, client cert %q, internal TLS %v; want %q %q %v",
					cfg.TLSCertFile, cfg.HubTLS.CertFile, cfg.InternalTLS, tt.tlsCert, tt.clientCert, tt.internalTLS)
			}
			if tt.internalTLS && (cfg.TLSKeyFile != "/certs/gate.key" || cfg.HubTLS.CAFile != "/certs/ca.crt" || cfg.Listen != "127.0.0.1:10101") {
				t.Errorf("internal_ssl: key %q CA %q listen %q", cfg.TLSKeyFile, cfg.HubTLS.CAFile, cfg.Listen)
			}
		})
	}
}
