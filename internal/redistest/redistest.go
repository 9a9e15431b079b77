// Package redistest starts a real redis-server on loopback for tests (and the
// bench), the way httptest starts an HTTP server: Debian's redis-server, a free
// port, no disk.
package redistest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubgate/hubgate/internal/freeport"
)

// Server is one redis-server process.
type Server struct {
	Addr string // 127.0.0.1:port
	t    testing.TB
	cmd  *exec.Cmd
	// With TLS (StartTLS) the server speaks only TLS, with this certificate.
	certFile, keyFile string
}

// Start runs a redis-server for the test and stops it at the test's end. A machine
// without redis-server fails the test: `make deps` installs it.
func Start(t testing.TB) *Server {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: addr, t: t}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// StartTLS is Start for a server that speaks only TLS (rediss://), with the given
// certificate and key (PEM files).
func StartTLS(t testing.TB, certFile, keyFile string) *Server {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: addr, t: t, certFile: certFile, keyFile: keyFile}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// address, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a client of the server, closed at the test's end.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Stop kills the server (the data is gone, as after a crash with no persistence).
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same address, empty.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd, err := run(s.Addr, s.t.TempDir(), nil, s.certFile, s.keyFile)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
}

// Run starts Debian's redis-server on addr (127.0.0.1:PORT) with no persistence,
// its output to out (nil: none) and its files in dir, and returns once it answers
// PING. The tests start theirs through Start; the bench calls Run.
func Run(addr, dir string, out io.Writer) (*exec.Cmd, error) {
	return run(addr, dir, out, "", "")
}

// run is Run, speaking only TLS when certFile is set.
func run(addr, dir string, out io.Writer, certFile, keyFile string) (*exec.Cmd, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not installed; `make deps` installs it (Debian package redis-server)")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	args := []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--protected-mode", "yes", "--loglevel", "warning", "--dir", dir}
	opts := &redis.Options{Addr: addr, MaxRetries: -1}
	if certFile != "" {
		args = append(args, "--port", "0", "--tls-port", port, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
			"--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
		pem, err := os.ReadFile(certFile)
		if err != nil {
			return nil, err
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		opts.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server: %w", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return cmd, nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("redis-server on %s did not answer PING within 10s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Port is the server's port, for configs that want it alone.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *Server) String() string { return fmt.Sprintf("redis-server at %s", s.Addr) }

// StartSentinel runs a Redis Sentinel (redis-server --sentinel) that watches s as the
// master called name, for the test; it returns the sentinel's address.
func (s *Server) StartSentinel(name string) string {
	s.t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		s.t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	_, masterPort, _ := net.SplitHostPort(s.Addr)
	dir := s.t.TempDir()
	conf := dir + "/sentinel.conf" // Sentinel rewrites its own file
	text := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %s 1\n", port, dir, name, masterPort)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		s.t.Fatal(err)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatal("redis-server is not installed; `make deps` installs it (Debian package redis-server)")
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis sentinel: %v", err)
	}
	s.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		got, err := c.GetMasterAddrByName(ctx, name).Result()
		cancel()
		if err == nil && len(got) == 2 && got[1] == masterPort {
			return addr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("sentinel on %s did not name %s's master within 10s: %v %v", addr, name, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
