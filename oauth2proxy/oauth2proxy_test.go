package oauth2proxy

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/hubgate/hubgate/config"
)

func noFiles(name string) ([]byte, error) { return nil, fs.ErrNotExist }

func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if v, ok := m[name]; ok {
			return []byte(v), nil
		}
		if data, err := os.ReadFile(name); err == nil {
			return data, nil
		}
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
}

// translate loads and translates, failing the test on an error.
func translate(t *testing.T, args []string, env map[string]string, read func(string) ([]byte, error)) *Translation {
	t.Helper()
	src, err := Load(args, env, read)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tr, err := Translate(src, read)
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	return tr
}

// refusal loads and translates, and returns the error that must come.
func refusal(t *testing.T, args []string, env map[string]string) string {
	t.Helper()
	src, err := Load(args, env, files(nil))
	if err != nil {
		return err.Error()
	}
	_, err = Translate(src, files(nil))
	if err == nil {
		t.Fatalf("%v %v: translated, want a refusal", args, env)
	}
	return err.Error()
}

func wantKeys(t *testing.T, tr *Translation, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := tr.Get(k)
		if !ok {
			t.Errorf("%s: missing, want %v", k, v)
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
}

func wantNote(t *testing.T, tr *Translation, option, words string) {
	t.Helper()
	for _, n := range tr.Notes {
		if (strings.HasPrefix(n, option+" ") || strings.HasPrefix(n, option+":")) && strings.Contains(n, words) {
			return
		}
	}
	t.Errorf("no note on %s saying %q; notes:\n%s", option, words, strings.Join(tr.Notes, "\n"))
}

func TestGitHubFile(t *testing.T) {
	tr := translate(t, []string{"--config", "testdata/github.cfg"}, nil, files(nil))
	wantKeys(t, tr, map[string]any{
		"listen":                "127.0.0.1:4180",
		"upstream":              "http://127.0.0.1:8080",
		"provider":              "github",
		"allowed_organizations": []string{"example-org"},
		"client_id":             "0123456789abcdef0123",
		"client_secret":         "0123456789abcdef0123456789abcdef01234567",
		"redirect_url":          "https://internal.example.org/oauth2/callback",
		"skip_sign_in_page":     false, // oauth2-proxy's sign-in page, unless skip_provider_button
		"cookie_name":           "_oauth2_proxy",
		"cookie_secret":         "OQINaROshtE9TcZkNAm-5Zs2Pv3xaWytBmc5W7sPX7w=",
		"cookie_expire":         "168h",
		"cache_ttl":             "1h",
		"skip_auth_routes":      []string{"GET=^/probe", "^/metrics"},
		"whitelist_domains":     []string{".example.org", "tools.example.com:*"},
		"pass_access_token":     false,
		"pass_host_header":      true,
	})
	wantNote(t, tr, "api_routes", "not needed")
	wantNote(t, tr, "standard_logging", "not needed")
	wantNote(t, tr, "reverse_proxy", "replaced by trusted_proxies")
	wantNote(t, tr, "cookie_refresh", "github.cfg line 26")
	wantValid(t, tr)
	for _, k := range []string{"cookie_secure", "cookie_httponly", "pass_user_headers", "email_domains"} {
		for _, n := range tr.Notes {
			if strings.HasPrefix(n, k+" ") {
				t.Errorf("%s has hubgate's behaviour and needs no note, got %q", k, n)
			}
		}
	}
}

// The generic OAuth2 case: provider oidc with its endpoints written out.
func TestOIDCWithEndpointsIsGeneric(t *testing.T) {
	tr := translate(t, []string{"--config=testdata/oidc-endpoints.cfg"}, nil, files(nil))
	wantKeys(t, tr, map[string]any{
		"provider":          "generic",
		"authorize_url":     "https://sso.example.org/authorize",
		"token_url":         "https://sso.example.org/token",
		"userdata_url":      "https://sso.example.org/userinfo",
		"username_key":      "sub",
		"email_key":         "email",
		"groups_key":        "roles",
		"allowed_groups":    []string{"staff", "admins"},
		"scope":             []string{"openid", "email", "profile", "groups"},
		"login_service":     "Example SSO",
		"skip_sign_in_page": true,
	})
	wantNote(t, tr, "oidc_jwks_url", "verifies no ID token")
	wantKeys(t, tr, map[string]any{"set_xauthrequest": true})
	wantNote(t, tr, "cookie_secure", "not needed")
	wantValid(t, tr)
}

func TestLegacyKeycloak(t *testing.T) {
	tr := translate(t, []string{"--config", "testdata/keycloak.cfg"}, nil, files(nil))
	wantKeys(t, tr, map[string]any{
		"provider":       "generic",
		"userdata_url":   "https://keycloak.example.org/auth/realms/example/protocol/openid-connect/userinfo",
		"username_key":   "preferred_username",
		"groups_key":     "groups",
		"allowed_groups": []string{"/staff"},
		// Identity headers as oauth2-proxy sent them.
		"pass_basic_auth":      true,
		"basic_auth_password":  "upstream-basic-password",
		"prefer_email_to_user": true,
		"set_xauthrequest":     true,
		// Two upstreams are two routes, with the rules above.
		"routes": []map[string]string{{"path": "/", "upstream": "http://127.0.0.1:8080"}, {"path": "/grafana", "upstream": "http://127.0.0.1:3000"}},
	})
	wantNote(t, tr, "validate_url", "not needed")
	wantValid(t, tr)
}

// oauth2-proxy's provider oidc with discovery is hubgate's provider oidc: the
// issuer and the claims carry over, the endpoints are discovered.
func TestOIDCDiscovery(t *testing.T) {
	tr := translate(t, []string{"--config", "testdata/oidc-discovery.cfg"}, nil, files(nil))
	wantKeys(t, tr, map[string]any{
		"provider":        "oidc",
		"oidc_issuer_url": "http://127.0.0.1:5556/dex",
		"username_claim":  "sub", // oauth2-proxy's user; hubgate's default is preferred_username
		"email_claim":     "email",
		"groups_claim":    "groups",
		"client_id":       "oauth2-proxy",
		"client_secret":   "proxy",
		"redirect_url":    "http://127.0.0.1:4180/oauth2/callback",
		"login_service":   "My OIDC Provider",
	})
	absent(t, tr, "authorize_url", "token_url", "userdata_url", "introspect_url", "username_key", "groups_key", "email_key",
		"scope", "oidc_allow_unverified_email", "skip_jwt_bearer_tokens", "oidc_logout")
	wantNote(t, tr, "provider", "email_verified: true")
	wantValid(t, tr)
}

// Every OpenID Connect option oauth2-proxy has a hubgate key for carries over.
func TestOIDCDiscoveryOptions(t *testing.T) {
	args := []string{"--provider=keycloak-oidc", "--oidc-issuer-url=https://sso.example.org/realms/main",
		"--client-id=app", "--client-secret=s", "--redirect-url=https://app.example.org/auth/callback", "--proxy-prefix=/auth",
		"--upstream=http://127.0.0.1:8080/", "--email-domain=*",
		"--user-id-claim=preferred_username", "--oidc-email-claim=mail", "--oidc-groups-claim=roles",
		"--oidc-extra-audience=account", "--oidc-extra-audience=api", "--skip-jwt-bearer-tokens",
		"--extra-jwt-issuers=https://other.example.org=api,https://third.example.org/=hub",
		"--insecure-oidc-allow-unverified-email", "--allowed-group=staff", "--scope=openid email groups",
		"--backend-logout-url=https://sso.example.org/realms/main/protocol/openid-connect/logout?id_token_hint={id_token}",
		"--login-url=https://sso.example.org/authorize", "--profile-url=https://sso.example.org/userinfo",
		"--oidc-jwks-url=https://sso.example.org/certs", "--insecure-oidc-skip-nonce=true", "--insecure-oidc-skip-issuer-verification=false",
		"--oidc-audience-claim=aud", "--oidc-enabled-signing-alg=RS256"}
	tr := translate(t, args, nil, noFiles)
	wantKeys(t, tr, map[string]any{
		"provider":                    "oidc",
		"oidc_issuer_url":             "https://sso.example.org/realms/main",
		"username_claim":              "preferred_username",
		"email_claim":                 "mail",
		"groups_claim":                "roles",
		"oidc_extra_audiences":        []string{"account", "api"},
		"skip_jwt_bearer_tokens":      true,
		"extra_jwt_issuers":           []string{"https://other.example.org=api", "https://third.example.org/=hub"},
		"oidc_allow_unverified_email": true,
		"allowed_groups":              []string{"staff"},
		"scope":                       []string{"openid", "email", "groups"},
		"prefix":                      "/auth",
	})
	absent(t, tr, "authorize_url", "userdata_url", "oidc_logout")
	wantNote(t, tr, "user_id_claim", "carried over as username_claim")
	wantNote(t, tr, "backend_logout_url", "replaced by oidc_logout")
	wantNote(t, tr, "backend_logout_url", "register https://app.example.org/auth/sign_out")
	wantNote(t, tr, "login_url", "from discovery")
	wantNote(t, tr, "profile_url", "from discovery")
	wantNote(t, tr, "oidc_jwks_url", "jwks_uri")
	wantNote(t, tr, "insecure_oidc_skip_nonce", "always sends a nonce")
	wantNote(t, tr, "oidc_enabled_signing_algs", "never none or HS*")
	for _, n := range tr.Notes {
		for _, quiet := range []string{"insecure_oidc_skip_issuer_verification", "oidc_audience_claims", "provider", "skip_jwt_bearer_tokens", "extra_jwt_issuers"} {
			if strings.HasPrefix(n, quiet+" ") || strings.HasPrefix(n, quiet+":") {
				t.Errorf("%s carried over as hubgate does it, needs no note: %q", quiet, n)
			}
		}
	}
	wantValid(t, tr)

	tr = translate(t, append(args, "--oidc-audience-claim=azp", "--insecure-oidc-skip-issuer-verification"), nil, noFiles)
	wantNote(t, tr, "oidc_audience_claims", "hubgate checks aud")
	wantNote(t, tr, "insecure_oidc_skip_issuer_verification", "exactly oidc_issuer_url")
}

// username_claim and email_claim the same, no oidc_allow_unverified_email: the note
// says that unverified users cannot sign in at all.
func TestOIDCDiscoveryEmailUsername(t *testing.T) {
	tr := translate(t, []string{"--config", "testdata/oidc-discovery.cfg", "--user-id-claim=email"}, nil, files(nil))
	wantKeys(t, tr, map[string]any{"username_claim": "email", "email_claim": "email"})
	wantNote(t, tr, "provider", "cannot sign in")
	wantValid(t, tr)
}

func TestOIDCRefusals(t *testing.T) {
	oidc := []string{"--provider=oidc", "--client-id=i", "--client-secret=s", "--redirect-url=https://a.example.org/oauth2/callback",
		"--upstream=http://127.0.0.1:1/", "--email-domain=*"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no issuer", oidc, "oidc_issuer_url: is not set"},
		{"skip_oidc_discovery without endpoints", append(oidc, "--oidc-issuer-url=https://sso.example.org", "--skip-oidc-discovery"), "needs login_url, redeem_url and profile_url"},
		{"email domains", append(oidc, "--oidc-issuer-url=https://sso.example.org", "--email-domain=example.org"), "email_domains"},
		{"roles", append(oidc, "--oidc-issuer-url=https://sso.example.org", "--allowed-role=admin"), "allowed_roles"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if msg := refusal(t, c.args, nil); !strings.Contains(msg, c.want) {
				t.Errorf("refusal %q does not say %q", msg, c.want)
			}
		})
	}
}

