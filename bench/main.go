// Command bench measures hubgate under load against the same hop without it, on this
// machine, at the same moment: a tiny upstream, a bare httputil.ReverseProxy in front
// of it (the reference), and hubgate (the built binary) with a fake JupyterHub. It
// drives them with wrk (or a Go generator without it), measures the identity cache
// and memory, runs the micro-benchmarks, and writes one markdown table
// (bench/results/latest.md) with PASS/FAIL per target. `make bench` runs it.
//
// Every comparison is a ratio taken in one run, with the two sides measured in
// alternating rounds, because the absolute numbers depend on what else the machine
// is doing.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// requiredScope is what hubgate is configured to require, as for a Hub-managed service.
const requiredScope = "access:services!service=bench"

type options struct {
	hubgate     string
	out         string
	root        string
	duration    time.Duration // of each scenario in each round
	rounds      int
	connections int
	threads     int
	hubLatency  time.Duration
	pacedRate   int
	pacedDur    time.Duration
	ttl         time.Duration
	ttlLoad     time.Duration
	identities  string
	micro       bool
	benchtime   string
	goLoad      bool
	keep        bool
	redis       bool
	routes      bool // also measure a hubgate with 100 routes beside one with upstream only
	profile     string
	profileOf   string
	env         multiFlag // extra environment of every hubgate started
	phases      string
	compare     string // a second hubgate binary, measured alongside
	oauth2Proxy string // the oauth2-proxy binary, measured alongside
}

