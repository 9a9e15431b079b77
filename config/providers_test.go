package config_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/config"
)

// oauthArgs is a complete set of flags for provider p, short of the provider's own keys.
func oauthArgs(p string, extra ...string) []string {
	return append([]string{
		"--upstream", "http://127.0.0.1:8080",
		"--provider", p,
		"--client-id", "hubgate-client",
		"--client-secret", "hubgate-secret",
		"--redirect-url", "http://127.0.0.1:4180/oauth2/callback",
		"--cookie-secret", validSecret,
	}, extra...)
}

// genericArgs adds the keys provider generic requires.
func genericArgs(extra ...string) []string {
	return oauthArgs("generic", append([]string{
		"--authorize-url", "https://idp.example.org/authorize",
		"--token-url", "https://idp.example.org/token",
		"--userdata-url", "https://idp.example.org/userdata",
	}, extra...)...)
}

// oauthDefaults is config.OAuth with the flag defaults every provider starts from.
func oauthDefaults(o config.OAuth) config.OAuth {
	if o.UserdataMethod == "" {
		o.UserdataMethod = "GET"
	}
	if o.UserdataTokenMethod == "" {
		o.UserdataTokenMethod = "header"
	}
	if o.ClientAuth == "" {
		o.ClientAuth = "auto"
	}
	for _, m := range []*map[string]string{&o.UserdataParams, &o.TokenParams, &o.ExtraAuthorizeParams} {
		if *m == nil {
			*m = map[string]string{}
		}
	}
	return o
}

