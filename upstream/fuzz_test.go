package upstream

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// FuzzScrub: after Scrub, no header a server could read as an identity header is left,
// and every other header is; a forwarder's scrub does the same with its
// upstream_headers names added.
func FuzzScrub(f *testing.F) {
	for _, seed := range []string{"X-Forwarded-User", "x_forwarded_user", "X-FORWARDED-GROUPS", "X-Auth-Request-Email", "X-Forwarded-For", "X-Forwarded-Userx", "Cookie", "X.Forwarded.User", "x~auth~request~anything", "X-Forwarded\xffUser", "X-Auth-Request", "X Auth Request ",
		"X-WEBAUTH-USER", "x_webauth_user", "X.Webauth.User", "X-Webauth-Users", "x-u", "X_U", "X-V"} {
		f.Add(seed, "v")
	}
	mappedNames := []string{"X-Webauth-User", "X-U"}
	ids, err := NewHeaders(HeaderOptions{Mapped: map[string]string{mappedNames[0]: "user", mappedNames[1]: "email"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		h := http.Header{name: {value}, "Accept": {"x"}}
		Scrub(h)
		withMapped := http.Header{name: {value}, "Accept": {"x"}}
		ids.scrub(withMapped)
		// As a CGI gateway reads it: case ignored, every other byte "-".
		b := []byte(name)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			} else if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
				b[i] = '-'
			}
		}
		folded := string(b)
		identity := strings.HasPrefix(folded, "x-auth-request-")
		for _, n := range identityHeaders {
			identity = identity || folded == strings.ToLower(n)
		}
		_, kept := h[name]
		if identity && kept {
			t.Fatalf("%q survived Scrub", name)
		}
		if !identity && name != "Accept" && !kept {
			t.Fatalf("%q is no identity header but was removed", name)
		}
		if _, ok := h["Accept"]; !ok {
			t.Fatal("an unrelated header was removed")
		}
		mapped := identity
		for _, n := range mappedNames {
			mapped = mapped || folded == strings.ToLower(n)
		}
		_, kept = withMapped[name]
		if mapped && kept {
			t.Fatalf("%q survived the forwarder's scrub", name)
		}
		if !mapped && name != "Accept" && !kept {
			t.Fatalf("%q is neither an identity header nor mapped but was removed", name)
		}
		if _, ok := withMapped["Accept"]; !ok {
			t.Fatal("an unrelated header was removed")
		}
	})
}

// FuzzStripQueryTokens: no token parameter survives in any spelling, and the query
// is otherwise the client's, byte for byte: the pairs left are the input's pairs
// that are not tokens, in order, each with its own separator.
func FuzzStripQueryTokens(f *testing.F) {
	for _, seed := range []string{"", "page=2", "token=s&page=2", "a=1&token=s&b=2", "t%6Fken=s", "%74oken=x;y=1",
		"TOKEN=s&x=%zz", "x=1&&token=s&", "access%5ftoken=a&csrf_token=b", "tokens=1&my_token=2", "token"} {
		f.Add(seed)
	}
	type pair struct{ sep, text string }
	split := func(q string) []pair {
		var out []pair
		sep := ""
		for {
			i := strings.IndexAny(q, "&;")
			if i < 0 {
				return append(out, pair{sep, q})
			}
			out = append(out, pair{sep, q[:i]})
			sep, q = q[i:i+1], q[i+1:]
		}
	}
	isToken := func(p string) bool {
		name, _, _ := strings.Cut(p, "=")
		// Decode the escapes that are valid, leave the rest, like a lenient server.
		var b strings.Builder
		for i := 0; i < len(name); i++ {
			if name[i] == '%' && i+2 < len(name) {
				if v, err := strconv.ParseUint(name[i+1:i+3], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			if name[i] == '+' {
				b.WriteByte(' ')
				continue
			}
			b.WriteByte(name[i])
		}
		n := strings.ToLower(b.String())
		return n == "token" || n == "access_token"
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := StripQueryTokens(q)
		var want strings.Builder
		kept := 0
		for _, p := range split(q) {
			if isToken(p.text) {
				continue
			}
			if kept > 0 {
				want.WriteString(p.sep)
			}
			want.WriteString(p.text)
			kept++
		}
		if kept == len(split(q)) {
			if got != q {
				t.Fatalf("StripQueryTokens(%q) = %q: nothing to remove, yet changed", q, got)
			}
			return
		}
		if got != want.String() {
			t.Fatalf("StripQueryTokens(%q) = %q, want the other pairs as sent: %q", q, got, want.String())
		}
	})
}
