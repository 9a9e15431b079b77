package session_test

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/session"
)

const (
	secretOld = "old-secret-0123456789abcdef0123456789"
	secretNew = "new-secret-0123456789abcdef0123456789"
)

var site = &url.URL{Scheme: "http", Host: "gate.example.org", Path: "/svc/"}

func newStore(t *testing.T, secrets ...string) *session.Store {
	t.Helper()
	s, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/svc/", Secrets: secrets, Expire: time.Hour, Secure: overTLS})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// saved returns the cookies a recorder was told to set.
func saved(rec *httptest.ResponseRecorder) []*http.Cookie { return rec.Result().Cookies() }

func onlyCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	cs := saved(rec)
	if len(cs) != 1 {
		t.Fatalf("Set-Cookie: got %d cookies, want 1: %q", len(cs), rec.Header()["Set-Cookie"])
	}
	return cs[0]
}

// overTLS is the test stores' Secure: a request that came over TLS (secureRequest).
func overTLS(r *http.Request) bool { return r != nil && r.TLS != nil }

// secureRequest is request as if it came over TLS.
func secureRequest(cookies ...*http.Cookie) *http.Request {
	r := request(cookies...)
	r.TLS = &tls.ConnectionState{}
	return r
}

func request(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, site.String(), nil)
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

// load is Store.Load for a store that must answer: a cookie's fate is ok or not,
// never an error.
func load(t *testing.T, s *session.Store, r *http.Request) (session.Session, bool) {
	t.Helper()
	sess, ok, err := s.Load(r)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return sess, ok
}

func fresh() session.Session {
	return session.Session{AccessToken: "hub-token-abc123", Expires: time.Now().Add(time.Hour).Unix()}
}

func TestNewStoreNeedsSecret(t *testing.T) {
	if _, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/"}); err == nil {
		t.Fatal("NewStore without secrets succeeded")
	}
}

func TestRoundTrip(t *testing.T) {
	s := newStore(t, secretNew)
	in := fresh()
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, in); err != nil {
		t.Fatal(err)
	}
	c := onlyCookie(t, rec)
	out, ok := load(t, s, request(c))
	if !ok {
		t.Fatal("Load: no session")
	}
	if out != in {
		t.Errorf("Load = %+v, want %+v", out, in)
	}
}

func TestNoCookie(t *testing.T) {
	s := newStore(t, secretNew)
	if _, ok := load(t, s, request()); ok {
		t.Error("session without a cookie")
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := newStore(t, secretNew)
		rec := httptest.NewRecorder()
		r := request()
		if secure {
			r = secureRequest()
		}
		if err := s.Save(t.Context(), rec, r, fresh()); err != nil {
			t.Fatal(err)
		}
		c := onlyCookie(t, rec)
		if c.Name != "_hubgate" {
			t.Errorf("Name = %q", c.Name)
		}
		if !c.HttpOnly {
			t.Error("not HttpOnly")
		}
		if c.SameSite != http.SameSiteLaxMode {
			t.Errorf("SameSite = %v, want Lax", c.SameSite)
		}
		if c.Path != "/svc/" {
			t.Errorf("Path = %q", c.Path)
		}
		if c.Secure != secure {
			t.Errorf("Secure = %v, want %v", c.Secure, secure)
		}
		// Expires is whole seconds, so Max-Age is the hour minus at most a couple of seconds.
		if c.MaxAge > 3600 || c.MaxAge < 3600-5 {
			t.Errorf("Max-Age = %d, want about 3600", c.MaxAge)
		}
		if c.Domain != "" {
			t.Errorf("Domain = %q, want host-only", c.Domain)
		}
	}
}

func TestMaxAgeFollowsSessionExpiry(t *testing.T) {
	s := newStore(t, secretNew)
	rec := httptest.NewRecorder()
	sess := session.Session{AccessToken: "t", Expires: time.Now().Add(10 * time.Minute).Unix()}
	if err := s.Save(t.Context(), rec, nil, sess); err != nil {
		t.Fatal(err)
	}
	if c := onlyCookie(t, rec); c.MaxAge > 600 || c.MaxAge < 600-5 {
		t.Errorf("Max-Age = %d, want about 600", c.MaxAge)
	}
}