func TestProviderPresets(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		want         config.OAuth
		loginService string
	}{
		{
			name: "django introspection",
			args: oauthArgs("django", "--provider-url", "https://www.example.org/"),
			want: config.OAuth{
				AuthorizeURL:  "https://www.example.org/o/authorize/",
				TokenURL:      "https://www.example.org/o/token/",
				IntrospectURL: "https://www.example.org/o/introspect/",
				UsernameKey:   "username",
			},
			loginService: "Django",
		},
		{
			name: "django under a path",
			args: oauthArgs("django", "--provider-url", "http://127.0.0.1:8000/site"),
			want: config.OAuth{
				AuthorizeURL:  "http://127.0.0.1:8000/site/o/authorize/",
				TokenURL:      "http://127.0.0.1:8000/site/o/token/",
				IntrospectURL: "http://127.0.0.1:8000/site/o/introspect/",
				UsernameKey:   "username",
			},
			loginService: "Django",
		},
		{
			name: "django userdata view",
			args: oauthArgs("django", "--provider-url", "https://www.example.org", "--userdata-url", "https://www.example.org/api/me/"),
			want: config.OAuth{
				AuthorizeURL: "https://www.example.org/o/authorize/",
				TokenURL:     "https://www.example.org/o/token/",
				UserdataURL:  "https://www.example.org/api/me/",
				UsernameKey:  "username",
				GroupsKey:    "groups",
				EmailKey:     "email",
			},
			loginService: "Django",
		},
		{
			name: "django overrides",
			args: oauthArgs("django", "--provider-url", "https://www.example.org", "--token-url", "http://10.0.0.1/o/token/",
				"--introspect-url", "http://10.0.0.1/o/introspect/", "--username-key", "user.name", "--login-service", "Our site"),
			want: config.OAuth{
				AuthorizeURL:  "https://www.example.org/o/authorize/",
				TokenURL:      "http://10.0.0.1/o/token/",
				IntrospectURL: "http://10.0.0.1/o/introspect/",
				UsernameKey:   "user.name",
			},
			loginService: "Our site",
		},
		{
			name: "github",
			args: oauthArgs("github"),
			want: config.OAuth{
				AuthorizeURL: "https://github.com/login/oauth/authorize",
				TokenURL:     "https://github.com/login/oauth/access_token",
				UserdataURL:  "https://api.github.com/user",
				UsernameKey:  "login",
				EmailKey:     "email",
				ClientAuth:   "params",
			},
			loginService: "GitHub",
		},
		{
			name: "github with organizations",
			args: oauthArgs("github", "--allowed-organizations", "hub-org,other", "--scope", "user:email"),
			want: config.OAuth{
				AuthorizeURL: "https://github.com/login/oauth/authorize",
				TokenURL:     "https://github.com/login/oauth/access_token",
				UserdataURL:  "https://api.github.com/user",
				UsernameKey:  "login",
				EmailKey:     "email",
				ClientAuth:   "params",
				Scopes:       []string{"user:email", "read:org"},
			},
			loginService: "GitHub",
		},
		{
			name: "github with organizations and read:org already",
			args: oauthArgs("github", "--allowed-organizations", "hub-org", "--scope", "read:org"),
			want: config.OAuth{
				AuthorizeURL: "https://github.com/login/oauth/authorize",
				TokenURL:     "https://github.com/login/oauth/access_token",
				UserdataURL:  "https://api.github.com/user",
				UsernameKey:  "login",
				EmailKey:     "email",
				ClientAuth:   "params",
				Scopes:       []string{"read:org"},
			},
			loginService: "GitHub",
		},
		{
			name: "github pointed at a fake, client_auth header kept",
			args: oauthArgs("github", "--authorize-url", "http://127.0.0.1:9999/login/oauth/authorize",
				"--token-url", "http://127.0.0.1:9999/login/oauth/access_token", "--userdata-url", "http://127.0.0.1:9999/api/v3/user",
				"--client-auth", "header"),
			want: config.OAuth{
				AuthorizeURL: "http://127.0.0.1:9999/login/oauth/authorize",
				TokenURL:     "http://127.0.0.1:9999/login/oauth/access_token",
				UserdataURL:  "http://127.0.0.1:9999/api/v3/user",
				UsernameKey:  "login",
				EmailKey:     "email",
				ClientAuth:   "header",
			},
			loginService: "GitHub",
		},
		{
			// No endpoints: provider google discovers them at its issuer (cfg.OIDC,
			// TestProviderGoogleNormalized).
			name:         "google",
			args:         oauthArgs("google", "--hosted-domain", "example.org"),
			want:         config.OAuth{Scopes: []string{"openid", "email"}},
			loginService: "Google",
		},
		{
			name:         "google with its own scopes",
			args:         oauthArgs("google", "--scope", "openid,email,profile"),
			want:         config.OAuth{Scopes: []string{"openid", "email", "profile"}},
			loginService: "Google",
		},
		{
			name:         "google: openid and email added to the scopes",
			args:         oauthArgs("google", "--scope", "profile"),
			want:         config.OAuth{Scopes: []string{"profile", "openid", "email"}},
			loginService: "Google",
		},
		{
			name: "generic",
			args: genericArgs("--groups-key", "profile.groups", "--userdata-method", "post", "--userdata-token-method", "url", "--client-auth", "params"),
			want: config.OAuth{
				AuthorizeURL:        "https://idp.example.org/authorize",
				TokenURL:            "https://idp.example.org/token",
				UserdataURL:         "https://idp.example.org/userdata",
				UserdataMethod:      "POST",
				UserdataTokenMethod: "url",
				UsernameKey:         "username",
				GroupsKey:           "profile.groups",
				ClientAuth:          "params",
			},
			loginService: "OAuth 2.0",
		},
		{
			name: "generic with introspection only",
			args: oauthArgs("generic", "--authorize-url", "https://idp.example.org/authorize", "--token-url", "https://idp.example.org/token",
				"--introspect-url", "https://idp.example.org/introspect"),
			want: config.OAuth{
				AuthorizeURL:  "https://idp.example.org/authorize",
				TokenURL:      "https://idp.example.org/token",
				IntrospectURL: "https://idp.example.org/introspect",
				UsernameKey:   "username",
			},
			loginService: "OAuth 2.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			cfg := mustLoad(t, tt.args, nil)
			want := oauthDefaults(tt.want)
			if !reflect.DeepEqual(cfg.OAuth, want) {
				t.Errorf("OAuth =\n%+v\nwant\n%+v", cfg.OAuth, want)
			}
			if cfg.LoginService != tt.loginService {
				t.Errorf("LoginService = %q, want %q", cfg.LoginService, tt.loginService)
			}
		})
	}
}

// loadErr loads args and returns the *config.Error, failing unless there is one.
func loadErr(t *testing.T, args []string) *config.Error {
	t.Helper()
	_, err := load(t, args, nil)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want *config.Error", err, err)
	}
	if !strings.HasPrefix(err.Error(), ce.Key+": ") {
		t.Errorf("message %q does not start with the key", err)
	}
	return ce
}

