//go:build integration

package integration

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/internal/redistest"
)

// The replicas suite (issue 8, items 4 and 6): three hubgate replicas behind
// a round-robin balancer (balancer.go), in front of a real JupyterHub or a
// real Django + DOT, sharing a real redis-server (internal/redistest) for
// session_store redis and cache_store redis. The three top-level tests run
// in parallel, each with its own peers and Redis.

// hubOpen is Browser.Open as an opener for crossReplicaLogin.
func hubOpen(b *Browser, u string) *Page { return b.Open(u) }

// checkSpread sends rounds×replicas JSON requests with the browser's
// cookies round-robin through the balancer: all must be served, as user,
// and each replica must take its share.
func checkSpread(t *testing.T, r *Replicas, b *Browser, rounds int, check func(*testing.T, EchoedRequest, string)) {
	t.Helper()
	mark := r.Balancer.Mark()
	n := rounds * len(r.Gates)
	for i := range n {
		req := djangoMustRequest(t, http.MethodGet, fmt.Sprintf("%s/spread/%d", r.URL(), i))
		req.Header.Set("Accept", "application/json")
		page := b.Do(req)
		if page.StatusCode != http.StatusOK {
			t.Fatalf("request %d round-robin with the session cookie: want 200\n%s\nbalancer:\n%s",
				i, page, ServedSummary(r.Balancer.Since(mark)))
		}
		check(t, decodeEcho(t, page.Body, "spread request"), fmt.Sprintf("request %d", i))
	}
	got := PerReplica(r.Balancer.Since(mark), len(r.Gates))
	for i, c := range got {
		if c != rounds {
			t.Errorf("replica %d served %d of %d round-robin requests, want %d (per replica: %v)", i, c, n, rounds, got)
		}
	}
}

// maxAnswer bounds every answer of checkEveryReplica, with Redis down too:
// hubgate's Redis calls have 1-2 s timeouts.
const maxAnswer = 3 * time.Second

// checkEveryReplica wants status from every replica for path with header.
func checkEveryReplica(t *testing.T, r *Replicas, path string, header http.Header, want int, what string) []replicaResult {
	t.Helper()
	out := make([]replicaResult, len(r.Gates))
	for i := range r.Gates {
		out[i] = replicaDo(r, i, path, header)
		switch took := out[i].Took.Round(time.Millisecond); {
		case out[i].Status != want:
			t.Errorf("%s on replica %d: want %d, got %s", what, i, want, out[i])
		case took > maxAnswer:
			t.Errorf("%s on replica %d: the answer took %v: whatever fails, hubgate must answer quickly, not hang", what, i, took)
		case took > 500*time.Millisecond:
			t.Logf("%s on replica %d: slow answer, %v", what, i, took)
		}
	}
	return out
}

// waitEveryReplica waits until every replica answers path with status want.
func waitEveryReplica(t *testing.T, r *Replicas, path string, want int, timeout time.Duration, what string) {
	t.Helper()
	for i, g := range r.Gates {
		if err := waitFor(timeout, nil, httpStatusIs(g.URL+path, want)); err != nil {
			t.Errorf("%s: replica %d: %v", what, i, err)
		}
	}
}

// redisKeys is how many keys the Redis holds.
func redisKeys(t testing.TB, rds *redistest.Server) int64 {
	t.Helper()
	n, err := rds.Client().DBSize(context.Background()).Result()
	if err != nil {
		t.Fatalf("DBSIZE at %s: %v", rds, err)
	}
	return n
}