func TestValueIsEncrypted(t *testing.T) {
	s := newStore(t, secretNew)
	rec := httptest.NewRecorder()
	sess := session.Session{AccessToken: "very-secret-hub-token", Expires: time.Now().Add(time.Hour).Unix()}
	if err := s.Save(t.Context(), rec, nil, sess); err != nil {
		t.Fatal(err)
	}
	value := onlyCookie(t, rec).Value
	raw, err := base64.URLEncoding.DecodeString(value)
	if err != nil {
		t.Fatalf("cookie value is not base64url: %v", err)
	}
	// securecookie: base64(name|date|base64(value)|mac); decode the inner value too.
	parts := strings.Split(string(raw), "|")
	for _, text := range append(parts, value, string(raw)) {
		if strings.Contains(text, "very-secret-hub-token") {
			t.Fatalf("token readable in the cookie: %q", text)
		}
		if inner, err := base64.URLEncoding.DecodeString(text); err == nil && strings.Contains(string(inner), "very-secret") {
			t.Fatalf("token readable in the cookie: %q", inner)
		}
	}
}

func TestTamperedCookie(t *testing.T) {
	s := newStore(t, secretNew)
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, fresh()); err != nil {
		t.Fatal(err)
	}
	good := onlyCookie(t, rec).Value
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := map[string]string{
		"flipped first byte":  flip(0),
		"flipped middle byte": flip(len(good) / 2),
		"flipped last byte":   flip(len(good) - 2),
		"truncated":           good[:len(good)-5],
		"half":                good[:len(good)/2],
		"empty":               "",
		"garbage":             "!!!not-a-cookie$$$",
		"base64 garbage":      base64.URLEncoding.EncodeToString([]byte("1|2|3")),
		"doubled":             good + good,
		"pipes":               "a|b|c|d",
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, site.String(), nil)
			r.Header.Set("Cookie", "_hubgate="+value)
			if sess, ok := load(t, s, r); ok {
				t.Errorf("tampered cookie accepted: %+v", sess)
			}
		})
	}
}

func TestOtherSecret(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := newStore(t, secretOld).Save(t.Context(), rec, nil, fresh()); err != nil {
		t.Fatal(err)
	}
	if _, ok := load(t, newStore(t, secretNew), request(onlyCookie(t, rec))); ok {
		t.Error("cookie made with another secret accepted")
	}
}

func TestOtherCookieName(t *testing.T) {
	// The name is part of the MAC: a value moved to another store's name fails.
	rec := httptest.NewRecorder()
	if err := newStore(t, secretNew).Save(t.Context(), rec, nil, fresh()); err != nil {
		t.Fatal(err)
	}
	other, err := session.NewStore(session.Options{Name: "_other", Path: "/", Secrets: []string{secretNew}, Expire: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := request(&http.Cookie{Name: "_other", Value: onlyCookie(t, rec).Value})
	if _, ok := load(t, other, r); ok {
		t.Error("session cookie accepted under another name")
	}
}

func TestSecretRotation(t *testing.T) {
	in := fresh()
	rec := httptest.NewRecorder()
	if err := newStore(t, secretOld).Save(t.Context(), rec, nil, in); err != nil {
		t.Fatal(err)
	}
	oldCookie := onlyCookie(t, rec)

	rotated := newStore(t, secretNew, secretOld)
	out, ok := load(t, rotated, request(oldCookie))
	if !ok || out != in {
		t.Fatalf("rotated store read old cookie: %+v, %v", out, ok)
	}

	// New cookies are signed with the first secret only.
	rec = httptest.NewRecorder()
	if err := rotated.Save(t.Context(), rec, nil, in); err != nil {
		t.Fatal(err)
	}
	newCookie := onlyCookie(t, rec)
	if _, ok := load(t, newStore(t, secretNew), request(newCookie)); !ok {
		t.Error("cookie from the rotated store is not readable with the new secret")
	}
	if _, ok := load(t, newStore(t, secretOld), request(newCookie)); ok {
		t.Error("cookie from the rotated store was signed with the old secret")
	}
}

func TestExpiredOrEmptySession(t *testing.T) {
	tests := map[string]session.Session{
		"expired":     {AccessToken: "t", Expires: time.Now().Add(-time.Minute).Unix()},
		"expires now": {AccessToken: "t", Expires: time.Now().Unix()},
		"zero":        {AccessToken: "t"},
		"no token":    {Expires: time.Now().Add(time.Hour).Unix()},
	}
	s := newStore(t, secretNew)
	for name, sess := range tests {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := s.Save(t.Context(), rec, nil, sess); err != nil {
				t.Fatal(err)
			}
			c := onlyCookie(t, rec)
			if got, ok := load(t, s, request(c)); ok {
				t.Errorf("Load = %+v, want no session", got)
			}
		})
	}
}

