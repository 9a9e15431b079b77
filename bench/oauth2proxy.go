package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// oauth2-proxy, run beside hubgate against the same fake Hub and upstream, and a second
// hubgate at log level warn (no access lines), for the access log's cost. Both are
// measured in the same rounds as the other load scenarios.

// oauth2ProxyCookie is oauth2-proxy's default session cookie name.
const oauth2ProxyCookie = "_oauth2_proxy"

// oauth2ProxyArgs configures oauth2-proxy as hubgate is configured: its github
// provider with the fake Hub's authorize and token endpoints and the fake GitHub API
// under /github/ (for the email and login it asks once at sign-in), PKCE S256, the
// default cookie session store without refresh (so a request with a session cookie is
// decrypted and served without asking the provider, as hubgate serves a cached
// identity), plain HTTP on loopback, and its default logging (one request line per
// request, as hubgate's info level writes one access line).
func oauth2ProxyArgs(addr, hubURL, upstream, secret string) []string {
	return []string{
		"--http-address=" + addr,
		"--upstream=" + upstream + "/",
		"--provider=github",
		"--login-url=" + hubURL + "/hub/api/oauth2/authorize",
		"--redeem-url=" + hubURL + "/hub/api/oauth2/token",
		"--validate-url=" + hubURL + "/github/",
		"--code-challenge-method=S256",
		"--client-id=service-bench",
		"--client-secret=bench-client-secret",
		"--redirect-url=http://" + addr + "/oauth2/callback",
		"--cookie-secret=" + secret,
		"--cookie-secure=false",
		"--email-domain=*",
		"--skip-provider-button=true",
		"--session-store-type=cookie",
		"--cookie-refresh=0",
	}
}

// startOAuth2Proxy runs the oauth2-proxy binary with oauth2ProxyArgs.
func (r *rig) startOAuth2Proxy(binary string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, oauth2ProxyArgs(addr, r.hubURL, r.upstream.url, randomHex(16))...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + r.dir}
	p, err := startProcess("oauth2-proxy", cmd, "http://"+addr, filepath.Join(r.dir, "oauth2-proxy.log"))
	if err == nil {
		r.procs = append(r.procs, p)
	}
	return p, err
}

