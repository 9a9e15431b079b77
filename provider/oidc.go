package provider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
)

// OIDCPreset is OpenID Connect's: the endpoints come from discovery.
var OIDCPreset = Preset{LoginService: "OpenID Connect", Scopes: []string{"openid", "email", "profile"}, ExtraScopes: []string{"openid"}}

// Leeway is the clock difference allowed between hubgate and an issuer on exp and iat.
const Leeway = 60 * time.Second

// JWTIssuer is an issuer whose JWTs hubgate verifies, and the audience they must carry.
type JWTIssuer struct {
	Issuer   string
	Audience string
}

// OIDCOptions configures the OpenID Connect provider.
type OIDCOptions struct {
	IssuerURL      string
	ClientID       string
	ClientSecret   string
	RedirectURL    string
	Scopes         []string
	ExtraAudiences []string // accepted in aud besides the client id
	UsernameClaim  string   // dotted paths allowed, as the generic provider's keys
	GroupsClaim    string
	EmailClaim     string
	AdminClaim     string
	// AllowUnverifiedEmail keeps an e-mail address the issuer does not say is
	// verified (email_verified); otherwise it is dropped.
	AllowUnverifiedEmail bool
	ExtraAuthorizeParams map[string]string
	ClientAuth           ClientAuth
	Timeout              time.Duration
	// JWTBearer verifies bearer tokens that are JWTs locally, against the issuer's
	// keys (and each of ExtraJWTIssuers'), instead of asking userinfo.
	JWTBearer       bool
	ExtraJWTIssuers []JWTIssuer
	// KeysMaxAge is how long fetched signing keys are used before fetching them again.
	KeysMaxAge time.Duration
	Logger     *zap.Logger // told about discovery retries, at most once a minute
	// Check adds a preset's own rule (Google's hosted domain) once the claims name
	// a user: it may set u.Denied. claims are the verified ID token's, filled in by
	// userinfo, or userinfo's alone for a bearer token.
	Check func(claims map[string]any, u *User)
	// IDTokenClaims are claims userinfo may not fill in when there is an ID token:
	// only the verified token says them (Google's hd, email, email_verified).
	IDTokenClaims []string

	// issuerKey is the setting that names the issuer, in errors ("oidc_issuer_url").
	issuerKey string
	// noUsername is the hint of the refusal of claims that do not name the user.
	noUsername string
}

// OIDC is an OpenID Connect provider: endpoints from discovery, ID tokens verified
// at login, identity from the verified ID token and userinfo, and optionally JWT
// bearer tokens verified locally.
type OIDC struct {
	o      OIDCOptions
	client *http.Client
	log    *zap.Logger

	// issuers are the login issuer (first) and ExtraJWTIssuers, in order.
	issuers []issuerSpec

	mu      sync.RWMutex
	found   []*discovered // by issuers' index; nil until discovered
	lastErr error         // why discovery last failed

	audienceLogged atomic.Int64 // unix seconds: the last other-audience bearer JWT logged
}

// errOtherAudience marks a token refused for its aud alone: the one refusal whose
// fix is in hubgate's configuration, so it is logged (audienceHint).
var errOtherAudience = errors.New("the token is for audience")

// issuerSpec is an issuer to discover: the key that configures it, the audiences
// its tokens may carry, and whether hubgate logs in there (and so needs its OAuth2
// endpoints and userinfo) or only verifies its JWTs.
type issuerSpec struct {
	url, key  string
	audiences []string
	login     bool
}

// discovered is what one issuer's discovery document says, ready for use.
type discovered struct {
	issuer     string
	audiences  []string
	keys       *keySet
	verifier   *oidc.IDTokenVerifier
	anyTime    *oidc.IDTokenVerifier // verifier without exp: a session's ID token
	generic    *Generic              // the main issuer's OAuth2 endpoints and userinfo
	endSession string
}

// DiscoveryError is a discovery document that is there but wrong: retrying will not
// help, the configuration (Key) has to change.
type DiscoveryError struct {
	Key string
	Err error
}

func (e *DiscoveryError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *DiscoveryError) Unwrap() error { return e.Err }