// absent fails for each key the translation wrote.
func absent(t *testing.T, tr *Translation, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := tr.Get(k); ok {
			t.Errorf("%s = %v, want it left out", k, v)
		}
	}
}

// wantValid checks the translation as hubgate check-config does: the YAML it prints,
// read and validated by package config.
func wantValid(t *testing.T, tr *Translation) {
	t.Helper()
	out, err := tr.YAML("test")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hubgate.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HUBGATE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	flags := config.Flags()
	var cfgErr error
	app := &cli.App{Name: "hubgate", Flags: flags, Before: config.LoadFile(flags), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) error {
			_, cfgErr = config.FromCLI(c, nil)
			return nil
		}}
	if err := app.Run([]string{"hubgate", "--config", path}); err != nil {
		t.Fatalf("reading the translation: %v\n%s", err, out)
	}
	if cfgErr != nil {
		t.Fatalf("the translation does not pass check-config: %v\n%s", cfgErr, out)
	}
}

func TestFlagsOverEnvironmentOverFile(t *testing.T) {
	env := map[string]string{
		"OAUTH2_PROXY_UPSTREAMS":     "http://127.0.0.1:9000/",
		"OAUTH2_PROXY_COOKIE_NAME":   "_from_env",
		"OAUTH2_PROXY_CLIENT_ID":     "env-id",
		"OAUTH2_PROXY_COOKIE_SECURE": "false",
		"OAUTH2_PROXY_NO_SUCH":       "x",
		"OTHER":                      "y",
	}
	src, err := Load([]string{"--config", "testdata/github.cfg", "--client-id=flag-id", "--skip-provider-button"}, env, files(nil))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Translate(src, files(nil))
	if err != nil {
		t.Fatal(err)
	}
	wantKeys(t, tr, map[string]any{
		"upstream":          "http://127.0.0.1:9000",
		"cookie_name":       "_from_env",
		"client_id":         "flag-id",
		"skip_sign_in_page": true,
	})
	wantNote(t, tr, "cookie_secure", "OAUTH2_PROXY_COOKIE_SECURE")
	if !reflect.DeepEqual(src.Ignored, []string{"OAUTH2_PROXY_NO_SUCH"}) {
		t.Errorf("Ignored = %v", src.Ignored)
	}
}

