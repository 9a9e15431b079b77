package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult is one closed-loop load run.
type loadResult struct {
	tool         string
	requests     int64
	duration     time.Duration
	socketErrors int64 // connect, read, write, timeout
	statusErrors int64 // answers other than 2xx/3xx
	p50, p90     time.Duration
	p99, p999    time.Duration
	max          time.Duration
	cpu          time.Duration // CPU time of the process under test during the run
}

// cpuPerRequest is the CPU time the process under test spent per request.
func (r loadResult) cpuPerRequest() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.requests)
}

func (r loadResult) rps() float64 {
	if r.duration <= 0 {
		return 0
	}
	return float64(r.requests) / r.duration.Seconds()
}

// wrkScript prints wrk's summary on one parsable line. With TOKENS set it sends
// "Authorization: token tok-id-<RUN>-<n>" for a random n < TOKENS on every request.
const wrkScript = `
local tokens = tonumber(os.getenv("TOKENS") or "0")
local run = os.getenv("RUN") or ""
if tokens > 0 then
  request = function()
    local h = {}
    h["Authorization"] = "token tok-id-" .. run .. "-" .. math.random(0, tokens - 1)
    return wrk.format(nil, nil, h)
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p90=%d p99=%d p999=%d max=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`

// loader drives closed-loop load with wrk when it is installed, else with a Go
// generator.
type loader struct {
	wrk         string // path of wrk, "" for the Go generator
	script      string
	connections int
	threads     int
}

func newLoader(dir string, connections, threads int, forceGo bool) (*loader, error) {
	l := &loader{connections: connections, threads: threads}
	if path, err := exec.LookPath("wrk"); err == nil && !forceGo {
		l.wrk = path
		l.script = filepath.Join(dir, "summary.lua")
		if err := os.WriteFile(l.script, []byte(wrkScript), 0o644); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *loader) tool() string {
	if l.wrk != "" {
		return "wrk"
	}
	return "Go closed-loop generator"
}

// run loads url for d with the given headers ("Name: value").
func (l *loader) run(url string, headers []string, d time.Duration, env ...string) (loadResult, error) {
	if l.wrk == "" {
		return goLoad(url, headers, l.connections, d)
	}
	args := []string{"-t", strconv.Itoa(l.threads), "-c", strconv.Itoa(l.connections),
		"-d", fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second)), "--timeout", "5s", "-s", l.script}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, url)
	cmd := exec.Command(l.wrk, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "BENCH ")
		if !ok {
			continue
		}
		v := map[string]int64{}
		for _, kv := range strings.Fields(rest) {
			k, val, _ := strings.Cut(kv, "=")
			v[k], _ = strconv.ParseInt(val, 10, 64)
		}
		us := func(k string) time.Duration { return time.Duration(v[k]) * time.Microsecond }
		return loadResult{
			tool:         "wrk",
			requests:     v["requests"],
			duration:     us("duration_us"),
			socketErrors: v["connect"] + v["read"] + v["write"] + v["timeout"],
			statusErrors: v["status"],
			p50:          us("p50"), p90: us("p90"), p99: us("p99"), p999: us("p999"), max: us("max"),
		}, nil
	}
	return loadResult{}, fmt.Errorf("wrk %s: no summary in its output:\n%s", url, out)
}

// goLoad is the fallback: c workers, each sending requests back to back.
func goLoad(url string, headers []string, c int, d time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c, MaxConnsPerHost: c, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var socketErrs, statusErrs atomic.Int64
	lat := make([][]time.Duration, c)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				for _, h := range headers {
					k, v, _ := strings.Cut(h, ":")
					req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
				}
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					socketErrs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[w] = append(lat[w], time.Since(t))
				if resp.StatusCode >= 400 {
					statusErrs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	all := slices.Concat(lat...)
	r := summarize(all)
	r.tool = "go"
	r.duration = time.Since(start)
	r.socketErrors, r.statusErrors = socketErrs.Load(), statusErrs.Load()
	return r, nil
}

// summarize sorts latencies and takes their percentiles.
func summarize(lat []time.Duration) loadResult {
	slices.Sort(lat)
	r := loadResult{requests: int64(len(lat))}
	if len(lat) == 0 {
		return r
	}
	pct := func(p float64) time.Duration {
		i := int(p/100*float64(len(lat))+0.5) - 1
		return lat[min(max(i, 0), len(lat)-1)]
	}
	r.p50, r.p90, r.p99, r.p999, r.max = pct(50), pct(90), pct(99), pct(99.9), lat[len(lat)-1]
	return r
}

// pacedResult is an open-loop run at a fixed rate.
type pacedResult struct {
	loadResult
	rate     float64 // achieved, requests per second
	maxLag   time.Duration
	wantRate int
}

// paced sends rate requests per second for warm+d, each on schedule whatever the
// earlier ones are doing (open loop: a slow answer does not delay the next request),
// and measures the latencies of those after warm. header gives request i's headers.
func paced(url string, rate int, warm, d time.Duration, header func(i int) http.Header) pacedResult {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	interval := time.Second / time.Duration(rate)
	nWarm, n := int(warm/interval), int((warm+d)/interval)
	lat := make([]time.Duration, n)
	var socketErrs, statusErrs atomic.Int64
	var maxLag time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		} else if lag := -w; lag > maxLag && i >= nWarm {
			maxLag = lag
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header = header(i)
		wg.Go(func() {
			t := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				lat[i] = -1
				socketErrs.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat[i] = time.Since(t)
			if resp.StatusCode >= 400 {
				statusErrs.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start.Add(warm))
	var measured []time.Duration
	for _, l := range lat[nWarm:] {
		if l >= 0 {
			measured = append(measured, l)
		}
	}
	r := pacedResult{loadResult: summarize(measured), wantRate: rate, maxLag: maxLag}
	r.tool = "Go open-loop generator"
	r.duration = elapsed
	r.rate = float64(n-nWarm) / elapsed.Seconds()
	r.socketErrors, r.statusErrors = socketErrs.Load(), statusErrs.Load()
	return r
}

// burst sends n requests at once, each on a connection opened beforehand, and
// returns their status codes.
func burst(url string, n int, header http.Header) ([]int, error) {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base, _, _ := strings.Cut(url, "/oauth2/")
	// Open n connections: n concurrent pings, each holding its connection until all
	// have one.
	var opened sync.WaitGroup
	opened.Add(n)
	var wg sync.WaitGroup
	var errs atomic.Int64
	for range n {
		wg.Go(func() {
			resp, err := client.Get(base + "/ping")
			opened.Done()
			if err != nil {
				errs.Add(1)
				return
			}
			opened.Wait()
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if errs.Load() > 0 {
		return nil, fmt.Errorf("opening %d connections: %d failed", n, errs.Load())
	}
	codes := make([]int, n)
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header = header.Clone()
			<-gate
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	time.Sleep(20 * time.Millisecond) // all goroutines at the gate
	close(gate)
	wg.Wait()
	return codes, nil
}

// warmTokens sends one request for each of n tokens through c workers and returns
// how many did not answer 202.
func warmTokens(url string, n, c int, token func(i int) string) int64 {
	tr := &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", "token "+token(i))
				resp, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return bad.Load()
}

// firstLine is for error messages.
func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	if sc.Scan() {
		return sc.Text()
	}
	return ""
}
