package session

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzLoad: no cookie value crashes Load, and none that hubgate did not seal is
// accepted as a session.
func FuzzLoad(f *testing.F) {
	store, err := NewStore(Options{Name: "_hubgate", Path: "/", Secrets: []string{strings.Repeat("s", 32)}, Expire: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	rec := httptest.NewRecorder()
	store.Save(f.Context(), rec, nil, Session{AccessToken: "tok", Expires: time.Now().Add(time.Hour).Unix()})
	valid := rec.Result().Cookies()[0].Value
	for _, seed := range []string{valid, valid[:len(valid)-1], "", "x", "MTcw|YQ==|Zm9v", strings.Repeat("A", 5000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", "_hubgate="+value)
		sess, ok, err := store.Load(r)
		if err != nil {
			t.Fatalf("Load of %q: %v", value, err)
		}
		// Each fuzz worker seals its own copy, so compare contents, not bytes: only
		// the one session ever sealed may come out.
		if ok && sess.AccessToken != "tok" {
			t.Fatalf("accepted a cookie hubgate did not make: %q → %+v", value, sess)
		}
		if _, err := store.TakeLogin(httptest.NewRecorder(), r, value); err == nil {
			t.Fatalf("a login state was found for %q", value)
		}
	})
}