// TestReplicasJupyterHub runs two deployments of three replicas in front of
// one real JupyterHub: one with session_store and cache_store redis, one
// with the default cookie sessions and in-process cache. In both, a login
// may start on one replica and finish on another (the login state travels
// in its own cookie), and a logged-in browser is served by every replica.
// With Redis, sign-out on one replica ends the session on all of them, and
// a token is looked up at the Hub once for the whole deployment, however
// many replicas see it first at the same moment.
func TestReplicasJupyterHub(t *testing.T) {
	RequireHub(t, fullSuite)
	t.Parallel()
	rds := redistest.Start(t)
	up := StartUpstream(t)
	balRedis, balCookie := StartBalancer(t), StartBalancer(t)
	hub := StartHub(t, HubConfig{Services: []HubService{
		{Name: "gate", OAuthRedirectURI: balRedis.URL + replicaCallbackPath, OAuthNoConfirm: true},
		{Name: "gate-cookie", OAuthRedirectURI: balCookie.URL + replicaCallbackPath, OAuthNoConfirm: true},
	}})
	counter := StartCountingProxy(t, hub.APIURL)
	gateService, cookieService := hub.Service(t, "gate"), hub.Service(t, "gate-cookie")
	withRedis := StartReplicas(t, balRedis, replicaCount, hubReplicaEnv(hub, gateService, up, balRedis,
		counter.URL+"/hub/api", randomSecret(), storeEnv(rds, "redis", "redis")))
	withCookie := StartReplicas(t, balCookie, replicaCount, hubReplicaEnv(hub, cookieService, up, balCookie,
		hub.APIURL, randomSecret(), storeEnv(nil, "cookie", "memory")))
	isAlice := func(t *testing.T, e EchoedRequest, _ string) { checkIdentity(t, e, "alice", "staff", "false") }
	secrets := map[string]string{"client secret": gateService.APIToken, "cookie client secret": cookieService.APIToken}

	// loginsAcrossReplicas logs alice in three times, each start and
	// callback on different replicas, and spreads requests over all.
	loginsAcrossReplicas := func(t *testing.T, r *Replicas) *Browser {
		var b *Browser
		for _, p := range [][2]int{{0, 1}, {1, 2}, {2, 0}} {
			b = NewBrowser(t, "alice")
			page := crossReplicaLogin(t, r, b, hubOpen, "/hello?x=1", p[0], p[1])
			checkIdentity(t, decodeEcho(t, page.Body, "after login"), "alice", "staff", "false")
			secrets[fmt.Sprintf("session cookie %s %v", r.URL(), p)] = strings.TrimPrefix(replicaSessionCookie(t, b, r), djangoSessionCookie+"=")
		}
		checkSpread(t, r, b, 3, isAlice)
		return b
	}

	t.Run("session_store cookie", func(t *testing.T) {
		t.Run("login starts on one replica, the callback lands on another", func(t *testing.T) {
			loginsAcrossReplicas(t, withCookie)
		})
		t.Run("ready on every replica", func(t *testing.T) {
			checkEveryReplica(t, withCookie, "/ready", nil, http.StatusOK, "/ready")
		})
	})

	t.Run("session_store redis", func(t *testing.T) {
		keysBefore := redisKeys(t, rds)
		var alice *Browser
		t.Run("login starts on one replica, the callback lands on another", func(t *testing.T) {
			alice = loginsAcrossReplicas(t, withRedis)
		})
		if alice == nil {
			t.FailNow()
		}
		t.Run("the sessions are in Redis", func(t *testing.T) {
			if n := redisKeys(t, rds); n <= keysBefore {
				t.Errorf("Redis holds %d keys after three logins (%d before): hubgate keeps nothing there", n, keysBefore)
			}
		})

		t.Run("sign-out on one replica ends the session on all", func(t *testing.T) {
			cookie := replicaSessionCookie(t, alice, withRedis)
			checkEveryReplica(t, withRedis, "/before-sign-out", jsonWith(cookie), http.StatusOK, "the session cookie before sign-out")
			page := alice.Do(pinTo(djangoMustRequest(t, http.MethodGet, withRedis.URL()+"/oauth2/sign_out"), 1))
			if page.StatusCode >= 400 {
				t.Fatalf("sign out on replica 1 failed\n%s", page)
			}
			if slices.ContainsFunc(alice.Cookies(withRedis.URL()), func(c *http.Cookie) bool { return c.Name == djangoSessionCookie }) {
				t.Errorf("the browser still has a %s cookie after signing out", djangoSessionCookie)
			}
			// A copy of the old cookie (another tab, a stolen cookie) is dead
			// everywhere, not only where the sign-out happened.
			checkEveryReplica(t, withRedis, "/after-sign-out", jsonWith(cookie), http.StatusUnauthorized, "the old session cookie after sign-out on replica 1")
			for i, res := range checkEveryReplica(t, withRedis, "/after-sign-out", navigationWith(cookie), http.StatusFound,
				"navigation with the old session cookie after sign-out on replica 1") {
				if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, hub.PublicURL+"/hub/api/oauth2/authorize?") {
					t.Errorf("replica %d sends a signed-out browser to %q, want the Hub's authorize endpoint", i, loc)
				}
			}
		})

		t.Run("a lookup made by one replica serves the others", func(t *testing.T) {
			tok := hub.CreateToken(t, "alice")
			secrets["shared token"] = tok.Token
			if res := replicaDo(withRedis, 0, "/shared", jsonWith("token "+tok.Token)); res.Status != http.StatusOK {
				t.Fatalf("new token on replica 0: want 200, got %s", res)
			}
			for i := 1; i < replicaCount; i++ {
				if res := replicaDo(withRedis, i, "/shared", jsonWith("token "+tok.Token)); res.Status != http.StatusOK {
					t.Fatalf("the token on replica %d: want 200, got %s", i, res)
				} else {
					checkIdentity(t, decodeEcho(t, res.Body, "shared lookup"), "alice", "staff", "false")
				}
			}
			if got := counter.Count(http.MethodGet, "/hub/api/user", tok.Token); got != 1 {
				t.Errorf("one token used on %d replicas in turn made %d GET /hub/api/user calls, want 1 (cache_store redis)\nall calls:\n%s",
					replicaCount, got, counter.Summary())
			}
		})

		t.Run("3 replicas x 64 concurrent first requests with one new token make one Hub call", func(t *testing.T) {
			const perReplica = 64
			tok := hub.CreateToken(t, "alice")
			secrets["burst token"] = tok.Token
			mark := balRedis.Mark()
			began := time.Now()
			results := burst(withRedis, replicaCount*perReplica, "/burst", func(int) http.Header { return jsonWith("token " + tok.Token) })
			t.Logf("%d requests in %v", len(results), time.Since(began).Round(time.Millisecond))
			failed := 0
			for i, res := range results {
				if res.Status != http.StatusOK {
					if failed++; failed <= 5 {
						t.Errorf("request %d (replica %d): want 200, got %s", i, i%replicaCount, res)
					}
					continue
				}
				if i < replicaCount {
					checkIdentity(t, decodeEcho(t, res.Body, "burst"), "alice", "staff", "false")
				}
			}
			if failed > 0 {
				t.Errorf("%d of %d requests failed", failed, len(results))
			}
			if got := PerReplica(balRedis.Since(mark), replicaCount); !slices.Equal(got, []int{perReplica, perReplica, perReplica}) {
				t.Errorf("requests per replica %v, want %d each", got, perReplica)
			}
			if got := counter.Count(http.MethodGet, "/hub/api/user", tok.Token); got != 1 {
				t.Errorf("%d replicas x %d concurrent first requests with one token made %d GET /hub/api/user calls, want 1\nall calls:\n%s",
					replicaCount, perReplica, got, counter.Summary())
			}
		})

		t.Run("ready on every replica", func(t *testing.T) {
			checkEveryReplica(t, withRedis, "/ready", nil, http.StatusOK, "/ready")
		})
	})

	withRedis.CheckLogsOmit(t, secrets)
	withCookie.CheckLogsOmit(t, secrets)
}