func TestExpiredCookieDeletes(t *testing.T) {
	s := newStore(t, secretNew)
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, session.Session{AccessToken: "t", Expires: time.Now().Add(-time.Minute).Unix()}); err != nil {
		t.Fatal(err)
	}
	if c := onlyCookie(t, rec); c.MaxAge >= 0 {
		t.Errorf("Max-Age = %d for an expired session, want < 0", c.MaxAge)
	}
}

func TestCodecMaxAge(t *testing.T) {
	t.Parallel() // sleeps two seconds: the codec counts whole seconds
	// A cookie older than the store's Expire is refused even if the session claims
	// a later expiry (the securecookie timestamp bounds it).
	s, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/", Secrets: []string{secretNew}, Expire: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, fresh()); err != nil {
		t.Fatal(err)
	}
	c := onlyCookie(t, rec)
	if _, ok := load(t, s, request(c)); !ok {
		t.Fatal("fresh cookie refused")
	}
	time.Sleep(2100 * time.Millisecond)
	if _, ok := load(t, s, request(c)); ok {
		t.Error("cookie older than Expire accepted")
	}
}

func TestStart(t *testing.T) {
	s := newStore(t, secretNew) // Expire: 1h
	now := time.Now()
	tests := []struct {
		name   string
		expiry time.Time
		want   time.Time
	}{
		{"no expiry", time.Time{}, now.Add(time.Hour)},
		{"token ends first", now.Add(10 * time.Minute), now.Add(10 * time.Minute)},
		{"session ends first", now.Add(14 * 24 * time.Hour), now.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := s.Start(&oauth2.Token{AccessToken: "tok", Expiry: tt.expiry})
			if sess.AccessToken != "tok" {
				t.Errorf("AccessToken = %q", sess.AccessToken)
			}
			if d := sess.Expires - tt.want.Unix(); d < -1 || d > 2 {
				t.Errorf("Expires = %v, want %v", time.Unix(sess.Expires, 0), tt.want)
			}
		})
	}
}

func TestClear(t *testing.T) {
	s := newStore(t, secretNew)
	rec := httptest.NewRecorder()
	if err := s.Clear(t.Context(), rec, secureRequest()); err != nil {
		t.Fatal(err)
	}
	c := onlyCookie(t, rec)
	if c.Name != "_hubgate" || c.MaxAge >= 0 || c.Value != "" || c.Path != "/svc/" || !c.Secure || !c.HttpOnly {
		t.Errorf("Clear cookie = %+v", c)
	}
}

