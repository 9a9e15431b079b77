//go:build integration

package integration

import (
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Fault injection: the Hub down, killed or slow, the upstream down or slow,
// SIGTERM under load, a restart, and the metrics that show it. Every test
// runs a real JupyterHub 3.0 and the built hubgate; faults come from killing
// real processes, from addresses where nothing listens, or from delaying
// proxies and upstreams defined in fault_harness.go.

// faultMargin is added to every timing bound: other suites may share the
// machine's two cores.
const faultMargin = 1500 * time.Millisecond

// faultHub starts a Hub with one external service "gate" whose OAuth
// callback is http://GATEADDR/oauth2/callback.
func faultHub(t *testing.T, gateAddr string) (*Hub, HubService) {
	t.Helper()
	hub := StartHub(t, HubConfig{Services: []HubService{
		{Name: "gate", OAuthRedirectURI: "http://" + gateAddr + "/oauth2/callback", OAuthNoConfirm: true},
	}})
	return hub, hub.Service(t, "gate")
}

// faultCookieHeader is the Cookie header the browser sends to rawURL.
func faultCookieHeader(b *Browser, rawURL string) string {
	var parts []string
	for _, c := range b.Cookies(rawURL) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// TestFaultHubDownAtStart starts hubgate with nothing listening at the Hub
// API address: it must come up, say it is not ready, answer API clients with
// a prompt 502 JSON and browsers with a login redirect (and, once the Hub
// login is done and the code cannot be exchanged, a clean 502 page).
func TestFaultHubDownAtStart(t *testing.T) {
	RequireHub(t, fullSuite)
	up := StartUpstream(t)
	addr := freeAddr(t)
	hub, svc := faultHub(t, addr)
	tok := hub.CreateToken(t, "alice")
	deadAPI := "http://" + freeAddr(t) + "/hub/api" // nothing listens there
	g := StartHubgate(t, addr, jupyterhubEnv(hub, svc, up, addr, map[string]string{
		"HUBGATE_HUB_API_URL":      deadAPI,
		"HUBGATE_PROVIDER_TIMEOUT": "3s",
	}))
	// StartHubgate has already seen /ping answer 200.
	bound := 3*time.Second + faultMargin

	t.Run("ready is 503", func(t *testing.T) {
		r := faultDo(faultClient, g.URL+"/ready", acceptJSONOnly, "", "")
		checkFaultJSON(t, "GET /ready (JSON)", r, http.StatusServiceUnavailable)
		r = faultDo(faultClient, g.URL+"/ready", navigationAccept, "", "")
		checkFaultPage(t, "GET /ready (browser)", r, http.StatusServiceUnavailable)
		if r := faultDo(faultClient, g.URL+"/ping", acceptJSONOnly, "", ""); r.Status != http.StatusOK {
			t.Errorf("GET /ping: %s, want 200", r)
		}
	})

	t.Run("API token gets a prompt 502 JSON", func(t *testing.T) {
		for i := range 3 { // a failed lookup must not be remembered as an invalid token
			r := faultDo(faultClient, g.URL+"/api/data", acceptJSONOnly, "token "+tok.Token, "")
			checkFaultJSON(t, fmt.Sprintf("API request %d with alice's token", i+1), r, http.StatusBadGateway)
			if r.Duration > bound {
				t.Errorf("API request %d took %v, want < %v", i+1, r.Duration, bound)
			}
		}
		r := faultDo(faultClient, g.URL+"/oauth2/userinfo", acceptJSONOnly, "Bearer "+tok.Token, "")
		checkFaultJSON(t, "userinfo with alice's token", r, http.StatusBadGateway)
	})

	t.Run("browser with a token gets a clean 502 page", func(t *testing.T) {
		r := faultDo(faultClient, g.URL+"/page", navigationAccept, "token "+tok.Token, "")
		checkFaultPage(t, "navigation with alice's token", r, http.StatusBadGateway)
	})

	t.Run("browser navigation is sent to the Hub login", func(t *testing.T) {
		r := faultDo(faultClient, g.URL+"/hello", navigationAccept, "", "")
		if r.Err != nil || r.Status != http.StatusFound {
			t.Fatalf("navigation without a session: %s, want 302 to the Hub", r)
		}
		loc, err := url.Parse(r.Header.Get("Location"))
		if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != hub.PublicURL+"/hub/api/oauth2/authorize" {
			t.Errorf("redirect to %q, want %s/hub/api/oauth2/authorize?...", r.Header.Get("Location"), hub.PublicURL)
		}
		checkFaultClean(t, "login redirect", r.Body)
	})

	t.Run("login completes at the Hub, then a clean 502 page", func(t *testing.T) {
		page := NewBrowser(t, "alice").Open(g.URL + "/hello")
		if !page.LoggedIn || page.StatusCode != http.StatusBadGateway {
			t.Fatalf("want the Hub login, then 502 at the callback (the code cannot be exchanged)\n%s", page)
		}
		if page.URL.Host != addr || page.URL.Path != "/oauth2/callback" {
			t.Errorf("ended on %s, want hubgate's callback", page.URL)
		}
		checkFaultPage(t, "callback with the Hub API down",
			faultResult{Status: page.StatusCode, Header: page.Header, Body: page.Body}, http.StatusBadGateway)
		if len(page.Trail) > 8 {
			t.Errorf("%d requests for one login: a redirect loop?\n%s", len(page.Trail), page)
		}
	})

	if lines := faultLogLines(g, "identity lookup failed"); len(lines) == 0 {
		t.Errorf("hubgate did not log the failed lookups")
	}
	checkFaultLog(t, g)
	g.CheckLogOmits(t, map[string]string{"alice's token": tok.Token, "client secret": svc.APIToken})
}

// TestFaultHubKilled kills the Hub (SIGKILL to its process) while two
// hubgates hold alice's identity in their caches: one plain (the cache TTL
// is all there is) and one with stale_if_error.
func TestFaultHubKilled(t *testing.T) {
	RequireHub(t, fullSuite)
	const ttl = 6 * time.Second
	up := StartUpstream(t)
	addrA, addrB, metricsB := freeAddr(t), freeAddr(t), freeAddr(t)
	hub, svc := faultHub(t, addrA)
	gateA := StartHubgate(t, addrA, jupyterhubEnv(hub, svc, up, addrA, map[string]string{
		"HUBGATE_CACHE_TTL": ttl.String(),
	}))
	gateB := StartHubgate(t, addrB, jupyterhubEnv(hub, svc, up, addrB, map[string]string{
		"HUBGATE_CACHE_TTL":        ttl.String(),
		"HUBGATE_STALE_IF_ERROR":   "30s",
		"HUBGATE_METRICS_LISTEN":   metricsB,
		"HUBGATE_PROVIDER_TIMEOUT": "3s",
	}))
	tok := hub.CreateToken(t, "alice")
	fresh := hub.CreateToken(t, "alice") // never shown to hubgate before the kill
	alice := NewBrowser(t, "alice")

	// Fill the caches: alice's browser session on A (the callback looks the
	// session's token up) and her API token on A and B.
	cachedFrom := time.Now()
	if page := alice.Open(gateA.URL + "/before"); page.StatusCode != http.StatusOK || !page.LoggedIn {
		t.Fatalf("browser login on A: want 200\n%s", page)
	}
	cookie := faultCookieHeader(alice, gateA.URL)
	for _, g := range []*Gate{gateA, gateB} {
		r := faultDo(faultClient, g.URL+"/before", acceptJSONOnly, "token "+tok.Token, "")
		if r.Status != http.StatusOK {
			t.Fatalf("token on %s before the kill: %s", g.URL, r)
		}
		checkIdentity(t, decodeEcho(t, r.Body, "before the kill"), "alice", "staff", "false")
	}
	cachedUntil := time.Now() // every lookup happened in [cachedFrom, cachedUntil]

	faultKillHub(t, hub)
	killed := time.Now()
	t.Logf("Hub killed %v after the first lookup", killed.Sub(cachedFrom).Round(time.Millisecond))

	t.Run("within the TTL the cached identity works", func(t *testing.T) {
		for _, g := range []*Gate{gateA, gateB} {
			r := faultDo(faultClient, g.URL+"/within", acceptJSONOnly, "token "+tok.Token, "")
			if r.Status != http.StatusOK {
				t.Errorf("cached token on %s with the Hub dead: %s, want 200", g.URL, r)
			} else {
				checkIdentity(t, decodeEcho(t, r.Body, "within TTL"), "alice", "staff", "false")
			}
		}
		r := faultDo(faultClient, gateA.URL+"/within-page", navigationAccept, "", cookie)
		if r.Status != http.StatusOK {
			t.Errorf("browser session on A with the Hub dead: %s, want 200", r)
		} else {
			checkIdentity(t, decodeEcho(t, r.Body, "session within TTL"), "alice", "staff", "false")
		}
		if time.Since(cachedFrom) >= ttl {
			t.Fatalf("the checks within the TTL ended %v after the first lookup, past the TTL %v: the machine is too slow for this test",
				time.Since(cachedFrom), ttl)
		}
	})

	t.Run("an uncached token gets 502", func(t *testing.T) {
		for _, g := range []*Gate{gateA, gateB} {
			r := faultDo(faultClient, g.URL+"/new", acceptJSONOnly, "token "+fresh.Token, "")
			checkFaultJSON(t, "new token on "+g.URL, r, http.StatusBadGateway)
			if r.Duration > 3*time.Second+faultMargin {
				t.Errorf("new token on %s took %v", g.URL, r.Duration)
			}
		}
	})

	// Past the TTL of every cached lookup.
	time.Sleep(time.Until(cachedUntil.Add(ttl + 500*time.Millisecond)))

	t.Run("after the TTL: 502 without stale_if_error", func(t *testing.T) {
		r := faultDo(faultClient, gateA.URL+"/after", acceptJSONOnly, "token "+tok.Token, "")
		checkFaultJSON(t, "cached token on A past the TTL", r, http.StatusBadGateway)
		r = faultDo(faultClient, gateA.URL+"/after-page", navigationAccept, "", cookie)
		checkFaultPage(t, "browser session on A past the TTL (no login redirect while the Hub is down)", r, http.StatusBadGateway)
	})

	t.Run("after the TTL: stale_if_error keeps serving", func(t *testing.T) {
		// Ask a few times over several seconds, well past the TTL.
		for i := 0; i < 4; i++ {
			r := faultDo(faultClient, gateB.URL+"/stale", acceptJSONOnly, "token "+tok.Token, "")
			if r.Status != http.StatusOK {
				t.Errorf("cached token on B %v past the TTL with stale_if_error=30s: %s, want 200",
					time.Since(cachedUntil.Add(ttl)).Round(time.Millisecond), r)
			} else {
				checkIdentity(t, decodeEcho(t, r.Body, "stale"), "alice", "staff", "false")
			}
			time.Sleep(time.Second)
		}
		r := faultDo(faultClient, gateB.URL+"/stale-new", acceptJSONOnly, "token "+fresh.Token, "")
		checkFaultJSON(t, "new token on B past the TTL", r, http.StatusBadGateway)

		m := scrapeFault(t, metricsB)
		if n, _ := m.Get("hubgate_cache_lookups_total", map[string]string{"result": "stale"}); n < 4 {
			t.Errorf("hubgate_cache_lookups_total{result=\"stale\"} = %v, want >= 4\n%s", n, m.Grep("hubgate_cache"))
		}
		if n, _ := m.Get("hubgate_auth_decisions_total", map[string]string{"result": "provider_down"}); n < 2 {
			t.Errorf("hubgate_auth_decisions_total{result=\"provider_down\"} = %v, want >= 2\n%s", n, m.Grep("hubgate_auth"))
		}
	})

	t.Run("ready is 503", func(t *testing.T) {
		for _, g := range []*Gate{gateA, gateB} {
			checkFaultJSON(t, "GET /ready on "+g.URL, faultDo(faultClient, g.URL+"/ready", acceptJSONOnly, "", ""),
				http.StatusServiceUnavailable)
		}
	})
	for _, g := range []*Gate{gateA, gateB} {
		checkFaultLog(t, g)
		g.CheckLogOmits(t, map[string]string{"token": tok.Token, "fresh token": fresh.Token})
	}
}

// TestFaultHubSlow puts a proxy that holds GET /hub/api/user for 4s between
// hubgate and the Hub, with provider_timeout 1s and provider_max_inflight 4:
// a burst of 50 new tokens must fail fast, never have more than 4 lookups
// waiting at the Hub, and leave no goroutines behind.
func TestFaultHubSlow(t *testing.T) {
	RequireHub(t, fullSuite)
	const (
		timeout  = time.Second
		inflight = 4
		burst    = 50
		delay    = 4 * time.Second
	)
	up := StartUpstream(t)
	addr, metrics := freeAddr(t), freeAddr(t)
	hub, svc := faultHub(t, addr)
	slow := startFaultDelayProxy(t, hub.APIURL, "/hub/api/user", delay)
	g := StartHubgate(t, addr, jupyterhubEnv(hub, svc, up, addr, map[string]string{
		"HUBGATE_HUB_API_URL":           slow.URL + "/hub/api",
		"HUBGATE_PROVIDER_TIMEOUT":      timeout.String(),
		"HUBGATE_PROVIDER_MAX_INFLIGHT": fmt.Sprint(inflight),
		"HUBGATE_METRICS_LISTEN":        metrics,
	}))
	baseline := faultGoroutines(t, metrics)

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: burst}}
	results := make([]faultResult, burst)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range burst {
		token := "slow-" + randomSecret() // new to hubgate; the Hub never gets to answer
		wg.Go(func() {
			<-start
			results[i] = faultDo(client, g.URL+"/slow", acceptJSONOnly, "token "+token, "")
		})
	}
	began := time.Now()
	close(start)
	time.Sleep(timeout / 2)
	during := faultGoroutines(t, metrics)
	wg.Wait()
	elapsed := time.Since(began)
	client.CloseIdleConnections()

	var slowest time.Duration
	for i, r := range results {
		checkFaultJSON(t, fmt.Sprintf("new token %d with the Hub slow", i), r, http.StatusBadGateway)
		slowest = max(slowest, r.Duration)
	}
	if slowest > timeout+faultMargin {
		t.Errorf("slowest of %d requests took %v, want <= provider_timeout %v + %v", burst, slowest, timeout, faultMargin)
	}
	const slack = 20 * time.Millisecond
	peak, rawPeak, total, gaveUp := slow.Stats(slack)
	t.Logf("burst of %d new tokens: all answered in %v (slowest %v); the Hub saw %d lookups, at most %d at once (%d before forgiving overlaps < %v with a client's close), hubgate gave up on %d; goroutines %d before, %d during",
		burst, elapsed.Round(time.Millisecond), slowest.Round(time.Millisecond), total, peak, rawPeak, slack, gaveUp, baseline, during)
	if peak > inflight {
		t.Errorf("the Hub saw %d concurrent GET /hub/api/user, want <= provider_max_inflight %d", peak, inflight)
	}
	if total == 0 {
		t.Errorf("the delaying proxy saw no GET /hub/api/user at all")
	}

	// Goroutines return to where they were: nothing waits on the slow Hub.
	// Allowed on top of the baseline: two per connection to the Hub API that
	// hubgate keeps open (its transport's read and write loops; a dial that
	// outlives a cancelled lookup leaves an idle keep-alive connection).
	var after, conns int
	settled := waitFor(15*time.Second, g.proc, func() error {
		after, conns = faultGoroutines(t, metrics), slow.OpenConns()
		if after > baseline+2*conns+5 {
			return fmt.Errorf("go_goroutines %d, want <= baseline %d + 2 x %d open connections to the Hub API + 5", after, baseline, conns)
		}
		return nil
	})
	t.Logf("goroutines after the burst: %d (baseline %d, %d idle connections to the Hub API)", after, baseline, conns)
	if settled != nil {
		t.Errorf("hubgate's goroutines did not return near the baseline: %v", settled)
	}

	// Nothing is stuck: with the Hub fast again, a real token works.
	slow.SetDelay(0)
	tok := hub.CreateToken(t, "alice")
	r := faultDo(faultClient, g.URL+"/recovered", acceptJSONOnly, "token "+tok.Token, "")
	if r.Status != http.StatusOK {
		t.Errorf("alice's token once the Hub is fast again: %s, want 200", r)
	} else {
		checkIdentity(t, decodeEcho(t, r.Body, "recovered"), "alice", "staff", "false")
	}
	checkFaultLog(t, g)
}

