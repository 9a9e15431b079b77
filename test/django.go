//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Debian packages of Django and django-oauth-toolkit, on this machine
// (Django 3.2, DOT 1.7) or in the Debian 13 root (Django 4.2, DOT 3.0). Like
// the Hub, Django must run on the system python, never on a pyenv one.
const (
	djangoPython  = "/usr/bin/python3"
	djangoPackage = "/usr/lib/python3/dist-packages/django/__init__.py"
	dotPackage    = "/usr/lib/python3/dist-packages/oauth2_provider/__init__.py"
)

// djangoInstall is the Django and DOT this run tests: the release DOT_VERSION
// picks, from this machine's packages, the Debian 13 root, or DJANGO_PYTHON (a
// python with django and django-oauth-toolkit installed some other way).
type djangoInstall struct {
	Release peerRelease
	Version string // DOT's, e.g. 3.0.1
	env     peerEnv
	python  string // a peer path
}

var djangoInstalled struct {
	once sync.Once
	dj   djangoInstall
	err  string
}

func findDjango(t testing.TB) djangoInstall {
	t.Helper()
	djangoInstalled.once.Do(func() {
		ft := &fatalRecorder{TB: t}
		func() {
			defer ft.recover()
			d := &djangoInstalled.dj
			d.Release = pickRelease(ft, "DOT_VERSION", dotReleases)
			d.python = djangoPython
			switch py := os.Getenv("DJANGO_PYTHON"); {
			case py != "":
				d.python = py
			case d.Release.Root != "":
				d.env = peerEnv{root: rootPath(ft, d.Release.Root)}
				for _, f := range []string{djangoPython, djangoPackage, dotPackage} {
					if _, err := os.Stat(d.env.HostPath(f)); err != nil {
						ft.Fatalf("django-oauth-toolkit %s: %s is missing in the %s root (%v); rebuild it with .ci/%s-root",
							d.Release.Version, f, d.Release.Root, err, d.Release.Root)
					}
				}
			default:
				requireDjango(ft)
			}
			d.Version = peerVersion(ft, "django-oauth-toolkit ("+d.python+")", d.env, d.Release,
				d.python, "-c", "import oauth2_provider; print(oauth2_provider.__version__)")
		}()
		djangoInstalled.err = ft.msg
	})
	if djangoInstalled.err != "" {
		t.Fatal(djangoInstalled.err)
	}
	return djangoInstalled.dj
}

// RequireDjango is what a Django test calls first: the DOT of this leg, and
// a skip (saying why) if the test is not in the suites this release runs.
func RequireDjango(t testing.TB, s suite) djangoInstall {
	t.Helper()
	d := findDjango(t)
	requireSuite(t, "django-oauth-toolkit", d.Release, s)
	return d
}

const (
	// djangoStartTimeout bounds how long runserver may take to answer.
	djangoStartTimeout = 60 * time.Second
	// djangoCommandTimeout bounds one manage.py command (migrate, shell).
	djangoCommandTimeout = 120 * time.Second
	// djangoDefaultTokenSeconds is DOT's ACCESS_TOKEN_EXPIRE_SECONDS default.
	djangoDefaultTokenSeconds = 36000
)

// DjangoUser is a user of the Django site.
type DjangoUser struct {
	Name, Email, Password string
	Groups                []string // auth Groups, created as needed
	Staff                 bool     // User.is_staff
}

// djangoDefaultUsers: alice (group staff, is_staff) and bob (no groups).
func djangoDefaultUsers() []DjangoUser {
	return []DjangoUser{
		{Name: "alice", Email: "alice@example.org", Password: "alice-password-1", Groups: []string{"staff"}, Staff: true},
		{Name: "bob", Email: "bob@example.org", Password: "bob-password-1"},
	}
}

// DjangoConfig is what differs between Django sites of the suite.
type DjangoConfig struct {
	// PKCERequired sets OAUTH2_PROVIDER["PKCE_REQUIRED"] = True; otherwise
	// DOT's default applies (False up to 1.7, True from 2.0).
	PKCERequired bool
	// AccessTokenExpireSeconds is OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"];
	// 0 means DOT's default, 36000.
	AccessTokenExpireSeconds int
	// RedirectURIs are registered for the OAuth application at startup; more
	// can be added later with AddRedirectURI.
	RedirectURIs []string
	// Users to create; nil means alice and bob (djangoDefaultUsers).
	Users []DjangoUser
	// RequireApproval leaves skip_authorization off, so DOT shows its
	// "Authorize" page.
	RequireApproval bool
	// OIDC turns on DOT's OpenID Connect: OIDC_ENABLED with an RSA key made by
	// openssl, the openid, profile and email scopes, the application signing its
	// ID tokens with RS256, and a validator that puts preferred_username, email,
	// email_verified and groups into the ID token and the userinfo answer (DOT
	// alone gives only sub).
	OIDC bool
}

