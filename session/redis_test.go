package session_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/internal/redistest"
	"github.com/hubgate/hubgate/session"
)

// newRedisStore is one replica: a store over rdb with the given secrets. Two made
// with the same secrets and rdb are two hubgates sharing sessions.
func newRedisStore(t *testing.T, rdb *redis.Client, secrets ...string) *session.Store {
	t.Helper()
	s, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/svc/", Secrets: secrets, Expire: time.Hour, Redis: rdb, Secure: overTLS})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sessionKeys lists hubgate's session keys in Redis.
func sessionKeys(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "hubgate:session:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func onlySessionKey(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	keys := sessionKeys(t, rdb)
	if len(keys) != 1 {
		t.Fatalf("%d session keys in Redis, want 1: %q", len(keys), keys)
	}
	return keys[0]
}

// saveNew saves a session from Start-like values and returns its cookie.
func saveNew(t *testing.T, s *session.Store, sess session.Session) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, sess); err != nil {
		t.Fatal(err)
	}
	return onlyCookie(t, rec)
}

func sameTokens(a, b session.Session) bool {
	return a.AccessToken == b.AccessToken && a.Expires == b.Expires && a.RefreshToken == b.RefreshToken && a.TokenExpiry == b.TokenExpiry
}

func TestRedisRoundTrip(t *testing.T) {
	rdb := redistest.Start(t).Client()
	s := newRedisStore(t, rdb, secretNew)
	in := session.Session{AccessToken: "hub-token-abc123", RefreshToken: "refresh-xyz789", TokenExpiry: time.Now().Add(time.Minute).Unix(), Expires: time.Now().Add(time.Hour).Unix()}
	c := saveNew(t, s, in)
	if c.Name != "_hubgate" || !c.HttpOnly || c.Path != "/svc/" || c.SameSite != http.SameSiteLaxMode || c.MaxAge > 3600 || c.MaxAge < 3600-5 {
		t.Errorf("session cookie %+v", c)
	}
	out, ok := load(t, s, request(c))
	if !ok || !sameTokens(out, in) {
		t.Fatalf("Load = %+v, %v; want %+v", out, ok, in)
	}
	key := onlySessionKey(t, rdb)
	if len(key) != len("hubgate:session:")+64 {
		t.Errorf("key %q is not the prefix and a hex SHA-256", key)
	}
	// Another replica reads the same session from the same cookie.
	if out, ok := load(t, newRedisStore(t, rdb, secretNew), request(c)); !ok || !sameTokens(out, in) {
		t.Errorf("second replica: %+v, %v", out, ok)
	}
}