func TestOwns(t *testing.T) {
	s := newStore(t, secretNew)
	tests := map[string]bool{
		"_hubgate":               true,
		"_hubgate_login_x":       true,
		"_hubgate_login_0123abc": true,
		"_hubgatex":              false,
		"_hubgat":                false,
		"other":                  false,
		"":                       false,
		"x_hubgate":              false,
		"_HUBGATE":               false,
		"jupyterhub-session-id":  false,
	}
	for name, want := range tests {
		if got := s.Owns(name); got != want {
			t.Errorf("Owns(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNewLogin(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		l := session.NewLogin("/next")
		if len(l.State) < 43 {
			t.Fatalf("state %q is %d chars, want >= 43", l.State, len(l.State))
		}
		if len(l.Verifier) < 43 || len(l.Verifier) > 128 {
			t.Fatalf("verifier %q is %d chars, want 43-128", l.Verifier, len(l.Verifier))
		}
		if l.Redirect != "/next" {
			t.Fatalf("Redirect = %q", l.Redirect)
		}
		if seen[l.State] || seen[l.Verifier] {
			t.Fatalf("repeated state or verifier at %d", i)
		}
		seen[l.State], seen[l.Verifier] = true, true
	}
}

// browser is a cookie jar standing in for the browser: it applies Set-Cookie,
// including deletions, and sends what it holds.
type browser struct{ jar *cookiejar.Jar }

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{jar}
}

func (b *browser) take(rec *httptest.ResponseRecorder) { b.jar.SetCookies(site, saved(rec)) }
func (b *browser) request() *http.Request              { return request(b.jar.Cookies(site)...) }

func saveLogin(t *testing.T, s *session.Store, b *browser, l session.Login) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := s.SaveLogin(rec, b.request(), l); err != nil {
		t.Fatal(err)
	}
	b.take(rec)
	return newCookie(t, rec)
}

// newCookie returns the one cookie a recorder was told to set, not counting deletions.
func newCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	var set []*http.Cookie
	for _, c := range saved(rec) {
		if c.MaxAge >= 0 {
			set = append(set, c)
		}
	}
	if len(set) != 1 {
		t.Fatalf("Set-Cookie: got %d new cookies, want 1: %q", len(set), rec.Header()["Set-Cookie"])
	}
	return set[0]
}

// loginCookieNames returns the login cookies the browser holds, in the order it sends them.
func (b *browser) loginCookieNames() []string {
	var names []string
	for _, c := range b.jar.Cookies(site) {
		if strings.HasPrefix(c.Name, "_hubgate_login_") {
			names = append(names, c.Name)
		}
	}
	return names
}

// TestLoginsCapped: a browser holds at most three logins in progress; each new one
// past that expires the oldest, whose callback then finds no login.
func TestLoginsCapped(t *testing.T) {
	s := newStore(t, secretNew)
	b := newBrowser(t)
	var logins []session.Login
	for i := range 6 {
		l := session.NewLogin(fmt.Sprintf("/svc/%d", i))
		rec := httptest.NewRecorder()
		if err := s.SaveLogin(rec, b.request(), l); err != nil {
			t.Fatal(err)
		}
		for _, c := range saved(rec) {
			if c.MaxAge < 0 && (c.Path != "/svc/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode) {
				t.Errorf("deletion cookie %+v: want the login cookie's path and flags", c)
			}
		}
		b.take(rec)
		logins = append(logins, l)
		if n := len(b.loginCookieNames()); n > 3 || n != min(i+1, 3) {
			t.Fatalf("after %d logins the browser holds %d login cookies, want %d", i+1, n, min(i+1, 3))
		}
	}
	for i, l := range logins {
		got, err := s.TakeLogin(httptest.NewRecorder(), b.request(), l.State)
		if i < 3 {
			if !errors.Is(err, session.ErrNoLogin) {
				t.Errorf("login %d of 6 was kept: %+v, %v; want it dropped", i, got, err)
			}
		} else if err != nil || got != l {
			t.Errorf("login %d of 6: %+v, %v; want it kept", i, got, err)
		}
	}
}

