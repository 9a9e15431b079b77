package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/hubgate/hubgate/internal/redistest"
)

// A ticket whose ID exists but whose key is not the session's (a guessed or
// half-leaked ticket, re-signed by someone holding the cookie secret) opens nothing,
// and neither does a value changed in Redis.
func TestRedisTicketNeedsItsKey(t *testing.T) {
	rdb := redistest.Start(t).Client()
	s, err := NewStore(Options{Name: "_hubgate", Path: "/", Secrets: []string{"ticket-secret-0123456789abcdef0123"}, Expire: time.Hour, Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, Session{AccessToken: "tok", Expires: time.Now().Add(time.Hour).Unix()}); err != nil {
		t.Fatal(err)
	}
	good := rec.Result().Cookies()[0]
	withCookie := func(value string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "_hubgate", Value: value})
		return r
	}
	rb := s.backend.(*redisBackend)
	tk, ok := rb.readTicket(good.Value)
	if !ok {
		t.Fatal("the saved ticket does not decode")
	}

	wrong := *tk
	wrong.key[0] ^= 1
	value, err := securecookie.EncodeMulti(s.name, ticketCookie{ID: wrong.id[:], Key: wrong.key[:]}, rb.codecs...)
	if err != nil {
		t.Fatal(err)
	}
	if sess, ok, err := s.Load(withCookie(value)); ok || err != nil {
		t.Errorf("wrong key: %+v, %v, %v; want no session", sess, ok, err)
	}

	short, err := securecookie.EncodeMulti(s.name, ticketCookie{ID: tk.id[:16], Key: tk.key[:]}, rb.codecs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Load(withCookie(short)); ok || err != nil {
		t.Errorf("short ID: %v, %v; want no session", ok, err)
	}

	sealed, err := rdb.Get(t.Context(), tk.rkey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	sealed[len(sealed)-1] ^= 1
	if err := rdb.Set(t.Context(), tk.rkey, sealed, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Load(withCookie(good.Value)); ok || err != nil {
		t.Errorf("value changed in Redis: %v, %v; want no session", ok, err)
	}
}
