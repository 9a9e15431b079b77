package session

import (
	"math/rand/v2"
	"net/http"
	"testing"
)

// cookieValue answers what r.Cookie does, for the Cookie headers browsers send and
// for odd ones.
func TestCookieValueIsRCookie(t *testing.T) {
	lines := [][]string{
		nil,
		{""},
		{"_hubgate=abc"},
		{"a=1; _hubgate=abc; b=2"},
		{"_hubgate_login_1=x; _hubgate=abc"},
		{"x_hubgate=no; _hubgate=yes"},
		{`_hubgate="quoted"`},
		{`_hubgate="`},
		{`_hubgate=bad"value; _hubgate=good`},
		{`_hubgate=bad\value`},
		{"_hubgate=with space"},
		{"_hubgate=comma,ok"},
		{"_hubgate = spaced ; a=b"},
		{"  _hubgate=lead"},
		{"_hubgate"},
		{"_hubgate="},
		{"a=1", "_hubgate=second-line"},
		{"_hubgate=\x01ctl; _hubgate=after"},
		{"_hubgate=é"},
		{";;_hubgate=x;;"},
		{"_HUBGATE=case"},
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("_hubgate=; \"\\,\t\x01é=ab")
	for range 5000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		lines = append(lines, []string{string(b)})
	}
	for _, l := range lines {
		req := &http.Request{Header: http.Header{"Cookie": l}}
		want, err := req.Cookie("_hubgate")
		got, ok := cookieValue(req, "_hubgate")
		if (err == nil) != ok || (ok && got != want.Value) {
			t.Errorf("Cookie: %q: cookieValue = %q, %v; r.Cookie = %v, %v", l, got, ok, want, err)
		}
	}
}

func BenchmarkCookieValue(b *testing.B) {
	req := &http.Request{Header: http.Header{"Cookie": {"_xsrf=2|abc|def; _hubgate=" + string(make([]byte, 0)) + "MTczMjM2NDAwMHxhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODl8c2lnbmF0dXJl; other=1"}}}
	b.ReportAllocs()
	for b.Loop() {
		cookieValue(req, "_hubgate")
	}
}
