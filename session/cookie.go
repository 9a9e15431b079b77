package session

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// cookieValue is r.Cookie(name).Value without r.Cookie's allocations (a Cookie and a
// slice per request): the session cookie is read on every request. It answers what
// r.Cookie answers (TestCookieValueIsRCookie): the first "name=value" pair across the
// Cookie lines whose value is valid, surrounding double quotes removed.
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

// validCookieValue accepts a value as r.Cookie does: printable ASCII but for double
// quotes, semicolons and backslashes, optionally inside one pair of double quotes,
// which it removes.
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

// cookieBackend keeps the session in its cookie: the value is the session itself,
// signed and encrypted with the cookie secrets.
type cookieBackend struct {
	name    string
	expire  time.Duration
	codecs  []securecookie.Codec
	decoded decodedSessions
}

func (c *cookieBackend) load(_ context.Context, value string) (Session, bool, error) {
	now := time.Now().Unix()
	if sess, ok := c.decoded.get(value, now); ok {
		return sess, true, nil
	}
	var sess Session
	if err := securecookie.DecodeMulti(c.name, value, &sess, c.codecs...); err != nil {
		return Session{}, false, nil
	}
	if sess.AccessToken == "" || now >= sess.Expires {
		return Session{}, false, nil
	}
	if stamp, ok := cookieTimestamp(value); ok {
		until := sess.Expires
		if c.expire > 0 {
			// The codec refuses a cookie once now > stamp + MaxAge.
			until = min(until, stamp+int64(c.expire/time.Second)+1)
		}
		c.decoded.put(value, sess, until)
	}
	return sess, true, nil
}

// save encodes the session as the cookie, living as long as the session; one already
// over expires the cookie.
func (c *cookieBackend) save(_ context.Context, sess Session) (string, time.Duration, error) {
	value, err := securecookie.EncodeMulti(c.name, sess, c.codecs...)
	if err != nil {
		return "", 0, fmt.Errorf("session: encode: %w", err)
	}
	return value, time.Until(time.Unix(sess.Expires, 0)), nil
}

// revoke has nothing to delete: the session is only in the cookie.
func (c *cookieBackend) revoke(context.Context, string) error { return nil }

func (c *cookieBackend) ready(context.Context) error { return nil }
