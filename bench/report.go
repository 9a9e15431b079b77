package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

type target struct {
	name, value string
	pass        bool
	skip        bool
}

func machine() (cpus int, model, memTotal, kernel string) {
	cpus = runtime.NumCPU()
	if out, err := exec.Command("nproc").Output(); err == nil {
		fmt.Sscan(string(out), &cpus)
	}
	model, memTotal = "?", "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				memTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return
}

func goVersion() string {
	if out, err := exec.Command("go", "version").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return runtime.Version()
}

func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// markdown renders the report, one section per phase, and returns the targets too so
// that the caller prints the same verdicts the report shows.
func (rep *report) markdown() (string, []target) {
	var b strings.Builder
	rep.mdHeader(&b)
	rep.mdLoad(&b)
	rep.mdRatios(&b)
	rep.mdSteady(&b)
	rep.mdIdentityCache(&b)
	rep.mdMicro(&b)
	targets := rep.targets()
	mdTargets(&b, targets)
	return b.String(), targets
}

// printer is the Fprintf every section writes with.
func printer(b *strings.Builder) func(format string, args ...any) {
	return func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
}

// mdHeader is the title and the table of what was measured where: without the
// machine, the versions and the load average the numbers cannot be compared.
func (rep *report) mdHeader(b *strings.Builder) {
	o, p := rep.o, printer(b)
	cpus, model, memTotal, kernel := machine()
	p("# hubgate benchmark\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", rep.started.UTC().Format("2006-01-02 15:04 MST"))
	p("| machine | %d × %s, %s RAM, Linux %s |\n", cpus, model, memTotal, kernel)
	p("| go | %s |\n", goVersion())
	p("| hubgate | %s (`%s`) |\n", rep.hubgateVer, o.hubgate)
	p("| load | %s, %d connections, %d threads; %d rounds × %v per scenario, every other round in reverse order |\n",
		rep.tool, o.connections, o.threads, o.rounds, o.duration)
	p("| fake Hub | GET /hub/api/user answers after %v |\n", o.hubLatency)
	if o.compare != "" {
		p("| hubgate B | `%s`, measured in the same rounds (rows and ratios marked B; the targets are hubgate's) |\n", o.compare)
	}
	if rep.o2pVersion != "" {
		p("| oauth2-proxy | %s (`%s`), github provider at the fake Hub, cookie session store, measured in the same rounds |\n", rep.o2pVersion, o.oauth2Proxy)
	}
	if len(o.env) > 0 {
		p("| hubgate environment | %s (added to the defaults) |\n", o.env.String())
	}
	p("| load average | %s at start, %s at end (the machine is shared: compare ratios, not absolutes) |\n\n", rep.loadBefore, rep.loadAfter)
}

// mdLoad is the closed-loop table, one row per scenario, in a fixed reading order
// (references first) rather than the order they ran in.
func (rep *report) mdLoad(b *strings.Builder) {
	p := printer(b)
	p("## Load: closed loop, %d connections\n\n", rep.o.connections)
	p("Latencies are the median over rounds of each round's percentile. CPU and memory are those of the process serving the scenario (the upstream, the bare proxy, or hubgate); hubgate's peak RSS is its lifetime peak (VmHWM) read after the scenario.\n\n")
	p("| scenario | req/s | p50 | p99 | p99.9 | max | errors | CPU (%% of a core) | CPU µs/req | peak RSS | RSS |\n")
	p("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n")
	display := slices.Clone(rep.scenarios)
	rank := map[string]int{"upstream": 0, "bare": 1, "bare-pool": 2, "cookie": 3, "token": 4, "auth": 5, "auth-token": 6, "auth401": 7,
		"B-cookie": 8, "B-auth": 9, "B-auth-token": 10, "redis-cookie": 11, "redis-auth": 12,
		"warn-cookie": 13, "o2p-cookie": 14, "o2p-auth": 15, "routes-1": 16, "routes-100": 17}
	slices.SortStableFunc(display, func(a, b *scenario) int { return rank[a.key] - rank[b.key] })
	for _, s := range display {
		t := s.total()
		cpu := time.Duration(s.ticks) * clockTick
		errs := fmt.Sprintf("%d", t.socketErrors+t.statusErrors)
		if s.want >= 400 {
			errs = fmt.Sprintf("%d socket; %d of %d non-2xx/3xx (all %d expected)", t.socketErrors, t.statusErrors, t.requests, s.want)
		} else if t.statusErrors > 0 {
			errs = fmt.Sprintf("%d (%d non-2xx/3xx)", t.socketErrors+t.statusErrors, t.statusErrors)
		}
		name := s.name
		if s.side != nil {
			side := time.Duration(s.sideTicks) * clockTick
			name += fmt.Sprintf(" (+ %s: %.1f µs/req)", s.side.name, float64(side.Microseconds())/float64(max(t.requests, 1)))
		}
		p("| %s | %.0f | %s | %s | %s | %s | %s | %.0f%% | %.1f | %s | %s |\n", name, t.rps(), ms(t.p50), ms(t.p99), ms(t.p999), ms(t.max), errs,
			100*cpu.Seconds()/s.wall.Seconds(), float64(cpu.Microseconds())/float64(max(t.requests, 1)), mib(s.mem.hwm), mib(s.mem.rss))
	}
}

