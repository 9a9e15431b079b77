package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubgate/hubgate/provider"
)

// fakeHub is an httptest JupyterHub: handlers for /hub/api/user and the token endpoint.
type fakeHub struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []*http.Request
	forms []url.Values
	user  http.HandlerFunc
	token http.HandlerFunc
	root  http.HandlerFunc
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	h := &fakeHub{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		h.mu.Lock()
		h.reqs = append(h.reqs, r)
		h.forms = append(h.forms, form)
		h.mu.Unlock()
		var handler http.HandlerFunc
		switch r.URL.Path {
		case "/hub/api/user":
			handler = h.user
		case "/hub/api/oauth2/token":
			handler = h.token
		case "/hub/api/":
			handler = h.root
		}
		if handler == nil {
			http.NotFound(w, r)
			return
		}
		handler(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fakeHub) last(t *testing.T) (*http.Request, url.Values) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reqs) == 0 {
		t.Fatal("the Hub got no request")
	}
	return h.reqs[len(h.reqs)-1], h.forms[len(h.forms)-1]
}

func (h *fakeHub) provider(timeout time.Duration) *provider.JupyterHub {
	return provider.NewJupyterHub(provider.JupyterHubOptions{
		HubURL:       h.srv.URL,
		APIURL:       h.srv.URL + "/hub/api",
		ClientID:     "service-gate",
		ClientSecret: "gate-api-token",
		RedirectURL:  "http://127.0.0.1:4180/oauth2/callback",
		Timeout:      timeout,
	})
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// deadAddress is a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestLookupSendsToken(t *testing.T) {
	h := newFakeHub(t)
	h.user = status(200, `{"kind":"user","name":"alice"}`)
	if _, err := h.provider(5*time.Second).Lookup(context.Background(), "user-token-xyz"); err != nil {
		t.Fatal(err)
	}
	r, _ := h.last(t)
	if r.Method != http.MethodGet || r.URL.Path != "/hub/api/user" {
		t.Errorf("request %s %s, want GET /hub/api/user", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "token user-token-xyz" {
		t.Errorf("Authorization = %q, want %q", got, "token user-token-xyz")
	}
	if r.URL.RawQuery != "" {
		t.Errorf("token leaked into the query: %q", r.URL.RawQuery)
	}
}

func TestLookupAnswers(t *testing.T) {
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		want        *provider.User
		invalid     bool
		unavailable bool
	}{
		{
			name: "full user",
			handler: status(200, `{"kind":"user","name":"alice","admin":true,"groups":["staff","physics"],
				"scopes":["access:services!service=gate","read:users:name!user=alice"],"session_id":"abc","token_id":"t1"}`),
			want: &provider.User{Name: "alice", Groups: []string{"staff", "physics"}, Admin: true,
				Scopes: []string{"access:services!service=gate", "read:users:name!user=alice"}, Kind: "user"},
		},
		{
			name:    "minimal user",
			handler: status(200, `{"name":"bob"}`),
			want:    &provider.User{Name: "bob", Groups: []string{}, Kind: "user"},
		},
		{
			name:    "service token",
			handler: status(200, `{"kind":"service","name":"cull-idle","admin":false}`),
			want:    &provider.User{Name: "cull-idle", Groups: []string{}, Kind: "service"},
		},
		{name: "403", handler: status(403, `{"status":403,"message":"Forbidden"}`), invalid: true},
		{name: "401", handler: status(401, `{"status":401}`), invalid: true},
		{name: "500", handler: status(500, `oops`), unavailable: true},
		{name: "502", handler: status(502, ``), unavailable: true},
		{name: "404", handler: status(404, `{}`), unavailable: true},
		{name: "malformed JSON", handler: status(200, `{"name":"alice"`), unavailable: true},
		{name: "HTML", handler: status(200, `<html>login</html>`), unavailable: true},
		{name: "no name", handler: status(200, `{"kind":"user","admin":true}`), unavailable: true},
		{name: "wrong type", handler: status(200, `{"name":"alice","groups":"staff"}`), unavailable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			h.user = tt.handler
			u, err := h.provider(5*time.Second).Lookup(context.Background(), "tok")
			var ue *provider.UnavailableError
			switch {
			case tt.invalid:
				if !errors.Is(err, provider.ErrInvalidToken) || errors.As(err, &ue) {
					t.Fatalf("err = %v, want ErrInvalidToken", err)
				}
			case tt.unavailable:
				if !errors.As(err, &ue) || errors.Is(err, provider.ErrInvalidToken) {
					t.Fatalf("err = %v (%T), want *UnavailableError", err, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(u, tt.want) {
					t.Errorf("user = %+v, want %+v", u, tt.want)
				}
				return
			}
			if u != nil {
				t.Errorf("user %+v returned with an error", u)
			}
		})
	}
}

func TestLookupTimeout(t *testing.T) {
	h := newFakeHub(t)
	release := make(chan struct{})
	defer close(release)
	h.user = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	start := time.Now()
	_, err := h.provider(200*time.Millisecond).Lookup(context.Background(), "tok")
	elapsed := time.Since(start)
	var ue *provider.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnavailableError", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("Lookup took %v with a 200ms timeout", elapsed)
	}
}

func TestLookupCallerContext(t *testing.T) {
	h := newFakeHub(t)
	release := make(chan struct{})
	defer close(release)
	h.user = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.provider(time.Minute).Lookup(ctx, "tok")
	var ue *provider.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnavailableError", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Lookup ignored the caller's deadline: %v", elapsed)
	}
}

