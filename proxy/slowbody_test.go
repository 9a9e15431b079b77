package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testIdle = 300 * time.Millisecond

// idleServer serves h behind BodyIdleHandler until the test ends. Cleanups run last
// first: the test's connections close before Close waits for the handlers, so a
// broken build fails rather than hangs.
func idleServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(BodyIdleHandler(h, testIdle))
	t.Cleanup(srv.Close)
	return srv
}

// dialPost sends the headers of a POST with a body of length n and returns the
// connection, for the caller to send the body as slowly as it likes.
func dialPost(t *testing.T, srv *httptest.Server, n int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
	return c
}

// closedWithin reports whether the server ends the connection (EOF, reset) within d,
// reading and dropping any response before that.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	ne, ok := err.(net.Error)
	return !(ok && ne.Timeout())
}

func TestBodyIdleCutsAStalledBody(t *testing.T) {
	got := make(chan error, 1)
	srv := idleServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	})
	c := dialPost(t, srv, 100)
	c.Write([]byte("x")) // then nothing
	select {
	case err := <-got:
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("reading a stalled body: %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled body was still being read after 10 s")
	}
	if !closedWithin(c, 10*time.Second) {
		t.Error("the connection of a stalled body stays open")
	}
}

// An upload slower in total than the idle timeout but never pausing that long is
// not cut; nor is a response that takes longer than it once the body is in.
func TestBodyIdleKeepsAFlowingBodyAndASlowResponse(t *testing.T) {
	const n = 8
	srv := idleServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body.Read(make([]byte, 1)) // EOF again, as decoders and io.Copy do
		time.Sleep(3 * testIdle)     // the server's background read must not time out meanwhile
		if err := r.Context().Err(); err != nil {
			http.Error(w, "context: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "got %d", len(b))
	})
	c := dialPost(t, srv, n)
	for range n {
		time.Sleep(testIdle / 3)
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != fmt.Sprintf("got %d", n) {
		t.Fatalf("%d %q, want 200 with the whole body", resp.StatusCode, body)
	}
}

// A handler that answers without reading the body leaves it to the server, which
// reads up to 256 KiB of it to keep the connection: that too is bounded.
func TestBodyIdleBoundsAnUnreadBody(t *testing.T) {
	srv := idleServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	})
	c := dialPost(t, srv, 100000)
	done := make(chan struct{})
	defer close(done)
	go func() { // a byte a second, for ever
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Second):
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	if !closedWithin(c, 10*time.Second) {
		t.Error("the connection of an unread, trickling body stays open")
	}
}

// A hijacked connection (a websocket) is handed over without the body's deadline.
func TestBodyIdleHijackClearsTheDeadline(t *testing.T) {
	got := make(chan string, 1)
	srv := idleServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		line, err := brw.ReadString('\n') // sent after more than the idle timeout
		if err != nil {
			line = err.Error()
		}
		got <- line
	})
	c := dialPost(t, srv, 100)
	time.Sleep(3 * testIdle)
	c.Write([]byte("hello\n"))
	select {
	case line := <-got:
		if line != "hello\n" {
			t.Fatalf("hijacked connection read %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no read on the hijacked connection")
	}
}

// Requests without a body are not touched: no deadline, no wrapper.
func TestBodyIdleLeavesBodilessRequests(t *testing.T) {
	var sawWrapped bool
	h := BodyIdleHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sawWrapped = r.Body.(*idleBody)
	}), testIdle)
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/", nil),
		httptest.NewRequest("POST", "/", strings.NewReader("")),
	} {
		r.ContentLength = 0
		h.ServeHTTP(httptest.NewRecorder(), r)
		if sawWrapped {
			t.Errorf("%s without a body was wrapped", r.Method)
		}
	}
}