// phase reports whether a part of the run is selected by -phases.
func (o options) phase(name string) bool {
	if name == "micro" && !o.micro {
		return false
	}
	if o.phases == "" || o.phases == "all" {
		return true
	}
	for p := range strings.SplitSeq(o.phases, ",") {
		if strings.TrimSpace(p) == name {
			return true
		}
	}
	return false
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var o options
	role := flag.String("role", "", "internal: run as upstream, bareproxy or inprocess")
	addr := flag.String("addr", "", "internal: listen address of a role")
	target := flag.String("target", "", "internal: the bare proxy's upstream")
	pool := flag.Bool("pool", false, "internal: give the bare proxy a buffer pool")
	hub := flag.String("hub", "", "internal: the fake Hub's URL (inprocess)")
	secret := flag.String("secret", "", "internal: cookie secret (inprocess)")
	cpuProfile := flag.String("cpuprofile", "", "internal: CPU profile file (inprocess)")
	heapProfile := flag.String("heapprofile", "", "internal: allocation profile file (inprocess)")

	flag.StringVar(&o.hubgate, "hubgate", "bin/hubgate", "the hubgate binary to measure")
	flag.StringVar(&o.out, "out", "bench/results/latest.md", "markdown results file")
	flag.StringVar(&o.root, "root", ".", "module root, for the micro-benchmarks")
	flag.DurationVar(&o.duration, "d", 2*time.Second, "load duration of each scenario in each round (whole seconds)")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds of all scenarios, alternating their order")
	flag.IntVar(&o.connections, "c", 64, "connections")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.DurationVar(&o.hubLatency, "hub-latency", 5*time.Millisecond, "latency of the fake Hub's GET /user")
	flag.IntVar(&o.pacedRate, "paced-rate", 1000, "rate of the steady /auth run, requests per second")
	flag.DurationVar(&o.pacedDur, "paced-d", 10*time.Second, "duration of the steady /auth run")
	flag.DurationVar(&o.ttl, "ttl", 2*time.Second, "cache_ttl of the TTL run")
	flag.DurationVar(&o.ttlLoad, "ttl-d", 9*time.Second, "load duration of the TTL run (whole seconds; best not a multiple of -ttl)")
	flag.StringVar(&o.identities, "identities", "1000,10000,100000", "numbers of distinct cached identities to measure")
	flag.BoolVar(&o.micro, "micro", true, "run the micro-benchmarks (go test -bench)")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime of the micro-benchmarks")
	flag.BoolVar(&o.goLoad, "go-load", false, "use the Go load generator even if wrk is installed")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (processes' logs)")
	flag.StringVar(&o.profile, "profile", "", "profile instead: run proxy.Server in-process under one scenario's load (-d × -rounds) and write cpu-SCENARIO.pprof and allocs-SCENARIO.pprof to this directory")
	flag.StringVar(&o.profileOf, "profile-scenario", "cookie", "scenario to profile: cookie, token, auth or auth-token")
	flag.StringVar(&o.phases, "phases", "all", "parts to run, comma-separated: load, steady, burst, ttl, identities, micro")
	flag.StringVar(&o.compare, "compare", "", "a second hubgate binary (say, with a proposed change) measured in the same rounds as 'hubgate B'")
	flag.StringVar(&o.oauth2Proxy, "oauth2-proxy", "", "an oauth2-proxy binary measured in the same rounds (proxy and /oauth2/auth with a session cookie); `make bench` installs one")
	flag.BoolVar(&o.redis, "redis", true, "also measure a hubgate with session_store and cache_store redis (needs redis-server)")
	flag.BoolVar(&o.routes, "routes", true, "also measure a hubgate with 100 routes beside the same with upstream only (one route)")
	flag.Var(&o.env, "hubgate-env", "KEY=VALUE added to every hubgate's environment (repeatable), e.g. GOMEMLIMIT=64MiB")
	flag.Parse()

	var err error
	switch *role {
	case "upstream":
		err = runUpstream(*addr)
	case "bareproxy":
		err = runBareProxy(*addr, *target, *pool)
	case "inprocess":
		err = runInProcess(inProcessOptions{addr: *addr, upstream: *target, hub: *hub, secret: *secret,
			cpuProfile: *cpuProfile, heapProfile: *heapProfile})
	case "":
		if o.profile != "" {
			err = runProfile(o)
		} else {
			err = runBench(o)
		}
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// rig is everything the bench started.
type rig struct {
	o        options
	dir      string
	self     string
	hub      *fakeHub
	hubURL   string
	hubSrv   *http.Server
	upstream *process
	bare     *process
	barePool *process
	secret   string
	procs    []*process
}

func newRig(o options) (*rig, error) {
	dir, err := os.MkdirTemp("", "hubgate-bench-")
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r := &rig{o: o, dir: dir, self: self, hub: newFakeHub(o.hubLatency), secret: "bench-cookie-secret-" + randomHex(16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.hubURL = "http://" + ln.Addr().String()
	r.hubSrv = &http.Server{Handler: r.hub, ReadHeaderTimeout: 10 * time.Second}
	go r.hubSrv.Serve(ln)
	if r.upstream, err = r.startRole("upstream"); err != nil {
		return r, err
	}
	return r, nil
}

// startRole runs this program as one of its roles.
func (r *rig) startRole(role string, args ...string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.self, append([]string{"-role", role, "-addr", addr}, args...)...)
	p, err := startProcess(role, cmd, "http://"+addr, filepath.Join(r.dir, role+"-"+strings.ReplaceAll(addr, ":", "_")+".log"))
	if err == nil {
		r.procs = append(r.procs, p)
	}
	return p, err
}

// startHubgate runs the hubgate binary against the fake Hub and the upstream, with
// extra HUBGATE_* settings. It logs at the default level (info: one access line per
// request, part of the real cost) to a file.
func (r *rig) startHubgate(name string, extra map[string]string) (*process, error) {
	return r.startHubgateBinary(name, r.o.hubgate, extra)
}

func (r *rig) startHubgateBinary(name, binary string, extra map[string]string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := hubgateSettings(addr, r.upstream.url, r.hubURL, r.secret)
	env["PATH"], env["HOME"] = os.Getenv("PATH"), r.dir
	for k, v := range extra {
		env[k] = v
		if v == "" {
			delete(env, k) // an empty value leaves the setting out
		}
	}
	for _, kv := range r.o.env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	cmd := exec.Command(binary)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	sort.Strings(cmd.Env)
	p, err := startProcess(name, cmd, "http://"+addr, filepath.Join(r.dir, name+".log"))
	if err == nil {
		r.procs = append(r.procs, p)
	}
	return p, err
}

// hubgateSettings configure every hubgate the bench runs, binary or in-process: on
// addr, in front of upstream, signing in through the fake Hub.
func hubgateSettings(addr, upstream, hub, secret string) map[string]string {
	return map[string]string{
		"HUBGATE_LISTEN":          addr,
		"HUBGATE_UPSTREAM":        upstream,
		"HUBGATE_HUB_URL":         hub,
		"HUBGATE_HUB_API_URL":     hub + "/hub/api",
		"HUBGATE_CLIENT_ID":       "service-bench",
		"HUBGATE_CLIENT_SECRET":   "bench-client-secret",
		"HUBGATE_REDIRECT_URL":    "http://" + addr + "/oauth2/callback",
		"HUBGATE_COOKIE_SECRET":   secret,
		"HUBGATE_REQUIRED_SCOPES": requiredScope,
	}
}

func (r *rig) close() {
	for _, p := range slices.Backward(r.procs) {
		p.stop()
	}
	if r.hubSrv != nil {
		r.hubSrv.Close()
	}
	if !r.o.keep {
		os.RemoveAll(r.dir)
	}
}

// login signs in for real: through hubgate to the fake Hub's authorize endpoint and
// back to the callback, which exchanges the code and sets the session cookie.
func login(gate string) (string, error) {
	cookies, err := browse("login", gate, "/app/")
	if err != nil {
		return "", err
	}
	for _, c := range cookies {
		if c.Name == "_hubgate" {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", errors.New("login: no session cookie was set")
}

// browse opens base+path as a browser loading a page would, following the login at
// the fake Hub, and returns the cookies it then holds for base. It must end on the
// upstream's page.
func browse(what, base, path string) ([]*http.Cookie, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != string(upstreamBody) {
		return nil, fmt.Errorf("%s: ended at %s with HTTP %d: %s", what, resp.Request.URL, resp.StatusCode, firstLine(string(body)))
	}
	u, _ := url.Parse(base)
	return jar.Cookies(u), nil
}

// apiToken asks the fake Hub for a token, as a user would at /hub/token.
func (r *rig) apiToken() (string, error) {
	resp, err := http.Post(r.hubURL+"/hub/api/users/bench/tokens", "application/json", strings.NewReader(`{"note":"bench"}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct{ Token string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &v); err != nil || v.Token == "" {
		return "", fmt.Errorf("token creation: HTTP %d %s", resp.StatusCode, b)
	}
	return v.Token, nil
}

// check makes one request and insists on the status.
func check(url string, want int, headers ...string) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: HTTP %d, want %d: %s", url, resp.StatusCode, want, firstLine(string(body)))
	}
	return nil
}

// scenario is one closed-loop load.
type scenario struct {
	key, name string
	url       string
	headers   []string
	proc      *process // whose CPU and memory are reported
	side      *process // another process doing work for it (redis-server), CPU only
	sideTicks int64
	want      int // the status every answer should have
	results   []loadResult
	ticks     int64
	wall      time.Duration
	mem       memory
}

func (s *scenario) total() loadResult {
	var t loadResult
	var p50, p90, p99, p999 []time.Duration
	for _, r := range s.results {
		t.tool = r.tool
		t.requests += r.requests
		t.duration += r.duration
		t.socketErrors += r.socketErrors
		t.statusErrors += r.statusErrors
		p50, p90, p99, p999 = append(p50, r.p50), append(p90, r.p90), append(p99, r.p99), append(p999, r.p999)
		t.max = max(t.max, r.max)
	}
	t.p50, t.p90, t.p99, t.p999 = median(p50), median(p90), median(p99), median(p999)
	return t
}

func median[T int64 | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report collects what the run found.
type report struct {
	o          options
	started    time.Time
	tool       string
	scenarios  []*scenario
	ratios     []ratio
	hwm64      memory // main hubgate after the 64-connection scenarios
	paced      pacedResult
	pacedRef   pacedResult // the upstream direct, same generator
	pacedErr   error
	bursts     []burstResult
	ttl        ttlResult
	idents     []identResult
	micro      []microResult
	microErr   error
	microOut   string
	hubgateVer string
	o2pVersion string
	loadBefore string
	loadAfter  string
}

type ratio struct {
	name     string
	perRound []float64
}

func (r ratio) value() float64 { return median(r.perRound) }

type burstResult struct {
	token    string
	calls    int64
	ok       int
	misses   int
	requests int
}

type ttlResult struct {
	ttl, load time.Duration
	calls     int64
	requests  int64
	err       error
}

type identResult struct {
	n         int
	warm      time.Duration
	warmBad   int64
	hubCalls  int64 // during warming
	hitCalls  int64 // during the hit measurements (should be 0)
	before    memory
	after     memory
	hit       pacedResult
	load      loadResult
	loadTicks int64
	err       error
}

// runBench starts the rig, runs the selected phases in a fixed order and writes the
// report. The order matters: the main hubgate serves load, steady and burst, and is
// stopped before the TTL and identity runs start their own hubgates.
func runBench(o options) error {
	rep := &report{o: o, started: time.Now(), loadBefore: loadAvg()}
	if err := rep.readHubgateVersion(); err != nil {
		return err
	}
	r, err := newRig(o)
	if r != nil {
		defer r.close()
	}
	if err != nil {
		return err
	}
	l, err := newLoader(r.dir, o.connections, o.threads, o.goLoad)
	if err != nil {
		return err
	}
	rep.tool = l.tool()

	gate, cookie, token, err := r.startMain(rep.logf)
	if err != nil {
		return err
	}
	cookieH, tokenH := "Cookie: "+cookie, "Authorization: token "+token
	sc := r.baseScenarios(gate, cookieH, tokenH)
	if o.compare != "" {
		b, err := r.addCompare(&sc, cookieH, tokenH)
		if err != nil {
			return err
		}
		defer b.stop()
	}
	if o.redis {
		if err := r.addRedis(&sc); err != nil {
			return err
		}
	}
	if err := r.peers(rep, sc.insertAfter, cookie); err != nil {
		return err
	}
	if o.routes {
		if err := r.addRoutes(&sc, cookieH); err != nil {
			return err
		}
	}
	if err := sc.check(); err != nil {
		return err
	}
	rep.scenarios = sc

	if o.phase("load") {
		if err := rep.runLoad(l, gate); err != nil {
			return err
		}
		rep.loadRatios()
	}
	if o.phase("steady") {
		rep.runSteady(r, gate, cookie)
	}
	if o.phase("burst") {
		if err := rep.runBursts(r, gate); err != nil {
			return err
		}
	}
	gate.stop()

	// One token under sustained load with a short TTL.
	if o.phase("ttl") {
		rep.ttl = r.ttlRun(l, rep.logf)
	}
	// Memory and hit latency with many cached identities.
	if o.phase("identities") {
		rep.idents = r.identityRuns(l, rep.logf)
	}
	r.close()

	if o.phase("micro") {
		rep.logf("micro-benchmarks (go test -bench . -benchmem -benchtime %s %s)", o.benchtime, strings.Join(microPackages, " "))
		rep.micro, rep.microOut, rep.microErr = runMicro(o.root, o.benchtime)
	}
	rep.loadAfter = loadAvg()
	return rep.write()
}

// readHubgateVersion fails early, before anything is started, if the binary to
// measure is missing or broken.
func (rep *report) readHubgateVersion() error {
	out, err := exec.Command(rep.o.hubgate, "version").Output()
	if err != nil {
		return fmt.Errorf("%s: %w (run `make build` first)", rep.o.hubgate, err)
	}
	rep.hubgateVer = strings.TrimSpace(string(out))
	return nil
}

// logf writes a progress line to stderr, stamped with the time since the run began,
// so that a long run shows where it is.
func (rep *report) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Since(rep.started).Round(time.Second), fmt.Sprintf(format, args...))
}

// startMain starts the two bare proxies (the references) and the main hubgate, and
// signs in through it for real, so that the cookie and token scenarios carry
// credentials hubgate itself issued.
func (r *rig) startMain(logf func(string, ...any)) (gate *process, cookie, token string, err error) {
	if r.bare, err = r.startRole("bareproxy", "-target", r.upstream.url); err != nil {
		return nil, "", "", err
	}
	if r.barePool, err = r.startRole("bareproxy", "-target", r.upstream.url, "-pool"); err != nil {
		return nil, "", "", err
	}
	if gate, err = r.startHubgate("hubgate", nil); err != nil {
		return nil, "", "", err
	}
	if cookie, err = login(gate.url); err != nil {
		return nil, "", "", fmt.Errorf("%w\nhubgate log:\n%s", err, tail(gate.log, 2000))
	}
	if token, err = r.apiToken(); err != nil {
		return nil, "", "", err
	}
	logf("logged in through hubgate (%s); API token created", strings.SplitN(cookie, "=", 2)[0])
	return gate, cookie, token, nil
}

// scenarioList is the load scenarios in the order they run in a forward round.
type scenarioList []*scenario

// baseScenarios are the scenarios every run has, ordered so that the two sides of
// each ratio run next to each other.
func (r *rig) baseScenarios(gate *process, cookieH, tokenH string) scenarioList {
	return scenarioList{
		{key: "auth401", name: "hubgate /oauth2/auth 401", url: gate.url + "/oauth2/auth", proc: gate, want: 401},
		{key: "auth-token", name: "hubgate /oauth2/auth 202 (token)", url: gate.url + "/oauth2/auth", headers: []string{tokenH}, proc: gate, want: 202},
		{key: "auth", name: "hubgate /oauth2/auth 202 (cookie)", url: gate.url + "/oauth2/auth", headers: []string{cookieH}, proc: gate, want: 202},
		{key: "upstream", name: "upstream direct", url: r.upstream.url + "/app/", proc: r.upstream, want: 200},
		{key: "bare", name: "bare reverse proxy", url: r.bare.url + "/app/", proc: r.bare, want: 200},
		{key: "cookie", name: "hubgate, cookie session", url: gate.url + "/app/", headers: []string{cookieH}, proc: gate, want: 200},
		{key: "bare-pool", name: "bare reverse proxy + BufferPool", url: r.barePool.url + "/app/", proc: r.barePool, want: 200},
		{key: "token", name: "hubgate, API token", url: gate.url + "/app/", headers: []string{tokenH}, proc: gate, want: 200},
	}
}

// insertAfter puts a scenario right after the one it is compared with, so that the
// two run back to back in every round.
func (sc *scenarioList) insertAfter(after string, s *scenario) {
	i := slices.IndexFunc(*sc, func(x *scenario) bool { return x.key == after })
	*sc = slices.Insert(*sc, i+1, s)
}

// check makes one request per scenario before any load, so that a misconfigured
// scenario fails the run instead of measuring error answers.
func (sc scenarioList) check() error {
	for _, s := range sc {
		if err := check(s.url, s.want, s.headers...); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// addCompare starts hubgate B (-compare) and adds its scenarios next to hubgate's.
// It returns B for the caller to stop when the run ends.
func (r *rig) addCompare(sc *scenarioList, cookieH, tokenH string) (*process, error) {
	// hubgate B shares the cookie secret, so the same session and token work on it.
	b, err := r.startHubgateBinary("hubgate-b", r.o.compare, nil)
	if err != nil {
		return nil, err
	}
	sc.insertAfter("auth-token", &scenario{key: "B-auth-token", name: "hubgate B /oauth2/auth 202 (token)", url: b.url + "/oauth2/auth", headers: []string{tokenH}, proc: b, want: 202})
	sc.insertAfter("auth", &scenario{key: "B-auth", name: "hubgate B /oauth2/auth 202 (cookie)", url: b.url + "/oauth2/auth", headers: []string{cookieH}, proc: b, want: 202})
	sc.insertAfter("cookie", &scenario{key: "B-cookie", name: "hubgate B, cookie session", url: b.url + "/app/", headers: []string{cookieH}, proc: b, want: 200})
	return b, nil
}

// addRedis starts redis-server and a hubgate storing sessions and lookups in it, signs
// in through that hubgate, and adds its scenarios next to the cookie-session ones.
func (r *rig) addRedis(sc *scenarioList) error {
	// The same fake Hub and upstream; the session lives in Redis (the cookie holds a
	// ticket) and lookups are shared through it.
	rds, err := r.startRedis()
	if err != nil {
		return err
	}
	rg, err := r.startHubgate("hubgate-redis", map[string]string{
		"HUBGATE_SESSION_STORE": "redis",
		"HUBGATE_CACHE_STORE":   "redis",
		"HUBGATE_REDIS_URL":     rds.url,
	})
	if err != nil {
		return err
	}
	ticket, err := login(rg.url)
	if err != nil {
		return fmt.Errorf("%w\nhubgate-redis log:\n%s", err, tail(rg.log, 2000))
	}
	ticketH := "Cookie: " + ticket
	sc.insertAfter("auth", &scenario{key: "redis-auth", name: "hubgate /oauth2/auth 202 (Redis session)", url: rg.url + "/oauth2/auth", headers: []string{ticketH}, proc: rg, side: rds, want: 202})
	sc.insertAfter("cookie", &scenario{key: "redis-cookie", name: "hubgate, Redis session", url: rg.url + "/app/", headers: []string{ticketH}, proc: rg, side: rds, want: 200})
	return nil
}

// runLoad is the closed-loop load: all scenarios per round, every other round in
// reverse order so that drift in the machine's load hits both sides of each ratio
// alike. Afterwards it reads the main hubgate's peak RSS for the memory target.
func (rep *report) runLoad(l *loader, gate *process) error {
	o := rep.o
	for round := range o.rounds {
		order := slices.Clone(rep.scenarios)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			res, err := s.measure(l, o.duration)
			if err != nil {
				return err
			}
			rep.logf("round %d/%d %-34s %8.0f req/s  p99 %-9v RSS peak %s", round+1, o.rounds, s.name, res.rps(), res.p99, mib(s.mem.hwm))
		}
	}
	rep.hwm64 = readMemory(gate.pid())
	return nil
}

// measure runs one round of the scenario and adds it to the scenario's results, with
// the CPU time its serving process (and side process) spent meanwhile read from /proc.
func (s *scenario) measure(l *loader, d time.Duration) (loadResult, error) {
	t0, _ := cpuTicks(s.proc.pid())
	var side0 int64
	if s.side != nil {
		side0, _ = cpuTicks(s.side.pid())
	}
	start := time.Now()
	res, err := l.run(s.url, s.headers, d)
	if err != nil {
		return res, err
	}
	t1, _ := cpuTicks(s.proc.pid())
	if s.side != nil {
		side1, _ := cpuTicks(s.side.pid())
		s.sideTicks += side1 - side0
	}
	s.wall += time.Since(start)
	s.ticks += t1 - t0
	res.cpu = time.Duration(t1-t0) * clockTick
	s.results = append(s.results, res)
	s.mem = readMemory(s.proc.pid())
	return res, nil
}

// byKey finds a scenario; a missing key is a mistake in the ratio list, hence the panic.
func (rep *report) byKey(k string) *scenario {
	for _, s := range rep.scenarios {
		if s.key == k {
			return s
		}
	}
	panic(k)
}

// pair adds a ratio of scenarios a and b taken round by round, so that each value
// compares two measurements made moments apart.
func (rep *report) pair(name, a, b string, f func(x, y loadResult) float64) {
	ra := ratio{name: name}
	for i := range rep.byKey(a).results {
		ra.perRound = append(ra.perRound, f(rep.byKey(a).results[i], rep.byKey(b).results[i]))
	}
	rep.ratios = append(rep.ratios, ra)
}

func rpsRatio(x, y loadResult) float64 { return x.rps() / y.rps() }
func p99Ratio(x, y loadResult) float64 { return float64(x.p99) / float64(y.p99) }

// cpuRatio compares CPU time per request of the serving processes, which is far less
// sensitive to what else the machine is doing than throughput is: the efficiency
// behind the throughput ratios.
func cpuRatio(x, y loadResult) float64 {
	return float64(x.cpuPerRequest()) / float64(y.cpuPerRequest())
}

// loadRatios derives the report's ratios from the load rounds; their names are what
// the targets look up.
func (rep *report) loadRatios() {
	o, pair, rps, p99, cpu := rep.o, rep.pair, rpsRatio, p99Ratio, cpuRatio
	pair("hubgate cookie proxy / bare proxy, throughput", "cookie", "bare", rps)
	pair("hubgate cookie proxy / bare proxy, p99", "cookie", "bare", p99)
	pair("hubgate token proxy / bare proxy, throughput", "token", "bare", rps)
	pair("hubgate token proxy / bare proxy, p99", "token", "bare", p99)
	pair("/oauth2/auth 202 (cookie) / upstream direct, throughput", "auth", "upstream", rps)
	pair("/oauth2/auth 202 (token) / upstream direct, throughput", "auth-token", "upstream", rps)
	pair("bare proxy / upstream direct, throughput", "bare", "upstream", rps)
	pair("hubgate cookie proxy / bare proxy + BufferPool (hubgate has one), throughput", "cookie", "bare-pool", rps)
	pair("hubgate cookie proxy / bare proxy + BufferPool, p99", "cookie", "bare-pool", p99)
	pair("CPU per request: hubgate cookie proxy / bare proxy", "cookie", "bare", cpu)
	pair("CPU per request: hubgate cookie proxy / bare proxy + BufferPool", "cookie", "bare-pool", cpu)
	pair("CPU per request: /oauth2/auth 202 (cookie) / upstream direct", "auth", "upstream", cpu)
	pair("CPU per request: /oauth2/auth 202 (token) / upstream direct", "auth-token", "upstream", cpu)
	peerRatios(o, pair, rps, p99, cpu)
	if o.redis {
		pair("Redis session proxy / cookie session proxy, throughput", "redis-cookie", "cookie", rps)
		pair("Redis session proxy / cookie session proxy, p99", "redis-cookie", "cookie", p99)
		pair("/oauth2/auth 202: Redis session / cookie session, throughput", "redis-auth", "auth", rps)
		pair("/oauth2/auth 202: Redis session / cookie session, p99", "redis-auth", "auth", p99)
		pair("CPU per request (hubgate only): Redis session proxy / cookie session proxy", "redis-cookie", "cookie", cpu)
	}
	if o.routes {
		routesRatios(pair, rps, p99, cpu)
	}
	if o.compare != "" {
		pair("B: hubgate B cookie proxy / bare proxy, throughput", "B-cookie", "bare", rps)
		pair("B: hubgate B cookie proxy / bare proxy, p99", "B-cookie", "bare", p99)
		pair("B: hubgate B /oauth2/auth 202 (cookie) / upstream direct, throughput", "B-auth", "upstream", rps)
		pair("B: hubgate B /oauth2/auth 202 (token) / upstream direct, throughput", "B-auth-token", "upstream", rps)
		pair("B: CPU per request, hubgate B / hubgate, cookie proxy", "B-cookie", "cookie", cpu)
		pair("B: CPU per request, hubgate B / hubgate, /oauth2/auth (cookie)", "B-auth", "auth", cpu)
		pair("B: CPU per request, hubgate B / hubgate, /oauth2/auth (token)", "B-auth-token", "auth-token", cpu)
	}
}

// runSteady is /auth at a steady rate, open loop: latency that closed-loop load would
// hide, since there a slow answer also delays the requests behind it.
func (rep *report) runSteady(r *rig, gate *process, cookie string) {
	o := rep.o
	rep.logf("steady /oauth2/auth at %d req/s for %v", o.pacedRate, o.pacedDur)
	authHeader := http.Header{"Cookie": {cookie}}
	rep.paced = paced(gate.url+"/oauth2/auth", o.pacedRate, time.Second, o.pacedDur, func(int) http.Header { return authHeader.Clone() })
	// The same generator against the upstream alone: the floor this machine and the
	// generator put under any latency measured here.
	rep.pacedRef = paced(r.upstream.url+"/app/", o.pacedRate, time.Second, o.pacedDur, func(int) http.Header { return http.Header{} })
	rep.logf("steady: /oauth2/auth p99 %v; upstream direct p99 %v", rep.paced.p99, rep.pacedRef.p99)
}

// runBursts sends 64 concurrent first requests with one new token, three times, with
// a Hub slow enough that they all wait on the first one's lookup: the test that
// concurrent misses share one Hub call.
func (rep *report) runBursts(r *rig, gate *process) error {
	r.hub.setLatency(50 * time.Millisecond)
	for i := range 3 {
		tok := "tok-burst-" + randomHex(8)
		off := fileSize(gate.log)
		codes, err := burst(gate.url+"/oauth2/auth", rep.o.connections, http.Header{"Authorization": {"token " + tok}})
		if err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // the access log lines are written (even if buffered)
		b := burstResult{token: tok, calls: r.hub.calls(tok), requests: len(codes),
			misses: countLines(gate.log, off, `"path":"/oauth2/auth"`, `"cache":"miss"`)}
		for _, c := range codes {
			if c == http.StatusAccepted {
				b.ok++
			}
		}
		rep.bursts = append(rep.bursts, b)
		rep.logf("burst %d: %d concurrent first requests, %d answered 202, %d Hub calls", i+1, len(codes), b.ok, b.calls)
	}
	r.hub.setLatency(r.o.hubLatency)
	return nil
}

// identityRuns measures each number in -identities (skipping ones that are not
// positive numbers), each on a fresh hubgate.
func (r *rig) identityRuns(l *loader, logf func(string, ...any)) []identResult {
	var res []identResult
	for _, f := range strings.Split(r.o.identities, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			continue
		}
		res = append(res, r.identities(l, n, logf))
	}
	return res
}

// write prints the report and writes it to -out, then prints one verdict line per
// target. A micro-benchmark failure fails the run, after the report is written, so
// that its output is in the report.
func (rep *report) write() error {
	md, targets := rep.markdown()
	fmt.Println(md)
	if err := os.MkdirAll(filepath.Dir(rep.o.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(rep.o.out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\nwritten to %s (took %v)\n", rep.o.out, time.Since(rep.started).Round(time.Second))
	failed := 0
	for _, t := range targets {
		verdict := "PASS"
		switch {
		case t.skip:
			verdict = "SKIP"
		case !t.pass:
			verdict, failed = "FAIL", failed+1
		}
		fmt.Printf("%s  %s: %s\n", verdict, t.name, t.value)
	}
	if rep.microErr != nil {
		return fmt.Errorf("micro-benchmarks: %w\n%s", rep.microErr, rep.microOut)
	}
	fmt.Printf("%d of %d targets failed\n", failed, len(targets))
	return nil
}

// ttlRun loads one new token on a hubgate with a short cache_ttl and counts the Hub
// calls it causes.
func (r *rig) ttlRun(l *loader, logf func(string, ...any)) ttlResult {
	res := ttlResult{ttl: r.o.ttl, load: r.o.ttlLoad}
	gate, err := r.startHubgate("hubgate-ttl", map[string]string{"HUBGATE_CACHE_TTL": r.o.ttl.String()})
	if err != nil {
		res.err = err
		return res
	}
	defer gate.stop()
	tok := "tok-ttl-" + randomHex(8)
	start := time.Now()
	lr, err := l.run(gate.url+"/oauth2/auth", []string{"Authorization: token " + tok}, r.o.ttlLoad)
	if err != nil {
		res.err = err
		return res
	}
	res.load = time.Since(start)
	res.calls, res.requests = r.hub.calls(tok), lr.requests
	logf("TTL %v, %v of load with one token: %d requests, %d Hub calls", r.o.ttl, res.load.Round(100*time.Millisecond), lr.requests, res.calls)
	return res
}

// identities warms a fresh hubgate with n distinct tokens, then measures its memory
// and the latency and throughput of cached hits spread over all of them.
func (r *rig) identities(l *loader, n int, logf func(string, ...any)) identResult {
	res := identResult{n: n}
	gate, err := r.startHubgate(fmt.Sprintf("hubgate-%d", n), map[string]string{"HUBGATE_CACHE_SIZE": strconv.Itoa(max(n, 10000))})
	if err != nil {
		res.err = err
		return res
	}
	defer gate.stop()
	run := strconv.Itoa(n)
	tok := func(i int) string { return "tok-id-" + run + "-" + strconv.Itoa(i) }
	res.before = readMemory(gate.pid())
	calls0 := r.hub.userCalls.Load()
	start := time.Now()
	res.warmBad = warmTokens(gate.url+"/oauth2/auth", n, r.o.connections, tok)
	res.warm = time.Since(start)
	res.hubCalls = r.hub.userCalls.Load() - calls0
	res.after = readMemory(gate.pid())
	calls1 := r.hub.userCalls.Load()
	res.hit = paced(gate.url+"/oauth2/auth", r.o.pacedRate, time.Second, 5*time.Second, func(i int) http.Header {
		return http.Header{"Authorization": {"token " + tok((i*7919)%n)}}
	})
	t0, _ := cpuTicks(gate.pid())
	res.load, res.err = l.run(gate.url+"/oauth2/auth", nil, r.o.duration, "TOKENS="+run, "RUN="+run)
	t1, _ := cpuTicks(gate.pid())
	res.loadTicks = t1 - t0
	res.hitCalls = r.hub.userCalls.Load() - calls1
	res.after.hwm = readMemory(gate.pid()).hwm
	logf("%d identities: warmed in %v (%d Hub calls, %d failed), RSS %s (peak %s), hit p99 %v at %d req/s, %.0f req/s under load, %d Hub calls while hitting",
		n, res.warm.Round(100*time.Millisecond), res.hubCalls, res.warmBad, mib(res.after.rss), mib(res.after.hwm), res.hit.p99, r.o.pacedRate, res.load.rps(), res.hitCalls)
	return res
}

// runProfile runs hubgate's serving path in-process (a -role inprocess child) under one
// scenario's load and writes its CPU and allocation profiles.
func runProfile(o options) error {
	r, err := newRig(o)
	if r != nil {
		defer r.close()
	}
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(o.profile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	l, err := newLoader(r.dir, o.connections, o.threads, o.goLoad)
	if err != nil {
		return err
	}
	cpu, allocs := filepath.Join(dir, "cpu-"+o.profileOf+".pprof"), filepath.Join(dir, "allocs-"+o.profileOf+".pprof")
	gate, err := r.startRole("inprocess", "-target", r.upstream.url, "-hub", r.hubURL, "-secret", r.secret,
		"-cpuprofile", cpu, "-heapprofile", allocs)
	if err != nil {
		return err
	}
	cookie, err := login(gate.url)
	if err != nil {
		return err
	}
	token, err := r.apiToken()
	if err != nil {
		return err
	}
	var target string
	var headers []string
	switch o.profileOf {
	case "cookie":
		target, headers = gate.url+"/app/", []string{"Cookie: " + cookie}
	case "token":
		target, headers = gate.url+"/app/", []string{"Authorization: token " + token}
	case "auth":
		target, headers = gate.url+"/oauth2/auth", []string{"Cookie: " + cookie}
	case "auth-token":
		target, headers = gate.url+"/oauth2/auth", []string{"Authorization: token " + token}
	default:
		return fmt.Errorf("-profile-scenario %q: use cookie, token, auth or auth-token", o.profileOf)
	}
	d := o.duration * time.Duration(o.rounds)
	res, err := l.run(target, headers, d)
	if err != nil {
		return err
	}
	gate.stop()
	fmt.Printf("profiled %s for %v: %.0f req/s, p99 %v\n  go tool pprof -top %s\n  go tool pprof -top -sample_index=alloc_space %s\n",
		o.profileOf, d, res.rps(), res.p99, cpu, allocs)
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
