package config

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hubgate/hubgate/provider"
)

// Providers lists the supported provider names.
var Providers = []string{"jupyterhub", "django", "generic", "github", "google", "oidc"}

// normalizeProvider fills a provider's preset (provider.Preset) where the settings
// say nothing and checks that every access option can be evaluated with what the
// provider tells: an option it cannot check would otherwise let everyone in.
func (c *Config) normalizeProvider() error {
	if err := c.checkOIDCKeys(); err != nil {
		return err
	}
	switch c.Provider {
	case "oidc":
		return c.normalizeOIDC()
	case "google":
		return c.normalizeGoogle()
	}
	if c.Provider == "jupyterhub" {
		c.applyPreset(provider.JupyterHubPreset)
		if err := c.normalizeHub(); err != nil {
			return err
		}
		return c.checkAccessOptions() // refuses allowed_organizations, hosted_domain
	}
	p, err := c.preset()
	if err != nil {
		return err
	}
	c.applyPreset(p)
	o := &c.OAuth
	for key, v := range map[string]string{"authorize_url": o.AuthorizeURL, "token_url": o.TokenURL, "userdata_url": o.UserdataURL, "introspect_url": o.IntrospectURL} {
		if v != "" {
			if err := checkHTTPURL(key, v); err != nil {
				return err
			}
		}
	}
	if o.UserdataMethod != "GET" && o.UserdataMethod != "POST" {
		return bad("userdata_method", "%q: use GET or POST", o.UserdataMethod)
	}
	return c.checkAccessOptions()
}

// preset is the OAuth2 provider's preset, once the settings it needs are there.
func (c *Config) preset() (provider.Preset, error) {
	o := &c.OAuth
	switch c.Provider {
	case "django":
		base := strings.TrimSuffix(c.ProviderURL, "/")
		if base == "" {
			return provider.Preset{}, bad("provider_url", "is required for provider django: the site's base URL, e.g. https://www.example.org")
		}
		if err := checkHTTPURL("provider_url", base); err != nil {
			return provider.Preset{}, err
		}
		return provider.DjangoPreset(base, o.UserdataURL != ""), nil
	case "generic":
		if o.AuthorizeURL == "" {
			return provider.Preset{}, bad("authorize_url", "is required for provider generic")
		}
		if o.TokenURL == "" {
			return provider.Preset{}, bad("token_url", "is required for provider generic")
		}
		if o.UserdataURL == "" && o.IntrospectURL == "" {
			return provider.Preset{}, bad("userdata_url", "is required for provider generic (or introspect_url)")
		}
		return provider.GenericPreset, nil
	case "github":
		return provider.GitHubPreset(len(c.AllowedOrgs) > 0), nil
	}
	return provider.Preset{}, bad("provider", "unknown provider %q (supported: %s)", c.Provider, strings.Join(Providers, ", "))
}

// applyPreset fills what the settings leave empty from p.
func (c *Config) applyPreset(p provider.Preset) {
	o := &c.OAuth
	for _, f := range []struct {
		field *string
		value string
	}{
		{&c.LoginService, p.LoginService},
		{&o.AuthorizeURL, p.AuthorizeURL}, {&o.TokenURL, p.TokenURL},
		{&o.UserdataURL, p.UserdataURL}, {&o.IntrospectURL, p.IntrospectURL},
		{&o.UsernameKey, p.UsernameKey}, {&o.GroupsKey, p.GroupsKey}, {&o.EmailKey, p.EmailKey},
	} {
		if *f.field == "" {
			*f.field = f.value
		}
	}
	if len(o.Scopes) == 0 && p.Scopes != nil {
		o.Scopes = slices.Clone(p.Scopes)
	}
	for _, s := range p.ExtraScopes {
		if !slices.Contains(o.Scopes, s) {
			o.Scopes = append(o.Scopes, s)
		}
	}
	if o.ClientAuth == provider.ClientAuthAuto && p.ClientAuth != "" {
		o.ClientAuth = p.ClientAuth
	}
}

// checkAccessOptions refuses access options the provider cannot evaluate.
func (c *Config) checkAccessOptions() error {
	hub := c.Provider == "jupyterhub"
	userdata := c.OAuth.UserdataURL != ""
	hasGroups := hub || (userdata && c.OAuth.GroupsKey != "") || (c.Provider == "oidc" && c.OIDC.GroupsClaim != "")
	hasScopes := hub || (!userdata && c.OAuth.IntrospectURL != "")
	if len(c.AllowedGroups) > 0 && !hasGroups {
		hint := "set groups_key to the userdata field that lists them"
		switch {
		case c.Provider == "oidc":
			hint = "set groups_claim to the claim that lists them"
		case c.Provider == "github":
			hint = "GitHub has no groups; use allowed_organizations"
		case c.Provider == "google":
			hint = "Google gives no groups; use hosted_domain or allowed_users"
		case !userdata:
			hint = "introspection gives no groups; set userdata_url to a view that returns them"
		}
		return bad("allowed_groups", "provider %s gives no groups here: %s", c.Provider, hint)
	}
	if len(c.RequiredScopes) > 0 && !hasScopes {
		return bad("required_scopes", "provider %s gives no scopes here (only jupyterhub and token introspection do; an OpenID Connect login carries none)", c.Provider)
	}
	if len(c.AllowedOrgs) > 0 && c.Provider != "github" {
		return bad("allowed_organizations", "only provider github has organizations")
	}
	if len(c.HostedDomains) > 0 && c.Provider != "google" {
		return bad("hosted_domain", "only provider google has hosted domains")
	}
	return nil
}

func checkHTTPURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad(key, "%q is not an http(s) URL", raw)
	}
	return nil
}