// TestLoginsDropFirstStarted: securecookie's timestamps tie within a second, so the
// order comes from Login.Started, and from the browser's order when that ties too.
func TestLoginsDropFirstStarted(t *testing.T) {
	s := newStore(t, secretNew)
	t.Run("same second", func(t *testing.T) {
		for try := 0; ; try++ {
			b := newBrowser(t)
			second := time.Now().Unix()
			var first session.Login
			for i := range 4 {
				l := session.NewLogin("/")
				if i == 0 {
					first = l
				}
				saveLogin(t, s, b, l)
			}
			if time.Now().Unix() != second && try < 5 {
				continue // crossed a second: not the case under test
			}
			if _, err := s.TakeLogin(httptest.NewRecorder(), b.request(), first.State); !errors.Is(err, session.ErrNoLogin) {
				t.Errorf("first-started login kept (err %v); want it dropped", err)
			}
			if n := len(b.loginCookieNames()); n != 3 {
				t.Errorf("%d login cookies, want 3", n)
			}
			return
		}
	})
	t.Run("same nanosecond", func(t *testing.T) {
		// Sent in this order, all started at the same instant: the first sent goes.
		b := newBrowser(t)
		var sent []session.Login
		for range 3 {
			l := session.NewLogin("/")
			l.Started = 1
			saveLogin(t, s, b, l)
			sent = append(sent, l)
		}
		saveLogin(t, s, b, session.NewLogin("/"))
		for i, l := range sent {
			_, err := s.TakeLogin(httptest.NewRecorder(), b.request(), l.State)
			if dropped := errors.Is(err, session.ErrNoLogin); dropped != (i == 0) {
				t.Errorf("tied login %d: dropped %v, want %v", i, dropped, i == 0)
			}
		}
	})
	t.Run("started later, sent first", func(t *testing.T) {
		// Login.Started decides, not the browser's order.
		b := newBrowser(t)
		late, early := session.NewLogin("/late"), session.NewLogin("/early")
		early.Started = late.Started - int64(time.Millisecond)
		saveLogin(t, s, b, late)
		saveLogin(t, s, b, early)
		saveLogin(t, s, b, session.NewLogin("/"))
		saveLogin(t, s, b, session.NewLogin("/"))
		if _, err := s.TakeLogin(httptest.NewRecorder(), b.request(), early.State); !errors.Is(err, session.ErrNoLogin) {
			t.Errorf("earliest-started login kept (err %v)", err)
		}
		if _, err := s.TakeLogin(httptest.NewRecorder(), b.request(), late.State); err != nil {
			t.Errorf("later-started login dropped: %v", err)
		}
	})
}

// TestLoginsDropUndecodableFirst: a login cookie that no longer decodes goes before
// any real login, however new it looks.
func TestLoginsDropUndecodableFirst(t *testing.T) {
	s := newStore(t, secretNew)
	b := newBrowser(t)
	other := newStore(t, secretOld) // another secret: a cookie of the right name that fails to decode
	var valid []session.Login
	for range 3 {
		l := session.NewLogin("/")
		saveLogin(t, s, b, l)
		valid = append(valid, l)
	}
	// Sent last, started last: were it ranked as a login, it would stay.
	rec := httptest.NewRecorder()
	if err := other.SaveLogin(rec, request(), session.NewLogin("/")); err != nil {
		t.Fatal(err)
	}
	b.take(rec)
	if n := len(b.loginCookieNames()); n != 4 {
		t.Fatalf("%d login cookies, want 4", n)
	}
	// Four present (three valid, one not): the new login keeps two of them.
	saveLogin(t, s, b, session.NewLogin("/"))
	if n := len(b.loginCookieNames()); n != 3 {
		t.Fatalf("%d login cookies, want 3", n)
	}
	for i, l := range valid {
		_, err := s.TakeLogin(httptest.NewRecorder(), b.request(), l.State)
		if dropped := errors.Is(err, session.ErrNoLogin); dropped != (i == 0) {
			t.Errorf("valid login %d: dropped %v, want %v", i, dropped, i == 0)
		}
	}
}