// withoutFlag drops flag and its value from args.
func withoutFlag(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func TestProviderRequiredKeys(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantKey string
	}{
		{"django without provider_url", oauthArgs("django"), "provider_url"},
		{"django provider_url not http", oauthArgs("django", "--provider-url", "ftp://www.example.org"), "provider_url"},
		{"django provider_url without host", oauthArgs("django", "--provider-url", "/o/"), "provider_url"},
		{"generic without authorize_url", withoutFlag(genericArgs(), "--authorize-url"), "authorize_url"},
		{"generic without token_url", withoutFlag(genericArgs(), "--token-url"), "token_url"},
		{"generic without userdata_url", withoutFlag(genericArgs(), "--userdata-url"), "userdata_url"},
		{"generic authorize_url relative", genericArgs("--authorize-url", "/authorize"), "authorize_url"},
		{"generic token_url not a URL", genericArgs("--token-url", "idp.example.org/token"), "token_url"},
		{"generic userdata_url ftp", genericArgs("--userdata-url", "ftp://idp.example.org/u"), "userdata_url"},
		{"django introspect_url bad", oauthArgs("django", "--provider-url", "https://www.example.org", "--introspect-url", "introspect"), "introspect_url"},
		{"github userdata_url bad", oauthArgs("github", "--userdata-url", "api.github.com/user"), "userdata_url"},
		{"github without client_id", withoutFlag(oauthArgs("github"), "--client-id"), "client_id"},
		{"google without client_secret", withoutFlag(oauthArgs("google"), "--client-secret"), "client_secret"},
		{"github without redirect_url", withoutFlag(oauthArgs("github"), "--redirect-url"), "redirect_url"},
		{"unknown provider", oauthArgs("gitlab"), "provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if ce := loadErr(t, tt.args); ce.Key != tt.wantKey {
				t.Errorf("Key = %q, want %q (%v)", ce.Key, tt.wantKey, ce)
			}
		})
	}
}

func TestProviderNoHubURLNeeded(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{oauthArgs("github"), oauthArgs("google"), genericArgs(), oauthArgs("django", "--provider-url", "https://www.example.org")} {
		if slices.Contains(args, "--hub-url") {
			t.Fatal("test setup has a hub_url")
		}
		mustLoad(t, args, nil)
	}
}

func TestProviderAccessOptions(t *testing.T) {
	hub := append(append([]string{}, standalone...), "--provider", "jupyterhub")
	django := oauthArgs("django", "--provider-url", "https://www.example.org")
	djangoUserdata := oauthArgs("django", "--provider-url", "https://www.example.org", "--userdata-url", "https://www.example.org/api/me/")
	introspect := oauthArgs("generic", "--authorize-url", "https://idp.example.org/authorize", "--token-url", "https://idp.example.org/token",
		"--introspect-url", "https://idp.example.org/introspect")
	with := func(base []string, extra ...string) []string { return append(append([]string{}, base...), extra...) }
	tests := []struct {
		name    string
		args    []string
		wantKey string // "" when valid
		mention string // in the message
	}{
		{"allowed_groups with jupyterhub", with(hub, "--allowed-groups", "staff"), "", ""},
		{"allowed_groups with github", with(oauthArgs("github"), "--allowed-groups", "staff"), "allowed_groups", "allowed_organizations"},
		{"allowed_groups with github and groups_key", with(oauthArgs("github"), "--allowed-groups", "staff", "--groups-key", "company"), "", ""},
		{"allowed_groups with google", with(oauthArgs("google"), "--allowed-groups", "staff"), "allowed_groups", "hosted_domain"},
		{"allowed_groups with django introspection", with(django, "--allowed-groups", "staff"), "allowed_groups", "userdata_url"},
		{"allowed_groups with django introspection and groups_key", with(django, "--allowed-groups", "staff", "--groups-key", "groups"), "allowed_groups", ""},
		{"allowed_groups with django userdata", with(djangoUserdata, "--allowed-groups", "staff"), "", ""},
		{"allowed_groups with generic, no groups_key", with(genericArgs(), "--allowed-groups", "staff"), "allowed_groups", "groups_key"},
		{"allowed_groups with generic and groups_key", with(genericArgs("--groups-key", "groups"), "--allowed-groups", "staff"), "", ""},
		{"allowed_groups with generic introspection", with(introspect, "--allowed-groups", "staff", "--groups-key", "groups"), "allowed_groups", ""},
		{"required_scopes with jupyterhub", with(hub, "--required-scopes", "access:services"), "", ""},
		{"required_scopes with django introspection", with(django, "--required-scopes", "read"), "", ""},
		{"required_scopes with generic introspection", with(introspect, "--required-scopes", "read"), "", ""},
		{"required_scopes with django userdata", with(djangoUserdata, "--required-scopes", "read"), "required_scopes", ""},
		{"required_scopes with generic userdata", with(genericArgs(), "--required-scopes", "read"), "required_scopes", ""},
		{"required_scopes with github", with(oauthArgs("github"), "--required-scopes", "read:org"), "required_scopes", ""},
		{"required_scopes with google", with(oauthArgs("google"), "--required-scopes", "email"), "required_scopes", ""},
		{"allowed_organizations with github", with(oauthArgs("github"), "--allowed-organizations", "hub-org"), "", ""},
		{"allowed_organizations with google", with(oauthArgs("google"), "--allowed-organizations", "hub-org"), "allowed_organizations", ""},
		{"allowed_organizations with django", with(django, "--allowed-organizations", "hub-org"), "allowed_organizations", ""},
		{"allowed_organizations with generic", with(genericArgs(), "--allowed-organizations", "hub-org"), "allowed_organizations", ""},
		{"allowed_organizations with jupyterhub", with(hub, "--allowed-organizations", "hub-org"), "allowed_organizations", ""},
		{"hosted_domain with google", with(oauthArgs("google"), "--hosted-domain", "example.org"), "", ""},
		{"hosted_domain with github", with(oauthArgs("github"), "--hosted-domain", "example.org"), "hosted_domain", ""},
		{"hosted_domain with django", with(djangoUserdata, "--hosted-domain", "example.org"), "hosted_domain", ""},
		{"hosted_domain with generic", with(genericArgs(), "--hosted-domain", "example.org"), "hosted_domain", ""},
		{"hosted_domain with jupyterhub", with(hub, "--hosted-domain", "example.org"), "hosted_domain", ""},
		{"allowed_users with every provider", with(oauthArgs("google"), "--allowed-users", "alice@example.org"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.wantKey == "" {
				mustLoad(t, tt.args, nil)
				return
			}
			wantKeyError(t, tt.args, tt.wantKey, tt.mention)
		})
	}
}

