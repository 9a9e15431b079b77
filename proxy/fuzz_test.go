package proxy

import (
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
)

// FuzzSafeRedirect: whatever comes in, what goes out is the fallback or a path a
// browser resolves on this origin.
func FuzzSafeRedirect(f *testing.F) {
	for _, seed := range []string{"/", "/app?x=1#y", "//evil.com", "/\\evil.com", "/%5Cevil", "/%09/evil", "https:evil.com", "javascript:alert(1)", "/%2F%2Fevil", "http://good@evil/"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rd string) {
		got := safeRedirect(rd, "/fallback")
		if got == "/fallback" {
			return
		}
		if got != rd {
			t.Fatalf("safeRedirect(%q) = %q: neither the input nor the fallback", rd, got)
		}
		decoded, err := url.PathUnescape(got)
		if err != nil {
			t.Fatalf("accepted %q that does not decode", got)
		}
		for _, s := range []string{got, decoded} {
			if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\") {
				t.Fatalf("accepted %q (decoded %q): another site to a browser", got, decoded)
			}
			for _, c := range []byte(s) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("accepted %q with a control character", got)
				}
			}
		}
		if u, err := url.Parse(got); err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("accepted %q, which parses to host %q scheme %q", got, u.Host, u.Scheme)
		}
	})
}

// FuzzSkipAuthPath: a request skips the login only when its path, cleaned the way
// any upstream would, is still inside the skipped prefix.
func FuzzSkipAuthPath(f *testing.F) {
	for _, seed := range []string{"/public/x", "/public/../private", "/public/%2e%2e/private", "//public/x", "/public%2F..%2Fprivate", "/private?x=/public/", "/public/./x", "/public/x/", "/private%23/public/", "/public/..;/private", "/public;x/y", "/public/.;/x", "/public/a;b=c/../../private"} {
		f.Add(seed)
	}
	s := &Server{o: Options{SkipAuthRoutes: []SkipRoute{{Path: regexp.MustCompile(`^/public/`)}}}}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = u
		if !s.skipsAuth(r) {
			return
		}
		cleaned := path.Clean(u.Path)
		if u.RawPath != "" || (cleaned != u.Path && cleaned+"/" != u.Path) || !strings.HasPrefix(cleaned+"/", "/public/") {
			t.Fatalf("%q skipped the login; an upstream would see %q", target, cleaned)
		}
		// A servlet container strips ";..." from each segment, then resolves "..".
		segments := strings.Split(u.Path, "/")
		for i, seg := range segments {
			segments[i], _, _ = strings.Cut(seg, ";")
		}
		if servlet := path.Clean(strings.Join(segments, "/")); !strings.HasPrefix(servlet+"/", "/public/") || strings.Contains(u.Path, ";") {
			t.Fatalf("%q skipped the login; a servlet container would see %q", target, servlet)
		}
	})
}