// TestFaultUpstream points hubgate at an upstream address where nothing
// listens (502) and at one slower than upstream_timeout (504).
func TestFaultUpstream(t *testing.T) {
	RequireHub(t, fullSuite)
	addrDown, addrSlow := freeAddr(t), freeAddr(t)
	hub, svc := faultHub(t, addrDown)
	tok := hub.CreateToken(t, "alice")
	slow := startFaultSlowUpstream(t, 5*time.Second)
	down := StartHubgate(t, addrDown, jupyterhubEnv(hub, svc, &Upstream{URL: "http://" + freeAddr(t)}, addrDown, nil))
	tooSlow := StartHubgate(t, addrSlow, jupyterhubEnv(hub, svc, &Upstream{URL: slow.URL}, addrSlow, map[string]string{
		"HUBGATE_UPSTREAM_TIMEOUT": "1s",
	}))
	auth := "token " + tok.Token

	t.Run("upstream down: 502", func(t *testing.T) {
		r := faultDo(faultClient, down.URL+"/x", acceptJSONOnly, auth, "")
		checkFaultJSON(t, "API request, upstream down", r, http.StatusBadGateway)
		if r.Duration > faultMargin {
			t.Errorf("took %v with a refused connection", r.Duration)
		}
		checkFaultPage(t, "navigation, upstream down", faultDo(faultClient, down.URL+"/x", navigationAccept, auth, ""), http.StatusBadGateway)
	})

	t.Run("upstream slower than upstream_timeout: 504", func(t *testing.T) {
		for _, accept := range []string{acceptJSONOnly, navigationAccept} {
			r := faultDo(faultClient, tooSlow.URL+"/x", accept, auth, "")
			if accept == acceptJSONOnly {
				checkFaultJSON(t, "API request, slow upstream", r, http.StatusGatewayTimeout)
			} else {
				checkFaultPage(t, "navigation, slow upstream", r, http.StatusGatewayTimeout)
			}
			if r.Duration < time.Second || r.Duration > time.Second+faultMargin {
				t.Errorf("504 after %v, want about upstream_timeout (1s)", r.Duration)
			}
		}
	})

	for _, g := range []*Gate{down, tooSlow} {
		if r := faultDo(faultClient, g.URL+"/ping", acceptJSONOnly, "", ""); r.Status != http.StatusOK {
			t.Errorf("%s/ping after the upstream failures: %s", g.URL, r)
		}
		if len(faultLogLines(g, "upstream failed")) == 0 {
			t.Errorf("%s did not log the upstream failures", g.URL)
		}
		checkFaultLog(t, g)
	}
}

