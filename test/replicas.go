//go:build integration

package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubgate/hubgate/internal/redistest"
)

// The replicas harness: several hubgate processes behind one Balancer, all
// configured as one deployment (same browser-facing redirect URL, cookie
// secret and OAuth client), optionally sharing a real redis-server for the
// session store and the lookup cache.

// replicaCount is how many hubgate replicas a deployment runs.
const replicaCount = 3

// Replicas is one deployment: n hubgates behind a Balancer.
type Replicas struct {
	Balancer *Balancer
	Gates    []*Gate
}

// StartReplicas starts n hubgates on free loopback addresses, each with
// env(addr) (which must give all of them the balancer's callback as
// HUBGATE_REDIRECT_URL and one cookie secret), and makes them the
// balancer's backends, replica i being Gates[i].
func StartReplicas(t testing.TB, bal *Balancer, n int, env func(addr string) map[string]string) *Replicas {
	t.Helper()
	r := &Replicas{Balancer: bal}
	urls := make([]string, n)
	for i := range n {
		addr := freeAddr(t)
		g := StartHubgate(t, addr, env(addr))
		r.Gates = append(r.Gates, g)
		urls[i] = g.URL
	}
	bal.SetBackends(urls...)
	return r
}

// URL is the deployment's browser-facing URL (the balancer's).
func (r *Replicas) URL() string { return r.Balancer.URL }

// CheckLogsOmit checks every replica's log for the secrets.
func (r *Replicas) CheckLogsOmit(t testing.TB, secrets map[string]string) {
	t.Helper()
	for _, g := range r.Gates {
		g.CheckLogOmits(t, secrets)
	}
}

// storeEnv configures session_store and cache_store; rds (needed when one
// of them is redis) is the Redis they share.
func storeEnv(rds *redistest.Server, sessionStore, cacheStore string) map[string]string {
	env := map[string]string{
		"HUBGATE_SESSION_STORE": sessionStore,
		"HUBGATE_CACHE_STORE":   cacheStore,
	}
	if sessionStore == "redis" || cacheStore == "redis" {
		env["HUBGATE_REDIS_URL"] = rds.URL()
	}
	return env
}

