// Package provider talks to the identity providers: where their OAuth2 endpoints are
// and how to ask them who a token belongs to.
package provider

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// User is who a token belongs to, as the provider says.
type User struct {
	Name   string
	Groups []string
	Email  string
	Admin  bool
	Scopes []string
	// Kind is "user" for people; JupyterHub also answers for services' own tokens.
	Kind string
	// Denied says why a provider's own rule (GitHub organization, Google domain)
	// refuses this user; empty when none does.
	Denied string
	// Expires, when set, is when the credential itself ends (a JWT's exp): no cache
	// may keep the answer longer.
	Expires time.Time
}

// Ended reports whether the credential the user was looked up by has ended; the
// clock is read only for credentials that end.
func (u *User) Ended() bool { return !u.Expires.IsZero() && !time.Now().Before(u.Expires) }

// ErrInvalidToken means the provider does not know the token: wrong, expired or revoked.
var ErrInvalidToken = errors.New("token is invalid, expired or revoked")

// UnavailableError means the provider could not give an answer (down, slow, 5xx).
// Nothing about the token is known, so nothing is cached.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "identity provider unavailable: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Provider is one identity provider.
type Provider interface {
	// AuthCodeURL is where a browser starts its login.
	AuthCodeURL(state, verifier string) string
	// Exchange trades the callback's code for a token.
	Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error)
	// Lookup asks the provider who owns token. It returns ErrInvalidToken or an
	// *UnavailableError on failure.
	Lookup(ctx context.Context, token string) (*User, error)
	// Refresh trades a refresh token for fresh tokens.
	Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error)
	// Ready reports whether the provider answers at all.
	Ready(ctx context.Context) error
}

// OAuth is the authorization-code flow every provider shares: PKCE S256 always, and
// token requests that ask for JSON and carry a timeout.
type OAuth struct {
	Config      *oauth2.Config
	Client      *http.Client
	Timeout     time.Duration
	AuthParams  []oauth2.AuthCodeOption // extra authorize parameters
	TokenParams []oauth2.AuthCodeOption // extra parameters of the code exchange
}

// AuthCodeURL implements Provider.
func (o *OAuth) AuthCodeURL(state, verifier string) string {
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, o.AuthParams...)
	return o.Config.AuthCodeURL(state, opts...)
}

// Refresh implements Provider. A refused refresh token (revoked, already rotated)
// is ErrInvalidToken: the user logs in again.
func (o *OAuth) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.Client)
	tok, err := o.Config.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, tokenError(err)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken // not rotated: keep using the old one
	}
	return tok, nil
}

// tokenError sorts a token endpoint failure: the user's code or refresh token refused
// (log in again), hubgate's own credentials refused, or the provider unreachable.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return &UnavailableError{Err: err}
	}
	switch {
	case re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client" ||
		re.ErrorCode == "incorrect_client_credentials" || // GitHub's name, sent with HTTP 200
		re.ErrorCode == "redirect_uri_mismatch":
		// Not the user's fault: hubgate's own credentials are wrong.
		return &UnavailableError{Err: fmt.Errorf("the provider rejected hubgate's client registration (%s): check client_id, client_secret and redirect_url", re.ErrorCode)}
	case re.ErrorCode == "server_error" || re.ErrorCode == "temporarily_unavailable":
		return &UnavailableError{Err: fmt.Errorf("token endpoint: %s", re.ErrorCode)}
	case re.ErrorCode != "" || (re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500):
		// GitHub sends its errors with HTTP 200: the code alone says what happened.
		return fmt.Errorf("%w: the provider refused the token request (%s)", ErrInvalidToken, re.ErrorCode)
	}
	return &UnavailableError{Err: err}
}

// Exchange implements Provider. The token request's redirect_uri is the authorize
// one, byte for byte, as the providers insist.
func (o *OAuth) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.Client)
	opts := append([]oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}, o.TokenParams...)
	tok, err := o.Config.Exchange(ctx, code, opts...)
	if err != nil {
		return nil, tokenError(err)
	}
	return tok, nil
}

// NewHTTPClient is the client for calls to a provider: its own timeout, JSON wanted,
// and no proxy from the environment (providers are reached directly).
func NewHTTPClient(timeout time.Duration) *http.Client { return newHTTPClient(timeout, nil) }

// newHTTPClient is NewHTTPClient with TLS settings of its own (nil: the defaults).
func newHTTPClient(timeout time.Duration, tlsConfig *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if tlsConfig != nil {
		t.TLSClientConfig = tlsConfig
	}
	t.Proxy = nil
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: timeout, Transport: acceptJSON{t}}
}

// acceptJSON asks for JSON where the caller didn't say: some providers (GitHub) answer
// token requests form-encoded otherwise.
type acceptJSON struct{ base http.RoundTripper }

func (a acceptJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Accept") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Accept", "application/json")
	}
	return a.base.RoundTrip(r)
}
