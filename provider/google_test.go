package provider_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/provider"
)

// googleOptions are what config's google preset gives, with the URLs pointed at p.
func googleOptions(p *fakeIDP) provider.GenericOptions {
	o := p.options()
	o.AuthorizeURL = p.srv.URL + "/o/oauth2/v2/auth"
	o.TokenURL = p.srv.URL + "/token"
	o.UserdataURL = p.srv.URL + "/v1/userinfo"
	o.UsernameKey = "email"
	o.EmailKey = "email"
	o.Scopes = []string{"openid", "email"}
	return o
}

func TestGoogleHostedDomain(t *testing.T) {
	example := []string{"example.org"}
	tests := []struct {
		name    string
		info    string // the userinfo answer
		domains []string
		allowed bool
	}{
		{name: "hd and verified email", info: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"example.org","name":"Alice"}`, domains: example, allowed: true},
		{name: "email_verified as string", info: `{"sub":"1","email":"alice@example.org","email_verified":"true","hd":"example.org"}`, domains: example, allowed: true},
		{name: "hd with case and trailing dot", info: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"Example.ORG."}`, domains: example, allowed: true},
		{name: "configured domain with case and trailing dot", info: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"example.org"}`, domains: []string{"EXAMPLE.org."}, allowed: true},
		{name: "email domain in capitals", info: `{"sub":"1","email":"alice@EXAMPLE.ORG","email_verified":true,"hd":"example.org"}`, domains: example, allowed: true},
		{name: "second of two domains", info: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"example.org"}`, domains: []string{"other.org", "example.org"}, allowed: true},
		{name: "email not verified", info: `{"sub":"1","email":"alice@example.org","email_verified":false,"hd":"example.org"}`, domains: example},
		{name: "email_verified missing", info: `{"sub":"1","email":"alice@example.org","hd":"example.org"}`, domains: example},
		{name: "email_verified string false", info: `{"sub":"1","email":"alice@example.org","email_verified":"false","hd":"example.org"}`, domains: example},
		{name: "forged: hd missing (consumer account)", info: `{"sub":"1","email":"alice@example.org","email_verified":true}`, domains: example},
		{name: "forged: hd evil.org", info: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"evil.org"}`, domains: example},
		{name: "evil.org account", info: `{"sub":"1","email":"mallory@evil.org","email_verified":true,"hd":"evil.org"}`, domains: example},
		{name: "forged: hd matches, email x@evil.org", info: `{"sub":"1","email":"x@evil.org","email_verified":true,"hd":"example.org"}`, domains: example},
		{name: "hd not a string", info: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":["example.org"]}`, domains: example},
		{name: "subdomain", info: `{"sub":"1","email":"alice@sub.example.org","email_verified":true,"hd":"sub.example.org"}`, domains: example},
		{name: "suffix trick", info: `{"sub":"1","email":"alice@example.org.evil.org","email_verified":true,"hd":"example.org.evil.org"}`, domains: example},
		{name: "lookalike", info: `{"sub":"1","email":"alice@evilexample.org","email_verified":true,"hd":"evilexample.org"}`, domains: example},
		{name: "multi-@ email", info: `{"sub":"1","email":"a@b@example.org","email_verified":true,"hd":"example.org"}`, domains: example},
		{name: "empty local part", info: `{"sub":"1","email":"@example.org","email_verified":true,"hd":"example.org"}`, domains: example},
		{name: "no hosted_domain: consumer account", info: `{"sub":"1","email":"bob@gmail.com","email_verified":true,"name":"Bob"}`, allowed: true},
		{name: "no hosted_domain: any Workspace", info: `{"sub":"1","email":"carol@evil.org","email_verified":true,"hd":"evil.org"}`, allowed: true},
		{name: "no hosted_domain: unverified", info: `{"sub":"1","email":"bob@gmail.com","email_verified":false}`},
		{name: "no hosted_domain: multi-@ email", info: `{"sub":"1","email":"a@b@gmail.com","email_verified":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/v1/userinfo", reply(200, tt.info))
			u, err := provider.NewGoogle(googleOptions(p), tt.domains).Lookup(context.Background(), userToken)
			if err != nil {
				t.Fatal(err)
			}
			if tt.allowed && u.Denied != "" {
				t.Errorf("denied: %s", u.Denied)
			}
			if !tt.allowed && u.Denied == "" {
				t.Errorf("user %+v allowed, want denied", *u)
			}
			r := p.one(t, "/v1/userinfo")
			if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer "+userToken {
				t.Errorf("userinfo request %s with Authorization %q", r.Method, r.Header.Get("Authorization"))
			}
		})
	}
}

func TestGoogleUser(t *testing.T) {
	p := newFakeIDP(t)
	p.handle("/v1/userinfo", reply(200, `{"sub":"110169484474386276334","email":"first.last@example.org","email_verified":true,"hd":"example.org","name":"First Last","picture":"https://lh3.googleusercontent.com/a/x"}`))
	u, err := provider.NewGoogle(googleOptions(p), []string{"example.org"}).Lookup(context.Background(), userToken)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "first.last@example.org" || u.Email != "first.last@example.org" || u.Kind != "user" || u.Denied != "" {
		t.Errorf("user = %+v, want the email as name and email", *u)
	}
	if len(u.Groups) != 0 || u.Admin {
		t.Errorf("Groups %q, Admin %v from Google", u.Groups, u.Admin)
	}
}

func TestGoogleErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    errKind
	}{
		{"401", reply(401, `{"error":"invalid_token","error_description":"Invalid Credentials"}`), kindInvalid},
		{"no email", reply(200, `{"sub":"1"}`), kindUnavailable},
		{"500", reply(500, `{}`), kindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/v1/userinfo", tt.handler)
			u, err := provider.NewGoogle(googleOptions(p), []string{"example.org"}).Lookup(context.Background(), userToken)
			if u != nil {
				t.Errorf("user %+v with an error", *u)
			}
			checkKind(t, err, tt.want)
		})
	}
}

func TestGoogleAuthCodeURLAndRefresh(t *testing.T) {
	p := newFakeIDP(t)
	p.handle("/token", reply(200, `{"access_token":"ya29.new","expires_in":3599,"scope":"openid https://www.googleapis.com/auth/userinfo.email","token_type":"Bearer","id_token":"x.y.z"}`))
	o := googleOptions(p)
	o.ExtraAuthorizeParams = map[string]string{"access_type": "offline", "hd": "example.org"}
	g := provider.NewGoogle(o, []string{"example.org"})
	raw := g.AuthCodeURL("st", verifier)
	for _, want := range []string{"scope=openid+email", "access_type=offline", "hd=example.org", "code_challenge_method=S256"} {
		if !strings.Contains(raw, want) {
			t.Errorf("AuthCodeURL %s lacks %s", raw, want)
		}
	}
	// Google sends no new refresh token on refresh: the old one stays.
	tok, err := g.Refresh(context.Background(), "1//refresh")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "ya29.new" || tok.RefreshToken != "1//refresh" {
		t.Errorf("token = %q/%q, want the new access token and the old refresh token", tok.AccessToken, tok.RefreshToken)
	}
}