// TestLoginsNeverDropOthersCookies: only this store's login cookies count, and only
// they are ever expired.
func TestLoginsNeverDropOthersCookies(t *testing.T) {
	s := newStore(t, secretNew)
	others := []*http.Cookie{
		{Name: "_hubgate", Value: "session"},
		{Name: "_hubgate_login_0123", Value: "short"},
		{Name: "_hubgate_login_0123456789ABCDEF", Value: "upper"},
		{Name: "_hubgate_login_0123456789abcdefa", Value: "long"},
		{Name: "_hubgatex_login_0123456789abcdef", Value: "other store"},
		{Name: "app_login_0123456789abcdef", Value: "other app"},
		{Name: "jupyterhub-session-id", Value: "hub"},
	}
	var logins []*http.Cookie
	for range 3 {
		rec := httptest.NewRecorder()
		if err := s.SaveLogin(rec, request(append(others, logins...)...), session.NewLogin("/")); err != nil {
			t.Fatal(err)
		}
		cs := saved(rec)
		if len(cs) != 1 {
			t.Fatalf("with %d logins and others' cookies, Set-Cookie %q; want only the new login", len(logins), rec.Header()["Set-Cookie"])
		}
		logins = append(logins, cs[0])
	}
	// A fourth login: the first is the one to go, nothing else.
	rec := httptest.NewRecorder()
	if err := s.SaveLogin(rec, request(append(others, logins...)...), session.NewLogin("/")); err != nil {
		t.Fatal(err)
	}
	var expired []string
	for _, c := range saved(rec) {
		if c.MaxAge < 0 {
			expired = append(expired, c.Name)
		}
	}
	if len(expired) != 1 || expired[0] != logins[0].Name {
		t.Errorf("expired %q, want only the oldest login %q", expired, logins[0].Name)
	}
}

func TestLoginOnce(t *testing.T) {
	s := newStore(t, secretNew)
	b := newBrowser(t)
	l := session.NewLogin("/svc/page?x=1")
	c := saveLogin(t, s, b, l)
	if !strings.HasPrefix(c.Name, "_hubgate_login_") || !s.Owns(c.Name) {
		t.Errorf("login cookie name %q", c.Name)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/svc/" {
		t.Errorf("login cookie attributes %+v", c)
	}
	if c.MaxAge != int(session.LoginMaxAge/time.Second) {
		t.Errorf("login Max-Age = %d, want %d", c.MaxAge, int(session.LoginMaxAge/time.Second))
	}
	if strings.Contains(c.Value, l.Verifier) || strings.Contains(c.Value, l.State) {
		t.Error("login cookie shows the verifier or state in the clear")
	}

	rec := httptest.NewRecorder()
	got, err := s.TakeLogin(rec, b.request(), l.State)
	if err != nil {
		t.Fatalf("TakeLogin: %v", err)
	}
	if got != l {
		t.Errorf("TakeLogin = %+v, want %+v", got, l)
	}
	del := onlyCookie(t, rec)
	if del.Name != c.Name || del.MaxAge >= 0 || del.Path != "/svc/" {
		t.Errorf("TakeLogin did not delete the cookie: %+v", del)
	}
	b.take(rec)

	rec = httptest.NewRecorder()
	if _, err := s.TakeLogin(rec, b.request(), l.State); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("second TakeLogin: err = %v, want ErrNoLogin", err)
	}
}

func TestLoginWrongState(t *testing.T) {
	s := newStore(t, secretNew)
	b := newBrowser(t)
	l := session.NewLogin("/")
	saveLogin(t, s, b, l)
	for _, state := range []string{session.NewLogin("/").State, "", l.State[:len(l.State)-1], l.State + "x"} {
		if _, err := s.TakeLogin(httptest.NewRecorder(), b.request(), state); !errors.Is(err, session.ErrNoLogin) {
			t.Errorf("TakeLogin(%q): err = %v, want ErrNoLogin", state, err)
		}
	}
	// The real one still works afterwards.
	if _, err := s.TakeLogin(httptest.NewRecorder(), b.request(), l.State); err != nil {
		t.Errorf("TakeLogin after wrong states: %v", err)
	}
}

