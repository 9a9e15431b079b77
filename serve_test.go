package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubgate/hubgate/internal/freeport"
	"github.com/hubgate/hubgate/internal/redistest"
)

// writeCert makes a self-signed certificate for 127.0.0.1.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestMain lets the test binary stand in for hubgate: with HUBGATE_TEST_MAIN=1 it runs
// main with the arguments after "--". urfave/cli keeps global state, so two Apps must
// not run at once in one process; a child process also shows SIGTERM handling.
func TestMain(m *testing.M) {
	if os.Getenv("HUBGATE_TEST_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"hubgate"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startServe runs `hubgate serve` with args in a child process until the test ends,
// and waits until `hubgate healthcheck` with the same listen flags succeeds.
func startServe(t *testing.T, listenArgs ...string) {
	t.Helper()
	args := append([]string{"--", "serve",
		"--upstream", "http://127.0.0.1:9", "--hub-url", "http://127.0.0.1:9",
		"--client-id", "service-gate", "--client-secret", "secret-token",
		"--redirect-url", "https://127.0.0.1/oauth2/callback",
		"--cookie-secret", strings.Repeat("k", 32), "--log-level", "error"}, listenArgs...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HUBGATE_TEST_MAIN=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hubgate did not exit cleanly on SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("hubgate did not shut down on SIGTERM")
		}
	})
	health := append([]string{"hubgate", "healthcheck"}, listenArgs...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := newApp().Run(health)
		if err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("hubgate stopped: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck never passed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile := writeCert(t, t.TempDir())
	addr := freeAddr(t)
	startServe(t, "--listen", addr, "--tls-cert-file", certFile, "--tls-key-file", keyFile)

	pool := x509.NewCertPool()
	pemData, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pemData)
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, _ := http.NewRequest("GET", "https://"+addr+"/app", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302 to the login", resp.StatusCode)
	}
	cookies := resp.Cookies()
	if len(cookies) == 0 || !cookies[0].Secure {
		t.Errorf("login cookie over https is not Secure: %+v", cookies)
	}
	if resp, err := http.Get("http://" + addr + "/ping"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain http on the TLS port: %d, want 400", resp.StatusCode)
		}
	}
}

func TestServeUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hubgate.sock")
	// A socket file left behind by a run that crashed must not stop the next one.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	startServe(t, "--listen", "unix:"+sock)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %v mode %v", err, fi.Mode())
	}
}

func TestHealthcheckFailsWhenNothingListens(t *testing.T) {
	if err := newApp().Run([]string{"hubgate", "healthcheck", "--listen", freeAddr(t)}); err == nil {
		t.Fatal("healthcheck passed with nothing listening")
	}
}

// TestOversizedHeadersGet431: a huge cookie or header is refused cleanly, not a crash.
func TestOversizedHeadersGet431(t *testing.T) {
	addr := freeAddr(t)
	startServe(t, "--listen", addr)
	for name, value := range map[string]string{
		"Cookie":           "_hubgate=" + strings.Repeat("A", 100<<10),
		"X-Forwarded-User": strings.Repeat("x", 100<<10),
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/app", nil)
		req.Header.Set(name, value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s of 100 KiB: status %d, want 431", name, resp.StatusCode)
		}
	}
	// hubgate is still up.
	if err := newApp().Run([]string{"hubgate", "healthcheck", "--listen", addr}); err != nil {
		t.Fatal(err)
	}
}

// A Redis that refuses connections is a quick 503, not one that waits through
// go-redis's default five dials 100 ms apart (~0.8 s per request).
func TestServeRedisDownIsAQuick503(t *testing.T) {
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":"3.0.0"}`)) // the Hub is fine: /ready asks Redis too
	}))
	defer hub.Close()
	addr, closed := freeAddr(t), freeAddr(t)
	startServe(t, "--listen", addr, "--hub-url", hub.URL, "--session-store", "redis", "--redis-url", "redis://"+closed+"/0")
	for range 3 {
		start := time.Now()
		resp, err := http.Get("http://" + addr + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != http.StatusServiceUnavailable || took > 500*time.Millisecond {
			t.Fatalf("/ready with Redis down: %d after %v; want 503 in well under 0.8 s", resp.StatusCode, took)
		}
	}
}

