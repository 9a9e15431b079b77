//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Helpers for the fault-injection (fault_test.go) and soak (soak_test.go)
// tests: hubgate's process, a Hub API proxy that can be slowed down, slow
// upstreams, a Prometheus text parser and checks of hubgate's error answers.

// faultPID is the pid of a running hubgate (Gate keeps its process handle).
func faultPID(g *Gate) int { return g.proc.cmd.Process.Pid }

// faultSignal sends sig to hubgate's process only.
func faultSignal(t testing.TB, g *Gate, sig syscall.Signal) {
	t.Helper()
	if err := g.proc.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to hubgate pid %d: %v", sig, faultPID(g), err)
	}
}

// faultWaitExit waits until hubgate exits and returns its wait error (nil for
// exit status 0); it fails the test if that takes longer than timeout.
func faultWaitExit(t testing.TB, g *Gate, timeout time.Duration) error {
	t.Helper()
	select {
	case <-g.proc.Exited():
		return g.proc.waitErr
	case <-time.After(timeout):
		t.Fatalf("hubgate pid %d still running %v after it was told to stop", faultPID(g), timeout)
		return nil
	}
}

// faultStopGate stops hubgate the way the harness does at the end of a test
// (SIGTERM, SIGKILL after a grace period) and waits until it is gone.
func faultStopGate(t testing.TB, g *Gate) {
	t.Helper()
	g.proc.stop(t)
	<-g.proc.Exited()
}

// faultKillHub kills the Hub process with SIGKILL (a crash: no cleanup) and
// waits until its API port refuses connections. The Hub's proxy and services
// get SIGTERM from their parent-death signal; the harness's cleanup finds
// the Hub already gone.
func faultKillHub(t testing.TB, hub *Hub) {
	t.Helper()
	pid := hub.proc.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the Hub (pid %d): %v", pid, err)
	}
	select {
	case <-hub.proc.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("the Hub (pid %d) survived SIGKILL for 10s", pid)
	}
	u, err := url.Parse(hub.APIURL)
	if err != nil {
		t.Fatal(err)
	}
	refused := func() error {
		if tcpAccepts(u.Host)() == nil {
			return fmt.Errorf("%s still accepts connections", u.Host)
		}
		return nil
	}
	if err := waitFor(10*time.Second, nil, refused); err != nil {
		t.Fatalf("the Hub API after kill -9: %v", err)
	}
}

// procStatusKiB reads a "Name:  N kB" line (VmRSS, VmHWM, ...) from
// /proc/PID/status.
func procStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procOpenFiles counts the open file descriptors of pid.
func procOpenFiles(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(entries), err
}

// procLimit returns a line of /proc/PID/limits, e.g. "Max open files".
func procLimit(pid int, name string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name) {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return "(no " + name + ")"
}

// faultDelayProxy is a reverse proxy in front of the Hub that holds requests
// for one path for a configurable delay before passing them on. It records
// when each held request arrived and when it ended: when it was answered, or
// when its client closed the connection. Closing is checked on the socket
// itself (a FIN waiting in the receive queue) whenever a request arrives, as
// well as by the server noticing it (which can lag).
type faultDelayProxy struct {
	URL string

	path  string
	delay atomic.Int64 // nanoseconds

	mu      sync.Mutex
	active  map[*faultHeld]struct{}
	held    []*faultHeld
	rawPeak int
	gaveUp  int // clients that left before the delay ended

	conns atomic.Int64 // open client connections
}

// faultHeld is one request the proxy held.
type faultHeld struct {
	conn          net.Conn
	arrive, leave time.Time
	gone          bool // the client left first
}

type faultConnKey struct{}

// startFaultDelayProxy proxies to target's scheme and host, delaying requests
// for path (e.g. /hub/api/user) by delay.
func startFaultDelayProxy(t testing.TB, target, path string, delay time.Duration) *faultDelayProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultDelayProxy{path: path, active: map[*faultHeld]struct{}{}}
	p.delay.Store(int64(delay))
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() == nil {
			http.Error(w, "delay proxy: "+err.Error(), http.StatusBadGateway)
		}
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == p.path {
			conn, _ := r.Context().Value(faultConnKey{}).(net.Conn)
			h := p.enter(conn)
			defer p.leave(h)
			if d := time.Duration(p.delay.Load()); d > 0 {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, faultConnKey{}, c)
	}
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			p.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			p.conns.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// enter records a new request, and drops the held ones (this one included)
// whose client has already closed its connection.
func (p *faultDelayProxy) enter(conn net.Conn) *faultHeld {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := &faultHeld{conn: conn, arrive: time.Now()}
	p.held = append(p.held, h)
	p.active[h] = struct{}{}
	for o := range p.active {
		if faultPeerClosed(o.conn) {
			p.goneLocked(o)
		}
	}
	p.rawPeak = max(p.rawPeak, len(p.active))
	return h
}

func (p *faultDelayProxy) leave(h *faultHeld) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.active[h]; !ok {
		return
	}
	if faultPeerClosed(h.conn) {
		p.goneLocked(h)
		return
	}
	h.leave = time.Now()
	delete(p.active, h)
}