// o2pVersionsion is what `oauth2-proxy --version` prints.
func o2pVersionsion(binary string) (string, error) {
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s (make bench installs it)", binary, err, firstLine(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// loginOAuth2Proxy signs in for real, as login does for hubgate: /oauth2/start, the
// fake Hub's authorize endpoint, the callback (which redeems the code and sets the
// session cookie) and on to /app/ through the proxy. It returns the Cookie header
// value carrying the session (one cookie, or its parts if oauth2-proxy split it).
func loginOAuth2Proxy(base string) (string, error) {
	cookies, err := browse("oauth2-proxy login", base, "/oauth2/start?rd=%2Fapp%2F")
	if err != nil {
		return "", err
	}
	var parts []string
	for _, c := range cookies {
		if strings.HasPrefix(c.Name, oauth2ProxyCookie) && !strings.HasSuffix(c.Name, "_csrf") {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	if len(parts) == 0 {
		return "", errors.New("oauth2-proxy login: no session cookie was set")
	}
	return strings.Join(parts, "; "), nil
}

// peers adds the oauth2-proxy scenarios (when o.oauth2Proxy names a binary) and the
// warn-level hubgate's, each right after the hubgate scenario it is compared with.
// hubgateCookie is the main hubgate's session; the warn-level hubgate shares its
// cookie secret, so the same session works on it.
func (r *rig) peers(rep *report, ins func(after string, s *scenario), hubgateCookie string) error {
	if bin := r.o.oauth2Proxy; bin != "" {
		v, err := o2pVersionsion(bin)
		if err != nil {
			return err
		}
		rep.o2pVersion = v
		op, err := r.startOAuth2Proxy(bin)
		if err != nil {
			return err
		}
		cookie, err := loginOAuth2Proxy(op.url)
		if err != nil {
			return fmt.Errorf("%w\noauth2-proxy log:\n%s", err, tail(op.log, 2000))
		}
		h := []string{"Cookie: " + cookie}
		ins("auth", &scenario{key: "o2p-auth", name: "oauth2-proxy /oauth2/auth 202 (cookie)", url: op.url + "/oauth2/auth", headers: h, proc: op, want: 202})
		ins("cookie", &scenario{key: "o2p-cookie", name: "oauth2-proxy, cookie session", url: op.url + "/app/", headers: h, proc: op, want: 200})
	}
	warn, err := r.startHubgate("hubgate-warn", map[string]string{"HUBGATE_LOG_LEVEL": "warn"})
	if err != nil {
		return err
	}
	ins("cookie", &scenario{key: "warn-cookie", name: "hubgate at log level warn, cookie session", url: warn.url + "/app/",
		headers: []string{"Cookie: " + hubgateCookie}, proc: warn, want: 200})
	return nil
}

// peerRatios are the ratios of the scenarios peers added.
func peerRatios(o options, pair func(name, a, b string, f func(x, y loadResult) float64), rps, p99, cpu func(x, y loadResult) float64) {
	if o.oauth2Proxy != "" {
		pair(ratioO2PProxyRPS, "cookie", "o2p-cookie", rps)
		pair("hubgate / oauth2-proxy, cookie-session proxy, p99", "cookie", "o2p-cookie", p99)
		pair(ratioO2PProxyCPU, "cookie", "o2p-cookie", cpu)
		pair(ratioO2PAuthRPS, "auth", "o2p-auth", rps)
		pair("hubgate / oauth2-proxy, /oauth2/auth 202 (cookie), p99", "auth", "o2p-auth", p99)
		pair(ratioO2PAuthCPU, "auth", "o2p-auth", cpu)
	}
	pair(ratioLogCPU, "cookie", "warn-cookie", cpu)
	pair("hubgate cookie proxy at log level info / at warn, throughput", "cookie", "warn-cookie", rps)
}

const (
	ratioO2PProxyRPS = "hubgate / oauth2-proxy, cookie-session proxy, throughput"
	ratioO2PProxyCPU = "CPU per request: hubgate / oauth2-proxy, cookie-session proxy"
	ratioO2PAuthRPS  = "hubgate / oauth2-proxy, /oauth2/auth 202 (cookie), throughput"
	ratioO2PAuthCPU  = "CPU per request: hubgate / oauth2-proxy, /oauth2/auth 202 (cookie)"
	ratioLogCPU      = "CPU per request: hubgate cookie proxy at log level info (access lines) / at warn (none)"
)

// peerTargets are the informational targets against oauth2-proxy and for the access
// log's cost.
func peerTargets(ratioOf func(string) (float64, bool)) []target {
	var ts []target
	for _, t := range []struct {
		name, ratio string
		min, max    float64
	}{
		{"cookie-session proxy throughput ≥ 3 × oauth2-proxy's", ratioO2PProxyRPS, 3, 0},
		{"/oauth2/auth 202 (cookie) throughput ≥ 3 × oauth2-proxy's", ratioO2PAuthRPS, 3, 0},
		{"CPU per request ≤ 0.3 × oauth2-proxy's, cookie-session proxy", ratioO2PProxyCPU, 0, 0.3},
		{"CPU per request ≤ 0.3 × oauth2-proxy's, /oauth2/auth 202 (cookie)", ratioO2PAuthCPU, 0, 0.3},
	} {
		v, ok := ratioOf(t.ratio)
		if !ok {
			ts = append(ts, target{name: t.name, value: "oauth2-proxy not measured (-oauth2-proxy)", skip: true})
			continue
		}
		ts = append(ts, target{name: t.name, value: fmt.Sprintf("%.3f ×", v), pass: (t.min == 0 || v >= t.min) && (t.max == 0 || v <= t.max)})
	}
	if v, ok := ratioOf(ratioLogCPU); ok {
		ts = append(ts, target{name: "access log's cost ≤ 10 % (CPU per request at log level info / at warn − 1, cookie-session proxy)",
			value: fmt.Sprintf("%+.1f %%", 100*(v-1)), pass: v-1 <= 0.10})
	}
	return ts
}