// faultLoadRecord is one request of the SIGTERM load.
type faultLoadRecord struct {
	start, end time.Time
	status     int
	err        error
}

// TestFaultSIGTERMUnderLoad sends SIGTERM to hubgate while 50 keep-alive
// clients keep it busy with 300ms requests: every request that reached the
// upstream is answered 200, nothing gets a 5xx, hubgate exits 0 and then
// refuses connections.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	RequireHub(t, fullSuite)
	const (
		clients  = 50
		work     = 300 * time.Millisecond
		sigAfter = 1200 * time.Millisecond
	)
	addr := freeAddr(t)
	hub, svc := faultHub(t, addr)
	tok := hub.CreateToken(t, "alice")
	up := startFaultSlowUpstream(t, work)
	g := StartHubgate(t, addr, jupyterhubEnv(hub, svc, &Upstream{URL: up.URL}, addr, nil))
	if r := faultDo(faultClient, g.URL+"/warm", acceptJSONOnly, "token "+tok.Token, ""); r.Status != http.StatusOK {
		t.Fatalf("warm-up request: %s", r)
	}
	warm := up.answered.Load()

	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients},
	}
	defer client.CloseIdleConnections()
	var sigterm atomic.Int64 // UnixNano of the SIGTERM, 0 before
	records := make([][]faultLoadRecord, clients)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range clients {
		wg.Go(func() {
			for {
				if s := sigterm.Load(); s != 0 && time.Since(time.Unix(0, s)) > 5*time.Second {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, g.URL+"/load", nil)
				req.Header.Set("Authorization", "token "+tok.Token)
				req.Header.Set("Accept", acceptJSONOnly)
				rec := faultLoadRecord{start: time.Now()}
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					rec.status = resp.StatusCode
				}
				rec.end, rec.err = time.Now(), err
				records[i] = append(records[i], rec)
				if err != nil {
					return // refused from now on
				}
			}
		})
	}
	time.Sleep(sigAfter)
	sigAt := time.Now()
	sigterm.Store(sigAt.UnixNano())
	faultSignal(t, g, syscall.SIGTERM)

	// The listener closes at once, while requests are still in flight.
	var refusedAfter time.Duration
	for time.Since(sigAt) < 5*time.Second {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refusedAfter = time.Since(sigAt)
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	exitErr := faultWaitExit(t, g, 15*time.Second)
	exitedAfter := time.Since(sigAt)
	wg.Wait()

	var ok, inFlight, errorsAfter int
	var statuses []string
	var sampleErrs []string
	for i, recs := range records {
		for _, r := range recs {
			switch {
			case r.err != nil:
				if r.end.Before(sigAt) {
					t.Errorf("client %d: request failed before the SIGTERM: %v", i, r.err)
				} else if !faultIsConnError(r.err) {
					t.Errorf("client %d: request failed after the SIGTERM with %v, want a connection error (refused/closed), not a timeout", i, r.err)
				}
				errorsAfter++
				if len(sampleErrs) < 3 {
					sampleErrs = append(sampleErrs, r.err.Error())
				}
			case r.status != http.StatusOK:
				statuses = append(statuses, fmt.Sprintf("client %d: %d at %v", i, r.status, r.end.Sub(sigAt)))
			default:
				ok++
				if r.start.Before(sigAt) && r.end.After(sigAt) {
					inFlight++
				}
			}
		}
	}
	reached := up.answered.Load() - warm
	t.Logf("%d clients, SIGTERM after %v: %d answered 200 (%d of them in flight at the SIGTERM), %d connection errors after it (e.g. %q); "+
		"upstream answered %d; connections refused %v after the SIGTERM; hubgate exited after %v (%v)",
		clients, sigAt.Sub(began).Round(time.Millisecond), ok, inFlight, errorsAfter, sampleErrs,
		reached, refusedAfter.Round(time.Millisecond), exitedAfter.Round(time.Millisecond), exitErr)
	if len(statuses) > 0 {
		t.Errorf("%d responses were not 200: %v", len(statuses), statuses)
	}
	if int64(ok) != reached {
		t.Errorf("the upstream answered %d requests but clients got %d 200s: accepted requests were dropped", reached, ok)
	}
	if inFlight < clients/2 {
		t.Errorf("only %d requests were in flight at the SIGTERM and completed, want most of the %d clients'", inFlight, clients)
	}
	if exitErr != nil {
		t.Errorf("hubgate exited with %v after SIGTERM, want status 0", exitErr)
	}
	if refusedAfter == 0 {
		t.Errorf("hubgate still accepted connections 5s after the SIGTERM")
	}
	// After the exit, a new connection is refused.
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil || !faultIsConnError(err) {
		t.Errorf("dial %s after hubgate exited: %v, want connection refused", addr, err)
	}
	if len(faultLogLines(g, "shutting down")) == 0 {
		t.Errorf("hubgate did not log its shutdown")
	}
	// Every request hubgate logged as served was received by a client.
	if logged := len(faultLogLines(g, "/load", "200")); logged != ok {
		t.Errorf("hubgate logged %d served /load requests, clients received %d", logged, ok)
	}
	checkFaultLog(t, g)
}