func TestFlagSpellings(t *testing.T) {
	src, err := Load([]string{
		"--provider", "github", "--upstream=http://127.0.0.1:1/", "--upstream", "http://127.0.0.1:2/api",
		"--pass-access-token", "--pass-host-header=false", "--cookie-expire", "12h", "--github-user=a,b",
	}, nil, noFiles)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{
		"provider":          "github",
		"upstreams":         []string{"http://127.0.0.1:1/", "http://127.0.0.1:2/api"},
		"pass_access_token": true,
		"pass_host_header":  false,
		"cookie_expire":     12 * time.Hour,
		"github_users":      []string{"a", "b"},
	} {
		if got := src.set[name].value; !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
}

func TestBadInputNamesWhere(t *testing.T) {
	cfg := func(body string) func(string) ([]byte, error) { return files(map[string]string{"p.cfg": body}) }
	for _, c := range []struct {
		name string
		args []string
		read func(string) ([]byte, error)
		want string
	}{
		{"malformed", []string{"--config", "testdata/malformed.cfg"}, files(nil), "malformed.cfg line 3"},
		{"unknown key", []string{"--config", "p.cfg"}, cfg("provider = \"github\"\n\nno_such_option = 1\n"), `p.cfg line 3: unknown oauth2-proxy option "no_such_option"`},
		{"wrong type", []string{"--config", "p.cfg"}, cfg("# c\ncookie_secure = \"yes\"\n"), "p.cfg line 2: cookie_secure: expected true or false"},
		{"bad duration", []string{"--config", "p.cfg"}, cfg("cookie_expire = \"a week\"\n"), "p.cfg line 1: cookie_expire: expected a duration"},
		{"list of numbers", []string{"--config", "p.cfg"}, cfg("upstreams = [1]\n"), "p.cfg line 1: upstreams: expected a list of strings"},
		{"missing file", []string{"--config", "nope.cfg"}, files(nil), "nope.cfg"},
		{"unknown flag", []string{"--no-such-flag=1"}, noFiles, "--no-such-flag: unknown oauth2-proxy flag"},
		{"flag without value", []string{"--provider"}, noFiles, "--provider needs a value"},
		{"bad bool flag", []string{"--reverse-proxy=maybe"}, noFiles, "--reverse-proxy: expected true or false"},
		{"argument", []string{"github"}, noFiles, "takes no arguments"},
		{"alpha config", []string{"--alpha-config=a.yaml"}, noFiles, "legacy options"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.args, nil, c.read)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	if _, err := Load(nil, map[string]string{"OAUTH2_PROXY_COOKIE_SECURE": "nah"}, noFiles); err == nil ||
		!strings.Contains(err.Error(), "OAUTH2_PROXY_COOKIE_SECURE") {
		t.Errorf("bad variable: err = %v", err)
	}
}

// base is a minimal configuration oauth2-proxy starts with.
var base = []string{"--provider=github", "--client-id=id", "--client-secret=secret", "--email-domain=*",
	"--redirect-url=https://app.example.org/oauth2/callback", "--upstream=http://127.0.0.1:8080/",
	"--cookie-secret=OQINaROshtE9TcZkNAm-5Zs2Pv3xaWytBmc5W7sPX7w="}

func with(extra ...string) []string { return append(append([]string{}, base...), extra...) }

// An option that keeps users out and that hubgate cannot check is never dropped:
// the translation refuses, and names every such option at once.
func TestRestrictionsAreNeverDropped(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{with("--github-team=ops", "--github-repo=o/r"), []string{"github_team (--github-team)", "github_repo (--github-repo)"}},
		{with("--email-domain=example.org"), []string{"email_domains"}},
		{append([]string{"--upstream=http://127.0.0.1:1/"}, "--provider=github", "--client-id=i", "--client-secret=s", "--redirect-url=https://a/oauth2/callback"), []string{"email_domains: is not set"}},
		{with("--allowed-role=admin"), []string{"allowed_roles"}},
		{with("--gitlab-group=g"), []string{"gitlab_groups"}},
		{with("--authenticated-emails-file=/etc/emails"), []string{"authenticated_emails_file"}},
		{with("--allowed-group=staff"), []string{"provider github gives hubgate no groups"}},
		{[]string{"--provider=google", "--client-id=i", "--client-secret=s", "--redirect-url=https://a/oauth2/callback", "--upstream=http://127.0.0.1:1/", "--email-domain=*", "--google-group=staff@example.org"}, []string{"google_groups"}},
		{[]string{"--provider=azure", "--client-id=i", "--client-secret=s", "--redirect-url=https://a/cb", "--upstream=http://127.0.0.1:1/", "--email-domain=*"}, []string{`"azure" has no hubgate preset`}},
	} {
		msg := refusal(t, c.args, nil)
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: refusal %q does not name %q", c.args, msg, w)
			}
		}
	}
}

