//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestOIDCDjango runs hubgate's provider oidc against django-oauth-toolkit with
// OpenID Connect on (DOT 3.0 on the primary leg, 1.7 on Debian 12's), configured with
// nothing but oidc_issuer_url, the client's id and secret and the callback: discovery,
// a login through Django's form with PKCE and a nonce, the ID token verified against
// DOT's JWKS, and the identity from the userinfo endpoint at the upstream.
func TestOIDCDjango(t *testing.T) {
	RequireDjango(t, coreSuite)
	t.Parallel()
	up := StartUpstream(t)
	gateAddr, lateAddr := freeAddr(t), freeAddr(t)
	callback := DjangoGateRedirectURL(gateAddr)
	dj := StartDjango(t, DjangoConfig{OIDC: true, RedirectURIs: []string{callback}})
	oidcEnv := func(issuer, redirect string) map[string]string {
		return map[string]string{
			"HUBGATE_PROVIDER":        "oidc",
			"HUBGATE_OIDC_ISSUER_URL": issuer,
			"HUBGATE_CLIENT_ID":       dj.ClientID,
			"HUBGATE_CLIENT_SECRET":   dj.ClientSecret,
			"HUBGATE_REDIRECT_URL":    redirect,
			"HUBGATE_COOKIE_SECRET":   randomSecret(),
			"HUBGATE_UPSTREAM":        up.URL,
			"HUBGATE_LOG_FORMAT":      "console",
		}
	}
	gate := StartHubgate(t, gateAddr, oidcEnv(dj.IssuerURL(), callback))

	t.Run("login through Django's form gives the upstream the ID token's user", func(t *testing.T) {
		for _, user := range []struct{ name, groups string }{{"alice", "staff"}, {"bob", ""}} {
			b := NewDjangoBrowser(t, dj, user.name)
			page := djangoOpen(b, gate.URL+"/app/page?x=1")
			if page.StatusCode != http.StatusOK || !page.LoggedIn || page.URL.String() != gate.URL+"/app/page?x=1" {
				t.Fatalf("%s: want the upstream's /app/page?x=1 after Django's login\n%s", user.name, page)
			}
			checkHop(t, page, "GET "+gate.URL+"/app/page?x=1", "302", dj.URL+"/o/authorize/?")
			authorize := hopLocation(t, page, "GET "+gate.URL+"/app/page?x=1")
			for _, param := range []string{"nonce", "code_challenge"} {
				if authorize.Query().Get(param) == "" {
					t.Errorf("%s: the authorize request has no %s: %s", user.name, param, authorize)
				}
			}
			if got := authorize.Query().Get("scope"); got != "openid email profile" {
				t.Errorf("%s: scope %q, want hubgate's default openid email profile", user.name, got)
			}
			e := decodeEcho(t, page.Body, user.name)
			djangoCheckIdentity(t, e, djangoIdentity{User: user.name, Groups: user.groups, Email: dj.User(t, user.name).Email, Admin: "false"}, user.name)
			again := b.Do(djangoMustRequest(t, http.MethodGet, gate.URL+"/app/other"))
			if again.StatusCode != http.StatusOK || len(again.Trail) != 1 {
				t.Fatalf("%s: the session should serve the next request without Django\n%s", user.name, again)
			}
		}
		if resp, body := get(t, gate.URL+"/ready", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("/ready: %d %s", resp.StatusCode, body)
		}
		gate.CheckLogOmits(t, map[string]string{"client secret": dj.ClientSecret})
	})

	t.Run("ID tokens as JWT bearer tokens: verified with no call to DOT, other audiences refused", func(t *testing.T) {
		env := oidcEnv(dj.IssuerURL(), callback)
		env["HUBGATE_SKIP_JWT_BEARER_TOKENS"] = "true"
		env["HUBGATE_CACHE_TTL"] = "1s" // so each request below is verified again
		jwtGate := StartHubgate(t, freeAddr(t), env)
		b := NewDjangoBrowser(t, dj, "alice")
		if page := djangoOpen(b, gate.URL+"/app/login-at-django"); !page.LoggedIn {
			t.Fatalf("log alice in at Django first\n%s", page)
		}
		own := djangoIDToken(t, b, dj, dj.ClientID, dj.ClientSecret, callback)
		otherID, otherSecret := dj.AddOIDCClient(t, "other", callback)
		other := djangoIDToken(t, b, dj, otherID, otherSecret, callback)

		// The first use fetches DOT's keys; from then on, none.
		if resp, body := get(t, jwtGate.URL+"/app/warm", "Bearer "+own); resp.StatusCode != http.StatusOK {
			t.Fatalf("alice's ID token as bearer: %d %s", resp.StatusCode, body)
		}
		before := djangoCalls(dj)
		for i := range 6 {
			resp, body := get(t, jwtGate.URL+"/app/jwt", "Bearer "+own)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
			}
			djangoCheckIdentity(t, decodeEcho(t, body, "jwt"), djangoIdentity{User: "alice", Groups: "staff", Email: dj.User(t, "alice").Email, Admin: "false"}, "jwt")
			time.Sleep(300 * time.Millisecond) // past cache_ttl twice over the loop
		}
		if after := djangoCalls(dj); after != before {
			t.Errorf("DOT was called %d times for 6 JWT requests over 1.8 s, want 0", after-before)
		}
		tampered := own[:len(own)-6] + "AAAAAA"
		for name, tok := range map[string]string{"another client's ID token": other, "a tampered ID token": tampered} {
			resp, body := get(t, jwtGate.URL+"/app/jwt", "Bearer "+tok)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s: %d %q %s, want 401 invalid_token", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		}
		// Without skip_jwt_bearer_tokens the same JWT is an opaque token to DOT's
		// userinfo, which does not know it.
		if resp, _ := get(t, gate.URL+"/app/jwt", "Bearer "+own); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("an ID token at a hubgate without skip_jwt_bearer_tokens: %d, want 401", resp.StatusCode)
		}
	})

	t.Run("key rotation at DOT: old tokens verify until the old key is removed", func(t *testing.T) {
		env := oidcEnv(dj.IssuerURL(), callback)
		env["HUBGATE_SKIP_JWT_BEARER_TOKENS"] = "true"
		env["HUBGATE_CACHE_TTL"] = "1s"
		env["HUBGATE_OIDC_JWKS_MAX_AGE"] = "2s"
		rotGate := StartHubgate(t, freeAddr(t), env)
		b := NewDjangoBrowser(t, dj, "bob")
		if page := djangoOpen(b, gate.URL+"/app/rotation"); !page.LoggedIn {
			t.Fatalf("log bob in at Django first\n%s", page)
		}
		status := func(tok string) func() int {
			return func() int { resp, _ := get(t, rotGate.URL+"/app/r", "Bearer "+tok); return resp.StatusCode }
		}
		within := func(what string, f func() int, want int) {
			t.Helper()
			if err := waitFor(10*time.Second, nil, func() error {
				if got := f(); got != want {
					return fmt.Errorf("%s: %d, want %d", what, got, want)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		}
		oldKey := dj.OIDCKey()
		oldTok := djangoIDToken(t, b, dj, dj.ClientID, dj.ClientSecret, callback)
		within("a token of the first key", status(oldTok), http.StatusOK)

		dj.RotateOIDCKeys(t, opensslRSAKey(t), oldKey)
		newTok := djangoIDToken(t, b, dj, dj.ClientID, dj.ClientSecret, callback)
		within("a token of the new key", status(newTok), http.StatusOK)
		within("a token of the old key, still published", status(oldTok), http.StatusOK)

		dj.RotateOIDCKeys(t, dj.OIDCKey())
		within("a token of the removed key", status(oldTok), http.StatusUnauthorized)
		within("a token of the new key, after the removal", status(newTok), http.StatusOK)
	})

	t.Run("oidc_logout ends the session at DOT too (DOT 1.7: it has no end-session endpoint)", func(t *testing.T) {
		addr := freeAddr(t)
		back := "http://" + addr + "/oauth2/sign_out"
		dj.AddRedirectURI(t, DjangoGateRedirectURL(addr))
		env := oidcEnv(dj.IssuerURL(), DjangoGateRedirectURL(addr))
		env["HUBGATE_OIDC_LOGOUT"] = "true"
		rpLogout := !strings.HasPrefix(dj.Install.Version, "1.")
		if rpLogout {
			dj.Shell(t, fmt.Sprintf(`from oauth2_provider.models import Application
Application.objects.filter(client_id=%s).update(post_logout_redirect_uris=%s)`, pyLiteral(dj.ClientID), pyLiteral(back)))
		}
		logoutGate := StartHubgate(t, addr, env)
		b := NewDjangoBrowser(t, dj, "alice")
		if page := djangoOpen(b, logoutGate.URL+"/app/x"); !page.LoggedIn || page.StatusCode != http.StatusOK {
			t.Fatalf("login\n%s", page)
		}
		page := b.Do(djangoMustRequest(t, http.MethodGet, logoutGate.URL+"/oauth2/sign_out"))
		if page.StatusCode != http.StatusOK || page.URL.String() != back || !strings.Contains(string(page.Body), "signed out") {
			t.Fatalf("sign_out: want hubgate's signed-out page at %s\n%s", back, page)
		}
		viaDOT := strings.Contains(strings.Join(page.Trail, "\n"), dj.URL+"/o/logout/")
		if viaDOT != rpLogout {
			t.Errorf("sign_out went through DOT's end-session endpoint: %v, want %v (DOT %s)\n%s", viaDOT, rpLogout, dj.Install.Version, page)
		}
		// Is alice still logged in at Django? Its authorize endpoint says.
		c := &http.Client{Jar: b.Client().Jar, Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(dj.URL + "/o/authorize/?response_type=code&scope=openid&client_id=" + url.QueryEscape(dj.ClientID) + "&redirect_uri=" + url.QueryEscape(callback))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		endedAtDjango := strings.Contains(resp.Header.Get("Location"), "/accounts/login/")
		if endedAtDjango != rpLogout {
			t.Errorf("after sign_out alice's Django session ended: %v, want %v (authorize: %d %s)", endedAtDjango, rpLogout, resp.StatusCode, resp.Header.Get("Location"))
		}
		if again := b.Do(djangoMustRequest(t, http.MethodGet, logoutGate.URL+"/app/x")); again.StatusCode != http.StatusOK || len(again.Trail) < 2 {
			t.Errorf("after sign_out hubgate should send alice to log in again\n%s", again)
		}
	})

	t.Run("an issuer not reachable at start: serving, not ready, then ready", func(t *testing.T) {
		// DOT names its issuer after the Host it is asked on, so a proxy that keeps
		// Host, started later on lateAddr, serves the issuer http://lateAddr/o.
		late := StartHubgate(t, freeAddr(t), oidcEnv("http://"+lateAddr+"/o", callback))
		resp, body := get(t, late.URL+"/ready", "")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/ready with the issuer down: %d %s, want 503", resp.StatusCode, body)
		}
		// The log is written in batches: wait for it.
		if err := waitFor(5*time.Second, nil, func() error {
			if !strings.Contains(late.Log(), "oidc_issuer_url") {
				return errors.New("not yet")
			}
			return nil
		}); err != nil {
			t.Errorf("the log should name oidc_issuer_url while discovery fails:\n%s", late.Log())
		}
		req, _ := http.NewRequest(http.MethodGet, late.URL+"/app", nil)
		req.Header.Set("Accept", navigationAccept)
		if resp := send(t, noRedirects, req); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("a login while discovery fails: %d, want 502 (login service unavailable)", resp.StatusCode)
		}
		serveHostKeepingProxy(t, lateAddr, dj.URL)
		if err := waitFor(30*time.Second, nil, httpStatusIs(late.URL+"/ready", http.StatusOK)); err != nil {
			t.Fatalf("/ready once the issuer is up: %v\n%s", err, late.Log())
		}
		req, _ = http.NewRequest(http.MethodGet, late.URL+"/app", nil)
		req.Header.Set("Accept", navigationAccept)
		resp = send(t, noRedirects, req)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "http://"+lateAddr+"/o/authorize/?") {
			t.Errorf("a login once discovered: %d Location %q, want the issuer's authorize endpoint", resp.StatusCode, loc)
		}
	})

	t.Run("a discovery document for another issuer stops hubgate naming the key", func(t *testing.T) {
		// DOT's issuer is .../o; asked as .../o/ its document names another one.
		env := oidcEnv(dj.IssuerURL()+"/", callback)
		env["HUBGATE_LISTEN"] = freeAddr(t)
		env["PATH"], env["HOME"] = "/usr/bin:/bin", t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, HubgateBinary(t))
		cmd.Env = sortedEnv(env)
		out, err := cmd.CombinedOutput()
		if err == nil || ctx.Err() != nil || !strings.Contains(string(out), "oidc_issuer_url") {
			t.Errorf("hubgate with a mismatched issuer: err %v (timeout: %v), want a non-zero exit naming oidc_issuer_url:\n%s", err, ctx.Err(), out)
		}
	})
}