// endpointKeys are the generic provider's endpoints, which discovery gives provider
// oidc and google; userdataKeys its userdata fields, where those read claims. In
// order, so that an error names the same key every run.
func (o *OAuth) endpointKeys() [][2]string {
	return [][2]string{{"authorize_url", o.AuthorizeURL}, {"token_url", o.TokenURL}, {"userdata_url", o.UserdataURL}, {"introspect_url", o.IntrospectURL}}
}

func (o *OAuth) userdataKeys() [][2]string {
	return [][2]string{{"username_key", o.UsernameKey}, {"groups_key", o.GroupsKey}, {"email_key", o.EmailKey}}
}

// firstSet is the first of keys (name, value) that has a value, or "".
func firstSet(keys [][2]string) string {
	for _, k := range keys {
		if k[1] != "" {
			return k[0]
		}
	}
	return ""
}

// checkDiscovered checks what providers oidc and google share: no endpoint or
// userdata key of the generic provider (the messages say why, for the key), and a
// signing-key refresh of at least a second.
func (c *Config) checkDiscovered(endpoint, userdata func(key string) string) error {
	if key := firstSet(c.OAuth.endpointKeys()); key != "" {
		return bad(key, "%s", endpoint(key))
	}
	if key := firstSet(c.OAuth.userdataKeys()); key != "" {
		return bad(key, "%s", userdata(key))
	}
	if c.OIDC.KeysMaxAge < time.Second {
		return bad("oidc_jwks_max_age", "must be at least 1s")
	}
	return nil
}

// normalizeOIDC checks provider oidc's settings: its endpoints come from discovery,
// so the generic provider's endpoint and userdata keys have no place here.
func (c *Config) normalizeOIDC() error {
	err := c.checkDiscovered(func(key string) string {
		return "provider oidc discovers its endpoints from oidc_issuer_url; remove " + key
	}, func(key string) string {
		return "provider oidc reads claims: use " + strings.TrimSuffix(key, "_key") + "_claim instead"
	})
	if err != nil {
		return err
	}
	if c.OIDC.IssuerURL == "" {
		return bad("oidc_issuer_url", "is required for provider oidc: the issuer, e.g. https://login.example.org/realms/main")
	}
	if err := checkHTTPURL("oidc_issuer_url", c.OIDC.IssuerURL); err != nil {
		return err
	}
	if c.OIDC.UsernameClaim == "" {
		return bad("username_claim", "is empty: name the claim holding the username (preferred_username, email or sub)")
	}
	c.applyPreset(provider.OIDCPreset)
	return c.checkAccessOptions()
}

// normalizeGoogle checks provider google's settings: provider oidc at Google's
// issuer, which names users by their verified e-mail address and gives no groups, so
// neither endpoints nor the keys that choose claims have a place here. The issuer
// and the claims are provider.NewGoogle's to set.
func (c *Config) normalizeGoogle() error {
	const byEmail = "provider google names users by their verified e-mail address and gives no groups; remove "
	err := c.checkDiscovered(func(key string) string {
		return "provider google discovers its endpoints at " + provider.GoogleIssuer + "; remove " + key + " (another issuer is provider oidc)"
	}, func(key string) string { return byEmail + key })
	if err != nil {
		return err
	}
	// The claim keys have defaults, so only a value other than the default (or
	// Google's own) shows they were set.
	for _, k := range []struct{ key, value, dflt, google string }{
		{"username_claim", c.OIDC.UsernameClaim, "preferred_username", "email"},
		{"groups_claim", c.OIDC.GroupsClaim, "groups", ""},
		{"email_claim", c.OIDC.EmailClaim, "email", "email"},
	} {
		if k.value != k.dflt && k.value != k.google {
			return bad(k.key, "%s", byEmail+k.key)
		}
	}
	c.applyPreset(provider.GooglePreset)
	return c.checkAccessOptions()
}

// checkOIDCKeys refuses the oidc-only keys with any other provider: they would be
// silently ignored.
func (c *Config) checkOIDCKeys() error {
	if c.Provider == "oidc" {
		return nil
	}
	if c.Provider == "google" && c.OIDC.IssuerURL != "" {
		return bad("oidc_issuer_url", "provider google's issuer is %s; remove oidc_issuer_url (another issuer is provider oidc)", provider.GoogleIssuer)
	}
	o := c.OIDC
	for key, set := range map[string]bool{
		"oidc_issuer_url": o.IssuerURL != "", "oidc_extra_audiences": len(o.ExtraAudiences) > 0,
		"skip_jwt_bearer_tokens": o.SkipJWTBearerTokens, "extra_jwt_issuers": len(o.ExtraJWTIssuers) > 0,
		"oidc_logout": o.Logout, "oidc_allow_unverified_email": o.AllowUnverifiedEmail,
	} {
		if set {
			return bad(key, "only provider oidc uses it (provider is %q)", c.Provider)
		}
	}
	return nil
}

// parseJWTIssuers reads extra_jwt_issuers: issuer_url=audience, as oauth2-proxy.
func parseJWTIssuers(key string, items []string) ([]provider.JWTIssuer, error) {
	var out []provider.JWTIssuer
	for _, item := range items {
		iss, aud, ok := strings.Cut(item, "=")
		iss, aud = strings.TrimSpace(iss), strings.TrimSpace(aud)
		if !ok || iss == "" || aud == "" {
			return nil, bad(key, "%q: write issuer_url=audience", item)
		}
		if err := checkHTTPURL(key, iss); err != nil {
			return nil, err
		}
		out = append(out, provider.JWTIssuer{Issuer: iss, Audience: aud})
	}
	return out, nil
}
