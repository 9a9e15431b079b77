package provider

import (
	"context"
	"strings"
)

// GoogleIssuer is Google's OpenID Connect issuer: its discovery document is
// https://accounts.google.com/.well-known/openid-configuration.
const GoogleIssuer = "https://accounts.google.com"

// GooglePreset is Google's: provider oidc's discovery and ID token verification,
// at GoogleIssuer. The user is their e-mail address, so email is always asked for.
var GooglePreset = Preset{
	LoginService: "Google",
	Scopes:       []string{"openid", "email"},
	ExtraScopes:  []string{"openid", "email"},
}

// googleIDTokenClaims are what only the verified ID token may say at login: an
// answer of userinfo's does not stand in for one the ID token lacks.
var googleIDTokenClaims = []string{"hd", "email", "email_verified"}

// NewGoogle returns the Google provider: provider oidc at GoogleIssuer (o.IssuerURL,
// when set, points it elsewhere: tests use a fake issuer), named by the verified
// e-mail address, with no groups. The hd authorize parameter is only a hint to
// Google's page, so the domains are enforced here: on the verified ID token's hd and
// email at login, on userinfo's for a bearer token (Google's access tokens are
// opaque).
func NewGoogle(ctx context.Context, o OIDCOptions, domains []string) (*OIDC, error) {
	if o.IssuerURL == "" {
		o.IssuerURL = GoogleIssuer
	}
	o.UsernameClaim, o.EmailClaim, o.GroupsClaim = "email", "email", ""
	o.AllowUnverifiedEmail = false
	o.IDTokenClaims = googleIDTokenClaims
	o.issuerKey = "provider"
	o.noUsername = "is email among the scopes?"
	o.Check = func(claims map[string]any, u *User) {
		if why := googleDenied(claims, domains); why != "" {
			u.Denied = why
		}
	}
	return NewOIDC(ctx, o)
}

// googleDenied is why the claims' account may not pass, or "": a verified, usable
// e-mail address, and with domains, an hd that is the address's domain and one of
// them.
func googleDenied(claims map[string]any, domains []string) string {
	if !truthy(claims["email_verified"]) {
		return "the Google account's email address is not verified"
	}
	email, _ := claims["email"].(string)
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || strings.Contains(domain, "@") {
		return "the Google account has no usable email address"
	}
	if len(domains) == 0 {
		return ""
	}
	hd, _ := claims["hd"].(string)
	hd = canonicalDomain(hd)
	if hd == "" || hd != canonicalDomain(domain) {
		return "the Google account does not belong to an allowed domain"
	}
	for _, d := range domains {
		if canonicalDomain(d) == hd {
			return ""
		}
	}
	return "the Google account does not belong to an allowed domain"
}

// canonicalDomain compares domains the way DNS does: case-insensitive, and a trailing
// dot names the same domain.
func canonicalDomain(d string) string {
	return strings.ToLower(strings.TrimSuffix(d, "."))
}