// NewOIDC discovers the issuer (once, within the timeout) and returns the provider.
// A document that is wrong is a *DiscoveryError. One that cannot be fetched is not
// an error: the provider retries in the background until ctx ends, and says so in
// Ready meanwhile.
func NewOIDC(ctx context.Context, o OIDCOptions) (*OIDC, error) {
	if o.KeysMaxAge <= 0 {
		o.KeysMaxAge = 10 * time.Minute
	}
	if o.issuerKey == "" {
		o.issuerKey = "oidc_issuer_url"
	}
	if o.noUsername == "" {
		o.noUsername = "set username_claim to a claim the issuer sends"
	}
	p := &OIDC{o: o, client: NewHTTPClient(o.Timeout), log: o.Logger}
	p.issuers = []issuerSpec{{url: o.IssuerURL, key: o.issuerKey, audiences: append([]string{o.ClientID}, o.ExtraAudiences...), login: true}}
	for _, ji := range o.ExtraJWTIssuers {
		p.issuers = append(p.issuers, issuerSpec{url: ji.Issuer, key: "extra_jwt_issuers", audiences: []string{ji.Audience}})
	}
	p.found = make([]*discovered, len(p.issuers))
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if err := p.discoverAll(ctx); err != nil {
		var wrong *DiscoveryError
		if errors.As(err, &wrong) {
			return nil, err
		}
		p.log.Warn("OpenID Connect discovery failed; serving, and retrying in the background (/ready answers 503 until it works)", zap.Error(err))
		go p.retry(ctx)
	}
	return p, nil
}

// discoverAll discovers every issuer not yet discovered; the first error is returned.
func (p *OIDC) discoverAll(ctx context.Context) error {
	var first error
	for i, spec := range p.issuers {
		p.mu.RLock()
		done := p.found[i] != nil
		p.mu.RUnlock()
		if done {
			continue
		}
		d, err := p.discover(ctx, spec)
		p.mu.Lock()
		if err == nil {
			p.found[i] = d
		} else if first == nil {
			first = err
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.lastErr = first
	p.mu.Unlock()
	return first
}

// retry discovers with backoff (1 s doubling to a minute) until every issuer is
// discovered or ctx ends, logging at most once a minute.
func (p *OIDC) retry(ctx context.Context) {
	wait, logged := time.Second, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := p.discoverAll(ctx)
		if err == nil {
			p.log.Info("OpenID Connect discovery succeeded", zap.String(p.o.issuerKey, p.o.IssuerURL))
			return
		}
		if time.Since(logged) >= time.Minute {
			p.log.Warn("OpenID Connect discovery still failing; retrying", zap.Error(err))
			logged = time.Now()
		}
		wait = min(2*wait, time.Minute)
	}
}

// statusRecorder remembers the status of the discovery answer, which tells a
// document that cannot be fetched (retry) from one that is wrong (fix the key).
type statusRecorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	status int
}

func (s *statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.status = resp.StatusCode
		s.mu.Unlock()
	}
	return resp, err
}

// discoveryDoc is the part of the discovery document go-oidc leaves to its callers.
type discoveryDoc struct {
	Authorize  string   `json:"authorization_endpoint"`
	Token      string   `json:"token_endpoint"`
	Userinfo   string   `json:"userinfo_endpoint"`
	JWKS       string   `json:"jwks_uri"`
	EndSession string   `json:"end_session_endpoint"`
	Algs       []string `json:"id_token_signing_alg_values_supported"`
}

