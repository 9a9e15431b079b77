//go:build integration

package integration

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hubgate/hubgate/internal/freeport"
)

// loopback is the only address anything in this suite binds to.
const loopback = "127.0.0.1"

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
