package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, accept string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/some/path?q=1", nil)
	req.Header.Set("Accept", accept)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, req)
	return rec.Result(), rec.Body.String()
}

func TestHTMLShowsEscapedIdentity(t *testing.T) {
	res, body := get(t, "text/html,application/xhtml+xml", map[string]string{
		"X-Forwarded-User":               "alice<script>x</script>",
		"X-Forwarded-Preferred-Username": "Alice",
		"X-Forwarded-Groups":             "staff, <b>ops</b>",
		"X-Forwarded-Email":              "alice@example.org",
		"X-Forwarded-Admin":              "false",
	})
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type = %q", ct)
	}
	for _, want := range []string{
		"alice&lt;script&gt;x&lt;/script&gt;", "Alice", "staff, &lt;b&gt;ops&lt;/b&gt;",
		"alice@example.org", ">false<", "/some/path?q=1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>x", "<b>ops"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	if strings.Contains(body, "no-identity") {
		t.Error("page warns about missing identity although one was sent")
	}
}

func TestHTMLWarnsWithoutIdentity(t *testing.T) {
	_, body := get(t, "text/html", nil)
	if !strings.Contains(body, `id="no-identity"`) {
		t.Error("page does not say that no identity arrived")
	}
}

func TestJSONWhenHTMLNotAccepted(t *testing.T) {
	res, body := get(t, "application/json", map[string]string{
		"X-Forwarded-User":   "bob",
		"X-Forwarded-Groups": "a,b",
		"X-Forwarded-Admin":  "true",
	})
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var id identity
	if err := json.Unmarshal([]byte(body), &id); err != nil {
		t.Fatal(err)
	}
	if id.User != "bob" || strings.Join(id.Groups, "|") != "a|b" || id.Admin != "true" ||
		!id.Authenticated || id.Path != "/some/path?q=1" {
		t.Errorf("unexpected identity %+v", id)
	}
}

// dialWS performs the opening handshake against srv and returns the raw connection.
func dialWS(t *testing.T, srv *httptest.Server, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ==" // the example from RFC 6455 §1.3
	io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"+
		"Sec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", res.StatusCode)
	}
	if got := res.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept = %q", got)
	}
	return conn, br
}

// writeMasked sends one client frame, masked as RFC 6455 requires.
func writeMasked(t *testing.T, w io.Writer, fin bool, op byte, payload []byte) {
	t.Helper()
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	mask := []byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
}

// readServerFrame reads one frame and checks that the server did not mask it.
func readServerFrame(t *testing.T, br *bufio.Reader) (byte, []byte) {
	t.Helper()
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if hdr[0]&0x80 == 0 || hdr[1]&0x80 != 0 {
		t.Fatalf("want final, unmasked frame; header %x", hdr)
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatal(err)
	}
	return hdr[0] & 0x0F, p
}

func TestWebSocketEcho(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	// The prefixed path is what arrives if the proxy keeps /services/NAME/.
	for _, path := range []string{"/ws", "/services/whoami/ws"} {
		conn, br := dialWS(t, srv, path)

		writeMasked(t, conn, true, opText, []byte("hello"))
		if op, p := readServerFrame(t, br); op != opText || string(p) != "hello" {
			t.Fatalf("%s: echo = op %x %q", path, op, p)
		}

		big := bytes.Repeat([]byte{0xAB}, 70000) // exercises the 64-bit length form
		writeMasked(t, conn, false, opBinary, big[:300])
		writeMasked(t, conn, true, opPing, []byte("p")) // control frames may interleave
		writeMasked(t, conn, true, opContinuation, big[300:])
		if op, p := readServerFrame(t, br); op != opPong || string(p) != "p" {
			t.Fatalf("%s: want pong, got op %x %q", path, op, p)
		}
		if op, p := readServerFrame(t, br); op != opBinary || !bytes.Equal(p, big) {
			t.Fatalf("%s: fragmented echo: op %x, %d bytes", path, op, len(p))
		}

		writeMasked(t, conn, true, opClose, binary.BigEndian.AppendUint16(nil, 1000))
		if op, p := readServerFrame(t, br); op != opClose || binary.BigEndian.Uint16(p) != 1000 {
			t.Fatalf("%s: close reply op %x %x", path, op, p)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("%s: connection not closed after close frame: %v", path, err)
		}
	}
}

func TestWebSocketRejectsUnmaskedFrames(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	conn, br := dialWS(t, srv, "/ws")
	conn.Write([]byte{0x81, 0x02, 'h', 'i'}) // unmasked text frame
	if op, p := readServerFrame(t, br); op != opClose || binary.BigEndian.Uint16(p) != 1002 {
		t.Fatalf("want close 1002, got op %x %x", op, p)
	}
}

func TestWebSocketBadHandshake(t *testing.T) {
	req := httptest.NewRequest("GET", "/ws", nil)
	req.Header.Set("Upgrade", "websocket") // no Connection/Key/Version
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", rec.Code)
	}
}
