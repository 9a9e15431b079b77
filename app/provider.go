package app

import (
	"crypto/tls"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/provider"
)

// newProvider builds the configured identity provider, with the username rules that
// apply to all of them.
func newProvider(cfg *config.Config, hubTLS *tls.Config) provider.Provider {
	var p provider.Provider
	if cfg.Provider == "jupyterhub" {
		p = provider.NewJupyterHub(provider.JupyterHubOptions{
			HubURL:       cfg.HubURL,
			APIURL:       cfg.HubAPIURL,
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Timeout:      cfg.ProviderTimeout,
			TLS:          hubTLS,
		})
	} else {
		opts := genericOptions(cfg)
		switch cfg.Provider {
		case "github":
			p = provider.NewGitHub(opts, cfg.AllowedOrgs)
		case "google":
			p = provider.NewGoogle(opts, cfg.HostedDomains)
		default: // django, generic
			p = provider.NewGeneric(opts)
		}
	}
	names := provider.Usernames{LocalPart: cfg.UsernameLocal, Lowercase: cfg.UsernameLower, Map: cfg.UsernameMap}
	if names.LocalPart || names.Lowercase || len(names.Map) > 0 {
		p = provider.Renamed{Provider: p, Names: names}
	}
	return access.Scoped{Provider: p, Rules: accessRules(cfg)}
}

// genericOptions are the settings of every OAuth2 provider but JupyterHub.
func genericOptions(cfg *config.Config) provider.GenericOptions {
	o := cfg.OAuth
	return provider.GenericOptions{
		AuthorizeURL:         o.AuthorizeURL,
		TokenURL:             o.TokenURL,
		UserdataURL:          o.UserdataURL,
		UserdataMethod:       o.UserdataMethod,
		UserdataParams:       o.UserdataParams,
		UserdataTokenMethod:  o.UserdataTokenMethod,
		IntrospectURL:        o.IntrospectURL,
		UsernameKey:          o.UsernameKey,
		GroupsKey:            o.GroupsKey,
		EmailKey:             o.EmailKey,
		AdminKey:             o.AdminKey,
		Scopes:               o.Scopes,
		TokenParams:          o.TokenParams,
		ExtraAuthorizeParams: o.ExtraAuthorizeParams,
		ClientAuth:           o.ClientAuth,
		ClientID:             cfg.ClientID,
		ClientSecret:         cfg.ClientSecret,
		RedirectURL:          cfg.RedirectURL,
		Timeout:              cfg.ProviderTimeout,
	}
}