// TestReplicasDjango runs deployments of three replicas in front of a real
// Django + DOT whose access tokens live 8 seconds, so that hubgate refreshes
// them (it refreshes 5 seconds early, see session.refreshEarly). DOT rotates
// refresh tokens: a second refresh with the same refresh token fails, which
// would log the user out. With cache_store redis the replicas share one
// refresh: a burst of requests with one expired session, spread over all
// replicas, makes exactly one refresh at DOT and every request is served —
// with sessions in Redis, and with sessions in the cookie.
func TestReplicasDjango(t *testing.T) {
	RequireDjango(t, fullSuite)
	t.Parallel()
	const tokenSeconds = 8
	untilRefresh := (tokenSeconds-5)*time.Second + 700*time.Millisecond
	rds := redistest.Start(t)
	up := StartUpstream(t)
	specs := []struct {
		name, sessionStore, user string
	}{
		{"session_store redis, cache_store redis", "redis", "alice"},
		{"session_store cookie, cache_store redis", "cookie", "bob"},
	}
	bals := make([]*Balancer, len(specs))
	cfg := DjangoConfig{AccessTokenExpireSeconds: tokenSeconds}
	for i := range specs {
		bals[i] = StartBalancer(t)
		cfg.RedirectURIs = append(cfg.RedirectURIs, DjangoGateRedirectURL(bals[i].Addr))
	}
	dj := StartDjango(t, cfg)
	deployments := make([]*Replicas, len(specs))
	tokenCounters := make([]*CountingProxy, len(specs)) // DOT's token endpoint, per deployment
	for i, s := range specs {
		tokenCounters[i] = StartCountingProxy(t, dj.URL)
		extra := storeEnv(rds, s.sessionStore, "redis")
		extra["HUBGATE_TOKEN_URL"] = tokenCounters[i].URL + "/o/token/"
		deployments[i] = StartReplicas(t, bals[i], replicaCount, djangoReplicaEnv(dj, up, bals[i], randomSecret(), extra))
	}
	userdata := djangoGateSpec{clientAuth: djangoAuthHeader}

	for i, s := range specs {
		r, tokenCalls := deployments[i], tokenCounters[i]
		t.Run(s.name, func(t *testing.T) {
			t.Parallel() // different users: the DOT token counts do not mix
			who := userdata.identityOf(dj, s.user)
			check := func(t *testing.T, e EchoedRequest, what string) { djangoCheckIdentity(t, e, who, what) }
			b := NewDjangoBrowser(t, dj, s.user)
			page := crossReplicaLogin(t, r, b, djangoOpen, "/start?x=1", 0, 1)
			check(t, decodeEcho(t, page.Body, "after login"), "after login")
			checkSpread(t, r, b, 2, check)

			// 48 clients (tabs) share the session; each keeps the cookie the
			// last answer set, as a browser would.
			const clients = 16 * replicaCount
			cookies := make([]string, clients)
			for c := range cookies {
				cookies[c] = replicaSessionCookie(t, b, r)
			}
			for round := 1; round <= 2; round++ {
				djangoWait(t, untilRefresh, "the access token is due for a refresh")
				before := dj.TokenCounts(t, s.user)
				posts := tokenCalls.Count(http.MethodPost, "/o/token/", "")
				results := burst(r, clients, fmt.Sprintf("/round/%d", round), func(c int) http.Header { return jsonWith(cookies[c]) })
				failed := 0
				for c, res := range results {
					if res.Status != http.StatusOK {
						if failed++; failed <= 5 {
							t.Errorf("round %d, client %d (replica %d): want 200, got %s", round, c, c%replicaCount, res)
						}
						continue
					}
					check(t, decodeEcho(t, res.Body, "burst"), fmt.Sprintf("round %d client %d", round, c))
					if res.clearsSession() {
						t.Errorf("round %d, client %d (replica %d): the answer deletes the session cookie", round, c, c%replicaCount)
					}
					if set := res.sessionSet(); set != "" {
						cookies[c] = set
					}
				}
				if failed > 0 {
					t.Errorf("round %d: %d of %d clients were refused or logged out", round, failed, clients)
				}
				after := dj.TokenCounts(t, s.user)
				if got := after.Refresh - before.Refresh; got != 1 {
					t.Errorf("round %d: %d concurrent requests over %d replicas made %d refreshes at DOT, want 1 (before %+v, after %+v)",
						round, clients, replicaCount, got, before, after)
				}
				if got := tokenCalls.Count(http.MethodPost, "/o/token/", "") - posts; got != 1 {
					t.Errorf("round %d: the replicas made %d requests to DOT's token endpoint, want 1\n%s", round, got, tokenCalls.Summary())
				}
			}
			// Everyone is still logged in, on every replica.
			for c := 0; c < clients; c += 7 {
				for i := range r.Gates {
					if res := replicaDo(r, i, "/after", jsonWith(cookies[c])); res.Status != http.StatusOK {
						t.Errorf("after the refreshes, client %d on replica %d: want 200, got %s", c, i, res)
					}
				}
			}
			r.CheckLogsOmit(t, map[string]string{"client secret": dj.ClientSecret})
		})
	}
}