func TestRedisValueHidesTokens(t *testing.T) {
	rdb := redistest.Start(t).Client()
	s := newRedisStore(t, rdb, secretNew)
	c := saveNew(t, s, session.Session{AccessToken: "very-secret-access", RefreshToken: "very-secret-refresh", TokenExpiry: time.Now().Add(time.Minute).Unix(), Expires: time.Now().Add(time.Hour).Unix()})
	key := onlySessionKey(t, rdb)
	raw, err := rdb.Get(t.Context(), key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{string(raw), key, c.Value, base64.StdEncoding.EncodeToString(raw)} {
		if strings.Contains(text, "very-secret") || strings.Contains(text, `"t"`) {
			t.Errorf("readable in Redis or the cookie: %q", text)
		}
	}
	if len(raw) < 12+16 {
		t.Errorf("value of %d bytes is too short for a GCM nonce and tag", len(raw))
	}
}

func TestRedisTTLFollowsExpires(t *testing.T) {
	rdb := redistest.Start(t).Client()
	s := newRedisStore(t, rdb, secretNew)
	saveNew(t, s, session.Session{AccessToken: "t", Expires: time.Now().Add(30 * time.Minute).Unix()})
	ttl, err := rdb.PTTL(t.Context(), onlySessionKey(t, rdb)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl > 30*time.Minute || ttl < 30*time.Minute-5*time.Second {
		t.Errorf("PTTL = %v, want about 30m", ttl)
	}
}

func TestRedisRefreshKeepsTicket(t *testing.T) {
	rdb := redistest.Start(t).Client()
	a, b := newRedisStore(t, rdb, secretNew), newRedisStore(t, rdb, secretNew)
	expires := time.Now().Add(time.Hour).Unix()
	c := saveNew(t, a, session.Session{AccessToken: "old-access", RefreshToken: "rt-0", TokenExpiry: time.Now().Add(-time.Minute).Unix(), Expires: expires})
	key := onlySessionKey(t, rdb)

	sess, ok := load(t, a, request(c))
	if !ok || !sess.NeedsRefresh(time.Now()) {
		t.Fatalf("Load = %+v, %v; want a session to refresh", sess, ok)
	}
	sess = a.Continue(sess, &oauth2.Token{AccessToken: "new-access", RefreshToken: "rt-1", Expiry: time.Now().Add(time.Hour)})
	rec := httptest.NewRecorder()
	if err := a.Save(t.Context(), rec, nil, sess); err != nil {
		t.Fatal(err)
	}
	if got := onlySessionKey(t, rdb); got != key {
		t.Errorf("the refresh moved the session from %s to %s", key, got)
	}
	// The other replica, still given the old cookie, sees the new tokens.
	out, ok := load(t, b, request(c))
	if !ok || out.AccessToken != "new-access" || out.RefreshToken != "rt-1" || out.Expires != expires || out.NeedsRefresh(time.Now()) {
		t.Errorf("second replica after the refresh: %+v, %v", out, ok)
	}
	// And the refreshed cookie names the same session.
	if out, ok := load(t, b, request(onlyCookie(t, rec))); !ok || out.AccessToken != "new-access" {
		t.Errorf("refreshed cookie: %+v, %v", out, ok)
	}
}

func TestRedisClearEndsSessionEverywhere(t *testing.T) {
	rdb := redistest.Start(t).Client()
	a, b := newRedisStore(t, rdb, secretNew), newRedisStore(t, rdb, secretNew)
	c := saveNew(t, a, fresh())
	if _, ok := load(t, b, request(c)); !ok {
		t.Fatal("second replica: no session before sign-out")
	}
	rec := httptest.NewRecorder()
	if err := a.Clear(t.Context(), rec, secureRequest(c)); err != nil {
		t.Fatal(err)
	}
	if del := onlyCookie(t, rec); del.MaxAge >= 0 || del.Value != "" || !del.Secure {
		t.Errorf("deletion cookie %+v", del)
	}
	if keys := sessionKeys(t, rdb); len(keys) != 0 {
		t.Errorf("Clear left %q in Redis", keys)
	}
	// A copy of the cookie (stolen, or in another tab) is dead on every replica.
	for name, s := range map[string]*session.Store{"same replica": a, "other replica": b} {
		if sess, ok := load(t, s, request(c)); ok {
			t.Errorf("%s: the old cookie still loads %+v", name, sess)
		}
	}
}

func TestRedisRefreshAfterSignOutDoesNotResurrect(t *testing.T) {
	rdb := redistest.Start(t).Client()
	s := newRedisStore(t, rdb, secretNew)
	c := saveNew(t, s, session.Session{AccessToken: "old", RefreshToken: "rt-0", TokenExpiry: time.Now().Add(-time.Minute).Unix(), Expires: time.Now().Add(time.Hour).Unix()})
	sess, ok := load(t, s, request(c))
	if !ok {
		t.Fatal("no session")
	}
	// Signed out (in another tab, on another replica) while this refresh was in flight.
	if err := s.Clear(t.Context(), httptest.NewRecorder(), request(c)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	err := s.Save(t.Context(), rec, nil, s.Continue(sess, &oauth2.Token{AccessToken: "new", RefreshToken: "rt-1"}))
	if !errors.Is(err, session.ErrEnded) {
		t.Errorf("Save after sign-out: %v, want ErrEnded", err)
	}
	if keys := sessionKeys(t, rdb); len(keys) != 0 || len(saved(rec)) != 0 {
		t.Errorf("the ended session came back: keys %q, cookies %v", keys, saved(rec))
	}
}

func TestRedisExpiredSessionIsNone(t *testing.T) {
	rdb := redistest.Start(t).Client()
	s := newRedisStore(t, rdb, secretNew)
	for name, sess := range map[string]session.Session{
		"expired":  {AccessToken: "t", Expires: time.Now().Add(-time.Minute).Unix()},
		"zero":     {AccessToken: "t"},
		"no token": {Expires: time.Now().Add(time.Hour).Unix()},
	} {
		rec := httptest.NewRecorder()
		if err := s.Save(t.Context(), rec, nil, sess); err != nil {
			t.Fatal(err)
		}
		if got, ok := load(t, s, request(onlyCookie(t, rec))); ok {
			t.Errorf("%s: Load = %+v, want no session", name, got)
		}
	}
}

func TestRedisForgedOrTamperedTicket(t *testing.T) {
	rdb := redistest.Start(t).Client()
	s := newRedisStore(t, rdb, secretNew)
	good := saveNew(t, s, fresh()).Value
	flip := func(i int) string {
		b := []byte(good)
		b[i] ^= 1
		return string(b)
	}
	// A well-formed ticket sealed with a secret hubgate does not have.
	forged := saveNew(t, newRedisStore(t, rdb, secretOld), fresh()).Value
	for name, value := range map[string]string{
		"flipped first byte":  flip(0),
		"flipped middle byte": flip(len(good) / 2),
		"flipped last byte":   flip(len(good) - 2),
		"truncated":           good[:len(good)-5],
		"empty":               "",
		"garbage":             "!!!not-a-cookie$$$",
		"other secret":        forged,
	} {
		r := httptest.NewRequest(http.MethodGet, site.String(), nil)
		r.Header.Set("Cookie", "_hubgate="+value)
		if sess, ok := load(t, s, r); ok {
			t.Errorf("%s: accepted %+v", name, sess)
		}
	}
}

func TestRedisAndCookieStoresRejectEachOther(t *testing.T) {
	rdb := redistest.Start(t).Client()
	server, cookie := newRedisStore(t, rdb, secretNew), newStore(t, secretNew)
	fromCookieStore := saveNew(t, cookie, fresh())
	if sess, ok := load(t, server, request(fromCookieStore)); ok {
		t.Errorf("the Redis store accepted a cookie-store session: %+v", sess)
	}
	fromServerStore := saveNew(t, server, fresh())
	if sess, ok := load(t, cookie, request(fromServerStore)); ok {
		t.Errorf("the cookie store accepted a ticket: %+v", sess)
	}
}

func TestRedisSecretRotation(t *testing.T) {
	rdb := redistest.Start(t).Client()
	in := fresh()
	oldCookie := saveNew(t, newRedisStore(t, rdb, secretOld), in)
	rotated := newRedisStore(t, rdb, secretNew, secretOld)
	sess, ok := load(t, rotated, request(oldCookie))
	if !ok || !sameTokens(sess, in) {
		t.Fatalf("rotated store read the old ticket: %+v, %v", sess, ok)
	}
	// Saving it again (as a refresh does) re-signs the same ticket with the new secret.
	rec := httptest.NewRecorder()
	if err := rotated.Save(t.Context(), rec, nil, sess); err != nil {
		t.Fatal(err)
	}
	newCookie := onlyCookie(t, rec)
	if _, ok := load(t, newRedisStore(t, rdb, secretNew), request(newCookie)); !ok {
		t.Error("the re-signed ticket is not readable with the new secret alone")
	}
	if _, ok := load(t, newRedisStore(t, rdb, secretOld), request(newCookie)); ok {
		t.Error("the re-signed ticket was signed with the old secret")
	}
	onlySessionKey(t, rdb)
}

// mainLikeClient is a client with the timeouts main's newRedis gives one.
func mainLikeClient(t *testing.T, srv *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	rdb := mainLikeClient(t, srv)
	s := newRedisStore(t, rdb, secretNew)
	c := saveNew(t, s, fresh())
	sess, ok := load(t, s, request(c))
	if !ok {
		t.Fatal("no session")
	}
	srv.Stop()

	start := time.Now()
	if _, ok, err := s.Load(request(c)); !errors.Is(err, session.ErrUnavailable) || ok {
		t.Errorf("Load with Redis down: %v, %v; want ErrUnavailable", ok, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Load with Redis down took %v", d)
	}
	// A request without a ticket needs no Redis: it has no session, and says so.
	if _, ok, err := s.Load(request()); ok || err != nil {
		t.Errorf("Load without a cookie: %v, %v; want no session and no error", ok, err)
	}
	if err := s.Save(t.Context(), httptest.NewRecorder(), nil, fresh()); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Save of a new session: %v, want ErrUnavailable", err)
	}
	rec := httptest.NewRecorder()
	if err := s.Save(t.Context(), rec, nil, sess); !errors.Is(err, session.ErrUnavailable) || len(saved(rec)) != 0 {
		t.Errorf("Save of a loaded session: %v, cookies %v; want ErrUnavailable and none", err, saved(rec))
	}
	rec = httptest.NewRecorder()
	if err := s.Clear(t.Context(), rec, request(c)); !errors.Is(err, session.ErrUnavailable) || len(saved(rec)) != 0 {
		t.Errorf("Clear: %v, cookies %v; want ErrUnavailable and the cookie kept", err, saved(rec))
	}
	if err := s.Ready(t.Context()); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Ready: %v, want ErrUnavailable", err)
	}

	srv.Restart() // empty: Redis without persistence lost the sessions
	waitReady(t, s)
	if _, ok := load(t, s, request(c)); ok {
		t.Error("a session survived a Redis restart without persistence")
	}
}

// waitReady waits for Ready after a restart: go-redis stops dialling after many
// failures and probes once a second until Redis answers again.
func waitReady(t *testing.T, s *session.Store) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := s.Ready(t.Context())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready 5s after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCookieStoreIsAlwaysReady(t *testing.T) {
	if err := newStore(t, secretNew).Ready(t.Context()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if err := newStore(t, secretNew).Revoke(t.Context(), request()); err != nil {
		t.Errorf("Revoke: %v", err)
	}
}
