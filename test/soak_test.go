//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The soak: 5000 keep-alive connections to hubgate, all open for the whole
// run, each sending an API-token request every 2-4 s (about 1700 requests/s
// in all) for HUBGATE_SOAK_DURATION (default 60s), on loopback. Every request
// must succeed, and hubgate's resident memory, sampled from /proc, must stay
// flat.
//
// The connections are raw TCP (HTTP/1.1 written and read by hand), driven by
// 100 goroutines that take turns on 50 connections each, and the upstream is
// the whoami example in its own process: under -race, thousands of live
// goroutines in this test binary would make the race detector, not hubgate,
// the bottleneck.
const (
	soakConns        = 5000
	soakDrivers      = 100 // goroutines taking turns on the connections, 50 each
	soakMinPause     = 2 * time.Second
	soakMaxPause     = 4 * time.Second
	soakDefault      = 60 * time.Second
	soakNoFile       = 65536
	soakRequestLimit = 30 * time.Second // one request's deadline
	// soakGrowth bounds the last third's peak RSS against the first third's.
	soakGrowth = 1.25
)

// soakSample is one reading of hubgate's process.
type soakSample struct {
	at         time.Duration // since the traffic started
	rssKiB     int64
	fds        int
	goroutines int
	requests   int64
}

// soakConn is one client connection, used for one request at a time.
type soakConn struct {
	c    net.Conn
	br   *bufio.Reader
	req  []byte
	user string
	path string
}

// do sends the connection's request and checks the answer: 200, the
// upstream's body naming the token's user, and the connection kept alive.
func (s *soakConn) do() error {
	if err := s.c.SetDeadline(time.Now().Add(soakRequestLimit)); err != nil {
		return err
	}
	if _, err := s.c.Write(s.req); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return fmt.Errorf("read body: %w", err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d: %q", resp.StatusCode, truncate(string(body), 300))
	case resp.Close:
		return errors.New("hubgate closed the keep-alive connection")
	}
	var seen struct {
		User string `json:"user"`
		Path string `json:"path"`
	}
	if err := json.Unmarshal(body, &seen); err != nil || seen.User != s.user || seen.Path != s.path {
		return fmt.Errorf("upstream saw %q, want user %q at %s (%v)", truncate(string(body), 300), s.user, s.path, err)
	}
	return nil
}

// soakDuration is HUBGATE_SOAK_DURATION, or the default.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("HUBGATE_SOAK_DURATION")
	if v == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 30*time.Second { // 15s of warm-up, then enough samples to compare
		t.Fatalf("HUBGATE_SOAK_DURATION=%q: want a duration of at least 30s (e.g. 5m)", v)
	}
	return d
}

// soakRaiseNoFile raises this process's open-files limit (hubgate, a child,
// inherits it; calling Setrlimit also stops Go from restoring the original
// soft limit in children) and restores it when the test ends.
func soakRaiseNoFile(t *testing.T, want uint64) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	lim := syscall.Rlimit{Cur: want, Max: max(want, orig.Max)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		// Not allowed to raise the hard limit (no CAP_SYS_RESOURCE): go as
		// far as it allows.
		t.Logf("cannot raise the hard open-files limit %d to %d (%v); using the hard limit", orig.Max, want, err)
		lim = syscall.Rlimit{Cur: min(want, orig.Max), Max: orig.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("setrlimit(RLIMIT_NOFILE, %d): %v", lim.Cur, err)
		}
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })
	// This process holds the clients' ends and the upstream's; hubgate both
	// its clients' and the upstream's.
	if need := uint64(2*soakConns + 1024); lim.Cur < need {
		t.Fatalf("open-files limit %d (hard %d), need %d for %d connections", lim.Cur, lim.Max, need, soakConns)
	}
	t.Logf("open-files limit raised from %d/%d to %d/%d", orig.Cur, orig.Max, lim.Cur, lim.Max)
}