// mdRatios lists every ratio with its per-round values, so that a reader can see how
// much the median hides.
func (rep *report) mdRatios(b *strings.Builder) {
	p := printer(b)
	p("\n## Ratios (same run; median of the per-round ratios)\n\n")
	p("Throughput and p99 ratios are the targets; the CPU-per-request ratios (CPU time of the serving process, from /proc) show the same comparison with much less noise from the rest of the machine.\n\n")
	p("| ratio | value | per round |\n|---|---:|---|\n")
	for _, r := range rep.ratios {
		var rounds []string
		for _, v := range r.perRound {
			rounds = append(rounds, fmt.Sprintf("%.3f", v))
		}
		p("| %s | %.3f | %s |\n", r.name, r.value(), strings.Join(rounds, ", "))
	}
}

// mdSteady is the open-loop /oauth2/auth run beside the same generator against the
// upstream alone, the floor under its latencies.
func (rep *report) mdSteady(b *strings.Builder) {
	p := printer(b)
	pr := rep.paced
	p("\n## /oauth2/auth (cookie) at a steady %d req/s\n\n", pr.wantRate)
	p("Open loop (%s): a request leaves on schedule whatever the earlier ones are doing; 1 s of warm-up not counted.\n\n", pr.tool)
	p("| target | achieved | requests | p50 | p90 | p99 | p99.9 | max | errors | generator max lag |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		r    pacedResult
	}{{"hubgate /oauth2/auth (cookie)", pr}, {"reference: upstream direct", rep.pacedRef}} {
		r := row.r
		p("| %s | %.0f req/s | %d | %s | %s | %s | %s | %s | %d | %s |\n", row.name, r.rate, r.requests, ms(r.p50), ms(r.p90), ms(r.p99), ms(r.p999), ms(r.max),
			r.socketErrors+r.statusErrors, ms(r.maxLag))
	}
}

// mdIdentityCache is the section on the identity cache: bursts, TTL, and many
// identities.
func (rep *report) mdIdentityCache(b *strings.Builder) {
	printer(b)("\n## Identity cache\n\n")
	rep.mdBursts(b)
	rep.mdTTL(b)
	rep.mdIdentities(b)
}

// mdBursts shows, per burst, how many Hub calls the concurrent first requests caused.
func (rep *report) mdBursts(b *strings.Builder) {
	p := printer(b)
	p("**%d concurrent first requests with one new token** (on %d pre-opened connections; the fake Hub takes 50 ms to answer, so they all arrive during the first lookup). \"cache miss\" lines are hubgate's access log lines for these requests that say `cache: miss`, i.e. requests that waited on the shared lookup.\n\n", rep.o.connections, rep.o.connections)
	p("| round | requests | answered 202 | logged as cache miss | Hub calls |\n|---:|---:|---:|---:|---:|\n")
	for i, bu := range rep.bursts {
		p("| %d | %d | %d | %d | %d |\n", i+1, bu.requests, bu.ok, bu.misses, bu.calls)
	}
}

// mdTTL is one paragraph: the Hub calls one token caused under sustained load against
// the TTL windows begun, the number the TTL target judges.
func (rep *report) mdTTL(b *strings.Builder) {
	p := printer(b)
	t := rep.ttl
	p("\n**One token under sustained load** (cache_ttl %v, %v of closed-loop load with %d connections on /oauth2/auth):", t.ttl, t.load.Round(100*time.Millisecond), rep.o.connections)
	if t.err != nil {
		p(" error: %v\n", t.err)
	} else {
		windows := math.Ceil(t.load.Seconds() / t.ttl.Seconds())
		p(" %d requests, **%d Hub calls** for %.0f TTL windows begun = %.2f calls per token per TTL. (The cached identity expires cache_ttl after its lookup, and the next request looks it up again.)\n", t.requests, t.calls, windows, float64(t.calls)/windows)
	}
}