// TestFaultRestartKeepsSessions logs alice in through the browser, replaces
// hubgate with a new process on the same port and cookie secret, and checks
// her cookie still works without a login; a process with another secret
// sends her to log in instead.
func TestFaultRestartKeepsSessions(t *testing.T) {
	RequireHub(t, fullSuite)
	up := StartUpstream(t)
	addr := freeAddr(t)
	hub, svc := faultHub(t, addr)
	env := jupyterhubEnv(hub, svc, up, addr, nil) // one fixed HUBGATE_COOKIE_SECRET
	first := StartHubgate(t, addr, env)
	alice := NewBrowser(t, "alice")
	page := alice.Open(first.URL + "/before")
	if page.StatusCode != http.StatusOK || !page.LoggedIn {
		t.Fatalf("browser login: want 200\n%s", page)
	}
	checkIdentity(t, decodeEcho(t, page.Body, "before the restart"), "alice", "staff", "false")

	faultStopGate(t, first)
	if err := first.proc.waitErr; err != nil {
		t.Errorf("first hubgate exited with %v after SIGTERM, want status 0", err)
	}
	second := StartHubgate(t, addr, env)
	page = alice.Open(second.URL + "/after")
	if page.StatusCode != http.StatusOK || page.LoggedIn || len(page.Trail) != 1 {
		t.Fatalf("after the restart: want 200 straight from the session cookie, without a login\n%s", page)
	}
	checkIdentity(t, decodeEcho(t, page.Body, "after the restart"), "alice", "staff", "false")
	req, _ := http.NewRequest(http.MethodGet, second.URL+"/oauth2/userinfo", nil)
	req.Header.Set("Accept", acceptJSONOnly)
	if info := alice.Do(req); info.StatusCode != http.StatusOK || !strings.Contains(string(info.Body), `"alice"`) {
		t.Errorf("userinfo after the restart: want alice\n%s", info)
	}

	// Control: the cookie is only good with the secret that made it.
	cookie := faultCookieHeader(alice, second.URL)
	faultStopGate(t, second)
	other := maps.Clone(env)
	other["HUBGATE_COOKIE_SECRET"] = randomSecret()
	third := StartHubgate(t, addr, other)
	r := faultDo(faultClient, third.URL+"/after", navigationAccept, "", cookie)
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), hub.PublicURL+"/hub/api/oauth2/authorize") {
		t.Errorf("same cookie, another cookie secret: %s, Location %q; want a 302 to the Hub login",
			r, r.Header.Get("Location"))
	}
	for _, g := range []*Gate{first, second, third} {
		checkFaultLog(t, g)
	}
}