func TestProviderEnumValues(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantKey string
	}{
		{"userdata_method PUT", genericArgs("--userdata-method", "PUT"), "userdata_method"},
		{"userdata_method empty", genericArgs("--userdata-method", ""), "userdata_method"},
		{"userdata_method post", genericArgs("--userdata-method", "post"), ""},
		{"userdata_token_method query", genericArgs("--userdata-token-method", "query"), "userdata_token_method"},
		{"userdata_token_method Header", genericArgs("--userdata-token-method", "Header"), "userdata_token_method"},
		{"userdata_token_method url", genericArgs("--userdata-token-method", "url"), ""},
		{"client_auth basic", genericArgs("--client-auth", "basic"), "client_auth"},
		{"client_auth empty", genericArgs("--client-auth", ""), "client_auth"},
		{"client_auth header", genericArgs("--client-auth", "header"), ""},
		{"client_auth params", genericArgs("--client-auth", "params"), ""},
		{"github client_auth bad", oauthArgs("github", "--client-auth", "form"), "client_auth"},
		{"django userdata_method bad", oauthArgs("django", "--provider-url", "https://www.example.org", "--userdata-method", "PATCH"), "userdata_method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.wantKey == "" {
				mustLoad(t, tt.args, nil)
				return
			}
			if ce := loadErr(t, tt.args); ce.Key != tt.wantKey {
				t.Errorf("Key = %q, want %q (%v)", ce.Key, tt.wantKey, ce)
			}
		})
	}
}

