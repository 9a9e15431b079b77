package session_test

import (
	"encoding/base64"
	"errors"
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
	s, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/svc/", Secrets: secrets, Expire: time.Hour})
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
	if err := s.Save(t.Context(), rec, in, false); err != nil {
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
		if err := s.Save(t.Context(), rec, fresh(), secure); err != nil {
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
	if err := s.Save(t.Context(), rec, sess, false); err != nil {
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
	if err := s.Save(t.Context(), rec, sess, false); err != nil {
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
	if err := s.Save(t.Context(), rec, fresh(), false); err != nil {
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
	if err := newStore(t, secretOld).Save(t.Context(), rec, fresh(), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := load(t, newStore(t, secretNew), request(onlyCookie(t, rec))); ok {
		t.Error("cookie made with another secret accepted")
	}
}

func TestOtherCookieName(t *testing.T) {
	// The name is part of the MAC: a value moved to another store's name fails.
	rec := httptest.NewRecorder()
	if err := newStore(t, secretNew).Save(t.Context(), rec, fresh(), false); err != nil {
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
	if err := newStore(t, secretOld).Save(t.Context(), rec, in, false); err != nil {
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
	if err := rotated.Save(t.Context(), rec, in, false); err != nil {
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
			if err := s.Save(t.Context(), rec, sess, false); err != nil {
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
	if err := s.Save(t.Context(), rec, session.Session{AccessToken: "t", Expires: time.Now().Add(-time.Minute).Unix()}, false); err != nil {
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
	if err := s.Save(t.Context(), rec, fresh(), false); err != nil {
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
	if err := s.Clear(t.Context(), rec, request(), true); err != nil {
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
	if err := s.SaveLogin(rec, l, false); err != nil {
		t.Fatal(err)
	}
	b.take(rec)
	return onlyCookie(t, rec)
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
	got, err := s.TakeLogin(rec, b.request(), l.State, false)
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
	if _, err := s.TakeLogin(rec, b.request(), l.State, false); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("second TakeLogin: err = %v, want ErrNoLogin", err)
	}
}

func TestLoginWrongState(t *testing.T) {
	s := newStore(t, secretNew)
	b := newBrowser(t)
	l := session.NewLogin("/")
	saveLogin(t, s, b, l)
	for _, state := range []string{session.NewLogin("/").State, "", l.State[:len(l.State)-1], l.State + "x"} {
		if _, err := s.TakeLogin(httptest.NewRecorder(), b.request(), state, false); !errors.Is(err, session.ErrNoLogin) {
			t.Errorf("TakeLogin(%q): err = %v, want ErrNoLogin", state, err)
		}
	}
	// The real one still works afterwards.
	if _, err := s.TakeLogin(httptest.NewRecorder(), b.request(), l.State, false); err != nil {
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
		got, err := s.TakeLogin(rec, b.request(), l.State, false)
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
	if got, err := s.TakeLogin(httptest.NewRecorder(), r, l2.State, false); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("renamed login cookie: %+v, %v; want ErrNoLogin", got, err)
	}
	if _, err := s.TakeLogin(httptest.NewRecorder(), r, l1.State, false); !errors.Is(err, session.ErrNoLogin) {
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
	if err := s.Save(t.Context(), rec, fresh(), false); err != nil {
		t.Fatal(err)
	}
	r := request(&http.Cookie{Name: c.Name, Value: onlyCookie(t, rec).Value})
	if _, err := s.TakeLogin(httptest.NewRecorder(), r, l.State, false); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("session value accepted as login: %v", err)
	}
}

func TestLoginTampered(t *testing.T) {
	s := newStore(t, secretNew)
	l := session.NewLogin("/")
	c := saveLogin(t, s, newBrowser(t), l)
	for _, v := range []string{"", "garbage", c.Value[:len(c.Value)/2], strings.Replace(c.Value, c.Value[5:6], "Z", 1) + "A"} {
		rec := httptest.NewRecorder()
		_, err := s.TakeLogin(rec, request(&http.Cookie{Name: c.Name, Value: v}), l.State, false)
		if !errors.Is(err, session.ErrNoLogin) {
			t.Errorf("tampered login %q: err = %v", v, err)
		}
	}
}

func TestLoginOtherSecretAndRotation(t *testing.T) {
	l := session.NewLogin("/")
	c := saveLogin(t, newStore(t, secretOld), newBrowser(t), l)
	if _, err := newStore(t, secretNew).TakeLogin(httptest.NewRecorder(), request(c), l.State, false); !errors.Is(err, session.ErrNoLogin) {
		t.Errorf("login from another secret: err = %v", err)
	}
	if _, err := newStore(t, secretNew, secretOld).TakeLogin(httptest.NewRecorder(), request(c), l.State, true); err != nil {
		t.Errorf("login after rotation: %v", err)
	}
}

func TestSecureLoginCookies(t *testing.T) {
	s := newStore(t, secretNew)
	l := session.NewLogin("/")
	rec := httptest.NewRecorder()
	if err := s.SaveLogin(rec, l, true); err != nil {
		t.Fatal(err)
	}
	c := onlyCookie(t, rec)
	if !c.Secure {
		t.Error("login cookie not Secure")
	}
	rec = httptest.NewRecorder()
	if _, err := s.TakeLogin(rec, request(c), l.State, true); err != nil {
		t.Fatal(err)
	}
	if del := onlyCookie(t, rec); !del.Secure || del.MaxAge >= 0 {
		t.Errorf("deletion cookie %+v", del)
	}
}