// rediss:// against a real redis-server that speaks only TLS: hubgate verifies its
// certificate, trusting it only through the system's roots (here SSL_CERT_FILE, as
// an operator would add a private CA), and then works.
func TestServeRedisOverTLS(t *testing.T) {
	cert, key := writeCert(t, t.TempDir())
	srv := redistest.StartTLS(t, cert, key)
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":"3.0.0"}`))
	}))
	defer hub.Close()
	ready := func(trust bool) int {
		if trust {
			t.Setenv("SSL_CERT_FILE", cert)
		}
		addr := freeAddr(t)
		startServe(t, "--listen", addr, "--hub-url", hub.URL, "--session-store", "redis", "--redis-url", "rediss://"+srv.Addr+"/0")
		resp, err := http.Get("http://" + addr + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(false); got != http.StatusServiceUnavailable {
		t.Errorf("/ready with an untrusted Redis certificate: %d, want 503", got)
	}
	if got := ready(true); got != http.StatusOK {
		t.Errorf("/ready over rediss:// with the certificate trusted: %d, want 200", got)
	}
}

// metric reads one unlabelled value from hubgate's /metrics.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestServeSlowClients: 200 clients trickling bodies a byte at a time and 100
// trickling headers tie nothing up: /ping answers meanwhile, the server closes them
// all, and hubgate's goroutines and file descriptors return to where they were.
func TestServeSlowClients(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer up.Close()
	addr, maddr := freeAddr(t), freeAddr(t)
	startServe(t, "--listen", addr, "--metrics-listen", maddr, "--upstream", up.URL,
		"--skip-auth-routes", "POST=^/upload$", "--body-idle-timeout", "500ms", "--header-timeout", "500ms")
	baseGoroutines, baseFDs := metric(t, maddr, "go_goroutines"), metric(t, maddr, "process_open_fds")

	stop := make(chan struct{})
	defer close(stop)
	closed := make(chan bool, 300)
	slow := func(head, trickle string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			closed <- false
			return
		}
		defer c.Close()
		go func() { // a byte every 1.5 s, three times the idle timeout
			c.Write([]byte(head))
			for {
				if _, err := c.Write([]byte(trickle)); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-time.After(1500 * time.Millisecond):
				}
			}
		}()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = io.Copy(io.Discard, c)
		ne, ok := err.(net.Error)
		closed <- !(ok && ne.Timeout())
	}
	for i := range 200 {
		path := "/upload" // to the upstream, which reads the body
		if i%2 == 1 {
			path = "/app" // protected: answered without reading the body
		}
		go slow("POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "x")
	}
	for range 100 {
		go slow("GET /app HTTP/1.1\r\nHost: x\r\n", "X")
	}

	time.Sleep(200 * time.Millisecond)
	for range 3 {
		start := time.Now()
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != http.StatusOK || took > time.Second {
			t.Fatalf("/ping among slow clients: %d after %v, want 200 in under 1 s", resp.StatusCode, took)
		}
		time.Sleep(100 * time.Millisecond)
	}

	open := 0
	for range 300 {
		if !<-closed {
			open++
		}
	}
	if open > 0 {
		t.Fatalf("%d of 300 slow connections still open after 20 s", open)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		g, fds := metric(t, maddr, "go_goroutines"), metric(t, maddr, "process_open_fds")
		if g <= baseGoroutines+10 && fds <= baseFDs+10 {
			t.Logf("goroutines %v (baseline %v), open files %v (baseline %v)", g, baseGoroutines, fds, baseFDs)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the slow clients: %v goroutines (baseline %v), %v open files (baseline %v)", g, baseGoroutines, fds, baseFDs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
