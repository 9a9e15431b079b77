package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// GenericOptions configures an OAuth2 provider in the shape of JupyterHub's
// GenericOAuthenticator: token URL, userdata URL, and which userdata fields say who.
type GenericOptions struct {
	AuthorizeURL         string
	TokenURL             string
	UserdataURL          string // identity from this JSON, when set
	UserdataMethod       string // GET or POST
	UserdataParams       map[string]string
	UserdataTokenMethod  TokenMethod
	IntrospectURL        string // else identity from RFC 7662 introspection
	UsernameKey          string // dotted paths allowed: user.login
	GroupsKey            string
	EmailKey             string
	AdminKey             string
	Scopes               []string
	TokenParams          map[string]string
	ExtraAuthorizeParams map[string]string
	ClientAuth           ClientAuth
	ClientID             string
	ClientSecret         string
	RedirectURL          string
	Timeout              time.Duration
	// Header is sent with every userdata request (GitHub wants a User-Agent).
	Header http.Header
}

// ClientAuth is how hubgate proves itself to the token and introspection endpoints.
type ClientAuth string

const (
	ClientAuthAuto   ClientAuth = "auto"   // Basic first, the form if refused
	ClientAuthHeader ClientAuth = "header" // HTTP Basic
	ClientAuthParams ClientAuth = "params" // client_id and client_secret in the form
)

// ClientAuths are the values client_auth takes.
var ClientAuths = []ClientAuth{ClientAuthAuto, ClientAuthHeader, ClientAuthParams}

// TokenMethod is how the user's token goes to the userdata URL.
type TokenMethod string

const (
	TokenInHeader TokenMethod = "header" // Authorization: Bearer
	TokenInURL    TokenMethod = "url"    // ?access_token=
)

// TokenMethods are the values userdata_token_method takes.
var TokenMethods = []TokenMethod{TokenInHeader, TokenInURL}

// GenericPreset is the generic provider's: only the username field has a default.
var GenericPreset = Preset{LoginService: "OAuth 2.0", UsernameKey: "username"}

// Generic is an OAuth2 provider that learns who a token belongs to from a userdata
// URL or an introspection endpoint.
type Generic struct {
	OAuth
	o GenericOptions
	// check adds a provider's own rule (GitHub organizations) after
	// the userdata is read; it may set User.Denied.
	check func(ctx context.Context, token string, data map[string]interface{}, u *User) error
}

// NewGeneric returns a generic OAuth2 provider.
func NewGeneric(o GenericOptions) *Generic {
	style := oauth2.AuthStyleAutoDetect
	switch o.ClientAuth {
	case ClientAuthHeader:
		style = oauth2.AuthStyleInHeader
	case ClientAuthParams:
		style = oauth2.AuthStyleInParams
	}
	g := &Generic{o: o, OAuth: OAuth{
		Client:  NewHTTPClient(o.Timeout),
		Timeout: o.Timeout,
		Config: &oauth2.Config{
			ClientID:     o.ClientID,
			ClientSecret: o.ClientSecret,
			RedirectURL:  o.RedirectURL,
			Scopes:       o.Scopes,
			Endpoint:     oauth2.Endpoint{AuthURL: o.AuthorizeURL, TokenURL: o.TokenURL, AuthStyle: style},
		},
		AuthParams:  params(o.ExtraAuthorizeParams),
		TokenParams: params(o.TokenParams),
	}}
	return g
}

func params(m map[string]string) []oauth2.AuthCodeOption {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var opts []oauth2.AuthCodeOption
	for _, k := range keys {
		opts = append(opts, oauth2.SetAuthURLParam(k, m[k]))
	}
	return opts
}