func (c DjangoConfig) accessTokenExpireSeconds() int {
	if c.AccessTokenExpireSeconds > 0 {
		return c.AccessTokenExpireSeconds
	}
	return djangoDefaultTokenSeconds
}

// djangoApplication is the oauth2_provider Application the harness creates.
type djangoApplication struct {
	Name, ClientID, ClientSecret string
	RedirectURIs                 []string
	SkipAuthorization            bool
	OIDC                         bool // ID tokens signed with RS256
}

// Django is a running Django site (manage.py runserver) with DOT.
type Django struct {
	// URL is the site's base URL, http://127.0.0.1:PORT (no trailing slash).
	URL string
	// ClientID and ClientSecret are the confidential OAuth application's.
	ClientID, ClientSecret string
	// Dir is the project dir (manage.py, settings.py, db.sqlite3).
	Dir    string
	Config DjangoConfig
	// Install is the Django and DOT it runs.
	Install djangoInstall

	peerDir string // Dir as the peer sees it

	users []DjangoUser
	env   []string
	proc  *process

	mu           sync.Mutex
	redirectURIs []string

	// What the settings are rendered from again when the keys rotate.
	secretKey string
	oidc      djangoOIDC
	addr      string
	owner     testing.TB // the test the site lives as long as
}

// requireDjango fails the test loudly if the Debian Django or DOT is missing.
func requireDjango(t testing.TB) {
	t.Helper()
	for _, f := range []string{djangoPython, djangoPackage, dotPackage} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("Django and django-oauth-toolkit are required for the Django integration tests but %s is missing (%v); "+
				"install with: apt-get install -y python3-django python3-django-oauth-toolkit (or run make test)", f, err)
		}
	}
}

// StartDjango writes a Django project for cfg into a temp dir, migrates its
// sqlite db, creates the users and the OAuth application, starts runserver
// on a free loopback port and waits until it answers. The server is stopped
// when the test ends; its log is printed if the test failed.
func StartDjango(t testing.TB, cfg DjangoConfig) *Django {
	t.Helper()
	install := findDjango(t)
	dir, peerDir := install.env.TempDir(t)
	d := &Django{
		Install:      install,
		peerDir:      peerDir,
		ClientID:     "hubgate-test-" + strings.ToLower(randomSecret()[:12]),
		ClientSecret: randomSecret(),
		Dir:          dir,
		Config:       cfg,
		users:        cfg.Users,
		redirectURIs: slices.Clone(cfg.RedirectURIs),
		env: []string{
			"PATH=/usr/bin:/bin",
			"HOME=" + peerDir,
			"LANG=C.UTF-8",
			"PYTHONDONTWRITEBYTECODE=1",
			"PYTHONUNBUFFERED=1",
		},
	}
	if d.users == nil {
		d.users = djangoDefaultUsers()
	}
	addr := freeAddr(t)
	d.URL = "http://" + addr
	var oidc djangoOIDC
	if cfg.OIDC {
		validator, err := os.ReadFile(djangoOIDCValidator)
		if err != nil {
			t.Fatal(err)
		}
		oidc = djangoOIDC{key: opensslRSAKey(t), validator: string(validator), rpLogout: !strings.HasPrefix(install.Version, "1.")}
	}
	d.secretKey, d.oidc, d.addr, d.owner = randomSecret(), oidc, addr, t
	if err := writeDjangoProject(dir, djangoProjectFiles(cfg, peerDir, d.URL, d.secretKey, oidc)); err != nil {
		t.Fatalf("write the Django project: %v", err)
	}
	began := time.Now()
	d.manage(t, "migrate", "--noinput", "-v", "0")
	migrated := time.Now()
	d.Shell(t, djangoSetupScript(d.users, djangoApplication{
		Name:              "hubgate",
		ClientID:          d.ClientID,
		ClientSecret:      d.ClientSecret,
		RedirectURIs:      d.redirectURIs,
		SkipAuthorization: !cfg.RequireApproval,
		OIDC:              cfg.OIDC,
	}))

	d.run(t)
	t.Logf("Django (DOT %s) at %s up in %v (migrate %v)", install.Version, d.URL, time.Since(began).Round(time.Millisecond), migrated.Sub(began).Round(time.Millisecond))
	return d
}