// The four key=value settings, as YAML mappings, environment variables and flags.
func TestProviderPairs(t *testing.T) {
	type maps struct{ usernameMap, tokenParams, userdataParams, authParams map[string]string }
	get := func(c *config.Config) maps {
		return maps{c.UsernameMap, c.OAuth.TokenParams, c.OAuth.UserdataParams, c.OAuth.ExtraAuthorizeParams}
	}
	empty := map[string]string{}
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		args []string
		want maps
	}{
		{
			name: "yaml mappings",
			yaml: `username_map:
  Alice: alice
  bob.smith: bsmith
token_params: {audience: "https://app.example.org", resource: hub}
userdata_params:
  format: json
extra_authorize_params: {access_type: offline, prompt: consent, hd: example.org}
`,
			want: maps{
				usernameMap:    map[string]string{"Alice": "alice", "bob.smith": "bsmith"},
				tokenParams:    map[string]string{"audience": "https://app.example.org", "resource": "hub"},
				userdataParams: map[string]string{"format": "json"},
				authParams:     map[string]string{"access_type": "offline", "prompt": "consent", "hd": "example.org"},
			},
		},
		{
			name: "yaml empty mappings",
			yaml: "username_map: {}\ntoken_params: {}\nuserdata_params: {}\nextra_authorize_params: {}\n",
			want: maps{empty, empty, empty, empty},
		},
		{
			name: "yaml value with = and spaces",
			yaml: "userdata_params: {filter: \"a=b\"}\nextra_authorize_params: {prompt: \"consent select_account\"}\n",
			want: maps{
				usernameMap: empty, tokenParams: empty,
				userdataParams: map[string]string{"filter": "a=b"},
				authParams:     map[string]string{"prompt": "consent select_account"},
			},
		},
		{
			name: "yaml values with commas",
			yaml: "userdata_params: {fields: \"id,name,email\"}\nusername_map: {\"Smith, John\": jsmith}\n",
			want: maps{
				usernameMap: map[string]string{"Smith, John": "jsmith"}, tokenParams: empty, authParams: empty,
				userdataParams: map[string]string{"fields": "id,name,email"},
			},
		},
		{
			name: "yaml list of pairs",
			yaml: "token_params: [audience=hub, resource=x]\n",
			want: maps{usernameMap: empty, tokenParams: map[string]string{"audience": "hub", "resource": "x"}, userdataParams: empty, authParams: empty},
		},
		{
			name: "environment",
			env: map[string]string{
				"HUBGATE_USERNAME_MAP":           "Alice=alice,bob=robert",
				"HUBGATE_TOKEN_PARAMS":           "audience=hub",
				"HUBGATE_USERDATA_PARAMS":        "format=json, fields=login",
				"HUBGATE_EXTRA_AUTHORIZE_PARAMS": "access_type=offline,prompt=consent",
			},
			want: maps{
				usernameMap:    map[string]string{"Alice": "alice", "bob": "robert"},
				tokenParams:    map[string]string{"audience": "hub"},
				userdataParams: map[string]string{"format": "json", "fields": "login"},
				authParams:     map[string]string{"access_type": "offline", "prompt": "consent"},
			},
		},
		{
			name: "flags",
			args: []string{
				"--username-map", "Alice=alice", "--username-map", "bob=robert",
				"--token-params", "audience=hub,resource=x",
				"--userdata-params", "filter=a=b",
				"--extra-authorize-params", "access_type=offline",
			},
			want: maps{
				usernameMap:    map[string]string{"Alice": "alice", "bob": "robert"},
				tokenParams:    map[string]string{"audience": "hub", "resource": "x"},
				userdataParams: map[string]string{"filter": "a=b"},
				authParams:     map[string]string{"access_type": "offline"},
			},
		},
		{
			name: "flag beats yaml",
			yaml: "token_params: {audience: from-yaml}\n",
			args: []string{"--token-params", "audience=from-flag"},
			want: maps{usernameMap: empty, tokenParams: map[string]string{"audience": "from-flag"}, userdataParams: empty, authParams: empty},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			args := genericArgs(tt.args...)
			if tt.yaml != "" {
				args = append(args, "--config", writeYAML(t, tt.yaml))
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got := get(mustLoad(t, args, nil))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestProviderBadPairs(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		yaml string
		key  string
	}{
		{name: "env novalue", env: map[string]string{"HUBGATE_USERDATA_PARAMS": "novalue"}, key: "userdata_params"},
		{name: "env second item bad", env: map[string]string{"HUBGATE_TOKEN_PARAMS": "a=1,novalue"}, key: "token_params"},
		{name: "flag novalue", args: []string{"--extra-authorize-params", "novalue"}, key: "extra_authorize_params"},
		{name: "flag empty key", args: []string{"--token-params", "=x"}, key: "token_params"},
		{name: "username_map novalue", args: []string{"--username-map", "alice"}, key: "username_map"},
		{name: "username_map to empty", args: []string{"--username-map", "alice="}, key: "username_map"},
		{name: "yaml list with novalue", yaml: "token_params: [novalue]\n", key: "token_params"},
		{name: "yaml username_map to empty", yaml: "username_map: {alice: \"\"}\n", key: "username_map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			args := genericArgs(tt.args...)
			if tt.yaml != "" {
				args = append(args, "--config", writeYAML(t, tt.yaml))
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ce := loadErr(t, args)
			if ce.Key != tt.key {
				t.Errorf("Key = %q, want %q (%v)", ce.Key, tt.key, ce)
			}
		})
	}
}

// YAML mapping values must be strings; the error names the key (from the file loader,
// so not a *config.Error).
func TestProviderYAMLMappingTypes(t *testing.T) {
	tests := []struct{ name, yaml, key string }{
		{"number value", "token_params: {max_age: 5}\n", "token_params"},
		{"bool value", "extra_authorize_params: {include_granted_scopes: true}\n", "extra_authorize_params"},
		{"nested mapping", "userdata_params: {a: {b: c}}\n", "userdata_params"},
		{"mapping for a plain list key", "allowed_users: {alice: bob}\n", "allowed_users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			_, err := load(t, genericArgs("--config", writeYAML(t, tt.yaml)), nil)
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("err = %v, want one naming %s", err, tt.key)
			}
		})
	}
}