// redisUnavailable begins the warnings provider/ logs, at most once a
// minute each, when the shared cache (or refresher) cannot reach Redis and
// falls back to its in-process state: "Redis unavailable, using the
// in-process identity cache only".
const redisUnavailable = "Redis unavailable"

// redisFallbackWarnings returns a replica's "Redis unavailable" warnings.
func redisFallbackWarnings(g *Gate) []string {
	return logLines(g, "WARN", redisUnavailable)
}

// logMessage is the message of a console-format log line (time, level,
// caller, message, fields, tab-separated; the caller may be absent).
func logMessage(line string) string {
	fields := strings.Split(line, "\t")
	for i, f := range fields {
		if f == "WARN" || f == "ERROR" {
			rest := fields[i+1:]
			if len(rest) > 1 && strings.Contains(rest[0], ".go:") {
				rest = rest[1:]
			}
			if len(rest) > 0 {
				return rest[0]
			}
		}
	}
	return line
}

// checkLoggedOnce fails if a warning or error whose line mentions about
// shows up more than once in g's log: within a minute, each is logged once,
// not once per request.
func checkLoggedOnce(t *testing.T, g *Gate, who string, within time.Duration, about string) {
	t.Helper()
	seen := map[string]int{}
	for _, level := range []string{"\tWARN\t", "\tERROR\t"} {
		for _, line := range logLines(g, level, about) {
			seen[logMessage(line)]++
		}
	}
	for msg, n := range seen {
		if n > 1 {
			t.Errorf("%s logged %q %d times within %v, want at most once a minute", who, msg, n, within.Round(time.Second))
		}
	}
}

