package provider

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

const googleVerifier = "google-login-verifier-gggggggggggggggggggggggggggggg"

// startGoogle is NewGoogle pointed at f, with the scopes config's google preset gives.
func startGoogle(t *testing.T, f *issuerFake, domains []string) *OIDC {
	t.Helper()
	o := f.options()
	o.Scopes = []string{"openid", "email"}
	o.UsernameClaim, o.GroupsClaim = "preferred_username", "groups" // NewGoogle's own win
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p, err := NewGoogle(ctx, o, domains)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// googleLogin is a login at f whose ID token carries claims (sub is f's), and the
// user the session's lookup then gives, userinfo answering info.
func googleLogin(t *testing.T, f *issuerFake, p *OIDC, claims map[string]any, info string) (*User, error) {
	t.Helper()
	edit := map[string]any{"preferred_username": nil}
	for k, v := range claims {
		if k != "sub" {
			edit[k] = v
		}
	}
	idt := signRS(t, f.claims(googleVerifier, edit))
	f.set(func(f *issuerFake) { f.idToken, f.userinfo[oidcAccess] = idt, info })
	tok, err := p.Exchange(context.Background(), "the-code", googleVerifier)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	return p.Lookup(WithIDToken(context.Background(), raw), tok.AccessToken)
}

func TestGoogleHostedDomain(t *testing.T) {
	testKeys(t)
	example := []string{"example.org"}
	tests := []struct {
		name    string
		claims  string // the ID token's at login, userinfo's for a bearer token
		domains []string
		allowed bool
	}{
		{name: "hd and verified email", claims: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"example.org","name":"Alice"}`, domains: example, allowed: true},
		{name: "email_verified as string", claims: `{"sub":"1","email":"alice@example.org","email_verified":"true","hd":"example.org"}`, domains: example, allowed: true},
		{name: "hd with case and trailing dot", claims: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"Example.ORG."}`, domains: example, allowed: true},
		{name: "configured domain with case and trailing dot", claims: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"example.org"}`, domains: []string{"EXAMPLE.org."}, allowed: true},
		{name: "email domain in capitals", claims: `{"sub":"1","email":"alice@EXAMPLE.ORG","email_verified":true,"hd":"example.org"}`, domains: example, allowed: true},
		{name: "second of two domains", claims: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"example.org"}`, domains: []string{"other.org", "example.org"}, allowed: true},
		{name: "email not verified", claims: `{"sub":"1","email":"alice@example.org","email_verified":false,"hd":"example.org"}`, domains: example},
		{name: "email_verified missing", claims: `{"sub":"1","email":"alice@example.org","hd":"example.org"}`, domains: example},
		{name: "email_verified string false", claims: `{"sub":"1","email":"alice@example.org","email_verified":"false","hd":"example.org"}`, domains: example},
		{name: "forged: hd missing (consumer account)", claims: `{"sub":"1","email":"alice@example.org","email_verified":true}`, domains: example},
		{name: "forged: hd evil.org", claims: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":"evil.org"}`, domains: example},
		{name: "evil.org account", claims: `{"sub":"1","email":"mallory@evil.org","email_verified":true,"hd":"evil.org"}`, domains: example},
		{name: "forged: hd matches, email x@evil.org", claims: `{"sub":"1","email":"x@evil.org","email_verified":true,"hd":"example.org"}`, domains: example},
		{name: "hd not a string", claims: `{"sub":"1","email":"alice@example.org","email_verified":true,"hd":["example.org"]}`, domains: example},
		{name: "subdomain", claims: `{"sub":"1","email":"alice@sub.example.org","email_verified":true,"hd":"sub.example.org"}`, domains: example},
		{name: "suffix trick", claims: `{"sub":"1","email":"alice@example.org.evil.org","email_verified":true,"hd":"example.org.evil.org"}`, domains: example},
		{name: "lookalike", claims: `{"sub":"1","email":"alice@evilexample.org","email_verified":true,"hd":"evilexample.org"}`, domains: example},
		{name: "multi-@ email", claims: `{"sub":"1","email":"a@b@example.org","email_verified":true,"hd":"example.org"}`, domains: example},
		{name: "empty local part", claims: `{"sub":"1","email":"@example.org","email_verified":true,"hd":"example.org"}`, domains: example},
		{name: "no email", claims: `{"sub":"1","email_verified":true,"hd":"example.org"}`, domains: example},
		{name: "no hosted_domain: consumer account", claims: `{"sub":"1","email":"bob@gmail.com","email_verified":true,"name":"Bob"}`, allowed: true},
		{name: "no hosted_domain: any Workspace", claims: `{"sub":"1","email":"carol@evil.org","email_verified":true,"hd":"evil.org"}`, allowed: true},
		{name: "no hosted_domain: unverified", claims: `{"sub":"1","email":"bob@gmail.com","email_verified":false}`},
		{name: "no hosted_domain: multi-@ email", claims: `{"sub":"1","email":"a@b@gmail.com","email_verified":true}`},
	}
	check := func(t *testing.T, u *User, err error, allowed bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if allowed && u.Denied != "" {
			t.Errorf("denied: %s", u.Denied)
		}
		if !allowed && u.Denied == "" {
			t.Errorf("user %+v allowed, want denied", *u)
		}
	}
	for _, tt := range tests {
		var claims map[string]any
		if err := json.Unmarshal([]byte(tt.claims), &claims); err != nil {
			t.Fatal(err)
		}
		// At login the verified ID token decides; userinfo says the opposite of
		// the case (allowed, or a Workspace account of each domain) and is not heard.
		t.Run("login/"+tt.name, func(t *testing.T) {
			f := newIssuerFake(t)
			p := startGoogle(t, f, tt.domains)
			info := `{"sub":"alice-sub","email":"alice@example.org","email_verified":true,"hd":"example.org"}`
			if tt.allowed {
				info = `{"sub":"alice-sub","email":"mallory@evil.org","email_verified":false,"hd":"evil.org"}`
			}
			u, err := googleLogin(t, f, p, claims, info)
			check(t, u, err, tt.allowed)
			if n := f.infoCalls.Load(); n != 1 {
				t.Errorf("%d userinfo calls, want 1", n)
			}
		})
		// A bearer token (opaque at Google) has only userinfo to go by.
		t.Run("bearer/"+tt.name, func(t *testing.T) {
			f := newIssuerFake(t)
			f.set(func(f *issuerFake) { f.userinfo[oidcAccess] = tt.claims })
			u, err := startGoogle(t, f, tt.domains).Lookup(context.Background(), oidcAccess)
			check(t, u, err, tt.allowed)
		})
	}
}

