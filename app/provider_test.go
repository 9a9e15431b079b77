package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/hubgate/hubgate/config"
)

// provider google is provider oidc at Google's issuer with the hosted-domain rule:
// newProvider builds an *OIDC that names users by their e-mail address.
// Pointed at a local issuer (which config refuses to let users do), a bearer token's
// userinfo decides, and hosted_domain and username_local_part apply.
func TestNewProviderGoogle(t *testing.T) {
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{
				"issuer": issuer, "authorization_endpoint": issuer + "/o/oauth2/v2/auth", "token_endpoint": issuer + "/token",
				"userinfo_endpoint": issuer + "/v1/userinfo", "jwks_uri": issuer + "/certs",
				"id_token_signing_alg_values_supported": []string{"RS256"},
			})
		case "/v1/userinfo":
			switch r.Header.Get("Authorization") {
			case "Bearer ours":
				w.Write([]byte(`{"sub":"1","email":"first.last@example.org","email_verified":true,"hd":"example.org"}`))
			case "Bearer theirs":
				w.Write([]byte(`{"sub":"2","email":"first.last@evil.org","email_verified":true,"hd":"evil.org"}`))
			default:
				w.WriteHeader(http.StatusUnauthorized)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	issuer = srv.URL
	cfg, err := config.Parse([]string{"--provider", "google", "--upstream", "http://127.0.0.1:9",
		"--client-id", "gate.apps.googleusercontent.com", "--client-secret", "s", "--redirect-url", "https://gate.example.org/oauth2/callback",
		"--cookie-secret", strings.Repeat("k", 32), "--hosted-domain", "example.org", "--username-local-part"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.OIDC.IssuerURL = srv.URL // Google's, unless set (provider's TestGoogleIssuerDefault)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, oidc, err := newProvider(ctx, cfg, nil, zap.NewNop())
	if err != nil || oidc == nil {
		t.Fatalf("newProvider = %v, %v; want the *provider.OIDC", oidc, err)
	}
	if u := p.AuthCodeURL("st", "verifier"); !strings.HasPrefix(u, srv.URL+"/o/oauth2/v2/auth?") || !strings.Contains(u, "scope=openid+email") {
		t.Errorf("AuthCodeURL = %q, want the discovered endpoint with openid email", u)
	}
	u, err := p.Lookup(ctx, "ours")
	if err != nil || u.Name != "first.last" || u.Email != "first.last@example.org" || u.Denied != "" {
		t.Errorf("Lookup(ours) = %+v, %v; want first.last, allowed", u, err)
	}
	u, err = p.Lookup(ctx, "theirs")
	if err != nil || u.Denied == "" {
		t.Errorf("Lookup(theirs) = %+v, %v; want a refusal (hd evil.org)", u, err)
	}
}
