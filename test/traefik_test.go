//go:build integration

package integration

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// traefikErrorsExample is the shipped Traefik configuration in oauth2-proxy's form.
var traefikErrorsExample = filepath.Join("..", "examples", "traefik", "errors.yml")

// traefikMiddleware is what the test reads of a Traefik middleware.
type traefikMiddleware struct {
	ForwardAuth struct {
		Address             string   `yaml:"address"`
		AuthResponseHeaders []string `yaml:"authResponseHeaders"`
	} `yaml:"forwardAuth"`
	Errors struct {
		Status []string `yaml:"status"`
		Query  string   `yaml:"query"`
	} `yaml:"errors"`
}

// traefikMiddlewares reads the middlewares of a Traefik file-provider configuration.
func traefikMiddlewares(t testing.TB, path string) map[string]traefikMiddleware {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		HTTP struct {
			Middlewares map[string]traefikMiddleware `yaml:"middlewares"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(b, &conf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return conf.HTTP.Middlewares
}

// TestTraefikErrorsForm sends hubgate, with its defaults and the real Hub, the
// requests that examples/traefik/errors.yml (oauth2-proxy's documented Traefik form)
// makes Traefik send: forwardAuth's check, and on its 401 the errors middleware's
// request for /oauth2/sign_in?rd={url} with the original request's headers. The
// browser goes through the Hub's login and back to the page; the next check passes
// with the identity Traefik copies. Traefik itself is not packaged for Debian.
func TestTraefikErrorsForm(t *testing.T) {
	RequireHub(t, fullSuite)
	t.Parallel()
	mw := traefikMiddlewares(t, traefikErrorsExample)
	auth, errs := mw["hubgate-auth"].ForwardAuth, mw["hubgate-errors"].Errors
	if auth.Address == "" || errs.Query == "" || !slices.Equal(errs.Status, []string{"401"}) {
		t.Fatalf("%s: want middlewares hubgate-auth (forwardAuth) and hubgate-errors (errors on 401)", traefikErrorsExample)
	}
	up := StartUpstream(t)
	gateAddr := freeAddr(t)
	callback := "http://" + gateAddr + "/oauth2/callback"
	hub := StartHub(t, HubConfig{Services: []HubService{{Name: "traefik-gate", OAuthRedirectURI: callback, OAuthNoConfirm: true}}})
	svc := hub.Service(t, "traefik-gate")
	gate := StartHubgate(t, gateAddr, jupyterhubEnv(hub, svc, up, gateAddr, nil))
	authURL := strings.Replace(auth.Address, "127.0.0.1:4180", gateAddr, 1)
	const page = "/report?x=1&y=a%26b+c"

	// forwardAuth: a GET to the address with the client's headers and Traefik's
	// own X-Forwarded-* (trustForwardHeader: false replaces the client's).
	forwardAuth := func(accept string, cookies []*http.Cookie) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, authURL, nil)
		req.Header.Set("Accept", accept)
		req.Header.Set("X-Forwarded-Method", http.MethodGet)
		req.Header.Set("X-Forwarded-Proto", "http")
		req.Header.Set("X-Forwarded-Host", gateAddr)
		req.Header.Set("X-Forwarded-Uri", page)
		req.Header.Set("X-Forwarded-For", "192.0.2.10")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		return req
	}
	// The errors middleware: query with {url} the escaped request URL, sent to the
	// hubgate service with the original request's headers.
	signIn := func(accept string) *http.Request {
		query := strings.ReplaceAll(errs.Query, "{url}", url.QueryEscape(page))
		req, _ := http.NewRequest(http.MethodGet, gate.URL+query, nil)
		req.Header.Set("Accept", accept)
		req.Header.Set("X-Forwarded-Proto", "http")
		req.Header.Set("X-Forwarded-Host", gateAddr)
		req.Header.Set("X-Forwarded-For", "192.0.2.10")
		return req
	}

	resp, body := readAll(t, noRedirects, forwardAuth(navigationAccept, nil))
	checkAPI401(t, "forwardAuth, no session", resp, body)

	// A browser: the sign-in is the redirect to the Hub, which still leads on
	// where Traefik keeps the 401 (no statusRewrites).
	resp = send(t, noRedirects, signIn(navigationAccept))
	checkLoginRedirect(t, resp, hub.PublicURL+"/hub/api/oauth2/authorize", svc.ClientID(), callback)
	if got, want := resp.Header.Get("Refresh"), "0; url="+resp.Header.Get("Location"); got != want {
		t.Errorf("sign_in's Refresh %q, want %q", got, want)
	}
	alice := NewBrowser(t, "alice")
	alice.Client().Jar.SetCookies(mustParseURL(t, gate.URL), resp.Cookies())
	p := alice.Open(resp.Header.Get("Location"))
	if !p.LoggedIn || p.URL.String() != gate.URL+page {
		t.Fatalf("after the Hub's login the browser should be back at %s\n%s", gate.URL+page, p)
	}
	checkHop(t, p, "GET "+gate.URL+"/oauth2/callback?", "302", page)

	resp, body = readAll(t, noRedirects, forwardAuth(navigationAccept, alice.Cookies(gate.URL)))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("forwardAuth with alice's session: %d %s", resp.StatusCode, body)
	}
	want := map[string]string{
		"X-Auth-Request-User": "alice", "X-Auth-Request-Groups": "staff",
		"X-Auth-Request-Email": "", "X-Auth-Request-Preferred-Username": "alice",
	}
	for _, name := range auth.AuthResponseHeaders {
		if got := resp.Header.Values(name); !slices.Equal(got, []string{want[name]}) {
			t.Errorf("202 %s = %q, want [%q] for Traefik to copy", name, got, want[name])
		}
	}

	// An API client: 401 at forwardAuth and again at the sign-in, never the Hub.
	resp, body = readAll(t, noRedirects, forwardAuth("application/json", nil))
	checkAPI401(t, "forwardAuth, API client", resp, body)
	resp, body = readAll(t, noRedirects, signIn("application/json"))
	checkAPI401(t, "sign_in, API client", resp, body)
}