// TestProviderOIDCErrors: each refusal of provider oidc's checks (and of the oidc-only
// keys elsewhere) names its key and says what to do.
func TestProviderOIDCErrors(t *testing.T) {
	issuer := "https://sso.example.org/realms/main"
	oidc := func(extra ...string) []string {
		return oauthArgs("oidc", append([]string{"--oidc-issuer-url", issuer}, extra...)...)
	}
	hub := append(append([]string{}, standalone...), "--provider", "jupyterhub")
	with := func(base []string, extra ...string) []string { return append(append([]string{}, base...), extra...) }
	tests := []struct {
		name, wantKey string
		args          []string
		mention       string // in the message
	}{
		{"no issuer", "oidc_issuer_url", oauthArgs("oidc"), "required"},
		{"issuer ftp", "oidc_issuer_url", oauthArgs("oidc", "--oidc-issuer-url", "ftp://sso.example.org"), "http(s)"},
		{"issuer without host", "oidc_issuer_url", oauthArgs("oidc", "--oidc-issuer-url", "https:///realms/main"), "http(s)"},
		{"authorize_url", "authorize_url", oidc("--authorize-url", "https://x.example/a"), "oidc_issuer_url"},
		{"token_url", "token_url", oidc("--token-url", "https://x.example/t"), "oidc_issuer_url"},
		{"userdata_url", "userdata_url", oidc("--userdata-url", "https://x.example/u"), "oidc_issuer_url"},
		{"introspect_url", "introspect_url", oidc("--introspect-url", "https://x.example/i"), "oidc_issuer_url"},
		{"username_key", "username_key", oidc("--username-key", "login"), "username_claim"},
		{"groups_key", "groups_key", oidc("--groups-key", "teams"), "groups_claim"},
		{"email_key", "email_key", oidc("--email-key", "mail"), "email_claim"},
		{"empty username_claim", "username_claim", oidc("--username-claim", ""), "preferred_username"},
		{"oidc_jwks_max_age 999ms", "oidc_jwks_max_age", oidc("--oidc-jwks-max-age", "999ms"), "1s"},
		{"oidc_jwks_max_age 0", "oidc_jwks_max_age", oidc("--oidc-jwks-max-age", "0s"), "1s"},
		{"extra_jwt_issuers without audience", "extra_jwt_issuers", oidc("--extra-jwt-issuers", "https://x"), "issuer_url=audience"},
		{"extra_jwt_issuers without issuer", "extra_jwt_issuers", oidc("--extra-jwt-issuers", "=aud"), "issuer_url=audience"},
		{"extra_jwt_issuers empty audience", "extra_jwt_issuers", oidc("--extra-jwt-issuers", "https://x="), "issuer_url=audience"},
		{"extra_jwt_issuers ftp", "extra_jwt_issuers", oidc("--extra-jwt-issuers", "ftp://x=aud"), "http(s)"},
		{"extra_jwt_issuers second bad", "extra_jwt_issuers", oidc("--extra-jwt-issuers", "https://x=aud", "--extra-jwt-issuers", "https://y"), "https://y"},
		{"allowed_groups without groups_claim", "allowed_groups", oidc("--groups-claim", "", "--allowed-groups", "staff"), "groups_claim"},
		{"required_scopes", "required_scopes", oidc("--required-scopes", "read"), "OpenID Connect"},
		{"allowed_organizations", "allowed_organizations", oidc("--allowed-organizations", "org"), "github"},
		{"hosted_domain", "hosted_domain", oidc("--hosted-domain", "example.org"), "google"},
		{"oidc_issuer_url with jupyterhub", "oidc_issuer_url", with(hub, "--oidc-issuer-url", issuer), "only provider oidc"},
		{"skip_jwt_bearer_tokens with jupyterhub", "skip_jwt_bearer_tokens", with(hub, "--skip-jwt-bearer-tokens"), "only provider oidc"},
		{"extra_jwt_issuers with generic", "extra_jwt_issuers", with(genericArgs(), "--extra-jwt-issuers", "https://x=aud"), "only provider oidc"},
		{"oidc_logout with jupyterhub", "oidc_logout", with(hub, "--oidc-logout"), "only provider oidc"},
		{"oidc_logout with generic", "oidc_logout", with(genericArgs(), "--oidc-logout"), "only provider oidc"},
		{"oidc_extra_audiences with generic", "oidc_extra_audiences", with(genericArgs(), "--oidc-extra-audiences", "account"), "only provider oidc"},
		{"oidc_allow_unverified_email with generic", "oidc_allow_unverified_email", with(genericArgs(), "--oidc-allow-unverified-email"), "only provider oidc"},
		{"oidc_allow_unverified_email with jupyterhub", "oidc_allow_unverified_email", with(hub, "--oidc-allow-unverified-email"), "only provider oidc"},
		{"oidc_issuer_url with django", "oidc_issuer_url", with(oauthArgs("django", "--provider-url", "https://www.example.org"), "--oidc-issuer-url", issuer), "only provider oidc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			wantKeyError(t, tt.args, tt.wantKey, tt.mention)
		})
	}
}

