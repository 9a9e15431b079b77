// Command whoami is a tiny upstream app for trying out hubgate: it shows the
// identity hubgate passed in the X-Forwarded-* headers, and echoes WebSocket
// messages on any path ending in /ws (so it works whether or not the proxy
// strips the /services/NAME/ prefix).
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"html/template"
	"io"
	"log"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to listen on")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("whoami listening on http://%s", *listen)
	log.Fatal(srv.ListenAndServe())
}

func handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/ws") && headerHas(r.Header, "Upgrade", "websocket") {
			serveWebSocket(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		id := identityFrom(r)
		w.Header().Set("Cache-Control", "no-store")
		if !strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(id)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, id); err != nil {
			log.Printf("render: %v", err)
		}
	})
}

// identity is what hubgate told us about the user, plus the request path.
type identity struct {
	User              string   `json:"user"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	Email             string   `json:"email"`
	Admin             string   `json:"admin"`
	Path              string   `json:"path"`
	Authenticated     bool     `json:"authenticated"`
}

func identityFrom(r *http.Request) identity {
	id := identity{
		User:              r.Header.Get("X-Forwarded-User"),
		PreferredUsername: r.Header.Get("X-Forwarded-Preferred-Username"),
		Email:             r.Header.Get("X-Forwarded-Email"),
		Admin:             r.Header.Get("X-Forwarded-Admin"),
		Path:              r.URL.RequestURI(),
		Groups:            []string{},
	}
	for _, g := range strings.Split(r.Header.Get("X-Forwarded-Groups"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			id.Groups = append(id.Groups, g)
		}
	}
	id.Authenticated = id.User != ""
	return id
}

// html/template escapes every value, so hostile header values stay inert.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>whoami{{with .User}} – {{.}}{{end}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem;margin-bottom:.2rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd}
th{width:12rem;color:#555;font-weight:500}
code{background:#f3f3f3;padding:0 .2rem}
.warn{background:#fff4e5;border:1px solid #f0b35a;padding:.6rem .8rem;border-radius:4px}
.muted{color:#888}
</style></head><body>
<h1>{{if .Authenticated}}Hello, <span id="user">{{.User}}</span>{{else}}Hello, stranger{{end}}</h1>
<p class="muted">This page is served by <code>examples/whoami</code> behind hubgate.</p>
{{if not .Authenticated}}<p class="warn" id="no-identity">No identity arrived: the request carried no
<code>X-Forwarded-User</code> header, so it did not come through hubgate.</p>{{end}}
<table>
<tr><th>User</th><td id="f-user">{{.User}}</td></tr>
<tr><th>Preferred username</th><td id="f-preferred-username">{{.PreferredUsername}}</td></tr>
<tr><th>Groups</th><td id="f-groups">{{range $i, $g := .Groups}}{{if $i}}, {{end}}{{$g}}{{else}}<span class="muted">none</span>{{end}}</td></tr>
<tr><th>Email</th><td id="f-email">{{.Email}}</td></tr>
<tr><th>Admin</th><td id="f-admin">{{.Admin}}</td></tr>
<tr><th>Path</th><td id="f-path"><code>{{.Path}}</code></td></tr>
<tr><th>WebSocket echo</th><td id="ws-status">…</td></tr>
</table>
<script>
// Round-trip one message through ws (relative to this page) to show that upgrades pass the proxy.
(function () {
  var out = document.getElementById("ws-status");
  var u = new URL("ws", location.href);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  var ws = new WebSocket(u);
  ws.onopen = function () { ws.send("ping"); };
  ws.onmessage = function (e) { out.textContent = e.data === "ping" ? "ok" : "unexpected reply"; ws.close(); };
  ws.onerror = function () { out.textContent = "failed"; };
})();
</script>
</body></html>
`))

// headerHas reports whether a comma-separated header contains token (case-insensitive).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// WebSocket echo (RFC 6455), just enough for tests: text/binary messages are
// echoed back whole, pings answered, and a close frame is returned on close.

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	maxMessage = 1 << 20 // larger messages are refused with 1009
)