// mdIdentities is the memory and hit-latency table, one row per number of identities.
func (rep *report) mdIdentities(b *strings.Builder) {
	p := printer(b)
	p("\n**Distinct cached identities** (a fresh hubgate each, cache_size N (at least 10000); warmed with one /oauth2/auth per token through %d connections; hits spread over all N tokens: open loop at %d req/s for 5 s, then closed loop with wrk picking a random token per request):\n\n", rep.o.connections, rep.o.pacedRate)
	p("| identities | warm-up | Hub calls | RSS before | RSS after | peak RSS | ≈ bytes per identity | hit p50 | hit p99 | hit p99.9 | hits req/s (closed loop) | CPU µs/req | Hub calls while hitting |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, id := range rep.idents {
		if id.err != nil && id.after.hwm == 0 {
			p("| %d | error: %v |\n", id.n, id.err)
			continue
		}
		per := float64(id.after.rss-id.before.rss) / float64(id.n)
		p("| %d | %v (%d failed) | %d | %s | %s | %s | %.0f | %s | %s | %s | %.0f | %.1f | %d |\n", id.n, id.warm.Round(100*time.Millisecond), id.warmBad, id.hubCalls,
			mib(id.before.rss), mib(id.after.rss), mib(id.after.hwm), per, ms(id.hit.p50), ms(id.hit.p99), ms(id.hit.p999), id.load.rps(),
			float64((time.Duration(id.loadTicks)*clockTick).Microseconds())/float64(max(id.load.requests, 1)), id.hitCalls)
	}
}

// mdMicro is the go test -bench table; a failed run's output goes in the report so
// that the failure can be read where the numbers are missing.
func (rep *report) mdMicro(b *strings.Builder) {
	o, p := rep.o, printer(b)
	p("\n## Micro-benchmarks\n\n")
	if !o.micro {
		p("Not run (-micro=false).\n")
		return
	}
	p("`go test -run '^$' -bench . -benchmem -benchtime %s %s`. net-allocs/op is allocs/op less what httptest.ResponseRecorder itself allocates to record the same answer; provider-calls/op is asserted to be 0.\n\n", o.benchtime, strings.Join(microPackages, " "))
	if rep.microErr != nil {
		p("**Failed:** %v\n\n```\n%s\n```\n\n", rep.microErr, tailString(rep.microOut, 3000))
	}
	p("| package | benchmark | ns/op | B/op | allocs/op | other |\n|---|---|---:|---:|---:|---|\n")
	for _, m := range rep.micro {
		p("| %s | %s | %.0f | %.0f | %.0f | %s |\n", m.pkg, m.name, m.metrics["ns/op"], m.metrics["B/op"], m.metrics["allocs/op"], otherMetrics(m))
	}
}

// otherMetrics are a benchmark's custom metrics, sorted by name so that the column
// does not change order from run to run.
func otherMetrics(m microResult) string {
	var other []string
	keys := make([]string, 0, len(m.metrics))
	for k := range m.metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "ns/op" && k != "B/op" && k != "allocs/op" {
			other = append(other, fmt.Sprintf("%g %s", m.metrics[k], k))
		}
	}
	return strings.Join(other, ", ")
}

// mdTargets is the verdict table; the targets themselves are decided in targets.
func mdTargets(b *strings.Builder, targets []target) {
	p := printer(b)
	p("\n## Targets\n\n| target | measured | verdict |\n|---|---|---|\n")
	for _, t := range targets {
		verdict := "**PASS**"
		switch {
		case t.skip:
			verdict = "not measured"
		case !t.pass:
			verdict = "**FAIL**"
		}
		p("| %s | %s | %s |\n", t.name, t.value, verdict)
	}
}