// TestProviderGoogleErrors: provider google is provider oidc at Google's issuer; the
// keys that would point it elsewhere or choose other claims are refused, naming the key.
func TestProviderGoogleErrors(t *testing.T) {
	google := func(extra ...string) []string { return oauthArgs("google", extra...) }
	tests := []struct {
		name, wantKey string
		args          []string
		mention       string // in the message
	}{
		{"oidc_issuer_url", "oidc_issuer_url", google("--oidc-issuer-url", "https://accounts.google.com"), "provider oidc"},
		{"authorize_url", "authorize_url", google("--authorize-url", "https://accounts.google.com/o/oauth2/v2/auth"), "https://accounts.google.com"},
		{"token_url", "token_url", google("--token-url", "https://oauth2.googleapis.com/token"), "remove token_url"},
		{"token_url bad", "token_url", google("--token-url", "https//oauth2.googleapis.com/token"), "remove token_url"},
		{"userdata_url", "userdata_url", google("--userdata-url", "https://openidconnect.googleapis.com/v1/userinfo"), "remove userdata_url"},
		{"introspect_url", "introspect_url", google("--introspect-url", "https://x.example/i"), "remove introspect_url"},
		{"username_key", "username_key", google("--username-key", "sub"), "e-mail"},
		{"groups_key", "groups_key", google("--groups-key", "groups"), "no groups"},
		{"email_key", "email_key", google("--email-key", "mail"), "remove email_key"},
		{"username_claim", "username_claim", google("--username-claim", "sub"), "e-mail"},
		{"groups_claim", "groups_claim", google("--groups-claim", "roles"), "no groups"},
		{"email_claim", "email_claim", google("--email-claim", "mail"), "remove email_claim"},
		{"oidc_jwks_max_age 0", "oidc_jwks_max_age", google("--oidc-jwks-max-age", "0s"), "1s"},
		{"oidc_extra_audiences", "oidc_extra_audiences", google("--oidc-extra-audiences", "account"), "only provider oidc"},
		{"skip_jwt_bearer_tokens", "skip_jwt_bearer_tokens", google("--skip-jwt-bearer-tokens"), "only provider oidc"},
		{"extra_jwt_issuers", "extra_jwt_issuers", google("--extra-jwt-issuers", "https://x=aud"), "only provider oidc"},
		{"oidc_logout", "oidc_logout", google("--oidc-logout"), "only provider oidc"},
		{"oidc_allow_unverified_email", "oidc_allow_unverified_email", google("--oidc-allow-unverified-email"), "only provider oidc"},
		{"allowed_groups", "allowed_groups", google("--allowed-groups", "staff"), "hosted_domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			wantKeyError(t, tt.args, tt.wantKey, tt.mention)
		})
	}
}

// TestProviderGoogleNormalized: provider google takes Google's login name and
// scopes, and leaves the issuer and the claims to the provider.
func TestProviderGoogleNormalized(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"defaults", oauthArgs("google")},
		{"the claims' own values", oauthArgs("google", "--username-claim", "email", "--groups-claim", "", "--email-claim", "email")},
		{"the claims' defaults", oauthArgs("google", "--username-claim", "preferred_username", "--groups-claim", "groups")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			cfg := mustLoad(t, tt.args, nil)
			// The issuer and the claims are provider.NewGoogle's (TestNewProviderGoogle).
			if cfg.OIDC.IssuerURL != "" || cfg.LoginService != "Google" || !slices.Equal(cfg.OAuth.Scopes, []string{"openid", "email"}) {
				t.Errorf("issuer %q, login service %q, scopes %v", cfg.OIDC.IssuerURL, cfg.LoginService, cfg.OAuth.Scopes)
			}
		})
	}
	t.Run("hosted_domain, the hd hint, admin_key, oidc_jwks_max_age", func(t *testing.T) {
		clearEnv(t)
		cfg := mustLoad(t, oauthArgs("google", "--hosted-domain", "example.org", "--extra-authorize-params", "hd=example.org",
			"--admin-key", "is_admin", "--oidc-jwks-max-age", "1h"), nil)
		if !slices.Equal(cfg.HostedDomains, []string{"example.org"}) || cfg.OAuth.ExtraAuthorizeParams["hd"] != "example.org" ||
			cfg.OAuth.AdminKey != "is_admin" || cfg.OIDC.KeysMaxAge != time.Hour {
			t.Errorf("HostedDomains %v, ExtraAuthorizeParams %v, AdminKey %q, KeysMaxAge %v", cfg.HostedDomains, cfg.OAuth.ExtraAuthorizeParams, cfg.OAuth.AdminKey, cfg.OIDC.KeysMaxAge)
		}
	})
}

