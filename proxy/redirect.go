package proxy

import (
	"net/url"
	"strings"
)

// safeRedirect returns rd if it is a path on this origin, else fallback. Browsers read
// "//host", "/\host" and a tab or newline between slashes as another site, so anything
// but a plain absolute path is refused, raw (what the browser reads) and decoded (so
// that percent-encoding cannot hide "//" or a backslash).
func safeRedirect(rd, fallback string) string {
	if !isLocalPath(rd) {
		return fallback
	}
	decoded, err := url.PathUnescape(rd)
	if err != nil || !isLocalPath(decoded) {
		return fallback
	}
	u, err := url.Parse(rd)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	return rd
}

func isLocalPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