// run starts runserver and waits until it answers.
func (d *Django) run(t testing.TB) {
	t.Helper()
	cmd := d.Install.env.Command(context.Background(), d.peerDir, d.Install.python, "manage.py", "runserver", d.addr, "--noreload")
	cmd.Env = d.env
	// Stopped with the site's own test, also when a subtest restarts it.
	d.proc = startProcess(d.owner, "django-"+strconv.Itoa(freePortOf(d.addr)), cmd)
	if err := waitFor(djangoStartTimeout, d.proc, httpStatusIs(d.URL+"/accounts/login/", http.StatusOK)); err != nil {
		t.Fatalf("Django did not come up: %v", err)
	}
}

// OIDCKey is the RSA key DOT signs ID tokens with now.
func (d *Django) OIDCKey() string { return d.oidc.key }

// RotateOIDCKeys restarts the site signing with active and still publishing
// inactive in its JWKS, as DOT's docs rotate keys. The database, and so the
// users' Django sessions and tokens, stay.
func (d *Django) RotateOIDCKeys(t testing.TB, active string, inactive ...string) {
	t.Helper()
	d.oidc.key, d.oidc.inactive = active, inactive
	if err := writeDjangoProject(d.Dir, djangoProjectFiles(d.Config, d.peerDir, d.URL, d.secretKey, d.oidc)); err != nil {
		t.Fatal(err)
	}
	d.proc.stop(t)
	d.run(t)
}

// freePortOf returns the port of "host:port" (0 if none).
func freePortOf(addr string) int {
	_, port, _ := strings.Cut(addr, ":")
	n, _ := strconv.Atoi(port)
	return n
}

// Log returns runserver's output so far (request lines, DOT and oauthlib
// debug logging, errors).
func (d *Django) Log() string { return d.proc.Log() }

// User returns the configured user called name.
func (d *Django) User(t testing.TB, name string) DjangoUser {
	t.Helper()
	for _, u := range d.users {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("no Django user %q", name)
	return DjangoUser{}
}

// AuthorizeURL, TokenURL and IntrospectURL are DOT's endpoints.
// IssuerURL is DOT's OpenID Connect issuer: the site's /o, as DOT derives it from
// the request's host (discovery at <issuer>/.well-known/openid-configuration).
func (d *Django) IssuerURL() string { return d.URL + "/o" }

// djangoOIDCValidator is the shipped validator that adds the claims hubgate reads.
var djangoOIDCValidator = filepath.Join("..", "examples", "django", "oidc_validator.py")

// opensslRSAKey makes the RSA key DOT signs ID tokens with, as its docs say to.
func opensslRSAKey(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("openssl", "genrsa", "2048").Output()
	if err != nil {
		t.Fatalf("openssl genrsa (install with: apt-get install -y openssl): %v", err)
	}
	return string(out)
}

func (d *Django) AuthorizeURL() string  { return d.URL + "/o/authorize/" }
func (d *Django) TokenURL() string      { return d.URL + "/o/token/" }
func (d *Django) IntrospectURL() string { return d.URL + "/o/introspect/" }

// UserdataURL is the project's protected userdata view.
func (d *Django) UserdataURL() string { return d.URL + "/userdata/" }

// manage runs `manage.py ARGS...` in the project and returns its output.
func (d *Django) manage(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), djangoCommandTimeout)
	defer cancel()
	cmd := d.Install.env.Command(ctx, d.peerDir, append([]string{d.Install.python, "manage.py"}, args...)...)
	cmd.Env = d.env
	// Its own process group, killed whole if the command hangs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		what := strings.Join(args, " ")
		if len(what) > 300 {
			what = what[:300] + "..."
		}
		t.Fatalf("manage.py %s: %v\n%s", what, err, out)
	}
	return string(out)
}

// Shell runs a Python snippet with `manage.py shell -c` and returns what it
// printed. The test fails if the snippet raises.
func (d *Django) Shell(t testing.TB, code string) string {
	t.Helper()
	return d.manage(t, "shell", "-c", code)
}

// ShellJSON runs a snippet that prints one JSON value and decodes it into v.
func (d *Django) ShellJSON(t testing.TB, code string, v any) {
	t.Helper()
	out := d.Shell(t, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("manage.py shell: want JSON on the last line, got %q (%v)", out, err)
	}
}

