package proxy

import "testing"

func TestSafeRedirect(t *testing.T) {
	const fallback = "/fallback/"
	cases := []struct {
		rd, want string
	}{
		{"/app/page?x=1#top", "/app/page?x=1#top"},
		{"/", "/"},
		{"", fallback},
		{"app", fallback},
		{"//evil.com", fallback},
		{"///evil.com", fallback},
		{"/\\evil.com", fallback},
		{"\\\\evil.com", fallback},
		{"/%5Cevil.com", fallback},
		{"/%2F/evil.com", fallback},
		{"/\t/evil.com", fallback},
		{"/%09/evil.com", fallback},
		{"/\n/evil.com", fallback},
		{"/%0a/evil.com", fallback},
		{"/%0b/evil.com", fallback},
		{"/%0d/evil.com", fallback},
		{"https://evil.com", fallback},
		{"https:evil.com", fallback},
		{"javascript:alert(1)", fallback},
		{"http://good.com@evil.com/", fallback},
		{"/%zz", fallback},
		{" /app", fallback},
	}
	for _, c := range cases {
		if got := safeRedirect(c.rd, fallback); got != c.want {
			t.Errorf("safeRedirect(%q) = %q, want %q", c.rd, got, c.want)
		}
	}
}