// TestProviderOIDCNormalized: what a valid provider oidc configuration becomes.
func TestProviderOIDCNormalized(t *testing.T) {
	issuer := "https://sso.example.org/realms/main"
	oidc := func(extra ...string) []string {
		return oauthArgs("oidc", append([]string{"--oidc-issuer-url", issuer}, extra...)...)
	}
	t.Run("defaults", func(t *testing.T) {
		clearEnv(t)
		cfg := mustLoad(t, oidc(), nil)
		want := oidcDefaults()
		want.IssuerURL = issuer
		if !reflect.DeepEqual(cfg.OIDC, want) {
			t.Errorf("OIDC =\n%+v\nwant\n%+v", cfg.OIDC, want)
		}
		wantOAuth := oauthDefaults(config.OAuth{Scopes: []string{"openid", "email", "profile"}})
		if !reflect.DeepEqual(cfg.OAuth, wantOAuth) {
			t.Errorf("OAuth =\n%+v\nwant\n%+v (no endpoints: discovery gives them)", cfg.OAuth, wantOAuth)
		}
		if cfg.LoginService != "OpenID Connect" {
			t.Errorf("LoginService = %q", cfg.LoginService)
		}
	})
	for _, tt := range []struct {
		name   string
		args   []string
		scopes string
	}{
		{"openid added", oidc("--scope", "email,groups"), "email groups openid"},
		{"openid kept where it is", oidc("--scope", "profile,openid"), "profile openid"},
		{"openid alone", oidc("--scope", "openid"), "openid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if got := strings.Join(mustLoad(t, tt.args, nil).OAuth.Scopes, " "); got != tt.scopes {
				t.Errorf("scopes %q, want %q", got, tt.scopes)
			}
		})
	}
	t.Run("every key", func(t *testing.T) {
		clearEnv(t)
		cfg := mustLoad(t, oidc("--username-claim", "sub", "--groups-claim", "realm_access.roles", "--email-claim", "mail",
			"--oidc-extra-audiences", "account,api", "--oidc-allow-unverified-email", "--skip-jwt-bearer-tokens",
			"--extra-jwt-issuers", " https://other.example.org = api ", "--extra-jwt-issuers", "https://third.example.org/=hub",
			"--oidc-logout", "--oidc-jwks-max-age", "1s", "--login-service", "Our SSO", "--allowed-groups", "staff",
			"--admin-key", "is_admin"), nil)
		o := cfg.OIDC
		if o.UsernameClaim != "sub" || o.GroupsClaim != "realm_access.roles" || o.EmailClaim != "mail" ||
			!slices.Equal(o.ExtraAudiences, []string{"account", "api"}) || !o.AllowUnverifiedEmail || !o.SkipJWTBearerTokens ||
			!o.Logout || o.KeysMaxAge != time.Second {
			t.Errorf("OIDC = %+v", o)
		}
		if len(o.ExtraJWTIssuers) != 2 || o.ExtraJWTIssuers[0].Issuer != "https://other.example.org" || o.ExtraJWTIssuers[0].Audience != "api" ||
			o.ExtraJWTIssuers[1].Issuer != "https://third.example.org/" || o.ExtraJWTIssuers[1].Audience != "hub" {
			t.Errorf("ExtraJWTIssuers = %+v (trimmed, trailing slash kept)", o.ExtraJWTIssuers)
		}
		if cfg.LoginService != "Our SSO" || cfg.OAuth.AdminKey != "is_admin" {
			t.Errorf("LoginService %q, AdminKey %q", cfg.LoginService, cfg.OAuth.AdminKey)
		}
	})
	t.Run("allowed_groups with the default groups_claim", func(t *testing.T) {
		clearEnv(t)
		cfg := mustLoad(t, oidc("--allowed-groups", "staff"), nil)
		if cfg.OIDC.GroupsClaim != "groups" || !slices.Equal(cfg.AllowedGroups, []string{"staff"}) {
			t.Errorf("groups_claim %q, allowed_groups %v", cfg.OIDC.GroupsClaim, cfg.AllowedGroups)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		clearEnv(t)
		cfg := mustLoad(t, oauthArgs("oidc", "--config", writeYAML(t, `oidc_issuer_url: `+issuer+`
extra_jwt_issuers: ["https://other.example.org=api"]
oidc_extra_audiences: [account]
oidc_jwks_max_age: 90s
`)), nil)
		if cfg.OIDC.IssuerURL != issuer || len(cfg.OIDC.ExtraJWTIssuers) != 1 || cfg.OIDC.KeysMaxAge != 90*time.Second ||
			!slices.Equal(cfg.OIDC.ExtraAudiences, []string{"account"}) {
			t.Errorf("OIDC = %+v", cfg.OIDC)
		}
	})
}

// wantKeyError: loading args fails naming key, with mention (if any) in the message.
func wantKeyError(t *testing.T, args []string, key, mention string) {
	t.Helper()
	ce := loadErr(t, args)
	if ce.Key != key {
		t.Errorf("Key = %q, want %q (%v)", ce.Key, key, ce)
	}
	if !strings.Contains(ce.Msg, mention) {
		t.Errorf("message %q does not mention %q", ce.Msg, mention)
	}
}