// AddRedirectURI registers one more redirect URI for the OAuth application
// (skipped if it is registered already).
func (d *Django) AddRedirectURI(t testing.TB, uri string) {
	t.Helper()
	d.mu.Lock()
	if slices.Contains(d.redirectURIs, uri) {
		d.mu.Unlock()
		return
	}
	d.redirectURIs = append(d.redirectURIs, uri)
	all := strings.Join(d.redirectURIs, " ")
	d.mu.Unlock()
	d.Shell(t, fmt.Sprintf(`from oauth2_provider.models import Application
Application.objects.filter(client_id=%s).update(redirect_uris=%s)`, pyLiteral(d.ClientID), pyLiteral(all)))
}

// AddOIDCClient registers another confidential OpenID Connect application
// (RS256, no approval asked) and returns its client id and secret.
func (d *Django) AddOIDCClient(t testing.TB, name, redirectURI string) (clientID, secret string) {
	t.Helper()
	clientID, secret = name+"-"+strings.ToLower(randomSecret()[:12]), randomSecret()
	d.Shell(t, fmt.Sprintf(`from oauth2_provider.models import Application
Application.objects.create(name=%s, client_id=%s, client_secret=%s, client_type=Application.CLIENT_CONFIDENTIAL,
    authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE, redirect_uris=%s, skip_authorization=True, algorithm="RS256")`,
		pyLiteral(name), pyLiteral(clientID), pyLiteral(secret), pyLiteral(redirectURI)))
	return clientID, secret
}

// SetSkipAuthorization sets the OAuth application's skip_authorization:
// off, DOT asks the user to approve every authorization.
func (d *Django) SetSkipAuthorization(t testing.TB, skip bool) {
	t.Helper()
	d.Shell(t, fmt.Sprintf(`from oauth2_provider.models import Application
Application.objects.filter(client_id=%s).update(skip_authorization=%s)`, pyLiteral(d.ClientID), pyLiteral(skip)))
}

// MintToken creates an access token (scope "read") for user directly in the
// database, as an API client would hold: issued to the harness's
// application, valid for ttl.
func (d *Django) MintToken(t testing.TB, user string, ttl time.Duration) string {
	t.Helper()
	token := "minted-" + randomSecret()
	d.Shell(t, fmt.Sprintf(`from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
AccessToken.objects.create(
    user=User.objects.get(username=%s),
    application=Application.objects.get(client_id=%s),
    token=%s,
    scope="read",
    expires=timezone.now() + timedelta(seconds=%s),
)`, pyLiteral(user), pyLiteral(d.ClientID), pyLiteral(token), strconv.FormatFloat(ttl.Seconds(), 'f', 3, 64)))
	return token
}

// RevokeRefreshTokens revokes all of user's refresh tokens the way DOT does
// (RefreshToken.revoke(), which also deletes the paired access token). It
// returns how many it revoked.
func (d *Django) RevokeRefreshTokens(t testing.TB, user string) int {
	t.Helper()
	var n int
	d.ShellJSON(t, fmt.Sprintf(`from oauth2_provider.models import RefreshToken
tokens = list(RefreshToken.objects.filter(user__username=%s, revoked__isnull=True))
[t.revoke() for t in tokens]
print(len(tokens))`, pyLiteral(user)), &n)
	return n
}

// DeleteAccessTokens deletes all of user's access tokens and returns how many.
func (d *Django) DeleteAccessTokens(t testing.TB, user string) int {
	t.Helper()
	var n int
	d.ShellJSON(t, fmt.Sprintf(`from oauth2_provider.models import AccessToken
print(AccessToken.objects.filter(user__username=%s).delete()[0])`, pyLiteral(user)), &n)
	return n
}

// DjangoTokenCounts counts a user's tokens at DOT.
type DjangoTokenCounts struct {
	Access         int `json:"access"`          // access tokens that exist (any expiry)
	Refresh        int `json:"refresh"`         // refresh tokens ever issued (revoked or not)
	RefreshRevoked int `json:"refresh_revoked"` // of those, revoked (used up by rotation or revoked)
}

// TokenCounts counts user's tokens for the harness's application.
func (d *Django) TokenCounts(t testing.TB, user string) DjangoTokenCounts {
	t.Helper()
	var c DjangoTokenCounts
	d.ShellJSON(t, fmt.Sprintf(`import json
from oauth2_provider.models import AccessToken, RefreshToken
q = dict(user__username=%s, application__client_id=%s)
print(json.dumps({
    "access": AccessToken.objects.filter(**q).count(),
    "refresh": RefreshToken.objects.filter(**q).count(),
    "refresh_revoked": RefreshToken.objects.filter(revoked__isnull=False, **q).count(),
}))`, pyLiteral(user), pyLiteral(d.ClientID)), &c)
	return c
}

