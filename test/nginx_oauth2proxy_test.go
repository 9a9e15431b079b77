//go:build integration

package integration

import (
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
)

// signInLink is the button of hubgate's sign-in page.
var signInLink = regexp.MustCompile(`href="(/oauth2/start\?rd=[^"]+)"`)

// TestNginxOAuth2ProxyDocs runs oauth2-proxy's own nginx configuration unchanged but
// for the addresses (test/testdata/oauth2-proxy-nginx.conf.tmpl) in front of hubgate
// and the real Hub: both error_page forms bring the browser, after its login, back to
// the page and query it asked for, and the app gets the user as the snippet passes it.
// The named location builds rd from $host, which has no port: nginx serves on port
// 80 of its own loopback address, as a site would.
func TestNginxOAuth2ProxyDocs(t *testing.T) {
	RequireHub(t, fullSuite)
	t.Parallel()
	requireNginx(t)
	up := StartUpstream(t)
	nginxAddr, gateAddr := defaultPortAddr(t), freeAddr(t)
	site := "http://" + strings.TrimSuffix(nginxAddr, ":80")
	callback := site + "/oauth2/callback"
	hub := StartHub(t, HubConfig{Services: []HubService{{Name: "docs-gate", OAuthRedirectURI: callback, OAuthNoConfirm: true}}})
	svc := hub.Service(t, "docs-gate")
	// hubgate runs what import-oauth2-proxy made of an oauth2-proxy configuration
	// for the Hub; it shows the sign-in page, as oauth2-proxy without
	// skip_provider_button does.
	converted := importOAuth2Proxy(t, filepath.Join("testdata", "oauth2-proxy-jupyterhub.cfg.tmpl"), oauth2ProxyConfig{
		Gate: gateAddr, Upstream: up.URL, ClientID: svc.ClientID(), ClientSecret: svc.APIToken, Callback: callback,
		Hub: hub.PublicURL, HubAPI: hub.APIURL, CookieSecret: randomSecret(),
	})
	StartHubgate(t, gateAddr, map[string]string{"HUBGATE_CONFIG": converted})
	StartNginx(t, NginxSite{Listen: nginxAddr, Hubgate: gateAddr, App: mustParseURL(t, up.URL).Host,
		Template: filepath.Join("testdata", "oauth2-proxy-nginx.conf.tmpl")})

	for _, c := range []struct {
		name, path string
		status     int // of the sign-in page as nginx answers it
	}{
		{"error_page 401 =403 /oauth2/sign_in", "/a/report?x=1&y=a%26b+c", http.StatusForbidden},
		{"error_page 401 = /oauth2/sign_in", "/b/report?x=2&y=a%26b+c", http.StatusOK},
		{"error_page 401 = @oauth2_signin (302 with an unescaped rd)", "/c/report?x=3&y=a%26b+c", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			alice := NewBrowser(t, "alice")
			page := alice.Open(site + c.path)
			m := signInLink.FindSubmatch(page.Body)
			if page.StatusCode != c.status || m == nil {
				t.Fatalf("want hubgate's sign-in page with status %d\n%s", c.status, page)
			}
			page = alice.Open(site + html.UnescapeString(string(m[1])))
			if !page.LoggedIn || page.StatusCode != http.StatusOK {
				t.Fatalf("the sign-in button should log in at the Hub and land on the page\n%s", page)
			}
			if got, want := page.URL.String(), site+c.path; got != want {
				t.Errorf("after login the browser is at %s, want %s (the page it asked for)", got, want)
			}
			e := decodeEcho(t, page.Body, "after login")
			if e.Path+"?"+e.RawQuery != c.path {
				t.Errorf("the app saw %s?%s, want %s", e.Path, e.RawQuery, c.path)
			}
			if got := e.Header["X-User"]; len(got) != 1 || got[0] != "alice" {
				t.Errorf("the app got X-User %q, want alice (auth_request_set from X-Auth-Request-User)", got)
			}
			again := alice.Open(site + c.path)
			if again.StatusCode != http.StatusOK || again.LoggedIn {
				t.Errorf("a second visit should be served from the session\n%s", again)
			}
		})
	}
}

// oauth2ProxyConfig fills an oauth2-proxy configuration template.
type oauth2ProxyConfig struct {
	Gate, Upstream, ClientID, ClientSecret, Callback, Hub, HubAPI, CookieSecret string
}

// importOAuth2Proxy renders the oauth2-proxy configuration template at path, runs
// hubgate import-oauth2-proxy on it and hubgate check-config on the result, and
// returns the path of hubgate's YAML. What the import left out is logged.
func importOAuth2Proxy(t testing.TB, path string, data oauth2ProxyConfig) string {
	t.Helper()
	tmpl, err := template.ParseFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "oauth2-proxy.cfg")
	var b strings.Builder
	if err := tmpl.Option("missingkey=error").Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, notes strings.Builder
	cmd := exec.Command(HubgateBinary(t), "import-oauth2-proxy", "--config", cfg)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &out, &notes
	if err := cmd.Run(); err != nil {
		t.Fatalf("hubgate import-oauth2-proxy: %v\n%s", err, notes.String())
	}
	t.Logf("import-oauth2-proxy notes:\n%s", notes.String())
	converted := filepath.Join(dir, "hubgate.yaml")
	if err := os.WriteFile(converted, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	check := exec.Command(HubgateBinary(t), "check-config", "--config", converted)
	check.Env = cmd.Env
	if msg, err := check.CombinedOutput(); err != nil {
		t.Fatalf("hubgate check-config on the import: %v\n%s\n---- import ----\n%s", err, msg, out.String())
	}
	return converted
}
