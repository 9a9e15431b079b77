//go:build integration

package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDjangoHarness checks the Django harness against the real Django 3.2 +
// django-oauth-toolkit 1.7, without hubgate, by doing the authorization-code
// flow by hand. It documents what hubgate's django provider relies on: the
// login redirect with ?next=, Django's CSRF-protected login form, codes
// delivered to the registered redirect URI with the state echoed, client
// auth by Basic and by form fields, refresh token rotation, PKCE checks, the
// userdata view (403 with an empty body for a bad token) and introspection.
func TestDjangoHarness(t *testing.T) {
	RequireDjango(t, coreSuite)
	t.Parallel()
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "query": r.URL.RawQuery})
	}))
	t.Cleanup(callback.Close)
	redirectURI := callback.URL + "/callback"

	dj := StartDjango(t, DjangoConfig{RedirectURIs: []string{redirectURI}})
	browser := NewDjangoBrowser(t, dj, "alice")

	// authorize returns an authorize URL with PKCE S256 and the verifier.
	authorize := func(state string) (string, string) {
		verifier := randomSecret() // 52 characters of [A-Z2-7]: a valid verifier
		sum := sha256.Sum256([]byte(verifier))
		return dj.AuthorizeURL() + "?" + url.Values{
			"response_type":         {"code"},
			"client_id":             {dj.ClientID},
			"redirect_uri":          {redirectURI},
			"state":                 {state},
			"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
			"code_challenge_method": {"S256"},
			"scope":                 {"read"},
		}.Encode(), verifier
	}
	exchange := func(t *testing.T, auth djangoClientAuth, code, verifier string) DjangoTokenResponse {
		t.Helper()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		return dj.TokenRequest(t, auth, form)
	}
	checkTokens := func(t *testing.T, r DjangoTokenResponse) {
		t.Helper()
		if r.Status != http.StatusOK || r.AccessToken == "" || r.RefreshToken == "" ||
			r.TokenType != "Bearer" || r.Scope != "read" || r.ExpiresIn != djangoDefaultTokenSeconds {
			t.Fatalf("token response: status %d %s", r.Status, r.Body)
		}
	}

	var tokens DjangoTokenResponse // alice's, from the first code
	t.Run("login form and code with Basic client auth", func(t *testing.T) {
		u, verifier := authorize("state-1")
		page := djangoOpen(browser, u)
		if !page.LoggedIn {
			t.Fatalf("expected Django's login form on the way\n%s", page)
		}
		if !slices.ContainsFunc(djangoTrailLocations(page), func(loc string) bool {
			l, err := url.Parse(loc)
			return err == nil && l.Path == "/accounts/login/" && strings.HasPrefix(l.Query().Get("next"), "/o/authorize/?")
		}) {
			t.Errorf("expected /o/authorize/ to send the browser to /accounts/login/?next=<authorize URL>\n%s", page)
		}
		if c := djangoCookie(browser, dj.URL, "csrftoken"); c == "" {
			t.Errorf("no csrftoken cookie from Django's login page")
		}
		code := djangoCallbackCode(t, page, redirectURI, "state-1")
		tokens = exchange(t, djangoAuthHeader, code, verifier)
		checkTokens(t, tokens)

		again := exchange(t, djangoAuthHeader, code, verifier)
		if again.Status != http.StatusBadRequest || again.Error != "invalid_grant" {
			t.Errorf("a used code: status %d %s, want 400 invalid_grant", again.Status, again.Body)
		}
	})
	if tokens.AccessToken == "" {
		t.FailNow()
	}

	t.Run("logged-in browser gets a code at once; client auth by form fields", func(t *testing.T) {
		u, verifier := authorize("state-2")
		page := djangoOpen(browser, u)
		if page.LoggedIn {
			t.Errorf("the Django session should have made the login form unnecessary\n%s", page)
		}
		code := djangoCallbackCode(t, page, redirectURI, "state-2")
		checkTokens(t, exchange(t, djangoAuthParams, code, verifier))
	})

	t.Run("approval form when skip_authorization is off", func(t *testing.T) {
		dj.SetSkipAuthorization(t, false)
		defer dj.SetSkipAuthorization(t, true)
		u, verifier := authorize("state-approve")
		page := djangoOpen(browser, u)
		if !page.Authorized {
			t.Fatalf("expected DOT's Authorize page on the way\n%s", page)
		}
		code := djangoCallbackCode(t, page, redirectURI, "state-approve")
		checkTokens(t, exchange(t, djangoAuthHeader, code, verifier))
	})

	t.Run("PKCE: a wrong or missing verifier is refused", func(t *testing.T) {
		for _, verifier := range []string{"", randomSecret()} {
			u, _ := authorize("state-pkce")
			code := djangoCallbackCode(t, djangoOpen(browser, u), redirectURI, "state-pkce")
			r := exchange(t, djangoAuthHeader, code, verifier)
			if r.Status != http.StatusBadRequest || r.AccessToken != "" {
				t.Errorf("verifier %q: status %d %s, want 400 without a token", verifier, r.Status, r.Body)
			}
			t.Logf("verifier %q: DOT answered %d %s", verifier, r.Status, r.Body)
		}
	})

	t.Run("wrong client secret is invalid_client", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, dj.TokenURL(), strings.NewReader(url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken},
		}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(dj.ClientID, "wrong-secret")
		status, body := djangoDo(t, req)
		if status != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_client") {
			t.Errorf("status %d %s, want 401 invalid_client", status, body)
		}
	})

	t.Run("userdata view", func(t *testing.T) {
		status, body := dj.Userdata(t, "Bearer "+tokens.AccessToken)
		var got struct {
			Username string   `json:"username"`
			Email    string   `json:"email"`
			Groups   []string `json:"groups"`
			IsStaff  bool     `json:"is_staff"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &got) != nil {
			t.Fatalf("GET /userdata/ with alice's token: %d %s", status, body)
		}
		if got.Username != "alice" || got.Email != "alice@example.org" || !slices.Equal(got.Groups, []string{"staff"}) || !got.IsStaff {
			t.Errorf("GET /userdata/: %s", body)
		}
		for _, auth := range []string{"", "Bearer not-a-token", "token " + tokens.AccessToken} {
			if status, body := dj.Userdata(t, auth); status != http.StatusForbidden || len(body) != 0 {
				t.Errorf("GET /userdata/ with Authorization %q: %d %q, want 403 with an empty body", auth, status, body)
			}
		}
	})

	t.Run("introspection", func(t *testing.T) {
		for _, auth := range []djangoClientAuth{djangoAuthHeader, djangoAuthParams} {
			status, got := dj.Introspect(t, auth, tokens.AccessToken)
			if status != http.StatusOK || got["active"] != true || got["username"] != "alice" ||
				got["scope"] != "read" || got["client_id"] != dj.ClientID {
				t.Fatalf("introspect (%s): %d %v", auth, status, got)
			}
			exp, _ := got["exp"].(float64)
			if want := float64(time.Now().Unix() + djangoDefaultTokenSeconds); math.Abs(exp-want) > 60 {
				t.Errorf("introspect: exp %v, want about %v", exp, want)
			}
			if _, ok := got["email"]; ok {
				t.Errorf("introspect: unexpected email in %v", got)
			}
		}
		status, got := dj.Introspect(t, djangoAuthHeader, "not-a-token")
		if status != http.StatusOK || got["active"] != false || len(got) != 1 {
			t.Errorf("introspect an unknown token: %d %v, want 200 {\"active\": false}", status, got)
		}
		status, _ = dj.Introspect(t, "", tokens.AccessToken)
		if status != http.StatusForbidden {
			t.Errorf("introspect without client auth: %d, want 403", status)
		}
	})

	t.Run("refresh rotates the refresh token", func(t *testing.T) {
		u, verifier := authorize("state-refresh")
		first := exchange(t, djangoAuthHeader, djangoCallbackCode(t, djangoOpen(browser, u), redirectURI, "state-refresh"), verifier)
		checkTokens(t, first)
		refresh := func(auth djangoClientAuth, rt string) DjangoTokenResponse {
			return dj.TokenRequest(t, auth, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		}
		second := refresh(djangoAuthParams, first.RefreshToken)
		checkTokens(t, second)
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			t.Errorf("refresh did not rotate: %s", second.Body)
		}
		if r := refresh(djangoAuthHeader, first.RefreshToken); r.Status != http.StatusBadRequest || r.Error != "invalid_grant" {
			t.Errorf("reusing a rotated refresh token: %d %s, want 400 invalid_grant", r.Status, r.Body)
		}
		if status, _ := dj.Userdata(t, "Bearer "+first.AccessToken); status != http.StatusForbidden {
			t.Errorf("the access token of a used refresh token: userdata %d, want 403 (DOT revokes it)", status)
		}
		if status, _ := dj.Userdata(t, "Bearer "+second.AccessToken); status != http.StatusOK {
			t.Errorf("the refreshed access token: userdata %d, want 200", status)
		}
	})

	t.Run("shell helpers: mint, revoke, delete", func(t *testing.T) {
		minted := dj.MintToken(t, "bob", time.Hour)
		if status, body := dj.Userdata(t, "Bearer "+minted); status != http.StatusOK || !strings.Contains(string(body), `"username": "bob"`) {
			t.Errorf("userdata with a minted token: %d %s", status, body)
		}
		expired := dj.MintToken(t, "bob", -time.Second)
		if status, _ := dj.Userdata(t, "Bearer "+expired); status != http.StatusForbidden {
			t.Errorf("userdata with an expired minted token: %d, want 403", status)
		}
		if status, got := dj.Introspect(t, djangoAuthHeader, expired); status != http.StatusOK || got["active"] != false {
			t.Errorf("introspect an expired token: %d %v, want {\"active\": false}", status, got)
		}

		before := dj.TokenCounts(t, "alice")
		if n := dj.RevokeRefreshTokens(t, "alice"); n == 0 {
			t.Errorf("RevokeRefreshTokens(alice) revoked none; counts before: %+v", before)
		}
		r := dj.TokenRequest(t, djangoAuthHeader, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}})
		if r.Status != http.StatusBadRequest || r.Error != "invalid_grant" {
			t.Errorf("refresh with a revoked refresh token: %d %s, want 400 invalid_grant", r.Status, r.Body)
		}
		if status, _ := dj.Userdata(t, "Bearer "+tokens.AccessToken); status != http.StatusForbidden {
			t.Errorf("RefreshToken.revoke() should delete the paired access token: userdata %d", status)
		}
		after := dj.TokenCounts(t, "alice")
		if after.Refresh != after.RefreshRevoked || after.Access != 0 {
			t.Errorf("after revoking: %+v, want every refresh token revoked and no access token", after)
		}
		if n := dj.DeleteAccessTokens(t, "bob"); n != 2 {
			t.Errorf("DeleteAccessTokens(bob) = %d, want 2", n)
		}
		if status, _ := dj.Userdata(t, "Bearer "+minted); status != http.StatusForbidden {
			t.Errorf("userdata with a deleted token: %d, want 403", status)
		}
	})
}

// djangoCallbackCode checks that page is the redirect URI's echo with state
// and returns the code.
func djangoCallbackCode(t testing.TB, page *Page, redirectURI, state string) string {
	t.Helper()
	var echo struct{ Path, Query string }
	if err := json.Unmarshal(page.Body, &echo); err != nil || page.URL.String() != redirectURI+"?"+page.URL.RawQuery {
		t.Fatalf("expected to land on %s, got\n%s", redirectURI, page)
	}
	q, err := url.ParseQuery(echo.Query)
	if err != nil || q.Get("code") == "" || q.Get("state") != state {
		t.Fatalf("callback query %q: want a code and state %q\n%s", echo.Query, state, page)
	}
	return q.Get("code")
}

// djangoCookie returns the value of the browser's cookie name for rawURL.
func djangoCookie(b *Browser, rawURL, name string) string {
	for _, c := range b.Cookies(rawURL) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// djangoTrailLocations lists the Location headers of the redirects in a
// page's trail.
func djangoTrailLocations(p *Page) []string {
	var out []string
	for _, entry := range p.Trail {
		if _, loc, ok := strings.Cut(entry, "(Location: "); ok {
			out = append(out, strings.TrimSuffix(loc, ")"))
		}
	}
	return out
}
