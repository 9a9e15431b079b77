//go:build integration

package integration

import (
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestIdentityHeaders runs two hubgates in front of the echo upstream with a real
// JupyterHub: one with upstream_headers (Grafana's X-WEBAUTH-*), pass_basic_auth,
// prefer_email_to_user and set_xauthrequest false, one with pass_user_headers
// false. Hub users have no e-mail, so prefer_email_to_user keeps the username and
// the e-mail mapping sends nothing.
func TestIdentityHeaders(t *testing.T) {
	RequireHub(t, coreSuite)
	up := StartUpstream(t)
	mappedAddr, quietAddr := freeAddr(t), freeAddr(t)
	hub := StartHub(t, HubConfig{Services: []HubService{
		{Name: "gate-mapped", OAuthRedirectURI: "http://" + mappedAddr + "/oauth2/callback", OAuthNoConfirm: true},
		{Name: "gate-quiet", OAuthRedirectURI: "http://" + quietAddr + "/oauth2/callback", OAuthNoConfirm: true},
	}})
	const password = "basic-pw-for-the-upstream"
	mapped := StartHubgate(t, mappedAddr, jupyterhubEnv(hub, hub.Service(t, "gate-mapped"), up, mappedAddr, map[string]string{
		"HUBGATE_UPSTREAM_HEADERS":     "X-WEBAUTH-USER=user,X-WEBAUTH-EMAIL=email,X-WEBAUTH-GROUPS=groups",
		"HUBGATE_PASS_BASIC_AUTH":      "true",
		"HUBGATE_BASIC_AUTH_PASSWORD":  password,
		"HUBGATE_PREFER_EMAIL_TO_USER": "true",
		"HUBGATE_SET_XAUTHREQUEST":     "false",
		"HUBGATE_SKIP_AUTH_ROUTES":     "^/public/",
	}))
	quiet := StartHubgate(t, quietAddr, jupyterhubEnv(hub, hub.Service(t, "gate-quiet"), up, quietAddr, map[string]string{
		"HUBGATE_PASS_USER_HEADERS": "false",
	}))
	alice := hub.CreateToken(t, "alice")

	// A client's copies of the standard names, and of the mapped ones: any X-WEBAUTH-*
	// is hubgate's only where upstream_headers names it.
	standard := []string{"X-Forwarded-User", "x_forwarded_user", "X-Forwarded-Email", "X-Forwarded-Groups"}
	withMapped := append([]string{"X-WEBAUTH-USER", "x-webauth-user", "x_webauth_user", "X.Webauth.User", "X_WEBAUTH_EMAIL"}, standard...)
	request := func(t *testing.T, url, authorization string, forged []string) EchoedRequest {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept", "application/json")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		for _, name := range forged {
			req.Header[name] = []string{"mallory-forged"}
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, body)
		}
		e := decodeEcho(t, body, url)
		for name, values := range e.Header {
			for _, v := range values {
				if strings.Contains(v, "mallory") {
					t.Errorf("GET %s: the client's %s: %q reached the upstream", url, name, v)
				}
			}
		}
		return e
	}

	t.Run("upstream_headers, Basic and prefer_email_to_user at the upstream", func(t *testing.T) {
		e := request(t, mapped.URL+"/grafana/", "token "+alice.Token, withMapped)
		if got := e.HeaderValues("X-WEBAUTH-USER"); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("X-WEBAUTH-USER (any spelling) %q, want [alice]", got)
		}
		if got := e.HeaderValues("X-WEBAUTH-GROUPS"); len(got) != 1 || !slices.Contains(splitList(got[0]), "staff") {
			t.Errorf("X-WEBAUTH-GROUPS %q, want one value listing staff", got)
		}
		if got := e.HeaderValues("X-WEBAUTH-EMAIL"); len(got) != 0 {
			t.Errorf("X-WEBAUTH-EMAIL %q for a Hub user, who has no e-mail", got)
		}
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password))
		if got := e.HeaderValues("Authorization"); !slices.Equal(got, []string{want}) {
			t.Errorf("Authorization %q, want [%s] in place of the client's token", got, want)
		}
		// prefer_email_to_user without an e-mail: the username, and no X-Forwarded-Email.
		checkIdentity(t, e, "alice", "staff", "false")
		if got := e.HeaderValues("X-Forwarded-Email"); len(got) != 0 {
			t.Errorf("X-Forwarded-Email %q", got)
		}
	})

	t.Run("a skip_auth route gets no identity and no forged copy", func(t *testing.T) {
		e := request(t, mapped.URL+"/public/logo.png", "", withMapped)
		for _, name := range []string{"X-WEBAUTH-USER", "X-WEBAUTH-EMAIL", "X-Forwarded-User"} {
			if got := e.HeaderValues(name); len(got) != 0 {
				t.Errorf("%s %q on a public path", name, got)
			}
		}
	})

	t.Run("the auth endpoint's 202: upstream_headers, no X-Auth-Request-*", func(t *testing.T) {
		resp, body := get(t, mapped.URL+"/oauth2/auth", "token "+alice.Token)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, want 202: %s", resp.StatusCode, body)
		}
		if got := resp.Header.Values("X-Webauth-User"); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("X-WEBAUTH-USER on the 202 %q, want [alice]", got)
		}
		for name := range resp.Header {
			if strings.HasPrefix(name, "X-Auth-Request-") {
				t.Errorf("%s on the 202 with set_xauthrequest false", name)
			}
		}
		// The default (set_xauthrequest true) still answers with them.
		resp, body = get(t, quiet.URL+"/oauth2/auth", "token "+alice.Token)
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Auth-Request-User") != "alice" {
			t.Errorf("default gate: status %d, X-Auth-Request-User %q: %s", resp.StatusCode, resp.Header.Get("X-Auth-Request-User"), body)
		}
	})

	t.Run("pass_user_headers false", func(t *testing.T) {
		e := request(t, quiet.URL+"/app", "token "+alice.Token, standard)
		for _, name := range []string{"X-Forwarded-User", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "X-Forwarded-Admin", "X-Forwarded-Email"} {
			if got := e.HeaderValues(name); len(got) != 0 {
				t.Errorf("%s %q with pass_user_headers false", name, got)
			}
		}
		if got := e.HeaderValues("Authorization"); len(got) != 0 {
			t.Errorf("Authorization %q: the client's token went upstream", got)
		}
	})

	t.Run("logs hold no secrets", func(t *testing.T) {
		secrets := map[string]string{"basic_auth_password": password, "alice's API token": alice.Token}
		mapped.CheckLogOmits(t, secrets)
		quiet.CheckLogOmits(t, secrets)
	})
}
