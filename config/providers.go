package config

import (
	"net/url"
	"slices"
	"strings"
)

// Preset endpoints (PROTOCOLS.md section 3). Each can be overridden, which is also how
// tests point them at local fakes.
const (
	githubAuthorize = "https://github.com/login/oauth/authorize"
	githubToken     = "https://github.com/login/oauth/access_token"
	githubUser      = "https://api.github.com/user"
	googleAuthorize = "https://accounts.google.com/o/oauth2/v2/auth"
	googleToken     = "https://oauth2.googleapis.com/token"
	googleUserinfo  = "https://openidconnect.googleapis.com/v1/userinfo"
)

// Providers lists the supported provider names.
var Providers = []string{"jupyterhub", "django", "generic", "github", "google"}

// normalizeProvider fills a provider's defaults and checks that every access option
// can be evaluated with what the provider tells: an option it cannot check would
// otherwise let everyone in.
func (c *Config) normalizeProvider() error {
	o := &c.OAuth
	setDefault := func(field *string, value string) {
		if *field == "" {
			*field = value
		}
	}
	switch c.Provider {
	case "jupyterhub":
		setDefault(&c.LoginService, "JupyterHub")
		if err := c.normalizeHub(); err != nil {
			return err
		}
		return c.checkAccessOptions() // refuses allowed_organizations, hosted_domain
	case "django":
		base := strings.TrimSuffix(c.ProviderURL, "/")
		if base == "" {
			return bad("provider_url", "is required for provider django: the site's base URL, e.g. https://www.example.org")
		}
		if err := checkHTTPURL("provider_url", base); err != nil {
			return err
		}
		setDefault(&o.AuthorizeURL, base+"/o/authorize/")
		setDefault(&o.TokenURL, base+"/o/token/")
		if o.UserdataURL == "" {
			setDefault(&o.IntrospectURL, base+"/o/introspect/")
		}
		setDefault(&o.UsernameKey, "username")
		if o.UserdataURL != "" {
			setDefault(&o.GroupsKey, "groups")
			setDefault(&o.EmailKey, "email")
		}
		setDefault(&c.LoginService, "Django")
	case "generic":
		if o.AuthorizeURL == "" {
			return bad("authorize_url", "is required for provider generic")
		}
		if o.TokenURL == "" {
			return bad("token_url", "is required for provider generic")
		}
		if o.UserdataURL == "" && o.IntrospectURL == "" {
			return bad("userdata_url", "is required for provider generic (or introspect_url)")
		}
		setDefault(&o.UsernameKey, "username")
		setDefault(&c.LoginService, "OAuth 2.0")
	case "github":
		setDefault(&o.AuthorizeURL, githubAuthorize)
		setDefault(&o.TokenURL, githubToken)
		setDefault(&o.UserdataURL, githubUser)
		setDefault(&o.UsernameKey, "login")
		setDefault(&o.EmailKey, "email")
		if o.ClientAuth == "auto" {
			o.ClientAuth = "params"
		}
		if len(c.AllowedOrgs) > 0 && !slices.Contains(o.Scopes, "read:org") {
			o.Scopes = append(o.Scopes, "read:org")
		}
		setDefault(&c.LoginService, "GitHub")
	case "google":
		setDefault(&o.AuthorizeURL, googleAuthorize)
		setDefault(&o.TokenURL, googleToken)
		setDefault(&o.UserdataURL, googleUserinfo)
		setDefault(&o.UsernameKey, "email")
		setDefault(&o.EmailKey, "email")
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"openid", "email"}
		}
		setDefault(&c.LoginService, "Google")
	default:
		return bad("provider", "unknown provider %q (supported: %s)", c.Provider, strings.Join(Providers, ", "))
	}
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
	if o.UserdataTokenMethod != "header" && o.UserdataTokenMethod != "url" {
		return bad("userdata_token_method", "%q: use header or url", o.UserdataTokenMethod)
	}
	if o.ClientAuth != "auto" && o.ClientAuth != "header" && o.ClientAuth != "params" {
		return bad("client_auth", "%q: use auto, header or params", o.ClientAuth)
	}
	return c.checkAccessOptions()
}

// checkAccessOptions refuses access options the provider cannot evaluate.
func (c *Config) checkAccessOptions() error {
	hub := c.Provider == "jupyterhub"
	userdata := c.OAuth.UserdataURL != ""
	hasGroups := hub || (userdata && c.OAuth.GroupsKey != "")
	hasScopes := hub || (!userdata && c.OAuth.IntrospectURL != "")
	if len(c.AllowedGroups) > 0 && !hasGroups {
		hint := "set groups_key to the userdata field that lists them"
		switch {
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
		return bad("required_scopes", "provider %s gives no scopes here (only jupyterhub and token introspection do)", c.Provider)
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
