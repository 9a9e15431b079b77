package session

import (
	"net/http"
	"net/textproto"
	"strings"
)

// cookieValue is r.Cookie(name).Value without r.Cookie's allocations (a Cookie and a
// slice per request): the session cookie is read on every request. It follows
// net/http's readCookies: the first "name=value" pair across the Cookie lines whose
// value is valid, surrounding double quotes removed.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			n, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(n) != name {
				continue
			}
			if v, ok := validCookieValue(v); ok {
				return v, true
			}
		}
	}
	return "", false
}

// validCookieValue is net/http's parseCookieValue (quotes allowed).
func validCookieValue(v string) (string, bool) {
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return "", false
		}
	}
	return v, true
}