// Lookup implements Provider.
func (g *Generic) Lookup(ctx context.Context, token string) (*User, error) {
	ctx, cancel := context.WithTimeout(ctx, g.Timeout)
	defer cancel()
	if g.o.UserdataURL == "" {
		return g.introspect(ctx, token)
	}
	data, err := g.userdata(ctx, token)
	if err != nil {
		return nil, err
	}
	u, err := g.userFrom(data)
	if err != nil {
		return nil, err
	}
	if g.check != nil {
		if err := g.check(ctx, token, data, u); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// userdata fetches the token owner's JSON. A 401 or 403 means the token is no good
// (DOT answers 403 with an empty body).
func (g *Generic) userdata(ctx context.Context, token string) (map[string]interface{}, error) {
	q := url.Values{}
	for k, v := range g.o.UserdataParams {
		q.Set(k, v)
	}
	if g.o.UserdataTokenMethod == TokenInURL {
		q.Set("access_token", token)
	}
	target, body := g.o.UserdataURL, io.Reader(nil)
	if g.o.UserdataMethod == http.MethodPost {
		body = strings.NewReader(q.Encode())
	} else if len(q) > 0 {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, g.o.UserdataMethod, target, body)
	if err != nil {
		return nil, &UnavailableError{Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range g.o.Header {
		req.Header[k] = v
	}
	if g.o.UserdataTokenMethod != TokenInURL {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var data map[string]interface{}
	if err := g.doJSON(req, &data); err != nil {
		return nil, err
	}
	return data, nil
}

// doJSON sends req and decodes its JSON answer (readJSON). The URL stays out of a
// transport error: it may carry the token.
func (g *Generic) doJSON(req *http.Request, v interface{}) error {
	resp, err := g.Client.Do(req)
	if err != nil {
		return &UnavailableError{Err: redactURL(err)}
	}
	return readJSON(resp, req.Method+" "+req.URL.Path, v)
}

// redactURL drops the URL from a client error: with userdata_token_method url it
// carries the token.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func (g *Generic) userFrom(data map[string]interface{}) (*User, error) {
	name, _ := lookupPath(data, g.o.UsernameKey).(string)
	if name == "" {
		return nil, &UnavailableError{Err: fmt.Errorf("userdata has no %q field with a username", g.o.UsernameKey)}
	}
	u := &User{Name: name, Kind: "user", Groups: []string{}}
	if g.o.GroupsKey != "" {
		u.Groups = stringList(lookupPath(data, g.o.GroupsKey))
	}
	if g.o.EmailKey != "" {
		u.Email, _ = lookupPath(data, g.o.EmailKey).(string)
	}
	if g.o.AdminKey != "" {
		u.Admin = truthy(lookupPath(data, g.o.AdminKey))
	}
	return u, nil
}

// introspection is the RFC 7662 answer (django-oauth-toolkit: docs/peers.md, "django-oauth-toolkit").
type introspection struct {
	Active   bool    `json:"active"`
	Username string  `json:"username"`
	Scope    string  `json:"scope"`
	Exp      float64 `json:"exp"`
}

// introspect asks the introspection endpoint about token, authenticating as the client.
func (g *Generic) introspect(ctx context.Context, token string) (*User, error) {
	form := url.Values{"token": {token}}
	if g.o.ClientAuth == ClientAuthParams {
		form.Set("client_id", g.o.ClientID)
		form.Set("client_secret", g.o.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.o.IntrospectURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &UnavailableError{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if g.o.ClientAuth != ClientAuthParams {
		req.SetBasicAuth(url.QueryEscape(g.o.ClientID), url.QueryEscape(g.o.ClientSecret))
	}
	var in introspection
	if err := g.doJSON(req, &in); err != nil {
		if errors.Is(err, ErrInvalidToken) {
			// The endpoint refused hubgate itself, not the user's token.
			return nil, &UnavailableError{Err: errors.New("the introspection endpoint refused hubgate's client credentials")}
		}
		return nil, err
	}
	if !in.Active || (in.Exp != 0 && float64(time.Now().Unix()) >= in.Exp) {
		return nil, ErrInvalidToken
	}
	if in.Username == "" {
		// An active token that belongs to no user (client credentials): not a login.
		return nil, ErrInvalidToken
	}
	return &User{Name: in.Username, Kind: "user", Groups: []string{}, Scopes: strings.Fields(in.Scope)}, nil
}

// Ready implements Provider: the token endpoint's host answers HTTP at all.
func (g *Generic) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, g.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.o.TokenURL, nil)
	if err != nil {
		return err
	}
	resp, err := g.Client.Do(req)
	if err != nil {
		return redactURL(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("token endpoint answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// lookupPath follows a dotted path (user.login) through decoded JSON.
func lookupPath(data map[string]interface{}, path string) interface{} {
	var cur interface{} = data
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// stringList reads a list of group names; objects with a "name" are accepted too.
func stringList(v interface{}) []string {
	out := []string{}
	switch v := v.(type) {
	case string:
		if v != "" {
			out = append(out, v)
		}
	case []interface{}:
		for _, item := range v {
			switch item := item.(type) {
			case string:
				out = append(out, item)
			case map[string]interface{}:
				if name, ok := item["name"].(string); ok {
					out = append(out, name)
				}
			}
		}
	}
	return out
}

func truthy(v interface{}) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(v)
		return b
	case float64:
		return v != 0
	}
	return false
}
