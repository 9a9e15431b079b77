//go:build integration

package integration

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/provider"
)

// What the newer Hubs (4.x, 5.x) give a service, tested against the real Hub
// of the leg: the token endpoint's Origin check, the JUPYTERHUB_PUBLIC_URL and
// JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED variables, and internal_ssl.

// TestJupyterHubTokenOrigin shows why hubgate never sends Origin to the token
// endpoint: from 4.0 the Hub runs its XSRF check on an API POST that carries
// one and refuses the code exchange; without it the same code is redeemed.
func TestJupyterHubTokenOrigin(t *testing.T) {
	install := RequireHub(t, coreSuite)
	var codes = make(chan string, 1)
	callbackAddr := freeAddr(t)
	callback := &http.Server{Addr: callbackAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case codes <- r.URL.Query().Get("code"):
		default:
		}
		w.Write([]byte("ok"))
	})}
	go callback.ListenAndServe()
	t.Cleanup(func() { callback.Close() })
	redirectURI := "http://" + callbackAddr + "/callback"
	hub := StartHub(t, HubConfig{Services: []HubService{{Name: "probe", OAuthRedirectURI: redirectURI, OAuthNoConfirm: true}}})
	probe := hub.Service(t, "probe")

	NewBrowser(t, "alice").Open(hub.PublicURL + "/hub/api/oauth2/authorize?" + url.Values{
		"client_id": {probe.ClientID()}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "state": {"s1"},
	}.Encode())
	var code string
	select {
	case code = <-codes:
	case <-time.After(10 * time.Second):
		t.Fatal("the Hub never redirected to the callback with a code")
	}

	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {probe.ClientID()}, "client_secret": {probe.APIToken},
	}
	post := func(origin string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, hub.APIURL+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		return readAll(t, noRedirects, req)
	}
	resp, body := post(hub.PublicURL)
	if hubMajor(install.Version) >= 4 {
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("JupyterHub %s, token request with Origin: status %d, want 403 (the Hub's XSRF check); body %s",
				install.Version, resp.StatusCode, body)
		}
	} else if resp.StatusCode != http.StatusOK {
		t.Fatalf("JupyterHub %s, token request with Origin: status %d, want 200 (no XSRF check before 4.0); body %s",
			install.Version, resp.StatusCode, body)
	} else {
		return // the code is used up
	}
	if resp, body := post(""); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "access_token") {
		t.Fatalf("the same code without Origin: status %d, want 200 with a token; body %s", resp.StatusCode, body)
	}
}

// TestJupyterHubManagedCookies runs hubgate as a managed service of the real
// Hub with the cookie variables newer Hubs set: JUPYTERHUB_PUBLIC_URL's scheme
// decides Secure, and JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED over https makes
// the cookies __Host-<name> at path /. (5.2 hands services an empty public URL
// and the prefix flag 0 - 5.5 fills them from c.JupyterHub.public_url - so the
// service's environment sets them here, as an operator of a 5.2 Hub can.)
func TestJupyterHubManagedCookies(t *testing.T) {
	RequireHub(t, fullSuite)
	up := StartUpstream(t)
	bin := HubgateBinary(t)
	plain, secure, httpOnly := freeAddr(t), freeAddr(t), freeAddr(t)
	service := func(name, addr string, env map[string]string) HubService {
		env["HUBGATE_UPSTREAM"] = up.URL
		env["HUBGATE_LOG_FORMAT"] = "console"
		return HubService{Name: name, URL: "http://" + addr, Command: []string{bin}, OAuthNoConfirm: true, Environment: env}
	}
	hub := StartHub(t, HubConfig{Services: []HubService{
		service("plain", plain, map[string]string{}),
		service("secure", secure, map[string]string{
			"JUPYTERHUB_PUBLIC_URL":                 "https://hub.example.org/services/secure/",
			"JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "1",
		}),
		service("insecure", httpOnly, map[string]string{
			"JUPYTERHUB_PUBLIC_URL":                 "http://hub.example.org/services/insecure/",
			"JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "1",
		}),
	}})
	for _, addr := range []string{plain, secure, httpOnly} {
		if err := waitFor(hubgateStartTimeout, hub.proc, httpStatusIs("http://"+addr+"/ping", http.StatusOK)); err != nil {
			t.Fatalf("managed hubgate did not come up at %s: %v", addr, err)
		}
	}
	// The state cookie set on the way to the Hub has the session cookie's scope.
	loginCookie := func(t *testing.T, name string, forwardedProto string) *http.Cookie {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, hub.PublicURL+"/services/"+name+"/page", nil)
		req.Header.Set("Accept", navigationAccept)
		if forwardedProto != "" {
			req.Header.Set("X-Forwarded-Proto", forwardedProto)
		}
		resp := send(t, noRedirects, req)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("%s: GET as a browser: status %d, want 302 to the Hub", name, resp.StatusCode)
		}
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%s: want one state cookie, got Set-Cookie %q", name, resp.Header.Values("Set-Cookie"))
		}
		return cookies[0]
	}

	t.Run("no public URL: the request decides, cookie at the service prefix", func(t *testing.T) {
		c := loginCookie(t, "plain", "")
		if !strings.HasPrefix(c.Name, "_hubgate") || c.Secure || c.Path != "/services/plain/" {
			t.Errorf("cookie %s path %s secure %v, want _hubgate..., path /services/plain/, not Secure", c.Name, c.Path, c.Secure)
		}
	})
	t.Run("https public URL with the host prefix: __Host- cookie, Secure, path /", func(t *testing.T) {
		c := loginCookie(t, "secure", "")
		if !strings.HasPrefix(c.Name, "__Host-_hubgate") || !c.Secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %s path %s secure %v domain %q, want __Host-_hubgate..., Secure, path /, no domain",
				c.Name, c.Path, c.Secure, c.Domain)
		}
	})
	t.Run("http public URL: never Secure, no prefix (a browser would drop it)", func(t *testing.T) {
		c := loginCookie(t, "insecure", "https") // the public URL wins over the header
		if !strings.HasPrefix(c.Name, "_hubgate") || c.Secure || c.Path != "/services/insecure/" {
			t.Errorf("cookie %s path %s secure %v, want _hubgate..., path /services/insecure/, not Secure", c.Name, c.Path, c.Secure)
		}
	})
}