var errProtocol = errors.New("websocket protocol error")

func serveWebSocket(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if r.Method != http.MethodGet || !headerHas(r.Header, "Connection", "upgrade") ||
		r.Header.Get("Sec-WebSocket-Version") != "13" || key == "" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "bad websocket handshake", http.StatusBadRequest)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot upgrade", http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{}) // the server's timeouts don't apply to a long-lived socket
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n")
	if rw.Flush() != nil {
		return
	}
	echo(rw.Reader, rw.Writer)
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// echo runs the frame loop until the peer closes or breaks the protocol.
func echo(br *bufio.Reader, bw *bufio.Writer) {
	var msg []byte
	var msgOp byte
	for {
		fin, op, payload, err := readFrame(br)
		if err != nil {
			if errors.Is(err, errProtocol) {
				writeClose(bw, 1002)
			} else if errors.Is(err, errTooBig) {
				writeClose(bw, 1009)
			}
			return
		}
		switch op {
		case opClose:
			if len(payload) == 1 { // a close body is empty or starts with a 2-byte code
				writeClose(bw, 1002)
				return
			}
			// Echo the status code (if any) back, as RFC 6455 §5.5.1 suggests.
			if len(payload) >= 2 {
				payload = payload[:2]
			}
			writeFrame(bw, opClose, payload)
			return
		case opPing:
			if writeFrame(bw, opPong, payload) != nil {
				return
			}
		case opPong:
		case opText, opBinary, opContinuation:
			if (op == opContinuation) == (msgOp == 0) { // continuation without start, or new start mid-message
				writeClose(bw, 1002)
				return
			}
			if op != opContinuation {
				msgOp = op
			}
			if len(msg)+len(payload) > maxMessage {
				writeClose(bw, 1009)
				return
			}
			msg = append(msg, payload...)
			if fin {
				if msgOp == opText && !utf8.Valid(msg) {
					writeClose(bw, 1007)
					return
				}
				if writeFrame(bw, msgOp, msg) != nil {
					return
				}
				msg, msgOp = msg[:0], 0
			}
		default:
			writeClose(bw, 1002)
			return
		}
	}
}

var errTooBig = errors.New("websocket frame too big")

// readFrame reads one client frame; clients must mask, per RFC 6455 §5.1.
func readFrame(br *bufio.Reader) (fin bool, op byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err = io.ReadFull(br, hdr[:]); err != nil {
		return
	}
	fin, op = hdr[0]&0x80 != 0, hdr[0]&0x0F
	if hdr[0]&0x70 != 0 || hdr[1]&0x80 == 0 { // no extensions negotiated; unmasked client frame
		return false, 0, nil, errProtocol
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(br, b[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(br, b[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if op >= opClose && (n > 125 || !fin) { // control frames are short and unfragmented
		return false, 0, nil, errProtocol
	}
	if n > maxMessage {
		return false, 0, nil, errTooBig
	}
	var mask [4]byte
	if _, err = io.ReadFull(br, mask[:]); err != nil {
		return
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(br, payload); err != nil {
		return
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return
}

// writeFrame writes one unmasked, final frame (servers must not mask).
func writeFrame(bw *bufio.Writer, op byte, payload []byte) error {
	bw.WriteByte(0x80 | op)
	switch n := len(payload); {
	case n <= 125:
		bw.WriteByte(byte(n))
	case n <= 0xFFFF:
		bw.WriteByte(126)
		bw.Write(binary.BigEndian.AppendUint16(nil, uint16(n)))
	default:
		bw.WriteByte(127)
		bw.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
	}
	bw.Write(payload)
	return bw.Flush()
}

func writeClose(bw *bufio.Writer, code uint16) {
	_ = writeFrame(bw, opClose, binary.BigEndian.AppendUint16(nil, code))
}
