//go:build integration

package integration

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
)

// PageUpstream is the web app behind hubgate in the browser tests: it
// renders the identity it received as HTML, so the browser shows who it is,
// and serves a page whose script round-trips a message through a WebSocket.
//
//   - any path ending in /ws: the WebSocket echo of upstream.go
//   - any path ending in /ws-page?msg=TEXT: a page that sends TEXT over a
//     WebSocket to ./ws and shows the echo in #echo (state in #ws-state)
//   - anything else: the identity page (#user, #groups, #admin, #path,
//     #cookies)
//
// Every page has <body id="upstream-page">.
type PageUpstream struct {
	URL string

	mu      sync.Mutex
	wsUsers []string // X-Forwarded-User of each WebSocket handshake
}

// StartPageUpstream starts the app on 127.0.0.1; it stops with the test.
func StartPageUpstream(t testing.TB) *PageUpstream {
	t.Helper()
	u := &PageUpstream{}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// Upstream is the same app as the harness's *Upstream, for the helpers that
// only need its URL (jupyterhubEnv, StartDjangoGate).
func (u *PageUpstream) Upstream() *Upstream { return &Upstream{URL: u.URL} }

// WebSocketUsers returns the X-Forwarded-User of every WebSocket handshake
// so far.
func (u *PageUpstream) WebSocketUsers() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.wsUsers...)
}

func (u *PageUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/ws") {
		u.mu.Lock()
		u.wsUsers = append(u.wsUsers, strings.Join(r.Header.Values("X-Forwarded-User"), ","))
		u.mu.Unlock()
		serveWebSocketEcho(w, r)
		return
	}
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.Name)
	}
	sort.Strings(cookies)
	data := pageUpstreamData{
		User:    strings.Join(r.Header.Values("X-Forwarded-User"), ","),
		Groups:  strings.Join(r.Header.Values("X-Forwarded-Groups"), ","),
		Admin:   strings.Join(r.Header.Values("X-Forwarded-Admin"), ","),
		Path:    r.URL.RequestURI(),
		Cookies: strings.Join(cookies, " "),
		Msg:     r.URL.Query().Get("msg"),
	}
	tmpl := identityPageTemplate
	if strings.HasSuffix(r.URL.Path, "/ws-page") {
		tmpl = wsPageTemplate
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = tmpl.Execute(w, data)
}

type pageUpstreamData struct {
	User, Groups, Admin, Path, Cookies, Msg string
}

const pageUpstreamStyle = `<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
dt{font-weight:600;margin-top:.5rem}dd{margin:0 0 0 1rem}code{background:#f3f3f3;padding:0 .2rem}
</style>`

var identityPageTemplate = template.Must(template.New("identity").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>upstream: {{.User}}</title>` + pageUpstreamStyle + `</head>
<body id="upstream-page">
<h1>Hello, <span id="user">{{.User}}</span></h1>
<dl>
<dt>Groups</dt><dd id="groups">{{.Groups}}</dd>
<dt>Admin</dt><dd id="admin">{{.Admin}}</dd>
<dt>Path</dt><dd><code id="path">{{.Path}}</code></dd>
<dt>Cookies received</dt><dd id="cookies">{{.Cookies}}</dd>
</dl>
</body></html>
`))

// wsPageTemplate: html/template writes .Msg into the script as a JS string.
var wsPageTemplate = template.Must(template.New("ws").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>upstream: WebSocket echo</title>` + pageUpstreamStyle + `</head>
<body id="upstream-page">
<h1>WebSocket echo for <span id="user">{{.User}}</span></h1>
<dl>
<dt>Sent</dt><dd><code id="sent">{{.Msg}}</code></dd>
<dt>State</dt><dd id="ws-state">connecting</dd>
<dt>Echo</dt><dd><code id="echo"></code></dd>
</dl>
<script>
(function () {
  var msg = {{.Msg}};
  var state = document.getElementById("ws-state");
  var u = new URL("ws", location.href);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  var ws = new WebSocket(u);
  ws.onopen = function () { state.textContent = "open"; ws.send(msg); };
  ws.onmessage = function (e) {
    document.getElementById("echo").textContent = e.data;
    state.textContent = "echoed";
    ws.close(1000);
  };
  ws.onerror = function () { state.textContent = "error"; };
  ws.onclose = function (e) { if (state.textContent !== "echoed") state.textContent = "closed " + e.code; };
})();
</script>
</body></html>
`))