func (rep *report) targets() []target {
	var ts []target
	ratioOf := func(name string) (float64, bool) {
		for _, r := range rep.ratios {
			if r.name == name && len(r.perRound) > 0 {
				return r.value(), true
			}
		}
		return 0, false
	}
	if v, ok := ratioOf("hubgate cookie proxy / bare proxy, throughput"); ok {
		ts = append(ts, target{name: "cookie-session proxy throughput ≥ 0.9 × bare reverse proxy", value: fmt.Sprintf("%.3f ×", v), pass: v >= 0.9})
	}
	if v, ok := ratioOf("hubgate cookie proxy / bare proxy, p99"); ok {
		ts = append(ts, target{name: "cookie-session proxy p99 ≤ 1.2 × bare reverse proxy", value: fmt.Sprintf("%.3f ×", v), pass: v <= 1.2})
	}
	if v, ok := ratioOf("/oauth2/auth 202 (cookie) / upstream direct, throughput"); ok {
		tv, _ := ratioOf("/oauth2/auth 202 (token) / upstream direct, throughput")
		ts = append(ts, target{name: "/oauth2/auth 202 throughput ≥ 0.8 × upstream direct", value: fmt.Sprintf("%.3f × (cookie); %.3f × with a token", v, tv), pass: v >= 0.8})
	}
	ts = append(ts, peerTargets(ratioOf)...)
	if rep.o.routes {
		ts = append(ts, routesTarget(ratioOf, rep.micro)...)
	}
	pr := rep.paced
	ts = append(ts, target{name: fmt.Sprintf("/oauth2/auth p99 ≤ 1 ms at a steady %d req/s", pr.wantRate),
		value: fmt.Sprintf("p99 %s at %.0f req/s, %d errors (upstream direct, same generator: p99 %s)", ms(pr.p99), pr.rate, pr.socketErrors+pr.statusErrors, ms(rep.pacedRef.p99)),
		pass:  pr.p99 > 0 && pr.p99 <= time.Millisecond && pr.rate >= 0.95*float64(pr.wantRate) && pr.socketErrors+pr.statusErrors == 0})
	if len(rep.bursts) > 0 {
		ok := true
		var calls []string
		for _, b := range rep.bursts {
			calls = append(calls, fmt.Sprint(b.calls))
			ok = ok && b.calls == 1 && b.ok == b.requests
		}
		ts = append(ts, target{name: fmt.Sprintf("exactly 1 Hub call per new token under %d concurrent first requests", rep.o.connections),
			value: "Hub calls per round: " + strings.Join(calls, ", "), pass: ok})
	}
	if t := rep.ttl; t.err == nil && t.ttl > 0 {
		windows := math.Ceil(t.load.Seconds() / t.ttl.Seconds())
		ts = append(ts, target{name: "1 Hub call per token per TTL under sustained load",
			value: fmt.Sprintf("%d calls for %.0f TTL windows of %v (%.2f per TTL)", t.calls, windows, t.ttl, float64(t.calls)/windows),
			pass:  float64(t.calls) >= windows-1 && float64(t.calls) <= windows})
	}
	if m, ok := findMicro(rep.micro, "AuthCachedToken"); ok {
		calls := m.metrics["provider-calls/op"]
		var hitCalls int64
		for _, id := range rep.idents {
			hitCalls += id.hitCalls
		}
		ts = append(ts, target{name: "zero provider calls on a cached decision",
			value: fmt.Sprintf("%g provider calls/op (micro-benchmark); %d Hub calls during cached hits under load", calls, hitCalls),
			pass:  calls == 0 && hitCalls == 0})
		net := m.metrics["net-allocs/op"]
		ts = append(ts, target{name: "≤ 10 allocations per request on a cached decision (API token, /oauth2/auth)",
			value: fmt.Sprintf("%g allocs/op of hubgate's own (%g with the ResponseRecorder's)", net, m.metrics["allocs/op"]),
			pass:  net <= 10})
	} else {
		ts = append(ts, target{name: "zero provider calls and ≤ 10 allocations on a cached decision", value: "micro-benchmark not run", skip: true})
	}
	cached, okCached := findMicro(rep.micro, "AuthCachedToken")
	jwt, okJWT := findMicro(rep.micro, "AuthJWTBearer")
	if okCached && okJWT {
		ratio := jwt.metrics["ns/op"] / cached.metrics["ns/op"]
		first := "not run"
		if v, ok := findMicro(rep.micro, "OIDCVerifyJWT"); ok {
			first = fmt.Sprintf("%.1f µs", v.metrics["ns/op"]/1000)
		}
		ts = append(ts, target{name: "JWT bearer decision (skip_jwt_bearer_tokens): no provider call, ≤ 2 × a cached opaque-token decision",
			value: fmt.Sprintf("%.3f × (%.0f ns vs %.0f ns per /oauth2/auth decision, micro-benchmarks of this run); %g provider calls/op; verifying a JWT the first time: %s",
				ratio, jwt.metrics["ns/op"], cached.metrics["ns/op"], jwt.metrics["provider-calls/op"], first),
			pass: ratio <= 2 && jwt.metrics["provider-calls/op"] == 0})
	}
	if rep.hwm64.hwm > 0 {
		ts = append(ts, target{name: fmt.Sprintf("peak RSS ≤ 40 MiB under %d connections", rep.o.connections),
			value: mib(rep.hwm64.hwm) + " (VmHWM after all load scenarios)", pass: rep.hwm64.hwm <= 40<<20})
	}
	for _, id := range rep.idents {
		if id.n == 100000 {
			ts = append(ts, target{name: "peak RSS ≤ 100 MiB with 100k cached identities",
				value: mib(id.after.hwm) + " (VmHWM after warming and hitting)", pass: id.after.hwm > 0 && id.after.hwm <= 100<<20 && id.warmBad == 0})
		}
	}
	return ts
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
