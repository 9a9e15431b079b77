package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fakeHub plays the JupyterHub endpoints hubgate uses: the OAuth authorize and token
// endpoints, GET /hub/api/user (with a configurable latency, counting calls per
// token), the API root for /ready, and token creation. Every token starting with
// "tok-" is valid. Under /github/ it also answers the GitHub API calls that
// oauth2-proxy's github provider makes once at login (see github).
type fakeHub struct {
	latency atomic.Int64 // of GET /user, in nanoseconds

	userCalls atomic.Int64
	perToken  sync.Map // token → *atomic.Int64

	mu    sync.Mutex
	codes map[string]string // code → PKCE challenge
}

func newFakeHub(latency time.Duration) *fakeHub {
	h := &fakeHub{codes: map[string]string{}}
	h.latency.Store(int64(latency))
	return h
}

func (h *fakeHub) setLatency(d time.Duration) { h.latency.Store(int64(d)) }

// calls is how many times GET /user was asked about token.
func (h *fakeHub) calls(token string) int64 {
	if n, ok := h.perToken.Load(token); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/hub/api/oauth2/authorize":
		h.authorize(w, r)
	case p == "/hub/api/oauth2/token" && r.Method == http.MethodPost:
		h.token(w, r)
	case p == "/hub/api/user":
		h.user(w, r)
	case p == "/hub/api/" || p == "/hub/api":
		writeJSONReply(w, http.StatusOK, map[string]string{"version": "5.2.1"})
	case strings.HasPrefix(p, "/hub/api/users/") && strings.HasSuffix(p, "/tokens") && r.Method == http.MethodPost:
		writeJSONReply(w, http.StatusCreated, map[string]string{"token": "tok-api-" + randomHex(16)})
	case strings.HasPrefix(p, "/github/"):
		h.github(w, r)
	default:
		http.NotFound(w, r)
	}
}

// authorize logs the browser in at once and sends it back with a code bound to its
// PKCE challenge, as the Hub does with oauth_no_confirm.
func (h *fakeHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || back.Host == "" || q.Get("state") == "" || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "bad authorize request", http.StatusBadRequest)
		return
	}
	code := randomHex(16)
	h.mu.Lock()
	h.codes[code] = q.Get("code_challenge")
	h.mu.Unlock()
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token exchanges a code for a fresh token, checking the PKCE verifier.
func (h *fakeHub) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	code := r.PostForm.Get("code")
	h.mu.Lock()
	challenge, ok := h.codes[code]
	delete(h.codes, code)
	h.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge || r.PostForm.Get("client_secret") == "" {
		writeJSONReply(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	writeJSONReply(w, http.StatusOK, map[string]any{"access_token": "tok-login-" + randomHex(16), "token_type": "Bearer"})
}

// user answers GET /hub/api/user for any "tok-" token, with a record shaped like the
// Hub's (hubgate reads name, kind, admin, groups and scopes).
func (h *fakeHub) user(w http.ResponseWriter, r *http.Request) {
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	h.userCalls.Add(1)
	n, _ := h.perToken.LoadOrStore(token, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	if d := time.Duration(h.latency.Load()); d > 0 {
		time.Sleep(d)
	}
	if !strings.HasPrefix(token, "tok-") {
		writeJSONReply(w, http.StatusForbidden, map[string]any{"status": 403, "message": "Missing or invalid credentials."})
		return
	}
	name := "bench"
	if rest, ok := strings.CutPrefix(token, "tok-id-"); ok {
		name = "user-" + rest
	}
	writeJSONReply(w, http.StatusOK, map[string]any{
		"kind":          "user",
		"name":          name,
		"admin":         false,
		"groups":        []string{"staff", "physics"},
		"roles":         []string{"user"},
		"scopes":        []string{"access:services!service=bench", "read:users:name!user=" + name},
		"created":       "2024-01-01T00:00:00.000000Z",
		"last_activity": "2024-06-01T12:00:00.000000Z",
		"server":        nil,
		"pending":       nil,
		"session_id":    nil,
	})
}

// github answers, for any "tok-" token, what oauth2-proxy's github provider asks of
// its API base (--validate-url) after redeeming a code: the user's orgs and teams
// (none), emails (one, primary and verified) and login, and the root itself. oauth2-proxy uses the same
// authorize and token endpoints as hubgate, so both log in through the same Hub.
func (h *fakeHub) github(w http.ResponseWriter, r *http.Request) {
	if _, token, _ := strings.Cut(r.Header.Get("Authorization"), " "); !strings.HasPrefix(token, "tok-") {
		writeJSONReply(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	switch strings.TrimPrefix(r.URL.Path, "/github") {
	case "/": // the API root, where it checks the token once after redeeming it
		writeJSONReply(w, http.StatusOK, map[string]string{})
	case "/user":
		writeJSONReply(w, http.StatusOK, map[string]any{"login": "bench", "email": "bench@example.org"})
	case "/user/emails":
		writeJSONReply(w, http.StatusOK, []map[string]any{{"email": "bench@example.org", "primary": true, "verified": true}})
	case "/user/orgs", "/user/teams":
		writeJSONReply(w, http.StatusOK, []any{})
	default:
		http.NotFound(w, r)
	}
}

func writeJSONReply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	const digits = "0123456789abcdef"
	out := make([]byte, 2*n)
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
