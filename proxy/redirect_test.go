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
		// Dot segments that a browser, or a server after it, collapses to "//host".
		{"/.//evil.com", fallback},
		{"/x/..//evil.com", fallback},
		{"/x/../..//evil.com", fallback},
		{"/%2e//evil.com", fallback},
		{"/%2E//evil.com", fallback},
		{"/%2e%2e//evil.com", fallback},
		{"/x/.%2e//evil.com", fallback},
		{"/x/%2e.//evil.com", fallback},
		{"/./%2fevil.com", fallback},
		{"/..%2f/evil.com", fallback},
		{"/.%2e/%2fevil.com", fallback},
		{"/x/..%2f%2fevil.com", fallback},
		{"/%2e%2f/evil.com", fallback},
		{"/x%2f..%2f/evil.com", fallback},
		{"/x/..;//evil.com", fallback},
		{"/;x/evil.com", fallback},
		{"/.//evil.com?x=1", fallback},
		// Dot segments that stay on this origin pass as they are.
		{"/a/../../evil.com", "/a/../../evil.com"},
		{"/.%2e/", "/.%2e/"},
		{"/a/./b/../c", "/a/./b/../c"},
		// Only literal dots removed, then decoded (net/url, Go's ServeMux): "//..".
		{"/.//%2e%2e", fallback},
		{"/.//%2e%2e/evil.com", fallback},
		{"/a//b", "/a//b"},
		{"/app?next=//evil.com", "/app?next=//evil.com"},
		{"/app#//evil.com", "/app#//evil.com"},
		// What a browser would encode itself is encoded; escapes stay as they are.
		{"/café", "/caf%C3%A9"},
		{"/caf%C3%A9", "/caf%C3%A9"},
		{"/a b?q=é d#é", "/a%20b?q=%C3%A9%20d#%C3%A9"},
		{"/\xff\xfe", "/%FF%FE"},
		{"/a\"<b>`{|}^", "/a%22%3Cb%3E%60%7B%7C%7D%5E"},
		{"/a'b?c='d'#'e'#f", "/a'b?c=%27d%27#'e'%23f"},
		{"/a%2fb%20c", "/a%2fb%20c"},
	}
	for _, c := range cases {
		got := safeRedirect(c.rd, fallback)
		if got != c.want {
			t.Errorf("safeRedirect(%q) = %q, want %q", c.rd, got, c.want)
		}
		if again := safeRedirect(got, fallback); again != got {
			t.Errorf("safeRedirect(%q) = %q, but of that %q: not encoded once", c.rd, got, again)
		}
	}
}
