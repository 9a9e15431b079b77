//go:build integration

package integration

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Plain (non-browser) requests and the checks shared by the suites.

// noRedirects is a client that returns redirects instead of following them.
var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// concurrentClient allows enough idle connections for the burst test.
var concurrentClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

// send does req and reads the body, failing the test on transport errors.
func send(t testing.TB, client *http.Client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	resp.Body.Close()
	return resp
}

// get is a non-navigation GET (Accept: application/json) with an optional
// Authorization header and no cookies; redirects are not followed.
func get(t testing.TB, rawURL, authorization string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	req.Header.Set("Accept", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// splitList splits a comma-separated header value.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// checkIdentity checks the identity headers the upstream received: exactly
// one X-Forwarded-User, one X-Forwarded-Groups listing group, one
// X-Forwarded-Admin, in any spelling.
func checkIdentity(t testing.TB, e EchoedRequest, user, group, admin string) {
	t.Helper()
	if got := e.HeaderValues("X-Forwarded-User"); !slices.Equal(got, []string{user}) {
		t.Errorf("upstream X-Forwarded-User (any spelling) = %q, want exactly [%q]; headers %v", got, user, e.Header)
	}
	groups := e.HeaderValues("X-Forwarded-Groups")
	if len(groups) != 1 || !slices.Contains(splitList(groups[0]), group) {
		t.Errorf("upstream X-Forwarded-Groups (any spelling) = %q, want one value listing %q", groups, group)
	}
	if got := e.HeaderValues("X-Forwarded-Admin"); !slices.Equal(got, []string{admin}) {
		t.Errorf("upstream X-Forwarded-Admin (any spelling) = %q, want exactly [%q]", got, admin)
	}
}

// checkWebSocketEcho opens a WebSocket with header, checks the upstream saw
// user on the handshake, and round-trips a text message.
func checkWebSocketEcho(t testing.TB, name, rawURL, user string, header http.Header) {
	t.Helper()
	ws, resp, err := dialWebSocket(rawURL, header)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	defer ws.Close()
	if got := resp.Header.Get(upstreamUserHeader); got != user {
		t.Errorf("%s: upstream saw X-Forwarded-User %q on the handshake, want %q", name, got, user)
	}
	msg := "hello through hubgate (" + name + ")"
	if err := ws.SendText(msg); err != nil {
		t.Fatalf("%s: send: %v", name, err)
	}
	f, err := ws.Read()
	if err != nil {
		t.Fatalf("%s: read: %v", name, err)
	}
	if !f.Fin || f.Opcode != opText || f.Masked || string(f.Payload) != msg {
		t.Errorf("%s: echo frame fin=%v opcode=%d masked=%v payload=%q, want an unmasked final text frame %q",
			name, f.Fin, f.Opcode, f.Masked, f.Payload, msg)
	}
}
