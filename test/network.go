//go:build integration

package integration

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubgate/hubgate/internal/freeport"
)

// loopback is the address this suite binds to, but for defaultPortAddr's sites.
const loopback = "127.0.0.1"

// defaultPortHosts are the loopback addresses defaultPortAddr handed out, so two
// tests of one binary never get the same one.
var defaultPortHosts = struct {
	sync.Mutex
	used map[string]bool
}{used: map[string]bool{}}

// defaultPortAddr returns "127.0.0.N:80" for a free N: a site on port 80 has a Host
// header without a port, as in production. Configs that build a URL from nginx's
// $host or Caddy's {host} (which drop the port) only work there.
func defaultPortAddr(t testing.TB) string {
	t.Helper()
	defaultPortHosts.Lock()
	defer defaultPortHosts.Unlock()
	var lastErr error
	for n := 2; n < 255; n++ {
		addr := net.JoinHostPort("127.0.0."+strconv.Itoa(n), "80")
		if defaultPortHosts.used[addr] {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			lastErr = err
			if errors.Is(err, syscall.EACCES) {
				break
			}
			continue
		}
		ln.Close()
		defaultPortHosts.used[addr] = true
		return addr
	}
	t.Fatalf("no loopback address with a free port 80 (last: %v); binding port 80 needs root or "+
		"CAP_NET_BIND_SERVICE, as make test has in CI", lastErr)
	return ""
}

// freePort returns a free loopback port that no other caller in this test binary
// got (freeport.Port: below the kernel's ephemeral range, checked by binding).
func freePort(t testing.TB) int {
	t.Helper()
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// freeAddr returns "127.0.0.1:PORT" for a free port.
func freeAddr(t testing.TB) string {
	return net.JoinHostPort(loopback, strconv.Itoa(freePort(t)))
}

// randomSecret returns a random string of 52 base32 characters.
func randomSecret() string { return rand.Text() + rand.Text() }

// waitFor polls check every 100ms until it returns nil, the timeout passes or
// p (if not nil) exits. It returns the last error.
func waitFor(timeout time.Duration, p *process, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if p != nil {
			if perr := p.checkRunning(); perr != nil {
				return fmt.Errorf("%w (last check: %v)", perr, err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %v: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpStatusIs returns a check for waitFor that GETs url and wants status want.
func httpStatusIs(url string, want int) func() error {
	client := &http.Client{
		Timeout:       2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("GET %s: status %d, want %d", url, resp.StatusCode, want)
		}
		return nil
	}
}

// tcpAccepts returns a check for waitFor that connects to addr.
func tcpAccepts(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
