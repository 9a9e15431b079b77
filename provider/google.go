package provider

import (
	"context"
	"strings"
)

// GooglePreset is Google's OpenID Connect endpoints; the user is their email address.
var GooglePreset = Preset{
	LoginService: "Google",
	AuthorizeURL: "https://accounts.google.com/o/oauth2/v2/auth",
	TokenURL:     "https://oauth2.googleapis.com/token",
	UserdataURL:  "https://openidconnect.googleapis.com/v1/userinfo",
	UsernameKey:  "email",
	EmailKey:     "email",
	Scopes:       []string{"openid", "email"},
}

// NewGoogle returns the Google provider (OpenID Connect userinfo). The hd authorize
// parameter is only a hint to Google's page, so the domain is enforced here, on the
// hd claim and the verified email together.
func NewGoogle(o GenericOptions, domains []string) *Generic {
	g := NewGeneric(o)
	g.check = func(_ context.Context, _ string, data map[string]interface{}, u *User) error {
		u.Denied = googleDenied(data, domains)
		return nil
	}
	return g
}

func googleDenied(data map[string]interface{}, domains []string) string {
	if !truthy(data["email_verified"]) {
		return "the Google account's email address is not verified"
	}
	email, _ := data["email"].(string)
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || strings.Contains(domain, "@") {
		return "the Google account has no usable email address"
	}
	if len(domains) == 0 {
		return ""
	}
	hd, _ := data["hd"].(string)
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
