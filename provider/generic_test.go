package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubgate/hubgate/provider"
)

// fakeIDP is an httptest identity provider: one handler per exact path, and a record
// of every request it got (body parsed as a form).
type fakeIDP struct {
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	reqs   []idpRequest
}

type idpRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   string
	Form   url.Values
}

func newFakeIDP(t *testing.T) *fakeIDP {
	t.Helper()
	p := &fakeIDP{routes: map[string]http.HandlerFunc{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		p.mu.Lock()
		p.reqs = append(p.reqs, idpRequest{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Header: r.Header.Clone(), Body: string(body), Form: form,
		})
		h := p.routes[r.URL.Path]
		p.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeIDP) handle(path string, h http.HandlerFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.routes[path] = h
}

// requests returns the requests to path, in order.
func (p *fakeIDP) requests(path string) []idpRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []idpRequest
	for _, r := range p.reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// count is how many requests the fake got in all.
func (p *fakeIDP) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.reqs)
}

// one returns the single request to path, failing the test unless there was exactly one.
func (p *fakeIDP) one(t *testing.T, path string) idpRequest {
	t.Helper()
	reqs := p.requests(path)
	if len(reqs) != 1 {
		t.Fatalf("%d requests to %s, want 1", len(reqs), path)
	}
	return reqs[0]
}

// options is a generic provider pointed at this fake, DOT-style paths.
func (p *fakeIDP) options() provider.GenericOptions {
	return provider.GenericOptions{
		AuthorizeURL:        p.srv.URL + "/o/authorize/",
		TokenURL:            p.srv.URL + "/o/token/",
		UserdataURL:         p.srv.URL + "/userdata",
		UserdataMethod:      http.MethodGet,
		UserdataTokenMethod: "header",
		UsernameKey:         "username",
		ClientAuth:          "auto",
		ClientID:            "hubgate-client",
		ClientSecret:        "hubgate-secret",
		RedirectURL:         "http://127.0.0.1:4180/oauth2/callback",
		Timeout:             5 * time.Second,
	}
}

// reply answers with a status and a JSON body.
func reply(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// errKind is how a provider call failed, as hubgate sorts it.
type errKind int

const (
	kindOK          errKind = iota
	kindInvalid             // wraps ErrInvalidToken, and is no *UnavailableError
	kindUnavailable         // an *UnavailableError, not ErrInvalidToken
)

func (k errKind) String() string {
	return [...]string{"no error", "ErrInvalidToken", "*UnavailableError"}[k]
}

func checkKind(t *testing.T, err error, want errKind) {
	t.Helper()
	var ue *provider.UnavailableError
	var got errKind
	switch {
	case err == nil:
		got = kindOK
	case errors.Is(err, provider.ErrInvalidToken) && !errors.As(err, &ue):
		got = kindInvalid
	case errors.As(err, &ue) && !errors.Is(err, provider.ErrInvalidToken):
		got = kindUnavailable
	default:
		t.Fatalf("err = %v (%T): neither ErrInvalidToken nor *UnavailableError alone", err, err)
	}
	if got != want {
		t.Fatalf("err = %v (%T), want %v", err, err, want)
	}
}

// sameStrings compares string lists, nil and empty alike.
func sameStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

const userToken = "user-TOKEN-7f3a9c"

func TestGenericUserdataRequest(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		tokenMethod provider.TokenMethod
	}{
		{"GET header", http.MethodGet, "header"},
		{"GET url", http.MethodGet, "url"},
		{"POST header", http.MethodPost, "header"},
		{"POST url", http.MethodPost, "url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/userdata", reply(200, `{"username":"alice"}`))
			o := p.options()
			o.UserdataURL = p.srv.URL + "/userdata?v=2"
			o.UserdataMethod = tt.method
			o.UserdataTokenMethod = tt.tokenMethod
			o.UserdataParams = map[string]string{"fields": "login email", "format": "json"}
			u, err := provider.NewGeneric(o).Lookup(context.Background(), userToken)
			if err != nil {
				t.Fatal(err)
			}
			if u.Name != "alice" {
				t.Errorf("Name = %q, want alice", u.Name)
			}
			r := p.one(t, "/userdata")
			if r.Method != tt.method {
				t.Errorf("method %s, want %s", r.Method, tt.method)
			}
			if got := r.Query.Get("v"); got != "2" {
				t.Errorf("the userdata URL's own query v = %q, want 2 (query %q)", got, r.Query)
			}
			// Where the parameters must be, and where they must not.
			params, other := r.Query, r.Form
			if tt.method == http.MethodPost {
				params, other = r.Form, r.Query
				if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
					t.Errorf("Content-Type = %q, want a form", ct)
				}
			} else if r.Body != "" {
				t.Errorf("GET with a body %q", r.Body)
			}
			for k, v := range o.UserdataParams {
				if got := params[k]; len(got) != 1 || got[0] != v {
					t.Errorf("userdata param %s = %q, want %q", k, got, v)
				}
				if other.Has(k) {
					t.Errorf("userdata param %s also sent in the wrong place", k)
				}
			}
			auth := r.Header.Get("Authorization")
			if tt.tokenMethod == "header" {
				if auth != "Bearer "+userToken {
					t.Errorf("Authorization = %q, want Bearer token", auth)
				}
				if params.Has("access_token") || other.Has("access_token") {
					t.Errorf("access_token parameter sent with header method")
				}
			} else {
				if auth != "" {
					t.Errorf("Authorization = %q, want none with userdata_token_method url", auth)
				}
				if got := params.Get("access_token"); got != userToken {
					t.Errorf("access_token = %q, want the token", got)
				}
				if other.Has("access_token") {
					t.Errorf("access_token sent in the wrong place too")
				}
			}
		})
	}
}

