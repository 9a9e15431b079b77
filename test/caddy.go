//go:build integration

package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Debian's Caddy (2.6 in Debian 12), which has forward_auth.
const caddyBinary = "/usr/bin/caddy"

// caddyStartTimeout bounds how long Caddy may take to accept connections.
const caddyStartTimeout = 15 * time.Second

// caddyExample is the Caddyfile shipped to users. It reads the addresses from
// Caddy's own environment placeholders ({$SITE:app.example.org}), so the test runs
// the file as it is.
var caddyExample = filepath.Join("..", "examples", "caddy", "Caddyfile")

// CaddySite is what a Caddyfile under test is run with: its {$SITE}, {$HUBGATE}
// and {$APP} placeholders.
type CaddySite struct {
	Site    string // Caddy's site address, "http://127.0.0.N[:PORT]"
	Hubgate string // hubgate's address
	App     string // the protected app's address
	// Caddyfile is the site configuration to run; "" is the shipped example.
	Caddyfile string
}

// Caddy is a running Caddy serving one site.
type Caddy struct {
	URL  string // the browser-facing address, e.g. http://127.0.0.5
	proc *process
}

// requireCaddy fails the test loudly if Caddy is missing.
func requireCaddy(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(caddyBinary); err != nil {
		t.Fatalf("caddy is required for the Caddy integration tests but %s is missing (%v); "+
			"install with: apt-get install -y caddy (or run make deps)", caddyBinary, err)
	}
}

// StartCaddy runs site's Caddyfile, imported by a main Caddyfile of the test's own
// (no admin endpoint, no automatic HTTPS, bound to addr's host only: tests run side
// by side on loopback), and
// waits until it accepts connections on addr ("127.0.0.N:PORT", the site's
// address). Caddy is stopped when the test ends; its log is printed on failure.
func StartCaddy(t testing.TB, addr string, site CaddySite) *Caddy {
	t.Helper()
	requireCaddy(t)
	dir := t.TempDir()
	file := site.Caddyfile
	if file == "" {
		file = caddyExample
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	// default_bind: Caddy listens on every interface otherwise, taking port 80 from
	// the suite's other sites on 127.0.0.N.
	main := "{\n\tadmin off\n\tauto_https off\n\tdefault_bind " + host + "\n}\n\nimport " + abs + "\n"
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=/usr/bin:/bin", "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir,
		"SITE=" + site.Site, "HUBGATE=" + site.Hubgate, "APP=" + site.App,
	}
	check := exec.Command(caddyBinary, "validate", "--config", conf, "--adapter", "caddyfile")
	check.Env = env
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate rejects %s: %v\n%s", file, err, out)
	}
	cmd := exec.Command(caddyBinary, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = env
	c := &Caddy{URL: site.Site}
	c.proc = startProcess(t, "caddy-"+addr, cmd)
	if err := waitFor(caddyStartTimeout, c.proc, tcpAccepts(addr)); err != nil {
		t.Fatalf("caddy did not come up on %s: %v\n%s", addr, err, c.proc.Log())
	}
	return c
}