// hubReplicaEnv is the environment of every replica of a deployment in front
// of up, logging in at the Hub as service s with the balancer's callback and
// looking users up at apiURL (the Hub API, or a CountingProxy's
// URL+"/hub/api"). secret is the shared cookie secret; extra is added last.
func hubReplicaEnv(hub *Hub, s HubService, up *Upstream, bal *Balancer, apiURL, secret string, extra map[string]string) func(addr string) map[string]string {
	return func(string) map[string]string {
		env := jupyterhubEnv(hub, s, up, bal.Addr, nil) // redirect_url: the balancer's
		env["HUBGATE_HUB_API_URL"] = apiURL
		env["HUBGATE_COOKIE_SECRET"] = secret
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
}

// djangoReplicaEnv is hubgate's Django environment (as StartDjangoGate's
// base configuration: userdata view, Basic client auth, scope read) for
// every replica of a deployment behind bal. The balancer's callback must be
// among d's redirect URIs.
func djangoReplicaEnv(d *Django, up *Upstream, bal *Balancer, secret string, extra map[string]string) func(addr string) map[string]string {
	return func(string) map[string]string {
		env := djangoGateEnv(d, up, DjangoGateRedirectURL(bal.Addr), secret)
		env["HUBGATE_LOG_FORMAT"] = "console"
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
}

// replicaCallbackPath is hubgate's OAuth callback path.
const replicaCallbackPath = "/oauth2/callback"

// crossReplicaLogin opens path through the deployment in a fresh browser
// (open: Browser.Open for the Hub, djangoOpen for Django) with the
// balancer sending the callback to replica callbackOn and every other
// request to startOn. It checks that the login went through, that the
// balancer really split it that way, and that the browser landed on path.
func crossReplicaLogin(t *testing.T, r *Replicas, b *Browser, open func(*Browser, string) *Page, path string, startOn, callbackOn int) *Page {
	t.Helper()
	bal := r.Balancer
	bal.Route(func(req *http.Request) int {
		if req.URL.Path == replicaCallbackPath {
			return callbackOn
		}
		return startOn
	})
	defer bal.Route(nil)
	mark := bal.Mark()
	page := open(b, bal.URL+path)
	served := bal.Since(mark)
	if page.StatusCode != http.StatusOK || !page.LoggedIn {
		t.Fatalf("login starting on replica %d with the callback on replica %d: want 200 after a login\n%s\nbalancer:\n%s",
			startOn, callbackOn, page, ServedSummary(served))
	}
	want, _ := url.Parse(bal.URL + path)
	if page.URL.Host != want.Host || page.URL.Path != want.Path || page.URL.RawQuery != want.RawQuery {
		t.Errorf("landed on %s, want %s", page.URL, want)
	}
	if got := ServedBy(served, http.MethodGet, replicaCallbackPath); len(got) != 1 || got[0] != callbackOn {
		t.Errorf("the callback was served by replicas %v, want exactly [%d]\nbalancer:\n%s", got, callbackOn, ServedSummary(served))
	}
	if got := ServedBy(served, http.MethodGet, want.Path); len(got) != 2 || got[0] != startOn || got[1] != startOn {
		t.Errorf("%s was served by replicas %v, want [%d %d] (the start, then after the callback)\nbalancer:\n%s",
			want.Path, got, startOn, startOn, ServedSummary(served))
	}
	return page
}

// replicaSessionCookie returns the browser's hubgate session cookie for the
// deployment as a Cookie header value ("_hubgate=...").
func replicaSessionCookie(t testing.TB, b *Browser, r *Replicas) string {
	t.Helper()
	for _, c := range b.Cookies(r.URL()) {
		if c.Name == djangoSessionCookie {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("the browser has no %s cookie for %s", djangoSessionCookie, r.URL())
	return ""
}

// replicaResult is one answer through the balancer.
type replicaResult struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
	Took   time.Duration
}

func (r replicaResult) String() string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	return fmt.Sprintf("status %d after %v, Location %q, Set-Cookie %q, body %s",
		r.Status, r.Took.Round(time.Millisecond), r.Header.Get("Location"), r.Header.Values("Set-Cookie"), truncate(string(r.Body), 600))
}

// clearsSession reports whether the answer deletes the session cookie.
func (r replicaResult) clearsSession() bool {
	resp := http.Response{Header: r.Header}
	for _, c := range resp.Cookies() {
		if c.Name == djangoSessionCookie && (c.MaxAge < 0 || c.Value == "") {
			return true
		}
	}
	return false
}

// sessionSet returns the session cookie the answer sets, as a Cookie header
// value, or "".
func (r replicaResult) sessionSet() string {
	resp := http.Response{Header: r.Header}
	for _, c := range resp.Cookies() {
		if c.Name == djangoSessionCookie && c.MaxAge >= 0 && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// replicaClient never follows redirects and allows the bursts' connections.
var replicaClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0},
}

// replicaDo GETs path through the balancer, pinned to replica (or
// round-robin if replica < 0), with header; it does not follow redirects.
func replicaDo(r *Replicas, replica int, path string, header http.Header) replicaResult {
	req, err := http.NewRequest(http.MethodGet, r.URL()+path, nil)
	if err != nil {
		return replicaResult{Err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if replica >= 0 {
		pinTo(req, replica)
	}
	began := time.Now()
	resp, err := replicaClient.Do(req)
	if err != nil {
		return replicaResult{Err: err, Took: time.Since(began)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return replicaResult{Status: resp.StatusCode, Header: resp.Header, Body: body, Err: err, Took: time.Since(began)}
}

// jsonWith is the header of an API-style request with a credential
// (a Cookie header value, or "token X"/"Bearer X" for Authorization).
func jsonWith(credential string) http.Header {
	h := http.Header{"Accept": {"application/json"}}
	addCredential(h, credential)
	return h
}

// navigationWith is the header of a browser navigation with a credential.
func navigationWith(credential string) http.Header {
	h := http.Header{"Accept": {navigationAccept}}
	addCredential(h, credential)
	return h
}

func addCredential(h http.Header, credential string) {
	switch {
	case credential == "":
	case strings.HasPrefix(credential, "token ") || strings.HasPrefix(credential, "Bearer "):
		h.Set("Authorization", credential)
	default:
		h.Set("Cookie", credential)
	}
}

// burst sends n requests at once, request i pinned to replica i%replicas
// with header(i), all released together, and returns the answers.
func burst(r *Replicas, n int, path string, header func(i int) http.Header) []replicaResult {
	results := make([]replicaResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = replicaDo(r, i%len(r.Gates), path, header(i))
		})
	}
	close(start)
	wg.Wait()
	return results
}

// logLines returns the lines of a hubgate's log that contain every one of
// parts, compared case-insensitively.
func logLines(g *Gate, parts ...string) []string {
	var out []string
next:
	for _, line := range strings.Split(g.Log(), "\n") {
		l := strings.ToLower(line)
		for _, p := range parts {
			if !strings.Contains(l, strings.ToLower(p)) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}