// hopLocation is the Location of the first hop of p's trail that starts with request.
func hopLocation(t testing.TB, p *Page, request string) *url.URL {
	t.Helper()
	for _, hop := range p.Trail {
		if strings.HasPrefix(hop, request) {
			_, loc, ok := strings.Cut(hop, "(Location: ")
			if !ok {
				break
			}
			u, err := url.Parse(strings.TrimSuffix(loc, ")"))
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
	}
	t.Fatalf("no redirect for %s in\n%s", request, p)
	return nil
}

// serveHostKeepingProxy serves a reverse proxy to target on addr until the test
// ends, passing the client's Host on (so DOT builds its URLs with addr).
func serveHostKeepingProxy(t testing.TB, addr, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	u := mustParseURL(t, target)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host
	}}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// djangoIDToken runs the authorization code flow as the client clientID in b,
// which is logged in at Django, and returns DOT's ID token.
func djangoIDToken(t testing.TB, b *Browser, d *Django, clientID, secret, redirectURI string) string {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"scope": {"openid profile email"}, "state": {"s"}, "nonce": {randomSecret()},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	c := &http.Client{Jar: b.Client().Jar, Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(d.URL + "/o/authorize/?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("authorize as %s: %d Location %q, want a code for %s", clientID, resp.StatusCode, resp.Header.Get("Location"), redirectURI)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, d.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	status, body := djangoDo(t, req)
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); status != http.StatusOK || err != nil || tok.IDToken == "" {
		t.Fatalf("token request as %s: %d %s", clientID, status, body)
	}
	return tok.IDToken
}

// djangoCalls counts the requests DOT's endpoints (under /o/) have served so far.
func djangoCalls(d *Django) int {
	count := func() int {
		log := d.Log()
		return strings.Count(log, `"GET /o/`) + strings.Count(log, `"POST /o/`)
	}
	// runserver writes a request's line after answering it: the count is the one
	// that holds still for 300 ms, so a line of a request just answered (the test's
	// own token request) is not counted on the wrong side.
	n := count()
	for range 20 {
		time.Sleep(300 * time.Millisecond)
		again := count()
		if again == n {
			return n
		}
		n = again
	}
	return n
}