func TestWhatHubgateNeedsWrittenDown(t *testing.T) {
	msg := refusal(t, []string{"--provider=github", "--email-domain=*", "--upstream=http://127.0.0.1:1/"}, nil)
	for _, w := range []string{"redirect_url: is not set", "client_secret: is not set", "--redirect-url=https://YOUR.HOST/oauth2/callback"} {
		if !strings.Contains(msg, w) {
			t.Errorf("refusal %q does not say %q", msg, w)
		}
	}
	if msg := refusal(t, []string{"--provider=github", "--client-id=i", "--client-secret=s", "--email-domain=*",
		"--redirect-url=https://a/oauth2/callback", "--upstream=file:///var/www#/static/"}, nil); !strings.Contains(msg, "no http(s) or unix upstream") {
		t.Error(msg)
	}
}

func TestGoogle(t *testing.T) {
	g := []string{"--provider=google", "--client-id=i", "--client-secret=s", "--redirect-url=https://a/oauth2/callback", "--upstream=http://127.0.0.1:1/"}
	tr := translate(t, append(g, "--email-domain=example.org"), nil, noFiles)
	wantKeys(t, tr, map[string]any{"provider": "google", "hosted_domain": []string{"example.org"}})
	wantNote(t, tr, "email_domains", "replaced by hosted_domain")

	read := files(map[string]string{"/etc/emails": "# staff\nalice@example.org\n\nbob@example.org\n"})
	tr = translate(t, append(g, "--authenticated-emails-file=/etc/emails"), nil, read)
	wantKeys(t, tr, map[string]any{"allowed_users": []string{"alice@example.org", "bob@example.org"}})

	if msg := refusal(t, append(g, "--authenticated-emails-file=/etc/emails", "--email-domain=example.org"), nil); !strings.Contains(msg, "keep one of the two") {
		t.Error(msg)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	read := files(map[string]string{"/run/secrets/client": "s3cret\n", "/run/secrets/cookie": "short"})
	args := []string{"--provider=github", "--client-id=id", "--client-secret-file=/run/secrets/client",
		"--cookie-secret-file=/run/secrets/cookie", "--email-domain=*", "--redirect-url=https://a/oauth2/callback",
		"--upstream=http://127.0.0.1:1/"}
	tr := translate(t, args, nil, read)
	wantKeys(t, tr, map[string]any{"client_secret": "s3cret"})
	wantNote(t, tr, "client_secret_file", "replaced by client_secret")
	secret, _ := tr.Get("cookie_secret")
	if s, _ := secret.(string); len(s) < 32 || s == "short" {
		t.Errorf("a short cookie secret must be replaced, got %q", s)
	}
	wantNote(t, tr, "cookie_secret", "new random secret")
}

func TestServerAndUpstreams(t *testing.T) {
	tr := translate(t, with("--http-address=http://0.0.0.0:4180", "--https-address=:8443", "--tls-cert-file=/c.pem",
		"--tls-key-file=/k.pem", "--upstream=http://127.0.0.1:9000/api/", "--upstream=file:///var/www#/static/", "--upstream=http://127.0.0.1:9001/api",
		"--metrics-address=127.0.0.1:9100", "--proxy-prefix=/auth", "--upstream-timeout=90s", "--trusted-proxy-ip=10.0.0.0/8",
		"--reverse-proxy"), nil, noFiles)
	wantKeys(t, tr, map[string]any{
		"listen": ":8443", "tls_cert_file": "/c.pem", "tls_key_file": "/k.pem",
		"routes":         []map[string]string{{"path": "/", "upstream": "http://127.0.0.1:8080"}, {"path": "/api", "upstream": "http://127.0.0.1:9000"}},
		"metrics_listen": "127.0.0.1:9100", "prefix": "/auth", "upstream_timeout": "1m30s", "trusted_proxies": []string{"10.0.0.0/8"},
	})
	wantNote(t, tr, "http_address", "one listener")
	wantNote(t, tr, "upstreams", `"http://127.0.0.1:9001/api" not carried over: an earlier upstream serves /api`)
	wantNote(t, tr, "upstreams", "each upstream is a route")
	wantNote(t, tr, "upstreams", "hubgate serves no files")

	tr = translate(t, []string{"--provider=github", "--client-id=i", "--client-secret=s", "--email-domain=*",
		"--redirect-url=https://a/oauth2/callback", "--upstream=unix:///run/app.sock", "--http-address=unix:///run/gate.sock"}, nil, noFiles)
	wantKeys(t, tr, map[string]any{"upstream": "unix:/run/app.sock", "listen": "unix:/run/gate.sock"})
}

func TestRedis(t *testing.T) {
	tr := translate(t, with("--session-store-type=redis", "--redis-connection-url=redis://10.0.0.5:6379/2",
		"--redis-password=pw"), nil, noFiles)
	wantKeys(t, tr, map[string]any{"session_store": "redis", "redis_url": "redis://:pw@10.0.0.5:6379/2"})

	tr = translate(t, with("--session-store-type=redis", "--redis-use-sentinel", "--redis-sentinel-master-name=mymaster",
		"--redis-sentinel-connection-urls=redis://10.0.0.1:26379,redis://10.0.0.2:26379"), nil, noFiles)
	wantKeys(t, tr, map[string]any{"redis_sentinel_master": "mymaster", "redis_sentinel_addrs": []string{"10.0.0.1:26379", "10.0.0.2:26379"}})

	if msg := refusal(t, with("--session-store-type=redis", "--redis-use-cluster", "--redis-cluster-connection-urls=redis://a:1"), nil); !strings.Contains(msg, "Redis Cluster") {
		t.Error(msg)
	}
}

// Every oauth2-proxy option is mapped, noted or refused: none is dropped in silence,
// and every reason belongs to a real option.
func TestEveryOptionHasAFate(t *testing.T) {
	used := map[string]bool{}
	// Every option set at once, under each provider that translates.
	for _, provider := range []string{"github", "google", "oidc", "oidc with discovery", "keycloak"} {
		src := &Source{set: map[string]setting{}}
		for _, o := range options {
			var v any
			switch o.kind {
			case text:
				v = "x"
			case flag:
				v = true
			case list:
				v = []string{"x"}
			case duration:
				v = time.Minute
			case number:
				v = 1
			}
			src.set[o.name] = setting{value: v}
		}
		src.set["provider"] = setting{value: provider}
		if provider == "oidc with discovery" {
			src.set["provider"] = setting{value: "oidc"}
			src.set["skip_oidc_discovery"] = setting{value: false}
		}
		src.set["session_store_type"] = setting{value: "redis"}
		src.set["redis_use_cluster"] = setting{value: false}
		src.set["redis_connection_url"] = setting{value: "redis://127.0.0.1:6379"}
		tr := &translator{src: src, out: &Translation{}, used: map[string]bool{}, read: files(map[string]string{"x": "secret"})}
		tr.mapOptions()
		for name := range tr.used {
			used[name] = true
		}
	}
	for _, o := range options {
		_, fated := fates[o.name]
		_, refused := restrictive[o.name]
		if !used[o.name] && !fated && !refused {
			t.Errorf("%s: neither translated nor given a reason", o.name)
		}
	}
	for name := range fates {
		if _, ok := byName[name]; !ok {
			t.Errorf("fates names %q, which is no oauth2-proxy option", name)
		}
	}
	for name := range restrictive {
		if _, ok := byName[name]; !ok {
			t.Errorf("restrictive names %q, which is no oauth2-proxy option", name)
		}
	}
}

func TestYAMLRoundTrips(t *testing.T) {
	tr := translate(t, []string{"--config", "testdata/oidc-endpoints.cfg", "--prompt=login"}, nil, files(nil))
	out, err := tr.YAML("test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "# hubgate configuration, imported from oauth2-proxy (test)") {
		t.Errorf("no header comment:\n%s", out)
	}
	var got map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got["extra_authorize_params"].(map[string]any)["prompt"] != "login" || got["skip_sign_in_page"] != true {
		t.Errorf("round trip lost values: %v", got)
	}
	if !strings.Contains(string(out), "provider: generic\n") {
		t.Errorf("keys are not in order:\n%s", out)
	}
}

// TestPutRefusesUnknownKey: a misspelt hubgate key in the translator fails its tests
// instead of printing a file check-config rejects.
func TestPutRefusesUnknownKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("put of cache-ttl did not panic")
		}
	}()
	(&Translation{}).put("cache-ttl", "5s")
}