// TestJupyterHubInternalSSL runs hubgate as a managed service of a Hub with
// internal_ssl = True: the Hub gives it a certificate (JUPYTERHUB_SSL_*) and an
// https API that wants it; the Hub's proxy speaks https to the service. Browser
// login and API tokens work end to end through the Hub's proxy.
func TestJupyterHubInternalSSL(t *testing.T) {
	RequireHub(t, fullSuite)
	up := StartUpstream(t)
	bin := HubgateBinary(t)
	serviceAddr := freeAddr(t)
	hub := StartHub(t, HubConfig{InternalSSL: true, Services: []HubService{{
		Name:           "gate",
		URL:            "https://" + serviceAddr,
		Command:        []string{bin},
		OAuthNoConfirm: true,
		Environment:    map[string]string{"HUBGATE_UPSTREAM": up.URL, "HUBGATE_LOG_FORMAT": "console"},
	}}})
	// The tests' admin calls need a client certificate too: the Hub's own, signed by
	// the CA the API trusts for its services' certificates.
	certs := filepath.Join(hub.Dir, "internal-ssl")
	clientTLS, err := provider.HubClientTLS(filepath.Join(certs, "hub-ca", "hub-ca.crt"),
		filepath.Join(certs, "hub-internal", "hub-internal.crt"), filepath.Join(certs, "hub-internal", "hub-internal.key"))
	if err != nil {
		t.Fatalf("the Hub's internal certificates: %v", err)
	}
	hub.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS}}

	// hubgate's listener speaks TLS with the Hub's certificate for the service.
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if err := waitFor(hubgateStartTimeout, hub.proc, func() error {
		resp, err := probe.Get("https://" + serviceAddr + "/ping")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}); err != nil {
		t.Fatalf("managed hubgate did not answer https at %s: %v", serviceAddr, err)
	}
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + serviceAddr + "/ping"); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Errorf("hubgate answers plain http next to internal_ssl")
		}
		resp.Body.Close()
	}

	t.Run("browser login through the Hub's proxy", func(t *testing.T) {
		page := NewBrowser(t, "alice").Open(hub.PublicURL + "/services/gate/hello")
		if page.StatusCode != http.StatusOK || !page.LoggedIn {
			t.Fatalf("want 200 after a Hub login\n%s", page)
		}
		checkIdentity(t, decodeEcho(t, page.Body, "internal_ssl login"), "alice", "staff", "false")
		if slices.ContainsFunc(page.Header.Values("Set-Cookie"), func(c string) bool { return strings.Contains(c, "Secure") }) {
			t.Errorf("the browser came over http but a cookie is Secure: %q", page.Header.Values("Set-Cookie"))
		}
	})
	t.Run("API token through the Hub's proxy", func(t *testing.T) {
		tok := hub.CreateToken(t, "alice")
		resp, body := get(t, hub.PublicURL+"/services/gate/api", "token "+tok.Token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token request: status %d, want 200; body %s", resp.StatusCode, body)
		}
		checkIdentity(t, decodeEcho(t, body, "internal_ssl token"), "alice", "staff", "false")
		hub.RevokeToken(t, tok)
	})
}