func (p *faultDelayProxy) goneLocked(h *faultHeld) {
	h.gone, h.leave = true, time.Now()
	p.gaveUp++
	delete(p.active, h)
}

// faultPeerClosed reports whether the other end of a TCP connection has
// closed it: a peek at the socket finds end-of-file (or a reset) without
// consuming anything or waiting.
func faultPeerClosed(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return true // already closed on our side
	}
	closed := false
	ctlErr := rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (err == nil && n == 0) || errors.Is(err, syscall.ECONNRESET)
	})
	return closed || ctlErr != nil
}

// OpenConns is the number of client connections open now.
func (p *faultDelayProxy) OpenConns() int { return int(p.conns.Load()) }

// SetDelay changes the delay for requests that arrive from now on.
func (p *faultDelayProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Stats returns how many requests were held at once at most (peak), how
// many arrived and how many clients gave up waiting. A client that gave up
// counts until slack before its departure was seen: its close(2) may reach
// the socket a moment after its next request (Go closes a cancelled
// connection's descriptor once its read loop lets go of it). rawPeak counts
// every overlap.
func (p *faultDelayProxy) Stats(slack time.Duration) (peak, rawPeak, total, gaveUp int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	type event struct {
		at    time.Time
		delta int
	}
	var events []event
	for _, h := range p.held {
		end := h.leave
		if end.IsZero() {
			end = time.Now()
		}
		if h.gone {
			end = end.Add(-slack)
		}
		if !end.After(h.arrive) {
			continue
		}
		events = append(events, event{h.arrive, +1}, event{end, -1})
	}
	slices.SortFunc(events, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	n := 0
	for _, e := range events {
		n += e.delta
		peak = max(peak, n)
	}
	return peak, p.rawPeak, len(p.held), p.gaveUp
}

// faultSlowUpstream is an upstream that takes delay to answer each request
// (200, "ok" and the X-Forwarded-User it got). It counts requests started and
// answered; a request whose client left early is not counted as answered.
type faultSlowUpstream struct {
	URL      string
	started  atomic.Int64
	answered atomic.Int64
}

func startFaultSlowUpstream(t testing.TB, delay time.Duration) *faultSlowUpstream {
	t.Helper()
	u := &faultSlowUpstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.started.Add(1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok "+r.Header.Get("X-Forwarded-User"))
		u.answered.Add(1)
	}))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// faultResult is one HTTP exchange: status, headers, body and how long it took.
type faultResult struct {
	Status   int
	Header   http.Header
	Body     []byte
	Duration time.Duration
	Err      error
}

// faultClient does not follow redirects and gives up after 30s, so a hang
// shows up as an error instead of stalling the test.
var faultClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// faultDo does one GET with the given Accept and Authorization headers (and
// Cookie, if not empty) and times it.
func faultDo(client *http.Client, rawURL, accept, authorization, cookie string) faultResult {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return faultResult{Err: err}
	}
	req.Header.Set("Accept", accept)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return faultResult{Err: err, Duration: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return faultResult{Status: resp.StatusCode, Header: resp.Header, Body: body, Duration: time.Since(start), Err: err}
}

func (r faultResult) String() string {
	if r.Err != nil {
		return fmt.Sprintf("error after %v: %v", r.Duration.Round(time.Millisecond), r.Err)
	}
	return fmt.Sprintf("status %d after %v, Content-Type %q, body %q", r.Status,
		r.Duration.Round(time.Millisecond), r.Header.Get("Content-Type"), truncate(string(r.Body), 600))
}

// acceptJSONOnly is what an API client sends.
const acceptJSONOnly = "application/json"

// faultStackMarks are signs of a leaked panic or stack trace in a body.
var faultStackMarks = []string{"goroutine ", "panic", "runtime error", "runtime/", ".go:", "Traceback", "nil pointer", "stack"}

// checkFaultClean fails if body looks like it carries a stack trace or panic.
func checkFaultClean(t testing.TB, what string, body []byte) {
	t.Helper()
	for _, m := range faultStackMarks {
		if strings.Contains(string(body), m) {
			t.Errorf("%s: body contains %q (a stack trace or panic?): %q", what, m, truncate(string(body), 2000))
		}
	}
}

// checkFaultJSON checks a JSON error answer: status want, a JSON content type,
// {"status": want, "message": "..."}, nothing else, nothing leaked.
func checkFaultJSON(t testing.TB, what string, r faultResult, want int) {
	t.Helper()
	if r.Err != nil || r.Status != want {
		t.Errorf("%s: want %d JSON, got %s", what, want, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json; body %q", what, ct, r.Body)
	}
	var body struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Status != want || body.Message == "" {
		t.Errorf("%s: body %q, want {\"status\":%d,\"message\":...} (%v)", what, r.Body, want, err)
	}
	checkFaultClean(t, what, r.Body)
}

// checkFaultPage checks an HTML error page: status want, text/html, hubgate's
// self-contained page naming the status, nothing leaked.
func checkFaultPage(t testing.TB, what string, r faultResult, want int) {
	t.Helper()
	if r.Err != nil || r.Status != want {
		t.Errorf("%s: want a %d page, got %s", what, want, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q, want text/html", what, ct)
	}
	body := string(r.Body)
	if !strings.HasPrefix(body, "<!doctype html>") || !strings.Contains(body, strconv.Itoa(want)+" · hubgate") {
		t.Errorf("%s: not hubgate's %d page: %q", what, want, truncate(body, 2000))
	}
	checkFaultClean(t, what, r.Body)
}

// checkFaultLog fails if hubgate's log shows a panic.
func checkFaultLog(t testing.TB, g *Gate) {
	t.Helper()
	log := g.Log()
	for _, m := range []string{"panic", "goroutine ", "fatal error", "DATA RACE"} {
		if strings.Contains(log, m) {
			t.Errorf("hubgate at %s logged %q:\n%s", g.URL, m, tail(log, 8<<10))
		}
	}
}

// faultLogLines returns hubgate's log lines that contain all of parts.
func faultLogLines(g *Gate, parts ...string) []string {
	// hubgate writes its log from a buffer at least every 100 ms (logsink): a line
	// logged a moment ago may not be in the file yet.
	deadline := time.Now().Add(2 * time.Second)
	for {
		out := logLinesNow(g, parts...)
		if len(out) > 0 || time.Now().After(deadline) {
			time.Sleep(150 * time.Millisecond) // one more flush: the rest of the lines
			return logLinesNow(g, parts...)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func logLinesNow(g *Gate, parts ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(g.Log()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
next:
	for sc.Scan() {
		for _, p := range parts {
			if !strings.Contains(sc.Text(), p) {
				continue next
			}
		}
		out = append(out, sc.Text())
	}
	return out
}

// promSample is one line of Prometheus' text format.
type promSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// promMetrics is a scrape of /metrics.
type promMetrics []promSample

// scrapeFault GETs http://ADDR/metrics and parses it.
func scrapeFault(t testing.TB, addr string) promMetrics {
	t.Helper()
	r := faultDo(faultClient, "http://"+addr+"/metrics", "text/plain", "", "")
	if r.Err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET http://%s/metrics: %s", addr, r)
	}
	m, err := parsePromText(string(r.Body))
	if err != nil {
		t.Fatalf("GET http://%s/metrics: %v", addr, err)
	}
	return m
}

// parsePromText parses the sample lines of Prometheus' text exposition format.
func parsePromText(text string) (promMetrics, error) {
	var out promMetrics
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			return nil, fmt.Errorf("line %d: %q: no value", n+1, line)
		}
		s := promSample{Name: line[:i], Labels: map[string]string{}}
		rest := line[i:]
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for {
				rest = strings.TrimLeft(rest, ", ")
				if strings.HasPrefix(rest, "}") {
					rest = rest[1:]
					break
				}
				eq := strings.Index(rest, `="`)
				if eq < 0 {
					return nil, fmt.Errorf("line %d: %q: bad labels", n+1, line)
				}
				key := rest[:eq]
				rest = rest[eq+2:]
				var val strings.Builder
				closed := false
				for i := 0; i < len(rest); i++ {
					c := rest[i]
					if c == '\\' && i+1 < len(rest) {
						i++
						switch rest[i] {
						case 'n':
							val.WriteByte('\n')
						default:
							val.WriteByte(rest[i])
						}
						continue
					}
					if c == '"' {
						rest, closed = rest[i+1:], true
						break
					}
					val.WriteByte(c)
				}
				if !closed {
					return nil, fmt.Errorf("line %d: %q: unterminated label value", n+1, line)
				}
				s.Labels[key] = val.String()
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d: %q: no value", n+1, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: %v", n+1, line, err)
		}
		s.Value = v
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no samples")
	}
	return out, nil
}

// Get sums the samples named name whose labels include all of labels; ok
// says whether any matched.
func (m promMetrics) Get(name string, labels map[string]string) (sum float64, ok bool) {
next:
	for _, s := range m {
		if s.Name != name {
			continue
		}
		for k, v := range labels {
			if s.Labels[k] != v {
				continue next
			}
		}
		sum += s.Value
		ok = true
	}
	return sum, ok
}

// Grep lists the samples whose name starts with prefix, for messages.
func (m promMetrics) Grep(prefix string) string {
	var b strings.Builder
	for _, s := range m {
		if strings.HasPrefix(s.Name, prefix) && !strings.HasSuffix(s.Name, "_bucket") {
			fmt.Fprintf(&b, "  %s%v %g\n", s.Name, s.Labels, s.Value)
		}
	}
	return b.String()
}

// faultGoroutines scrapes go_goroutines from hubgate's metrics address.
func faultGoroutines(t testing.TB, metricsAddr string) int {
	t.Helper()
	v, ok := scrapeFault(t, metricsAddr).Get("go_goroutines", nil)
	if !ok {
		t.Fatalf("no go_goroutines at http://%s/metrics", metricsAddr)
	}
	return int(v)
}

// faultIsConnError reports whether err is a connection-level failure (refused,
// reset, closed) rather than a timeout.
func faultIsConnError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "server closed idle connection") ||
		strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "connection reset")
}
