package app

import (
	"context"
	"crypto/tls"

	"go.uber.org/zap"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/provider"
)

// newProvider builds the configured identity provider, with the username rules that
// apply to all of them. OpenID Connect discovers its issuer here (see provider.NewOIDC;
// ctx ends its retries), and also gives the sign-out's end-session address.
func newProvider(ctx context.Context, cfg *config.Config, hubTLS *tls.Config, log *zap.Logger) (provider.Provider, *provider.OIDC, error) {
	var p provider.Provider
	var oidc *provider.OIDC
	switch cfg.Provider {
	case "oidc":
		var err error
		if oidc, err = provider.NewOIDC(ctx, oidcOptions(cfg, log)); err != nil {
			return nil, nil, err
		}
		p = oidc
	case "google":
		// provider oidc at Google's issuer, with the hosted-domain rule.
		var err error
		if oidc, err = provider.NewGoogle(ctx, oidcOptions(cfg, log), cfg.HostedDomains); err != nil {
			return nil, nil, err
		}
		p = oidc
	case "jupyterhub":
		p = provider.NewJupyterHub(provider.JupyterHubOptions{
			HubURL:       cfg.HubURL,
			APIURL:       cfg.HubAPIURL,
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Timeout:      cfg.ProviderTimeout,
			TLS:          hubTLS,
		})
	default:
		opts := genericOptions(cfg)
		switch cfg.Provider {
		case "github":
			p = provider.NewGitHub(opts, cfg.AllowedOrgs)
		default: // django, generic
			p = provider.NewGeneric(opts)
		}
	}
	names := provider.Usernames{LocalPart: cfg.UsernameLocal, Lowercase: cfg.UsernameLower, Map: cfg.UsernameMap}
	if names.LocalPart || names.Lowercase || len(names.Map) > 0 {
		p = provider.Renamed{Provider: p, Names: names}
	}
	return access.Scoped{Provider: p, Rules: keptScopes(cfg)}, oidc, nil
}

// oidcOptions are provider oidc's settings (and google's, whose issuer and claims NewGoogle sets).
func oidcOptions(cfg *config.Config, log *zap.Logger) provider.OIDCOptions {
	o := cfg.OIDC
	return provider.OIDCOptions{
		IssuerURL:            o.IssuerURL,
		ClientID:             cfg.ClientID,
		ClientSecret:         cfg.ClientSecret,
		RedirectURL:          cfg.RedirectURL,
		Scopes:               cfg.OAuth.Scopes,
		ExtraAudiences:       o.ExtraAudiences,
		UsernameClaim:        o.UsernameClaim,
		GroupsClaim:          o.GroupsClaim,
		EmailClaim:           o.EmailClaim,
		AdminClaim:           cfg.OAuth.AdminKey,
		AllowUnverifiedEmail: o.AllowUnverifiedEmail,
		ExtraAuthorizeParams: cfg.OAuth.ExtraAuthorizeParams,
		ClientAuth:           cfg.OAuth.ClientAuth,
		Timeout:              cfg.ProviderTimeout,
		JWTBearer:            o.SkipJWTBearerTokens,
		ExtraJWTIssuers:      o.ExtraJWTIssuers,
		KeysMaxAge:           o.KeysMaxAge,
		Logger:               log,
	}
}

// genericOptions are the settings of the OAuth2 providers without discovery.
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
