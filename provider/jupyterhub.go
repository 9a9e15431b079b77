package provider

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// JupyterHubOptions configures the JupyterHub provider.
type JupyterHubOptions struct {
	HubURL       string // browser-facing base; "" or a path means the Hub's own origin
	APIURL       string // server-side, e.g. http://127.0.0.1:8081/hub/api
	ClientID     string
	ClientSecret string // the service's api_token
	RedirectURL  string
	Timeout      time.Duration
	TLS          *tls.Config // for the API (internal_ssl, see HubClientTLS); nil: system defaults
}

// JupyterHubPreset is the Hub's: its endpoints come from its service environment.
var JupyterHubPreset = Preset{LoginService: "JupyterHub"}

// JupyterHub uses a Hub as OAuth2 provider (docs/peers.md, "JupyterHub as the OAuth provider").
type JupyterHub struct {
	OAuth
	api string
}

// NewJupyterHub returns the JupyterHub provider.
func NewJupyterHub(o JupyterHubOptions) *JupyterHub {
	client := newHTTPClient(o.Timeout, o.TLS)
	return &JupyterHub{
		api: o.APIURL,
		OAuth: OAuth{
			Client:  client,
			Timeout: o.Timeout,
			Config: &oauth2.Config{
				ClientID:     o.ClientID,
				ClientSecret: o.ClientSecret,
				RedirectURL:  o.RedirectURL,
				Endpoint: oauth2.Endpoint{
					AuthURL:  o.HubURL + "/hub/api/oauth2/authorize",
					TokenURL: o.APIURL + "/oauth2/token",
					// The Hub reads client credentials from the form only; Basic is refused.
					AuthStyle: oauth2.AuthStyleInParams,
				},
			},
		},
	}
}

// hubUser is the part of GET /hub/api/user an identify-scoped token can see.
type hubUser struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	Admin  bool     `json:"admin"`
	Groups []string `json:"groups"`
	Scopes []string `json:"scopes"`
}

// Lookup implements Provider with GET /hub/api/user. The Hub answers 403 (never 401)
// for a token it does not know.
func (h *JupyterHub) Lookup(ctx context.Context, token string) (*User, error) {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.api+"/user", nil)
	if err != nil {
		return nil, &UnavailableError{Err: err}
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := h.Client.Do(req)
	if err != nil {
		return nil, &UnavailableError{Err: err}
	}
	var u hubUser
	if err := readJSON(resp, "GET /user", &u); err != nil {
		return nil, err
	}
	if u.Name == "" {
		return nil, &UnavailableError{Err: fmt.Errorf("GET /user: no name in the answer")}
	}
	if u.Kind == "" {
		u.Kind = "user"
	}
	if u.Groups == nil {
		u.Groups = []string{}
	}
	return &User{Name: u.Name, Groups: u.Groups, Admin: u.Admin, Scopes: u.Scopes, Kind: u.Kind}, nil
}

// Ready implements Provider: the Hub's API root answers without a token.
func (h *JupyterHub) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.api+"/", nil)
	if err != nil {
		return err
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hub API answered HTTP %d", resp.StatusCode)
	}
	return nil
}