// DjangoTokenResponse is DOT's token endpoint answer (or error).
type DjangoTokenResponse struct {
	Status       int    `json:"-"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
	Body         string `json:"-"`
}

// djangoClientAuth is how a token request authenticates the client.
type djangoClientAuth string

const (
	djangoAuthHeader djangoClientAuth = "header" // HTTP Basic
	djangoAuthParams djangoClientAuth = "params" // client_id and client_secret form fields
)

// TokenRequest POSTs form to /o/token/ as the harness's client,
// authenticated by auth, and returns the decoded answer whatever its status.
func (d *Django) TokenRequest(t testing.TB, auth djangoClientAuth, form url.Values) DjangoTokenResponse {
	t.Helper()
	status, body := d.clientPost(t, d.TokenURL(), auth, form)
	r := DjangoTokenResponse{Status: status, Body: string(body)}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("POST /o/token/: status %d, body %q is not JSON: %v", status, body, err)
	}
	return r
}

// Introspect asks /o/introspect/ about token as the harness's client.
func (d *Django) Introspect(t testing.TB, auth djangoClientAuth, token string) (int, map[string]any) {
	t.Helper()
	status, body := d.clientPost(t, d.IntrospectURL(), auth, url.Values{"token": {token}})
	var v map[string]any
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("POST /o/introspect/: body %q is not JSON: %v", body, err)
		}
	}
	return status, v
}

// clientPost sends a form POST as the confidential client.
func (d *Django) clientPost(t testing.TB, target string, auth djangoClientAuth, form url.Values) (int, []byte) {
	t.Helper()
	form = cloneValues(form)
	if auth == djangoAuthParams {
		form.Set("client_id", d.ClientID)
		form.Set("client_secret", d.ClientSecret)
	}
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if auth == djangoAuthHeader {
		req.SetBasicAuth(url.QueryEscape(d.ClientID), url.QueryEscape(d.ClientSecret))
	}
	return djangoDo(t, req)
}

// Userdata calls the userdata view with an Authorization header value.
func (d *Django) Userdata(t testing.TB, authorization string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.UserdataURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return djangoDo(t, req)
}

// djangoDo sends req without cookies or redirects and reads the answer.
func djangoDo(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	client := &http.Client{
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, body
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// djangoGateCallbackPath is where hubgate takes the OAuth callback.
const djangoGateCallbackPath = "/oauth2/callback"

// DjangoGateRedirectURL is hubgate's callback URL when it listens on addr.
func DjangoGateRedirectURL(addr string) string {
	return "http://" + addr + djangoGateCallbackPath
}

// StartDjangoGate starts hubgate on addr ("127.0.0.1:PORT", e.g. from
// freeAddr) with the django provider in front of up, registering its
// callback at d if needed. The base configuration identifies users through
// the userdata view (HUBGATE_ADMIN_KEY=is_staff) with Basic client auth and
// scope read; env overrides or adds HUBGATE_* variables, and an empty value
// leaves a variable unset (e.g. HUBGATE_USERDATA_URL: "" for introspection).
func StartDjangoGate(t testing.TB, d *Django, up *Upstream, addr string, env map[string]string) *Gate {
	t.Helper()
	redirect := DjangoGateRedirectURL(addr)
	d.AddRedirectURI(t, redirect)
	vars := djangoGateEnv(d, up, redirect, randomSecret())
	for k, v := range env {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	return StartHubgate(t, addr, vars)
}

// djangoGateEnv is StartDjangoGate's base configuration.
func djangoGateEnv(d *Django, up *Upstream, redirect, cookieSecret string) map[string]string {
	return map[string]string{
		"HUBGATE_PROVIDER":      "django",
		"HUBGATE_PROVIDER_URL":  d.URL,
		"HUBGATE_USERDATA_URL":  d.UserdataURL(),
		"HUBGATE_ADMIN_KEY":     "is_staff",
		"HUBGATE_CLIENT_AUTH":   "header",
		"HUBGATE_SCOPE":         "read",
		"HUBGATE_CLIENT_ID":     d.ClientID,
		"HUBGATE_CLIENT_SECRET": d.ClientSecret,
		"HUBGATE_REDIRECT_URL":  redirect,
		"HUBGATE_COOKIE_SECRET": cookieSecret,
		"HUBGATE_UPSTREAM":      up.URL,
	}
}

// djangoWait sleeps d, logging why.
func djangoWait(t testing.TB, d time.Duration, why string) {
	t.Helper()
	t.Logf("waiting %v: %s", d, why)
	time.Sleep(d)
}