// With userdata_token_method url the token is in the URL; no error may repeat it.
func TestGenericUserdataTokenNotInErrors(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
		timeout time.Duration
	}{
		{name: "unreachable"},
		{name: "timeout", handler: hang, timeout: 200 * time.Millisecond},
		{name: "500", handler: reply(500, `oops`)},
		{name: "404", handler: reply(404, `{}`)},
		{name: "bad JSON", handler: reply(200, `{"username":`)},
		{name: "no username", handler: reply(200, `{"login":"alice"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			o := p.options()
			if tt.handler == nil {
				o.UserdataURL = "http://" + closedAddr(t) + "/userdata"
			} else {
				p.handle("/userdata", tt.handler)
			}
			if tt.timeout > 0 {
				o.Timeout = tt.timeout
			}
			o.UserdataTokenMethod = "url"
			start := time.Now()
			_, err := provider.NewGeneric(o).Lookup(context.Background(), userToken)
			checkKind(t, err, kindUnavailable)
			if strings.Contains(err.Error(), userToken) || strings.Contains(err.Error(), url.QueryEscape(userToken)) {
				t.Errorf("error %q contains the token", err)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("Lookup took %v", time.Since(start))
			}
		})
	}
}

func TestGenericUserdataMapping(t *testing.T) {
	tests := []struct {
		name                       string
		body                       string
		user, groups, email, admin string // keys
		want                       provider.User
	}{
		{
			name: "flat", body: `{"username":"alice","email":"alice@example.org","groups":["staff","physics"],"is_admin":true}`,
			user: "username", groups: "groups", email: "email", admin: "is_admin",
			want: provider.User{Name: "alice", Email: "alice@example.org", Groups: []string{"staff", "physics"}, Admin: true},
		},
		{
			name: "dotted keys", body: `{"user":{"login":"bob"},"profile":{"groups":["g1","g2"],"mail":"bob@example.org","flags":{"admin":false}}}`,
			user: "user.login", groups: "profile.groups", email: "profile.mail", admin: "profile.flags.admin",
			want: provider.User{Name: "bob", Email: "bob@example.org", Groups: []string{"g1", "g2"}},
		},
		{
			name: "groups as objects", body: `{"username":"carol","groups":[{"name":"staff","id":1},{"id":2},{"name":7},"plain"]}`,
			user: "username", groups: "groups",
			want: provider.User{Name: "carol", Groups: []string{"staff", "plain"}},
		},
		{
			name: "group as single string", body: `{"username":"dave","groups":"staff"}`,
			user: "username", groups: "groups",
			want: provider.User{Name: "dave", Groups: []string{"staff"}},
		},
		{
			name: "groups of numbers ignored", body: `{"username":"erin","groups":[1,2]}`,
			user: "username", groups: "groups",
			want: provider.User{Name: "erin"},
		},
		{
			name: "groups missing", body: `{"username":"erin"}`,
			user: "username", groups: "groups",
			want: provider.User{Name: "erin"},
		},
		{
			name: "groups present but no groups_key", body: `{"username":"erin","groups":["staff"],"email":"e@x.org","admin":true}`,
			user: "username",
			want: provider.User{Name: "erin"},
		},
		{
			name: "dotted groups path through a non-object", body: `{"username":"erin","profile":"none"}`,
			user: "username", groups: "profile.groups",
			want: provider.User{Name: "erin"},
		},
		{name: "admin string true", body: `{"username":"a","admin":"true"}`, user: "username", admin: "admin", want: provider.User{Name: "a", Admin: true}},
		{name: "admin string True", body: `{"username":"a","admin":"True"}`, user: "username", admin: "admin", want: provider.User{Name: "a", Admin: true}},
		{name: "admin 1", body: `{"username":"a","admin":1}`, user: "username", admin: "admin", want: provider.User{Name: "a", Admin: true}},
		{name: "admin 0", body: `{"username":"a","admin":0}`, user: "username", admin: "admin", want: provider.User{Name: "a"}},
		{name: "admin string false", body: `{"username":"a","admin":"false"}`, user: "username", admin: "admin", want: provider.User{Name: "a"}},
		{name: "admin string other", body: `{"username":"a","admin":"no"}`, user: "username", admin: "admin", want: provider.User{Name: "a"}},
		{name: "admin null", body: `{"username":"a","admin":null}`, user: "username", admin: "admin", want: provider.User{Name: "a"}},
		{name: "admin list", body: `{"username":"a","admin":["x"]}`, user: "username", admin: "admin", want: provider.User{Name: "a"}},
		{name: "email not a string", body: `{"username":"a","email":{"x":1}}`, user: "username", email: "email", want: provider.User{Name: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/userdata", reply(200, tt.body))
			o := p.options()
			o.UsernameKey, o.GroupsKey, o.EmailKey, o.AdminKey = tt.user, tt.groups, tt.email, tt.admin
			u, err := provider.NewGeneric(o).Lookup(context.Background(), userToken)
			if err != nil {
				t.Fatal(err)
			}
			if u.Name != tt.want.Name || u.Email != tt.want.Email || u.Admin != tt.want.Admin || !sameStrings(u.Groups, tt.want.Groups) {
				t.Errorf("user = %+v, want %+v", *u, tt.want)
			}
			if u.Kind != "user" {
				t.Errorf("Kind = %q, want user", u.Kind)
			}
			if u.Denied != "" || len(u.Scopes) != 0 {
				t.Errorf("Denied %q, Scopes %q: want neither", u.Denied, u.Scopes)
			}
		})
	}
}

func TestGenericUserdataErrors(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		handler http.HandlerFunc
		want    errKind
		mention string
	}{
		{name: "no username field", key: "username", handler: reply(200, `{"email":"a@example.org"}`), want: kindUnavailable, mention: `"username"`},
		{name: "username not a string", key: "username", handler: reply(200, `{"username":42}`), want: kindUnavailable},
		{name: "empty username", key: "username", handler: reply(200, `{"username":""}`), want: kindUnavailable},
		{name: "dotted key missing", key: "user.login", handler: reply(200, `{"user":"alice"}`), want: kindUnavailable, mention: "user.login"},
		{name: "null body", key: "username", handler: reply(200, `null`), want: kindUnavailable},
		{name: "401", key: "username", handler: reply(401, `{"detail":"Authentication credentials were not provided."}`), want: kindInvalid},
		{name: "DOT 403 empty body", key: "username", handler: reply(403, ``), want: kindInvalid},
		{name: "500", key: "username", handler: reply(500, `{"error":"boom"}`), want: kindUnavailable, mention: "500"},
		{name: "502 html", key: "username", handler: reply(502, `<html>bad gateway</html>`), want: kindUnavailable},
		{name: "404", key: "username", handler: reply(404, `not found`), want: kindUnavailable},
		{name: "bad JSON", key: "username", handler: reply(200, `{"username": "alice"`), want: kindUnavailable},
		{name: "HTML with 200", key: "username", handler: reply(200, `<html>login page</html>`), want: kindUnavailable},
		{name: "JSON array", key: "username", handler: reply(200, `["alice"]`), want: kindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/userdata", tt.handler)
			o := p.options()
			o.UsernameKey = tt.key
			u, err := provider.NewGeneric(o).Lookup(context.Background(), userToken)
			if u != nil {
				t.Errorf("user %+v with an error", *u)
			}
			checkKind(t, err, tt.want)
			if tt.mention != "" && !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %s", err, tt.mention)
			}
			if strings.Contains(err.Error(), userToken) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestGenericLookupUnreachable(t *testing.T) {
	p := newFakeIDP(t)
	o := p.options()
	o.UserdataURL = "http://" + closedAddr(t) + "/userdata"
	_, err := provider.NewGeneric(o).Lookup(context.Background(), userToken)
	checkKind(t, err, kindUnavailable)
}

// introspectOptions is a django provider without userdata_url: identity from DOT's
// introspection endpoint.
func introspectOptions(p *fakeIDP) provider.GenericOptions {
	o := p.options()
	o.UserdataURL = ""
	o.IntrospectURL = p.srv.URL + "/o/introspect/"
	return o
}

func TestIntrospectionRequest(t *testing.T) {
	const secret = "s3cr+t/=&%x" // must survive Basic's URL-encoding (RFC 6749 2.3.1)
	tests := []struct {
		clientAuth provider.ClientAuth
		basic      bool
	}{
		{"", true},
		{"auto", true},
		{"header", true},
		{"params", false},
	}
	for _, tt := range tests {
		t.Run("client_auth="+string(tt.clientAuth), func(t *testing.T) {
			p := newFakeIDP(t)
			exp := time.Now().Add(time.Hour).Unix()
			p.handle("/o/introspect/", reply(200, `{"active":true,"username":"alice","scope":"read write","exp":`+strconv.FormatInt(exp, 10)+`,"client_id":"hubgate-client"}`))
			o := introspectOptions(p)
			o.ClientAuth = tt.clientAuth
			o.ClientID = "hub gate"
			o.ClientSecret = secret
			if _, err := provider.NewGeneric(o).Lookup(context.Background(), userToken); err != nil {
				t.Fatal(err)
			}
			r := p.one(t, "/o/introspect/")
			if r.Method != http.MethodPost {
				t.Errorf("method %s, want POST", r.Method)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := r.Form["token"]; len(got) != 1 || got[0] != userToken {
				t.Errorf("form token = %q, want the user's token", got)
			}
			if len(r.Query) != 0 {
				t.Errorf("introspection URL carries a query %q", r.Query)
			}
			hr := &http.Request{Header: r.Header}
			id, pass, ok := hr.BasicAuth()
			if tt.basic {
				if !ok {
					t.Fatalf("no Basic auth (Authorization %q)", r.Header.Get("Authorization"))
				}
				// DOT URL-decodes id and secret after base64.
				if uid, _ := url.QueryUnescape(id); uid != o.ClientID {
					t.Errorf("Basic id = %q (decoded %q), want %q", id, uid, o.ClientID)
				}
				if upass, _ := url.QueryUnescape(pass); upass != secret {
					t.Errorf("Basic secret = %q (decoded %q), want %q", pass, upass, secret)
				}
				if r.Form.Has("client_secret") || r.Form.Has("client_id") {
					t.Errorf("client credentials also in the form: %q", r.Body)
				}
			} else {
				if a := r.Header.Get("Authorization"); a != "" {
					t.Errorf("Authorization = %q, want none with client_auth params", a)
				}
				if r.Form.Get("client_id") != o.ClientID || r.Form.Get("client_secret") != secret {
					t.Errorf("form client_id/client_secret = %q/%q", r.Form.Get("client_id"), r.Form.Get("client_secret"))
				}
			}
		})
	}
}

func TestIntrospectionAnswers(t *testing.T) {
	future := strconv.FormatInt(time.Now().Add(10*time.Hour).Unix(), 10)
	past := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		want       errKind
		wantScopes []string
	}{
		{name: "active", handler: reply(200, `{"active":true,"username":"alice","scope":"read write","exp":`+future+`,"client_id":"c"}`), wantScopes: []string{"read", "write"}},
		{name: "active without exp", handler: reply(200, `{"active":true,"username":"alice","scope":"read"}`), wantScopes: []string{"read"}},
		{name: "active without scope", handler: reply(200, `{"active":true,"username":"alice","exp":`+future+`}`)},
		{name: "inactive", handler: reply(200, `{"active":false}`), want: kindInvalid},
		{name: "inactive with a username", handler: reply(200, `{"active":false,"username":"alice","exp":`+future+`}`), want: kindInvalid},
		{name: "expired", handler: reply(200, `{"active":true,"username":"alice","scope":"read","exp":`+past+`}`), want: kindInvalid},
		{name: "no active field", handler: reply(200, `{"username":"alice"}`), want: kindInvalid},
		{name: "endpoint refuses hubgate 401", handler: reply(401, `{"error":"invalid_client"}`), want: kindUnavailable},
		{name: "endpoint refuses hubgate 403", handler: reply(403, ``), want: kindUnavailable},
		{name: "500", handler: reply(500, `{}`), want: kindUnavailable},
		{name: "bad JSON", handler: reply(200, `{"active":tru`), want: kindUnavailable},
		{name: "active without username", handler: reply(200, `{"active":true,"scope":"read","exp":`+future+`}`), want: kindInvalid}, // client credentials: no user
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/o/introspect/", tt.handler)
			u, err := provider.NewGeneric(introspectOptions(p)).Lookup(context.Background(), userToken)
			checkKind(t, err, tt.want)
			if tt.want != kindOK {
				if u != nil {
					t.Errorf("user %+v with an error", *u)
				}
				return
			}
			if u.Name != "alice" || u.Kind != "user" || u.Denied != "" {
				t.Errorf("user = %+v, want alice", *u)
			}
			if !sameStrings(u.Scopes, tt.wantScopes) {
				t.Errorf("Scopes = %q, want %q", u.Scopes, tt.wantScopes)
			}
			if len(u.Groups) != 0 {
				t.Errorf("Groups = %q from introspection", u.Groups)
			}
		})
	}
}

func TestIntrospectionUnreachable(t *testing.T) {
	p := newFakeIDP(t)
	o := introspectOptions(p)
	o.IntrospectURL = "http://" + closedAddr(t) + "/o/introspect/"
	_, err := provider.NewGeneric(o).Lookup(context.Background(), userToken)
	checkKind(t, err, kindUnavailable)
}

const verifier = "verifier-0123456789012345678901234567890123456789"

func TestGenericAuthCodeURL(t *testing.T) {
	p := newFakeIDP(t)
	o := p.options()
	o.Scopes = []string{"read", "write"}
	o.ExtraAuthorizeParams = map[string]string{"approval_prompt": "auto", "access_type": "offline"}
	o.TokenParams = map[string]string{"audience": "token-only"}
	raw := provider.NewGeneric(o).AuthCodeURL("state-123", verifier)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != o.AuthorizeURL {
		t.Errorf("authorize endpoint %q, want %q", got, o.AuthorizeURL)
	}
	sum := sha256.Sum256([]byte(verifier))
	q := u.Query()
	want := map[string]string{
		"response_type":         "code",
		"client_id":             "hubgate-client",
		"redirect_uri":          o.RedirectURL,
		"state":                 "state-123",
		"scope":                 "read write",
		"code_challenge":        base64.RawURLEncoding.EncodeToString(sum[:]),
		"code_challenge_method": "S256",
		"approval_prompt":       "auto",
		"access_type":           "offline",
	}
	for k, v := range want {
		if got := q[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"code_verifier", "client_secret", "audience"} {
		if q.Has(k) {
			t.Errorf("authorize URL carries %s: %s", k, raw)
		}
	}
	if strings.Contains(raw, verifier) || strings.Contains(raw, o.ClientSecret) {
		t.Errorf("authorize URL leaks the verifier or the secret: %s", raw)
	}
}

// tokenReply answers a token request like DOT.
func tokenReply(access, refresh string) http.HandlerFunc {
	body := `{"access_token":"` + access + `","token_type":"Bearer","expires_in":36000,"scope":"read write"`
	if refresh != "" {
		body += `,"refresh_token":"` + refresh + `"`
	}
	return reply(200, body+"}")
}

// checkClientAuth checks how a token request authenticated the client.
func checkClientAuth(t *testing.T, r idpRequest, o provider.GenericOptions, header bool) {
	t.Helper()
	id, secret, ok := (&http.Request{Header: r.Header}).BasicAuth()
	if header {
		if !ok || id != url.QueryEscape(o.ClientID) || secret != url.QueryEscape(o.ClientSecret) {
			t.Errorf("Basic auth = %q/%q (%v), want the client's (Authorization %q)", id, secret, ok, r.Header.Get("Authorization"))
		}
		if r.Form.Has("client_secret") {
			t.Errorf("client_secret in the body with client_auth header: %q", r.Body)
		}
		return
	}
	if a := r.Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization = %q, want none with client_auth params", a)
	}
	if r.Form.Get("client_id") != o.ClientID || r.Form.Get("client_secret") != o.ClientSecret {
		t.Errorf("body client_id/client_secret = %q/%q, want the client's", r.Form.Get("client_id"), r.Form.Get("client_secret"))
	}
}

func TestGenericExchange(t *testing.T) {
	tests := []struct {
		clientAuth provider.ClientAuth
		header     bool
	}{
		{"header", true},
		{"params", false},
		{"auto", true}, // Basic first; it works, so no second try
	}
	for _, tt := range tests {
		t.Run(string(tt.clientAuth), func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/o/token/", tokenReply("access-1", "refresh-1"))
			o := p.options()
			o.ClientAuth = tt.clientAuth
			o.TokenParams = map[string]string{"audience": "hub", "resource": "https://app.example.org"}
			o.ExtraAuthorizeParams = map[string]string{"access_type": "offline"}
			start := time.Now()
			tok, err := provider.NewGeneric(o).Exchange(context.Background(), "the-code", verifier)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken != "access-1" || tok.RefreshToken != "refresh-1" {
				t.Errorf("token = %q/%q", tok.AccessToken, tok.RefreshToken)
			}
			if d := tok.Expiry.Sub(start); d < 35990*time.Second || d > 36010*time.Second {
				t.Errorf("expiry in %v, want 10h", d)
			}
			r := p.one(t, "/o/token/")
			if r.Method != http.MethodPost {
				t.Errorf("method %s", r.Method)
			}
			if a := r.Header.Get("Accept"); a != "application/json" {
				t.Errorf("Accept = %q, want application/json", a)
			}
			if o := r.Header.Get("Origin"); o != "" {
				t.Errorf("Origin = %q, want none", o)
			}
			want := map[string]string{
				"grant_type":    "authorization_code",
				"code":          "the-code",
				"redirect_uri":  o.RedirectURL,
				"code_verifier": verifier,
				"audience":      "hub",
				"resource":      "https://app.example.org",
			}
			for k, v := range want {
				if got := r.Form[k]; len(got) != 1 || got[0] != v {
					t.Errorf("form %s = %q, want %q", k, got, v)
				}
			}
			if r.Form.Has("access_type") {
				t.Errorf("authorize-only parameter in the token request: %q", r.Body)
			}
			checkClientAuth(t, r, o, tt.header)
		})
	}
}

func TestGenericExchangeErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: unreachable
		want    errKind
		mention string
	}{
		{name: "GitHub error with HTTP 200", handler: reply(200, `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/troubleshooting"}`), want: kindInvalid, mention: "bad_verification_code"},
		{name: "GitHub error with HTTP 200 form-encoded", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
			io.WriteString(w, "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.")
		}, want: kindInvalid, mention: "bad_verification_code"},
		{name: "invalid_grant", handler: reply(400, `{"error":"invalid_grant"}`), want: kindInvalid, mention: "invalid_grant"},
		{name: "400 without a code", handler: reply(400, `<html>bad request</html>`), want: kindInvalid},
		{name: "invalid_client", handler: reply(401, `{"error":"invalid_client"}`), want: kindUnavailable, mention: "invalid_client"},
		{name: "unauthorized_client", handler: reply(400, `{"error":"unauthorized_client"}`), want: kindUnavailable},
		{name: "GitHub incorrect_client_credentials with HTTP 200", handler: reply(200, `{"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."}`), want: kindUnavailable, mention: "incorrect_client_credentials"},
		{name: "server_error", handler: reply(500, `{"error":"server_error"}`), want: kindUnavailable},
		{name: "temporarily_unavailable", handler: reply(503, `{"error":"temporarily_unavailable"}`), want: kindUnavailable},
		{name: "500 html", handler: reply(500, `<html>oops</html>`), want: kindUnavailable},
		{name: "no access_token", handler: reply(200, `{"token_type":"Bearer"}`), want: kindUnavailable},
		{name: "unreachable", want: kindUnavailable},
	}
	for _, tt := range tests {
		for _, clientAuth := range []provider.ClientAuth{"params", "auto"} {
			t.Run(tt.name+"/"+string(clientAuth), func(t *testing.T) {
				p := newFakeIDP(t)
				o := p.options()
				o.ClientAuth = clientAuth
				if tt.handler == nil {
					o.TokenURL = "http://" + closedAddr(t) + "/o/token/"
				} else {
					p.handle("/o/token/", tt.handler)
				}
				tok, err := provider.NewGeneric(o).Exchange(context.Background(), "the-code", verifier)
				if tok != nil {
					t.Errorf("token %+v with an error", tok)
				}
				checkKind(t, err, tt.want)
				if tt.mention != "" && !strings.Contains(err.Error(), tt.mention) {
					t.Errorf("error %q does not mention %q", err, tt.mention)
				}
				if strings.Contains(err.Error(), o.ClientSecret) {
					t.Errorf("error %q contains the client secret", err)
				}
			})
		}
	}
}

func TestGenericRefresh(t *testing.T) {
	tests := []struct {
		name        string
		clientAuth  provider.ClientAuth
		header      bool
		newRefresh  string // what the provider sends back
		wantRefresh string
	}{
		{name: "header, rotated", clientAuth: "header", header: true, newRefresh: "refresh-2", wantRefresh: "refresh-2"},
		{name: "params, rotated", clientAuth: "params", newRefresh: "refresh-2", wantRefresh: "refresh-2"},
		{name: "header, not rotated", clientAuth: "header", header: true, wantRefresh: "refresh-1"},
		{name: "params, not rotated", clientAuth: "params", wantRefresh: "refresh-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/o/token/", tokenReply("access-2", tt.newRefresh))
			o := p.options()
			o.ClientAuth = tt.clientAuth
			tok, err := provider.NewGeneric(o).Refresh(context.Background(), "refresh-1")
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken != "access-2" {
				t.Errorf("AccessToken = %q, want access-2", tok.AccessToken)
			}
			if tok.RefreshToken != tt.wantRefresh {
				t.Errorf("RefreshToken = %q, want %q", tok.RefreshToken, tt.wantRefresh)
			}
			if tok.Expiry.IsZero() {
				t.Error("no expiry from expires_in")
			}
			r := p.one(t, "/o/token/")
			if r.Method != http.MethodPost || r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != "refresh-1" {
				t.Errorf("refresh request %s %q", r.Method, r.Body)
			}
			if a := r.Header.Get("Accept"); a != "application/json" {
				t.Errorf("Accept = %q, want application/json", a)
			}
			checkClientAuth(t, r, o, tt.header)
		})
	}
}

func TestGenericRefreshErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    errKind
	}{
		{name: "revoked: invalid_grant", handler: reply(400, `{"error":"invalid_grant","error_description":"Invalid refresh token"}`), want: kindInvalid},
		{name: "error with HTTP 200", handler: reply(200, `{"error":"bad_refresh_token"}`), want: kindInvalid},
		{name: "invalid_client", handler: reply(401, `{"error":"invalid_client"}`), want: kindUnavailable},
		{name: "500", handler: reply(500, ``), want: kindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			p.handle("/o/token/", tt.handler)
			o := p.options()
			o.ClientAuth = "params"
			tok, err := provider.NewGeneric(o).Refresh(context.Background(), "refresh-1")
			if tok != nil {
				t.Errorf("token %+v with an error", tok)
			}
			checkKind(t, err, tt.want)
		})
	}
}

func TestGenericReady(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: unreachable
		ok      bool
	}{
		{name: "405 from the token endpoint", handler: reply(405, `{}`), ok: true},
		{name: "200", handler: reply(200, `{}`), ok: true},
		{name: "503", handler: reply(503, `down`)},
		{name: "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeIDP(t)
			o := p.options()
			if tt.handler == nil {
				o.TokenURL = "http://" + closedAddr(t) + "/o/token/"
			} else {
				p.handle("/o/token/", tt.handler)
			}
			err := provider.NewGeneric(o).Ready(context.Background())
			if (err == nil) != tt.ok {
				t.Errorf("Ready = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