func TestLookupUnreachable(t *testing.T) {
	p := provider.NewJupyterHub(provider.JupyterHubOptions{
		HubURL: "http://" + deadAddress(t), APIURL: "http://" + deadAddress(t) + "/hub/api",
		ClientID: "service-gate", ClientSecret: "x", RedirectURL: "http://127.0.0.1/cb", Timeout: 2 * time.Second,
	})
	_, err := p.Lookup(context.Background(), "tok")
	var ue *provider.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnavailableError", err)
	}
	if !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("message %q", err)
	}
	if err := p.Ready(context.Background()); err == nil {
		t.Error("Ready: nil for an unreachable Hub")
	}
}

func tokenHandler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"user-access-token","token_type":"Bearer","expires_in":3600,"scope":"identify"}`)
	}
}

func TestExchange(t *testing.T) {
	h := newFakeHub(t)
	h.token = tokenHandler(t)
	start := time.Now()
	tok, err := h.provider(5*time.Second).Exchange(context.Background(), "the-code", "the-verifier-0123456789012345678901234567890")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "user-access-token" {
		t.Errorf("AccessToken = %q", tok.AccessToken)
	}
	if d := tok.Expiry.Sub(start); d < 3590*time.Second || d > 3610*time.Second {
		t.Errorf("Expiry in %v, want about 1h", d)
	}

	r, form := h.last(t)
	if r.Method != http.MethodPost {
		t.Errorf("method %s", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	if a := r.Header.Get("Accept"); a != "application/json" {
		t.Errorf("Accept = %q, want application/json", a)
	}
	if a := r.Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization = %q, want none (the Hub refuses Basic)", a)
	}
	if o := r.Header.Get("Origin"); o != "" {
		t.Errorf("Origin = %q, want none", o)
	}
	want := map[string]string{
		"grant_type":    "authorization_code",
		"code":          "the-code",
		"redirect_uri":  "http://127.0.0.1:4180/oauth2/callback",
		"client_id":     "service-gate",
		"client_secret": "gate-api-token",
		"code_verifier": "the-verifier-0123456789012345678901234567890",
	}
	for k, v := range want {
		if got := form[k]; len(got) != 1 || got[0] != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
	if r.URL.RawQuery != "" {
		t.Errorf("token request has a query %q", r.URL.RawQuery)
	}
}

func TestExchangeErrors(t *testing.T) {
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		invalid     bool
		mention     string
		unavailable bool
	}{
		{name: "invalid_grant", handler: status(400, `{"error":"invalid_grant","error_description":"bad code"}`), invalid: true, mention: "invalid_grant"},
		{name: "invalid_client", handler: status(401, `{"error":"invalid_client"}`), unavailable: true}, // hubgate's misconfiguration, not the user's
		{name: "500", handler: status(500, `{"status":500}`), unavailable: true},
		{name: "503 html", handler: status(503, `<html>down</html>`), unavailable: true},
		{name: "no token", handler: status(200, `{"token_type":"Bearer"}`), unavailable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			h.token = tt.handler
			tok, err := h.provider(5*time.Second).Exchange(context.Background(), "code", "verifier-0123456789012345678901234567890123")
			if tok != nil {
				t.Errorf("token %+v with an error", tok)
			}
			var ue *provider.UnavailableError
			if tt.invalid {
				if !errors.Is(err, provider.ErrInvalidToken) || errors.As(err, &ue) {
					t.Fatalf("err = %v, want one wrapping ErrInvalidToken", err)
				}
				if !strings.Contains(err.Error(), tt.mention) {
					t.Errorf("err %q does not mention %q", err, tt.mention)
				}
			}
			if tt.unavailable && (!errors.As(err, &ue) || errors.Is(err, provider.ErrInvalidToken)) {
				t.Fatalf("err = %v (%T), want *UnavailableError", err, err)
			}
		})
	}
}

func TestExchangeTimeout(t *testing.T) {
	h := newFakeHub(t)
	release := make(chan struct{})
	defer close(release)
	h.token = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	start := time.Now()
	_, err := h.provider(200*time.Millisecond).Exchange(context.Background(), "code", "verifier-0123456789012345678901234567890123")
	var ue *provider.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnavailableError", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Exchange took %v with a 200ms timeout", elapsed)
	}
}

func TestAuthCodeURL(t *testing.T) {
	const verifier = "verifier-0123456789012345678901234567890123"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	tests := []struct {
		hubURL   string
		wantBase string
	}{
		{"https://hub.example.org", "https://hub.example.org/hub/api/oauth2/authorize"},
		{"", "/hub/api/oauth2/authorize"},
		{"/jh", "/jh/hub/api/oauth2/authorize"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("hub %q", tt.hubURL), func(t *testing.T) {
			p := provider.NewJupyterHub(provider.JupyterHubOptions{
				HubURL: tt.hubURL, APIURL: "http://127.0.0.1:8081/hub/api",
				ClientID: "service-gate", ClientSecret: "secret",
				RedirectURL: "/services/gate/oauth_callback", Timeout: time.Second,
			})
			raw := p.AuthCodeURL("state-123", verifier)
			base, query, ok := strings.Cut(raw, "?")
			if !ok || base != tt.wantBase {
				t.Fatalf("AuthCodeURL = %q, want it to start with %q?", raw, tt.wantBase)
			}
			q, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"response_type":         "code",
				"client_id":             "service-gate",
				"redirect_uri":          "/services/gate/oauth_callback",
				"state":                 "state-123",
				"code_challenge_method": "S256",
				"code_challenge":        challenge,
			}
			for k, v := range want {
				if got := q[k]; len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if strings.Contains(raw, "secret") || q.Has("code_verifier") {
				t.Errorf("AuthCodeURL leaks the secret or verifier: %q", raw)
			}
		})
	}
}

func TestReady(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		ok      bool
	}{
		{"200", status(200, `{"version":"3.0.0"}`), true},
		{"503", status(503, ``), false},
		{"404", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			h.root = tt.handler
			err := h.provider(5 * time.Second).Ready(context.Background())
			if (err == nil) != tt.ok {
				t.Fatalf("Ready = %v, want ok=%v", err, tt.ok)
			}
			r, _ := h.last(t)
			if r.URL.Path != "/hub/api/" {
				t.Errorf("Ready asked %q, want /hub/api/", r.URL.Path)
			}
			if r.Header.Get("Authorization") != "" {
				t.Error("Ready sent a credential")
			}
		})
	}
}

func TestUnavailableErrorUnwraps(t *testing.T) {
	inner := errors.New("boom")
	err := error(&provider.UnavailableError{Err: inner})
	if !errors.Is(err, inner) {
		t.Error("UnavailableError does not unwrap")
	}
	if !strings.Contains(err.Error(), "boom") {
		t.Errorf("message %q", err)
	}
}