// discover reads one issuer's discovery document. The login issuer's must name its
// OAuth2 endpoints and userinfo too; the others need only keys.
func (p *OIDC) discover(ctx context.Context, spec issuerSpec) (*discovered, error) {
	issuer, key, full := spec.url, spec.key, spec.login
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	rec := &statusRecorder{base: p.client.Transport}
	ctx = oidc.ClientContext(ctx, &http.Client{Transport: rec, Timeout: p.o.Timeout})
	op, err := oidc.NewProvider(ctx, issuer)
	rec.mu.Lock()
	status := rec.status
	rec.mu.Unlock()
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, &DiscoveryError{key, fmt.Errorf("%s names the issuer %q, not %q: set %s to exactly the issuer the provider names (a trailing slash counts)", wellKnown, mismatch.Discovered, issuer, key)}
		}
		if status == http.StatusOK {
			return nil, &DiscoveryError{key, fmt.Errorf("%s is not a discovery document: %v", wellKnown, err)}
		}
		if status != 0 {
			return nil, fmt.Errorf("%s: discovery document at %s: HTTP %d", key, wellKnown, status)
		}
		return nil, fmt.Errorf("%s: discovery document at %s cannot be fetched: %v", key, wellKnown, redactURL(err))
	}
	var doc discoveryDoc
	if err := op.Claims(&doc); err != nil {
		return nil, &DiscoveryError{key, fmt.Errorf("%s: %v", wellKnown, err)}
	}
	required := [][2]string{{"jwks_uri", doc.JWKS}}
	if full {
		required = append(required, [2]string{"authorization_endpoint", doc.Authorize}, [2]string{"token_endpoint", doc.Token}, [2]string{"userinfo_endpoint", doc.Userinfo})
	}
	for _, f := range required {
		if u, err := url.Parse(f[1]); f[1] == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, &DiscoveryError{key, fmt.Errorf("%s has no usable %s (%q)", wellKnown, f[0], f[1])}
		}
	}
	algs := acceptedAlgs(doc.Algs)
	if len(algs) == 0 {
		return nil, &DiscoveryError{key, fmt.Errorf("%s signs ID tokens only with %v; hubgate accepts RS*, PS*, ES* and EdDSA", wellKnown, doc.Algs)}
	}
	keys := newKeySet(doc.JWKS, p.client, p.o.KeysMaxAge)
	d := &discovered{
		issuer:    issuer,
		audiences: spec.audiences,
		keys:      keys,
		// The audience is checked in verify (the client id or an extra audience),
		// and exp with the leeway: go-oidc allows none.
		verifier: oidc.NewVerifier(issuer, keys, &oidc.Config{
			SkipClientIDCheck:    true,
			SupportedSigningAlgs: algs,
			Now:                  func() time.Time { return time.Now().Add(-Leeway) },
		}),
		endSession: doc.EndSession,
		anyTime:    oidc.NewVerifier(issuer, keys, &oidc.Config{SkipClientIDCheck: true, SkipExpiryCheck: true, SupportedSigningAlgs: algs}),
	}
	if full {
		d.generic = NewGeneric(GenericOptions{
			AuthorizeURL:         doc.Authorize,
			TokenURL:             doc.Token,
			UserdataURL:          doc.Userinfo,
			UserdataMethod:       http.MethodGet,
			UsernameKey:          p.o.UsernameClaim,
			GroupsKey:            p.o.GroupsClaim,
			EmailKey:             p.o.EmailClaim,
			AdminKey:             p.o.AdminClaim,
			Scopes:               p.o.Scopes,
			ExtraAuthorizeParams: p.o.ExtraAuthorizeParams,
			ClientAuth:           p.o.ClientAuth,
			ClientID:             p.o.ClientID,
			ClientSecret:         p.o.ClientSecret,
			RedirectURL:          p.o.RedirectURL,
			Timeout:              p.o.Timeout,
		})
	}
	return d, nil
}

// acceptedAlgs is the issuer's ID token algorithms hubgate accepts; an issuer that
// names none is taken to use RS256, as OpenID Connect says.
func acceptedAlgs(supported []string) []string {
	if len(supported) == 0 {
		supported = []string{string(jose.RS256)}
	}
	var out []string
	for _, a := range supported {
		if slices.Contains(signingAlgs, jose.SignatureAlgorithm(a)) {
			out = append(out, a)
		}
	}
	return out
}

// login is the discovered login issuer, or why there is none yet.
func (p *OIDC) login() (*discovered, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.found[0] == nil {
		err := p.lastErr
		if err == nil {
			err = errors.New("discovery has not finished")
		}
		return nil, &UnavailableError{Err: err}
	}
	return p.found[0], nil
}

// loginNonce is the login's nonce, derived from its PKCE verifier (secret, one per login,
// kept in the login's sealed cookie), so the ID token is bound to the browser that
// started the login. The prefix keeps it unrelated to the code_challenge.
func loginNonce(verifier string) string {
	sum := sha256.Sum256([]byte("hubgate oidc nonce\x00" + verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthCodeURL implements Provider; "" while the issuer is not discovered.
func (p *OIDC) AuthCodeURL(state, verifier string) string {
	d, err := p.login()
	if err != nil {
		return ""
	}
	g := d.generic
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", loginNonce(verifier))}, g.AuthParams...)
	return g.Config.AuthCodeURL(state, opts...)
}

// Exchange implements Provider: the token response must carry an ID token that
// verifies, with this login's nonce.
func (p *OIDC) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	d, err := p.login()
	if err != nil {
		return nil, err
	}
	tok, err := d.generic.Exchange(ctx, code, verifier)
	if err != nil {
		return nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, &UnavailableError{Err: errors.New("the token response has no id_token: is the client registered for OpenID Connect, and openid among the scopes?")}
	}
	idt, _, err := p.verify(ctx, d, raw, true)
	if err != nil {
		return nil, err
	}
	if idt.Nonce != loginNonce(verifier) {
		return nil, fmt.Errorf("%w: the ID token's nonce is not this login's", ErrInvalidToken)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: the ID token's at_hash does not match the access token", ErrInvalidToken)
		}
	}
	return tok, nil
}

// Refresh implements Provider. An ID token that comes with the new tokens is
// verified like the login's (without a nonce: a refresh has none).
func (p *OIDC) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	d, err := p.login()
	if err != nil {
		return nil, err
	}
	tok, err := d.generic.Refresh(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		if _, _, err := p.verify(ctx, d, raw, true); err != nil {
			return nil, err
		}
	}
	return tok, nil
}