// TestFaultMetrics sends known traffic and checks hubgate's counters on
// metrics_listen, and that /metrics is not served on the main address.
func TestFaultMetrics(t *testing.T) {
	RequireHub(t, fullSuite)
	const (
		tokens  = 3
		repeats = 4
	)
	up := StartUpstream(t)
	addr, metrics := freeAddr(t), freeAddr(t)
	hub, svc := faultHub(t, addr)
	g := StartHubgate(t, addr, jupyterhubEnv(hub, svc, up, addr, map[string]string{
		"HUBGATE_METRICS_LISTEN": metrics,
	}))
	var toks []HubToken
	for i := range tokens {
		toks = append(toks, hub.CreateToken(t, []string{"alice", "bob"}[i%2]))
	}
	for range repeats {
		for _, tok := range toks {
			if r := faultDo(faultClient, g.URL+"/m", acceptJSONOnly, "token "+tok.Token, ""); r.Status != http.StatusOK {
				t.Fatalf("token of %s: %s", tok.User, r)
			}
		}
	}
	if r := faultDo(faultClient, g.URL+"/m", acceptJSONOnly, "token not-a-hub-token-"+randomSecret(), ""); r.Status != http.StatusUnauthorized {
		t.Errorf("bad token: %s, want 401", r)
	}

	m := scrapeFault(t, metrics)
	n := float64(tokens * repeats)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hubgate_requests_total", map[string]string{"code": "200", "route": "protected"}, n},
		{"hubgate_requests_total", map[string]string{"code": "401", "route": "protected"}, 1},
		{"hubgate_auth_decisions_total", map[string]string{"result": "authenticated"}, n},
		{"hubgate_auth_decisions_total", map[string]string{"result": "unauthenticated"}, 1},
		{"hubgate_cache_lookups_total", map[string]string{"result": "hit"}, n - tokens},
		{"hubgate_cache_lookups_total", map[string]string{"result": "miss"}, tokens + 1},
		{"hubgate_provider_request_duration_seconds_count", map[string]string{"op": "lookup", "result": "ok"}, tokens},
		{"hubgate_provider_request_duration_seconds_count", map[string]string{"op": "lookup", "result": "invalid"}, 1},
		{"hubgate_upstream_response_seconds_count", map[string]string{"code": "2xx"}, n},
	} {
		got, ok := m.Get(c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if sum, _ := m.Get("hubgate_provider_request_duration_seconds_sum", map[string]string{"op": "lookup", "result": "ok"}); sum <= 0 || sum > 10 {
		t.Errorf("lookup durations sum to %vs for %d lookups", sum, tokens)
	}
	if v, ok := m.Get("go_goroutines", nil); !ok || v < 1 {
		t.Errorf("go_goroutines missing")
	}
	if v, ok := m.Get("process_resident_memory_bytes", nil); !ok || v < 1<<20 {
		t.Errorf("process_resident_memory_bytes = %v", v)
	}
	if t.Failed() {
		t.Logf("hubgate metrics:\n%s", m.Grep("hubgate_"))
	}

	t.Run("not served on the main address", func(t *testing.T) {
		r := faultDo(faultClient, g.URL+"/metrics", "text/plain", "", "")
		if r.Status != http.StatusUnauthorized && r.Status != http.StatusNotFound {
			t.Errorf("GET %s/metrics without credentials: %s, want 401 or 404", g.URL, r)
		}
		// With a token it is an ordinary protected path: the upstream answers.
		r = faultDo(faultClient, g.URL+"/metrics", acceptJSONOnly, "token "+toks[0].Token, "")
		if r.Status == http.StatusOK {
			if e := decodeEcho(t, r.Body, "GET /metrics on the main address"); e.Path != "/metrics" {
				t.Errorf("upstream saw %s", e.Path)
			}
		}
		for _, res := range []faultResult{r, faultDo(faultClient, g.URL+"/metrics", "text/plain", "", "")} {
			if strings.Contains(string(res.Body), "hubgate_requests_total") || strings.Contains(string(res.Body), "# HELP") {
				t.Errorf("the main address serves metrics: %s", res)
			}
		}
	})
	checkFaultLog(t, g)
}
