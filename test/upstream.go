//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Upstream is the web app behind hubgate. Every path echoes the request it
// received as JSON (see EchoedRequest), except /ws (and any path ending in
// /ws), which is a WebSocket echo endpoint.
type Upstream struct {
	URL string
	srv *httptest.Server
}

// EchoedRequest is what the upstream saw.
type EchoedRequest struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	RawQuery string              `json:"raw_query"`
	Host     string              `json:"host"`
	Header   map[string][]string `json:"header"`
	Cookies  map[string]string   `json:"cookies"`
}

// HeaderValues returns the values of every received header whose name equals
// name once both are lower-cased and '_' is read as '-'; so for
// "X-Forwarded-User" it also finds "X_Forwarded_User" and "x-forwarded-user".
func (e EchoedRequest) HeaderValues(name string) []string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	var out []string
	for k, vs := range e.Header {
		if norm(k) == norm(name) {
			out = append(out, vs...)
		}
	}
	return out
}

// upstreamUserHeader is the response header of the WebSocket handshake in
// which the upstream reports the X-Forwarded-User it received.
const upstreamUserHeader = "X-Upstream-Saw-User"

// StartUpstream starts the echo app on 127.0.0.1; it stops with the test.
func StartUpstream(t testing.TB) *Upstream {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(serveUpstream)) // binds 127.0.0.1
	t.Cleanup(srv.Close)
	return &Upstream{URL: srv.URL, srv: srv}
}

func serveUpstream(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ws" || strings.HasSuffix(r.URL.Path, "/ws") {
		serveWebSocketEcho(w, r)
		return
	}
	e := EchoedRequest{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Host:     r.Host,
		Header:   r.Header,
		Cookies:  map[string]string{},
	}
	for _, c := range r.Cookies() {
		e.Cookies[c.Name] = c.Value
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(e)
}

// serveWebSocketEcho does the RFC 6455 server handshake by hand, then echoes
// every text or binary frame back unmasked and answers a close frame.
func serveWebSocketEcho(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Connection", "upgrade") ||
		!headerHasToken(r.Header, "Upgrade", "websocket") ||
		r.Header.Get("Sec-WebSocket-Version") != "13" ||
		r.Header.Get("Sec-WebSocket-Key") == "" {
		http.Error(w, "websocket upgrade required", http.StatusBadRequest)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + websocketAccept(r.Header.Get("Sec-WebSocket-Key")) + "\r\n" +
		upstreamUserHeader + ": " + strings.Join(r.Header.Values("X-Forwarded-User"), ",") + "\r\n" +
		"\r\n")
	if rw.Flush() != nil {
		return
	}
	echoFrames(rw.Reader, rw.Writer)
}

// echoFrames echoes client frames until a close frame or an error.
func echoFrames(r *bufio.Reader, w *bufio.Writer) {
	for {
		f, err := readFrame(r)
		if err != nil || !f.Masked { // clients must mask (RFC 6455 5.1)
			return
		}
		if err := writeFrame(w, f.Opcode, f.Payload, false); err != nil || w.Flush() != nil {
			return
		}
		if f.Opcode == opClose {
			return
		}
	}
}

// headerHasToken reports whether a comma-separated header contains token
// (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// decodeEcho parses an upstream response body, failing the test with the
// page if it is not one.
func decodeEcho(t testing.TB, body []byte, context string) EchoedRequest {
	t.Helper()
	var e EchoedRequest
	if err := json.Unmarshal(body, &e); err != nil || e.Method == "" {
		t.Fatalf("%s: expected the upstream's echo JSON, got %q (%v)", context, truncate(string(body), 2000), err)
	}
	return e
}

// truncate shortens s to n bytes for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