// verify checks a JWT of issuer d: signature, iss, aud (one of d's audiences), exp
// and iat with Leeway (unless checkTimes is false: an ID token kept in a session
// long after its exp still says who logged in). It returns the token and its claims.
func (p *OIDC) verify(ctx context.Context, d *discovered, raw string, checkTimes bool) (*oidc.IDToken, map[string]any, error) {
	v := d.verifier
	if !checkTimes {
		v = d.anyTime
	}
	var keysErr error
	idt, err := v.Verify(context.WithValue(ctx, keysErrorKey{}, &keysErr), raw)
	if err != nil {
		if keysErr != nil {
			return nil, nil, &UnavailableError{Err: keysErr}
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !slices.ContainsFunc(idt.Audience, func(a string) bool { return slices.Contains(d.audiences, a) }) {
		return nil, nil, fmt.Errorf("%w: %w %q, not this service", ErrInvalidToken, errOtherAudience, idt.Audience)
	}
	if checkTimes && idt.IssuedAt.After(time.Now().Add(Leeway)) {
		return nil, nil, fmt.Errorf("%w: the token was issued in the future (iat)", ErrInvalidToken)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if azp, _ := claims["azp"].(string); azp != "" && len(idt.Audience) > 1 && !slices.Contains(d.audiences, azp) {
		return nil, nil, fmt.Errorf("%w: the token was issued to another client (azp %q)", ErrInvalidToken, azp)
	}
	return idt, claims, nil
}

type idTokenKey struct{}

// WithIDToken gives Lookup the ID token of the session whose access token it is
// asked about: its claims fill in what userinfo does not say.
func WithIDToken(ctx context.Context, raw string) context.Context {
	if raw == "" {
		return ctx
	}
	return context.WithValue(ctx, idTokenKey{}, raw)
}

// Lookup implements Provider. A JWT bearer token (JWTBearer) is verified here, with
// no call to the issuer; any other token is asked about at userinfo, which also says
// when it was revoked.
func (p *OIDC) Lookup(ctx context.Context, token string) (*User, error) {
	if p.o.JWTBearer && looksLikeJWT(token) {
		return p.lookupJWT(ctx, token)
	}
	d, err := p.login()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	data, err := d.generic.userdata(ctx, token)
	if err != nil {
		return nil, err
	}
	if raw, _ := ctx.Value(idTokenKey{}).(string); raw != "" {
		_, claims, err := p.verify(ctx, d, raw, false)
		if err != nil {
			return nil, err
		}
		// OpenID Connect Core 5.3.2: userinfo's sub must be the ID token's, or
		// nothing userinfo says may be used.
		switch sub, _ := data["sub"].(string); {
		case sub == "":
			return nil, fmt.Errorf("%w: userinfo names no subject (sub), so it cannot be matched to the session's ID token", ErrInvalidToken)
		case sub != claims["sub"]:
			return nil, fmt.Errorf("%w: userinfo is about another subject than the session's ID token", ErrInvalidToken)
		}
		// The verified ID token first; userinfo fills in what it lacks, except the
		// claims only the ID token may say.
		for k, v := range data {
			if _, ok := claims[k]; !ok && !slices.Contains(p.o.IDTokenClaims, k) {
				claims[k] = v
			}
		}
		data = claims
	}
	u, err := p.user(data)
	if err != nil {
		return nil, err // not discovered: an *UnavailableError
	}
	return u, nil
}

// lookupJWT verifies a JWT bearer token against the issuer it names, if it is one
// of those configured; any other is refused.
func (p *OIDC) lookupJWT(ctx context.Context, token string) (*User, error) {
	iss := unverifiedIssuer(token)
	i := slices.IndexFunc(p.issuers, func(s issuerSpec) bool { return s.url == iss })
	if i < 0 {
		return nil, fmt.Errorf("%w: the JWT's issuer %q is not one hubgate trusts", ErrInvalidToken, iss)
	}
	p.mu.RLock()
	d := p.found[i]
	p.mu.RUnlock()
	if d == nil {
		return nil, &UnavailableError{Err: fmt.Errorf("the issuer %s is not discovered yet", iss)}
	}
	idt, claims, err := p.verify(ctx, d, token, true)
	if err != nil {
		if errors.Is(err, errOtherAudience) {
			p.audienceHint(d, err)
		}
		return nil, err
	}
	u, err := p.user(claims)
	if err != nil {
		return nil, err // not discovered: an *UnavailableError
	}
	u.Scopes = tokenScopes(claims)
	u.Expires = idt.Expiry
	return u, nil
}

// audienceHint says, at most once a minute, why a signed bearer JWT of a trusted
// issuer was refused and what would let such tokens in: Keycloak's access tokens,
// for one, carry aud "account" unless an audience mapper adds the client id.
func (p *OIDC) audienceHint(d *discovered, err error) {
	now, last := time.Now().Unix(), p.audienceLogged.Load()
	if now-last < 60 || !p.audienceLogged.CompareAndSwap(last, now) {
		return
	}
	p.log.Info("a Bearer JWT signed by a trusted issuer was refused for its audience; if such tokens should pass, add the audience to oidc_extra_audiences (Keycloak: or give the client an audience mapper)",
		zap.String("issuer", d.issuer), zap.Strings("accepted", d.audiences), zap.Error(err))
}

// user is the identity the claims give. Claims that name no user are a refusal
// (User.Denied, a 403), not an error: the issuer answered, and asking again
// changes nothing.
func (p *OIDC) user(claims map[string]any) (*User, error) {
	d, err := p.login()
	if err != nil {
		return nil, err
	}
	if name, _ := lookupPath(claims, p.o.UsernameClaim).(string); name == "" {
		return &User{Kind: "user", Groups: []string{},
			Denied: fmt.Sprintf("the issuer gave no %s claim to name the account by (%s)", p.o.UsernameClaim, p.o.noUsername)}, nil
	}
	u, err := d.generic.userFrom(claims)
	if err != nil {
		return nil, err
	}
	if u.Email != "" && !p.o.AllowUnverifiedEmail && !truthy(claims["email_verified"]) {
		if p.o.UsernameClaim == p.o.EmailClaim {
			u.Denied = "the account's e-mail address is not verified"
		}
		u.Email = ""
	}
	if p.o.Check != nil {
		p.o.Check(claims, u)
	}
	return u, nil
}

// tokenScopes reads an access token's scopes: "scope" (space-separated, RFC 9068) or
// "scp" (a list, Entra ID).
func tokenScopes(claims map[string]any) []string {
	if s, ok := claims["scope"].(string); ok {
		return strings.Fields(s)
	}
	return stringList(claims["scp"])
}

// looksLikeJWT says whether token is a JWS in compact form: three base64url parts,
// the first a JSON header naming an algorithm. Opaque tokens never are.
func looksLikeJWT(token string) bool {
	if strings.Count(token, ".") != 2 {
		return false
	}
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(b, &h) == nil && h.Alg != ""
}

// unverifiedIssuer is the iss a JWT claims, only to pick the keys that verify it.
func unverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Iss
}

// Ready implements Provider: discovered, and the discovery document still served.
func (p *OIDC) Ready(ctx context.Context) error {
	if _, err := p.login(); err != nil {
		return fmt.Errorf("%w (retrying)", errors.Unwrap(err))
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.o.IssuerURL, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", p.o.issuerKey, redactURL(err))
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: the discovery document answered HTTP %d", p.o.issuerKey, resp.StatusCode)
	}
	return nil
}

// EndSessionURL is where sign-out continues to end the session at the issuer too
// (RP-initiated logout), or "" when the issuer has no end_session_endpoint.
func (p *OIDC) EndSessionURL(idToken, postLogoutRedirect string) string {
	d, err := p.login()
	if err != nil || d.endSession == "" {
		return ""
	}
	q := url.Values{"client_id": {p.o.ClientID}, "post_logout_redirect_uri": {postLogoutRedirect}}
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	sep := "?"
	if strings.Contains(d.endSession, "?") {
		sep = "&"
	}
	return d.endSession + sep + q.Encode()
}
