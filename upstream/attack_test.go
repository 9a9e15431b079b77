package upstream_test

// Attack tests at the upstream's edge: what a client sends must not become what the
// upstream believes.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/upstream"
)

// rawRequest sends lines as the request's headers over a raw connection, so no client
// library canonicalizes, merges or refuses a spelling, and returns what the upstream saw.
func rawRequest(t *testing.T, addr, target string, lines []string) seen {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: gate.example.org\r\nConnection: close\r\n", target)
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// folded is a header name as a CGI gateway reads it.
func folded(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

// TestAttackIdentityHeaderSpellings: a client spells the identity headers with every
// separator a header name may hold; none reaches the upstream, whose one
// X-Forwarded-User is hubgate's.
func TestAttackIdentityHeaderSpellings(t *testing.T) {
	up := echoServer(t)
	srv, _ := front(t, upstream.Options{Target: up.URL}, &upstream.Identity{User: "alice"})
	var lines []string
	for _, name := range []string{"X-Forwarded-User", "X-Forwarded-Groups", "X-Forwarded-Admin", "X-Forwarded-Email",
		"X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Groups", "X-Auth-Request-Whatever"} {
		for _, sep := range []string{"_", ".", "~", "!", "#", "$", "%", "&", "'", "*", "+", "^", "`", "|"} {
			lines = append(lines, strings.ReplaceAll(name, "-", sep)+": mallory")
		}
		lines = append(lines, strings.ToUpper(strings.ReplaceAll(name, "-", "."))+": mallory")
	}
	s := rawRequest(t, srv.Listener.Addr().String(), "/", lines)
	for name, values := range s.Header {
		f := folded(name)
		if !strings.HasPrefix(f, "x-forwarded-") && !strings.HasPrefix(f, "x-auth-request-") {
			continue
		}
		for _, v := range values {
			if v == "mallory" {
				t.Errorf("%s: mallory reached the upstream", name)
			}
		}
	}
	if got := s.Header.Values("X-Forwarded-User"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("X-Forwarded-User %q, want [alice]", got)
	}
}

// TestAttackForwardingHeaderSpellings: a client that is not a trusted proxy cannot tell
// the upstream where the request came from, in any spelling; a trusted proxy's own
// (canonical) headers pass, a client's copy in another spelling does not.
func TestAttackForwardingHeaderSpellings(t *testing.T) {
	names := []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
		"X-Forwarded-Prefix", "X-Real-IP", "Forwarded", "X-Scheme", "X-Forwarded-Scheme", "X-Forwarded-Ssl"}
	for _, trusted := range []bool{false, true} {
		t.Run(fmt.Sprintf("trusted=%v", trusted), func(t *testing.T) {
			up := echoServer(t)
			hop := &upstream.Hop{Identity: upstream.Identity{User: "alice"}, TrustedPeer: trusted}
			srv, _ := frontHop(t, upstream.Options{Target: up.URL}, hop)
			var lines []string
			for _, name := range names {
				for _, sep := range []string{"_", ".", "~", "+"} {
					lines = append(lines, strings.ReplaceAll(name, "-", sep)+": 6.6.6.6")
				}
			}
			lines = append(lines, "X-Forwarded-Port: 8443", "X-Real-IP: 203.0.113.9", "X-Forwarded-Prefix: /from-proxy")
			s := rawRequest(t, srv.Listener.Addr().String(), "/", lines)
			for name, values := range s.Header {
				for _, v := range values {
					if strings.Contains(v, "6.6.6.6") {
						t.Errorf("%s: %q reached the upstream", name, v)
					}
				}
			}
			for name, want := range map[string]string{"X-Forwarded-Port": "8443", "X-Real-Ip": "203.0.113.9", "X-Forwarded-Prefix": "/from-proxy"} {
				got := s.Header.Get(name)
				if trusted && got != want {
					t.Errorf("from a trusted proxy %s = %q, want %q", name, got, want)
				}
				if !trusted && got != "" {
					t.Errorf("from an untrusted client %s = %q reached the upstream", name, got)
				}
			}
		})
	}
}

// TestAttackQueryTokensRawQuery: removing the token parameters leaves every other byte
// of the query as the client sent it, and no spelling of the name gets through.
func TestAttackQueryTokensRawQuery(t *testing.T) {
	cases := []struct{ in, want string }{
		{"page=2", "page=2"},
		{"token=s&page=2", "page=2"},
		{"page=2&token=s", "page=2"},
		{"a=1&token=s&b=2", "a=1&b=2"},
		{"b=2&a=1&token=s&access_token=t&c=%2F+x&csrf_token=keep&_xsrf=k", "b=2&a=1&c=%2F+x&csrf_token=keep&_xsrf=k"},
		{"t%6Fken=s&x=1", "x=1"},
		{"%74%6F%6B%65%6E=s&x=1", "x=1"},
		{"TOKEN=s&Token=s&x=1", "x=1"},
		{"access%5Ftoken=s&x=1", "x=1"},
		{"x=1;token=s", "x=1"},
		{"token&x=1", "x=1"},
		{"token=&x=1", "x=1"},
		{"x=%zz&token=s&y=a%20b+c", "x=%zz&y=a%20b+c"},
		{"x=1&&token=s&", "x=1&&"},
		{"tokens=keep&my_token=keep&token_type=keep&xtoken=keep", "tokens=keep&my_token=keep&token_type=keep&xtoken=keep"},
		{"q=%E2%9C%93&token=s&sig=AbC%2b%2F==", "q=%E2%9C%93&sig=AbC%2b%2F=="},
		{"token=s", ""},
	}
	up := echoServer(t)
	srv, _ := front(t, upstream.Options{Target: up.URL}, &upstream.Identity{User: "alice"})
	for _, c := range cases {
		s := rawRequest(t, srv.Listener.Addr().String(), "/p?"+c.in, nil)
		if s.Query != c.want {
			t.Errorf("query %q reached the upstream as %q, want %q", c.in, s.Query, c.want)
		}
		if got := upstream.StripQueryTokens(c.in); got != c.want {
			t.Errorf("StripQueryTokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
