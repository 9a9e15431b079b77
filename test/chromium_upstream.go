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
//   - any path ending in /act-page?target=BASE: actPageTemplate, acting on
//     BASE with the browser's cookies
//   - anything else: the identity page (#user, #groups, #admin, #path,
//     #cookies)
//
// Every page but the act page has <body id="upstream-page">.
type PageUpstream struct {
	URL string

	mu       sync.Mutex
	wsUsers  []string // X-Forwarded-User of each WebSocket handshake
	requests []string // "METHOD /path user" of every request
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

// Requests returns "METHOD /path user" for every request so far.
func (u *PageUpstream) Requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.requests...)
}

func (u *PageUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := strings.Join(r.Header.Values("X-Forwarded-User"), ",")
	u.mu.Lock()
	u.requests = append(u.requests, r.Method+" "+r.URL.Path+" "+user)
	u.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/ws") {
		u.mu.Lock()
		u.wsUsers = append(u.wsUsers, user)
		u.mu.Unlock()
		serveWebSocketEcho(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/act-page") {
		serveActPage(w, r)
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

// StartActingPage starts a server of its own on 127.0.0.1 that serves only
// the act page: another port is another origin but the same site, so the
// browser sends hubgate's SameSite=Lax cookie with what the page does.
func StartActingPage(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(serveActPage))
	t.Cleanup(srv.Close)
	return srv.URL
}

func serveActPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = actPageTemplate.Execute(w, r.URL.Query().Get("target"))
}

// actPageTemplate acts on the base URL it is given, with the browser's
// cookies: a no-cors fetch POST to BASE/app/fetched (#fetch-state: "opaque"
// from another origin, else the status), a WebSocket to BASE/app/ws
// (#ws-state: "echoed", or "closed CODE"), and a form (#post) that POSTs to
// BASE/app/posted.
var actPageTemplate = template.Must(template.New("act").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>a page acting on {{.}}</title>` + pageUpstreamStyle + `</head>
<body id="act-page">
<h1>Acting on <code>{{.}}</code></h1>
<dl>
<dt>fetch POST</dt><dd id="fetch-state">pending</dd>
<dt>WebSocket</dt><dd id="ws-state">connecting</dd>
</dl>
<form method="post" action="{{.}}/app/posted"><input type="hidden" name="x" value="1"><button id="post" type="submit">POST a form</button></form>
<script>
(function () {
  var target = {{.}};
  var set = function (id, v) { document.getElementById(id).textContent = v; };
  fetch(target + "/app/fetched", {method: "POST", mode: "no-cors", credentials: "include", body: "x=1"})
    .then(function (r) { set("fetch-state", r.type === "opaque" ? "opaque" : String(r.status)); },
          function () { set("fetch-state", "failed"); });
  var u = new URL(target + "/app/ws");
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  var ws = new WebSocket(u);
  var echoed = false;
  ws.onopen = function () { ws.send("act"); };
  ws.onmessage = function () { echoed = true; set("ws-state", "echoed"); ws.close(1000); };
  ws.onclose = function (e) { if (!echoed) set("ws-state", "closed " + e.code); };
})();
</script>
</body></html>
`))
