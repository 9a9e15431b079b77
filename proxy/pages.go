package proxy

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// errorBody is the JSON answer for clients that don't want HTML; Status 0 (left
// out) where a proxy in front may re-status the answer.
type errorBody struct {
	Status  int    `json:"status,omitempty"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// pageTemplate is self-contained (no external assets, not even a favicon request,
// which would only meet a login): it must render when everything else is down. The
// button's #c2410c on white is 5.2:1, readable by WCAG AA; the status shows only on
// errors.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><link rel="icon" href="data:,">
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1f2328;margin:0;padding:1rem;box-sizing:border-box;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem 2.5rem;width:100%;max-width:32rem;box-sizing:border-box}
h1{font-size:1.4rem;margin:0 0 .75rem}p{line-height:1.5;margin:.5rem 0}
.status{color:#6e7781;font-size:.9rem}a.button{display:inline-block;margin-top:1rem;padding:.5rem 1rem;background:#c2410c;color:#fff;border-radius:6px;text-decoration:none}
</style></head>
<body><main><h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .Link}}<a class="button" href="{{.Link}}">{{.LinkText}}</a>{{end}}
<p class="status">{{if ge .Status 400}}{{.Status}} · {{end}}hubgate</p></main></body></html>
`))

type pageData struct {
	Status                         int
	Title, Message, Link, LinkText string
}

// page answers with a short HTML page for browsers and JSON for everyone else.
func writePage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	writePageLink(w, r, status, title, msg, "", "")
}

func writePageLink(w http.ResponseWriter, r *http.Request, status int, title, msg, link, linkText string) {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeJSON(w, status, errorBody{Status: status, Message: title + ": " + msg})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	pageTemplate.Execute(w, pageData{Status: status, Title: title, Message: msg, Link: link, LinkText: linkText})
}

// UpstreamError answers when the upstream could not: 502 when it is down, 504 when
// it is too slow. It is the upstream package's ErrorHandler.
func UpstreamError(log *zap.Logger) func(http.ResponseWriter, *http.Request, int, error) {
	return func(w http.ResponseWriter, r *http.Request, status int, err error) {
		log.Warn("upstream failed", zap.Int("status", status), zap.Error(err))
		msg := "The service behind hubgate did not answer."
		if status == http.StatusGatewayTimeout {
			msg = "The service behind hubgate took too long to answer."
		}
		writePage(w, r, status, http.StatusText(status), msg)
	}
}