// TestIdentityHeaderOptions: oauth2-proxy's legacy header options carried over with
// oauth2-proxy's defaults (pass_basic_auth and pass_user_headers true,
// set_xauthrequest false), which are not all hubgate's.
func TestIdentityHeaderOptions(t *testing.T) {
	base := []string{"--provider=github", "--upstream=http://127.0.0.1:8080/", "--client-id=id", "--client-secret=s",
		"--cookie-secret=" + strings.Repeat("c", 32), "--redirect-url=http://127.0.0.1:4180/oauth2/callback", "--email-domain=*"}
	t.Run("unset", func(t *testing.T) {
		tr := translate(t, base, nil, noFiles)
		wantKeys(t, tr, map[string]any{"set_xauthrequest": false})
		absent(t, tr, "pass_user_headers", "pass_basic_auth", "basic_auth_password", "prefer_email_to_user")
	})
	t.Run("password and the default pass_basic_auth", func(t *testing.T) {
		tr := translate(t, append(base, "--basic-auth-password=pw", "--prefer-email-to-user", "--set-xauthrequest"), nil, noFiles)
		wantKeys(t, tr, map[string]any{"pass_basic_auth": true, "basic_auth_password": "pw", "prefer_email_to_user": true, "set_xauthrequest": true})
	})
	t.Run("password with pass_basic_auth false", func(t *testing.T) {
		tr := translate(t, append(base, "--basic-auth-password=pw", "--pass-basic-auth=false"), nil, noFiles)
		absent(t, tr, "pass_basic_auth", "basic_auth_password")
		wantKeys(t, tr, map[string]any{"pass_user_headers": true}) // pass_user_headers' default
		wantNote(t, tr, "basic_auth_password", "not needed")
	})
	t.Run("pass_basic_auth without a password", func(t *testing.T) {
		tr := translate(t, append(base, "--pass-basic-auth"), nil, noFiles)
		absent(t, tr, "pass_basic_auth", "basic_auth_password")
		wantNote(t, tr, "pass_basic_auth", "not needed: oauth2-proxy sends no Basic header without basic_auth_password")
	})
	t.Run("both user-header options off", func(t *testing.T) {
		tr := translate(t, append(base, "--pass-basic-auth=false", "--pass-user-headers=false"), nil, noFiles)
		wantKeys(t, tr, map[string]any{"pass_user_headers": false})
	})
	t.Run("pass_user_headers off, pass_basic_auth's default on", func(t *testing.T) {
		tr := translate(t, append(base, "--pass-user-headers=false"), nil, noFiles)
		wantKeys(t, tr, map[string]any{"pass_user_headers": true})
	})
	t.Run("oidc keeps username_key with prefer_email_to_user", func(t *testing.T) {
		tr := translate(t, []string{"--config=testdata/oidc-endpoints.cfg", "--prefer-email-to-user"}, nil, files(nil))
		wantKeys(t, tr, map[string]any{"username_key": "sub", "prefer_email_to_user": true})
	})
	t.Run("oidc's user_id_claim is the username key", func(t *testing.T) {
		tr := translate(t, []string{"--config=testdata/oidc-endpoints.cfg", "--user-id-claim=name"}, nil, files(nil))
		wantKeys(t, tr, map[string]any{"username_key": "name"})
	})
}
