//go:build integration

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHubHarness checks the harness itself against a real Hub, without
// hubgate: the config starts, the admin token manages user tokens, and the
// scripted browser completes an OAuth authorization (login form and the
// "Authorize access" page) for a service registered without oauth_no_confirm.
func TestHubHarness(t *testing.T) {
	RequireHub(t, coreSuite)
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "query": r.URL.RawQuery})
	}))
	t.Cleanup(callback.Close)
	redirectURI := callback.URL + "/callback"

	hub := StartHub(t, HubConfig{Services: []HubService{
		{Name: "probe", OAuthRedirectURI: redirectURI}, // the Hub will ask for consent
	}})
	probe := hub.Service(t, "probe")

	t.Run("admin token creates and revokes user tokens", func(t *testing.T) {
		tok := hub.CreateToken(t, "alice")
		status, user := hub.WhoAmI(t, tok.Token)
		if status != http.StatusOK || user.Name != "alice" || user.Kind != "user" {
			t.Fatalf("GET /user with alice's token: %d %+v", status, user)
		}
		if !slices.Contains(user.Groups, "staff") {
			t.Errorf("alice's groups %v lack staff", user.Groups)
		}
		if !slices.Contains(user.Scopes, "access:services!service=probe") {
			t.Errorf("alice's scopes %v lack access:services!service=probe", user.Scopes)
		}
		hub.RevokeToken(t, tok)
		if status, _ := hub.WhoAmI(t, tok.Token); status != http.StatusForbidden {
			t.Errorf("GET /user with a revoked token: status %d, want 403", status)
		}
	})

	t.Run("browser completes the authorization code flow", func(t *testing.T) {
		browser := NewBrowser(t, "alice")
		authorize := hub.PublicURL + "/hub/api/oauth2/authorize?" + url.Values{
			"client_id":     {probe.ClientID()},
			"redirect_uri":  {redirectURI},
			"response_type": {"code"},
			"state":         {"state-123"},
		}.Encode()

		page := browser.Open(authorize)
		if !page.LoggedIn || !page.Authorized {
			t.Fatalf("expected the login form and the authorize page on the way (logged in %v, authorized %v)\n%s",
				page.LoggedIn, page.Authorized, page)
		}
		code := callbackCode(t, page, "state-123")
		token := exchangeCode(t, hub, probe, redirectURI, code)
		if status, user := hub.WhoAmI(t, token); status != http.StatusOK || user.Name != "alice" {
			t.Fatalf("GET /user with the OAuth token: %d %+v", status, user)
		}

		// The Hub session and the existing grant make the second round silent.
		again := browser.Open(strings.Replace(authorize, "state-123", "state-456", 1))
		if again.LoggedIn || again.Authorized {
			t.Errorf("second authorization asked again (logged in %v, authorized %v)\n%s",
				again.LoggedIn, again.Authorized, again)
		}
		callbackCode(t, again, "state-456")
	})
}

// callbackCode checks that page is the OAuth callback with the given state
// and returns the code.
func callbackCode(t *testing.T, page *Page, state string) string {
	t.Helper()
	var got struct{ Path, Query string }
	if err := json.Unmarshal(page.Body, &got); err != nil || got.Path != "/callback" {
		t.Fatalf("did not land on the callback\n%s", page)
	}
	q, _ := url.ParseQuery(got.Query)
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback query %q: want state %q and a code", got.Query, state)
	}
	return q.Get("code")
}

// exchangeCode redeems an authorization code at the Hub's token endpoint
// (form fields only; JupyterHub does not take HTTP Basic).
func exchangeCode(t *testing.T, hub *Hub, s HubService, redirectURI, code string) string {
	t.Helper()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"client_id":     {s.ClientID()},
		"client_secret": {s.APIToken},
	}
	req, _ := http.NewRequest(http.MethodPost, hub.APIURL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token exchange: %s %s", resp.Status, body)
	}
	return tok.AccessToken
}