// TestSoak runs hubgate under steady load from 5000 keep-alive connections
// and checks that nothing fails and memory stays flat.
func TestSoak(t *testing.T) {
	RequireHub(t, fullSuite)
	duration := soakDuration(t)
	interval := min(max(duration/30, 2*time.Second), 10*time.Second)
	warmup := max(15*time.Second, duration/6)
	soakRaiseNoFile(t, soakNoFile)

	// The upstream is the whoami example in a process of its own: neither it
	// nor hubgate carries the race detector's cost (this test binary may).
	up := startSoakWhoami(t)
	addr, metrics := freeAddr(t), freeAddr(t)
	hub, svc := faultHub(t, addr)
	var tokens []HubToken
	for _, user := range []string{"alice", "bob", "alice", "bob"} {
		tokens = append(tokens, hub.CreateToken(t, user))
	}
	g := StartHubgate(t, addr, jupyterhubEnv(hub, svc, &Upstream{URL: up}, addr, map[string]string{
		// Every lookup stays cached for the whole run.
		"HUBGATE_CACHE_TTL":      (duration + 10*time.Minute).String(),
		"HUBGATE_METRICS_LISTEN": metrics,
		// One access-log line per request is not what is soaked here.
		"HUBGATE_LOG_LEVEL": "warn",
	}))
	pid := faultPID(g)
	t.Logf("hubgate pid %d: %s; %d connections, a request every %v-%v on each, for %v (RSS sampled every %v, warm-up %v)",
		pid, procLimit(pid, "Max open files"), soakConns, soakMinPause, soakMaxPause, duration, interval, warmup)
	for _, tok := range tokens { // fill the cache
		r := faultDo(faultClient, g.URL+"/warm", acceptJSONOnly, "token "+tok.Token, "")
		if r.Status != http.StatusOK {
			t.Fatalf("warm-up with %s's token: %s", tok.User, r)
		}
	}

	// Open every connection first, 64 dials at a time.
	conns := make([]*soakConn, soakConns)
	connectStart := time.Now()
	var dialErrs atomic.Int64
	var firstDialErr atomic.Value
	next := make(chan int)
	var dialers sync.WaitGroup
	for range 64 {
		dialers.Go(func() {
			for i := range next {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					dialErrs.Add(1)
					firstDialErr.CompareAndSwap(nil, err.Error())
					continue
				}
				tok := tokens[i%len(tokens)]
				path := fmt.Sprintf("/soak/%d", i)
				conns[i] = &soakConn{
					c:  c,
					br: bufio.NewReader(c),
					req: []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: token " + tok.Token +
						"\r\nAccept: application/json\r\nUser-Agent: hubgate-soak\r\n\r\n"),
					user: tok.User,
					path: path,
				}
			}
		})
	}
	for i := range soakConns {
		next <- i
	}
	close(next)
	dialers.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.c.Close()
			}
		}
	}()
	if n := dialErrs.Load(); n > 0 {
		t.Fatalf("%d of %d connections to hubgate failed, e.g. %v", n, soakConns, firstDialErr.Load())
	}
	t.Logf("%d connections open after %v", soakConns, time.Since(connectStart).Round(time.Millisecond))

	// Traffic.
	var (
		requests   atomic.Int64
		failures   atomic.Int64
		errMu      sync.Mutex
		errSamples []string
		latencies  = make([][]time.Duration, soakDrivers)
		workers    sync.WaitGroup
	)
	perConnCap := int(duration/soakMinPause) + 2 // bounds the total request count
	counts := make([]int, soakConns)             // requests per connection
	start := time.Now()
	end := start.Add(duration)
	for d := range soakDrivers {
		workers.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(d), uint64(start.UnixNano())))
			pause := func() time.Duration {
				return soakMinPause + time.Duration(rnd.Int64N(int64(soakMaxPause-soakMinPause)))
			}
			// This driver's connections and when each is due; the first
			// round is spread over one pause.
			var mine []int
			wake := map[int]time.Time{}
			for i := d; i < soakConns; i += soakDrivers {
				mine = append(mine, i)
				wake[i] = start.Add(time.Duration(rnd.Int64N(int64(soakMaxPause))))
			}
			var lat []time.Duration
			defer func() { latencies[d] = lat }()
			for {
				next := -1
				for _, i := range mine {
					w, ok := wake[i]
					if ok && w.Before(end) && counts[i] < perConnCap && (next < 0 || w.Before(wake[next])) {
						next = i
					}
				}
				if next < 0 {
					return
				}
				time.Sleep(time.Until(wake[next]))
				t0 := time.Now()
				if err := conns[next].do(); err != nil {
					failures.Add(1)
					errMu.Lock()
					if len(errSamples) < 10 {
						errSamples = append(errSamples, fmt.Sprintf("conn %d, request %d, %v after the start: %v",
							next, counts[next]+1, time.Since(start).Round(time.Millisecond), err))
					}
					errMu.Unlock()
					delete(wake, next) // the connection is no longer usable
					continue
				}
				lat = append(lat, time.Since(t0))
				counts[next]++
				requests.Add(1)
				wake[next] = t0.Add(pause())
			}
		})
	}

	// Sample hubgate every interval until the workers are done.
	var samples []soakSample
	scrape := &http.Client{Timeout: 2 * time.Second} // the RSS series must not wait on a busy hubgate
	sample := func() {
		s := soakSample{at: time.Since(start), requests: requests.Load(), goroutines: -1}
		var err error
		if s.rssKiB, err = procStatusKiB(pid, "VmRSS"); err != nil {
			t.Errorf("read hubgate's RSS: %v", err)
		}
		if s.fds, err = procOpenFiles(pid); err != nil {
			t.Errorf("count hubgate's open files: %v", err)
		}
		if r := faultDo(scrape, "http://"+metrics+"/metrics", "text/plain", "", ""); r.Status == http.StatusOK {
			if m, err := parsePromText(string(r.Body)); err == nil {
				if v, ok := m.Get("go_goroutines", nil); ok {
					s.goroutines = int(v)
				}
			}
		}
		samples = append(samples, s)
	}
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	sample()
	tick := time.NewTicker(interval)
	defer tick.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			sample()
		case <-time.After(time.Until(end.Add(2 * soakRequestLimit))):
			t.Fatalf("the clients are still busy %v after the soak should have ended", time.Since(end).Round(time.Second))
		}
	}
	sample()
	elapsed := time.Since(start)

	// The series, for the report.
	var b strings.Builder
	fmt.Fprintf(&b, "hubgate RSS over the soak (pid %d, %d connections):\n", pid, soakConns)
	fmt.Fprintf(&b, "%8s %10s %8s %11s %10s\n", "t", "RSS MiB", "fds", "goroutines", "requests")
	for _, s := range samples {
		fmt.Fprintf(&b, "%7.1fs %10.1f %8d %11d %10d\n", s.at.Seconds(), float64(s.rssKiB)/1024, s.fds, s.goroutines, s.requests)
	}
	t.Log(b.String())

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))].Round(10 * time.Microsecond)
	}
	total := requests.Load()
	t.Logf("%d requests in %v (%.0f/s), %d failed; latency p50 %v, p99 %v, p99.9 %v, max %v",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), failures.Load(),
		pct(0.50), pct(0.99), pct(0.999), pct(1))

	// Nothing failed, every connection was used all along.
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed, e.g.:\n  %s", n, strings.Join(errSamples, "\n  "))
	}
	minPerConn := int(duration / (2 * soakMaxPause))
	short := 0
	for _, n := range counts {
		if n < minPerConn {
			short++
		}
	}
	if short > 0 {
		t.Errorf("%d connections made fewer than %d requests in %v", short, minPerConn, duration)
	}
	if peak := slices.MaxFunc(samples, func(a, b soakSample) int { return a.fds - b.fds }).fds; peak < soakConns {
		t.Errorf("hubgate had at most %d open files, want at least the %d client connections", peak, soakConns)
	}

	// Memory is flat: after the warm-up, the last third's peak is within
	// soakGrowth of the first third's.
	var steady []soakSample
	for _, s := range samples {
		if s.at >= warmup {
			steady = append(steady, s)
		}
	}
	if len(steady) < 6 {
		t.Errorf("only %d samples after the %v warm-up: cannot judge memory", len(steady), warmup)
	} else {
		third := len(steady) / 3
		peakRSS := func(ss []soakSample) int64 {
			return slices.MaxFunc(ss, func(a, b soakSample) int { return int(a.rssKiB - b.rssKiB) }).rssKiB
		}
		first, last := peakRSS(steady[:third]), peakRSS(steady[len(steady)-third:])
		t.Logf("peak RSS after the warm-up: first third %.1f MiB, last third %.1f MiB (x%.3f, limit x%.2f)",
			float64(first)/1024, float64(last)/1024, float64(last)/float64(first), soakGrowth)
		if float64(last) > soakGrowth*float64(first) {
			t.Errorf("hubgate's memory grew: peak RSS %.1f MiB in the last third, %.1f MiB in the first (limit x%.2f)",
				float64(last)/1024, float64(first)/1024, soakGrowth)
		}
	}

	// Every identity came from the cache: one Hub lookup per token.
	m := scrapeFault(t, metrics)
	if v, _ := m.Get("hubgate_provider_request_duration_seconds_count", map[string]string{"op": "lookup", "result": "ok"}); int(v) != len(tokens) {
		t.Errorf("%v Hub lookups, want %d (one per token)\n%s", v, len(tokens), m.Grep("hubgate_"))
	}
	if v, _ := m.Get("hubgate_requests_total", map[string]string{"route": "protected", "code": "200"}); int64(v) != total+int64(len(tokens)) {
		t.Errorf("hubgate counted %v protected 200s, clients got %d (+%d warm-up)", v, total, len(tokens))
	}

	// hubgate lets go of the connections once the clients close them.
	for _, c := range conns {
		c.c.Close()
	}
	var fds int
	if err := waitFor(20*time.Second, g.proc, func() error {
		var err error
		if fds, err = procOpenFiles(pid); err == nil && fds > 400 { // up to 256 idle upstream connections may stay
			err = fmt.Errorf("%d open files", fds)
		}
		return err
	}); err != nil {
		t.Errorf("hubgate after the clients closed their connections: %v", err)
	}
	rss, _ := procStatusKiB(pid, "VmRSS")
	t.Logf("after the clients left: %d open files, RSS %.1f MiB", fds, float64(rss)/1024)
	if r := faultDo(faultClient, g.URL+"/ping", acceptJSONOnly, "", ""); r.Status != http.StatusOK {
		t.Errorf("/ping after the soak: %s", r)
	}
	checkFaultLog(t, g)
}

var soakWhoamiBuild struct {
	once sync.Once
	path string
	err  error
}

// startSoakWhoami builds examples/whoami (once, without the race detector)
// and runs it on a free loopback port until the test ends; it returns its URL.
func startSoakWhoami(t *testing.T) string {
	t.Helper()
	soakWhoamiBuild.once.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			soakWhoamiBuild.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		bin := filepath.Join(buildDir, "soak-whoami")
		cmd := exec.Command("go", "build", "-o", bin, "./examples/whoami")
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
		if out, err := cmd.CombinedOutput(); err != nil {
			soakWhoamiBuild.err = fmt.Errorf("go build ./examples/whoami: %w\n%s", err, out)
			return
		}
		soakWhoamiBuild.path = bin
	})
	if soakWhoamiBuild.err != nil {
		t.Fatal(soakWhoamiBuild.err)
	}
	addr := freeAddr(t)
	p := startProcess(t, "whoami-"+addr, exec.Command(soakWhoamiBuild.path, "-listen", addr))
	if err := waitFor(20*time.Second, p, tcpAccepts(addr)); err != nil {
		t.Fatalf("whoami did not come up at %s: %v", addr, err)
	}
	return "http://" + addr
}
