package session

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func decodedTestStore(t *testing.T, expire time.Duration) *Store {
	t.Helper()
	s, err := NewStore(Options{Name: "_hubgate", Path: "/", Secrets: []string{"decoded-secret-0123456789abcdef0123"}, Expire: expire})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodedTestCookie(t *testing.T, s *Store, sess Session) string {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, sess); err != nil {
		t.Fatal(err)
	}
	return rec.Result().Cookies()[0].Value
}

func decodedTestLoad(s *Store, value string) (Session, bool) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: "_hubgate", Value: value})
	sess, ok, _ := s.Load(r) // the cookie store has no error to give
	return sess, ok
}

// A session loaded again comes from the decoded cache, with the same content.
func TestDecodedSessionReused(t *testing.T) {
	s := decodedTestStore(t, time.Hour)
	want := Session{AccessToken: "tok", RefreshToken: "rt", TokenExpiry: time.Now().Add(time.Hour).Unix(), Expires: time.Now().Add(time.Hour).Unix()}
	v := decodedTestCookie(t, s, want)
	for i := range 3 {
		got, ok := decodedTestLoad(s, v)
		if !ok || got != want {
			t.Fatalf("load %d: %+v, %v; want %+v", i, got, ok, want)
		}
	}
	if _, ok := s.backend.(*cookieBackend).decoded.m.Load(v); !ok {
		t.Error("a loaded session was not remembered")
	}
}

// A remembered session stops loading when the session ends.
func TestDecodedSessionEnds(t *testing.T) {
	t.Parallel()
	s := decodedTestStore(t, time.Hour)
	v := decodedTestCookie(t, s, Session{AccessToken: "tok", Expires: time.Now().Unix() + 1})
	if _, ok := decodedTestLoad(s, v); !ok {
		t.Fatal("fresh session refused")
	}
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+2, 0)))
	if _, ok := decodedTestLoad(s, v); ok {
		t.Error("a remembered session loaded after its end")
	}
	if _, ok := s.backend.(*cookieBackend).decoded.m.Load(v); ok {
		t.Error("an ended session is still remembered")
	}
}

// A value that does not verify is never remembered, even next to one that does.
func TestDecodedSessionForgedNotRemembered(t *testing.T) {
	s := decodedTestStore(t, time.Hour)
	v := decodedTestCookie(t, s, Session{AccessToken: "tok", Expires: time.Now().Add(time.Hour).Unix()})
	if _, ok := decodedTestLoad(s, v); !ok {
		t.Fatal("genuine session refused")
	}
	b := []byte(v)
	b[len(b)/2] ^= 1
	forged := string(b)
	for range 2 {
		if _, ok := decodedTestLoad(s, forged); ok {
			t.Fatal("a tampered cookie loaded")
		}
	}
	if _, ok := s.backend.(*cookieBackend).decoded.m.Load(forged); ok {
		t.Error("a tampered cookie was remembered")
	}
	other, err := NewStore(Options{Name: "_hubgate", Path: "/", Secrets: []string{"another-secret-0123456789abcdef0123"}, Expire: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := decodedTestLoad(other, v); ok {
		t.Error("a cookie loaded under another secret")
	}
}

// The cache stays bounded.
func TestDecodedSessionsBounded(t *testing.T) {
	var d decodedSessions
	until := time.Now().Add(time.Hour).Unix()
	for i := range maxDecodedSessions + 500 {
		d.put("value-"+strconv.Itoa(i), Session{AccessToken: "t"}, until)
	}
	n := 0
	d.m.Range(func(any, any) bool { n++; return true })
	if n > maxDecodedSessions || d.n.Load() != int64(n) {
		t.Errorf("%d entries (counted %d), bound %d", n, d.n.Load(), maxDecodedSessions)
	}
	if _, ok := d.get("value-"+strconv.Itoa(maxDecodedSessions+499), time.Now().Unix()); !ok {
		t.Error("the newest entry was dropped")
	}
}

func TestCookieTimestamp(t *testing.T) {
	s := decodedTestStore(t, time.Hour)
	before := time.Now().Unix()
	v := decodedTestCookie(t, s, Session{AccessToken: "tok", Expires: time.Now().Add(time.Hour).Unix()})
	stamp, ok := cookieTimestamp(v)
	if !ok || stamp < before || stamp > time.Now().Unix() {
		t.Errorf("cookieTimestamp = %d, %v; want about %d", stamp, ok, before)
	}
	for _, bad := range []string{"", "abc", "!!!!!!!!!!!!!!!!", "bm90IGEgdGltZXN0YW1w"} {
		if _, ok := cookieTimestamp(bad); ok {
			t.Errorf("cookieTimestamp(%q) ok", bad)
		}
	}
}