// The ID token lacks a claim the rule needs: userinfo does not fill it in.
func TestGoogleIDTokenClaimsNotFilledByUserinfo(t *testing.T) {
	testKeys(t)
	full := `{"sub":"alice-sub","email":"alice@example.org","email_verified":true,"hd":"example.org"}`
	for _, missing := range []string{"hd", "email_verified", "email"} {
		t.Run(missing, func(t *testing.T) {
			f := newIssuerFake(t)
			p := startGoogle(t, f, []string{"example.org"})
			claims := map[string]any{"email": "alice@example.org", "email_verified": true, "hd": "example.org"}
			delete(claims, missing)
			u, err := googleLogin(t, f, p, claims, full)
			if err != nil {
				t.Fatal(err)
			}
			if u.Denied == "" {
				t.Errorf("ID token without %s, userinfo with it: user %+v allowed, want denied", missing, *u)
			}
		})
	}
}

func TestGoogleUser(t *testing.T) {
	testKeys(t)
	claims := map[string]any{"email": "first.last@example.org", "email_verified": true, "hd": "example.org",
		"name": "First Last", "picture": "https://lh3.googleusercontent.com/a/x", "groups": []string{"forged"}}
	info := `{"sub":"alice-sub","email":"first.last@example.org","email_verified":true,"hd":"example.org","name":"First Last","groups":["forged"]}`
	check := func(t *testing.T, u *User, err error) {
		t.Helper()
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
	t.Run("login", func(t *testing.T) {
		f := newIssuerFake(t)
		p := startGoogle(t, f, []string{"example.org"})
		u, err := googleLogin(t, f, p, claims, `{"sub":"alice-sub"}`)
		check(t, u, err)
	})
	t.Run("bearer", func(t *testing.T) {
		f := newIssuerFake(t)
		f.set(func(f *issuerFake) { f.userinfo[oidcAccess] = info })
		u, err := startGoogle(t, f, []string{"example.org"}).Lookup(context.Background(), oidcAccess)
		check(t, u, err)
	})
}

func TestGoogleErrors(t *testing.T) {
	f := newIssuerFake(t)
	f.set(func(f *issuerFake) { f.userinfo["no-email"] = `{"sub":"1"}` })
	p := startGoogle(t, f, []string{"example.org"})
	// Userinfo does not know the token: revoked or forged.
	if u, err := p.Lookup(context.Background(), "unknown-token"); !isInvalid(err) {
		t.Errorf("userinfo 401: Lookup = %+v, %v (%T), want ErrInvalidToken", u, err, err)
	}
	// No e-mail address to name the user by: refused, not an outage.
	u, err := p.Lookup(context.Background(), "no-email")
	if err != nil || u.Denied == "" || !strings.Contains(u.Denied, "email") {
		t.Errorf("no email: Lookup = %+v, %v; want a refusal naming the email claim", u, err)
	}
}

func TestGoogleAuthCodeURLAndRefresh(t *testing.T) {
	testKeys(t)
	f := newIssuerFake(t)
	o := f.options()
	o.Scopes = []string{"openid", "email"}
	o.ExtraAuthorizeParams = map[string]string{"access_type": "offline", "hd": "example.org"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := NewGoogle(ctx, o, []string{"example.org"})
	if err != nil {
		t.Fatal(err)
	}
	raw := g.AuthCodeURL("st", googleVerifier)
	for _, want := range []string{f.URL + "/authorize?", "scope=openid+email", "access_type=offline", "hd=example.org",
		"code_challenge_method=S256", "nonce=" + loginNonce(googleVerifier)} {
		if !strings.Contains(raw, want) {
			t.Errorf("AuthCodeURL %s lacks %s", raw, want)
		}
	}
	// Google sends no new refresh token on refresh: the old one stays. The new ID
	// token is verified.
	f.set(func(f *issuerFake) { f.idToken = signRS(t, f.claims("", map[string]any{"nonce": nil})) })
	tok, err := g.Refresh(context.Background(), "1//refresh")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != oidcAccess || tok.RefreshToken != "1//refresh" {
		t.Errorf("token = %q/%q, want the new access token and the old refresh token", tok.AccessToken, tok.RefreshToken)
	}
	f.set(func(f *issuerFake) { f.idToken = tamper(t, signRS(t, f.claims("", map[string]any{"nonce": nil}))) })
	if _, err := g.Refresh(context.Background(), "1//refresh"); !isInvalid(err) {
		t.Errorf("Refresh with a tampered ID token = %v, want ErrInvalidToken", err)
	}
}

// Without an issuer of its own, the preset is Google's, named as provider google in
// what it says about discovery.
func TestGoogleIssuerDefault(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no discovery retries: nothing is reached
	p, err := NewGoogle(ctx, OIDCOptions{ClientID: "c", Timeout: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.o.IssuerURL != GoogleIssuer || p.issuers[0].url != "https://accounts.google.com" || p.issuers[0].key != "provider" {
		t.Errorf("issuer %q (%s), want %s", p.issuers[0].url, p.issuers[0].key, GoogleIssuer)
	}
	if p.o.UsernameClaim != "email" || p.o.EmailClaim != "email" || p.o.GroupsClaim != "" {
		t.Errorf("claims %q/%q/%q, want email/email/none", p.o.UsernameClaim, p.o.EmailClaim, p.o.GroupsClaim)
	}
}