func TestParallelLogins(t *testing.T) {
	s := newStore(t, secretNew)
	b := newBrowser(t)
	l1, l2 := session.NewLogin("/one"), session.NewLogin("/two")
	c1 := saveLogin(t, s, b, l1)
	c2 := saveLogin(t, s, b, l2)
	if c1.Name == c2.Name {
		t.Fatalf("two logins share cookie %q", c1.Name)
	}
	// Finish them in the other order.
	for _, l := range []session.Login{l2, l1} {
		rec := httptest.NewRecorder()
		got, err := s.TakeLogin(rec, b.request(), l.State)
		if err != nil || got != l {
			t.Fatalf("TakeLogin(%s) = %+v, %v", l.Redirect, got, err)
		}
		b.take(rec)
	}
	if n := len(b.jar.Cookies(site)); n != 0 {
		t.Errorf("%d cookies left after both logins", n)
	}
}

func TestLoginCookieRenamed(t *testing.T) {
	s := newStore(t, secretNew)
	l1, l2 := session.NewLogin("/one"), session.NewLogin("/two")
	c1 := saveLogin(t, s, newBrowser(t), l1)
	c2 := saveLogin(t, s, newBrowser(t), l2)
	// l1's value under l2's name: the MAC covers the name, so it fails.
	r := request(&http.Cookie{Name: c2.Name, Value: c1.Value})
	if got, err := s.TakeLogin(httptest.NewRecorder(), r, l2.State); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("renamed login cookie: %+v, %v; want ErrNoLogin", got, err)
	}
	if _, err := s.TakeLogin(httptest.NewRecorder(), r, l1.State); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("renamed login cookie with its own state: %v; want ErrNoLogin", err)
	}
}

func TestLoginCookieNotASession(t *testing.T) {
	// A login cookie's value is no session cookie and vice versa.
	s := newStore(t, secretNew)
	l := session.NewLogin("/")
	c := saveLogin(t, s, newBrowser(t), l)
	if _, ok := load(t, s, request(&http.Cookie{Name: "_hubgate", Value: c.Value})); ok {
		t.Error("login cookie value accepted as a session")
	}
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, fresh()); err != nil {
		t.Fatal(err)
	}
	r := request(&http.Cookie{Name: c.Name, Value: onlyCookie(t, rec).Value})
	if _, err := s.TakeLogin(httptest.NewRecorder(), r, l.State); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("session value accepted as login: %v", err)
	}
}

func TestLoginTampered(t *testing.T) {
	s := newStore(t, secretNew)
	l := session.NewLogin("/")
	c := saveLogin(t, s, newBrowser(t), l)
	for _, v := range []string{"", "garbage", c.Value[:len(c.Value)/2], strings.Replace(c.Value, c.Value[5:6], "Z", 1) + "A"} {
		rec := httptest.NewRecorder()
		_, err := s.TakeLogin(rec, request(&http.Cookie{Name: c.Name, Value: v}), l.State)
		if !errors.Is(err, session.ErrNoLogin) {
			t.Errorf("tampered login %q: err = %v", v, err)
		}
	}
}

func TestLoginOtherSecretAndRotation(t *testing.T) {
	l := session.NewLogin("/")
	c := saveLogin(t, newStore(t, secretOld), newBrowser(t), l)
	if _, err := newStore(t, secretNew).TakeLogin(httptest.NewRecorder(), request(c), l.State); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("login from another secret: err = %v", err)
	}
	if _, err := newStore(t, secretNew, secretOld).TakeLogin(httptest.NewRecorder(), request(c), l.State); err != nil {
		t.Errorf("login after rotation: %v", err)
	}
}

func TestSecureLoginCookies(t *testing.T) {
	s := newStore(t, secretNew)
	l := session.NewLogin("/")
	rec := httptest.NewRecorder()
	if err := s.SaveLogin(rec, secureRequest(), l); err != nil {
		t.Fatal(err)
	}
	c := onlyCookie(t, rec)
	if !c.Secure {
		t.Error("login cookie not Secure")
	}
	rec = httptest.NewRecorder()
	if _, err := s.TakeLogin(rec, secureRequest(c), l.State); err != nil {
		t.Fatal(err)
	}
	if del := onlyCookie(t, rec); !del.Secure || del.MaxAge >= 0 {
		t.Errorf("deletion cookie %+v", del)
	}
}
