package session_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/internal/redistest"
	"github.com/hubgate/hubgate/session"
)

// benchSessionRequest is a browser request as hubgate sees it: a session cookie among
// the site's other cookies.
func benchSessionRequest(b *testing.B) (*session.Store, *http.Request) {
	b.Helper()
	s, err := session.NewStore(session.Options{
		Name: "_hubgate", Path: "/", Expire: 168 * time.Hour,
		Secrets: []string{"bench-secret-0123456789abcdef0123456789"},
	})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	tok := &oauth2.Token{AccessToken: "4f1f8c6b2d9a4e1c8f0b7a6d5c4e3f2a", Expiry: time.Now().Add(24 * time.Hour)}
	if err := s.Save(b.Context(), rec, nil, s.Start(tok)); err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/app/page", nil)
	r.AddCookie(&http.Cookie{Name: "_ga", Value: "GA1.2.1234567890.1700000000"})
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	r.AddCookie(&http.Cookie{Name: "_xsrf", Value: "2|1a2b3c4d|5e6f7a8b9c0d1e2f|1700000000"})
	return s, r
}

// BenchmarkSessionLoad is the per-request cost of reading a session cookie: find it,
// verify and decrypt it, check it has not expired.
func BenchmarkSessionLoad(b *testing.B) {
	s, r := benchSessionRequest(b)
	if _, ok, _ := s.Load(r); !ok {
		b.Fatal("the session does not load")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := s.Load(r); !ok {
			b.Fatal("the session does not load")
		}
	}
}

// BenchmarkSessionLoadParallel is the same on every core, as under load.
func BenchmarkSessionLoadParallel(b *testing.B) {
	s, r := benchSessionRequest(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, _ := s.Load(r); !ok {
				b.Error("the session does not load")
				return
			}
		}
	})
}

// BenchmarkSessionLoadForged is a cookie that fails verification (a forged or
// corrupted value): it must stay cheap too.
func BenchmarkSessionLoadForged(b *testing.B) {
	s, _ := benchSessionRequest(b)
	r := httptest.NewRequest(http.MethodGet, "/app/page", nil)
	r.AddCookie(&http.Cookie{Name: "_hubgate", Value: "MTcwMDAwMDAwMHxmb3JnZWQtdmFsdWV8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := s.Load(r); ok {
			b.Fatal("a forged session loads")
		}
	}
}

// BenchmarkSessionSave is the cost of writing a session (once per login or refresh).
func BenchmarkSessionSave(b *testing.B) {
	s, _ := benchSessionRequest(b)
	sess := s.Start(&oauth2.Token{AccessToken: "4f1f8c6b2d9a4e1c8f0b7a6d5c4e3f2a"})
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(b.Context(), httptest.NewRecorder(), nil, sess); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionLoadRedis is a session read with session_store: redis: the
// ticket's cookie decoded, one GET to a loopback redis-server, the value decrypted.
func BenchmarkSessionLoadRedis(b *testing.B) {
	s, err := session.NewStore(session.Options{
		Name: "_hubgate", Path: "/", Expire: 168 * time.Hour,
		Secrets: []string{"bench-secret-0123456789abcdef0123456789"},
		Redis:   redistest.Start(b).Client(),
	})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	tok := &oauth2.Token{AccessToken: "4f1f8c6b2d9a4e1c8f0b7a6d5c4e3f2a", Expiry: time.Now().Add(24 * time.Hour)}
	if err := s.Save(b.Context(), rec, nil, s.Start(tok)); err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/app/page", nil)
	r.AddCookie(rec.Result().Cookies()[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := s.Load(r); !ok || err != nil {
			b.Fatalf("the session does not load: %v", err)
		}
	}
}