// TestReplicasRedisDown stops Redis under two deployments in front of one
// Hub. With session_store redis, the sessions are out of reach: requests with
// a session get a clear 503 (not a redirect to log in again, not a cleared
// cookie) and /ready fails on every replica until Redis is back. With only
// cache_store redis, nothing is lost: hubgate falls back to its in-process
// cache, logged-in requests, new tokens and new logins keep working, and
// each replica warns about Redis once, not on every request.
func TestReplicasRedisDown(t *testing.T) {
	RequireHub(t, fullSuite)
	t.Parallel()
	rdsSessions, rdsCache := redistest.Start(t), redistest.Start(t)
	up := StartUpstream(t)
	balSessions, balCache := StartBalancer(t), StartBalancer(t)
	hub := StartHub(t, HubConfig{Services: []HubService{
		{Name: "sessions", OAuthRedirectURI: balSessions.URL + replicaCallbackPath, OAuthNoConfirm: true},
		{Name: "cache", OAuthRedirectURI: balCache.URL + replicaCallbackPath, OAuthNoConfirm: true},
	}})
	sessions := StartReplicas(t, balSessions, replicaCount, hubReplicaEnv(hub, hub.Service(t, "sessions"), up, balSessions,
		hub.APIURL, randomSecret(), storeEnv(rdsSessions, "redis", "redis")))
	cache := StartReplicas(t, balCache, replicaCount, hubReplicaEnv(hub, hub.Service(t, "cache"), up, balCache,
		hub.APIURL, randomSecret(), storeEnv(rdsCache, "cookie", "redis")))

	t.Run("session_store redis", func(t *testing.T) {
		t.Parallel()
		r := sessions
		b := NewBrowser(t, "alice")
		crossReplicaLogin(t, r, b, hubOpen, "/hello", 0, 1)
		cookie := replicaSessionCookie(t, b, r)
		tok := hub.CreateToken(t, "alice")
		checkEveryReplica(t, r, "/api", jsonWith("token "+tok.Token), http.StatusOK, "API token before Redis stops")
		checkEveryReplica(t, r, "/ready", nil, http.StatusOK, "/ready before Redis stops")

		rdsSessions.Stop()
		stopped := time.Now()
		t.Logf("Redis at %s stopped", rdsSessions.Addr)
		for round := range 3 {
			for i, res := range checkEveryReplica(t, r, "/page", navigationWith(cookie), http.StatusServiceUnavailable,
				fmt.Sprintf("navigation with a session, Redis down (round %d)", round)) {
				if res.clearsSession() {
					t.Errorf("replica %d deletes the session cookie while Redis is down", i)
				}
				if strings.Contains(string(res.Body), `"method"`) {
					t.Errorf("replica %d passed the request upstream", i)
				}
			}
			for i, res := range checkEveryReplica(t, r, "/api", jsonWith(cookie), http.StatusServiceUnavailable,
				fmt.Sprintf("API request with a session, Redis down (round %d)", round)) {
				if res.clearsSession() {
					t.Errorf("replica %d deletes the session cookie while Redis is down", i)
				}
				if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
					t.Errorf("replica %d: 503 for an API client with Content-Type %q, want JSON", i, ct)
				}
			}
		}
		for i, g := range r.Gates {
			checkLoggedOnce(t, g, fmt.Sprintf("replica %d", i), time.Since(stopped), "session store unavailable")
		}
		// Token requests need no session; whatever they get, it is not a logout.
		for i := range r.Gates {
			res := replicaDo(r, i, "/api", jsonWith("token "+tok.Token))
			t.Logf("API token on replica %d with Redis down: %d", i, res.Status)
			if res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden {
				t.Errorf("API token on replica %d with Redis down: %s", i, res)
			}
		}
		waitEveryReplica(t, r, "/ready", http.StatusServiceUnavailable, 5*time.Second, "/ready with Redis down")

		rdsSessions.Restart()
		t.Logf("Redis at %s restarted (empty)", rdsSessions.Addr)
		waitEveryReplica(t, r, "/ready", http.StatusOK, 15*time.Second, "/ready after Redis is back")
		// The restarted Redis is empty (no persistence): the old session is
		// gone, so the user logs in again — across replicas, as before.
		res := replicaDo(r, 2, "/page", navigationWith(cookie))
		t.Logf("the old session after Redis restarted empty: %s", res)
		b = NewBrowser(t, "alice")
		page := crossReplicaLogin(t, r, b, hubOpen, "/again", 2, 0)
		checkIdentity(t, decodeEcho(t, page.Body, "login after Redis is back"), "alice", "staff", "false")
		checkEveryReplica(t, r, "/api", jsonWith(replicaSessionCookie(t, b, r)), http.StatusOK, "the new session")
	})

	t.Run("only cache_store redis", func(t *testing.T) {
		t.Parallel()
		r := cache
		b := NewBrowser(t, "alice")
		crossReplicaLogin(t, r, b, hubOpen, "/hello", 0, 2)
		cookie := replicaSessionCookie(t, b, r)
		known := hub.CreateToken(t, "alice")
		checkEveryReplica(t, r, "/api", jsonWith("token "+known.Token), http.StatusOK, "API token before Redis stops")
		fresh := make([]HubToken, 4)
		for i := range fresh {
			fresh[i] = hub.CreateToken(t, "alice")
		}
		for i, g := range r.Gates {
			if w := redisFallbackWarnings(g); len(w) > 0 {
				t.Fatalf("replica %d warns about Redis before it stopped:\n%s", i, strings.Join(w, "\n"))
			}
		}

		rdsCache.Stop()
		t.Logf("Redis at %s stopped", rdsCache.Addr)
		began := time.Now()
		for round, tok := range fresh {
			checkEveryReplica(t, r, "/page", jsonWith(cookie), http.StatusOK, fmt.Sprintf("the session, Redis down (round %d)", round))
			checkEveryReplica(t, r, "/api", jsonWith("token "+known.Token), http.StatusOK, fmt.Sprintf("a cached token, Redis down (round %d)", round))
			// A token no replica has seen: a miss in memory, Redis fails,
			// the Hub answers.
			for _, res := range checkEveryReplica(t, r, "/api", jsonWith("token "+tok.Token), http.StatusOK,
				fmt.Sprintf("a new token, Redis down (round %d)", round)) {
				if res.Status == http.StatusOK {
					checkIdentity(t, decodeEcho(t, res.Body, "new token"), "alice", "staff", "false")
				}
			}
			checkEveryReplica(t, r, "/ready", nil, http.StatusOK, fmt.Sprintf("/ready, Redis down (round %d)", round))
			time.Sleep(300 * time.Millisecond)
		}
		// A whole new login, across replicas, with Redis down.
		page := crossReplicaLogin(t, r, NewBrowser(t, "alice"), hubOpen, "/new", 1, 2)
		checkIdentity(t, decodeEcho(t, page.Body, "login with Redis down"), "alice", "staff", "false")

		time.Sleep(300 * time.Millisecond) // hubgate's buffered log
		t.Logf("%v of requests with Redis down", time.Since(began).Round(time.Millisecond))
		for i, g := range r.Gates {
			w := redisFallbackWarnings(g)
			if len(w) == 0 {
				t.Errorf("replica %d served with Redis down without a %q warning", i, redisUnavailable)
			}
			for _, line := range w {
				t.Logf("replica %d: %s", i, line)
			}
			checkLoggedOnce(t, g, fmt.Sprintf("replica %d", i), time.Since(began), "redis")
			if errs := logLines(g, "\tERROR\t"); len(errs) > 0 {
				t.Errorf("replica %d logged %d errors with Redis down, want none (the cache falls back):\n%s",
					i, len(errs), strings.Join(errs, "\n"))
			}
		}

		rdsCache.Restart()
		checkEveryReplica(t, r, "/ready", nil, http.StatusOK, "/ready after Redis is back")
		checkEveryReplica(t, r, "/page", jsonWith(cookie), http.StatusOK, "the session after Redis is back")
	})
}
